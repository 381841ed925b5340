/* Parameters as the kernels read them: a linear's weight packed in panels
 * for its kernel (linear.c), any other as given.  The JIT packs at bind,
 * an ahead-of-time object at generation; both through here. */
#include <string.h>

#include "codegen/codegen.h"

static bool is_linear_weight(const actjit_graph *g, int v) {
  for (int i = 0; i < g->n; i++)
    if (g->nodes[i].op == OP_LINEAR && g->nodes[i].args[1] == v) return true;
  return false;
}

/* Linears in the kernel that reads weight v: 2 in a KF_DUAL_LINEAR pair
 * (whose weights have no other use, group.c), else 1. */
static int weight_linears(const actjit_graph *g, const plan *p, int v) {
  for (int i = 0; i < p->n; i++) {
    const group *gr = &p->steps[i].grp;
    for (int j = 0; gr->form == KF_DUAL_LINEAR && j < gr->n; j++)
      if (g->nodes[gr->m[j]].op == OP_LINEAR && g->nodes[gr->m[j]].args[1] == v) return 2;
  }
  return 1;
}

int64_t cg_param_floats(const actjit_graph *g, const plan *p, const target_desc *t, int v) {
  const node *w = &g->nodes[v];
  if (!is_linear_weight(g, v)) return shape_static_numel(&w->shape);
  return cg_packed_floats(t, w->shape.d[0], w->shape.d[1], weight_linears(g, p, v));
}

void cg_param_pack(const actjit_graph *g, const plan *p, const target_desc *t, int v, const float *data, float *dst) {
  const node *w = &g->nodes[v];
  int64_t n = shape_static_numel(&w->shape);
  if (!is_linear_weight(g, v)) {
    if (n) memcpy(dst, data, (size_t)n * sizeof(float));
    return;
  }
  cg_pack_weight(t, data, w->shape.d[0], w->shape.d[1], weight_linears(g, p, v), dst);
}
