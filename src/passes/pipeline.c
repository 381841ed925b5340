/* The pass pipeline: runs the passes in order and prints the IR after each
 * (the `passes` dump), as QBE's main.c does. */
#include "../print.h"
#include "passes.h"

static const pass fusion_passes[] = {
    {"dce", pass_dce},
    {"dropout_elim", pass_dropout_elim},
    {"fuse_elementwise", pass_fuse_elementwise},
    {"fuse_epilogue", pass_fuse_epilogue},
    {"fuse_softmax", pass_fuse_softmax},
};

actjit_status run_passes(actjit_graph *g, const pass_options *o, bool fuse, strbuf *dump) {
  sb_printf(dump, "# IR after verify\n");
  print_graph(dump, g);
  for (size_t i = 0; fuse && i < sizeof fusion_passes / sizeof *fusion_passes; i++) {
    actjit_status st = fusion_passes[i].run(g, o);
    if (st) return st;
    sb_printf(dump, "\n# IR after %s\n", fusion_passes[i].name);
    print_graph(dump, g);
  }
  actjit_status st = pass_value_range(g, o);
  if (st) return st;
  sb_printf(dump, "\n# IR after value_range\n");
  print_graph_ranges(dump, g);
  return ACTJIT_OK;
}
