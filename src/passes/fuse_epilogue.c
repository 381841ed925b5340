/* Epilogue fusion: the elementwise group after a linear is applied to each
 * output while it is still in registers, before the store.  It runs before
 * prologue fusion into softmax, so a chain between a linear and a softmax
 * joins the linear: computed once there rather than in both softmax sweeps. */
#include "passes.h"

actjit_status pass_fuse_epilogue(actjit_graph *g, const pass_options *o) {
  for (int c = 0; c < g->n; c++) {
    int p = g->nodes[c].nargs ? g->nodes[c].args[0] : -1;
    if (p >= 0 && op_table[g->nodes[p].op].kind == K_LINEAR && op_table[g->nodes[c].op].kind == K_ELTWISE &&
        fusion_legal(g, p, c))
      fusion_merge(g, p, c);
  }
  return ACTJIT_OK;
}
