/* qreg search CONFIG --budget BYTES: a mixed-precision plan under a byte budget — plans
 * measured on a trained model (train/search_measure.c), widths allocated greedily, by a
 * knapsack on per-matrix sensitivities (train/search.c) or over every plan, then the plan
 * trained by STE with learned scales from that model as the second stage of a float -> STE
 * recipe, its accuracy measured, the plan printed and saved. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "lib/fileio.h"
#include "qreg/model.h"

static const char search_help[] =
    "usage: qreg search CONFIG.json --budget BYTES [options]\n"
    "\n"
    "Choose a bit-width per weight matrix within a byte budget (the thesis' accounting: N bits\n"
    "per weight, 32 per bias and batch-norm parameter) and train that plan:\n"
    "  1. measure, on a trained model (--init or training.init; e.g. the float model): a plan's\n"
    "     validation loss with its matrices on their widths' grids (learned grid scale, per\n"
    "     channel where a batch norm follows or with --granularity channel), after\n"
    "     --search-epochs epochs of STE fine-tuning (0: rounded as it is) and batch-norm\n"
    "     re-estimation;\n"
    "  2. allocate (--allocate): greedy — from every matrix at the widest width, lower the\n"
    "     matrix whose next width costs the least measured loss per byte saved (whole plans\n"
    "     measured) until the plan fits; knapsack — the sensitivity of each matrix at each\n"
    "     width (the loss increase when only it is on that grid, every other matrix at 8-bit\n"
    "     min-max), then the widths minimizing the summed increase within the budget (exact);\n"
    "     exhaustive — every plan within the budget measured, the lowest loss kept;\n"
    "  3. train that plan from the model by STE with learned grid scales for --epochs epochs,\n"
    "     batch-norm statistics re-estimated; its accuracy measured.\n"
    "Prints the measurements and the plan, saves the model and the plan as JSON. A budget\n"
    "below the smallest plan (every matrix at the narrowest width) is an error.\n"
    "\n"
    "options:\n"
    "  --budget BYTES   the byte budget (required)\n"
    "  --init MODEL     the trained model to measure and start from (overrides training.init)\n"
    "  --bits LIST      candidate widths, comma-separated, from 1 to 8 (default 1,2,4,8)\n"
    "  --allocate HOW   greedy (default), knapsack or exhaustive (up to 4096 plans in all)\n"
    "  --search-epochs N  STE fine-tune epochs of every measurement (default 5; 0: rounding)\n"
    "  --search-bn, --no-search-bn\n"
    "                   re-estimate batch-norm statistics of every measured plan (default) or\n"
    "                   not. --allocate knapsack --search-epochs 0 --no-search-bn: the earlier\n"
    "                   default (sensitivities of rounding alone)\n"
    "  --granularity G  auto (default: per channel where a batch norm follows) or channel (a\n"
    "                   grid scale per output channel of every matrix), in measurement and\n"
    "                   training\n"
    "  --lr RATE        the learning rate of the fine-tunes and the training step (default:\n"
    "                   the config's)\n"
    "  --no-dropout     dropout layers off in the fine-tunes and the training step\n"
    "  --epochs N       epochs of the training step (default 50; 0: round the plan only)\n"
    "  --seed N         override training.seed\n"
    "  --out FILE       the trained model (default: CONFIG's name with -search.qrm)\n"
    "  --plan FILE      the plan and its measurements as JSON (default: the model's path with\n"
    "                   .plan.json)\n"
    "  --json           print the result as one JSON object on stdout\n"
    "  --quiet          no progress output\n"
    "  -h, --help       this help\n";

/* "1,2,4,8" into widths (sorted, distinct); 0 on success. */
static int parse_bits(const char *s, int *widths, size_t *nw)
{
    int seen[9] = {0};
    *nw = 0;
    while (s && *s) {
        char *end;
        long b = strtol(s, &end, 10);
        if (end == s || b < 1 || b > 8 || (*end && *end != ','))
            return -1;
        seen[b] = 1;
        s = *end ? end + 1 : end;
    }
    for (int b = 1; b <= 8; b++)
        if (seen[b])
            widths[(*nw)++] = b;
    return *nw ? 0 : -1;
}

static char *with_suffix(const char *path, const char *strip, const char *suffix)
{
    size_t n = strlen(path), k = strlen(strip);
    if (n > k && strcmp(path + n - k, strip) == 0)
        n -= k;
    char *out = malloc(n + strlen(suffix) + 1);
    if (out) {
        memcpy(out, path, n);
        strcpy(out + n, suffix);
    }
    return out;
}

