/* Dropout elimination: in inference mode dropout is the identity, as is
 * identity itself; both forward their operand and disappear. */
#include "passes.h"

actjit_status pass_dropout_elim(actjit_graph *g, const pass_options *o) {
  for (int i = g->n - 1; i >= 0; i--) {
    const node *nd = &g->nodes[i];
    bool dead = nd->op == OP_IDENTITY || (nd->op == OP_DROPOUT && !o->training);
    /* Keep one if the output would become the input itself: something must
     * copy the data to the caller's output. */
    if (!dead || (g->output == i && ir_view_root(g, nd->args[0]) == g->input)) continue;
    ir_replace_uses(g, i, nd->args[0]);
    ir_remove(g, i);
  }
  return ACTJIT_OK;
}
