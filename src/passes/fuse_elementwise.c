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

/* The region ending at s into m (dataflow order): s and, walking back,
 * each ungrouped elementwise op all of whose users are in it.  Returns its
 * size, or 0 past GROUP_MAX. */
static int region_of(const actjit_graph *g, int s, bool *in, int m[GROUP_MAX]) {
  int n = 0;
  for (int v = 0; v < g->n; v++) in[v] = v == s;
  for (int p = s - 1; p >= 0; p--) {
    if (!ungrouped_eltwise(g, p) || p == g->output) continue;
    bool used = false, inside = true;
    for (int i = p + 1; i <= s && inside; i++)
      for (int k = 0; k < g->nodes[i].nargs; k++)
        if (g->nodes[i].args[k] == p) used = true, inside &= in[i];
    for (int i = s + 1; i < g->n && inside; i++)
      for (int k = 0; k < g->nodes[i].nargs; k++) inside &= g->nodes[i].args[k] != p;
    in[p] = used && inside;
  }
  for (int v = 0; v <= s; v++)
    if (in[v]) {
      if (n == GROUP_MAX) return 0;
      m[n++] = v;
    }
  return n;
}

static void fuse_regions(actjit_graph *g, bool *in) {
  int m[GROUP_MAX];
  for (int s = g->n - 1; s >= 0; s--) {
    if (!ungrouped_eltwise(g, s)) continue;
    int n = region_of(g, s, in, m);
    if (n < 2 || !fusion_legal_set(g, m, n)) continue;
    for (int i = 0; i + 1 < n; i++) fusion_merge(g, m[i], s);
  }
}

actjit_status pass_fuse_elementwise(actjit_graph *g, const pass_options *o) {
  bool *in = malloc((size_t)g->n * sizeof *in);
  if (!in) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  fuse_regions(g, in);
  free(in);
  for (bool joined = true; joined;) {
    joined = false;
    for (int p = g->n - 1; p >= 0; p--) {
      if (op_table[g->nodes[p].op].kind != K_ELTWISE) continue;
      int c = fusion_sole_user(g, p);
      if (c >= 0 && op_table[g->nodes[c].op].kind == K_ELTWISE && fusion_legal(g, p, c)) {
        fusion_merge(g, p, c);
        joined = true;
      }
    }
  }
  return ACTJIT_OK;
}
