/* qrt codegen, specialized form (export/qrt_codegen_spec.c; host only): the body of a
 * compiled model with every layer written out for its own dimensions. Internal to the
 * writer (qrt_builder_write_compiled_ex) and the tests. */
#ifndef QRT_CODEGEN_SPEC_H
#define QRT_CODEGEN_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "qrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if every layer of the (validated) blob has a specialized form (dense, conv1d, batchnorm,
 * relu, prelu, gru); 0 if the writer must fall back to the descriptor form. */
int qrt_codegen_spec_supported(const uint8_t *blob, const qrt_model *m);

/* The tensors and NAME_reset/_push/_logits/_run of the model, into fp, after the header's
 * includes (qrt.h, qrt_layer.h, the model's header: NAME_N_FEATURES, NAME_IN_MAX, …). */
/* The int32 words of working memory the specialized form uses (NAME_MEM_WORDS): its own
 * layout, each activation in the narrowest type its bound holds. */
size_t qrt_codegen_spec_mem_words(const uint8_t *blob, const qrt_model *m);

void qrt_codegen_spec_emit(FILE *fp, const char *name, const char *up, const qrt_model *m,
                           const uint8_t *blob);

#ifdef __cplusplus
}
#endif

#endif /* QRT_CODEGEN_SPEC_H */
