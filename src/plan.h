/* The execution plan: the kernels to run in order and the buffers they read
 * and write.  Scratch offsets and sizes are affine in the batch so one plan
 * serves every batch size. */
#ifndef ACTJIT_PLAN_H
#define ACTJIT_PLAN_H

#include "ir.h"

typedef enum buf_kind { BUF_INPUT, BUF_OUTPUT, BUF_SCRATCH } buf_kind;

/* Where a kernel reads or writes: the caller's input or output, or scratch at
 * offset off.mul * (off.dyn ? batch : 1) + off_static floats. */
typedef struct buffer {
  buf_kind kind;
  int64_t off_dyn, off_static; /* scratch offset = off_dyn * batch + off_static */
  extent size;                 /* in floats */
} buffer;

typedef struct step {
  int node;        /* the op this kernel computes */
  buffer in, out;
} step;

typedef struct plan {
  step *steps;
  int n;
  int64_t scratch_dyn, scratch_static; /* scratch floats: dyn * batch + static */
} plan;

/* One kernel per op, each writing a buffer of its own: the unfused baseline.
 * Views (flatten) alias their operand and get no kernel. */
actjit_status plan_unfused(const actjit_graph *g, plan *p);
void plan_free(plan *p);
/* The memory plan as text, for the dumps. */
struct strbuf;
void plan_print(struct strbuf *sb, const actjit_graph *g, const plan *p);

#endif
