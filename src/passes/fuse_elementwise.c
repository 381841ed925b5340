/* Elementwise fusion: each connected region of elementwise ops whose values
 * are used only inside it becomes one group, one loop that computes every
 * value once, in registers, reads each input once and writes its last
 * value once.  A region is first taken whole where it may be one kernel:
 * joining op by op can stall, two groups each reading too many tensors to
 * merge although the region as a whole reads only its input.  Then,
 * walking backwards, an op joins the group of its users when they are all
 * in one; walking again until nothing joins, since a group may read too
 * many tensors for an op to join it only until the ops that compute them
 * have joined. */
#include <stdlib.h>

#include "passes/passes.h"

static bool ungrouped_eltwise(const actjit_graph *g, int v) {
  return op_table[g->nodes[v].op].kind == K_ELTWISE && !g->nodes[v].group;
}

/* Users of every node, built once for the pass: the users of v are
 * use[first[v] .. first[v + 1]), a node once per argument it reads v as. */
typedef struct users {
  int *first, *use;
} users;

static bool users_build(const actjit_graph *g, users *u) {
  int total = 0;
  for (int i = 0; i < g->n; i++) total += g->nodes[i].nargs;
  u->first = calloc((size_t)g->n + 1, sizeof *u->first);
  u->use = malloc(((size_t)total + 1) * sizeof *u->use);
  int *at = malloc(((size_t)g->n + 1) * sizeof *at);
  if (u->first && u->use && at) {
    for (int i = 0; i < g->n; i++)
      for (int k = 0; k < g->nodes[i].nargs; k++) u->first[g->nodes[i].args[k] + 1]++;
    for (int v = 0; v < g->n; v++) at[v] = u->first[v + 1] += u->first[v];
    for (int i = g->n - 1; i >= 0; i--)
      for (int k = 0; k < g->nodes[i].nargs; k++) u->use[--at[g->nodes[i].args[k]]] = i;
  }
  bool ok = u->first && u->use && at;
  free(at);
  return ok;
}

enum { UNSEEN, CANDIDATE, INSIDE, OUTSIDE };

/* The region ending at s into m (dataflow order): s and, walking back,
 * each ungrouped elementwise op all of whose users are in it.  Returns its
 * size, or 0 past GROUP_MAX.  Only the members' operands can join, and
 * they are decided latest first (after all their users): a region costs
 * its own size, not the graph's.  state[] is UNSEEN outside calls. */
static int region_of(const actjit_graph *g, const users *u, int s, unsigned char *state, int m[GROUP_MAX]) {
  int cand[(GROUP_MAX + 1) * OP_MAX_ARGS], ncand = 0, touched[(GROUP_MAX + 1) * (OP_MAX_ARGS + 1)], ntouched = 0;
  int n = 0, v = s;
  state[s] = INSIDE, touched[ntouched++] = s;
  while (n <= GROUP_MAX) {
    if (state[v] == INSIDE) {
      if (n == GROUP_MAX) {
        n++;
        break;
      }
      m[n++] = v;
      for (int k = 0; k < g->nodes[v].nargs; k++) {
        int a = g->nodes[v].args[k];
        if (state[a] == UNSEEN) state[a] = CANDIDATE, cand[ncand++] = touched[ntouched++] = a;
      }
    }
    /* the latest candidate: every user of it is decided */
    int best = -1;
    for (int i = 0; i < ncand; i++) best = best < 0 || cand[i] > cand[best] ? i : best;
    if (best < 0) break;
    v = cand[best], cand[best] = cand[--ncand];
    bool inside = ungrouped_eltwise(g, v) && v != g->output && u->first[v + 1] > u->first[v];
    for (int i = u->first[v]; i < u->first[v + 1] && inside; i++) inside = state[u->use[i]] == INSIDE;
    state[v] = inside ? INSIDE : OUTSIDE;
  }
  for (int i = 0; i < ntouched; i++) state[touched[i]] = UNSEEN;
  if (n > GROUP_MAX) return 0;
  /* m holds the members latest first */
  for (int i = 0; i < n / 2; i++) {
    int t = m[i];
    m[i] = m[n - 1 - i], m[n - 1 - i] = t;
  }
  return n;
}

static void fuse_regions(actjit_graph *g, const users *u, const int *uses, unsigned char *state) {
  int m[GROUP_MAX];
  for (int s = g->n - 1; s >= 0; s--) {
    if (!ungrouped_eltwise(g, s)) continue;
    int n = region_of(g, u, s, state, m);
    if (n < 2 || !fusion_legal_set(g, uses, m, n)) continue;
    for (int i = 0; i + 1 < n; i++) fusion_merge(g, m[i], s);
  }
}

actjit_status pass_fuse_elementwise(actjit_graph *g, const pass_options *o) {
  users u = {0};
  unsigned char *state = calloc((size_t)g->n, 1);
  int *uses = ir_use_counts(g);
  bool ok = state && uses && users_build(g, &u);
  if (ok) fuse_regions(g, &u, uses, state);
  free(state), free(u.first), free(u.use);
  for (bool joined = ok; joined;) {
    joined = false;
    for (int p = g->n - 1; p >= 0; p--) {
      if (op_table[g->nodes[p].op].kind != K_ELTWISE) continue;
      int c = fusion_sole_user(g, p);
      if (c >= 0 && op_table[g->nodes[c].op].kind == K_ELTWISE && fusion_legal(g, uses, p, c)) {
        fusion_merge(g, p, c);
        joined = true;
      }
    }
  }
  free(uses);
  return ok ? ACTJIT_OK : aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
}
