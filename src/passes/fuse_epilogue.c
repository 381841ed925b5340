/* Epilogue fusion: a linear whose outputs only an elementwise group uses is
 * joined to it, the group applied to each output while it is still in
 * registers, before the store; two linears of one input that feed the same
 * group (SwiGLU's gate and up projections) both join it, and one kernel
 * keeps both accumulators.  It runs before prologue fusion into softmax, so
 * a chain between a linear and a softmax joins the linear: computed once
 * there rather than in both softmax sweeps. */
#include <stdlib.h>

#include "passes/passes.h"

actjit_status pass_fuse_epilogue(actjit_graph *g, const pass_options *o) {
  int *uses = ir_use_counts(g);
  if (!uses) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int p = 0; p < g->n; p++) {
    if (op_table[g->nodes[p].op].kind != K_LINEAR) continue;
    int c = fusion_sole_user(g, p);
    if (c >= 0 && op_table[g->nodes[c].op].kind == K_ELTWISE && fusion_legal(g, uses, p, c)) fusion_merge(g, p, c);
  }
  free(uses);
  return ACTJIT_OK;
}
