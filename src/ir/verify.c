/* The verifier: checks one op's operands and attributes against the op
 * table and infers its result shape; and checks a whole graph. */
#include <math.h>
#include <stdio.h>

#include "ir/ir.h"
#include "ir/group.h"

const char *node_where(const actjit_graph *g, const node *nd, char *buf,
                       size_t len) {
  if (nd->line)
    snprintf(buf, len, "%s:%d:%d: %s", g->file ? g->file : "<input>", nd->line,
             nd->col, op_table[nd->op].name);
  else
    snprintf(buf, len, "%s %%%s", op_table[nd->op].name, nd->name);
  return buf;
}

#define FAIL(...)                                                   \
  do {                                                              \
    char w_[256];                                                   \
    char m_[512];                                                   \
    snprintf(m_, sizeof m_, __VA_ARGS__);                           \
    return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s: %s",            \
                    node_where(g, nd, w_, sizeof w_), m_);          \
  } while (0)

/* Element counts stay below 2^48 per batch row, so that no shape product,
 * before or after a flatten, and no byte count can overflow. */
#define MAX_ELEMENTS ((int64_t)1 << 48)

static bool shape_fits(const shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++) {
    if (s->d[i] > MAX_ELEMENTS || (s->d[i] && n > MAX_ELEMENTS / s->d[i])) return false;
    if (s->d[i]) n *= s->d[i];
  }
  return true;
}

static actjit_status verify_source(actjit_graph *g, const node *nd, shape *out) {
  const shape *s = &nd->shape;
  int lowest = nd->op == OP_CONST ? 0 : 1; /* a constant may be a scalar */
  if (s->rank < lowest || s->rank > ACTJIT_MAX_RANK) FAIL("rank must be %d..%d", lowest, ACTJIT_MAX_RANK);
  if (nd->op == OP_PARAM && s->dyn) FAIL("parameter @%s cannot have a batch dimension", nd->name);
  if (nd->op == OP_CONST && s->dyn) FAIL("a constant cannot have a batch dimension");
  if (nd->op == OP_INPUT && g->input >= 0 && g->input != nd - g->nodes) FAIL("a pipeline has one input; %%%s is a second", nd->name);
  for (int i = 0; i < s->rank; i++)
    if (s->d[i] < 0) FAIL("negative dimension");
  *out = *s;
  return ACTJIT_OK;
}

static actjit_status verify_param_arg(actjit_graph *g, const node *nd, int i,
                                      const char *what, int64_t expect) {
  const node *p = &g->nodes[nd->args[i]];
  char buf[96];
  if (p->op != OP_PARAM) FAIL("%s must be a parameter (@name), got %%%s", what, p->name);
  if (p->shape.rank != 1 || p->shape.d[0] != expect)
    FAIL("%s @%s has shape %s, expected [%lld]", what, p->name,
         shape_str(&p->shape, buf, sizeof buf), (long long)expect);
  return ACTJIT_OK;
}

static actjit_status verify_linear(actjit_graph *g, const node *nd, const shape *x, shape *out) {
  const node *w = &g->nodes[nd->args[1]];
  char bx[96], bw[96];
  if (w->op != OP_PARAM) FAIL("weight must be a parameter (@name), got %%%s", w->name);
  if (w->shape.rank != 2) FAIL("weight @%s has shape %s, expected [out_features, in_features]",
                               w->name, shape_str(&w->shape, bw, sizeof bw));
  int last = x->rank - 1;
  if (last == 0 && x->dyn) FAIL("the input's last axis %s cannot be the batch", shape_str(x, bx, sizeof bx));
  if (x->d[last] != w->shape.d[1])
    FAIL("input %s does not match weight @%s %s: in_features %lld != %lld",
         shape_str(x, bx, sizeof bx), w->name, shape_str(&w->shape, bw, sizeof bw),
         (long long)x->d[last], (long long)w->shape.d[1]);
  if (nd->nargs == 3) {
    actjit_status st = verify_param_arg(g, nd, 2, "bias", w->shape.d[0]);
    if (st) return st;
  }
  *out = *x;
  out->d[last] = w->shape.d[0];
  return ACTJIT_OK;
}

