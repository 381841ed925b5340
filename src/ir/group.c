/* Fusion groups: membership, the grammar, loop spaces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/group.h"

static bool is_member(const int *m, int n, int v) {
  for (int i = 0; i < n; i++)
    if (m[i] == v) return true;
  return false;
}

bool group_make(const actjit_graph *g, const int *uses, const int *m, int n, group *out) {
  out->n = out->nins = 0;
  out->form = KF_INVALID;
  if (n > GROUP_MAX) return false;
  for (int i = 0; i < n; i++) out->m[out->n++] = m[i];
  for (int i = 0; i < out->n; i++) {
    const node *nd = &g->nodes[out->m[i]];
    for (int k = 0; k < nd->nargs; k++) {
      int a = nd->args[k];
      bool tensor = g->nodes[a].op != OP_PARAM && g->nodes[a].op != OP_CONST;
      if (!tensor || is_member(out->m, out->n, a) || is_member(out->ins, out->nins, a)) continue;
      if (out->nins == GROUP_MAX_INS) return false;
      out->ins[out->nins++] = a;
    }
  }
  out->form = group_form(g, uses, out->m, out->n);
  return true;
}

bool group_of(const actjit_graph *g, const int *uses, int v, group *out) {
  /* Definition order is dataflow order: operands come first. */
  int m[GROUP_MAX], n = 0;
  for (int i = 0; i < g->n; i++) {
    if (i != v && (!g->nodes[v].group || g->nodes[i].group != g->nodes[v].group)) continue;
    if (n == GROUP_MAX) return false;
    m[n++] = i;
  }
  return group_make(g, uses, m, n, out);
}

/* Is every use of v by a member, and there is one?  (Being the output is a
 * use by none.) */
static bool used_inside(const actjit_graph *g, const int *uses, const int *m, int n, int v) {
  int inside = 0;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[m[i]].nargs; k++) inside += g->nodes[m[i]].args[k] == v;
  return inside > 0 && inside == uses[v];
}

/* A linear can end in a softmax over its output features when a whole row
 * of outputs fits in registers: the row is normalized there and stored once.
 * A row of no features has no tile.  (softmin and log_softmax take the
 * softmax kernel after the linear) */
static bool row_softmax_ok(const node *linear, const node *softmax) {
  int last = softmax->shape.rank - 1;
  return softmax->op == OP_SOFTMAX && dim_index(softmax->attr[0], softmax->shape.rank) == last &&
         linear->shape.d[last] >= 1 && linear->shape.d[last] <= ROW_SOFTMAX_MAX;
}

/* The operands the elementwise members read from outside, by kind of
 * kernel: an epilogue reads each at (row, output feature), so over the
 * rows it must be contiguous or broadcast as one dim; a softmax's prologue
 * reads one tensor of the softmax's shape and scalars. */
static bool externals_ok(const actjit_graph *g, const int *m, int n, kernel_form f) {
  const shape *out = &g->nodes[m[n - 1]].shape;
  int tensor = -1;
  for (int i = 0; i < n; i++) {
    const node *nd = &g->nodes[m[i]];
    if (op_table[nd->op].kind != K_ELTWISE) continue;
    for (int k = 0; k < nd->nargs; k++) {
      const node *a = &g->nodes[nd->args[k]];
      if (is_member(m, n, nd->args[k])) continue;
      if (f == KF_SOFTMAX) {
        bool source = a->op == OP_PARAM || a->op == OP_CONST;
        if (source ? shape_static_numel(&a->shape) != 1 : (tensor >= 0 && tensor != nd->args[k]) || !shape_eq(&a->shape, out))
          return false;
        if (!source) tensor = nd->args[k];
      } else if (f != KF_ELTWISE) {
        loop_space sp;
        space_init(&sp, out);
        space_add(&sp, g, nd, k);
        if (out->rank > 1 && space_merge(&sp, 0, out->rank - 1) > 1) return false;
      }
    }
  }
  return true;
}

bool form_has_linear(kernel_form f) {
  switch (f) {
  case KF_LINEAR: case KF_DUAL_LINEAR: case KF_LINEAR_SOFTMAX: return true;
  case KF_ELTWISE: case KF_SOFTMAX: case KF_GLU: case KF_TRANSPOSE: case KF_MATMUL: case KF_INVALID: return false;
  }
  return false;
}

