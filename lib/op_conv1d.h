/* Internal knobs of the Conv1D op (lib/op_conv1d.c), for tests and benchmarks only. */
#ifndef QREG_OP_CONV1D_H
#define QREG_OP_CONV1D_H

#include <stddef.h>

/* Default limit on the im2col matrix a Conv1D node keeps from forward to backward. */
#define QR_CONV1D_KEEP_COL_BYTES ((size_t)64 << 20)

/* Conv1D nodes whose im2col matrix (B_max · T_out, k · Cin) floats takes at most `bytes`
 * keep it in their aux buffer; larger ones recompute it in backward. Read by
 * qr_graph_compile (the choice is fixed per node there), so set it before compiling.
 * Process-wide and not thread-safe: a test hook, not an API. Returns the previous limit. */
size_t qr_conv1d_set_keep_limit(size_t bytes);

#endif
