/* Idiom recognition: activations written in primitives, as exporters such
 * as torch.onnx.export write them, become the high-level ops, which have
 * accurate vector math and known value ranges (ONNX Runtime's GELU fusions
 * do the same).  Runs first, in fused and unfused compiles alike, unless
 * turned off (actjit_compile_options.canonicalize, --no-canonicalize).
 *
 * A pattern is matched backwards from its last node, the root, which is
 * rewritten in place (it keeps its name; every operand it takes comes
 * before it).  The pattern's other nodes must be used only by the pattern,
 * so no other use sees a change, in whatever fusion group they are (a text
 * `fuse { }` around the root alone must not stop a rewrite the unfused
 * compile, which drops the groups, makes); they go once nothing uses them
 * (dce runs only in fused compiles), parameters aside.  A constant operand
 * matches by value within float rounding of the canonical one (2^-21
 * relative, as a literal, a rank-0 or a one-element constant),
 * commutative operands match either way round, and a product
 * matches in any grouping: x·(1 + erf)·0.5, (0.5·x)·(1 + erf) and
 * x·(1 + erf)/2 are one pattern.  The comment on each rule gives what
 * torch 1.13's torch.onnx.export writes at opsets 11, 13, 14 and 17 (the
 * same at all four unless said), written in actjit's IR.
 *
 * A rewrite agrees with the primitive form within the high-level op's error
 * bound wherever the primitive form is itself accurate, and is more accurate
 * where it is not (1 + erf(x/√2) cancels to 0 below x ≈ -5.5, log(sigmoid)
 * is -Inf below -88.7): tests/test_canonicalize.c checks each rule on special
 * and random inputs against the float64 function.  A rule that would change
 * a value the primitive form gets right (other than the sign of a zero,
 * which the clamps keep too) is restricted: (x/6)·relu6(x + 3) becomes
 * hardswish only where x ≤ FLT_MAX/6, since hardswish rounds x·relu6(x + 3)
 * and that overflows above.  The one exception is torch's own export of nn.Hardswish at
 * opsets 11 and 13, x·hardsigmoid(x) (and so x·(relu6(x + 3)/6), whose
 * factor is hardsigmoid), which becomes the module it came from: for x
 * above FLT_MAX/6 that is +Inf, as nn.Hardswish computes it, where the
 * product gives x. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

#define SQRT2 1.41421356237309504880

enum { MATCH_MAX = 32, FACTORS_MAX = 4 };

/* A pattern found at `root`: what the root becomes, and the nodes of the
 * primitive form, removed if nothing uses them after the rewrite. */
typedef struct match {
  const actjit_graph *g;
  const bool *live; /* ir_mark_live's */
  int root;
  int old[MATCH_MAX], nold;
  op_id op;
  int args[OP_MAX_ARGS], nargs;
  double attr[OP_MAX_ATTRS];
} match;

/* The value of a one-element constant (a literal, rank 0, or [1], [1, 1], ...). */
static bool scalar(const actjit_graph *g, int v, double *c) {
  const node *nd = &g->nodes[v];
  if (nd->op != OP_CONST || shape_static_numel(&nd->shape) != 1) return false;
  *c = nd->data[0];
  return true;
}

/* c is `want` up to float rounding (a product of two rounded constants is
 * within 2^-23 of it); a zero only matches exactly, its sign included:
 * maximum(x, -0) is -0 for every negative x, where relu(x) is +0. */
static bool near(double c, double want) {
  return want ? fabs(c - want) <= 0x1p-21 * fabs(want) : c == 0 && !signbit(c);
}

/* v is part of the primitive form.  Only a node nothing uses after the
 * rewrite is removed, so a note left by an alternative that failed to
 * match is harmless. */
static bool note(match *m, int v) {
  if (m->nold == MATCH_MAX) return false;
  m->old[m->nold++] = v;
  return true;
}

/* v is a constant within rounding of `want`. */
static bool constant(match *m, int v, double want) {
  double c;
  return scalar(m->g, v, &c) && near(c, want) && note(m, v);
}

