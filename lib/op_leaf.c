/* Leaves: inputs (fed by the caller) and parameters (in the arena). No forward/backward. */
#include "ops.h"

static qr_status leaf_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    (void)n;  /* fixed at creation; the batch of inputs is set by qr_graph_set_batch */
    return QR_OK;
}

const qr_op_def qr_opdef_input = {.name = "input", .shape = leaf_shape};
const qr_op_def qr_opdef_param = {.name = "param", .shape = leaf_shape};