static actjit_status verify_eltwise(actjit_graph *g, const node *nd, const shape *x, shape *out) {
  *out = *x;
  if (op_is_binary(nd->op)) {
    const shape *y = &g->nodes[nd->args[1]].shape;
    char bx[96], by[96];
    if (!shape_broadcast(x, y, out))
      FAIL("operands of shapes %s and %s do not broadcast (trailing dims must be equal or 1, the batch leading)",
           shape_str(x, bx, sizeof bx), shape_str(y, by, sizeof by));
  }
  switch (nd->op) {
  case OP_DROPOUT:
    if (!(nd->attr[0] >= 0 && nd->attr[0] <= 1)) FAIL("p must be in [0, 1], got %g", nd->attr[0]);
    break;
  case OP_LEAKY_RELU:
    if (!isfinite(nd->attr[0])) FAIL("negative_slope must be finite, got %g", nd->attr[0]);
    break;
  case OP_CELU:
    if (nd->attr[0] == 0) FAIL("alpha cannot be 0 (CELU divides by it)");
    break;
  case OP_GELU:
    if (nd->attr[0] != 0 && nd->attr[0] != 1) FAIL("approximate must be 0 ('none') or 1 ('tanh'), got %g", nd->attr[0]);
    break;
  case OP_HARDTANH:
    if (!(nd->attr[1] > nd->attr[0])) FAIL("max_val %g must be greater than min_val %g", nd->attr[1], nd->attr[0]);
    break;
  case OP_SOFTSHRINK:
    if (!(nd->attr[0] >= 0)) FAIL("lambd must be at least 0, got %g", nd->attr[0]);
    break;
  case OP_PRELU: {
    /* PyTorch: the channel dim is dim 1; a rank-1 input has one channel. */
    const node *w = &g->nodes[nd->args[1]];
    int64_t channels = x->rank >= 2 ? x->d[1] : 1;
    char bw[96];
    if (w->op != OP_PARAM) FAIL("weight must be a parameter (@name), got %%%s", w->name);
    if (w->shape.rank != 1 || (w->shape.d[0] != 1 && w->shape.d[0] != channels))
      FAIL("weight @%s has shape %s, expected [1] or [%lld] (one weight, or one per channel of dim 1)", w->name,
           shape_str(&w->shape, bw, sizeof bw), (long long)channels);
    break;
  }
  case OP_RELU: case OP_SIGMOID: case OP_TANH: case OP_IDENTITY: case OP_EXP: case OP_ELU: case OP_SELU:
  case OP_SILU: case OP_MISH: case OP_HARDSIGMOID: case OP_HARDSWISH: case OP_RELU6: case OP_SOFTPLUS:
  case OP_SOFTSIGN: case OP_TANHSHRINK: case OP_THRESHOLD: case OP_LOGSIGMOID: case OP_HARDSHRINK: case OP_RRELU:
  case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_POW: case OP_NEG:
  case OP_ABS: case OP_SQRT: case OP_RECIPROCAL: case OP_ERF: case OP_LOG: case OP_CLIP:
    break; /* any finite attribute values (clip with min > max gives max, as torch.clamp) */
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_GLU: case OP_FLATTEN: case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL: case OP_COUNT:
    FAIL("not an elementwise op");
  }
  return ACTJIT_OK;
}

static actjit_status verify_softmax(actjit_graph *g, const node *nd, const shape *x, shape *out) {
  if (isnan(nd->attr[0])) FAIL("missing attribute dim");
  if (dim_index(nd->attr[0], x->rank) < 0)
    FAIL("dim %g out of range for rank %d (expected an integer in [%d, %d])", nd->attr[0],
         x->rank, -x->rank, x->rank - 1);
  *out = *x;
  return ACTJIT_OK;
}

/* glu halves its dim: even, and when the dim is the batch's, its static
 * factor (N*k after a flatten) even. */
static actjit_status verify_glu(actjit_graph *g, const node *nd, const shape *x, shape *out) {
  int d = dim_index(nd->attr[0], x->rank);
  char buf[96];
  if (d < 0)
    FAIL("dim %g out of range for rank %d (expected an integer in [%d, %d])", nd->attr[0], x->rank, -x->rank,
         x->rank - 1);
  if (x->d[d] % 2)
    FAIL("dim %d of %s must have an even size to be halved, got %s%lld", d, shape_str(x, buf, sizeof buf),
         d == 0 && x->dyn ? "N*" : "", (long long)x->d[d]);
  *out = *x;
  out->d[d] /= 2;
  return ACTJIT_OK;
}

