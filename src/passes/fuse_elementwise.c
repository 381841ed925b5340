/* Elementwise fusion: each maximal chain of elementwise ops becomes one
 * group, one loop that reads its input once and writes once. */
#include "passes.h"

actjit_status pass_fuse_elementwise(actjit_graph *g, const pass_options *o) {
  for (int c = 0; c < g->n; c++) {
    const node *nd = &g->nodes[c];
    if (op_table[nd->op].kind != K_ELTWISE) continue;
    int p = nd->args[0];
    if (op_table[g->nodes[p].op].kind == K_ELTWISE && fusion_legal(g, p, c)) fusion_merge(g, p, c);
  }
  return ACTJIT_OK;
}