/* v's uses by live nodes (and as the output): a dead one (an eval-mode
 * dropout whose value nothing reads) is gone once dce runs, and the
 * passes must find the same patterns in their own printed result. */
static int live_uses(const match *m, int v) {
  int n = m->g->output == v;
  for (int i = 0; i < m->g->n; i++)
    for (int a = 0; m->live[i] && a < m->g->nodes[i].nargs; a++) n += m->g->nodes[i].args[a] == v;
  return n;
}

/* v is computed by `op` for the pattern alone (one live use): its node,
 * else NULL. */
static const node *inner(match *m, int v, op_id op) {
  const node *nd = &m->g->nodes[v];
  bool alone = nd->op == op && live_uses(m, v) == 1;
  return alone && note(m, v) ? nd : NULL;
}

/* v is inner `op` of operand x (a unary op): its node, else NULL. */
static const node *inner_of(match *m, int v, op_id op, int x) {
  return m->g->nodes[v].op == op && m->g->nodes[v].args[0] == x ? inner(m, v, op) : NULL;
}

/* v is inner binary `op` of a value and a constant within rounding of c
 * (either way round if the op commutes): the value, else -1. */
static int inner_with(match *m, int v, op_id op, double c) {
  const node *nd = &m->g->nodes[v];
  if (nd->op != op) return -1;
  bool commutes = op == OP_ADD || op == OP_MUL || op == OP_MAXIMUM || op == OP_MINIMUM;
  int mark = m->nold;
  for (int k = 0; k < (commutes ? 2 : 1); k++, m->nold = mark)
    if (constant(m, nd->args[1 - k], c) && inner(m, v, op)) return nd->args[k];
  return -1;
}

/* A product: factors f[0..n) times the constant c. */
typedef struct product {
  int f[FACTORS_MAX], n;
  double c;
} product;

static bool push(product *p, int v) {
  if (p->n == FACTORS_MAX) return false;
  p->f[p->n++] = v;
  return true;
}

/* Multiplies into p the factors of v, looking through inner muls, divisions
 * by a constant and pow by 2 or 3; `top`: v is the root itself. */
static bool factor(match *m, int v, bool top, product *p) {
  const node *nd = &m->g->nodes[v];
  double c = 0;
  if (!top && scalar(m->g, v, &c)) {
    p->c *= c;
    return note(m, v);
  }
  bool by_const = nd->nargs == 2 && scalar(m->g, nd->args[1], &c);
  bool opens = nd->op == OP_MUL || (by_const && (nd->op == OP_DIV || (nd->op == OP_POW && (c == 2 || c == 3))));
  if (!opens || !(top || inner(m, v, nd->op))) return push(p, v);
  if (nd->op == OP_MUL) return factor(m, nd->args[0], false, p) && factor(m, nd->args[1], false, p);
  if (!note(m, nd->args[1])) return false;
  if (nd->op == OP_DIV) {
    p->c /= c;
    return factor(m, nd->args[0], false, p);
  }
  for (int k = 0; k < c; k++)
    if (!push(p, nd->args[0])) return false;
  return true;
}

static bool factors(match *m, int v, bool top, product *p) {
  *p = (product){.c = 1};
  return factor(m, v, top, p);
}

/* The product at v is x times a constant within rounding of c; sets *x. */
static bool scaled(match *m, int v, double c, int *x) {
  product p;
  if (!factors(m, v, false, &p) || p.n != 1 || !near(p.c, c)) return false;
  *x = p.f[0];
  return true;
}

/* The root becomes `op` of x, attributes the op's defaults but a0 (NAN:
 * the default), if x is a tensor value of the root's shape. */
static bool become(match *m, op_id op, int x, double a0) {
  const actjit_graph *g = m->g;
  if ((ir_is_source(g, x) && g->nodes[x].op != OP_INPUT) || !shape_eq(&g->nodes[x].shape, &g->nodes[m->root].shape))
    return false;
  m->op = op;
  m->args[0] = x;
  m->nargs = 1;
  memcpy(m->attr, op_table[op].attr_default, sizeof m->attr);
  if (!isnan(a0)) m->attr[0] = a0;
  return true;
}

