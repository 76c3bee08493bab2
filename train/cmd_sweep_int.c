/* qreg sweep: the integer model of a finished run: qreg eval --int and qreg export. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "cmd_sweep.h"

/* The data file of a split ("validation" or "test") of a run's config, as a path qreg eval
 * reads (${QREG_DATA} expanded), or NULL: no separate file (a split of the training file,
 * audio data), so no integer accuracy. */
static char *split_file(const cJSON *config, const char *key)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(config, "data");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(data, key);
    if (!cJSON_IsString(f) || !f->valuestring[0] || cJSON_GetObjectItemCaseSensitive(data, "audio"))
        return NULL;
    const char *v = f->valuestring, *var = "${QREG_DATA}";
    if (strncmp(v, var, strlen(var)) != 0)
        return strdup(v);
    const char *env = getenv("QREG_DATA"), *home = getenv("HOME");
    char dir[4096];
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "%s/.local/share/qreg/data", home && *home ? home : ".");
    char *out = malloc(strlen(dir) + strlen(v) + 1);
    if (out)
        sprintf(out, "%s%s", dir, v + strlen(var));
    return out;
}

/* Start the job's next phase: `qreg eval MODEL --data SPLIT --int --json` on a separate
 * validation (1) or test (2) file, then `qreg export` (3) for the device model's size.
 * Returns 1 when a process was started. */
int sweep_start_eval(sweep_run *R, job *j, const sigset_t *orig)
{
    const qr_sweep_point *p = &R->sw.points[j->point];
    static const char *const keys[3] = {NULL, "validation", "test"};
    static const char *const names[3] = {NULL, "int-val", "int-test"};
    if (j->phase >= 3)
        return 0;
    char *rdir = sweep_run_dir(R, p);
    cJSON *c = rdir ? qr_sweep_run_config(&R->sw, p, rdir) : NULL;
    int started = 0;
    while (!started && c && ++j->phase <= 3) {
        if (j->phase == 3) { /* the device model: its size is the actual byte size */
            char *model = sweep_path_join(rdir, "model.qrm");
            char *dir = sweep_path_join(rdir, "export");
            char *out = sweep_path_join(rdir, "export.log");
            char *errp = sweep_path_join(rdir, "export.err");
            char *argv[] = {"qreg", "export", model, "--out", dir, NULL};
            pid_t pid;
            qr_error err;
            if (model && dir && out && errp &&
                sweep_spawn(R, argv, out, errp, orig, &pid, &err) == QR_OK) {
                j->pid = pid;
                started = 1;
            }
            free(model);
            free(dir);
            free(out);
            free(errp);
            continue;
        }
        char *file = split_file(c, keys[j->phase]);
        if (!file)
            continue;
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(c, "data");
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(data, "label");
        const cJSON *header = cJSON_GetObjectItemCaseSensitive(data, "header");
        char lab[256] = "", o[64], e[64];
        if (cJSON_IsString(label))
            snprintf(lab, sizeof lab, "%s", label->valuestring);
        else if (cJSON_IsNumber(label))
            snprintf(lab, sizeof lab, "%.0f", label->valuedouble);
        const char *hd = cJSON_IsTrue(header) ? "yes" : cJSON_IsFalse(header) ? "no" : "auto";
        snprintf(o, sizeof o, "%s.json", names[j->phase]);
        snprintf(e, sizeof e, "%s.log", names[j->phase]);
        char *model = sweep_path_join(rdir, "model.qrm"), *out = sweep_path_join(rdir, o);
        char *errp = sweep_path_join(rdir, e);
        char *argv[] = {"qreg", "eval", model, "--data", file, "--int", "--json",
                        "--header", (char *)hd, lab[0] ? "--label" : NULL, lab, NULL};
        pid_t pid;
        qr_error err;
        if (model && out && errp && sweep_spawn(R, argv, out, errp, orig, &pid, &err) == QR_OK) {
            j->pid = pid;
            started = 1;
        }
        free(model);
        free(out);
        free(errp);
        free(file);
    }
    cJSON_Delete(c);
    free(rdir);
    return started;
}

/* An evaluation or export ended: its integer accuracy or the model's size goes into the
 * job's row (left empty when the model cannot be exported or the step failed; the message is
 * in int-*.log or export.err). */
void sweep_finish_eval(sweep_run *R, const job *j, int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return;
    char *rdir = sweep_run_dir(R, &R->sw.points[j->point]);
    if (j->phase == 3) {
        char *blob = rdir ? sweep_path_join(rdir, "export/model.qrt") : NULL;
        struct stat st;
        if (blob && stat(blob, &st) == 0)
            j->row->actual_bytes = (double)st.st_size;
        free(blob);
        free(rdir);
        return;
    }
    const char *name = j->phase == 1 ? "int-val.json" : "int-test.json";
    char *out = rdir ? sweep_path_join(rdir, name) : NULL;
    char *line = out ? sweep_last_line(out) : NULL;
    cJSON *o = line ? cJSON_Parse(line) : NULL;
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(o, "int_accuracy");
    if (cJSON_IsNumber(acc)) {
        if (j->phase == 1)
            j->row->int_val_accuracy = acc->valuedouble;
        else
            j->row->int_test_accuracy = acc->valuedouble;
    }
    cJSON_Delete(o);
    free(line);
    free(out);
    free(rdir);
}
