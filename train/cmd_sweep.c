/* qreg sweep SWEEP.json: expand a sweep (sweep.h), run each point as a child `qreg train`
 * process, -j at a time, and append one result row per run to results.csv and results.jsonl.
 * Resumable (finished ids are skipped), shardable (--shard I/N) and, in a --with-mpi build,
 * distributed over MPI ranks (rank 0 hands out points and writes the files). */
#define _GNU_SOURCE /* pselect's sigmask, prctl */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#ifdef QR_HAVE_MPI
#include <mpi.h>
/* messages between the ranks of an MPI sweep */
enum { TAG_REQUEST = 1, TAG_ROW = 2, TAG_WORK = 3, TAG_DONE = 4 };
#endif
#include "cli.h"
#include "lib/fileio.h"
#include "sweep.h"

extern char **environ;

static const char sweep_help[] =
    "usage: qreg sweep SWEEP.json [options]\n"
    "\n"
    "Expand a sweep (a base training config, axes of values at config key paths, zip and\n"
    "include points, repetitions; format: docs/sweeps.md) and train every point in a child\n"
    "'qreg train' process. Each run gets an id hashed from its config, a directory\n"
    "DIR/runs/<id>/ (config.json, model.qrm, log.csv, stdout.json, stderr.log) and one row in\n"
    "DIR/results.csv and DIR/results.jsonl. Runs already there with status ok are skipped,\n"
    "so running the same command again resumes a sweep; failed runs are run again.\n"
    "\n"
    "options:\n"
    "  -j, --jobs N     runs at a time (default: the number of cores; 1 per rank with --mpi)\n"
    "  --shard I/N      run only the I-th of N disjoint slices of the points (1 <= I <= N),\n"
    "                   writing DIR/results-I-of-N.csv and .jsonl (docs/cluster.md)\n"
    "  --out DIR        the output directory (default: the sweep file's \"output\", else\n"
    "                   SWEEP-results, relative to the working directory)\n"
    "  --dry-run        list the points (id, status, settings) and check every config;\n"
    "                   run nothing, write nothing\n"
#ifdef QR_HAVE_MPI
    "  --mpi            distribute the points over MPI ranks (automatic under mpirun with\n"
    "                   more than one rank): rank 0 hands out points and writes the files\n"
#endif
    "  --no-int         skip the integer model: qreg eval --int on the validation and test\n"
    "                   files (when the config has separate ones) and qreg export for the\n"
    "                   device model's size (int_*_accuracy, actual_bytes)\n"
    "  --quiet          no progress lines\n"
    "  -h, --help       this help\n"
    "\n"
    "Every run is single-threaded (training.threads = 1, OPENBLAS_NUM_THREADS=1). Ctrl-C or\n"
    "SIGTERM is passed on to the runs, which stop at a batch boundary with a checkpoint; the\n"
    "next sweep continues them with --resume. Exit status: 0 all runs ok, 1 a run failed (it\n"
    "is recorded as failed), 2 usage error, 130 interrupted.\n"
#ifdef QR_HAVE_MPI
    "\nThis build has MPI support (--mpi).\n"
#endif
    ;

/* ---- signals ----------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signals; /* SIGINT and SIGTERM received */
static int wake_fd[2] = {-1, -1};          /* self-pipe: a signal wakes the main loop */

/* Handlers may run in any thread (OpenBLAS and MPI start threads that do not block these
 * signals), so they wake the main loop through a pipe rather than by interrupting it. */
static void wake(void)
{
    int saved = errno;
    if (wake_fd[1] >= 0 && write(wake_fd[1], "", 1) < 0) {
        /* full pipe: a wake-up is pending anyway */
    }
    errno = saved;
}

static void on_stop(int sig)
{
    (void)sig;
    stop_signals++;
    wake();
}

static void on_child(int sig)
{
    (void)sig;
    wake();
}

/* ---- state ----------------------------------------------------------------------------- */

typedef struct job {
    pid_t pid;
    size_t point;
    double started;
    int phase;          /* 0 training, 1 integer evaluation on validation, 2 on test */
    qr_sweep_row *row;  /* phases 1, 2: the training run's row, completed by them */
} job;

typedef struct sweep_run {
    qr_sweep sw;
    const char *dir;           /* output directory (absolute) */
    char exe[4096];            /* this program */
    char **envp;               /* environment of the runs */
    char *csv_path, *jsonl_path;
    int csv_fd, jsonl_fd;
    int quiet, tty;
    int int_eval;              /* integer accuracy of finished runs (qreg eval --int) */
    size_t jobs;
    job *running;
    size_t n_running;
    size_t total, finished, n_ok, n_failed, n_interrupted;
    int stopping;
    int forwarded;             /* stop signals passed on so far */
    double t0;
    char **short_names;        /* column names for progress lines */
    int rank, ranks;           /* MPI; 0, 1 otherwise */
} sweep_run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *path_join(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 2);
    if (out)
        sprintf(out, "%s/%s", a, b);
    return out;
}

