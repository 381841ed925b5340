/* Softmax fusion.  The elementwise group feeding a softmax is applied to
 * values as the softmax loads them (a prologue), so its result is never
 * stored; and a linear whose row of outputs fits in registers normalizes
 * the row there, so its logits are never stored either. */
#include "passes/passes.h"

actjit_status pass_fuse_softmax(actjit_graph *g, const pass_options *o) {
  for (int c = 0; c < g->n; c++) {
    if (op_table[g->nodes[c].op].kind != K_SOFTMAX) continue;
    int p = g->nodes[c].args[0];
    if (fusion_sole_user(g, p) == c && fusion_legal(g, p, c)) fusion_merge(g, p, c);
  }
  return ACTJIT_OK;
}
