/* qreg sweep: the pool of child processes: signals, reaping, the main loop. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef QR_HAVE_MPI
#include <mpi.h>
#endif
#include "cmd_sweep.h"

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

qr_status sweep_wake_open(qr_error *err)
{
    if (pipe2(wake_fd, O_NONBLOCK | O_CLOEXEC) != 0)
        return qr_error_set(err, QR_ERR_IO, "pipe: %s", strerror(errno));
    return QR_OK;
}

void sweep_wake_close(void)
{
    for (int i = 0; i < 2; i++)
        if (wake_fd[i] >= 0) {
            close(wake_fd[i]);
            wake_fd[i] = -1;
        }
}

static void forward_stop(sweep_run *R)
{
    if (stop_signals == R->forwarded)
        return;
    R->forwarded = stop_signals;
    R->stopping = 1;
    for (size_t i = 0; i < R->n_running; i++)
        kill(R->running[i].pid, SIGINT);
    sweep_draw_bar(R);
}

/* Reap finished children. A training run that succeeded goes on to the integer evaluations
 * of its validation and test files (when it has them); a finished run's row is recorded
 * (rank 0) or sent to rank 0. An error does not stop the reaping: the first is returned. */
static qr_status reap(sweep_run *R, const sigset_t *orig, qr_error *err)
{
    qr_status first = QR_OK; /* every finished child is reaped; the first error is returned */
    qr_error later;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return first;
        size_t i = 0;
        while (i < R->n_running && R->running[i].pid != pid)
            i++;
        if (i == R->n_running)
            continue;
        job j = R->running[i];
        R->running[i] = R->running[--R->n_running];
        qr_error *e = first ? &later : err;
        qr_status s;
        if (j.phase == 0) {
            qr_sweep_row r;
            int row = sweep_finish_run(R, &j, status, &r);
            if (row == 0) {
                R->n_interrupted++;
                continue;
            }
            if (row < 0 || !(j.row = malloc(sizeof *j.row))) {
                if (row > 0)
                    qr_sweep_row_free(&r);
                s = qr_error_set(e, QR_ERR_NOMEM, "out of memory");
                first = first ? first : s;
                continue;
            }
            *j.row = r;
        } else {
            sweep_finish_eval(R, &j, status);
        }
        if (j.row->ok && R->int_eval && !R->stopping && sweep_start_eval(R, &j, orig)) {
            R->running[R->n_running++] = j; /* the same slot, the next phase */
            continue;
        }
        s = sweep_emit_row(R, j.point, j.row, e);
        qr_sweep_row_free(j.row);
        free(j.row);
        first = first ? first : s;
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
            s = sweep_start_run(R, (size_t)k, orig, err);
        }
        /* reap after an error too: every child is waited for, whatever went wrong */
        qr_error later;
        qr_status s1 = reap(R, orig, s ? &later : err);
        if (!s)
            s = s1;
#ifdef QR_HAVE_MPI
        if (R->rank == 0 && R->ranks > 1) {
            qr_error e2;
            qr_status s2 =
                sweep_serve_ranks(R, pending, n_pending, &next, &done_ranks, s ? &e2 : err);
            if (!s)
                s = s2;
        }
#endif
        if (s && !R->stopping) {
            /* stop the runs, once: they checkpoint and are resumed by the next sweep (a stop
             * signal from now on is passed on too, and a second SIGINT ends a run at once) */
            R->stopping = 1;
            for (size_t i = 0; i < R->n_running; i++)
                kill(R->running[i].pid, SIGINT);
            sweep_draw_bar(R);
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
        if (local_done)
            break;
        wait_event(orig, 1.0); /* a second at most: the bar's clock */
        sweep_draw_bar(R);
    }
    return s;
}

qr_status sweep_pool(sweep_run *R, const size_t *pending, size_t n_pending, qr_error *err)
{
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
    R->t0 = sweep_now();
    sweep_draw_bar(R);
    qr_status s = run_pool(R, pending, n_pending, &orig, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return s;
}
