/* Softmax fusion.  The elementwise group feeding a softmax is applied to
 * values as the softmax loads them (a prologue), so its result is never
 * stored; and a linear whose row of outputs fits in registers normalizes
 * the row there, so its logits are never stored either. */
#include <stdlib.h>

#include "passes/passes.h"

actjit_status pass_fuse_softmax(actjit_graph *g, const pass_options *o) {
  int *uses = ir_use_counts(g);
  if (!uses) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int c = 0; c < g->n; c++) {
    if (op_table[g->nodes[c].op].kind != K_SOFTMAX) continue;
    int p = g->nodes[c].args[0];
    if (fusion_sole_user(g, p) == c && fusion_legal(g, uses, p, c)) fusion_merge(g, p, c);
  }
  free(uses);
  return ACTJIT_OK;
}
