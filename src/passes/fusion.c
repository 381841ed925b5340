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

static bool fusible_kind(const node *nd) {
  op_kind k = op_table[nd->op].kind;
  return k == K_ELTWISE || k == K_LINEAR || k == K_SOFTMAX;
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

/* `linear eltwise* softmax?`, `eltwise* softmax` or `eltwise+`.  A prelu
 * with one weight per channel needs each value's channel: the elementwise
 * loop knows it, a linear's epilogue when the channel is the output feature
 * (rank 2), a softmax's prologue never. */
static bool pattern_ok(const actjit_graph *g, const int *m, int n) {
  const node *head = &g->nodes[m[0]], *tail = &g->nodes[m[n - 1]];
  bool linear = op_table[head->op].kind == K_LINEAR, softmax = op_table[tail->op].kind == K_SOFTMAX;
  if (linear && softmax && !row_softmax_ok(head, tail)) return false;
  for (int i = 0; i < n; i++) {
    const node *nd = &g->nodes[m[i]];
    op_kind k = op_table[nd->op].kind;
    if ((k == K_LINEAR && i != 0) || (k == K_SOFTMAX && i != n - 1)) return false;
    if (per_channel_prelu(g, nd) && (linear ? nd->shape.rank != 2 : softmax)) return false;
  }
  return true;
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
  return pattern_ok(g, m, np + nc);
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

actjit_status fusion_verify(actjit_graph *g) {
  for (int i = 0; i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (!nd->group) continue;
    int m[GROUP_MAX];
    int n = group_members(g, i, m);
    if (m[0] != i) continue; /* check each group once, from its first node */
    char where[256];
    bool chained = true;
    for (int k = 1; k < n; k++)
      chained = chained && g->nodes[m[k]].args[0] == m[k - 1] && ir_uses(g, m[k - 1]) == 1 && fusible_kind(&g->nodes[m[k]]);
    if (!chained || !fusible_kind(nd) || !pattern_ok(g, m, n))
      return aj_error(g->ctx, ACTJIT_ERR_VERIFY,
                      "%s: cannot fuse this group: a group is a chain whose inner values have one use, "
                      "shaped `linear elementwise* softmax?` (softmax over at most 64 output features), "
                      "`elementwise* softmax` or `elementwise+`",
                      node_where(g, nd, where, sizeof where));
  }
  return ACTJIT_OK;
}