static actjit_status verify_flatten(actjit_graph *g, const node *nd, const shape *x, shape *out) {
  int lo = dim_index(nd->attr[0], x->rank), hi = dim_index(nd->attr[1], x->rank);
  if (lo < 0 || hi < 0)
    FAIL("start_dim %g / end_dim %g out of range for rank %d", nd->attr[0], nd->attr[1], x->rank);
  if (lo > hi) FAIL("start_dim %d comes after end_dim %d", lo, hi);
  *out = (shape){.rank = x->rank - (hi - lo), .dyn = x->dyn};
  int k = 0;
  for (int i = 0; i < x->rank; i++) {
    if (i > lo && i <= hi) out->d[k - 1] *= x->d[i];
    else out->d[k++] = x->d[i];
  }
  /* The batch folded with a zero extent is 0 at every batch: a static 0
   * (the type has no N*0). */
  if (out->dyn && out->d[0] == 0) out->dyn = false;
  return ACTJIT_OK;
}

/* unsqueeze: a dim of 1 inserted at dim (PyTorch's range, [-rank - 1,
 * rank]); not before the batch, which leads. */
static actjit_status verify_unsqueeze(actjit_graph *g, const node *nd, const shape *x, shape *out) {
  int d = dim_index(nd->attr[0], x->rank + 1);
  char buf[96];
  if (d < 0)
    FAIL("dim %g out of range for rank %d (expected an integer in [%d, %d])", nd->attr[0], x->rank, -x->rank - 1,
         x->rank);
  if (x->rank == ACTJIT_MAX_RANK) FAIL("the result would have rank %d; the largest is %d", x->rank + 1, ACTJIT_MAX_RANK);
  if (d == 0 && x->dyn) FAIL("dim 0 of %s would come before the batch N, which must lead", shape_str(x, buf, sizeof buf));
  *out = (shape){.rank = x->rank + 1, .dyn = x->dyn};
  for (int i = 0, k = 0; i < out->rank; i++) out->d[i] = i == d ? 1 : x->d[k++];
  return ACTJIT_OK;
}

/* transpose: result dim i is dim perm[i] of x (negative counts from the
 * end); the batch N stays dim 0. */
static actjit_status verify_transpose(actjit_graph *g, const node *nd, const shape *x, shape *out) {
  const attr_list *p = &nd->list;
  bool seen[ACTJIT_MAX_RANK] = {0};
  char buf[96];
  if (p->n != x->rank) FAIL("perm has %d values for an operand of rank %d", p->n, x->rank);
  *out = *x;
  for (int i = 0; i < p->n; i++) {
    int d = dim_index(p->v[i], x->rank);
    if (d < 0 || seen[d]) FAIL("perm is not a permutation of %d dims: value %d is %g", x->rank, i, p->v[i]);
    seen[d] = true;
    out->d[i] = x->d[d];
  }
  if (x->dyn && dim_index(p->v[0], x->rank) != 0)
    FAIL("perm moves the batch dim of %s: perm[0] must be 0, the batch leading", shape_str(x, buf, sizeof buf));
  return ACTJIT_OK;
}

/* matmul: a [..., M, K] times @w [..., K, P], the dims before the last two
 * broadcast (NumPy's matmul); w batched (rank >= 3: a rank-2 weight is a
 * linear's, transposed), the batch N leading a's and the result's. */
