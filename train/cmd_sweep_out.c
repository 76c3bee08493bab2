/* qreg sweep: progress lines, results files, finished ids and the --dry-run listing. */
#define _GNU_SOURCE /* flock */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "lib/fileio.h"
#include "cmd_sweep.h"

double sweep_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *sweep_path_join(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 2);
    if (out)
        sprintf(out, "%s/%s", a, b);
    return out;
}

int sweep_mkdir_p(const char *path)
{
    char tmp[4096];
    if (strlen(path) >= sizeof tmp)
        return -1;
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

void sweep_fmt_duration(char *buf, size_t n, double s)
{
    if (s < 0 || isnan(s))
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

static void settings_text(const sweep_run *R, const qr_sweep_point *p, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < R->sw.n_columns && len < n; c++) {
        const char *name = R->short_names && R->short_names[c] ? R->short_names[c]
                                                                : R->sw.columns[c];
        if (!p->labels[c][0])
            continue;
        int w = snprintf(buf + len, n - len, "%s%s=%.40s", len ? " " : "", name, p->labels[c]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len < n)
        snprintf(buf + len, n - len, "%sseed=%lld", len ? " " : "", p->seed);
}

/* ---- progress -------------------------------------------------------------------------- */

void sweep_draw_bar(sweep_run *R)
{
    if (!R->tty || R->quiet || R->rank != 0)
        return;
    int width = 30;
    size_t done = R->finished;
    int fill = R->total ? (int)(width * done / R->total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double el = sweep_now() - R->t0;
    char e[32], eta[32];
    sweep_fmt_duration(e, sizeof e, el);
    if (done)
        sweep_fmt_duration(eta, sizeof eta, el / (double)done * (double)(R->total - done));
    else
        snprintf(eta, sizeof eta, "?");
    printf("\r\033[K[%s] %zu/%zu %3.0f%%  %zu running  %s elapsed  ETA %s%s", bar, done,
           R->total, R->total ? 100.0 * (double)done / (double)R->total : 100.0, R->n_running,
           e, eta, R->stopping ? "  (stopping)" : "");
    fflush(stdout);
}

/* `from`: the MPI rank that ran it (marked when not 0). */
void sweep_progress_line(sweep_run *R, const qr_sweep_point *p, const qr_sweep_row *r, int from)
{
    if (R->quiet || R->rank != 0)
        return;
    char set[400], res[400];
    settings_text(R, p, set, sizeof set);
    if (r->ok) {
        double acc = !isnan(r->fq_test_accuracy) ? r->fq_test_accuracy : r->test_accuracy;
        double val = !isnan(r->fq_val_accuracy) ? r->fq_val_accuracy : r->val_accuracy;
        int n = snprintf(res, sizeof res, "%s %.2f%% (val %.2f%%",
                         !isnan(r->fq_test_accuracy) ? "fq_test" : "test", 100 * acc, 100 * val);
        if (!isnan(r->int_test_accuracy) && n > 0)
            n += snprintf(res + n, sizeof res - (size_t)n, ", int %.2f%%", 100 * r->int_test_accuracy);
        if (n > 0)
            n += snprintf(res + n, sizeof res - (size_t)n, ")");
        if (!isnan(r->bytes) && n > 0)
            n += snprintf(res + n, sizeof res - (size_t)n, "  %.1f B (%.1f%% smaller)",
                          r->bytes, fabs(r->reduction_pct) < 0.05 ? 0.0 : r->reduction_pct);
        if (n > 0)
            snprintf(res + n, sizeof res - (size_t)n, "  %.1fs", r->seconds);
    } else {
        snprintf(res, sizeof res, "%.200s", r->error ? r->error : "failed");
    }
    int w = snprintf(NULL, 0, "%zu", R->total);
    if (R->tty)
        printf("\r\033[K");
    char rank[32] = "";
    if (from > 0)
        snprintf(rank, sizeof rank, "  (rank %d)", from);
    printf("[%*zu/%zu] %-6s %s  %s  %s%s\n", w, R->finished, R->total, r->ok ? "ok" : "FAILED",
           p->id, set, res, rank);
    fflush(stdout);
    sweep_draw_bar(R);
}

/* ---- results files --------------------------------------------------------------------- */

/* Open (create) a results file for appending. A CSV file gets or must have `header`; a file
 * whose last line is torn (no final line break) gets one, so the next row starts clean. */
qr_status sweep_open_results(const char *path, const char *header, int *fd_out, qr_error *err)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return qr_error_set(err, QR_ERR_IO, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return qr_error_set(err, QR_ERR_IO, "%s: another qreg sweep is writing this file",
                            path);
    }
    struct stat st;
    qr_status s = QR_OK;
    if (fstat(fd, &st) != 0) {
        s = qr_error_set(err, QR_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (st.st_size == 0) {
        if (header)
            s = qr_sweep_append(fd, header, strlen(header), path, err);
    } else {
        char last;
        if (pread(fd, &last, 1, st.st_size - 1) != 1)
            s = qr_error_set(err, QR_ERR_IO, "%s: %s", path, strerror(errno));
        else if (last != '\n')
            s = qr_sweep_append(fd, "\n", 1, path, err);
        if (s == QR_OK && header) {
            size_t hl = strlen(header);
            char *have = malloc(hl + 1);
            ssize_t got = have ? pread(fd, have, hl, 0) : -1;
            if (got != (ssize_t)hl || memcmp(have, header, hl) != 0)
                s = qr_error_set(err, QR_ERR_CONFIG, "%s: has other columns than this sweep "
                                 "(were the axes changed?); give another --out directory",
                                 path);
            free(have);
        }
    }
    if (s) {
        close(fd);
        return s;
    }
    *fd_out = fd;
    return QR_OK;
}

/* Write a row to both files: the CSV row, then the JSON line (the record resuming trusts). */
qr_status sweep_record_row(sweep_run *R, const qr_sweep_row *r, qr_error *err)
{
    char *csv = qr_sweep_row_csv(r), *jl = qr_sweep_row_jsonl(r);
    qr_status s = !csv || !jl ? qr_error_set(err, QR_ERR_NOMEM, "out of memory") : QR_OK;
    if (s == QR_OK)
        s = qr_sweep_append(R->csv_fd, csv, strlen(csv), R->csv_path, err);
    if (s == QR_OK)
        s = qr_sweep_append(R->jsonl_fd, jl, strlen(jl), R->jsonl_path, err);
    free(csv);
    free(jl);
    return s;
}

/* The ids with status ok in every DIR/results*.jsonl (all shards' files). */
qr_status sweep_load_done(const char *dir, char (**ids)[QR_SWEEP_ID_LEN + 1], size_t *n,
                          qr_error *err)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return QR_OK;
    qr_status s = QR_OK;
    struct dirent *e;
    while (s == QR_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "results", 7) != 0 || len < 13 ||
            strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        char *p = sweep_path_join(dir, e->d_name);
        s = p ? qr_sweep_done_ids(p, ids, n, err) : qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        free(p);
    }
    closedir(d);
    return s;
}

int sweep_id_in(const char (*ids)[QR_SWEEP_ID_LEN + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

/* ---- dry run ----------------------------------------------------------------------------- */

int sweep_dry_run(sweep_run *R, const unsigned char *sel,
                  const char (*done)[QR_SWEEP_ID_LEN + 1], size_t n_done)
{
    char tmpl[4096];
    const char *base = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/qreg-sweep.XXXXXX", base && *base ? base : "/tmp");
    const char *tmpdir = mkdtemp(tmpl);
    size_t n = 0, n_done_sel = 0, n_bad = 0;
    for (size_t k = 0; k < R->sw.n_points; k++) {
        if (!sel[k])
            continue;
        const qr_sweep_point *p = &R->sw.points[k];
        char set[400];
        settings_text(R, p, set, sizeof set);
        int is_done = sweep_id_in(done, n_done, p->id);
        char *rdir = sweep_run_dir(R, p);
        char *ckpt = rdir ? sweep_path_join(rdir, "model.qrm.ckpt") : NULL;
        const char *what = is_done ? "done" : ckpt && access(ckpt, F_OK) == 0 ? "resume" : "run";
        char msg[QR_ERROR_MAX] = "";
        if (tmpdir && rdir) {
            cJSON *c = qr_sweep_run_config(&R->sw, p, rdir);
            char *text = c ? cJSON_Print(c) : NULL;
            char name[64];
            snprintf(name, sizeof name, "%s.json", p->id);
            char *cpath = sweep_path_join(tmpdir, name);
            qr_error e = {{0}};
            qr_train_config tc;
            if (text && cpath &&
                qr_file_write_atomic(cpath, text, strlen(text), &e) == QR_OK) {
                if (qr_train_config_load(cpath, &tc, &e) == QR_OK)
                    qr_train_config_free(&tc);
                else
                    snprintf(msg, sizeof msg, "%s", e.msg);
                unlink(cpath);
            }
            free(cpath);
            free(text);
            cJSON_Delete(c);
        }
        n++;
        n_done_sel += is_done;
        n_bad += msg[0] != 0;
        printf("%s %-6s %s%s%s\n", p->id, msg[0] ? "ERROR" : what, set, msg[0] ? "\n    " : "",
               msg);
        free(ckpt);
        free(rdir);
    }
    if (tmpdir)
        rmdir(tmpdir);
    printf("%zu runs: %zu done, %zu to run%s; %zu configs with errors; results in %s\n", n,
           n_done_sel, n - n_done_sel, "", n_bad, R->dir);
    return n_bad ? 1 : 0;
}
