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
  case K_ELTWISE: case K_VIEW: case K_SOURCE: return false;
  }
  return false;
}

void plan_slicing(const actjit_graph *g, const plan *p, slicing *out) {
  for (int i = 0; i < p->n; i++) {
    const group *gr = &p->steps[i].grp;
    slicing *sl = &out[i];
    extent y = shape_numel(&g->nodes[gr->m[gr->n - 1]].shape);
    sl->by_rows = y.dyn;
    sl->row_out = y.mul;
    for (int j = 0; j < gr->nins; j++) {
      extent in = shape_numel(&g->nodes[gr->ins[j]].shape);
      sl->row_in[j] = in.dyn ? in.mul : 0;
    }
    for (int j = 0; sl->by_rows && j < gr->n; j++) sl->by_rows = !mixes_rows(g, &g->nodes[gr->m[j]]);
  }
}
