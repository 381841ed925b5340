/* The execution plan: the kernels to run in order and the buffers they read
 * and write.  Scratch offsets and sizes are affine in the batch so one plan
 * serves every batch size. */
#ifndef ACTJIT_PLAN_H
#define ACTJIT_PLAN_H

#include "ir/group.h"

typedef enum buf_kind { BUF_INPUT, BUF_OUTPUT, BUF_SCRATCH, BUF_BLOCK } buf_kind;

/* The caller's input or output, or scratch at off_dyn * batch + off_static
 * floats, or (BUF_BLOCK) a buffer of a depth-first run's block of rows, at
 * off_static floats a row into the running task's block area (times
 * plan_block_rows). */
typedef struct buffer {
  buf_kind kind;
  int id;                      /* scratch buffer number, for the dump */
  int64_t off_dyn, off_static;
  extent size;                 /* in floats */
} buffer;

/* One kernel: a node, or a fusion group: what it reads and writes. */
typedef struct step {
  group grp;
  buffer in[GROUP_MAX_INS]; /* the buffer of each grp.ins[j] */
  buffer out;               /* of its value, grp.m[grp.n - 1] */
} step;

/* Depth-first: kernels [first, last] run a block of block_rows batch rows
 * at a time through them all, the values only they read held in BUF_BLOCK
 * buffers of that many rows (L2-sized), so what passes between the layers
 * stays in cache and takes memory for a block, not for the batch. */
typedef struct block_run {
  int first, last;
} block_run;

typedef struct plan {
  step *steps;
  int n;
  int64_t scratch_dyn, scratch_static; /* scratch floats: dyn * batch + static */
  block_run *runs;
  int nruns;
  int64_t block_rows;       /* rows of a block (a multiple of 16) */
  int64_t block_row_floats; /* floats a row of the BUF_BLOCK buffers take */
} plan;

typedef struct plan_options {
  bool reuse;        /* fused plan: in place where the operand is dead, and
                        reuse freed buffers; else one buffer per kernel */
  bool donate_input; /* the caller's input may be overwritten */
  int64_t block_bytes; /* depth-first runs with blocks of about this many bytes
                          of intermediates, of layers whose weights take at
                          most twice that (a share of L2); 0: none */
} plan_options;

/* Do a and b name the same memory? */
bool buffer_same(const buffer *a, const buffer *b);
/* Does the kernel write over one of the tensors it reads? */
bool step_in_place(const step *s);
/* Rows each task's block buffers hold at this batch: a block's, or, for a
 * batch of one block, the batch's, up to a multiple of 16 (every buffer
 * stays 64-byte aligned), so that a small batch takes a small area. */
int64_t plan_block_rows(const plan *p, int64_t batch);
/* Views (flatten) alias their operand and get no kernel. */
actjit_status plan_memory(const actjit_graph *g, const plan_options *o, plan *p);
void plan_free(plan *p);
/* Can the kernel run on slices of the batch rows alone? */
bool group_by_rows(const actjit_graph *g, const group *gr);
/* How a kernel may be split along the batch: by_rows, each slice of rows
 * runs alone, reading from row r at r·row_in[j] floats into input j (0: not
 * batched, read whole by every slice) and writing at r·row_out. */
typedef struct slicing {
  bool by_rows;
  int64_t row_in[GROUP_MAX_INS], row_out;
} slicing;
/* out[i] for each kernel i of p. */
void plan_slicing(const actjit_graph *g, const plan *p, slicing *out);

/* The memory plan as comment lines, for the dumps. */
struct strbuf;
void plan_print(struct strbuf *sb, const actjit_graph *g, const plan *p);

#endif
