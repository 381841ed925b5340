/* Memory planning: kernels in order, and buffers by liveness.  A kernel
 * writes over its operand when that operand is dead afterwards (always in a
 * fused plan, only for inplace=True ops in the unfused baseline) and its loop
 * reads each element before writing it at the same place (elementwise and
 * softmax groups; never a linear).  The caller's input is overwritten only
 * when donated.  Values that share a buffer form one set; a set holding the
 * output lives in the caller's output, others get scratch, reusing buffers
 * freed by dead sets in a fused plan. */
#include <stdlib.h>

#include "../print.h"
#include "plan.h"

/* Scratch buffers start on 64-byte boundaries: round each part to 16 floats. */
static int64_t round16(int64_t v) { return (v + 15) & ~(int64_t)15; }

static int find(int *set, int v) {
  while (set[v] != v) v = set[v] = set[set[v]];
  return v;
}

/* Can this kernel write its result over its operand? */
static bool in_place_kernel(const actjit_graph *g, const step *s) {
  switch (kernel_form_of(g, s->nodes, s->n)) {
  case KF_ELTWISE: case KF_SOFTMAX: return true;
  /* (glu's result is half its operand: its own buffer, never the operand's) */
  case KF_LINEAR: case KF_LINEAR_SOFTMAX: case KF_GLU: case KF_INVALID: return false;
  }
  return false;
}

static bool wants_in_place(const actjit_graph *g, const step *s, const plan_options *o) {
  if (o->reuse) return true;
  for (int i = 0; i < s->n; i++)
    if (g->nodes[s->nodes[i]].inplace) return true;
  return false;
}

/* The live path from the input to the output through operand 0, views
 * skipped, grouped into kernels.  root[v] maps a view to what it aliases. */
static actjit_status build_steps(const actjit_graph *g, plan *p, int *root) {
  int *path = malloc((size_t)g->n * sizeof *path), len = 0;
  if (!path) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int v = g->output; v != g->input; v = g->nodes[v].args[0]) path[len++] = v;
  for (int i = 0; i < g->n; i++) root[i] = i;
  for (int k = len - 1; k >= 0; k--) {
    int v = path[k];
    const node *nd = &g->nodes[v];
    if (op_table[nd->op].kind == K_VIEW) {
      root[v] = root[nd->args[0]];
      continue;
    }
    step *last = p->n ? &p->steps[p->n - 1] : NULL;
    if (last && nd->group && g->nodes[last->nodes[last->n - 1]].group == nd->group && last->n < GROUP_MAX)
      last->nodes[last->n++] = v;
    else
      p->steps[p->n++] = (step){.nodes = {v}, .n = 1};
  }
  free(path);
  return ACTJIT_OK;
}

/* Assigns scratch to set r, live over kernels [from, to]; reuses a buffer
 * whose last use is before `from` when allowed. */
typedef struct slot {
  buffer buf;
  int free_after; /* index of the last kernel using it */
} slot;

static buffer alloc_scratch(plan *p, slot *slots, int *nslots, extent size, int from, int to, bool reuse) {
  for (int i = 0; reuse && i < *nslots; i++) {
    slot *s = &slots[i];
    if (s->free_after < from && s->buf.size.dyn == size.dyn && s->buf.size.mul >= size.mul) {
      s->free_after = to;
      return s->buf;
    }
  }
  buffer b = {.kind = BUF_SCRATCH, .id = *nslots, .off_dyn = p->scratch_dyn,
              .off_static = p->scratch_static, .size = size};
  if (size.dyn) p->scratch_dyn += round16(size.mul);
  else p->scratch_static += round16(size.mul);
  slots[(*nslots)++] = (slot){b, to};
  return b;
}

