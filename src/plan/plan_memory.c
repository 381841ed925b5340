/* Memory planning: kernels in dataflow order, and buffers by liveness.  A
 * kernel writes over a tensor it reads when nothing later reads that tensor,
 * the sizes are equal, the kernel's loop reads each element before writing
 * it at the same place (elementwise and softmax kernels; never a linear or
 * glu), and the plan wants it (always in a fused plan; in the unfused
 * baseline only where PyTorch's inplace=True says so).  The caller's input
 * is overwritten only when donated.  Values that share a buffer form one
 * set; the set holding the output lives in the caller's output, others get
 * scratch, reusing buffers freed by dead sets in a fused plan. */
#include <stdlib.h>

#include "ir/print.h"
#include "plan/plan.h"

/* Scratch buffers start on 64-byte boundaries: round each part to 16 floats. */
static int64_t round16(int64_t v) { return (v + 15) & ~(int64_t)15; }

static int find(int *set, int v) {
  while (set[v] != v) v = set[v] = set[set[v]];
  return v;
}

/* Does this kernel's loop read each element before writing it in place? */
static bool in_place_kernel(kernel_form f) {
  switch (f) {
  case KF_ELTWISE: case KF_SOFTMAX: return true;
  /* (a GEMM reads whole rows; glu's result is half its operand; a
   * transpose or matmul writes where it has not read yet) */
  case KF_LINEAR: case KF_DUAL_LINEAR: case KF_LINEAR_SOFTMAX: case KF_GLU: case KF_TRANSPOSE: case KF_MATMUL:
  case KF_INVALID:
    return false;
  }
  return false;
}

static bool wants_in_place(const actjit_graph *g, const group *gr, const plan_options *o) {
  if (o->reuse) return true;
  for (int i = 0; i < gr->n; i++)
    if (g->nodes[gr->m[i]].inplace) return true;
  return false;
}

static bool same_extent(extent a, extent b) { return a.mul == b.mul && a.dyn == b.dyn; }

/* The live kernels in dataflow order: a step at each group's value. */
static actjit_status build_steps(const actjit_graph *g, plan *p, const bool *live) {
  int *uses = ir_use_counts(g);
  actjit_status st = uses ? ACTJIT_OK : aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int v = 0; !st && v < g->n; v++) {
    op_kind k = op_table[g->nodes[v].op].kind;
    if (!live[v] || k == K_SOURCE || k == K_VIEW) continue;
    group gr;
    if (!group_of(g, uses, v, &gr) || gr.form == KF_INVALID)
      st = aj_error(g->ctx, ACTJIT_ERR_UNSUPPORTED, "plan: %%%s is in a group no kernel runs", g->nodes[v].name);
    else if (gr.m[gr.n - 1] == v) p->steps[p->n++] = (step){.grp = gr};
  }
  free(uses);
  return st;
}

/* Assigns scratch to a set live over kernels [from, to]; reuses a buffer
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

/* Bytes of the weights of a kernel's linears. */
static int64_t weight_bytes(const actjit_graph *g, const group *gr) {
  int64_t n = 0;
  for (int i = 0; i < gr->n; i++) {
    const node *nd = &g->nodes[gr->m[i]];
    if (nd->op == OP_LINEAR) n += 4 * shape_static_numel(&g->nodes[nd->args[1]].shape);
  }
  return n;
}

/* Depth-first runs: maximal runs of kernels that each split by rows and
 * hold two layers or more (a layer feeding a layer), whose weights fit in
 * twice o->block_bytes: a block re-reads every weight of the run, which must
 * come from cache (SwiGLU's 34 MB would come from memory for every block).
 * A set that only a run's kernels write and read, batched and neither the
 * caller's input nor output, gets a block buffer (run_of_set[r] >= 0);
 * block_rows makes all of them about o->block_bytes. */
