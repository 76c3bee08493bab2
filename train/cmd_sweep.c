/* qreg sweep SWEEP.json: expand a sweep (sweep.h), run each point as a child `qreg train`
 * process, -j at a time, and append one result row per run to results.csv and results.jsonl.
 * Resumable (finished ids are skipped), shardable (--shard I/N) and, in a --with-mpi build,
 * distributed over MPI ranks (rank 0 hands out points and writes the files). This file: the
 * options, the setup and the summary; cmd_sweep.h names the other parts. */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef QR_HAVE_MPI
#include <mpi.h>
#endif
#include "cli.h"
#include "cmd_sweep.h"

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
    if (!out || (!dry && sweep_mkdir_p(out) != 0)) {
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
            dir = sweep_path_join(cwd, out);
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
    if ((s = sweep_load_done(dir, &done, &n_done, &err)))
        goto fail;
    /* no bar under mpirun: it gives the ranks a pseudo-terminal even when its output is a file */
    R.tty = isatty(STDOUT_FILENO) && R.ranks == 1 && !getenv("OMPI_COMM_WORLD_SIZE");
    if (dry) {
        if (R.rank == 0)
            rc = sweep_dry_run(&R, sel, (const char (*)[QR_SWEEP_ID_LEN + 1])done, n_done);
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
        if (sweep_id_in((const char (*)[QR_SWEEP_ID_LEN + 1])done, n_done, R.sw.points[k].id))
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
    R.csv_path = sweep_path_join(dir, csv_name);
    R.jsonl_path = sweep_path_join(dir, jsonl_name);
    csv_header = qr_sweep_csv_header(R.sw.columns, R.sw.n_columns);
    if (!R.csv_path || !R.jsonl_path || !csv_header) {
        s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (R.rank == 0 && ((s = sweep_open_results(R.csv_path, csv_header, &R.csv_fd, &err)) ||
                        (s = sweep_open_results(R.jsonl_path, NULL, &R.jsonl_fd, &err))))
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
    if ((s = sweep_wake_open(&err)))
        goto fail;
    synced = 1;
    if (!sweep_agree(&R, 1)) {
        s = qr_error_set(&err, QR_ERR_STATE, "another MPI rank failed to start");
        goto fail;
    }

    s = sweep_pool(&R, pending, n_pending, &err);

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
        sweep_fmt_duration(e, sizeof e, sweep_now() - R.t0);
        if (R.total == 0 && !s) {
            printf("nothing to run: every run of this sweep%s is done\n", shard_n ? " shard" : "");
        } else if (!quiet || s || R.n_failed || R.stopping) {
            printf("%zu runs finished in %s: %zu ok, %zu failed", R.finished, e, R.n_ok,
                   R.n_failed);
            if (R.stopping)
                printf("; %s (%zu stopped with a checkpoint, %zu not started): run the same "
                       "command to go on", s ? "stopped by an error" : "interrupted",
                       R.n_interrupted, R.total - R.finished - R.n_interrupted);
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
        sweep_agree(&R, 0);
    rc = 1;
done_all:
    sweep_wake_close();
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
