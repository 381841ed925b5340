/* The scalar reference evaluator: plain C, float64 arithmetic rounded to
 * float at each op's output.  The oracle for tests and the benchmark's
 * baseline; independent of codegen. */
#ifndef ACTJIT_REFERENCE_H
#define ACTJIT_REFERENCE_H

#include "ir.h"

/* y = f(x) for one element of an elementwise op; w is the op's per-channel
 * weight for that element (prelu), ignored otherwise. */
float ref_eltwise(op_id op, const double *attr, float x, float w);

/* Runs the path from g's input to its output.  params[i] is the data of the
 * i-th parameter in declaration order.  Returns ACTJIT_ERR_NOMEM if scratch
 * cannot be allocated. */
actjit_status ref_run(const actjit_graph *g, const float *const *params,
                      const float *in, int64_t batch, float *out);

#endif