/* ------------------------------------------------------------ the rules */

/* relu6(x + 3): x, else -1. */
static int relu6_of_x_plus_3(match *m, int v) {
  const node *r = inner(m, v, OP_RELU6);
  return r ? inner_with(m, r->args[0], OP_ADD, 3) : -1;
}

/* The root's other operand when one is a constant (a division's divisor), else -1. */
static int scaled_operand(const actjit_graph *g, const node *r) {
  double c;
  if ((r->op == OP_MUL || r->op == OP_DIV) && scalar(g, r->args[1], &c)) return r->args[0];
  return r->op == OP_MUL && scalar(g, r->args[0], &c) ? r->args[1] : -1;
}

/* 1 + f(...) in either order: the node of f, else NULL. */
static const node *one_plus(match *m, int v, op_id f) {
  const node *a = &m->g->nodes[v];
  if (a->op != OP_ADD || !inner(m, v, OP_ADD)) return NULL;
  int mark = m->nold;
  for (int k = 0; k < 2; k++, m->nold = mark) {
    const node *fn = inner(m, a->args[k], f);
    if (fn && constant(m, a->args[1 - k], 1)) return fn;
  }
  return NULL;
}

/* The tanh form's inner polynomial u = sqrt(2/pi)·(x + 0.044715·x³), or
 * sqrt(2/pi)·x·(1 + 0.044715·x²) (Megatron's bias_gelu). */
static bool gelu_tanh_arg(match *m, int u, int x) {
  product p, k;
  if (!factors(m, u, false, &p) || !near(p.c, GELU_BETA_F)) return false;
  if (p.n == 1) { /* x + κ·x³ */
    const node *b = inner(m, p.f[0], OP_ADD);
    int mark = m->nold;
    for (int i = 0; b && i < 2; i++, m->nold = mark)
      if (b->args[i] == x && factors(m, b->args[1 - i], false, &k) && k.n == 3 && near(k.c, GELU_KAPPA_F) &&
          k.f[0] == x && k.f[1] == x && k.f[2] == x)
        return true;
    return false;
  }
  int mark = m->nold;
  for (int i = 0; p.n == 2 && i < 2; i++, m->nold = mark) { /* x·(1 + κ·x²) */
    const node *c = &m->g->nodes[p.f[1 - i]];
    if (p.f[i] != x || c->op != OP_ADD || !inner(m, p.f[1 - i], OP_ADD)) continue;
    for (int j = 0; j < 2; j++)
      if (constant(m, c->args[j], 1) && factors(m, c->args[1 - j], false, &k) && k.n == 2 &&
          near(k.c, GELU_KAPPA_F) && k.f[0] == x && k.f[1] == x)
        return true;
  }
  return false;
}

/* Products of x and something of x (times a constant):
 *   silu  x·sigmoid(x): Mul(x, Sigmoid(x))  [nn.SiLU]
 *   mish  x·tanh(softplus(x)): Mul(x, Tanh(Softplus(x))), ONNX's Softplus
 *         being softplus {beta = 1, threshold = 20}  [nn.Mish].  Any
 *         threshold of 10 or more: above it softplus passes x, and
 *         tanh(x) rounds to 1 as tanh(softplus(x)) does.
 *   gelu  x·(1 + erf(x/√2))·0.5: Mul(Mul(x, Add(Erf(Div(x, 1.4142135)), 1)),
 *         0.5)  [nn.GELU()]; also x·0.70710677, 0.5·x first, /2
 *   gelu {approximate = 1}  x·(1 + tanh(u))·0.5 with u as gelu_tanh_arg:
 *         Mul(0.5, Mul(x, Add(1, Tanh(Mul(0.7978846, Add(x, Mul(0.044715,
 *         Mul(x, Mul(x, x))))))))  [nn.GELU('tanh')]; also Pow(x, 3)
 *   hardswish  x·relu6(x + 3)/6 (relu6 as clip/min/max, rewritten first):
 *         hardswish is x·relu6(x + 3) rounded, then /6, which overflows
 *         where x > FLT_MAX/6, so that order, or an x known (value ranges)
 *         to lie below, is rewritten; and x·hardsigmoid(x) for any x:
 *         Mul(x, HardSigmoid(x) {alpha = 1/6, beta = 0.5}), hardsigmoid in
 *         actjit, is nn.Hardswish as torch writes it at opsets 11 and 13
 *         (14 and 17 write HardSwish), and becomes it with its overflow
 *         (the exception above). */
