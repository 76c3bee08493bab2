/* libFuzzer target: the training config reader (train/config.c, qr_train_config_load), with
 * what it parses on the way: strict JSON getters (lib/json_util.c), the layer list
 * (model/model_spec.c), "quantize" and "prune" sections (model/quant_plan.c,
 * model/prune_plan.c), "data.audio" (datasets/audio_config.c), optimizer, training, distill
 * and output sections. Only parsing: no data is read and no model is built.
 *
 * The input is a JSON config, written to a scratch file "<tmp>/qreg-fuzz-*.json" and loaded.
 * A failed load must say why and leave the config zeroed; a loaded one is freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "qreg/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp(".json", data, size);
    qr_train_config c;
    qr_error err = {{0}};
    qr_status s = qr_train_config_load(path, &c, &err);
    if (s != QR_OK) {
        FUZZ_ASSERT(err.msg[0] != '\0', "load failed (%s) without a message", qr_strerror(s));
        return 0;
    }
    FUZZ_ASSERT(c.model_path && c.checkpoint_path, "no model or checkpoint path");
    FUZZ_ASSERT(c.epochs >= 1 && c.batch_size >= 1, "epochs %zu, batch %zu", c.epochs,
                c.batch_size);
    qr_train_config_free(&c);
    return 0;
}
