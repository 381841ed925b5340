/* Dead code elimination: ops whose values reach neither the output nor
 * another live op are removed.  Every op then has exactly one consumer,
 * which is what lets the fusion passes merge whole chains.  Declarations
 * (input, parameters) stay: the caller binds parameters by name. */
#include <stdlib.h>

#include "passes.h"

actjit_status pass_dce(actjit_graph *g, const pass_options *o) {
  bool *live = calloc((size_t)g->n, sizeof *live);
  if (!live) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int v = g->output; v >= 0; v = g->nodes[v].nargs ? g->nodes[v].args[0] : -1) live[v] = true;
  for (int i = g->n - 1; i >= 0; i--) {
    bool source = op_table[g->nodes[i].op].kind == K_SOURCE;
    if (!live[i] && !source) {
      ir_remove(g, i);
      /* Keep `live` aligned with the renumbered nodes. */
      for (int j = i; j < g->n; j++) live[j] = live[j + 1];
    }
  }
  free(live);
  return ACTJIT_OK;
}