static bool times_x(match *m, const node *r) {
  product p;
  if ((r->op != OP_MUL && r->op != OP_DIV) || !factors(m, m->root, true, &p) || p.n != 2) return false;
  int mark = m->nold;
  for (int k = 0; k < 2; k++, m->nold = mark) {
    int x = p.f[k], f = p.f[1 - k];
    const node *t, *s, *a;
    if (near(p.c, 1) && inner_of(m, f, OP_SIGMOID, x)) return become(m, OP_SILU, x, NAN);
    if (near(p.c, 1) && (t = inner(m, f, OP_TANH)) && (s = inner_of(m, t->args[0], OP_SOFTPLUS, x)) &&
        s->attr[0] == 1 && s->attr[1] >= 10)
      return become(m, OP_MISH, x, NAN);
    if (near(p.c, 0.5) && (a = one_plus(m, f, OP_ERF))) {
      int y;
      if (scaled(m, a->args[0], 1 / SQRT2, &y) && y == x) return become(m, OP_GELU, x, 0);
    }
    if (near(p.c, 0.5) && (a = one_plus(m, f, OP_TANH)) && gelu_tanh_arg(m, a->args[0], x))
      return become(m, OP_GELU, x, 1);
    if (near(p.c, 1) && inner_of(m, f, OP_HARDSIGMOID, x)) return become(m, OP_HARDSWISH, x, NAN);
    bool below = m->g->nodes[x].range.hi <= FLT_MAX / 6;
    if (near(p.c, 1.0 / 6) && relu6_of_x_plus_3(m, f) == x) {
      /* x·relu6(x + 3) formed first, then scaled by the root */
      int xr = scaled_operand(m->g, r);
      const node *prod = xr >= 0 && m->g->nodes[xr].op == OP_MUL ? &m->g->nodes[xr] : NULL;
      bool first = prod && ((prod->args[0] == x && prod->args[1] == f) || (prod->args[0] == f && prod->args[1] == x));
      if (first || below) return become(m, OP_HARDSWISH, x, NAN);
    }
  }
  return false;
}

/* Scaled products of one value:
 *   hardsigmoid  relu6(x + 3)/6 (also ·1/6); ONNX's HardSigmoid {alpha =
 *         1/6, beta = 0.5} is hardsigmoid already  [nn.Hardsigmoid]
 *   softplus {beta = b}  softplus(b·x)/b: Div(Softplus(Mul(x, 2)), 2)
 *         [nn.Softplus(beta=2)], the inner softplus {beta = 1} with any
 *         threshold t (then z = b·x > t passes x, as z/b did) */
static bool scaled_one(match *m, const node *r) {
  product p, q;
  if ((r->op != OP_MUL && r->op != OP_DIV) || !factors(m, m->root, true, &p) || p.n != 1) return false;
  int mark = m->nold, x;
  if (near(p.c, 1.0 / 6) && (x = relu6_of_x_plus_3(m, p.f[0])) >= 0) return become(m, OP_HARDSIGMOID, x, NAN);
  m->nold = mark;
  const node *s = inner(m, p.f[0], OP_SOFTPLUS);
  if (!s || s->attr[0] != 1 || !factors(m, s->args[0], false, &q) || q.n != 1) return false;
  float b = (float)q.c; /* the float the primitive form multiplies x by */
  if (!(b > 0 && isfinite(b) && b == q.c && near(p.c, 1 / q.c)) || !become(m, OP_SOFTPLUS, q.f[0], b)) return false;
  m->attr[1] = s->attr[1];
  return true;
}

/* softsign  x/(|x| + 1): Div(x, Add(Abs(x), 1))  [nn.Softsign at opsets
 * 11-17: F.softsign is that expression, which softsign computes in the same
 * float operations] */
