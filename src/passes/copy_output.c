/* Output copy: when the output is the input itself or a view of it (a lone
 * flatten, or ops that other passes removed), no kernel would write the
 * caller's output buffer; an identity copies the data there.  Runs last, in
 * fused and unfused compiles alike. */
#include "passes/passes.h"

actjit_status pass_copy_output(actjit_graph *g, const pass_options *o) {
  if (ir_view_root(g, g->output) != g->input) return ACTJIT_OK;
  int v = -1;
  actjit_status st = ir_add(g, OP_IDENTITY, NULL, &g->output, 1, NULL, NULL, NULL, 0, 0, &v);
  if (!st) g->output = v;
  return st;
}