static void find_runs(const actjit_graph *g, plan *p, const plan_options *o, const int *first, const int *last,
                      const int *root, int in_set, int out_set, int *run_of_set) {
  int n = g->n;
  for (int i = 0; i < n; i++) run_of_set[i] = -1;
  if (!o->block_bytes) return;
  for (int s = 0; s < p->n;) {
    int e = s, layers = 0;
    int64_t weights = 0;
    for (; e < p->n && group_by_rows(g, &p->steps[e].grp); e++)
      layers += form_has_linear(p->steps[e].grp.form), weights += weight_bytes(g, &p->steps[e].grp);
    if (layers >= 2 && weights <= 2 * o->block_bytes) p->runs[p->nruns++] = (block_run){s, e - 1};
    s = e > s ? e : s + 1;
  }
  int64_t row_floats = 0;
  for (int r = 0; r < n; r++) {
    extent size = shape_numel(&g->nodes[r].shape);
    if (r == in_set || r == out_set || root[r] != r || first[r] > last[r] || !size.dyn) continue;
    for (int q = 0; q < p->nruns; q++)
      if (first[r] >= p->runs[q].first && last[r] <= p->runs[q].last) run_of_set[r] = q, row_floats += size.mul;
  }
  int64_t rows = row_floats ? o->block_bytes / 4 / row_floats / 16 * 16 : 0;
  p->block_rows = rows < 16 ? 16 : rows;
}

/* Which values share a buffer: walking back from the output, a kernel joins
 * its value's set to a tensor it reads for the last time. */
static void share_buffers(const actjit_graph *g, const plan *p, const plan_options *o, const int *root,
                          const int *last_use, int *set) {
  int out_root = root[g->output];
  for (int s = p->n - 1; s >= 0; s--) {
    const group *gr = &p->steps[s].grp;
    int out = gr->m[gr->n - 1];
    if (!in_place_kernel(gr->form) || !wants_in_place(g, gr, o)) continue;
    for (int j = 0; j < gr->nins; j++) {
      int r = root[gr->ins[j]];
      /* the caller's input and output are two buffers */
      bool input = find(set, r) == find(set, g->input);
      bool ok = last_use[r] == s && same_extent(shape_numel(&g->nodes[gr->ins[j]].shape), shape_numel(&g->nodes[out].shape)) &&
                (!input || (o->donate_input && find(set, out) != find(set, out_root)));
      if (ok) {
        set[find(set, out)] = find(set, r);
        break;
      }
    }
  }
}

actjit_status plan_memory(const actjit_graph *g, const plan_options *o, plan *p) {
  *p = (plan){0};
  int n = g->n;
  int *root = malloc((size_t)n * sizeof *root), *set = malloc((size_t)n * sizeof *set);
  int *first = malloc((size_t)n * sizeof *first), *last = malloc((size_t)n * sizeof *last);
  bool *live = calloc((size_t)n, sizeof *live), *assigned = calloc((size_t)n, sizeof *assigned);
  buffer *bufs = calloc((size_t)n, sizeof *bufs);
  slot *slots = calloc((size_t)n + 1, sizeof *slots);
  int *run_of_set = malloc((size_t)n * sizeof *run_of_set);
  p->steps = calloc((size_t)n + 1, sizeof *p->steps);
  p->runs = calloc((size_t)n + 1, sizeof *p->runs);
  actjit_status st = root && set && first && last && live && assigned && bufs && slots && run_of_set && p->steps && p->runs
                         ? ACTJIT_OK
                         : aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  if (!st) {
    ir_mark_live(g, live);
    for (int i = 0; i < n; i++) {
      root[i] = op_table[g->nodes[i].op].kind == K_VIEW ? root[g->nodes[i].args[0]] : i;
      set[i] = i, first[i] = n, last[i] = -1;
    }
    st = build_steps(g, p, live);
  }
  if (!st) {
    /* last[r]: the last kernel reading r (the output: past the end) */
    for (int s = 0; s < p->n; s++)
      for (int j = 0; j < p->steps[s].grp.nins; j++) last[root[p->steps[s].grp.ins[j]]] = s;
    last[root[g->output]] = p->n;
    share_buffers(g, p, o, root, last, set);
    /* Live range of each set, in kernels: from its first write (or the
     * start, for the input) to its last read. */
    for (int i = 0; i < n; i++) first[i] = n, last[i] = -1;
    for (int s = 0; s < p->n; s++) {
      const group *gr = &p->steps[s].grp;
      for (int j = 0; j <= gr->nins; j++) {
        int r = find(set, j < gr->nins ? root[gr->ins[j]] : gr->m[gr->n - 1]);
        first[r] = first[r] < s ? first[r] : s;
        last[r] = last[r] > s ? last[r] : s;
      }
    }
    int in_set = find(set, g->input), out_set = find(set, root[g->output]), nslots = 0, nblocks = 0;
    find_runs(g, p, o, first, last, root, in_set, out_set, run_of_set);
    for (int s = 0; s < p->n; s++) {
      step *k = &p->steps[s];
      for (int j = 0; j <= k->grp.nins; j++) {
        int v = j < k->grp.nins ? k->grp.ins[j] : k->grp.m[k->grp.n - 1], r = find(set, root[v]);
        if (!assigned[r]) {
          extent size = shape_numel(&g->nodes[root[v]].shape);
          if (r == out_set) bufs[r] = (buffer){.kind = BUF_OUTPUT, .size = size};
          else if (r == in_set) bufs[r] = (buffer){.kind = BUF_INPUT, .size = size};
          else if (run_of_set[r] >= 0) {
            bufs[r] = (buffer){.kind = BUF_BLOCK, .id = nblocks++, .off_static = p->block_row_floats, .size = size};
            p->block_row_floats += size.mul;
          } else bufs[r] = alloc_scratch(p, slots, &nslots, size, first[r], last[r], o->reuse);
          assigned[r] = true;
        }
        if (j < k->grp.nins) k->in[j] = bufs[r];
        else k->out = bufs[r];
      }
    }
  }
  free(root), free(set), free(first), free(last), free(live), free(assigned), free(bufs), free(slots), free(run_of_set);
  if (st) plan_free(p);
  return st;
}