static actjit_status verify_matmul(actjit_graph *g, const node *nd, const shape *a, shape *out) {
  const node *w = &g->nodes[nd->args[1]];
  const shape *ws = &w->shape;
  char ba[96], bw[96];
  if (w->op != OP_PARAM) FAIL("weight must be a parameter (@name), got %%%s", w->name);
  if (ws->rank < 3)
    FAIL("weight @%s has shape %s, expected a batch of matrices [..., K, P] (rank >= 3; a matrix is a linear's weight)",
         w->name, shape_str(ws, bw, sizeof bw));
  if (a->rank < 2) FAIL("operand %s must have rank 2 or more: [..., M, K]", shape_str(a, ba, sizeof ba));
  if (a->rank == 2 && a->dyn)
    FAIL("the batch N of %s, its rows, would not lead the result (weight @%s %s)", shape_str(a, ba, sizeof ba), w->name,
         shape_str(ws, bw, sizeof bw));
  if (a->d[a->rank - 1] != ws->d[ws->rank - 2])
    FAIL("operand %s does not match weight @%s %s: K %lld != %lld", shape_str(a, ba, sizeof ba), w->name,
         shape_str(ws, bw, sizeof bw), (long long)a->d[a->rank - 1], (long long)ws->d[ws->rank - 2]);
  shape pa = *a, pw = *ws;
  pa.rank -= 2, pw.rank -= 2;
  if (!shape_broadcast(&pa, &pw, out))
    FAIL("the batch dims of %s and of weight @%s %s do not broadcast (trailing dims equal or 1, the batch leading)",
         shape_str(a, ba, sizeof ba), w->name, shape_str(ws, bw, sizeof bw));
  out->d[out->rank++] = a->d[a->rank - 2];
  out->d[out->rank++] = ws->d[ws->rank - 1];
  return ACTJIT_OK;
}

actjit_status verify_node(actjit_graph *g, const node *nd, shape *out) {
  const op_info *oi = &op_table[nd->op];
  char buf[96];
  if (oi->kind == K_SOURCE && !shape_fits(&nd->shape))
    FAIL("shape %s has more than 2^48 elements per batch row", shape_str(&nd->shape, buf, sizeof buf));
  if (oi->kind == K_SOURCE) return verify_source(g, nd, out);
  if (nd->nargs < oi->min_args || nd->nargs > oi->max_args)
    FAIL("takes %d..%d operands, got %d", oi->min_args, oi->max_args, nd->nargs);
  for (int i = 0; i < OP_MAX_ATTRS; i++)
    if (oi->attr_name[i] && isnan(nd->attr[i])) FAIL("missing attribute %s", oi->attr_name[i]);
  if (oi->list_name && !nd->list.n) FAIL("missing attribute %s", oi->list_name);
  /* The operand a kernel loops over is a tensor value (the input or an op's
   * result), not a parameter or constant: either one of a binary op's. */
  const node *x = &g->nodes[nd->args[0]];
  bool binary = op_is_binary(nd->op), x_source = ir_is_source(g, nd->args[0]) && x->op != OP_INPUT;
  if (binary && x_source && ir_is_source(g, nd->args[1]) && g->nodes[nd->args[1]].op != OP_INPUT)
    FAIL("at least one operand must be a tensor value, not a parameter or constant");
  if (!binary && x_source && x->op == OP_PARAM) FAIL("operand must be a tensor value, not parameter @%s", x->name);
  if (!binary && x_source && *x->name) FAIL("operand must be a tensor value, not constant %%%s", x->name);
  if (!binary && x_source) FAIL("operand must be a tensor value, not a constant");
  actjit_status st = ACTJIT_OK;
  switch (oi->kind) {
  case K_LINEAR: st = verify_linear(g, nd, &x->shape, out); break;
  case K_ELTWISE: st = verify_eltwise(g, nd, &x->shape, out); break;
  case K_SOFTMAX: st = verify_softmax(g, nd, &x->shape, out); break;
  case K_GLU: st = verify_glu(g, nd, &x->shape, out); break;
  case K_VIEW:
    st = nd->op == OP_UNSQUEEZE ? verify_unsqueeze(g, nd, &x->shape, out) : verify_flatten(g, nd, &x->shape, out);
    break;
  case K_TRANSPOSE: st = verify_transpose(g, nd, &x->shape, out); break;
  case K_MATMUL: st = verify_matmul(g, nd, &x->shape, out); break;
  case K_SOURCE: break;
  }

  if (!st && !shape_fits(out)) FAIL("result %s has more than 2^48 elements per batch row", shape_str(out, buf, sizeof buf));
  return st;
}

actjit_status actjit_graph_verify(actjit_graph *g) {
  if (!g) return ACTJIT_ERR_ARGUMENT;
  const char *file = g->file ? g->file : "<graph>";
  g->input = -1;
  for (int i = 0; i < g->n; i++) {
    shape s;
    actjit_status st = verify_node(g, &g->nodes[i], &s);
    if (st) return st;
    if (g->nodes[i].op == OP_INPUT) g->input = i;
  }
  if (g->input < 0) return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s: the pipeline has no input", file);
  if (g->output < 0) return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s: the pipeline has no output", file);
  return group_verify(g);
}
