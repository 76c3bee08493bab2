/* qreg sweep: one training run: its directory and config, the child process, its row. */
#define _GNU_SOURCE /* prctl */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#ifdef QR_HAVE_MPI
#include <mpi.h>
#endif
#include "cli.h"
#include "lib/fileio.h"
#include "cmd_sweep.h"

char *sweep_run_dir(const sweep_run *R, const qr_sweep_point *p)
{
    char rel[64];
    snprintf(rel, sizeof rel, "runs/%s", p->id);
    return sweep_path_join(R->dir, rel);
}

/* The last non-empty line of a file (without "qreg train: "), malloc'd, or NULL. */
char *sweep_last_line(const char *path)
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
    if (sweep_mkdir_p(rdir) != 0)
        return qr_error_set(err, QR_ERR_IO, "%s: %s", rdir, strerror(errno));
    cJSON *c = qr_sweep_run_config(&R->sw, p, rdir);
    char *text = c ? cJSON_Print(c) : NULL;
    cJSON_Delete(c);
    char *cpath = sweep_path_join(rdir, "config.json");
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
qr_status sweep_spawn(const sweep_run *R, char *const argv[], const char *out, const char *errp,
                      const sigset_t *orig, pid_t *pid_out, qr_error *err)
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
qr_status sweep_emit_row(sweep_run *R, size_t k, const qr_sweep_row *r, qr_error *err)
{
    R->finished++;
    if (r->ok)
        R->n_ok++;
    else
        R->n_failed++;
    if (R->rank == 0) {
        qr_status s = sweep_record_row(R, r, err);
        if (s == QR_OK)
            sweep_progress_line(R, &R->sw.points[k], r, 0);
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

/* Name the run in the error `err` holds about starting it. */
static qr_status start_error(qr_error *err, qr_status s, const qr_sweep_point *p)
{
    char msg[QR_ERROR_MAX];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    return qr_error_set(err, s, "cannot start run %s: %s", p->id, msg);
}

/* Start point `k` as a child process; a config error is recorded at once. */
qr_status sweep_start_run(sweep_run *R, size_t k, const sigset_t *orig, qr_error *err)
{
    const qr_sweep_point *p = &R->sw.points[k];
    char *rdir = sweep_run_dir(R, p), *cpath = NULL, cfg_err[QR_ERROR_MAX];
    if (!rdir)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    qr_status s = prepare_run(R, p, rdir, &cpath, cfg_err, sizeof cfg_err, err);
    if (s)
        s = start_error(err, s, p);
    char *model = sweep_path_join(rdir, "model.qrm");
    char *ckpt = sweep_path_join(rdir, "model.qrm.ckpt");
    char *out = sweep_path_join(rdir, "stdout.json"), *errp = sweep_path_join(rdir, "stderr.log");
    if (s == QR_OK && (!model || !ckpt || !out || !errp))
        s = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    if (s == QR_OK && cfg_err[0]) {
        /* the child would fail the same way: record it without one */
        qr_sweep_row r;
        if (qr_sweep_row_init(&r, &R->sw, p) != QR_OK) {
            s = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        } else {
            qr_sweep_row_set_error(&r, cfg_err);
            s = sweep_emit_row(R, k, &r, err);
            qr_sweep_row_free(&r);
        }
    } else if (s == QR_OK) {
        int resume = access(ckpt, F_OK) == 0;
        char *argv[] = {"qreg", "train", cpath, "--json", "--quiet", "--out", model,
                        resume ? "--resume" : NULL, NULL};
        pid_t pid;
        if ((s = sweep_spawn(R, argv, out, errp, orig, &pid, err)) == QR_OK)
            R->running[R->n_running++] = (job){pid, k, sweep_now(), 0, NULL};
        else
            s = start_error(err, s, p);
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
int sweep_finish_run(sweep_run *R, const job *j, int status, qr_sweep_row *r)
{
    const qr_sweep_point *p = &R->sw.points[j->point];
    char *rdir = sweep_run_dir(R, p);
    char *out = rdir ? sweep_path_join(rdir, "stdout.json") : NULL;
    char *errp = rdir ? sweep_path_join(rdir, "stderr.log") : NULL;
    char *ckpt = rdir ? sweep_path_join(rdir, "model.qrm.ckpt") : NULL;
    int row = 1;
    if (qr_sweep_row_init(r, &R->sw, p) != QR_OK) {
        row = -1;
    } else if (R->stopping && ((WIFEXITED(status) && WEXITSTATUS(status) == 130) ||
                               (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT))) {
        /* stopped by the signal we passed on (a second one kills at once): no row, the
         * next sweep resumes it from its checkpoint or starts it again */
        row = 0;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char *line = out ? sweep_last_line(out) : NULL;
        if (!line || qr_sweep_row_set_result(r, line) != 0)
            qr_sweep_row_set_error(r, "the run printed no result");
        else if (ckpt)
            unlink(ckpt); /* done: the checkpoint is no longer needed */
        free(line);
    } else {
        char *msg = errp ? sweep_last_line(errp) : NULL, buf[QR_ERROR_MAX + 64];
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