actjit_status plan_memory(const actjit_graph *g, const plan_options *o, plan *p) {
  *p = (plan){0};
  int n = g->n;
  int *root = malloc((size_t)n * sizeof *root), *set = malloc((size_t)n * sizeof *set);
  int *first = malloc((size_t)n * sizeof *first), *last = malloc((size_t)n * sizeof *last);
  buffer *bufs = calloc((size_t)n, sizeof *bufs);
  slot *slots = calloc((size_t)n + 1, sizeof *slots);
  p->steps = calloc((size_t)n + 1, sizeof *p->steps);
  actjit_status st = root && set && first && last && bufs && slots && p->steps
                         ? build_steps(g, p, root)
                         : aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  if (!st) {
    for (int i = 0; i < n; i++) set[i] = i, first[i] = n, last[i] = -1;
    /* Values that share a buffer: a kernel's result and its dead operand.
     * Backwards, so that the input's set is never joined to the output's:
     * they are two different caller buffers. */
    for (int s = p->n - 1; s >= 0; s--) {
      const step *k = &p->steps[s];
      int in = root[g->nodes[k->nodes[0]].args[0]], out = k->nodes[k->n - 1];
      bool operand_ok = in != g->input || (o->donate_input && find(set, out) != find(set, root[g->output]));
      if (in_place_kernel(g, k) && wants_in_place(g, k, o) && operand_ok) set[find(set, out)] = find(set, in);
    }
    /* Live range of each set, in kernels. */
    for (int s = 0; s < p->n; s++) {
      const step *k = &p->steps[s];
      int ends[2] = {find(set, root[g->nodes[k->nodes[0]].args[0]]), find(set, k->nodes[k->n - 1])};
      for (int j = 0; j < 2; j++) {
        first[ends[j]] = first[ends[j]] < s ? first[ends[j]] : s;
        last[ends[j]] = last[ends[j]] > s ? last[ends[j]] : s;
      }
    }
    int in_set = find(set, g->input), out_set = find(set, root[g->output]), nslots = 0;
    bool *assigned = calloc((size_t)n, sizeof *assigned);
    if (!assigned) st = aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    for (int s = 0; !st && s < p->n; s++) {
      step *k = &p->steps[s];
      int vals[2] = {root[g->nodes[k->nodes[0]].args[0]], k->nodes[k->n - 1]};
      for (int j = 0; j < 2; j++) {
        int r = find(set, vals[j]);
        if (assigned[r]) continue;
        assigned[r] = true;
        extent size = shape_numel(&g->nodes[vals[j]].shape);
        if (r == out_set) bufs[r] = (buffer){.kind = BUF_OUTPUT, .size = size};
        else if (r == in_set) bufs[r] = (buffer){.kind = BUF_INPUT, .size = size};
        else bufs[r] = alloc_scratch(p, slots, &nslots, size, first[r], last[r], o->reuse);
      }
      k->in = bufs[find(set, vals[0])];
      k->out = bufs[find(set, vals[1])];
    }
    free(assigned);
  }
  free(root), free(set), free(first), free(last), free(bufs), free(slots);
  if (st) plan_free(p);
  return st;
}

void plan_free(plan *p) {
  free(p->steps);
  *p = (plan){0};
}

bool buffer_same(const buffer *a, const buffer *b) {
  return a->kind == b->kind && (a->kind != BUF_SCRATCH || a->id == b->id);
}

static void print_buffer(strbuf *sb, const buffer *b) {
  static const char *const names[] = {"input", "output", "scratch"};
  sb_printf(sb, "%s", names[b->kind]);
  if (b->kind == BUF_SCRATCH)
    sb_printf(sb, "%d@(%lld*N+%lld)", b->id, (long long)b->off_dyn, (long long)b->off_static);
}

void plan_print(strbuf *sb, const actjit_graph *g, const plan *p) {
  sb_printf(sb, "# memory plan: %d kernels, scratch %lld*N+%lld floats (peak intermediate bytes %lld*N+%lld)\n", p->n,
            (long long)p->scratch_dyn, (long long)p->scratch_static, (long long)p->scratch_dyn * 4,
            (long long)p->scratch_static * 4);
  for (int i = 0; i < p->n; i++) {
    const step *s = &p->steps[i];
    sb_printf(sb, "#   kernel %d:", i);
    for (int j = 0; j < s->n; j++) {
      sb_printf(sb, "%s %s ", j ? " |" : "", op_table[g->nodes[s->nodes[j]].op].name);
      print_name(sb, '%', g->nodes[s->nodes[j]].name);
    }
    sb_printf(sb, "  reads ");
    print_buffer(sb, &s->in);
    sb_printf(sb, ", writes ");
    print_buffer(sb, &s->out);
    sb_printf(sb, "%s\n", buffer_same(&s->in, &s->out) ? " (in place)" : "");
  }
}