static int mkdir_p(const char *path)
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

static void fmt_duration(char *buf, size_t n, double s)
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

static void draw_bar(sweep_run *R)
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
    double el = now() - R->t0;
    char e[32], eta[32];
    fmt_duration(e, sizeof e, el);
    if (done)
        fmt_duration(eta, sizeof eta, el / (double)done * (double)(R->total - done));
    else
        snprintf(eta, sizeof eta, "?");
    printf("\r\033[K[%s] %zu/%zu %3.0f%%  %zu running  %s elapsed  ETA %s%s", bar, done,
           R->total, R->total ? 100.0 * (double)done / (double)R->total : 100.0, R->n_running,
           e, eta, R->stopping ? "  (stopping)" : "");
    fflush(stdout);
}

/* `from`: the MPI rank that ran it (marked when not 0). */
static void progress_line(sweep_run *R, const qr_sweep_point *p, const qr_sweep_row *r, int from)
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
    draw_bar(R);
}

/* ---- results files --------------------------------------------------------------------- */

/* Open (create) a results file for appending. A CSV file gets or must have `header`; a file
 * whose last line is torn (no final line break) gets one, so the next row starts clean. */
static qr_status open_results(const char *path, const char *header, int *fd_out, qr_error *err)
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
static qr_status record_row(sweep_run *R, const qr_sweep_row *r, qr_error *err)
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
static qr_status load_done(const char *dir, char (**ids)[QR_SWEEP_ID_LEN + 1], size_t *n,
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
        char *p = path_join(dir, e->d_name);
        s = p ? qr_sweep_done_ids(p, ids, n, err) : qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        free(p);
    }
    closedir(d);
    return s;
}

static int id_in(const char (*ids)[QR_SWEEP_ID_LEN + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

/* ---- one run --------------------------------------------------------------------------- */

static char *run_dir(const sweep_run *R, const qr_sweep_point *p)
{
    char rel[64];
    snprintf(rel, sizeof rel, "runs/%s", p->id);
    return path_join(R->dir, rel);
}

/* The last non-empty line of a file (without "qreg train: "), malloc'd, or NULL. */
static char *last_line(const char *path)
{
    unsigned char *data;
    size_t len;
    qr_error err;
    if (qr_file_read_all(path, (size_t)64 << 20, &data, &len, &err) != QR_OK)
        return NULL;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        len--;
    size_t start = len;
    while (start && data[start - 1] != '\n')
        start--;
    const char *prefix = "qreg train: ";
    if (len - start >= strlen(prefix) && memcmp(data + start, prefix, strlen(prefix)) == 0)
        start += strlen(prefix);
    char *out = len > start ? malloc(len - start + 1) : NULL;
    if (out) {
        memcpy(out, data + start, len - start);
        out[len - start] = '\0';
    }
    free(data);
    return out;
}

/* Write the run's config and check it loads. On a config error *row_error gets the message
 * (the run fails without a process). */
static qr_status prepare_run(sweep_run *R, const qr_sweep_point *p, const char *rdir,
                             char **config_path, char *row_error, size_t row_error_len,
                             qr_error *err)
{
    *config_path = NULL;
    row_error[0] = '\0';
    if (mkdir_p(rdir) != 0)
        return qr_error_set(err, QR_ERR_IO, "%s: %s", rdir, strerror(errno));
    cJSON *c = qr_sweep_run_config(&R->sw, p, rdir);
    char *text = c ? cJSON_Print(c) : NULL;
    cJSON_Delete(c);
    char *cpath = path_join(rdir, "config.json");
    if (!text || !cpath) {
        free(text);
        free(cpath);
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    }
    size_t tl = strlen(text);
    text[tl] = '\n'; /* cJSON_Print's text has no final line break: overwrite the NUL */
    qr_status s = qr_file_write_atomic(cpath, text, tl + 1, err);
    free(text);
    if (s) {
        free(cpath);
        return s;
    }
    qr_train_config tc;
    qr_error cerr = {{0}};
    if (qr_train_config_load(cpath, &tc, &cerr) != QR_OK)
        snprintf(row_error, row_error_len, "%s", cerr.msg);
    else
        qr_train_config_free(&tc);
    *config_path = cpath;
    return QR_OK;
}

/* Start `argv` (this program) as a child in its own process group, stdout and stderr to
 * files, stdin from /dev/null. */
static qr_status spawn(const sweep_run *R, char *const argv[], const char *out,
                       const char *errp, const sigset_t *orig, pid_t *pid_out, qr_error *err)
{
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* own process group: a terminal's Ctrl-C reaches only the sweep, which passes it on
         * exactly once (a second SIGINT would kill a run without a checkpoint) */
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGINT); /* the sweep died: stop with a checkpoint */
        if (getppid() != parent)
            _exit(130);
#endif
        (void)parent;
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_SETMASK, orig, NULL);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int fi = open("/dev/null", O_RDONLY);
        if (fo < 0 || fe < 0 || fi < 0)
            _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execve(R->exe, argv, R->envp);
        static const char msg[] = "qreg sweep: cannot execute the qreg program\n";
        if (write(2, msg, sizeof msg - 1) < 0)
            _exit(127);
        _exit(127);
    }
    if (pid < 0)
        return qr_error_set(err, QR_ERR_IO, "fork: %s", strerror(errno));
    setpgid(pid, pid);
    *pid_out = pid;
    return QR_OK;
}