static bool softsign(match *m, const node *r) {
  const node *a = r->op == OP_DIV ? one_plus(m, r->args[1], OP_ABS) : NULL;
  return a && a->args[0] == r->args[0] && become(m, OP_SOFTSIGN, r->args[0], NAN);
}

/* tanhshrink  x - tanh(x): Sub(x, Tanh(x))  [nn.Tanhshrink] */
static bool tanhshrink(match *m, const node *r) {
  return r->op == OP_SUB && inner_of(m, r->args[1], OP_TANH, r->args[0]) && become(m, OP_TANHSHRINK, r->args[0], NAN);
}

/* softmin  softmax(-x): Softmax(Neg(x)) {axis}  [nn.Softmin(dim) over the
 * last dim; opset 11 writes other dims with Transposes around it] */
static bool softmin(match *m, const node *r) {
  const node *n = r->op == OP_SOFTMAX ? inner(m, r->args[0], OP_NEG) : NULL;
  return n && become(m, OP_SOFTMIN, n->args[0], r->attr[0]);
}

/* log_softmax  log(softmax(x)) (torch writes nn.LogSoftmax as LogSoftmax
 * itself); logsigmoid  log(sigmoid(x)): Log(Sigmoid(x))  [nn.LogSigmoid] */
static bool log_of(match *m, const node *r) {
  if (r->op != OP_LOG) return false;
  const node *s = inner(m, r->args[0], OP_SOFTMAX);
  if (s) return become(m, OP_LOG_SOFTMAX, s->args[0], s->attr[0]);
  s = inner(m, r->args[0], OP_SIGMOID);
  return s && become(m, OP_LOGSIGMOID, s->args[0], NAN);
}

/* Can v be -0?  Not a sum with a nonzero constant (an exact zero sum is
 * +0), nor the minimum of such a value and a positive constant. */
static bool may_be_minus_zero(const actjit_graph *g, int v) {
  const node *nd = &g->nodes[v];
  double c;
  if (nd->op == OP_ADD || nd->op == OP_SUB)
    for (int k = 0; k < 2; k++)
      if (scalar(g, nd->args[k], &c) && c != 0) return false;
  if (nd->op == OP_MINIMUM)
    for (int k = 0; k < 2; k++)
      if (scalar(g, nd->args[k], &c) && c > 0) return may_be_minus_zero(g, nd->args[1 - k]);
  return true;
}

/* maximum node mx, of x and 0, is relu(x) to the sign of a zero: maximum
 * gives its second operand on a tie (as torch.maximum's vector code:
 * maximum(-0, 0) is +0, relu(-0) is -0), so the 0 comes first or x is
 * never -0. */
static bool max_is_relu(const actjit_graph *g, const node *mx, int x) {
  return mx->args[1] == x || !may_be_minus_zero(g, x);
}

/* relu6  Clip(x, 0, 6) as clip {min = 0, max = 6} or hardtanh {min_val = 0,
 * max_val = 6} [nn.ReLU6], or minimum(maximum(0, x), 6) (its inner maximum
 * already relu), maximum(0, minimum(x, 6)), relu(minimum(x, 6));
 * relu  maximum(0, x) (torch writes nn.ReLU as Relu); maximum(x, 0) too
 * where x is never -0 (max_is_relu) */
static bool clamp(match *m, const node *r) {
  if ((r->op == OP_CLIP || r->op == OP_HARDTANH) && r->attr[0] == 0 && near(r->attr[1], 6))
    return become(m, OP_RELU6, r->args[0], NAN);
  int x;
  if (r->op == OP_RELU) return (x = inner_with(m, r->args[0], OP_MINIMUM, 6)) >= 0 && become(m, OP_RELU6, x, NAN);
  int mark = m->nold;
  for (int k = 0; k < 2; k++, m->nold = mark) {
    const node *in;
    if (r->op == OP_MINIMUM && constant(m, r->args[1 - k], 6)) {
      if ((in = inner(m, r->args[k], OP_RELU))) return become(m, OP_RELU6, in->args[0], NAN);
      if ((x = inner_with(m, r->args[k], OP_MAXIMUM, 0)) >= 0 && max_is_relu(m->g, &m->g->nodes[r->args[k]], x))
        return become(m, OP_RELU6, x, NAN);
    }
    if (r->op == OP_MAXIMUM && constant(m, r->args[1 - k], 0) && max_is_relu(m->g, r, r->args[k])) {
      if ((x = inner_with(m, r->args[k], OP_MINIMUM, 6)) >= 0) return become(m, OP_RELU6, x, NAN);
      if (become(m, OP_RELU, r->args[k], NAN)) return true;
    }
  }
  return false;
}

