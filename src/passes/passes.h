/* The passes, run in this order by the compile driver; each is a function
 * from IR to IR, and the IR is printed after each one for the dumps:
 *
 *   canonicalize      idioms written in primitives become the high-level
 *                     ops: x·sigmoid(x) is silu, the exported GELU gelu...
 *   dce               ops nothing uses are removed
 *   dropout_elim      inference: dropout and identity forward their operand
 *   fuse_elementwise  each connected region of elementwise ops whose values
 *                     are used only inside it becomes one group
 *   fuse_epilogue     a linear (or two of one input) absorbs the elementwise
 *                     group it feeds
 *   fuse_softmax      a softmax joins the group feeding it: as the prologue
 *                     of an elementwise group, or to finish a linear whose
 *                     output row fits in registers
 *   copy_output       an output that is the input (seen through views) gets
 *                     a copy into the caller's output buffer
 *   value_range       an interval for every value (run with or without
 *                     fusion, so both pick the same formulas)
 *   plan_memory       (plan.c) buffers by liveness, in place where dead
 *
 * Which fusions are legal is decided in one place, fusion.c, after the
 * grammar of a kernel in group.c. */
#ifndef ACTJIT_PASSES_H
#define ACTJIT_PASSES_H

#include "ir/group.h"

typedef struct pass_options {
  bool training;     /* dropout is live: keep it */
  bool canonicalize; /* run the canonicalize pass */
} pass_options;

typedef actjit_status (*pass_fn)(actjit_graph *g, const pass_options *o);
typedef struct pass {
  const char *name;
  pass_fn run;
  bool fusion_only; /* skipped by the unfused baseline */
} pass;

actjit_status pass_canonicalize(actjit_graph *g, const pass_options *o);
actjit_status pass_dce(actjit_graph *g, const pass_options *o);
actjit_status pass_dropout_elim(actjit_graph *g, const pass_options *o);
actjit_status pass_fuse_elementwise(actjit_graph *g, const pass_options *o);
actjit_status pass_fuse_epilogue(actjit_graph *g, const pass_options *o);
actjit_status pass_fuse_softmax(actjit_graph *g, const pass_options *o);
actjit_status pass_copy_output(actjit_graph *g, const pass_options *o);
actjit_status pass_value_range(actjit_graph *g, const pass_options *o);

struct strbuf;
/* Runs the passes (the fusion passes only when fuse; without, the graph's
 * fusion groups are dropped), then value_range, and appends the IR after
 * each to dump. */
actjit_status run_passes(actjit_graph *g, const pass_options *o, bool fuse, struct strbuf *dump);

/* ---- fusion.c: legality and group bookkeeping */
/* May the group of `producer` (whose value it must be) and the group of
 * `consumer` run as one kernel?  Only if every use of the producer's value
 * is in the merged group and that follows the grammar (group.h).  uses:
 * ir_use_counts(g), which merging groups leaves as it is. */
bool fusion_legal(const actjit_graph *g, const int *uses, int producer, int consumer);
/* May the ungrouped ops m[0..n) (dataflow order) run as one kernel? */
bool fusion_legal_set(const actjit_graph *g, const int *uses, const int *m, int n);
/* Merges the two groups (fusion_legal must hold). */
void fusion_merge(actjit_graph *g, int producer, int consumer);
/* A user of v when all of v's users are one node or in one group, else -1
 * (v the output counts as a user outside any group). */
int fusion_sole_user(const actjit_graph *g, int v);

#endif
