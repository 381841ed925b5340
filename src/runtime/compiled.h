/* A compiled pipeline: the part of a kernel that kernels compiled alike
 * share (the code, the plan and what binding and running need), immutable
 * once made and reference counted by the kernels using it (cache.c).  What
 * is each kernel's own (bound parameters, scratch, seed, parallel-for) is
 * in struct actjit_kernel (kernel.c).  Nothing here points at a context:
 * each kernel reports to its own. */
#ifndef ACTJIT_COMPILED_H
#define ACTJIT_COMPILED_H

#include "codegen/codegen.h"
#include "jit/jit.h"
#include "plan/plan.h"

enum { CACHE_KEY_BYTES = 32 }; /* SHA-256 */

/* A parameter as a kernel binds it. */
typedef struct rt_param {
  char *name;
  shape shape;
  int linears; /* 0: copied as is; 1 or 2: a linear's weight, packed (cg_pack_weight) */
} rt_param;

/* The options that change the code or the plan (the target aside). */
typedef struct compiled_options {
  int opt_level;
  bool fuse, training, donate_input, canonicalize, depth_first;
} compiled_options;

typedef struct compiled {
  unsigned char key[CACHE_KEY_BYTES];
  int refs;            /* kernels using it; changed under the cache's lock */
  bool in_table;       /* in the process's table (cache.c) */
  struct compiled *next; /* the table's list */
  /* What it was compiled from and for. */
  target_desc target;
  compiled_options opts;
  char *file;          /* the graph's file, labelling messages; "" when built */
  char *source;        /* the IR given (actjit_graph_print), the key's; NULL without the cache */
  actjit_graph *g;     /* the graph after the passes (no context), or NULL when read from the disk cache */
  char *ir_dump, *passes_dump;
  /* What running needs. */
  plan plan;           /* read from the disk cache: each step's buffers and nins, no members */
  slicing *slicing;
  int64_t *panels;     /* each kernel's weight panels (cg_linear_panels) */
  int nparams;
  rt_param *params;    /* in declaration order, as the entry takes them */
  shape in_shape, out_shape;
  char **step_names;   /* "linear %fc1 | relu %act" */
  jit_session jit;
  cg_entry_fn entry;
  cg_kernel_fn *steps; /* each kernel of the plan, for profiling and slices */
} compiled;

void compiled_free(compiled *c);

#endif
