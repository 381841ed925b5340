/* The pass pipeline: runs the passes in order and prints the IR after each
 * (the `passes` dump), as QBE's main.c does. */
#include "ir/print.h"
#include "passes/passes.h"

/* The fusion passes run only in a fused compile; the rest always, so that
 * fused and unfused plans agree on what they compute (canonicalize unless
 * turned off). */
static const pass passes[] = {
    {"canonicalize", pass_canonicalize, false},
    {"dce", pass_dce, true},
    {"dropout_elim", pass_dropout_elim, true},
    {"fuse_elementwise", pass_fuse_elementwise, true},
    {"fuse_epilogue", pass_fuse_epilogue, true},
    {"fuse_softmax", pass_fuse_softmax, true},
    {"copy_output", pass_copy_output, false},
};

actjit_status run_passes(actjit_graph *g, const pass_options *o, bool fuse, strbuf *dump) {
  /* The unfused baseline is one kernel per op: it ignores the text's groups. */
  for (int i = 0; !fuse && i < g->n; i++) g->nodes[i].group = 0;
  sb_printf(dump, "# IR after verify\n");
  print_graph(dump, g);
  for (size_t i = 0; i < sizeof passes / sizeof *passes; i++) {
    if ((passes[i].fusion_only && !fuse) || (passes[i].run == pass_canonicalize && !o->canonicalize)) continue;
    actjit_status st = passes[i].run(g, o);
    if (st) return st;
    sb_printf(dump, "\n# IR after %s\n", passes[i].name);
    print_graph(dump, g);
  }
  actjit_status st = pass_value_range(g, o);
  if (st) return st;
  sb_printf(dump, "\n# IR after value_range\n");
  print_graph_ranges(dump, g);
  return ACTJIT_OK;
}
