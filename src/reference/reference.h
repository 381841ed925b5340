/* The scalar reference evaluator: plain C, float64 arithmetic rounded to
 * float at each op's output.  The oracle for tests and the benchmark's
 * baseline; independent of codegen. */
#ifndef ACTJIT_REFERENCE_H
#define ACTJIT_REFERENCE_H

#include "ir/ir.h"
#include "ir/scalar.h"


/* Runs the path from g's input to its output.  params[i] is the data of the
 * i-th parameter in declaration order.  Returns ACTJIT_ERR_NOMEM if scratch
 * cannot be allocated. */
actjit_status ref_run(const actjit_graph *g, const float *const *params,
                      const float *in, int64_t batch, float *out);

/* Training-mode options of ref_run_opts. */
typedef struct ref_options {
  bool training;  /* dropout is live: src/philox.h's mask, keyed by seed */
  uint64_t seed;
} ref_options;
/* ref_run with options; o == NULL is inference (ref_run itself). */
actjit_status ref_run_opts(const actjit_graph *g, const float *const *params,
                           const float *in, int64_t batch, float *out,
                           const ref_options *o);

#endif
