#include "plan.h"

#include <stdlib.h>

#include "print.h"

/* Scratch buffers start on 64-byte boundaries: round each part to 16 floats. */
static int64_t round16(int64_t v) { return (v + 15) & ~(int64_t)15; }

actjit_status plan_unfused(const actjit_graph *g, plan *p) {
  *p = (plan){0};
  /* The live path: from the output back to the input through operand 0. */
  int *path = malloc((size_t)g->n * sizeof *path), len = 0;
  if (!path) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int v = g->output; g->nodes[v].op != OP_INPUT; v = g->nodes[v].args[0]) path[len++] = v;
  p->steps = calloc((size_t)len + 1, sizeof *p->steps);
  buffer *bufs = calloc((size_t)g->n, sizeof *bufs);
  if (!p->steps || !bufs) {
    free(path), free(bufs);
    return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  bufs[g->input] = (buffer){.kind = BUF_INPUT, .size = shape_numel(&g->nodes[g->input].shape)};
  /* The op that writes the output (the output may be a view of it). */
  int last = g->output;
  while (op_table[g->nodes[last].op].kind == K_VIEW) last = g->nodes[last].args[0];
  actjit_status st = ACTJIT_OK;
  if (g->nodes[last].op == OP_INPUT)
    st = aj_error(g->ctx, ACTJIT_ERR_VERIFY, "output %%%s is a view of the input: nothing to compute (add identity)",
                  g->nodes[g->output].name);
  for (int k = len - 1; k >= 0 && !st; k--) {
    int v = path[k];
    const node *nd = &g->nodes[v];
    if (op_table[nd->op].kind == K_VIEW) {
      bufs[v] = bufs[nd->args[0]];
      continue;
    }
    extent size = shape_numel(&nd->shape);
    if (v == last) {
      bufs[v] = (buffer){.kind = BUF_OUTPUT, .size = size};
    } else {
      bufs[v] = (buffer){.kind = BUF_SCRATCH, .off_dyn = p->scratch_dyn,
                         .off_static = p->scratch_static, .size = size};
      if (size.dyn) p->scratch_dyn += round16(size.mul);
      else p->scratch_static += round16(size.mul);
    }
    p->steps[p->n++] = (step){.node = v, .in = bufs[nd->args[0]], .out = bufs[v]};
  }
  free(path);
  free(bufs);
  if (st) plan_free(p);
  return st;
}

void plan_free(plan *p) {
  free(p->steps);
  *p = (plan){0};
}

static void print_buffer(strbuf *sb, const buffer *b) {
  static const char *const names[] = {"input", "output", "scratch"};
  sb_printf(sb, "%s", names[b->kind]);
  if (b->kind == BUF_SCRATCH)
    sb_printf(sb, "+(%lld*N+%lld)", (long long)b->off_dyn, (long long)b->off_static);
}

void plan_print(strbuf *sb, const actjit_graph *g, const plan *p) {
  sb_printf(sb, "# memory plan: scratch %lld*N+%lld floats\n", (long long)p->scratch_dyn,
            (long long)p->scratch_static);
  for (int i = 0; i < p->n; i++) {
    const step *s = &p->steps[i];
    sb_printf(sb, "#   kernel %d: %s %%%s  ", i, op_table[g->nodes[s->node].op].name, g->nodes[s->node].name);
    print_buffer(sb, &s->in);
    sb_printf(sb, " -> ");
    print_buffer(sb, &s->out);
    sb_printf(sb, "\n");
  }
}