/* A finished run's row: written by rank 0, sent to rank 0 by the others. */
static qr_status emit_row(sweep_run *R, size_t k, const qr_sweep_row *r, qr_error *err)
{
    R->finished++;
    if (r->ok)
        R->n_ok++;
    else
        R->n_failed++;
    if (R->rank == 0) {
        qr_status s = record_row(R, r, err);
        if (s == QR_OK)
            progress_line(R, &R->sw.points[k], r, 0);
        return s;
    }
#ifdef QR_HAVE_MPI
    char *jl = qr_sweep_row_jsonl(r);
    if (!jl)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    MPI_Send(jl, (int)strlen(jl) + 1, MPI_CHAR, 0, TAG_ROW, MPI_COMM_WORLD);
    free(jl);
#endif
    return QR_OK;
}

/* Start point `k` as a child process; a config error is recorded at once. */
static qr_status start_run(sweep_run *R, size_t k, const sigset_t *orig, qr_error *err)
{
    const qr_sweep_point *p = &R->sw.points[k];
    char *rdir = run_dir(R, p), *cpath = NULL, cfg_err[QR_ERROR_MAX];
    if (!rdir)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    qr_status s = prepare_run(R, p, rdir, &cpath, cfg_err, sizeof cfg_err, err);
    char *model = path_join(rdir, "model.qrm"), *ckpt = path_join(rdir, "model.qrm.ckpt");
    char *out = path_join(rdir, "stdout.json"), *errp = path_join(rdir, "stderr.log");
    if (s == QR_OK && (!model || !ckpt || !out || !errp))
        s = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    if (s == QR_OK && cfg_err[0]) {
        /* the child would fail the same way: record it without one */
        qr_sweep_row r;
        if (qr_sweep_row_init(&r, &R->sw, p) != QR_OK) {
            s = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        } else {
            qr_sweep_row_set_error(&r, cfg_err);
            s = emit_row(R, k, &r, err);
            qr_sweep_row_free(&r);
        }
    } else if (s == QR_OK) {
        int resume = access(ckpt, F_OK) == 0;
        char *argv[] = {"qreg", "train", cpath, "--json", "--quiet", "--out", model,
                        resume ? "--resume" : NULL, NULL};
        pid_t pid;
        if ((s = spawn(R, argv, out, errp, orig, &pid, err)) == QR_OK)
            R->running[R->n_running++] = (job){pid, k, now(), 0, NULL};
    }
    free(model);
    free(ckpt);
    free(out);
    free(errp);
    free(cpath);
    free(rdir);
    return s;
}

/* A training run ended with wait status `status`: make its row. Returns 0 when there is no
 * row (the run was stopped by our signal and will be resumed), -1 when out of memory. */
static int finish_run(sweep_run *R, const job *j, int status, qr_sweep_row *r)
{
    const qr_sweep_point *p = &R->sw.points[j->point];
    char *rdir = run_dir(R, p);
    char *out = rdir ? path_join(rdir, "stdout.json") : NULL;
    char *errp = rdir ? path_join(rdir, "stderr.log") : NULL;
    char *ckpt = rdir ? path_join(rdir, "model.qrm.ckpt") : NULL;
    int row = 1;
    if (qr_sweep_row_init(r, &R->sw, p) != QR_OK) {
        row = -1;
    } else if (R->stopping && ((WIFEXITED(status) && WEXITSTATUS(status) == 130) ||
                               (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT))) {
        /* stopped by the signal we passed on (a second one kills at once): no row, the
         * next sweep resumes it from its checkpoint or starts it again */
        row = 0;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char *line = out ? last_line(out) : NULL;
        if (!line || qr_sweep_row_set_result(r, line) != 0)
            qr_sweep_row_set_error(r, "the run printed no result");
        else if (ckpt)
            unlink(ckpt); /* done: the checkpoint is no longer needed */
        free(line);
    } else {
        char *msg = errp ? last_line(errp) : NULL, buf[QR_ERROR_MAX + 64];
        if (WIFSIGNALED(status))
            snprintf(buf, sizeof buf, "killed by signal %d (%s)%s%.400s", WTERMSIG(status),
                     strsignal(WTERMSIG(status)), msg ? ": " : "", msg ? msg : "");
        else if (WEXITSTATUS(status) == 1 && msg)
            snprintf(buf, sizeof buf, "%.480s", msg);
        else
            snprintf(buf, sizeof buf, "exit status %d%s%.400s", WEXITSTATUS(status),
                     msg ? ": " : "", msg ? msg : "");
        qr_sweep_row_set_error(r, buf);
        free(msg);
    }
    if (row == 0)
        qr_sweep_row_free(r);
    free(out);
    free(errp);
    free(ckpt);
    free(rdir);
    return row;
}