/* exhaustive: every measured plan into the plan file */
typedef struct visit_log {
    cJSON *plans;
    size_t n;
} visit_log;

static void visit_plan(void *user, const int *bits, double bytes, double loss, double acc)
{
    visit_log *v = user;
    cJSON *e = cJSON_CreateObject(), *b = cJSON_AddArrayToObject(e, "bits");
    for (size_t i = 0; i < v->n; i++)
        cJSON_AddItemToArray(b, cJSON_CreateNumber(bits[i]));
    cJSON_AddNumberToObject(e, "bytes", bytes);
    cJSON_AddNumberToObject(e, "val_loss", loss);
    cJSON_AddNumberToObject(e, "val_accuracy", acc);
    cJSON_AddItemToArray(v->plans, e);
}

int qr_cmd_search(int argc, char **argv)
{
    const char *config = NULL, *init = NULL, *out = NULL, *plan_out = NULL, *v;
    double budget = NAN;
    int widths[8] = {1, 2, 4, 8}, json = 0, quiet = 0, have_seed = 0;
    size_t nw = 4, epochs = 50, seed = 0;
    int greedy = 1, no_dropout = 0;
    double lr = NAN;
    /* the default, chosen on bts (docs/accuracy-search.md): greedy on whole plans fine-tuned
     * 5 epochs by STE, batch norms re-estimated */
    qr_search_options so;
    qr_search_options_init(&so);
    so.epochs = 5;
    so.bn_reestimate = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(search_help, stdout);
            return 0;
        } else if (qr_cli_opt(argc, argv, &i, "--budget", &v)) {
            char *end;
            if (!v || !*v || (budget = strtod(v, &end), *end) || !(budget > 0) || isinf(budget))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--init", &v)) {
            if (!(init = v))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--bits", &v)) {
            if (parse_bits(v, widths, &nw))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--allocate", &v)) {
            if (!v || (strcmp(v, "knapsack") && strcmp(v, "greedy") && strcmp(v, "exhaustive")))
                goto bad;
            greedy = strcmp(v, "greedy") == 0 ? 1 : strcmp(v, "exhaustive") == 0 ? 2 : 0;
        } else if (qr_cli_opt(argc, argv, &i, "--search-epochs", &v)) {
            if (qr_cli_size(v, &so.epochs) || so.epochs > 1000000)
                goto bad;
        } else if (strcmp(a, "--search-bn") == 0 || strcmp(a, "--no-search-bn") == 0) {
            so.bn_reestimate = strcmp(a, "--search-bn") == 0;
        } else if (qr_cli_opt(argc, argv, &i, "--granularity", &v)) {
            if (!v || (strcmp(v, "auto") && strcmp(v, "channel")))
                goto bad;
            so.per_channel = strcmp(v, "channel") == 0;
        } else if (qr_cli_opt(argc, argv, &i, "--lr", &v)) {
            char *end;
            if (!v || !*v || (lr = strtod(v, &end), *end) || !(lr > 0) || isinf(lr))
                goto bad;
        } else if (strcmp(a, "--no-dropout") == 0) {
            no_dropout = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--epochs", &v)) {
            if (qr_cli_size(v, &epochs) || epochs > 1000000)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--seed", &v)) {
            if (qr_cli_size(v, &seed))
                goto bad;
            have_seed = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--plan", &v)) {
            if (!(plan_out = v))
                goto bad;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "qreg search: unknown option '%s' (see qreg search --help)\n", a);
            return 2;
        } else if (!config) {
            config = a;
        } else {
            fprintf(stderr, "qreg search: more than one config given\n");
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg search: option '%s' needs a valid value (see qreg search --help)\n",
                a);
        return 2;
    }
    if (!config || isnan(budget)) {
        fprintf(stderr, "qreg search: %s\n", !config ? "no config given" : "--budget is required");
        fputs(search_help, stderr);
        return 2;
    }
    qr_error err = {{0}};
    qr_train_config c;
    if (qr_train_config_load(config, &c, &err) != QR_OK) {
        fprintf(stderr, "qreg search: %s\n", err.msg);
        return 1;
    }
    /* the run below is one plain stage; the config's stages (if any) are set aside */
    size_t n_stages = c.n_stages;
    c.n_stages = 0;
    int rc = 1;
    qr_split_data d;
    int have_data = 0;
    qr_model *src = NULL, *m = NULL;
    qr_quant_plan all = {0};
    double *dloss = NULL, *dacc = NULL;
    size_t *counts = NULL;
    int *choice = NULL;
    char *model_path = NULL, *plan_path = NULL;
    cJSON *o = NULL, *measured = NULL;
    if (init) {
        free(c.init_path);
        c.init_path = strdup(init);
    }
    if (!c.init_path) {
        fprintf(stderr, "qreg search: the sensitivities are measured on a trained model: give "
                        "--init MODEL (e.g. the float model of this config) or training.init\n");
        rc = 2;
        goto done;
    }
    if (have_seed)
        c.seed = seed;
    if (!isnan(lr))
        c.optim.lr = (float)lr;
    if (no_dropout)
        c.dropout_off = 1;
    model_path = out ? strdup(out) : with_suffix(c.model_path, ".qrm", "-search.qrm");
    plan_path = plan_out ? strdup(plan_out) : with_suffix(model_path, ".qrm", ".plan.json");
    if (!model_path || !plan_path) {
        fprintf(stderr, "qreg search: out of memory\n");
        goto done;
    }
    if (qr_train_load_data(&c, &d, &err) != QR_OK) {
        fprintf(stderr, "qreg search: %s\n", err.msg);
        goto done;
    }
    have_data = 1;
    if (qr_model_load(c.init_path, 256, &src, &err) != QR_OK) {
        fprintf(stderr, "qreg search: %s\n", err.msg);
        goto done;
    }
    /* the thesis' byte accounting: the weight matrices and the rest at 32 bits */
    if (qr_quant_plan_init(&all, qr_model_spec_of(src)) != QR_OK) {
        fprintf(stderr, "qreg search: out of memory\n");
        goto done;
    }
    size_t n = all.n;
    counts = calloc(n + 1, sizeof *counts);
    choice = calloc(n + 1, sizeof *choice);
    dloss = calloc(n * nw + 1, sizeof *dloss);
    dacc = calloc(n * nw + 1, sizeof *dacc);
    if (!counts || !choice || !dloss || !dacc) {
        fprintf(stderr, "qreg search: out of memory\n");
        goto done;
    }
    double wbytes = 0, baseline;
    for (size_t i = 0; i < n; i++) {
        counts[i] = qr_node_size(qr_graph_find(qr_model_graph(src), all.m[i].name));
        wbytes += (double)counts[i];
    }
    double size8 = qr_quant_bytes(&all, qr_model_graph(src), &baseline);
    double fixed = size8 - wbytes; /* every matrix at 8 bits: one byte per weight */
    double base_loss = NAN, base_acc = NAN, bytes, predicted, plan_loss = NAN, plan_acc = NAN;
    size_t steps = 0;
    qr_status cs = qr_search_check_budget(counts, n, widths, nw, fixed, budget, &err);
    measured = cJSON_CreateArray();
    visit_log vl = {measured, n};
    if (cs == QR_OK && greedy == 2)
        cs = qr_search_exhaustive(&c, &d, &so, counts, n, widths, nw, fixed, budget, choice,
                                  &bytes, &plan_loss, &plan_acc, visit_plan, &vl, &err);
    else if (cs == QR_OK && greedy)
        cs = qr_search_greedy(&c, &d, &so, counts, n, widths, nw, fixed, budget, choice, &bytes,
                              &plan_loss, &plan_acc, &steps, &err);
    else if (cs == QR_OK &&
             (cs = qr_search_sensitivity_ex(&c, &d, &so, n, widths, nw, &base_loss, &base_acc,
                                            dloss, dacc, &err)) == QR_OK)
        cs = qr_search_choose(counts, n, widths, nw, dloss, fixed, budget, choice, &bytes,
                              &predicted, &err);
    if (cs != QR_OK) {
        fprintf(stderr, "qreg search: %s\n", err.msg);
        goto done;
    }
    if (greedy)
        predicted = NAN;
    if (!quiet && greedy == 2) {
        fprintf(stderr, "exhaustive: %d plans within the budget measured; the best's validation "
                        "loss %.4f, accuracy %.4f\n", cJSON_GetArraySize(measured), plan_loss,
                plan_acc);
    } else if (!quiet && greedy) {
        fprintf(stderr, "greedy: %zu lowering%s from every matrix at %d bits; the plan's "
                        "validation loss %.4f, accuracy %.4f\n", steps, steps == 1 ? "" : "s",
                widths[nw - 1], plan_loss, plan_acc);
    } else if (!quiet) {
        fprintf(stderr, "8-bit model (%s): validation loss %.4f, accuracy %.4f; %.3f B\n",
                c.init_path, base_loss, base_acc, size8);
        fprintf(stderr, "sensitivity: validation loss increase (accuracy change, points) when only "
                        "this matrix is rounded\n%-28s %8s", "matrix", "weights");
        for (size_t k = 0; k < nw; k++)
            fprintf(stderr, "  %13d-bit", widths[k]);
        fprintf(stderr, "\n");
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "%-28s %8zu", all.m[i].name, counts[i]);
            for (size_t k = 0; k < nw; k++)
                fprintf(stderr, "  %+8.4f(%+5.1f)", dloss[i * nw + k],
                        100.0 * dacc[i * nw + k]);
            fprintf(stderr, "\n");
        }
    }
    /* the plan: every matrix on its width's grid, trained by STE with a learned scale (per
     * channel where a batch norm follows), the kept model's batch norms re-estimated */
    qr_quant_plan_free(&c.quant);
    if (qr_search_plan(qr_model_spec_of(src), choice, so.per_channel, &c.quant) != QR_OK) {
        fprintf(stderr, "qreg search: out of memory\n");
        goto done;
    }
    c.bn_reestimate = 1;
    c.epochs = epochs;
    c.checkpoint_every = 0;
    free(c.model_path);
    c.model_path = strdup(model_path);
    if (!c.model_path || qr_train_config_default_checkpoint(&c) != QR_OK) {
        fprintf(stderr, "qreg search: out of memory\n");
        goto done;
    }
    /* run as the second stage of a staged config whose first stage (0 epochs here) is the
     * float model loaded: the same random streams (shuffling, dropout) as the second stage of
     * a float -> STE recipe (examples/bts-*-lr1e-2.json), so the trained plan is that
     * recipe's run when --init is the recipe's float stage */
    qr_train_stage two[2];
    memset(two, 0, sizeof two);
    for (int k = 0; k < 2; k++) {
        two[k].optim = c.optim;
        two[k].lr_schedule = c.lr_schedule;
        two[k].early_stopping = c.early_stopping;
        two[k].clip_norm = c.clip_norm;
        two[k].weight_decay = c.weight_decay;
        two[k].dropout_off = c.dropout_off;
    }
    two[1].epochs = epochs;
    two[1].quant = c.quant;
    two[1].bn_reestimate = 1;
    qr_train_stage *stages_keep = c.stages;
    c.stages = two;
    c.n_stages = 2;
    qr_train_result r;
    if (!quiet)
        fprintf(stderr, "training the plan (%.3f B, budget %.3f B) for %zu epochs from %s\n",
                bytes, budget, epochs, c.init_path);
    qr_status ts = qr_train(&c, &d, NULL, NULL, &m, &r, &err);
    c.stages = stages_keep;
    c.n_stages = 0;
    if (ts != QR_OK ||
        qr_model_save(m, c.model_path, &err) != QR_OK) {
        fprintf(stderr, "qreg search: %s\n", err.msg);
        goto done;
    }
    /* the plan as JSON: usable as a config's "quantize" section, with the measurements */
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "config", config);
    cJSON_AddStringToObject(o, "init", c.init_path);
    cJSON_AddStringToObject(o, "model", c.model_path);
    cJSON_AddNumberToObject(o, "budget", budget);
    cJSON_AddNumberToObject(o, "bytes", bytes);
    cJSON_AddNumberToObject(o, "baseline_bytes", size8);
    cJSON_AddStringToObject(o, "allocate",
                            greedy == 2 ? "exhaustive" : greedy ? "greedy" : "knapsack");
    cJSON_AddNumberToObject(o, "search_epochs", (double)so.epochs);
    cJSON_AddBoolToObject(o, "search_bn", so.bn_reestimate);
    cJSON_AddStringToObject(o, "granularity", so.per_channel ? "channel" : "auto");
    if (greedy) {
        if (greedy == 1)
            cJSON_AddNumberToObject(o, "greedy_steps", (double)steps);
        cJSON_AddNumberToObject(o, "measured_val_loss", plan_loss);
        cJSON_AddNumberToObject(o, "measured_val_accuracy", plan_acc);
    } else {
        cJSON_AddNumberToObject(o, "predicted_loss_increase", predicted);
    }
    cJSON_AddNumberToObject(o, "epochs", (double)epochs);
    if (!greedy) {
        cJSON_AddNumberToObject(o, "base_val_loss", base_loss);
        cJSON_AddNumberToObject(o, "base_val_accuracy", base_acc);
    }
    cJSON_AddNumberToObject(o, "val_accuracy", r.val_accuracy);
    cJSON_AddNumberToObject(o, "fq_val_accuracy", r.fq_val_accuracy);
    cJSON_AddNumberToObject(o, "test_accuracy", r.test_accuracy);
    cJSON_AddNumberToObject(o, "fq_test_accuracy", r.fq_test_accuracy);
    cJSON *mats = cJSON_AddArrayToObject(o, "matrices");
    cJSON *qs = cJSON_AddObjectToObject(o, "quantize");
    cJSON_AddBoolToObject(qs, "bn_reestimate", 1);
    cJSON *entries = cJSON_AddArrayToObject(qs, "matrices");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(mats, e);
        cJSON_AddStringToObject(e, "tensor", all.m[i].name);
        cJSON_AddNumberToObject(e, "weights", (double)counts[i]);
        cJSON_AddNumberToObject(e, "bits", choice[i]);
        cJSON *sl = greedy ? NULL : cJSON_AddObjectToObject(e, "val_loss_increase");
        cJSON *sa = greedy ? NULL : cJSON_AddObjectToObject(e, "val_accuracy_change");
        for (size_t k = 0; sl && k < nw; k++) {
            char key[8];
            snprintf(key, sizeof key, "%d", widths[k]);
            cJSON_AddNumberToObject(sl, key, dloss[i * nw + k]);
            cJSON_AddNumberToObject(sa, key, dacc[i * nw + k]);
        }
        /* the config entry: layer and matrix of "layer/tensor" */
        char layer[64];
        const char *slash = strchr(all.m[i].name, '/');
        size_t ln = slash ? (size_t)(slash - all.m[i].name) : strlen(all.m[i].name);
        snprintf(layer, sizeof layer, "%.*s", (int)ln, all.m[i].name);
        cJSON *ce = cJSON_CreateObject();
        cJSON_AddItemToArray(entries, ce);
        cJSON_AddStringToObject(ce, "layer", layer);
        cJSON_AddStringToObject(ce, "matrix", slash ? slash + 1 : "all");
        cJSON_AddNumberToObject(ce, "bits", choice[i]);
        cJSON_AddStringToObject(ce, "method", "ste");
        cJSON_AddStringToObject(ce, "scale", "learned");
        cJSON_AddStringToObject(ce, "granularity", so.per_channel ? "channel" : "auto");
    }
    if (greedy == 2) {
        cJSON_AddItemToObject(o, "measured_plans", measured);
        measured = NULL;
    }
    char *text = cJSON_Print(o);
    if (!text || qr_file_write_atomic(plan_path, text, strlen(text), &err) != QR_OK) {
        fprintf(stderr, "qreg search: %s\n", text ? err.msg : "out of memory");
        free(text);
        goto done;
    }
    free(text);
    if (json) {
        cJSON_AddStringToObject(o, "plan", plan_path);
        char *line = cJSON_PrintUnformatted(o);
        if (line)
            printf("%s\n", line);
        free(line);
    } else {
        printf("plan (%.3f B of a %.3f B budget; 8-bit %.3f B, %+.1f%%), %s %+.4f:\n", bytes,
               budget, size8, 100.0 * (bytes - size8) / size8,
               greedy ? "measured validation loss" : "predicted validation loss increase",
               greedy ? plan_loss : predicted);
        for (size_t i = 0; i < n; i++)
            printf("  %-28s %d bit%s\n", all.m[i].name, choice[i], choice[i] == 1 ? "" : "s");
        printf("trained %zu epochs: fake-quantized validation accuracy %.4f, test accuracy "
               "%.4f\n", epochs, r.fq_val_accuracy, r.fq_test_accuracy);
        printf("saved model: %s, plan: %s\n", c.model_path, plan_path);
    }
    rc = 0;
done:
    cJSON_Delete(o);
    cJSON_Delete(measured);
    qr_model_free(m);
    qr_model_free(src);
    if (have_data)
        qr_split_data_free(&d);
    qr_quant_plan_free(&all);
    free(counts);
    free(choice);
    free(dloss);
    free(dacc);
    free(model_path);
    free(plan_path);
    c.n_stages = n_stages;
    qr_train_config_free(&c);
    return rc;
}
