/* The op table, keyed by enum qr_op. Adding an op: a value in qr_op (graph.h), a
 * qr_opdef_* in its file, one line here. */
#include "ops.h"

const qr_op_def *const qr_op_table[QR_OP_COUNT] = {
    [QR_OP_INPUT] = &qr_opdef_input,
    [QR_OP_PARAM] = &qr_opdef_param,
    [QR_OP_MATMUL] = &qr_opdef_matmul,
    [QR_OP_ADD] = &qr_opdef_add,
    [QR_OP_SUB] = &qr_opdef_sub,
    [QR_OP_MUL] = &qr_opdef_mul,
    [QR_OP_SCALE] = &qr_opdef_scale,
    [QR_OP_SUM] = &qr_opdef_sum,
    [QR_OP_MEAN] = &qr_opdef_mean,
    [QR_OP_RESHAPE] = &qr_opdef_reshape,
    [QR_OP_TRANSPOSE] = &qr_opdef_transpose,
    [QR_OP_SLICE] = &qr_opdef_slice,
    [QR_OP_CONCAT] = &qr_opdef_concat,
    [QR_OP_RELU] = &qr_opdef_relu,
    [QR_OP_PRELU] = &qr_opdef_prelu,
    [QR_OP_SIGMOID] = &qr_opdef_sigmoid,
    [QR_OP_TANH] = &qr_opdef_tanh,
    [QR_OP_SOFTMAX_CE] = &qr_opdef_softmax_ce,
    [QR_OP_MSE] = &qr_opdef_mse,
    [QR_OP_KD] = &qr_opdef_kd,
    [QR_OP_CONV1D] = &qr_opdef_conv1d,
    [QR_OP_BATCHNORM] = &qr_opdef_batchnorm,
    [QR_OP_DROPOUT] = &qr_opdef_dropout,
    [QR_OP_SPATIAL_DROPOUT] = &qr_opdef_spatial_dropout,
    [QR_OP_GAP1D] = &qr_opdef_gap1d,
    [QR_OP_MAXPOOL1D] = &qr_opdef_maxpool1d,
    [QR_OP_GRU] = &qr_opdef_gru,
    [QR_OP_FAKE_QUANT] = &qr_opdef_fake_quant,
};

/* The table is sized by QR_OP_COUNT; test_op_names fails on any hole. */

QR_API const char *qr_op_name(qr_op op)
{
    if ((int)op < 0 || op >= QR_OP_COUNT || !qr_op_table[op])
        return NULL;
    return qr_op_table[op]->name;
}
