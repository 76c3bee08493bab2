/* qreg sweep: distributing the points over MPI ranks (a --with-mpi build). */
#include <stdlib.h>
#include <string.h>
#ifdef QR_HAVE_MPI
#include <mpi.h>
#endif
#include "cmd_sweep.h"

#ifdef QR_HAVE_MPI
/* Rank 0: answer requests for work (TAG_REQUEST -> TAG_WORK with a point index, -1 for no
 * more), record the rows the other ranks send (TAG_ROW, a JSON line) and count the ranks
 * that are done (TAG_DONE) in *done_ranks. */
qr_status sweep_serve_ranks(sweep_run *R, const size_t *pending, size_t n_pending,
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
                    s = sweep_record_row(R, &r, err);
                    if (s == QR_OK)
                        sweep_progress_line(R, &R->sw.points[k], &r, st.MPI_SOURCE);
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
int sweep_agree(const sweep_run *R, int ok)
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
