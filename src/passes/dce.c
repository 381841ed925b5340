/* Dead code elimination: ops whose values reach neither the output nor
 * another live op are removed.  Declarations of the input and parameters
 * stay (the caller binds parameters by name); unused constants go. */
#include <stdlib.h>

#include "passes/passes.h"

actjit_status pass_dce(actjit_graph *g, const pass_options *o) {
  bool *live = calloc((size_t)g->n, sizeof *live);
  if (!live) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  ir_mark_live(g, live);
  for (int i = g->n - 1; i >= 0; i--) {
    bool kept = g->nodes[i].op == OP_INPUT || g->nodes[i].op == OP_PARAM;
    if (!live[i] && !kept) {
      ir_remove(g, i);
      /* Keep `live` aligned with the renumbered nodes. */
      for (int j = i; j < g->n; j++) live[j] = live[j + 1];
    }
  }
  free(live);
  return ACTJIT_OK;
}
