/* Elementwise fusion: each connected region of elementwise ops whose values
 * are used only inside it becomes one group, one loop that computes every
 * value once, in registers, reads each input once and writes its last
 * value once.  Walking backwards, an op joins the group of its users when
 * they are all in one; walking again until nothing joins, since a group
 * may read too many tensors for an op to join it only until the ops that
 * compute them have joined. */
#include "passes/passes.h"

actjit_status pass_fuse_elementwise(actjit_graph *g, const pass_options *o) {
  for (bool joined = true; joined;) {
    joined = false;
    for (int p = g->n - 1; p >= 0; p--) {
      if (op_table[g->nodes[p].op].kind != K_ELTWISE) continue;
      int c = fusion_sole_user(g, p);
      if (c >= 0 && op_table[g->nodes[c].op].kind == K_ELTWISE && fusion_legal(g, p, c)) {
        fusion_merge(g, p, c);
        joined = true;
      }
    }
  }
  return ACTJIT_OK;
}