/* linear with bias  linear(x, W) + b, b an [out] parameter: what a bias
 * added apart looks like (torch writes nn.Linear as Gemm with its bias, and
 * a bias-free one on a 3-D input as MatMul then Add) */
static bool linear_bias(match *m, const node *r) {
  if (r->op != OP_ADD) return false;
  for (int k = 0; k < 2; k++) {
    const node *l = &m->g->nodes[r->args[k]], *b = &m->g->nodes[r->args[1 - k]];
    if (l->op != OP_LINEAR || l->nargs != 2 || b->op != OP_PARAM || b->shape.rank != 1 ||
        b->shape.d[0] != m->g->nodes[l->args[1]].shape.d[0] || !shape_eq(&l->shape, &r->shape) ||
        !inner(m, r->args[k], OP_LINEAR))
      continue;
    m->op = OP_LINEAR;
    m->args[0] = l->args[0], m->args[1] = l->args[1], m->args[2] = r->args[1 - k];
    m->nargs = 3;
    return true;
  }
  return false;
}

typedef bool (*rule)(match *m, const node *root);
static const rule rules[] = {times_x, scaled_one, softsign, tanhshrink, softmin, log_of, clamp, linear_bias};

static int by_index_desc(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }

/* Rewrites the root in place and removes the primitive form's nodes that
 * nothing uses any more (highest first: ir_remove renumbers the later
 * ones).  Returns the root's new index. */
static int rewrite(actjit_graph *g, match *m) {
  node *r = &g->nodes[m->root];
  r->op = m->op;
  r->nargs = m->nargs;
  memcpy(r->args, m->args, sizeof r->args);
  memcpy(r->attr, m->attr, sizeof r->attr);
  r->inplace = false; /* it was about the old operand */
  qsort(m->old, (size_t)m->nold, sizeof *m->old, by_index_desc);
  int root = m->root;
  for (int k = 0; k < m->nold; k++) {
    int v = m->old[k];
    if ((k && v == m->old[k - 1]) || ir_uses(g, v) || g->nodes[v].op == OP_PARAM) continue;
    ir_remove(g, v);
    root -= v < root;
  }
  return root;
}

/* live sized for g's nodes and marked (ir_mark_live); NULL when out of
 * memory, the old array freed. */
static bool *mark_live(const actjit_graph *g, bool *live) {
  bool *l = realloc(live, ((size_t)g->n + 1) * sizeof *l);
  if (!l) {
    free(live);
    return NULL;
  }
  ir_mark_live(g, l);
  return l;
}

actjit_status pass_canonicalize(actjit_graph *g, const pass_options *o) {
  /* Ranges for the restricted rules and liveness, refreshed after each
   * rewrite. */
  actjit_status st = pass_value_range(g, o);
  bool *live = st ? NULL : mark_live(g, NULL);
  if (!st && !live) st = aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int i = 0; !st && i < g->n; i++) {
    match m = {.g = g, .live = live, .root = i};
    size_t k = 0;
    while (k < sizeof rules / sizeof *rules && !(m.nold = 0, rules[k](&m, &g->nodes[i]))) k++;
    if (k == sizeof rules / sizeof *rules) continue;
    i = rewrite(g, &m) - 1; /* the new op may be the root of another pattern */
    st = pass_value_range(g, o);
    if (!st && !(live = mark_live(g, live))) st = aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  free(live);
  return st;
}
