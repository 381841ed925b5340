/* Batch slicing: which kernels of a plan may run on slices of the batch,
 * and where each slice's rows start in their inputs and output. */
#include "plan/plan.h"

/* Whether node nd combines values of different batch rows: a softmax-like
 * op or GLU along dim 0 of a batched value, or a linear whose only axis is
 * the batch. */
static bool mixes_rows(const actjit_graph *g, const node *nd) {
  const shape *x = &g->nodes[nd->args[0]].shape;
  if (!x->dyn) return false;
  switch (op_table[nd->op].kind) {
  case K_SOFTMAX:
  case K_GLU: return dim_index(nd->attr[0], x->rank) == 0;
  case K_LINEAR: return x->rank == 1;
  /* (a transpose keeps the batch dim 0; a matmul's batch leads its operand
   * and its result, the weight broadcast along it) */
  case K_ELTWISE: case K_VIEW: case K_TRANSPOSE: case K_MATMUL: case K_SOURCE: return false;
  }
  return false;
}

bool group_by_rows(const actjit_graph *g, const group *gr) {
  bool ok = shape_numel(&g->nodes[gr->m[gr->n - 1]].shape).dyn;
  for (int j = 0; ok && j < gr->n; j++) ok = !mixes_rows(g, &g->nodes[gr->m[j]]);
  return ok;
}

void plan_slicing(const actjit_graph *g, const plan *p, slicing *out) {
  for (int i = 0; i < p->n; i++) {
    const group *gr = &p->steps[i].grp;
    slicing *sl = &out[i];
    sl->by_rows = group_by_rows(g, gr);
    sl->row_out = shape_numel(&g->nodes[gr->m[gr->n - 1]].shape).mul;
    for (int j = 0; j < gr->nins; j++) {
      extent in = shape_numel(&g->nodes[gr->ins[j]].shape);
      sl->row_in[j] = in.dyn ? in.mul : 0;
    }
  }
}
