/* The scalar definition of each elementwise op (scalar.c). */
#ifndef ACTJIT_SCALAR_H
#define ACTJIT_SCALAR_H

#include "ir/ops.h"

/* y = f(x) for one element of an elementwise op; w is its second operand's
 * element (prelu's weight for that channel, or b of a binary op), ignored
 * by unary ops. */
float scalar_eltwise(op_id op, const double *attr, float x, float w);
/* 1/(1 + e^-v) with PyTorch's float overflow: 0 once e^-v is +Inf in float. */
double scalar_sigmoid(double v);

#endif
