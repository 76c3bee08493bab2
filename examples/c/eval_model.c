/* eval_model.c — load a saved model and evaluate it on a labelled CSV file, from C.
 *
 * usage: eval_model MODEL.qrm DATA.csv     (the CSV's label column: "label")
 *
 * The CSV is read with the model's input shape and class names, so a label the model does
 * not know is an error; prints the float accuracy and loss, then the confusion matrix with
 * the class names. Build against the installed library:
 *     cc -std=c11 eval_model.c $(pkg-config --cflags --libs qreg) -o eval_model */
#include <stdio.h>
#include <stdlib.h>
#include <qreg/train.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.qrm DATA.csv\n", argv[0]);
        return 2;
    }
    qr_error err = {{0}};
    qr_model *m = NULL;
    if (qr_model_load(argv[1], 64, &m, &err) != QR_OK) {
        fprintf(stderr, "eval_model: %s\n", err.msg);
        return 1;
    }
    const qr_model_spec *spec = qr_model_spec_of(m);
    qr_csv_options o = {0};
    o.path = argv[2];
    o.header = 1;
    o.label_name = "label";
    if (spec->t > 1) {
        o.t = spec->t;
        o.f = spec->f;
    }
    o.classes = qr_model_classes(m);
    o.n_classes = o.classes ? spec->n_classes : 0;
    qr_dataset d = {0};
    int32_t *pred = NULL;
    size_t *confusion = NULL, c = spec->n_classes;
    double loss, acc;
    int rc = 1;
    if (qr_csv_load(&o, &d, &err) != QR_OK) {
        fprintf(stderr, "eval_model: %s\n", err.msg);
        goto done;
    }
    pred = malloc(d.n * sizeof *pred);
    confusion = calloc(c * c, sizeof *confusion);
    if (!pred || !confusion || qr_evaluate(m, &d, &loss, &acc, pred) != QR_OK) {
        fprintf(stderr, "eval_model: %s: evaluation failed (shape or classes differ?)\n", argv[2]);
        goto done;
    }
    for (size_t i = 0; i < d.n; i++)
        confusion[(size_t)d.y[i] * c + (size_t)pred[i]]++;
    printf("%zu samples: accuracy %.4f, loss %.4f\n", d.n, acc, loss);
    printf("confusion (rows: true class, columns: predicted):\n%8s", "");
    for (size_t k = 0; k < c; k++)
        printf(" %6s", d.class_names[k]);
    printf("\n");
    for (size_t i = 0; i < c; i++) {
        printf("%8s", d.class_names[i]);
        for (size_t k = 0; k < c; k++)
            printf(" %6zu", confusion[i * c + k]);
        printf("\n");
    }
    rc = 0;
done:
    free(confusion);
    free(pred);
    qr_dataset_free(&d);
    qr_model_free(m);
    return rc;
}
