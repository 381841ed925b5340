/* Fusion groups: the ops that run as one kernel, the grammar a group
 * follows, and where each operand's elements sit in the loop over its
 * output.  The verifier, the fusion passes, the memory planner and codegen
 * all take a group's shape from here. */
#ifndef ACTJIT_GROUP_H
#define ACTJIT_GROUP_H

#include "ir/ir.h"

enum {
  GROUP_MAX = 32,    /* ops in one kernel */
  GROUP_MAX_INS = 8, /* tensors one kernel reads (parameters and constants aside) */
};
/* Largest row a linear may normalize with a fused softmax. */
#define ROW_SOFTMAX_MAX 64

/* The kernel a group makes.  Its members have the shape of its value (the
 * last member), and every member but the last is used only inside it. */
typedef enum kernel_form {
  KF_ELTWISE,        /* elementwise ops: one loop over the value's elements */
  KF_LINEAR,         /* a linear, the elementwise ops on its outputs applied in registers (the epilogue) */
  KF_DUAL_LINEAR,    /* two linears of one input (SwiGLU's gate and up), one epilogue over both */
  KF_LINEAR_SOFTMAX, /* a linear, an epilogue, then a softmax of each row in registers */
  KF_SOFTMAX,        /* elementwise ops applied as a softmax loads its input (the prologue), then the softmax */
  KF_GLU,            /* glu alone */
  KF_TRANSPOSE,      /* transpose alone: a copy */
  KF_MATMUL,         /* matmul alone */
  KF_INVALID,        /* anything else: no kernel runs it */
} kernel_form;

typedef struct group {
  int n, m[GROUP_MAX];          /* members in dataflow order; m[n - 1] is the group's value */
  int nins, ins[GROUP_MAX_INS]; /* the tensors members read from outside: the input, other
                                   kernels' values, views of them (not parameters, constants) */
  kernel_form form;
} group;

/* The group of node v (v alone when it has none).  False if it has more than
 * GROUP_MAX members or reads more than GROUP_MAX_INS tensors.  uses: every
 * node's ir_uses (ir_use_counts), which the grammar asks about: a group
 * costs its own size, not the graph's. */
bool group_of(const actjit_graph *g, const int *uses, int v, group *out);
/* The same for the members m[0..n) (dataflow order). */
bool group_make(const actjit_graph *g, const int *uses, const int *m, int n, group *out);
/* The form of members m[0..n) (dataflow order), KF_INVALID unless they
 * follow the grammar above. */
kernel_form group_form(const actjit_graph *g, const int *uses, const int *m, int n);
/* Whether a kernel of form f runs a linear layer (and so has a GEMM and an
 * epilogue). */
bool form_has_linear(kernel_form f);
/* Checks every group of a graph (parsed `fuse { }` blocks); sets the error. */
actjit_status group_verify(actjit_graph *g);

/* ---- loop spaces: where the operands of a group's ops find the element
 * for each element of the result.  Binary ops align trailing dims (NumPy);
 * prelu's weight is one per channel of dim 1. */
enum { SPACE_MAX_OPERANDS = 2 * GROUP_MAX };
typedef struct loop_space {
  int rank;                         /* the result's dims, merged where possible */
  extent dim[ACTJIT_MAX_RANK];
  int nops;
  int64_t stride[SPACE_MAX_OPERANDS][ACTJIT_MAX_RANK]; /* elements; 0 where broadcast */
} loop_space;

/* The space of a result of shape out, with no operand yet. */
void space_init(loop_space *sp, const shape *out);
/* Adds operand k of op nd (whose result has the space's shape), returns its
 * index in the space; -1 if the space is full. */
int space_add(loop_space *sp, const actjit_graph *g, const node *nd, int k);
/* Merges adjacent dims in [lo, hi) across which every operand is contiguous
 * or broadcast, and dims of extent 1 into a neighbour; the dims after hi
 * move down.  Returns how many dims [lo, hi) became (at least 1). */
int space_merge(loop_space *sp, int lo, int hi);

#endif
