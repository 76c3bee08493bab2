/* train_mlp.c — train a small MLP on a CSV file from C, without a JSON config, and save it.
 *
 * usage: train_mlp DATA.csv MODEL.qrm     (e.g. data/iris.csv: 4 features, label column "label")
 *
 * The config starts from qr_train_config_init (the defaults a JSON config gets), the layers
 * from qr_layer_default; the library names them dense_1, relu_1, dense_2 as the JSON parser
 * would. Every weight matrix is regularized toward the 4-bit grid (cosine Reg_4, linear
 * schedule), so the saved model carries its quantization plan for `qreg eval` and
 * `qreg export`. Build against the installed library:
 *     cc -std=c11 train_mlp.c $(pkg-config --cflags --libs qreg) -o train_mlp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qreg/train.h>

/* a malloc'd copy: qr_train_config_free frees the config's strings and layer array */
static char *copy(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    return d ? strcpy(d, s) : NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA.csv MODEL.qrm\n", argv[0]);
        return 2;
    }
    qr_train_config c;
    qr_train_config_init(&c);
    c.train_path = copy(argv[1]);
    c.label_name = copy("label");
    c.epochs = 80;
    c.batch_size = 16;
    c.optim.lr = 0.01f;

    /* dense(16) -> relu -> dense(one unit per class: units 0 on the last dense layer) */
    static const qr_layer_kind kinds[] = {QR_LAYER_DENSE, QR_LAYER_RELU, QR_LAYER_DENSE};
    c.model.n_layers = 3;
    c.model.layers = malloc(3 * sizeof *c.model.layers);
    if (!c.train_path || !c.label_name || !c.model.layers) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < 3; i++)
        c.model.layers[i] = qr_layer_default(kinds[i]);
    c.model.layers[0].units = 16;

    /* every weight matrix at 4 bits, regularized with λ = 5e-4 on a linear schedule */
    if (qr_quant_plan_init(&c.quant, &c.model) != QR_OK) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < c.quant.n; i++) {
        qr_quant_matrix *q = &c.quant.m[i];
        q->bits = 4;
        q->regularized = 1;
        q->reg = QR_REG_COS;
        q->lambda = 5e-4f;
        qr_schedule_default(&q->schedule, QR_SCHED_LINEAR);
    }

    qr_error err = {{0}};
    qr_split_data d;
    qr_model *m = NULL;
    qr_train_result r;
    int rc = 1;
    if (qr_train_load_data(&c, &d, &err) != QR_OK) {
        fprintf(stderr, "train_mlp: %s\n", err.msg);
        goto done_config;
    }
    if (qr_train(&c, &d, NULL, NULL, &m, &r, &err) != QR_OK ||
        qr_model_save(m, argv[2], &err) != QR_OK) {
        fprintf(stderr, "train_mlp: %s\n", err.msg);
        goto done_data;
    }
    const qr_model_spec *spec = qr_model_spec_of(m);
    printf("layers:");
    for (size_t i = 0; i < spec->n_layers; i++)
        printf(" %s", spec->layers[i].name);
    printf("\nbest epoch %zu: fake-quantized validation accuracy %.4f\n", r.best_epoch,
           r.fq_val_accuracy);
    printf("test accuracy %.4f, fake-quantized %.4f (%zu samples)\n", r.test_accuracy,
           r.fq_test_accuracy, d.test.n);
    printf("saved %s\n", argv[2]);
    rc = 0;
    qr_model_free(m);
done_data:
    qr_split_data_free(&d);
done_config:
    qr_train_config_free(&c);
    return rc;
}
