/* The passes, run in this order by the compile driver; each is a function
 * from IR to IR, and the IR is printed after each one for the dumps:
 *
 *   dce               ops nothing uses are removed
 *   dropout_elim      inference: dropout and identity forward their operand
 *   fuse_elementwise  maximal chains of elementwise ops become one group
 *   fuse_epilogue     a linear absorbs the elementwise group it feeds
 *   fuse_softmax      a softmax joins the group feeding it: as the prologue
 *                     of an elementwise group, or to finish a linear whose
 *                     output row fits in registers
 *   copy_output       an output that is the input (seen through views) gets
 *                     a copy into the caller's output buffer
 *   value_range       an interval for every value (run with or without
 *                     fusion, so both pick the same formulas)
 *   plan_memory       (plan.c) buffers by liveness, in place where dead
 *
 * Which fusions are legal is decided in one place, fusion.c. */
#ifndef ACTJIT_PASSES_H
#define ACTJIT_PASSES_H

#include "../ir.h"

typedef struct pass_options {
  bool training; /* dropout is live: keep it */
} pass_options;

typedef actjit_status (*pass_fn)(actjit_graph *g, const pass_options *o);
typedef struct pass {
  const char *name;
  pass_fn run;
  bool fusion_only; /* skipped by the unfused baseline */
} pass;

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
#define GROUP_MAX 16
/* Largest row a linear may normalize with a fused softmax. */
#define ROW_SOFTMAX_MAX 64
/* Nodes of v's group (v alone if it has none) in dataflow order. */
int group_members(const actjit_graph *g, int v, int out[GROUP_MAX]);
/* May the group of `producer` and the group of its consumer `consumer` run
 * as one kernel?  Only if the producer's value is used by nothing else and
 * the merged group is `linear eltwise* softmax?` (softmax over the last dim
 * of at most ROW_SOFTMAX_MAX features), `eltwise* softmax` or `eltwise+`. */
bool fusion_legal(const actjit_graph *g, int producer, int consumer);
/* The kernel a node or fusion group m[0..n) (in dataflow order) makes: the
 * group grammar, which the verifier, the planner and codegen share. */
typedef enum kernel_form {
  KF_ELTWISE,        /* eltwise+: one loop */
  KF_LINEAR,         /* linear eltwise*: the chain as the linear's epilogue */
  KF_LINEAR_SOFTMAX, /* linear eltwise* softmax: each row normalized in registers */
  KF_SOFTMAX,        /* eltwise* softmax|softmin|log_softmax: the chain as a prologue */
  KF_GLU,            /* glu alone */
  KF_INVALID,        /* anything else: no kernel can run it */
} kernel_form;
kernel_form kernel_form_of(const actjit_graph *g, const int *m, int n);
/* Merges the two groups (fusion_legal must hold). */
void fusion_merge(actjit_graph *g, int producer, int consumer);
/* Checks every group of a (parsed) graph; sets the error. */
actjit_status fusion_verify(actjit_graph *g);

#endif