kernel_form group_form(const actjit_graph *g, const int *uses, const int *m, int n) {
  const node *last = &g->nodes[m[n - 1]];
  const node *lin[2] = {NULL, NULL};
  int linears = 0;
  for (int i = 0; i < n; i++) {
    const node *nd = &g->nodes[m[i]];
    if (i < n - 1 && !used_inside(g, uses, m, n, m[i])) return KF_INVALID;
    switch (op_table[nd->op].kind) {
    case K_ELTWISE:
      if (!shape_eq(&nd->shape, &last->shape)) return KF_INVALID;
      break;
    case K_LINEAR:
      /* its input comes from outside: the GEMM has no prologue */
      if (linears == 2 || is_member(m, n, nd->args[0]) || !shape_eq(&nd->shape, &last->shape)) return KF_INVALID;
      lin[linears++] = nd;
      break;
    case K_SOFTMAX:
    case K_GLU:
    case K_TRANSPOSE:
    case K_MATMUL:
      if (i != n - 1) return KF_INVALID;
      break;
    case K_SOURCE:
    case K_VIEW:
      return KF_INVALID; /* no code */
    }
  }
  kernel_form f = KF_INVALID;
  switch (op_table[last->op].kind) {
  case K_GLU: return n == 1 ? KF_GLU : KF_INVALID;
  case K_TRANSPOSE: return n == 1 ? KF_TRANSPOSE : KF_INVALID;
  case K_MATMUL: return n == 1 ? KF_MATMUL : KF_INVALID;
  case K_SOFTMAX:
    f = !linears ? KF_SOFTMAX : linears == 1 && row_softmax_ok(lin[0], last) ? KF_LINEAR_SOFTMAX : KF_INVALID;
    break;
  case K_ELTWISE:
  case K_LINEAR:
    f = linears == 0 ? KF_ELTWISE : linears == 1 ? KF_LINEAR : KF_DUAL_LINEAR;
    break;
  case K_SOURCE:
  case K_VIEW:
    return KF_INVALID;
  }
  /* Two linears share their input and their weights' shape: one GEMM loop
   * feeds both accumulators.  Their weights are packed for the pair's tile,
   * so no other op may read them. */
  if (f == KF_DUAL_LINEAR &&
      (lin[0]->args[0] != lin[1]->args[0] || !shape_eq(&g->nodes[lin[0]->args[1]].shape, &g->nodes[lin[1]->args[1]].shape) ||
       uses[lin[0]->args[1]] != 1 || uses[lin[1]->args[1]] != 1))
    return KF_INVALID;
  return f == KF_INVALID || externals_ok(g, m, n, f) ? f : KF_INVALID;
}

actjit_status group_verify(actjit_graph *g) {
  int *uses = ir_use_counts(g);
  actjit_status st = uses ? ACTJIT_OK : aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int i = 0; !st && i < g->n; i++) {
    const node *nd = &g->nodes[i];
    group gr;
    if (!nd->group) continue;
    bool fits = group_of(g, uses, i, &gr);
    if (fits && gr.m[0] != i) continue; /* each group once, from its first node */
    char where[256];
    if (!fits)
      st = aj_error(g->ctx, ACTJIT_ERR_VERIFY,
                    "%s: cannot fuse this group: a kernel runs at most %d ops reading at most %d tensors",
                    node_where(g, nd, where, sizeof where), GROUP_MAX, GROUP_MAX_INS);
    else if (gr.form == KF_INVALID)
      st = aj_error(g->ctx, ACTJIT_ERR_VERIFY,
                    "%s: cannot fuse this group: its values but the last must be used only inside it, and it must "
                    "be elementwise ops of one shape, after one linear or two of the same input, or before a "
                    "softmax (a linear's only over 1 to %d output features)",
                    node_where(g, nd, where, sizeof where), ROW_SOFTMAX_MAX);
  }
  free(uses);
  return st;
}

/* ------------------------------------------------------------ loop spaces */

void space_init(loop_space *sp, const shape *out) {
  memset(sp, 0, sizeof *sp);
  sp->rank = out->rank;
  for (int d = 0; d < out->rank; d++) sp->dim[d] = (extent){out->d[d], d == 0 && out->dyn};
}

int space_add(loop_space *sp, const actjit_graph *g, const node *nd, int k) {
  if (sp->nops == SPACE_MAX_OPERANDS) return -1;
  int64_t *st = sp->stride[sp->nops];
  const shape *in = &g->nodes[nd->args[k]].shape;
  int rank = sp->rank;
  memset(st, 0, sizeof sp->stride[0]);
  if (nd->op == OP_PRELU && k == 1) {
    /* one weight per channel of dim 1, or one for all */
    if (shape_static_numel(in) > 1 && rank >= 2) st[1] = 1;
  } else {
    int64_t s = 1;
    for (int i = 1; i <= in->rank && i <= rank; i++) {
      int id = in->rank - i;
      bool present = in->d[id] != 1 || (id == 0 && in->dyn);
      st[rank - i] = present ? s : 0;
      s *= in->d[id];
    }
  }
  return sp->nops++;
}

static bool unit(const extent *e) { return e->mul == 1 && !e->dyn; }

/* Removes dim d, moving the later ones down. */
static void drop_dim(loop_space *sp, int d) {
  for (int j = d; j + 1 < sp->rank; j++) {
    sp->dim[j] = sp->dim[j + 1];
    for (int o = 0; o < sp->nops; o++) sp->stride[o][j] = sp->stride[o][j + 1];
  }
  sp->rank--;
}

int space_merge(loop_space *sp, int lo, int hi) {
  for (int d = lo; d + 1 < hi;) {
    const extent *outer = &sp->dim[d], *inner = &sp->dim[d + 1];
    bool ok = true;
    for (int o = 0; ok && o < sp->nops; o++) {
      const int64_t *st = sp->stride[o];
      ok = st[d] == st[d + 1] * inner->mul || (st[d] == 0 && st[d + 1] == 0);
    }
    if (unit(inner)) { /* a dim of one element goes: its index is always 0 */
      drop_dim(sp, d + 1);
    } else if (unit(outer) || ok) { /* the merged dim keeps the inner one's stride */
      sp->dim[d + 1] = (extent){outer->mul * inner->mul, outer->dyn};
      drop_dim(sp, d);
    } else {
      d++;
      continue;
    }
    hi--;
  }
  return hi - lo;
}
