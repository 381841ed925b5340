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

int cg_param_layout(const actjit_graph *g, const plan *p, int v) {
  return is_linear_weight(g, v) ? weight_linears(g, p, v) : 0;
}

int64_t cg_param_floats(const target_desc *t, const shape *s, int layout) {
  return layout ? cg_packed_floats(t, s->d[0], s->d[1], layout) : shape_static_numel(s);
}

void cg_param_pack(const target_desc *t, const shape *s, int layout, const float *data, float *dst) {
  int64_t n = shape_static_numel(s);
  if (layout) cg_pack_weight(t, data, s->d[0], s->d[1], layout, dst);
  else if (n) memcpy(dst, data, (size_t)n * sizeof(float));
}