/* ---- integer accuracy ------------------------------------------------------------------ */

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
static int start_eval(sweep_run *R, job *j, const sigset_t *orig)
{
    const qr_sweep_point *p = &R->sw.points[j->point];
    static const char *const keys[3] = {NULL, "validation", "test"};
    static const char *const names[3] = {NULL, "int-val", "int-test"};
    if (j->phase >= 3)
        return 0;
    char *rdir = run_dir(R, p);
    cJSON *c = rdir ? qr_sweep_run_config(&R->sw, p, rdir) : NULL;
    int started = 0;
    while (!started && c && ++j->phase <= 3) {
        if (j->phase == 3) { /* the device model: its size is the actual byte size */
            char *model = path_join(rdir, "model.qrm"), *dir = path_join(rdir, "export");
            char *out = path_join(rdir, "export.log"), *errp = path_join(rdir, "export.err");
            char *argv[] = {"qreg", "export", model, "--out", dir, NULL};
            pid_t pid;
            qr_error err;
            if (model && dir && out && errp && spawn(R, argv, out, errp, orig, &pid, &err) == QR_OK) {
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
        char *model = path_join(rdir, "model.qrm"), *out = path_join(rdir, o);
        char *errp = path_join(rdir, e);
        char *argv[] = {"qreg", "eval", model, "--data", file, "--int", "--json",
                        "--header", (char *)hd, lab[0] ? "--label" : NULL, lab, NULL};
        pid_t pid;
        qr_error err;
        if (model && out && errp && spawn(R, argv, out, errp, orig, &pid, &err) == QR_OK) {
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
static void finish_eval(sweep_run *R, const job *j, int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return;
    char *rdir = run_dir(R, &R->sw.points[j->point]);
    if (j->phase == 3) {
        char *blob = rdir ? path_join(rdir, "export/model.qrt") : NULL;
        struct stat st;
        if (blob && stat(blob, &st) == 0)
            j->row->actual_bytes = (double)st.st_size;
        free(blob);
        free(rdir);
        return;
    }
    char *out = rdir ? path_join(rdir, j->phase == 1 ? "int-val.json" : "int-test.json") : NULL;
    char *line = out ? last_line(out) : NULL;
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

static void forward_stop(sweep_run *R)
{
    if (stop_signals == R->forwarded)
        return;
    R->forwarded = stop_signals;
    R->stopping = 1;
    for (size_t i = 0; i < R->n_running; i++)
        kill(R->running[i].pid, SIGINT);
    draw_bar(R);
}

/* Reap finished children. A training run that succeeded goes on to the integer evaluations
 * of its validation and test files (when it has them); a finished run's row is recorded
 * (rank 0) or sent to rank 0. */
static qr_status reap(sweep_run *R, const sigset_t *orig, qr_error *err)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return QR_OK;
        size_t i = 0;
        while (i < R->n_running && R->running[i].pid != pid)
            i++;
        if (i == R->n_running)
            continue;
        job j = R->running[i];
        R->running[i] = R->running[--R->n_running];
        if (j.phase == 0) {
            qr_sweep_row r;
            int row = finish_run(R, &j, status, &r);
            if (row < 0)
                return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
            if (row == 0) {
                R->n_interrupted++;
                continue;
            }
            if (!(j.row = malloc(sizeof *j.row))) {
                qr_sweep_row_free(&r);
                return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
            }
            *j.row = r;
        } else {
            finish_eval(R, &j, status);
        }
        if (j.row->ok && R->int_eval && !R->stopping && start_eval(R, &j, orig)) {
            R->running[R->n_running++] = j; /* the same slot, the next phase */
            continue;
        }
        qr_status s = emit_row(R, j.point, j.row, err);
        qr_sweep_row_free(j.row);
        free(j.row);
        if (s)
            return s;
    }
}

/* Wait for a child, a signal or `timeout` seconds (< 0: no limit). Signals stay blocked in
 * this thread except while waiting; the self-pipe catches those another thread handled. */
static void wait_event(const sigset_t *orig, double timeout)
{
    struct timespec ts, *tp = NULL;
    if (timeout >= 0) {
        ts.tv_sec = (time_t)timeout;
        ts.tv_nsec = (long)((timeout - (double)ts.tv_sec) * 1e9);
        tp = &ts;
    }
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(wake_fd[0], &rd);
    if (pselect(wake_fd[0] + 1, &rd, NULL, NULL, tp, orig) > 0) {
        char buf[64];
        while (read(wake_fd[0], buf, sizeof buf) > 0) {
        }
    }
}

/* ---- MPI ------------------------------------------------------------------------------- */
#ifdef QR_HAVE_MPI
/* Rank 0: answer requests for work (TAG_REQUEST -> TAG_WORK with a point index, -1 for no
 * more), record the rows the other ranks send (TAG_ROW, a JSON line) and count the ranks
 * that are done (TAG_DONE) in *done_ranks. */
static qr_status serve_ranks(sweep_run *R, const size_t *pending, size_t n_pending,
                             size_t *next, int *done_ranks, qr_error *err)
{
    for (;;) {
        int flag;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            return QR_OK;
        int count;
        MPI_Get_count(&st, MPI_CHAR, &count);
        char *buf = malloc((size_t)count + 1);
        if (!buf)
            return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        MPI_Recv(buf, count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        buf[count] = '\0';
        qr_status s = QR_OK;
        if (st.MPI_TAG == TAG_REQUEST) {
            long k = -1;
            if (!R->stopping && *next < n_pending)
                k = (long)pending[(*next)++];
            MPI_Send(&k, 1, MPI_LONG, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        } else if (st.MPI_TAG == TAG_DONE) {
            (*done_ranks)++;
        } else if (st.MPI_TAG == TAG_ROW) {
            qr_sweep_row got, r;
            size_t k = 0;
            if (qr_sweep_row_from_jsonl(&got, buf) == 0) {
                while (k < R->sw.n_points && strcmp(R->sw.points[k].id, got.id) != 0)
                    k++;
                if (k < R->sw.n_points && qr_sweep_row_init(&r, &R->sw, &R->sw.points[k]) == 0) {
                    /* settings from our own expansion, results from the message */
                    r.ok = got.ok;
                    r.error = got.error;
                    got.error = NULL;
                    r.val_accuracy = got.val_accuracy;
                    r.test_accuracy = got.test_accuracy;
                    r.fq_val_accuracy = got.fq_val_accuracy;
                    r.fq_test_accuracy = got.fq_test_accuracy;
                    r.int_val_accuracy = got.int_val_accuracy;
                    r.int_test_accuracy = got.int_test_accuracy;
                    r.val_loss = got.val_loss;
                    r.test_loss = got.test_loss;
                    r.best_epoch = got.best_epoch;
                    r.bytes = got.bytes;
                    r.actual_bytes = got.actual_bytes;
                    r.baseline_bytes = got.baseline_bytes;
                    r.reduction_pct = got.reduction_pct;
                    r.seconds = got.seconds;
                    R->finished++;
                    if (r.ok)
                        R->n_ok++;
                    else
                        R->n_failed++;
                    s = record_row(R, &r, err);
                    if (s == QR_OK)
                        progress_line(R, &R->sw.points[k], &r, st.MPI_SOURCE);
                    qr_sweep_row_free(&r);
                }
                qr_sweep_row_free(&got);
            }
        }
        free(buf);
        if (s)
            return s;
    }
}
#endif

/* MPI: every rank says whether its setup worked; all go on only when all did (a rank that
 * failed alone would leave the others waiting for it). */
static int agree(const sweep_run *R, int ok)
{
#ifdef QR_HAVE_MPI
    if (R->ranks > 1) {
        int all = ok;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        return all;
    }
#endif
    (void)R;
    return ok;
}

/* ---- the pool ---------------------------------------------------------------------------- */

/* Run the pending points: local children, plus (MPI, rank 0) the other ranks' requests. */
static qr_status run_pool(sweep_run *R, const size_t *pending, size_t n_pending,
                          const sigset_t *orig, qr_error *err)
{
    size_t next = 0;
    qr_status s = QR_OK;
#ifdef QR_HAVE_MPI
    int done_ranks = 0, others = R->ranks - 1;
    int no_more = 0; /* a worker rank: rank 0 has nothing left */
#endif
    for (;;) {
        forward_stop(R);
        /* fill the free slots */
        while (s == QR_OK && !R->stopping && R->n_running < R->jobs) {
            long k = -1;
            if (R->rank == 0) {
                if (next < n_pending)
                    k = (long)pending[next++];
            }
#ifdef QR_HAVE_MPI
            else if (!no_more) {
                char req = 0;
                MPI_Send(&req, 1, MPI_CHAR, 0, TAG_REQUEST, MPI_COMM_WORLD);
                MPI_Recv(&k, 1, MPI_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                if (k < 0)
                    no_more = 1;
            }
#endif
            if (k < 0)
                break;
            s = start_run(R, (size_t)k, orig, err);
        }
        if (s == QR_OK)
            s = reap(R, orig, err);
#ifdef QR_HAVE_MPI
        if (R->rank == 0 && R->ranks > 1) {
            qr_error e2;
            qr_status s2 = serve_ranks(R, pending, n_pending, &next, &done_ranks, s ? &e2 : err);
            if (!s)
                s = s2;
        }
#endif
        if (s) {
            R->stopping = 1;
            for (size_t i = 0; i < R->n_running; i++)
                kill(R->running[i].pid, SIGINT);
        }
        int local_done = R->n_running == 0 &&
                         (R->stopping || s ||
                          (R->rank == 0 ? next >= n_pending : 0)
#ifdef QR_HAVE_MPI
                          || (R->rank != 0 && no_more)
#endif
                         );
#ifdef QR_HAVE_MPI
        if (local_done && R->rank != 0) {
            char done = 0;
            MPI_Send(&done, 1, MPI_CHAR, 0, TAG_DONE, MPI_COMM_WORLD);
            break;
        }
        if (local_done && R->rank == 0 && done_ranks >= others)
            break;
        if (R->rank == 0 && R->ranks > 1) {
            wait_event(orig, 0.02); /* poll the other ranks */
            continue;
        }
#endif
        if (local_done) {
            /* wait for the rest after an error */
            while (R->n_running > 0) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);
                if (pid < 0 && errno != EINTR)
                    break;
                for (size_t i = 0; pid > 0 && i < R->n_running; i++)
                    if (R->running[i].pid == pid)
                        R->running[i] = R->running[--R->n_running];
            }
            break;
        }
        wait_event(orig, 1.0); /* a second at most: the bar's clock */
        draw_bar(R);
    }
    return s;
}

/* ---- dry run ----------------------------------------------------------------------------- */

static int dry_run(sweep_run *R, const unsigned char *sel,
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
        int is_done = id_in(done, n_done, p->id);
        char *rdir = run_dir(R, p), *ckpt = rdir ? path_join(rdir, "model.qrm.ckpt") : NULL;
        const char *what = is_done ? "done" : ckpt && access(ckpt, F_OK) == 0 ? "resume" : "run";
        char msg[QR_ERROR_MAX] = "";
        if (tmpdir && rdir) {
            cJSON *c = qr_sweep_run_config(&R->sw, p, rdir);
            char *text = c ? cJSON_Print(c) : NULL;
            char name[64];
            snprintf(name, sizeof name, "%s.json", p->id);
            char *cpath = path_join(tmpdir, name);
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

/* ---- the command ----------------------------------------------------------------------- */

static char **make_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) != 0 &&
            strncmp(environ[i], "OMP_NUM_THREADS=", 16) != 0)
            env[k++] = environ[i];
    env[k++] = "OPENBLAS_NUM_THREADS=1";
    env[k++] = "OMP_NUM_THREADS=1";
    env[k] = NULL;
    return env;
}

static char *default_out(const char *sweep_path)
{
    const char *b = strrchr(sweep_path, '/');
    b = b ? b + 1 : sweep_path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".json") == 0)
        n -= 5;
    char *out = malloc(n + 9);
    if (out)
        sprintf(out, "%.*s-results", (int)n, b);
    return out;
}

int qr_cmd_sweep(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *v;
    size_t jobs = 0, shard_i = 0, shard_n = 0;
    int dry = 0, quiet = 0, use_mpi = 0, synced = 0, no_int = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(sweep_help, stdout);
            return 0;
        } else if (strcmp(a, "--dry-run") == 0) {
            dry = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--no-int") == 0) {
            no_int = 1;
#ifdef QR_HAVE_MPI
        } else if (strcmp(a, "--mpi") == 0) {
            use_mpi = 1;
#endif
        } else if (qr_cli_opt(argc, argv, &i, "-j", &v) ||
                   qr_cli_opt(argc, argv, &i, "--jobs", &v)) {
            if (qr_cli_size(v, &jobs) || jobs == 0 || jobs > 4096)
                goto bad;
        } else if (strncmp(a, "-j", 2) == 0 && a[2]) {
            if (qr_cli_size(a + 2, &jobs) || jobs == 0 || jobs > 4096)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--shard", &v)) {
            char *slash = v ? strchr(v, '/') : NULL;
            if (!slash)
                goto bad;
            char first[32];
            if ((size_t)(slash - v) >= sizeof first)
                goto bad;
            memcpy(first, v, (size_t)(slash - v));
            first[slash - v] = '\0';
            if (qr_cli_size(first, &shard_i) || qr_cli_size(slash + 1, &shard_n) ||
                shard_n < 1 || shard_i < 1 || shard_i > shard_n || shard_n > 1000000)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v) || !*v)
                goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg sweep: unknown option '%s' (see qreg sweep --help)\n", a);
            return 2;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "qreg sweep: more than one sweep file given ('%s')\n", a);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg sweep: option '%s' needs a valid value (see qreg sweep --help)\n",
                a);
        return 2;
    }
    if (!path) {
        fputs(sweep_help, stderr);
        return 2;
    }
