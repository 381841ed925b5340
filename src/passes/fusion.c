/* Fusion legality: the one place that decides which ops may share a
 * kernel (the grammar of a kernel is group.c's). */
#include "passes/passes.h"

bool fusion_legal(const actjit_graph *g, const int *uses, int producer, int consumer) {
  const node *p = &g->nodes[producer], *c = &g->nodes[consumer];
  if (p->group && p->group == c->group) return false;
  group gp, gc;
  if (!group_of(g, uses, producer, &gp) || !group_of(g, uses, consumer, &gc)) return false;
  if (gp.m[gp.n - 1] != producer || gp.n + gc.n > GROUP_MAX) return false;
  /* both member lists in dataflow order, merged */
  int m[2 * GROUP_MAX], n = 0;
  for (int i = 0, j = 0; i < gp.n || j < gc.n;)
    m[n++] = j == gc.n || (i < gp.n && gp.m[i] < gc.m[j]) ? gp.m[i++] : gc.m[j++];
  return fusion_legal_set(g, uses, m, n);
}

bool fusion_legal_set(const actjit_graph *g, const int *uses, const int *m, int n) {
  group grp;
  return n <= GROUP_MAX && group_make(g, uses, m, n, &grp) && grp.form != KF_INVALID;
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

int fusion_sole_user(const actjit_graph *g, int v) {
  int user = -1;
  if (g->output == v) return -1;
  for (int i = 0; i < g->n; i++)
    for (int k = 0; k < g->nodes[i].nargs; k++) {
      if (g->nodes[i].args[k] != v) continue;
      bool same = user >= 0 && (user == i || (g->nodes[user].group && g->nodes[user].group == g->nodes[i].group));
      if (user >= 0 && !same) return -1;
      if (user < 0) user = i;
    }
  return user;
}
