/* qreg sweep (cmd_sweep*.c): the state of a sweep and what its parts share. */
#ifndef QREG_CMD_SWEEP_H
#define QREG_CMD_SWEEP_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include "sweep.h"

#ifdef QR_HAVE_MPI
/* messages between the ranks of an MPI sweep */
enum { TAG_REQUEST = 1, TAG_ROW = 2, TAG_WORK = 3, TAG_DONE = 4 };
#endif

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

/* ---- cmd_sweep_out.c: helpers, progress, results files, dry run ------------------------- */
double sweep_now(void);
/* "a/b", malloc'd */
char *sweep_path_join(const char *a, const char *b);
int sweep_mkdir_p(const char *path);
void sweep_fmt_duration(char *buf, size_t n, double s);
void sweep_draw_bar(sweep_run *R);
/* One line for a finished run; `from`: the MPI rank that ran it (marked when not 0). */
void sweep_progress_line(sweep_run *R, const qr_sweep_point *p, const qr_sweep_row *r, int from);
/* Open (create) a results file for appending. A CSV file gets or must have `header`; a file
 * whose last line is torn (no final line break) gets one, so the next row starts clean. */
qr_status sweep_open_results(const char *path, const char *header, int *fd_out, qr_error *err);
/* Write a row to both files: the CSV row, then the JSON line (the record resuming trusts). */
qr_status sweep_record_row(sweep_run *R, const qr_sweep_row *r, qr_error *err);
/* The ids with status ok in every DIR/results*.jsonl (all shards' files). */
qr_status sweep_load_done(const char *dir, char (**ids)[QR_SWEEP_ID_LEN + 1], size_t *n,
                          qr_error *err);
int sweep_id_in(const char (*ids)[QR_SWEEP_ID_LEN + 1], size_t n, const char *id);
/* --dry-run: list the selected points and check their configs; the exit status. */
int sweep_dry_run(sweep_run *R, const unsigned char *sel,
                  const char (*done)[QR_SWEEP_ID_LEN + 1], size_t n_done);

/* ---- cmd_sweep_run.c: one run ------------------------------------------------------------ */
/* DIR/runs/<id>, malloc'd */
char *sweep_run_dir(const sweep_run *R, const qr_sweep_point *p);
/* The last non-empty line of a file (without "qreg train: "), malloc'd, or NULL. */
char *sweep_last_line(const char *path);
/* Start `argv` (this program) as a child in its own process group, stdout and stderr to
 * files, stdin from /dev/null. */
qr_status sweep_spawn(const sweep_run *R, char *const argv[], const char *out, const char *errp,
                      const sigset_t *orig, pid_t *pid_out, qr_error *err);
/* A finished run's row: written by rank 0, sent to rank 0 by the others. */
qr_status sweep_emit_row(sweep_run *R, size_t k, const qr_sweep_row *r, qr_error *err);
/* Start point `k` as a child process; a config error is recorded at once. */
qr_status sweep_start_run(sweep_run *R, size_t k, const sigset_t *orig, qr_error *err);
/* A training run ended with wait status `status`: make its row. Returns 0 when there is no
 * row (the run was stopped by our signal and will be resumed), -1 when out of memory. */
int sweep_finish_run(sweep_run *R, const job *j, int status, qr_sweep_row *r);

/* ---- cmd_sweep_int.c: the integer model ---------------------------------------------------- */
/* Start the job's next phase (integer evaluation, export); 1 when a process was started. */
int sweep_start_eval(sweep_run *R, job *j, const sigset_t *orig);
/* An evaluation or export ended: its result goes into the job's row. */
void sweep_finish_eval(sweep_run *R, const job *j, int status);

/* ---- cmd_sweep_pool.c: the pool ---------------------------------------------------------- */
/* The self-pipe signals wake the pool through. */
qr_status sweep_wake_open(qr_error *err);
void sweep_wake_close(void);
/* Run the pending points (indices into R->sw.points) with SIGINT and SIGTERM passed on to the
 * runs; returns when every child is reaped. */
qr_status sweep_pool(sweep_run *R, const size_t *pending, size_t n_pending, qr_error *err);

/* ---- cmd_sweep_mpi.c: MPI ranks -------------------------------------------------------------- */
/* MPI: every rank says whether its setup worked; all go on only when all did. */
int sweep_agree(const sweep_run *R, int ok);
#ifdef QR_HAVE_MPI
/* Rank 0: answer requests for work, record the other ranks' rows, count the ranks done. */
qr_status sweep_serve_ranks(sweep_run *R, const size_t *pending, size_t n_pending, size_t *next,
                            int *done_ranks, qr_error *err);
#endif

#endif