#ifdef QR_HAVE_MPI
    {
        const char *sz = getenv("OMPI_COMM_WORLD_SIZE");
        if (!sz)
            sz = getenv("PMI_SIZE");
        if (sz && atoi(sz) > 1)
            use_mpi = 1;
    }
#endif
    if (use_mpi && shard_n) {
        fprintf(stderr, "qreg sweep: --shard and MPI do not mix (MPI ranks are the shards)\n");
        return 2;
    }

    sweep_run R;
    memset(&R, 0, sizeof R);
    R.csv_fd = R.jsonl_fd = -1;
    R.ranks = 1;
    R.quiet = quiet;
    R.int_eval = !no_int;
    int rc = 1;
#ifdef QR_HAVE_MPI
    if (use_mpi) {
        setenv("OMPI_MCA_mpi_warn_on_fork", "0", 0);
        MPI_Init(NULL, NULL);
        MPI_Comm_rank(MPI_COMM_WORLD, &R.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &R.ranks);
    }
#endif
    qr_error err = {{0}};
    char *out_alloc = NULL, *dir = NULL;
    char (*done)[QR_SWEEP_ID_LEN + 1] = NULL;
    size_t n_done = 0, *pending = NULL;
    unsigned char *sel = NULL;
    char *csv_header = NULL;
    qr_status s = qr_sweep_load(path, &R.sw, &err);
    if (s)
        goto fail;
    if (!out)
        out = R.sw.output ? R.sw.output : (out_alloc = default_out(path));
    if (!out || (!dry && mkdir_p(out) != 0)) {
        s = qr_error_set(&err, QR_ERR_IO, "%s: %s", out ? out : path,
                         out ? strerror(errno) : "out of memory");
        goto fail;
    }
    dir = realpath(out, NULL);
    if (!dir && out[0] == '/')
        dir = strdup(out);
    if (!dir) {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd))
            dir = path_join(cwd, out);
    }
    if (!dir || (R.short_names = qr_sweep_short_names(R.sw.columns, R.sw.n_columns)) == NULL ||
        !(sel = calloc(R.sw.n_points + 1, 1)) ||
        !(pending = calloc(R.sw.n_points + 1, sizeof *pending))) {
        s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    R.dir = dir;
    if (shard_n)
        qr_sweep_shard(&R.sw, shard_i, shard_n, sel);
    else
        memset(sel, 1, R.sw.n_points);
    if ((s = load_done(dir, &done, &n_done, &err)))
        goto fail;
    /* no bar under mpirun: it gives the ranks a pseudo-terminal even when its output is a file */
    R.tty = isatty(STDOUT_FILENO) && R.ranks == 1 && !getenv("OMPI_COMM_WORLD_SIZE");
    if (dry) {
        if (R.rank == 0)
            rc = dry_run(&R, sel, (const char (*)[QR_SWEEP_ID_LEN + 1])done, n_done);
        else
            rc = 0;
        goto done_all;
    }
    /* the runs execute this very binary: /proc/self/exe names its inode even when the file
     * is rebuilt or removed while the sweep runs */
    if (access("/proc/self/exe", X_OK) != 0) {
        s = qr_error_set(&err, QR_ERR_IO, "cannot execute this program again "
                         "(/proc/self/exe): %s", strerror(errno));
        goto fail;
    }
    snprintf(R.exe, sizeof R.exe, "/proc/self/exe");
    if (!(R.envp = make_env())) {
        s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    size_t n_pending = 0, n_skip = 0;
    for (size_t k = 0; k < R.sw.n_points; k++) {
        if (!sel[k])
            continue;
        if (id_in((const char (*)[QR_SWEEP_ID_LEN + 1])done, n_done, R.sw.points[k].id))
            n_skip++;
        else
            pending[n_pending++] = k;
    }
    char name[96];
    if (shard_n)
        snprintf(name, sizeof name, "results-%zu-of-%zu", shard_i, shard_n);
    else
        snprintf(name, sizeof name, "results");
    char csv_name[112], jsonl_name[112];
    snprintf(csv_name, sizeof csv_name, "%s.csv", name);
    snprintf(jsonl_name, sizeof jsonl_name, "%s.jsonl", name);
    R.csv_path = path_join(dir, csv_name);
    R.jsonl_path = path_join(dir, jsonl_name);
    csv_header = qr_sweep_csv_header(R.sw.columns, R.sw.n_columns);
    if (!R.csv_path || !R.jsonl_path || !csv_header) {
        s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (R.rank == 0 && ((s = open_results(R.csv_path, csv_header, &R.csv_fd, &err)) ||
                        (s = open_results(R.jsonl_path, NULL, &R.jsonl_fd, &err))))
        goto fail;
    if (!jobs) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = R.ranks > 1 ? 1 : cores > 0 ? (size_t)cores : 1;
    }
    R.jobs = jobs;
    if (!(R.running = calloc(jobs, sizeof *R.running))) {
        s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    R.total = n_pending;
    if (R.rank == 0 && !quiet) {
        printf("sweep %s: %zu runs", path, R.sw.n_points);
        if (shard_n)
            printf(", shard %zu/%zu: %zu", shard_i, shard_n, n_pending + n_skip);
        printf("; %zu already done, %zu to run, %zu at a time", n_skip, n_pending, jobs);
        if (R.ranks > 1)
            printf(" on each of %d MPI ranks", R.ranks);
        printf("; results in %s\n", R.csv_path);
        fflush(stdout);
    }
    if (pipe2(wake_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        s = qr_error_set(&err, QR_ERR_IO, "pipe: %s", strerror(errno));
        goto fail;
    }
    synced = 1;
    if (!agree(&R, 1)) {
        s = qr_error_set(&err, QR_ERR_STATE, "another MPI rank failed to start");
        goto fail;
    }

    /* signals: blocked except while waiting, so none is lost between a check and the wait */
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &orig);
    struct sigaction sa, old_int, old_term, old_chld;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = on_child;
    sigaction(SIGCHLD, &sa, &old_chld);
    R.t0 = now();
    draw_bar(&R);
    s = run_pool(&R, pending, n_pending, &orig, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    sigprocmask(SIG_SETMASK, &orig, NULL);

#ifdef QR_HAVE_MPI
    if (R.ranks > 1) {
        /* counts from every rank, for the summary */
        unsigned long mine[2] = {R.n_interrupted, R.stopping}, all[2] = {0, 0};
        MPI_Reduce(mine, all, 2, MPI_UNSIGNED_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        if (R.rank == 0) {
            R.n_interrupted = all[0];
            R.stopping |= all[1] > 0;
        }
    }
#endif
    if (R.rank == 0) {
        if (R.tty && !quiet)
            printf("\r\033[K");
        char e[32];
        fmt_duration(e, sizeof e, now() - R.t0);
        if (R.total == 0 && !s) {
            printf("nothing to run: every run of this sweep%s is done\n", shard_n ? " shard" : "");
        } else if (!quiet || s || R.n_failed || R.stopping) {
            printf("%zu runs finished in %s: %zu ok, %zu failed", R.finished, e, R.n_ok,
                   R.n_failed);
            if (R.stopping)
                printf("; interrupted (%zu stopped with a checkpoint, %zu not started): run "
                       "the same command to go on", R.n_interrupted,
                       R.total - R.finished - R.n_interrupted);
            printf("\nresults: %s (qreg report %s)\n", R.csv_path, dir);
        }
        fflush(stdout);
    }
    if (s)
        goto fail;
    rc = R.stopping ? 130 : R.n_failed ? 1 : 0;
    goto done_all;
fail:
    if (R.rank == 0 || s != QR_ERR_STATE)
        fprintf(stderr, "qreg sweep: %s\n", err.msg);
    if (!dry && !synced)
        agree(&R, 0);
    rc = 1;
done_all:
    for (int i = 0; i < 2; i++)
        if (wake_fd[i] >= 0) {
            close(wake_fd[i]);
            wake_fd[i] = -1;
        }
    if (R.csv_fd >= 0)
        close(R.csv_fd);
    if (R.jsonl_fd >= 0)
        close(R.jsonl_fd);
    qr_sweep_short_names_free(R.short_names, R.sw.n_columns);
    free(R.running);
    free(R.envp);
    free(R.csv_path);
    free(R.jsonl_path);
    free(csv_header);
    free(pending);
    free(sel);
    free(done);
    free(dir);
    free(out_alloc);
    qr_sweep_free(&R.sw);
#ifdef QR_HAVE_MPI
    if (use_mpi) {
        /* the exit status must agree: the worst of all ranks */
        int all_rc = rc;
        MPI_Allreduce(&rc, &all_rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        rc = all_rc;
        MPI_Finalize();
    }
#endif
    return rc;
}
