/* Fusion legality: the one place that decides which ops may share a kernel. */
#include <stdio.h>

#include "passes.h"

int group_members(const actjit_graph *g, int v, int out[GROUP_MAX]) {
  if (!g->nodes[v].group) {
    out[0] = v;
    return 1;
  }
  /* Definition order is dataflow order: operands come first. */
  int n = 0;
  for (int i = 0; i < g->n && n < GROUP_MAX; i++)
    if (g->nodes[i].group == g->nodes[v].group) out[n++] = i;
  return n;
}

/* Can the op share a kernel with others at all? */
static bool fusible_kind(const node *nd) {
  switch (op_table[nd->op].kind) {
  case K_ELTWISE: case K_LINEAR: case K_SOFTMAX: return true;
  case K_SOURCE: case K_GLU: case K_VIEW: return false;
  }
  return false;
}

static bool per_channel_prelu(const actjit_graph *g, const node *nd) {
  return nd->op == OP_PRELU && g->nodes[nd->args[1]].shape.d[0] > 1;
}

/* A linear can end in a softmax over its output features when a whole row
 * of outputs fits in registers: the row is normalized there and stored once. */
static bool row_softmax_ok(const node *linear, const node *softmax) {
  int last = softmax->shape.rank - 1;
  /* (softmin and log_softmax take the softmax kernel after the linear) */
  return softmax->op == OP_SOFTMAX && (softmax->attr[0] == last || softmax->attr[0] == -1) && linear->shape.d[last] <= ROW_SOFTMAX_MAX;
}

/* The form of nodes m[0..n), ignoring how they are connected. */
static kernel_form form_of(const actjit_graph *g, const int *m, int n) {
  const node *head = &g->nodes[m[0]], *tail = &g->nodes[m[n - 1]];
  for (int i = 1; i + 1 < n; i++)
    if (op_table[g->nodes[m[i]].op].kind != K_ELTWISE) return KF_INVALID;
  op_kind tk = n > 1 ? op_table[tail->op].kind : K_ELTWISE;
  switch (op_table[head->op].kind) {
  case K_LINEAR:
    if (tk == K_ELTWISE) return KF_LINEAR;
    return tk == K_SOFTMAX && row_softmax_ok(head, tail) ? KF_LINEAR_SOFTMAX : KF_INVALID;
  case K_ELTWISE: return tk == K_ELTWISE ? KF_ELTWISE : tk == K_SOFTMAX ? KF_SOFTMAX : KF_INVALID;
  case K_SOFTMAX: return n == 1 ? KF_SOFTMAX : KF_INVALID;
  case K_GLU: return n == 1 ? KF_GLU : KF_INVALID;
  case K_SOURCE: case K_VIEW: return KF_INVALID; /* no code */
  }
  return KF_INVALID;
}

/* A prelu with one weight per channel needs each value's channel: the
 * elementwise loop knows it, a linear's epilogue when the channel is the
 * output feature (rank 2), a softmax's prologue never. */
kernel_form kernel_form_of(const actjit_graph *g, const int *m, int n) {
  kernel_form f = form_of(g, m, n);
  for (int i = 0; i < n; i++) {
    const node *nd = &g->nodes[m[i]];
    if (!per_channel_prelu(g, nd)) continue;
    switch (f) {
    case KF_ELTWISE: case KF_INVALID: break;
    case KF_LINEAR: case KF_LINEAR_SOFTMAX: if (nd->shape.rank != 2) return KF_INVALID; break;
    case KF_SOFTMAX: case KF_GLU: return KF_INVALID;
    }
  }
  return f;
}

bool fusion_legal(const actjit_graph *g, int producer, int consumer) {
  const node *p = &g->nodes[producer], *c = &g->nodes[consumer];
  if (!fusible_kind(p) || !fusible_kind(c) || c->args[0] != producer) return false;
  if (p->group && p->group == c->group) return false;
  /* The producer's value is never stored: nothing else may read it. */
  if (ir_uses(g, producer) != 1) return false;
  int m[2 * GROUP_MAX];
  int np = group_members(g, producer, m);
  if (m[np - 1] != producer) return false; /* the producer must end its group */
  int nc = group_members(g, consumer, m + np);
  if (m[np] != consumer || np + nc > GROUP_MAX) return false;
  return kernel_form_of(g, m, np + nc) != KF_INVALID;
}

void fusion_merge(actjit_graph *g, int producer, int consumer) {
  int id = g->nodes[producer].group;
  if (!id) {
    for (int i = 0; i < g->n; i++) id = g->nodes[i].group > id ? g->nodes[i].group : id;
    g->nodes[producer].group = ++id;
  }
  int old = g->nodes[consumer].group;
  for (int i = 0; i < g->n; i++)
    if (i == consumer || (old && g->nodes[i].group == old)) g->nodes[i].group = id;
}

static int group_size(const actjit_graph *g, int group) {
  int n = 0;
  for (int i = 0; i < g->n; i++) n += g->nodes[i].group == group;
  return n;
}

actjit_status fusion_verify(actjit_graph *g) {
  for (int i = 0; i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (!nd->group) continue;
    int m[GROUP_MAX] = {0};
    int n = group_members(g, i, m);
    if (m[0] != i) continue; /* check each group once, from its first node */
    char where[256];
    /* group_members stops at GROUP_MAX: a longer group would go unchecked. */
    int size = group_size(g, nd->group);
    if (size > GROUP_MAX)
      return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s: cannot fuse this group: it has %d ops, at most %d run as one kernel",
                      node_where(g, nd, where, sizeof where), size, GROUP_MAX);
    bool chained = true;
    for (int k = 1; k < n; k++)
      chained = chained && g->nodes[m[k]].args[0] == m[k - 1] && ir_uses(g, m[k - 1]) == 1 && fusible_kind(&g->nodes[m[k]]);
    if (!chained || !fusible_kind(nd) || kernel_form_of(g, m, n) == KF_INVALID)
      return aj_error(g->ctx, ACTJIT_ERR_VERIFY,
                      "%s: cannot fuse this group: a group is a chain whose inner values have one use, "
                      "shaped `linear elementwise* softmax?` (softmax over at most 64 output features), "
                      "`elementwise* softmax` or `elementwise+`",
                      node_where(g, nd, where, sizeof where));
  }
  return ACTJIT_OK;
}