void plan_free(plan *p) {
  free(p->steps);
  free(p->runs);
  *p = (plan){0};
}

bool buffer_same(const buffer *a, const buffer *b) {
  return a->kind == b->kind && (a->kind < BUF_SCRATCH || a->id == b->id);
}

static void print_buffer(strbuf *sb, const buffer *b) {
  static const char *const names[] = {"input", "output", "scratch", "block"};
  sb_printf(sb, "%s", names[b->kind]);
  if (b->kind == BUF_SCRATCH)
    sb_printf(sb, "%d@(%lld*N+%lld)", b->id, (long long)b->off_dyn, (long long)b->off_static);
  if (b->kind == BUF_BLOCK) sb_printf(sb, "%d@%lld", b->id, (long long)b->off_static);
}

bool step_in_place(const step *s) {
  for (int j = 0; j < s->grp.nins; j++)
    if (buffer_same(&s->in[j], &s->out)) return true;
  return false;
}

int64_t plan_block_rows(const plan *p, int64_t batch) {
  /* (the smaller first: a batch near INT64_MAX does not round over it) */
  return batch < p->block_rows ? round16(batch) : p->block_rows;
}

void plan_print(strbuf *sb, const actjit_graph *g, const plan *p) {
  /* (the block buffers counted for one task) */
  sb_printf(sb, "# memory plan: %d kernel%s, scratch %lld*N+%lld floats (peak intermediate bytes %lld*N+%lld", p->n,
            p->n == 1 ? "" : "s", (long long)p->scratch_dyn, (long long)p->scratch_static,
            (long long)p->scratch_dyn * 4, (long long)p->scratch_static * 4);
  if (p->nruns) sb_printf(sb, ", and %lld a block row", (long long)p->block_row_floats * 4);
  sb_printf(sb, ")\n");
  for (int i = 0; i < p->nruns; i++)
    sb_printf(sb, "#   depth-first: kernels %d-%d in blocks of %lld rows, block buffers %lld floats a row\n",
              p->runs[i].first, p->runs[i].last, (long long)p->block_rows, (long long)p->block_row_floats);
  for (int i = 0; i < p->n; i++) {
    const step *s = &p->steps[i];
    sb_printf(sb, "#   kernel %d:", i);
    for (int j = 0; j < s->grp.n; j++) {
      sb_printf(sb, "%s %s ", j ? " |" : "", op_table[g->nodes[s->grp.m[j]].op].name);
      print_name(sb, '%', g->nodes[s->grp.m[j]].name);
    }
    sb_printf(sb, "  reads ");
    for (int j = 0; j < s->grp.nins; j++) {
      if (j) sb_printf(sb, ", ");
      print_buffer(sb, &s->in[j]);
    }
    sb_printf(sb, "%swrites ", s->grp.nins ? ", " : "nothing, ");
    print_buffer(sb, &s->out);
    sb_printf(sb, "%s\n", step_in_place(s) ? " (in place)" : "");
  }
}
