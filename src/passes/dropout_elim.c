/* Dropout elimination: in inference mode dropout is the identity, as is
 * identity itself; both forward their operand and disappear (copy_output
 * restores a copy if the output becomes the input). */
#include "passes/passes.h"

actjit_status pass_dropout_elim(actjit_graph *g, const pass_options *o) {
  for (int i = g->n - 1; i >= 0; i--) {
    const node *nd = &g->nodes[i];
    if (nd->op != OP_IDENTITY && (nd->op != OP_DROPOUT || o->training)) continue;
    ir_replace_uses(g, i, nd->args[0]);
    ir_remove(g, i);
  }
  return ACTJIT_OK;
}
