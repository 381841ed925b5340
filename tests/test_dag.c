/* Randomized differential test of graphs: random DAGs (tests/dag_gen.h) of
 * every elementwise op, linears, flatten and unsqueeze views, transposes,
 * batched matmuls, glu and softmax-like ops,
 * compiled fused and unfused for the host, AVX2 and SSE targets, run at
 * batches 0, 1 and an odd one on inputs holding ±0, ±Inf, NaN, ±1e30 and
 * denormals among ordinary values.  For each graph:
 *
 *   - fused == unfused bitwise (NaN == NaN), or within 2^-20 where a linear
 *     normalizes its rows in registers (as tests/test_fusion.c); the same
 *     bits again with the batch sliced over a parallel-for (3 tasks run in
 *     reverse order), from the fused plan with the input donated, and
 *     (seeds in turn) from the fused plan's printed IR parsed back, or from
 *     the text with a `fuse { }` block of the test's around some ops (which
 *     the verifier may refuse, in one line); the caller's input never
 *     written otherwise; print(parse(text)) a fixed point;
 *   - every output element lies in the interval the scalar reference
 *     implies: each value of the graph is carried as an interval per element
 *     (plus whether it may be NaN), each op maps its operands' intervals
 *     through the reference (src/reference.c's ref_eltwise at the ends and at
 *     the op's turning points and jumps), widened by the op's error bound in
 *     ULP (those of tests/test_ops.c: exp 1, gelu 4, ...; exact ops 0); a
 *     linear or matmul adds its rounding bound (2K + 4)·2^-24·Σ|x·w|, a softmax its
 *     (|x - max| + n + 12)·2^-23 relative.  So errors compound through the
 *     DAG as the math says they may, and no more: a sub that cancels gets a
 *     wide interval, an exact chain a point (checked bit for bit, zero's sign
 *     included); NaN is required where every reading of the inputs gives NaN
 *     and allowed only where one may.  Where canonicalize makes a pattern
 *     a unary high-level op (x·sigmoid(x) silu, ...: the pass run on the
 *     graph says where), the plans compute that op, so its node's interval
 *     is the hull of both readings.  The reference's own result must lie
 *     in the interval too (a check of this checker);
 *   - the fused plan runs no more kernels than the unfused one, and exactly
 *     one when the live graph is one elementwise region of one shape.
 *
 * Each graph runs on one target, the host, haswell and x86-64 in turn by
 * seed (ACTJIT_DAG_TARGETS=all: every graph on all three); compiling is most
 * of the time.  CI runs a fixed list of seeds (CI_GRAPHS below).  A long run
 * (seeds from 1000000, or ACTJIT_DAG_FIRST):
 *   ACTJIT_DAG_GRAPHS=100000 ACTJIT_DAG_SECONDS=600 build/tests/test_dag
 * stops at either limit, prints how many graphs ran and every failing seed.
 * ACTJIT_DAG_SEED=s runs the graph of seed s alone and prints it;
 * ACTJIT_DAG_CASE=file runs a case file alone; either with
 * ACTJIT_DAG_REDUCE=1 shrinks a failing graph while it fails the same way
 * and prints it as a case file.  ACTJIT_DAG_OPT sets the LLVM opt_level (3;
 * 1 saves little here, 0 a third).  Every file of tests/dag_cases/ (a
 * minimized reproducer of a defect this test found) runs the same checks. */
#include <float.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dag_gen.h"
#include "ir/group.h"
#include "ir/scalar.h"
#include "passes/passes.h"
#include "reference/reference.h"
#include "testutil.h"

/* Reproducers in tests/dag_cases/ that still fail, with the reason: each is
 * a defect of src/ to fix, after which its line goes (test_cases checks
 * that they still fail). */
static const struct {
  const char *file, *reason;
} known_failing[] = {
    {NULL, NULL}, /* none today */
};

/* CI: the first CI_GRAPHS seeds from 1 whose graphs have at most
 * CI_MAX_OPS ops (compiling takes most of the time, and grows faster than
 * a graph does: the long run takes every seed). */
enum { CI_GRAPHS = 60, CI_MAX_OPS = 12, CI_FIRST_SEED = 1 };

/* ------------------------------------------------------------ intervals */

/* Where a float computed by the kernels may lie: [lo, hi] (empty when lo >
 * hi: no number), and whether it may be NaN. */
typedef struct ival {
  float lo, hi;
  bool nan;
} ival;

static const ival NOTHING = {INFINITY, -INFINITY, false};
static const ival ANYTHING = {-INFINITY, INFINITY, true};

static bool empty(ival a) { return a.lo > a.hi; }
static bool same_bits(float a, float b) { return !memcmp(&a, &b, sizeof a); }
static ival point(float x) { return isnan(x) ? (ival){INFINITY, -INFINITY, true} : (ival){x, x, false}; }
/* The order of the hull: -0 before +0, so that a point keeps its zero's sign. */
static bool before(float a, float b) { return a < b || (a == b && signbit(a) && !signbit(b)); }

static void hull_add(ival *r, float y) {
  if (isnan(y)) {
    r->nan = true;
    return;
  }
  if (empty(*r)) r->lo = r->hi = y;
  else if (before(y, r->lo)) r->lo = y;
  else if (before(r->hi, y)) r->hi = y;
}

static void widen_ulps(ival *r, int ulps) {
  for (int i = 0; i < ulps && !empty(*r); i++) r->lo = nextafterf(r->lo, -INFINITY), r->hi = nextafterf(r->hi, INFINITY);
}

/* [lo - d, hi + d] for a double d >= 0, rounded outward to floats. */
static float down(double v) {
  float f = (float)v;
  return (double)f > v ? nextafterf(f, -INFINITY) : f;
}
static float up(double v) {
  float f = (float)v;
  return (double)f < v ? nextafterf(f, INFINITY) : f;
}
static void widen_abs(ival *r, double d) {
  if (empty(*r) || !(d > 0)) return;
  if (isinf(d)) r->lo = -INFINITY, r->hi = INFINITY;
  else r->lo = down(r->lo - d), r->hi = up(r->hi + d);
}

static bool contains(ival r, float y) {
  if (isnan(y)) return r.nan;
  if (empty(r)) return false;
  if (same_bits(r.lo, r.hi)) return same_bits(y, r.lo);
  return y >= r.lo && y <= r.hi;
}

/* Bitwise equal, any NaN equal to any NaN. */
static bool same_value(float a, float b) { return isnan(a) ? isnan(b) : same_bits(a, b); }

static bool is_point(ival a) { return !a.nan && same_bits(a.lo, a.hi); }

/* ------------------------------------------- elementwise ops on intervals */

/* Error bound of the kernels' op against the reference, in ULP (those
 * tests/test_ops.c holds them to; 0 where both compute the same float
 * operations, or one correctly rounded one). */
static int op_ulps(const node *nd) {
  switch (nd->op) {
  case OP_EXP: case OP_LOG: case OP_POW: return 1;
  case OP_SIGMOID: case OP_TANH: case OP_ERF: return 2;
  case OP_ELU: case OP_CELU: case OP_SELU: case OP_SILU: case OP_GLU: return 3;
  case OP_GELU: case OP_MISH: case OP_SOFTPLUS: case OP_TANHSHRINK: case OP_LOGSIGMOID: return 4;
  case OP_RELU: case OP_LEAKY_RELU: case OP_PRELU: case OP_DROPOUT: case OP_IDENTITY: case OP_HARDSIGMOID:
  case OP_HARDSWISH: case OP_HARDTANH: case OP_RELU6: case OP_SOFTSIGN: case OP_THRESHOLD: case OP_HARDSHRINK:
  case OP_SOFTSHRINK: case OP_RRELU: case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM:
  case OP_MINIMUM: case OP_NEG: case OP_ABS: case OP_SQRT: case OP_RECIPROCAL: case OP_CLIP:
    return 0;
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN:
  case OP_LOG_SOFTMAX: case OP_FLATTEN: case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL: case OP_COUNT:
    break;
  }
  return 0;
}

/* gelu approximate='tanh': where |x|·h(2u) peaks (h below). */
#define GELU_TANH_PEAK 1.1f

/* The points between which the op (of its first operand; `second`: of the
 * second) is monotone: turning points and jumps, beside 0, which every
 * interval holding it is split at anyway. */
static int breakpoints(const node *nd, bool second, float *b) {
  const double *a = nd->attr;
  int n = 0;
  switch (nd->op) {
  case OP_GELU: /* minima of x·Φ(x) and of its tanh form */
    b[n++] = a[0] == 0 ? -0.7517915f : -0.7524614f;
    if (a[0] != 0) b[n++] = -GELU_TANH_PEAK, b[n++] = GELU_TANH_PEAK;
    break;
  case OP_SILU: b[n++] = -1.2784645f; break;
  case OP_MISH: b[n++] = -1.1924312f; break;
  case OP_HARDSWISH: b[n++] = -1.5f; break;
  case OP_THRESHOLD: b[n++] = (float)a[0]; break;
  case OP_HARDSHRINK: b[n++] = (float)a[0], b[n++] = -(float)a[0]; break;
  case OP_SOFTPLUS: b[n++] = (float)(a[1] / a[0]); break; /* x·beta = threshold: a jump */
  case OP_POW: /* x^e's formula changes at e = -2, -1, 2, 3; |x| = 1 */
    if (second) b[n++] = -2, b[n++] = -1, b[n++] = 1, b[n++] = 2, b[n++] = 3;
    else b[n++] = -1, b[n++] = 1;
    break;
  case OP_RELU: case OP_SIGMOID: case OP_TANH: case OP_LEAKY_RELU: case OP_PRELU: case OP_DROPOUT:
  case OP_IDENTITY: case OP_EXP: case OP_ELU: case OP_CELU: case OP_SELU: case OP_HARDSIGMOID: case OP_HARDTANH:
  case OP_RELU6: case OP_SOFTSIGN: case OP_TANHSHRINK: case OP_LOGSIGMOID: case OP_SOFTSHRINK: case OP_RRELU:
  case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_NEG: case OP_ABS:
  case OP_SQRT: case OP_RECIPROCAL: case OP_ERF: case OP_LOG: case OP_CLIP: case OP_INPUT: case OP_PARAM:
  case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX: case OP_GLU:
  case OP_FLATTEN: case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL: case OP_COUNT:
    break;
  }
  return n;
}

enum { CANDS_MAX = 40 };

/* The floats of interval a at which to evaluate an op monotone between the
 * breakpoints: its ends, the floats next to ±Inf, both zeros and the
 * floats next to them, each breakpoint and its neighbours (and two more
 * for a jump decided by a float product, softplus's), NaN if a may be NaN. */
static int candidates(ival a, const float *brk, int nb, float *c) {
  int n = 0;
  if (a.nan) c[n++] = NAN;
  if (empty(a)) return n;
  c[n++] = a.lo;
  if (same_bits(a.lo, a.hi)) return n;
  c[n++] = a.hi;
  if (a.lo == -INFINITY) c[n++] = -FLT_MAX;
  if (a.hi == INFINITY) c[n++] = FLT_MAX;
  if (a.lo <= 0 && a.hi >= 0) c[n++] = -0.0f, c[n++] = 0.0f; /* ops may jump at 0 */
  if (a.lo <= -FLT_TRUE_MIN && a.hi >= 0) c[n++] = -FLT_TRUE_MIN;
  if (a.lo <= 0 && a.hi >= FLT_TRUE_MIN) c[n++] = FLT_TRUE_MIN;
  for (int i = 0; i < nb; i++) {
    float t = nextafterf(nextafterf(brk[i], -INFINITY), -INFINITY);
    for (int k = 0; k < 5; k++, t = nextafterf(t, INFINITY))
      if (t >= a.lo && t <= a.hi) c[n++] = t;
  }
  return n;
}

/* |x|·h(2u), h(t) = σ(t)(1 - σ(t))|t|: with 2^-21, a bound on what the
 * float rounding of u = beta(x + kappa x^3) moves gelu-tanh's x·σ(2u). */
static double gelu_tanh_u_error(float x) {
  double v = x, t = 2 * (double)GELU_BETA_F * (v + (double)GELU_KAPPA_F * v * v * v);
  if (!isfinite(t) || fabs(t) > 200) return 0;
  double s = 1 / (1 + exp(-t));
  return fabs(v) * s * (1 - s) * fabs(t) * 0x1p-21;
}

/* Roundings of the reference's float formula for ops that are not
 * monotone by them (in float, x/(|x| + 1) may fall as x rises): between
 * the ends of an interval it may stray that many ULP beyond them. */
static int float_roundings(const node *nd) { return nd->op == OP_SOFTSIGN ? 2 : nd->op == OP_HARDSWISH ? 3 : 0; }

static ival eltwise_unary(const node *nd, ival x, float w) {
  float brk[8], c[CANDS_MAX];
  int n = candidates(x, brk, breakpoints(nd, false, brk), c);
  ival r = NOTHING;
  double extra = 0;
  for (int i = 0; i < n; i++) {
    hull_add(&r, scalar_eltwise(nd->op, nd->attr, c[i], w));
    if (nd->op == OP_GELU && nd->attr[0] != 0) extra = fmax(extra, gelu_tanh_u_error(c[i]));
  }
  widen_ulps(&r, op_ulps(nd) + (is_point(x) ? 0 : float_roundings(nd)));
  widen_abs(&r, extra);
  return r;
}

static ival eltwise_binary(const node *nd, ival x, ival y) {
  float bx[8], by[8], cx[CANDS_MAX], cy[CANDS_MAX];
  /* x^e for x < 0 is NaN but at whole e: no monotone pieces when e varies */
  if (nd->op == OP_POW && x.lo < 0 && !is_point(y) && !empty(y)) return ANYTHING;
  int nx = candidates(x, bx, breakpoints(nd, false, bx), cx);
  int ny = candidates(y, by, breakpoints(nd, true, by), cy);
  ival r = NOTHING;
  for (int i = 0; i < nx; i++)
    for (int j = 0; j < ny; j++) hull_add(&r, scalar_eltwise(nd->op, nd->attr, cx[i], cy[j]));
  widen_ulps(&r, op_ulps(nd));
  return r;
}

/* ------------------------------------------------ the graph on intervals */

static int64_t extent_at(extent e, int64_t batch) { return e.dyn ? e.mul * batch : e.mul; }
static int64_t numel_at(const shape *s, int64_t batch) { return extent_at(shape_numel(s), batch); }
static int64_t dim_at(const shape *s, int k, int64_t batch) { return k == 0 && s->dyn ? s->d[0] * batch : s->d[k]; }

/* Element of `in` (broadcast to `out`, trailing dims aligned) under out's i. */
static int64_t source_index(const shape *out, const shape *in, int64_t batch, int64_t i) {
  int64_t off = 0, stride = 1;
  for (int k = 1; k <= out->rank; k++) {
    int64_t od = dim_at(out, out->rank - k, batch), idx = i % od;
    i /= od;
    if (k > in->rank) continue;
    int64_t id = dim_at(in, in->rank - k, batch);
    if (id != 1) off += idx * stride;
    stride *= id;
  }
  return off;
}

static void run_eltwise(const actjit_graph *g, const node *nd, ival **v, const float *const *pdata, int64_t n,
                        int64_t batch, ival *y) {
  const ival *x = v[nd->args[0]];
  if (op_is_binary(nd->op)) {
    const shape *as = &g->nodes[nd->args[0]].shape, *bs = &g->nodes[nd->args[1]].shape;
    for (int64_t i = 0; i < n; i++)
      y[i] = eltwise_binary(nd, x[source_index(&nd->shape, as, batch, i)], v[nd->args[1]][source_index(&nd->shape, bs, batch, i)]);
    return;
  }
  /* prelu: one weight, or one per channel of dim 1 */
  const float *w = nd->op == OP_PRELU ? pdata[nd->args[1]] : NULL;
  int64_t channels = w ? shape_static_numel(&g->nodes[nd->args[1]].shape) : 1;
  int64_t inner = extent_at(shape_span(&nd->shape, 2, nd->shape.rank), batch);
  for (int64_t i = 0; i < n; i++)
    y[i] = eltwise_unary(nd, x[i], w ? w[channels > 1 ? (i / (inner ? inner : 1)) % channels : 0] : 0.0f);
}

/* b + Σ x[i·xs]·w[i·ws] over i < k: the exact products' interval, widened
 * by the bound on recursive (fused or not) multiply-add rounding,
 * (2K + 4)·(2^-24·Σ|x·w| + 2^-150): a rounding errs by 2^-24 of its result,
 * or by up to 2^-150 where the result is subnormal.  A NaN weight or bias makes it NaN, an infinite
 * one anything (Inf·0 is NaN, Inf - Inf too). */
static ival dot(const ival *x, int64_t xs, const float *w, int64_t ws, int64_t k, double b) {
  double lo = b, hi = lo, mag = fabs(lo);
  bool nan = false, must_nan = isnan(b), inf = isinf(b);
  for (int64_t i = 0; i < k; i++) {
    ival xi = x[i * xs];
    double wi = w[i * ws];
    must_nan |= isnan(wi), inf |= isinf(wi);
    nan |= xi.nan, must_nan |= empty(xi);
    if (empty(xi)) continue;
    inf |= isinf(xi.lo) || isinf(xi.hi);
    double p = wi * xi.lo, q = wi * xi.hi;
    lo += fmin(p, q), hi += fmax(p, q), mag += fmax(fabs(p), fabs(q));
  }
  if (must_nan) return point(NAN);
  if (inf || mag > FLT_MAX / 4) return ANYTHING; /* Inf·w, or sums that may overflow: Inf or NaN */
  ival y = {down(lo), up(hi), nan};
  widen_abs(&y, (double)(2 * k + 4) * (0x1p-24 * mag + 0x1p-150));
  return y;
}

/* y = x·Wᵀ + b */
static void run_linear(const actjit_graph *g, const node *nd, ival **v, const float *const *pdata, int64_t batch,
                       ival *y) {
  const shape *ws = &g->nodes[nd->args[1]].shape;
  int64_t out = ws->d[0], k = ws->d[1], rows = out ? numel_at(&nd->shape, batch) / out : 0;
  const ival *x = v[nd->args[0]];
  const float *w = pdata[nd->args[1]], *b = nd->nargs == 3 ? pdata[nd->args[2]] : NULL;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < out; o++) y[r * out + o] = dot(&x[r * k], 1, &w[o * k], 1, k, b ? b[o] : 0);
}

/* y = a·w for each matrix of y, a's and w's broadcast along the dims before. */
static void run_matmul(const actjit_graph *g, const node *nd, ival **v, const float *const *pdata, int64_t batch,
                       ival *y) {
  shape as = g->nodes[nd->args[0]].shape, ws = g->nodes[nd->args[1]].shape, ys = nd->shape;
  int64_t m = ys.d[ys.rank - 2], p = ys.d[ys.rank - 1], k = as.d[as.rank - 1];
  as.rank -= 2, ws.rank -= 2, ys.rank -= 2; /* the batch dims */
  for (int64_t b = 0, mats = numel_at(&ys, batch); b < mats; b++) {
    const ival *a = v[nd->args[0]] + source_index(&ys, &as, batch, b) * m * k;
    const float *w = pdata[nd->args[1]] + source_index(&ys, &ws, batch, b) * k * p;
    for (int64_t r = 0; r < m; r++)
      for (int64_t c = 0; c < p; c++) y[(b * m + r) * p + c] = dot(&a[r * k], 1, &w[c], p, k, 0);
  }
}

/* y's element i is x's at its index along x's dim perm[d] for each dim d. */
static void run_transpose(const actjit_graph *g, const node *nd, ival **v, int64_t batch, ival *y) {
  const shape *xs = &g->nodes[nd->args[0]].shape, *ys = &nd->shape;
  int64_t st[ACTJIT_MAX_RANK], n = numel_at(ys, batch), s = 1;
  for (int d = xs->rank - 1; d >= 0; s *= dim_at(xs, d, batch), d--) st[d] = s;
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0, rest = i;
    for (int d = ys->rank - 1; d >= 0; d--) {
      off += rest % dim_at(ys, d, batch) * st[dim_index(nd->list.v[d], xs->rank)];
      rest /= dim_at(ys, d, batch);
    }
    y[i] = v[nd->args[0]][off];
  }
}

/* (alt - m) - log(e^(alt - m) + Σ_{k != j} e^(t[k] - m)), m the largest
 * term: log_softmax at j with t[j] replaced by alt, in long double. */
static long double log_softmax_at(const double *t, int64_t n, int64_t j, double alt) {
  long double m = alt, s;
  for (int64_t k = 0; k < n; k++)
    if (k != j) m = fmaxl(m, t[k]);
  s = expl(alt - m);
  for (int64_t k = 0; k < n; k++)
    if (k != j) s += expl(t[k] - m);
  return (alt - m) - logl(s);
}

/* The same from the sum over all k of e^(t[k] - top) (top >= every t[k]),
 * its term j swapped for alt's: O(1), unless the swap cancels. */
static long double log_softmax_swap(const double *t, int64_t n, int64_t j, double alt, double top, long double sum) {
  long double s = sum - expl(t[j] - top) + expl(alt - top);
  if (!(s > 1e-12L * sum) || !isfinite((double)s)) return log_softmax_at(t, n, j, alt);
  return (alt - top) - logl(s);
}

/* softmax, softmin (of -x) and log_softmax of each line along the dim.  A
 * line of exact values is the reference's (double, as reference.c: any NaN
 * or Inf - Inf makes the line NaN); else y_i grows with x_i and falls with
 * every other x_j, so its interval's ends are at (lo_i, hi_j) and (hi_i,
 * lo_j).  Widened by the float softmax's relative error (|x_i - max| + n +
 * 12)·2^-23 (the rounding of x - max, which exp turns relative, then the
 * sum's and the division's) and 1e-37 absolute (outputs near FLT_MIN), or
 * log_softmax's absolute (|x_i - max| + |y| + n + 8)·2^-23.  A line that
 * may hold NaN, or whose intervals reach ±Inf, may give anything. */
static void run_softmax(const node *nd, ival **v, int64_t batch, ival *y) {
  int axis = dim_index(nd->attr[0], nd->shape.rank);
  const shape *s = &nd->shape;
  int64_t outer = extent_at(shape_span(s, 0, axis), batch), len = extent_at(shape_span(s, axis, axis + 1), batch);
  int64_t inner = extent_at(shape_span(s, axis + 1, s->rank), batch);
  const ival *x = v[nd->args[0]];
  double sg = nd->op == OP_SOFTMIN ? -1 : 1;
  bool log_form = nd->op == OP_LOG_SOFTMAX;
  double *lo = malloc((size_t)(len ? len : 1) * sizeof *lo), *hi = malloc((size_t)(len ? len : 1) * sizeof *hi);
  assert_non_null(lo), assert_non_null(hi);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t in = 0; in < inner; in++) {
      const ival *xr = x + o * len * inner + in;
      ival *yr = y + o * len * inner + in;
      bool nan = false, must_nan = false, exact = true, inf = false;
      for (int64_t j = 0; j < len; j++) {
        ival e = xr[j * inner];
        nan |= e.nan, must_nan |= empty(e), exact &= is_point(e);
        if (!empty(e)) inf |= isinf(e.lo) || isinf(e.hi);
        lo[j] = sg > 0 ? e.lo : -(double)e.hi, hi[j] = sg > 0 ? e.hi : -(double)e.lo; /* of sg·x */
      }
      double top = -INFINITY;
      long double sum_lo = 0, sum_hi = 0;
      for (int64_t k = 0; k < len; k++) top = fmax(top, hi[k]);
      for (int64_t k = 0; k < len && !inf; k++) sum_lo += expl(lo[k] - top), sum_hi += expl(hi[k] - top);
      for (int64_t j = 0; j < len; j++) {
        ival *r = &yr[j * inner];
        if (must_nan) {
          *r = point(NAN);
          continue;
        }
        if (nan || (inf && !exact)) {
          *r = log_form ? (ival){-INFINITY, 0, true} : (ival){0, 1, true};
          continue;
        }
        long double l_lo, l_hi;
        if (exact) { /* as reference.c: sum of e^(x - max) in double */
          double m = -INFINITY, sum = 0;
          for (int64_t k = 0; k < len; k++) m = fmax(m, lo[k]);
          for (int64_t k = 0; k < len; k++) sum += exp(lo[k] - m);
          l_lo = l_hi = (lo[j] - m) - log(sum);
          if (isnan((double)l_lo) || isinf((double)l_lo)) { /* NaN, or x = -Inf: exactly -Inf (or 0) */
            *r = point(isnan((double)l_lo) ? NAN : log_form ? -INFINITY : 0.0f);
            continue;
          }
        } else {
          l_lo = log_softmax_swap(hi, len, j, lo[j], top, sum_hi);
          l_hi = log_softmax_swap(lo, len, j, hi[j], top, sum_lo);
          if (l_lo > l_hi) { /* rounding where the interval is narrow */
            long double t = l_lo;
            l_lo = l_hi, l_hi = t;
          }
        }
        double dist = top - lo[j]; /* the largest |x_j - max| */
        if (log_form) {
          *r = (ival){down((double)l_lo), up((double)l_hi), false};
          widen_abs(r, (dist + fmax(fabsl(l_lo), fabsl(l_hi)) + (double)len + 8) * 0x1p-23);
        } else {
          double a = (double)expl(l_lo), b = (double)expl(l_hi), rel = (dist + (double)len + 12) * 0x1p-23;
          *r = (ival){down(fmax(0, a * (1 - rel) - 1e-37)), up(fmin(1, b * (1 + rel) + 1e-37)), false};
        }
      }
    }
  free(lo), free(hi);
}

/* y = a·σ(b), a and b the halves of the dim. */
static double sigmoid_d(double v) {
  double e = exp(-v);
  return isinf((float)e) && v < 0 ? 0.0 : 1.0 / (1.0 + e);
}

static void run_glu(const node *nd, ival **v, int64_t batch, ival *y) {
  int axis = dim_index(nd->attr[0], nd->shape.rank);
  int64_t outer = extent_at(shape_span(&nd->shape, 0, axis), batch);
  int64_t half = extent_at(shape_span(&nd->shape, axis, nd->shape.rank), batch);
  const ival *x = v[nd->args[0]];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < half; i++) {
      float ca[CANDS_MAX], cb[CANDS_MAX];
      int na = candidates(x[o * 2 * half + i], NULL, 0, ca), nb = candidates(x[o * 2 * half + half + i], NULL, 0, cb);
      ival r = NOTHING;
      for (int p = 0; p < na; p++)
        for (int q = 0; q < nb; q++) hull_add(&r, (float)(ca[p] * sigmoid_d(cb[q])));
      widen_ulps(&r, op_ulps(nd));
      y[o * half + i] = r;
    }
}

/* The nodes the output needs (free() it). */
static bool *live_nodes(const actjit_graph *g) {
  bool *live = calloc((size_t)g->n, sizeof *live);
  assert_non_null(live);
  ir_mark_live(g, live);
  return live;
}

static ival hull(ival a, ival b) {
  if (!empty(b)) hull_add(&a, b.lo), hull_add(&a, b.hi);
  a.nan |= b.nan;
  return a;
}

/* The node of h named as node i of g, or -1 (canonicalize rewrites a
 * pattern's root in place, keeping its name, and drops the rest). */
static int same_node(const actjit_graph *g, int i, const actjit_graph *h) {
  for (int j = 0; j < h->n; j++)
    if (!strcmp(h->nodes[j].name, g->nodes[i].name)) return j;
  return -1;
}

/* Node i of g as canonicalize rewrote it in canon, when it became a unary
 * elementwise op (x·hardsigmoid(x) hardswish, x·sigmoid(x) silu, ...): the
 * plans compute that op, within its own bound of the written form
 * (tests/test_canonicalize.c), so the interval is the hull of both
 * readings.  (x ≥ 3 makes x·hardsigmoid(x) exactly x, and hardswish's
 * x·relu6(x + 3)/6 2 ULP off it, +Inf above FLT_MAX/6.) */
static void canonical_reading(const actjit_graph *g, const actjit_graph *canon, int i, ival **v, int64_t n, ival *y) {
  int c = canon ? same_node(g, i, canon) : -1;
  const node *cn = c >= 0 ? &canon->nodes[c] : NULL;
  if (!cn || cn->op == g->nodes[i].op || op_table[cn->op].kind != K_ELTWISE || cn->nargs != 1) return;
  int x = same_node(canon, cn->args[0], g); /* (of the root's shape: canonicalize's become) */
  assert_true(x >= 0 && v[x]);
  for (int64_t j = 0; j < n; j++) y[j] = hull(y[j], eltwise_unary(cn, v[x][j], 0.0f));
}

/* The intervals of the graph's output at this batch; free() them.  canon
 * (or NULL): g after canonicalize, whose rewritten nodes widen theirs. */
static ival *interval_run(const actjit_graph *g, const actjit_graph *canon, const float *const *params, const float *in,
                          int64_t batch) {
  ival **v = calloc((size_t)g->n, sizeof *v);
  const float **pdata = calloc((size_t)g->n, sizeof *pdata);
  bool *own = calloc((size_t)g->n, sizeof *own), *live = live_nodes(g);
  assert_true(v && pdata && own);
  for (int i = 0, p = 0; i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (nd->op == OP_PARAM) pdata[i] = params[p++];
    if (nd->op == OP_CONST) pdata[i] = nd->data;
    if (!live[i]) continue;
    if (op_table[nd->op].kind == K_VIEW) {
      v[i] = v[nd->args[0]];
      continue;
    }
    int64_t n = numel_at(&nd->shape, batch);
    ival *y = v[i] = malloc((size_t)(n ? n : 1) * sizeof *y);
    assert_non_null(y);
    own[i] = true;
    switch (op_table[nd->op].kind) {
    case K_SOURCE: {
      const float *d = nd->op == OP_INPUT ? in : pdata[i];
      for (int64_t j = 0; j < n; j++) y[j] = point(d[j]);
      break;
    }
    case K_ELTWISE: run_eltwise(g, nd, v, pdata, n, batch, y); break;
    case K_LINEAR: run_linear(g, nd, v, pdata, batch, y); break;
    case K_SOFTMAX: run_softmax(nd, v, batch, y); break;
    case K_GLU: run_glu(nd, v, batch, y); break;
    case K_TRANSPOSE: run_transpose(g, nd, v, batch, y); break;
    case K_MATMUL: run_matmul(g, nd, v, pdata, batch, y); break;
    case K_VIEW: break;
    }
    canonical_reading(g, canon, i, v, n, y);
  }
  int64_t n = numel_at(&g->nodes[g->output].shape, batch);
  ival *out = malloc((size_t)(n ? n : 1) * sizeof *out);
  assert_non_null(out);
  memcpy(out, v[g->output], (size_t)n * sizeof *out);
  for (int i = 0; i < g->n; i++)
    if (own[i]) free(v[i]);
  free(v), free(pdata), free(own), free(live);
  return out;
}

/* ------------------------------------------------------------- structure */

/* Is the live graph elementwise ops of the output's shape (dropout and
 * identity aside: inference removes them), few enough for one kernel? */
static bool one_region(const actjit_graph *g) {
  bool *live = live_nodes(g);
  int ops = 0;
  bool ok = true;
  for (int i = 0; ok && i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (!live[i] || op_table[nd->op].kind == K_SOURCE || nd->op == OP_DROPOUT || nd->op == OP_IDENTITY) continue;
    ok = op_table[nd->op].kind == K_ELTWISE && shape_eq(&nd->shape, &g->nodes[g->output].shape);
    ops++;
  }
  free(live);
  return ok && ops <= GROUP_MAX;
}

/* Ops in a graph's text: its lines `%name = ...`. */
static int op_count(const char *text) {
  int n = *text == '%';
  for (const char *p = text; (p = strstr(p, "\n%")); p++) n++;
  return n;
}

/* Does the fused plan normalize a linear's rows in registers? */
static bool linear_softmax_kernel(const actjit_kernel *k) {
  for (int i = 0; i < actjit_kernel_step_count(k); i++) {
    const char *name = actjit_kernel_step_name(k, i);
    if (strstr(name, "linear %") && strstr(name, "softmax %")) return true;
  }
  return false;
}

/* ---------------------------------------------------------------- a graph */

typedef struct graph_case {
  const char *text, *label; /* the IR; its seed or file for messages */
  uint64_t seed;            /* its data */
  const float *input;       /* NULL: random; else `ninput` values tiled over the input */
  size_t ninput;
  int64_t batch_odd;
} graph_case;

typedef struct stats {
  long graphs, elements, exact, sharp, nan_required, groups_taken, groups_refused;
} stats;
static stats totals;
static int opt_level = 3;

/* A failure's report: appended to, printed once; what went wrong first
 * and on which target (-1: on none in particular). */
typedef struct report {
  char text[16384];
  size_t len;
  bool failed;
  char kind[64];
  int target;
} report;

static void reset(report *r) {
  r->len = 0, r->failed = false, r->kind[0] = 0, r->target = -1;
}

static void failure(report *r, int target, const char *kind) {
  if (r->kind[0]) return;
  snprintf(r->kind, sizeof r->kind, "%s", kind);
  r->target = target;
}

/* The targets checked: every one, one a graph in turn (rotate_targets), or
 * one (the reducer's). */
static int only_target = -1;
static bool rotate_targets;

static void say(report *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (r->len < sizeof r->text) {
    int k = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
    if (k > 0) r->len += (size_t)k;
  }
  va_end(ap);
  if (r->len >= sizeof r->text) r->len = sizeof r->text - 1;
  r->failed = true;
}

static void reverse_pfor(void *user, int64_t n, actjit_task_fn task, void *arg) {
  for (int64_t i = n - 1; i >= 0; i--) task(arg, i);
}

static uint64_t name_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
  return h;
}

static bool is_linear_param(const actjit_graph *g, int p) {
  for (int j = 0; j < g->n; j++)
    for (int a = 1; a < g->nodes[j].nargs; a++)
      if (g->nodes[j].args[a] == p && g->nodes[j].op == OP_LINEAR) return true;
  return false;
}

/* Parameter data, from the seed and the parameter's name (so that a graph
 * with parameters removed keeps the others' data): a linear's weights and
 * bias ordinary; prelu's weights and a binary op's operands like the input. */
static void param_data(const actjit_graph *g, int p, uint64_t seed, int special_every, float *data) {
  dag_src r = dag_seeded(seed ^ name_hash(g->nodes[p].name));
  bool of_linear = is_linear_param(g, p);
  dag_fill(&r, data, (size_t)shape_static_numel(&g->nodes[p].shape), of_linear ? 0.5f : 2,
           of_linear ? 0 : special_every);
}

static float **make_params(const actjit_graph *g, uint64_t seed, int special_every) {
  int np = actjit_graph_param_count(g);
  float **p = calloc((size_t)np + 1, sizeof *p);
  assert_non_null(p);
  for (int i = 0, k = 0; i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (nd->op != OP_PARAM) continue;
    size_t n = (size_t)shape_static_numel(&nd->shape);
    p[k] = tu_alloc_unaligned(n ? n : 1);
    assert_non_null(p[k]);
    param_data(g, i, seed, special_every, p[k++]);
  }
  return p;
}

static bool bind_params(actjit_graph *g, actjit_kernel *k, float **params, int t, report *rep) {
  for (int i = 0; i < actjit_graph_param_count(g); i++) {
    const char *name;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_param_info(g, i, &name, &rank, dims), ACTJIT_OK);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    if (actjit_kernel_bind(k, name, params[i], n)) {
      failure(rep, t, "bind");
      say(rep, "binding @%s (%zu floats) failed: %s\n", name, n, actjit_context_error(actjit_graph_context(g)));
      return false;
    }
  }
  return true;
}

/* fuse 2: fused, the caller's input donated. */
static actjit_kernel *compile_for(actjit_graph *g, int ti, int fuse, report *rep) {
  const test_target *t = &test_targets[ti];
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu, o.features = t->features, o.fuse = fuse > 0, o.donate_input = fuse == 2, o.opt_level = opt_level;
  actjit_kernel *k = NULL;
  if (actjit_compile(g, &o, &k)) {
    static const char *const what[] = {"unfused compile", "fused compile", "donated compile"};
    failure(rep, ti, what[fuse]);
    say(rep, "[%s] %s failed: %s\n", t->cpu ? t->cpu : "host", what[fuse],
        actjit_context_error(actjit_graph_context(g)));
    return NULL;
  }
  return k;
}

static void print_floats(report *rep, const float *p, size_t n) {
  for (size_t i = 0; i < n; i++) say(rep, "%s%.9g", i ? ", " : "", (double)p[i]);
}

/* The values one output element depends on, for the report: the input's
 * row (all of it when small). */
static void describe_input(report *rep, const float *x, size_t nin, int64_t batch, size_t elem, size_t nout) {
  size_t row = batch > 0 ? nin / (size_t)batch : 0, r = batch > 0 && nout ? elem / (nout / (size_t)batch) : 0;
  if (nin <= 48) {
    say(rep, "  input: [");
    print_floats(rep, x, nin);
  } else {
    say(rep, "  input row %zu: [", r);
    print_floats(rep, x + r * row, row < 48 ? row : 48);
    if (row > 48) say(rep, ", ...");
  }
  say(rep, "]\n");
}

/* One batch's data: the input, the reference's result and intervals. */
typedef struct batch_data {
  int64_t batch;
  size_t nin, nout;
  float *x, *x_copy, *yr;
  ival *want;
} batch_data;

static size_t value_count(actjit_graph *g, actjit_value v, int64_t batch) {
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  assert_int_equal(actjit_graph_value_shape(g, v, &rank, dims), ACTJIT_OK);
  size_t n = 1;
  for (int d = 0; d < rank; d++) n *= (size_t)(dims[d] < 0 ? -dims[d] * batch : dims[d]);
  return n;
}

/* Runs kernel k on every batch; first the plain run into y[b], then
 * with the batch sliced over 3 tasks into yt[b]. */
static void run_batches(actjit_kernel *k, const batch_data *bd, int nb, float **y, float **yt) {
  for (int b = 0; b < nb; b++) assert_int_equal(actjit_kernel_run(k, bd[b].x, bd[b].batch, y[b]), ACTJIT_OK);
  assert_int_equal(actjit_kernel_set_parallel_for(k, reverse_pfor, NULL, 3), ACTJIT_OK);
  for (int b = 0; b < nb; b++) assert_int_equal(actjit_kernel_run(k, bd[b].x, bd[b].batch, yt[b]), ACTJIT_OK);
}

/* The fused kernel with the input donated gives the fused bits (from a
 * copy of the input, which it may overwrite). */
static void check_donated(actjit_graph *g, int t, float **params, const batch_data *bd, int nb, float **yf,
                          report *rep) {
  actjit_kernel *kd = compile_for(g, t, 2, rep);
  if (!kd || !bind_params(g, kd, params, t, rep)) {
    actjit_kernel_destroy(kd);
    return;
  }
  for (int b = 0; b < nb && !rep->failed; b++) {
    const batch_data *d = &bd[b];
    float *x = tu_alloc_unaligned(d->nin + 1), *y = tu_alloc_unaligned(d->nout + 1);
    assert_true(x && y);
    memcpy(x, d->x, d->nin * sizeof *x);
    assert_int_equal(actjit_kernel_run(kd, x, d->batch, y), ACTJIT_OK);
    for (size_t i = 0; i < d->nout && !rep->failed; i++)
      if (!same_value(y[i], yf[b][i])) {
        failure(rep, t, "donated != fused");
        say(rep, "[%s] batch %lld element %zu: donated input: %.9g, fused %.9g\n",
            test_targets[t].cpu ? test_targets[t].cpu : "host", (long long)d->batch, i, (double)y[i], (double)yf[b][i]);
        say(rep, "  donated plan:");
        for (int s = 0; s < actjit_kernel_step_count(kd); s++) say(rep, " [%s]", actjit_kernel_step_name(kd, s));
        say(rep, "\n");
      }
    tu_free_unaligned(x), tu_free_unaligned(y);
  }
  actjit_kernel_destroy(kd);
}

/* The IR the fused kernel was generated from (after the passes, with its
 * fuse { } groups) parses back and compiles, fused, to the same bits. */
static void check_dumped_ir(actjit_graph *g, int t, actjit_kernel *kf, float **params, const batch_data *bd, int nb,
                            float **yf, report *rep) {
  const char *cpu = test_targets[t].cpu ? test_targets[t].cpu : "host";
  char *text;
  assert_int_equal(actjit_kernel_dump(kf, ACTJIT_DUMP_IR, &text), ACTJIT_OK);
  actjit_graph *h = NULL;
  if (actjit_graph_parse(actjit_graph_context(g), text, strlen(text), "dumped.air", &h)) {
    failure(rep, t, "dumped IR does not parse");
    say(rep, "[%s] the fused kernel's IR does not parse back: %s\n%s", cpu, actjit_context_error(actjit_graph_context(g)),
        text);
    actjit_free(text);
    return;
  }
  actjit_kernel *k = compile_for(h, t, 1, rep);
  if (k && bind_params(h, k, params, t, rep))
    for (int b = 0; b < nb && !rep->failed; b++) {
      const batch_data *d = &bd[b];
      float *y = tu_alloc_unaligned(d->nout + 1);
      assert_non_null(y);
      assert_int_equal(actjit_kernel_run(k, d->x, d->batch, y), ACTJIT_OK);
      for (size_t i = 0; i < d->nout && !rep->failed; i++)
        if (!same_value(y[i], yf[b][i])) {
          failure(rep, t, "dumped IR != fused");
          say(rep, "[%s] batch %lld element %zu: the fused kernel's IR, parsed and compiled: %.9g, fused %.9g\n%s", cpu,
              (long long)d->batch, i, (double)y[i], (double)yf[b][i], text);
        }
      tu_free_unaligned(y);
    }
  actjit_kernel_destroy(k);
  actjit_graph_destroy(h);
  actjit_free(text);
}

/* The text with `fuse { }` around a run of its op lines, chosen by r;
 * NULL if it has no ops. */
static char *grouped_text(const char *text, dag_src *r) {
  int ops = op_count(text);
  if (ops < 2) return NULL;
  int first = dag_below(r, ops), n = 2 + dag_below(r, 7);
  char *out = malloc(strlen(text) + 32);
  assert_non_null(out);
  size_t k = 0;
  int op = 0;
  for (const char *line = text; *line;) {
    size_t len = strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n');
    bool is_op = *line == '%', open = op > first && op < first + n;
    if (is_op && op == first) k += (size_t)sprintf(out + k, "fuse {\n");
    if (!is_op && open) k += (size_t)sprintf(out + k, "}\n"), op = first + n; /* the output line closes it */
    memcpy(out + k, line, len), k += len;
    if (is_op && ++op == first + n) k += (size_t)sprintf(out + k, "}\n");
    line += len;
  }
  out[k] = 0;
  return out;
}

/* The text with some of its ops grouped by hand: the verifier refuses the
 * group with a one-line message, or the fused kernel gives the unfused bits. */
static void check_text_groups(const graph_case *c, int t, float **params, const batch_data *bd, int nb, float **yu,
                              report *rep) {
  const char *cpu = test_targets[t].cpu ? test_targets[t].cpu : "host";
  dag_src r = dag_seeded(c->seed ^ 0x6209);
  char *text = grouped_text(c->text, &r);
  if (!text) return;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_parse(ctx, text, strlen(text), "grouped.air", &g);
  if (st && (st != ACTJIT_ERR_VERIFY || strchr(actjit_context_error(ctx), '\n') || !strstr(actjit_context_error(ctx), "grouped.air:"))) {
    failure(rep, t, "grouped text");
    say(rep, "[%s] a fuse block: %s: %s\n%s", cpu, actjit_status_name(st), actjit_context_error(ctx), text);
  }
  totals.groups_taken += !st, totals.groups_refused += st == ACTJIT_ERR_VERIFY;
  actjit_kernel *k = st ? NULL : compile_for(g, t, 1, rep);
  if (k && bind_params(g, k, params, t, rep) && !linear_softmax_kernel(k))
    for (int b = 0; b < nb && !rep->failed; b++) {
      const batch_data *d = &bd[b];
      float *y = tu_alloc_unaligned(d->nout + 1);
      assert_non_null(y);
      assert_int_equal(actjit_kernel_run(k, d->x, d->batch, y), ACTJIT_OK);
      for (size_t i = 0; i < d->nout && !rep->failed; i++)
        if (!same_value(y[i], yu[b][i])) {
          failure(rep, t, "grouped != unfused");
          say(rep, "[%s] batch %lld element %zu: with a fuse block %.9g, unfused %.9g\n%s", cpu, (long long)d->batch, i,
              (double)y[i], (double)yu[b][i], text);
        }
      tu_free_unaligned(y);
    }
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  free(text);
}

static void check_target(const graph_case *c, actjit_graph *g, int t, float **params, bool region, bool donate,
                         const batch_data *bd, int nb, report *rep) {
  const char *cpu = test_targets[t].cpu ? test_targets[t].cpu : "host";
  actjit_kernel *kf = compile_for(g, t, 1, rep), *ku = kf ? compile_for(g, t, 0, rep) : NULL;
  if (!kf || !ku || !bind_params(g, kf, params, t, rep) || !bind_params(g, ku, params, t, rep)) {
    actjit_kernel_destroy(kf), actjit_kernel_destroy(ku);
    return;
  }
  int steps_f = actjit_kernel_step_count(kf), steps_u = actjit_kernel_step_count(ku);
  if (steps_f > steps_u) {
    failure(rep, t, "more fused kernels");
    say(rep, "[%s] the fused plan runs %d kernels, the unfused %d\n", cpu, steps_f, steps_u);
  }
  if (region && steps_f != 1) {
    failure(rep, t, "one region, several kernels");
    say(rep, "[%s] one elementwise region, but the fused plan runs %d kernels\n", cpu, steps_f);
  }
  bool exact = !linear_softmax_kernel(kf);
  float *yf[3], *yu[3], *yft[3], *yut[3];
  for (int b = 0; b < nb; b++) {
    size_t n = bd[b].nout + 1;
    yf[b] = tu_alloc_unaligned(n), yu[b] = tu_alloc_unaligned(n), yft[b] = tu_alloc_unaligned(n);
    yut[b] = tu_alloc_unaligned(n);
    assert_true(yf[b] && yu[b] && yft[b] && yut[b]);
  }
  run_batches(kf, bd, nb, yf, yft);
  run_batches(ku, bd, nb, yu, yut);
  for (int b = 0; b < nb && !rep->failed; b++) {
    const batch_data *d = &bd[b];
    if (memcmp(d->x, d->x_copy, d->nin * sizeof *d->x)) {
      failure(rep, t, "input written");
      say(rep, "[%s] batch %lld: the caller's input was written\n", cpu, (long long)d->batch);
    }
    for (size_t i = 0; i < d->nout && !rep->failed; i++) {
      float f = yf[b][i], u = yu[b][i];
      /* (equal infinities agree: their difference is NaN) */
      bool agree = exact || isnan(f) || isnan(u) ? same_value(f, u)
                                                 : same_value(f, u) || fabsf(f - u) <= 0x1p-20f * fabsf(u) + 0x1p-30f;
      const char *what = !agree                          ? "fused != unfused"
                         : !same_value(f, yft[b][i])     ? "fused != fused on 3 tasks"
                         : !same_value(u, yut[b][i])     ? "unfused != unfused on 3 tasks"
                         : !contains(d->want[i], f)      ? "fused outside the reference's interval"
                         : !contains(d->want[i], u)      ? "unfused outside the reference's interval"
                                                         : NULL;
      if (!what) continue;
      failure(rep, t, what);
      const ival *w = &d->want[i];
      say(rep, "[%s] batch %lld element %zu: %s: fused %.9g, unfused %.9g, fused/3 tasks %.9g, unfused/3 tasks %.9g; "
               "reference %.9g, interval [%.9g, %.9g]%s\n",
          cpu, (long long)d->batch, i, what, (double)f, (double)u, (double)yft[b][i], (double)yut[b][i],
          (double)d->yr[i], (double)w->lo, (double)w->hi, w->nan ? " or NaN" : empty(*w) ? " (NaN)" : "");
      describe_input(rep, d->x, d->nin, d->batch, i, d->nout);
      say(rep, "  fused plan:");
      for (int s = 0; s < steps_f; s++) say(rep, " [%s]", actjit_kernel_step_name(kf, s));
      say(rep, "\n");
    }
  }
  if (donate && !rep->failed) check_donated(g, t, params, bd, nb, yf, rep);
  /* in turn: the fused plan's IR, or a group of the test's */
  if (!rep->failed && c->seed % 2) check_dumped_ir(g, t, kf, params, bd, nb, yf, rep);
  if (!rep->failed && !(c->seed % 2)) check_text_groups(c, t, params, bd, nb, yu, rep);
  for (int b = 0; b < nb; b++) tu_free_unaligned(yf[b]), tu_free_unaligned(yu[b]), tu_free_unaligned(yft[b]), tu_free_unaligned(yut[b]);
  actjit_kernel_destroy(kf), actjit_kernel_destroy(ku);
}

static void check_graph(const graph_case *c, report *rep) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = NULL;
  if (actjit_graph_parse(ctx, c->text, strlen(c->text), c->label, &g)) {
    failure(rep, -1, "parse");
    say(rep, "does not parse: %s\n", actjit_context_error(ctx));
    actjit_context_destroy(ctx);
    return;
  }
  /* print(parse(text)) is a fixed point */
  char *printed, *again = NULL;
  actjit_graph *h = NULL;
  assert_int_equal(actjit_graph_print(g, &printed), ACTJIT_OK);
  if (actjit_graph_parse(ctx, printed, strlen(printed), "printed.air", &h) || actjit_graph_print(h, &again) ||
      strcmp(printed, again)) {
    failure(rep, -1, "print/parse");
    say(rep, "the printed graph does not parse back to itself: %s\n%s\n%s\n", actjit_context_error(ctx), printed,
        again ? again : "");
  }
  actjit_free(printed), actjit_free(again), actjit_graph_destroy(h);
  /* what canonicalize makes of it, without the text's groups (which only
   * keep patterns apart): the plans compute either reading */
  actjit_graph *canon = NULL;
  assert_int_equal(actjit_graph_parse(ctx, c->text, strlen(c->text), c->label, &canon), ACTJIT_OK);
  for (int i = 0; i < canon->n; i++) canon->nodes[i].group = 0;
  assert_int_equal(actjit_graph_verify(canon), ACTJIT_OK);
  assert_int_equal(pass_canonicalize(canon, &(pass_options){.canonicalize = true}), ACTJIT_OK);
  dag_src r = dag_seeded(c->seed ^ 0xDA7A);
  static const int specials[] = {0, 0, 40, 6};
  int special_every = DAG_PICK(&r, specials);
  float scale = dag_chance(&r, 20) ? 100 : 4;
  float **params = make_params(g, c->seed, special_every);
  const int64_t batches[] = {0, 1, c->batch_odd};
  enum { NB = sizeof batches / sizeof *batches };
  batch_data bd[NB];
  /* the inputs and what they should give: the same for every target */
  for (int b = 0; b < NB; b++) {
    batch_data *d = &bd[b];
    d->batch = batches[b];
    d->nin = value_count(g, actjit_graph_get_input(g), d->batch);
    d->nout = value_count(g, actjit_graph_get_output(g), d->batch);
    d->x = tu_alloc_unaligned(d->nin + 1), d->x_copy = tu_alloc_unaligned(d->nin + 1);
    d->yr = tu_alloc_unaligned(d->nout + 1);
    assert_true(d->x && d->x_copy && d->yr);
    if (c->input)
      for (size_t i = 0; i < d->nin; i++) d->x[i] = c->input[i % c->ninput];
    else
      dag_fill(&r, d->x, d->nin, scale, special_every);
    memcpy(d->x_copy, d->x, d->nin * sizeof *d->x);
    d->want = interval_run(g, canon, (const float *const *)params, d->x, d->batch);
    /* the reference itself lies in its intervals */
    assert_int_equal(ref_run(g, (const float *const *)params, d->x, d->batch, d->yr), ACTJIT_OK);
    for (size_t i = 0; i < d->nout && !rep->failed; i++)
      if (!contains(d->want[i], d->yr[i])) {
        failure(rep, -1, "reference outside");
        say(rep, "batch %lld element %zu: the reference %.9g is outside its interval [%.9g, %.9g]%s (a defect of test_dag)\n",
            (long long)d->batch, i, (double)d->yr[i], (double)d->want[i].lo, (double)d->want[i].hi,
            d->want[i].nan ? " or NaN" : "");
        describe_input(rep, d->x, d->nin, d->batch, i, d->nout);
      }
  }
  bool region = one_region(g);
  /* The targets: all (one of them, rotating, also with the input donated),
   * every third graph's one, or the one asked for. */
  int first = only_target >= 0 ? only_target : rotate_targets ? (int)(c->seed % N_TEST_TARGETS) : 0;
  int last = only_target >= 0 || rotate_targets ? first : (int)N_TEST_TARGETS - 1;
  for (int t = first; t <= last && !rep->failed; t++)
    check_target(c, g, t, params, region, t == (int)(c->seed % N_TEST_TARGETS), bd, NB, rep);
  for (int b = 0; b < NB; b++) {
    /* how sharp the intervals were */
    for (size_t i = 0; i < bd[b].nout; i++) {
      const ival *w = &bd[b].want[i];
      totals.elements++;
      totals.exact += is_point(*w);
      totals.nan_required += empty(*w) && w->nan;
      totals.sharp += !w->nan && !empty(*w) && isfinite(w->lo) && isfinite(w->hi) &&
                      (double)w->hi - w->lo <= 1e-3 * fmax(1e-3, fabs((double)bd[b].yr[i]));
    }
    free(bd[b].want);
    tu_free_unaligned(bd[b].x), tu_free_unaligned(bd[b].x_copy), tu_free_unaligned(bd[b].yr);
  }
  for (int i = 0; i < actjit_graph_param_count(g); i++) tu_free_unaligned(params[i]);
  free(params);
  actjit_graph_destroy(g), actjit_graph_destroy(canon);
  actjit_context_destroy(ctx);
  totals.graphs++;
}

/* ------------------------------------------------------------- reducer */


/* Removes what the output does not need, declarations included. */
static void prune(actjit_graph *g) {
  bool *live = live_nodes(g);
  live[g->input] = true;
  for (int i = g->n - 1; i >= 0; i--)
    if (!live[i]) ir_remove(g, i);
  free(live);
}

/* The text of g after one change (0: take the output from node v, else
 * 1 + k: replace node v by its operand k, when of the same shape), pruned;
 * NULL if that change does not apply or gives no valid graph. */
static char *reduced(const actjit_graph *g0, int v, int change) {
  const node *nd = &g0->nodes[v];
  if (op_table[nd->op].kind == K_SOURCE || (change == 0 && v == g0->output)) return NULL;
  if (change > 0) {
    int a = change - 1 < nd->nargs ? nd->args[change - 1] : -1;
    if (a < 0 || g0->nodes[a].op == OP_PARAM || g0->nodes[a].op == OP_CONST || !shape_eq(&g0->nodes[a].shape, &nd->shape))
      return NULL;
  }
  actjit_graph *g = ir_clone(g0);
  assert_non_null(g);
  if (change == 0) g->output = v;
  else ir_replace_uses(g, v, g->nodes[v].args[change - 1]);
  prune(g);
  char *text = NULL;
  if (g->output != g->input && !actjit_graph_verify(g)) assert_int_equal(actjit_graph_print(g, &text), ACTJIT_OK);
  actjit_graph_destroy(g);
  return text;
}

/* Does text fail as the original did (same kind, same target)? */
static bool still_fails(const char *text, const graph_case *c, const report *orig) {
  static report rep;
  reset(&rep);
  graph_case t = *c;
  t.text = text;
  only_target = orig->target;
  check_graph(&t, &rep);
  only_target = -1;
  return rep.failed && !strcmp(rep.kind, orig->kind);
}

/* Shrinks a failing graph: drops ops (a use of an op's value takes its
 * operand instead) and takes the output earlier while it still fails the
 * same way; prints the result as a case file for tests/dag_cases/. */
static void reduce(const graph_case *c, const report *orig) {
  static char text[DAG_GEN_MAX_TEXT];
  snprintf(text, sizeof text, "%s", c->text);
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (bool progress = true; progress;) {
    progress = false;
    actjit_graph *g;
    assert_int_equal(actjit_graph_parse(ctx, text, strlen(text), c->label, &g), ACTJIT_OK);
    for (int change = 0; change <= OP_MAX_ARGS && !progress; change++)
      for (int v = 0; v < g->n && !progress; v++) {
        char *t = reduced(g, v, change);
        if (t && still_fails(t, c, orig)) {
          snprintf(text, sizeof text, "%s", t);
          progress = true;
          printf("reduce: %d ops\n", op_count(text));
          fflush(stdout);
        }
        actjit_free(t);
      }
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
  printf("# %s%s%s\n# seed: %llu\n# batch: %lld\n%s", orig->kind, orig->target >= 0 ? " on " : "",
         orig->target >= 0 ? (test_targets[orig->target].cpu ? test_targets[orig->target].cpu : "the host") : "",
         (unsigned long long)c->seed, (long long)c->batch_odd, text);
}

/* --------------------------------------------------------------- drivers */

static char crash_note[160];

/* A crash names the graph it happened in. */
static void on_crash(int sig) {
  ssize_t unused = write(2, crash_note, strlen(crash_note));
  (void)unused;
  signal(sig, SIG_DFL);
  raise(sig);
}

static double env_number(const char *name, double otherwise) {
  const char *v = getenv(name);
  return v && *v ? strtod(v, NULL) : otherwise;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_totals(double seconds) {
  double e = totals.elements ? 100.0 / (double)totals.elements : 0;
  printf("test_dag: %ld graphs in %.1f s (%.1f graphs/s); of %ld output elements checked against the reference, "
         "%.1f%% exact, %.1f%% within 1e-3 relative, %.1f%% required NaN; fuse blocks of the test's: %ld taken, "
         "%ld refused\n",
         totals.graphs, seconds, seconds > 0 ? (double)totals.graphs / seconds : 0, totals.elements,
         (double)totals.exact * e, (double)totals.sharp * e, (double)totals.nan_required * e, totals.groups_taken,
         totals.groups_refused);
}

static int64_t odd_batch(uint64_t seed) { return seed % 4 == 0 ? 37 : 7; }



/* The random graphs: CI's seeds, a long run, or one seed. */
static void test_random_graphs(void **state) {
  if (getenv("ACTJIT_DAG_CASE")) skip(); /* a case file alone */
  static char text[DAG_GEN_MAX_TEXT];
  const char *one = getenv("ACTJIT_DAG_SEED");
  bool long_run = getenv("ACTJIT_DAG_GRAPHS") || getenv("ACTJIT_DAG_SECONDS");
  long graphs = one ? 1 : (long)env_number("ACTJIT_DAG_GRAPHS", long_run ? 1e12 : CI_GRAPHS);
  double seconds = env_number("ACTJIT_DAG_SECONDS", 0);
  uint64_t first = one ? strtoull(one, NULL, 0) : (uint64_t)env_number("ACTJIT_DAG_FIRST", long_run ? 1000000 : CI_FIRST_SEED);
  signal(SIGSEGV, on_crash), signal(SIGBUS, on_crash), signal(SIGFPE, on_crash), signal(SIGILL, on_crash);
  signal(SIGABRT, on_crash);
  totals = (stats){0};
  double start = now();
  long failed = 0;
  uint64_t failing[64];
  static report rep;
  for (long i = 0; i < graphs && (seconds <= 0 || now() - start < seconds); i++) {
    uint64_t seed = first + (uint64_t)i;
    snprintf(crash_note, sizeof crash_note, "test_dag: crashed in the graph of seed %llu (ACTJIT_DAG_SEED=%llu)\n",
             (unsigned long long)seed, (unsigned long long)seed);
    assert_true(dag_gen(seed, text, sizeof text) > 0);
    if (!long_run && !one && op_count(text) > CI_MAX_OPS) {
      graphs++;
      continue;
    }
    if (one) printf("seed %llu:\n%s", (unsigned long long)seed, text);
    char label[32];
    snprintf(label, sizeof label, "seed%llu.air", (unsigned long long)seed);
    reset(&rep);
    graph_case c = {text, label, seed, NULL, 0, odd_batch(seed)};
    check_graph(&c, &rep);
    if (!rep.failed) continue;
    if (one && getenv("ACTJIT_DAG_REDUCE")) reduce(&c, &rep);
    if (failed < 64) failing[failed] = seed;
    failed++;
    printf("FAILED: seed %llu (ACTJIT_DAG_SEED=%llu)\n%s%s\n", (unsigned long long)seed, (unsigned long long)seed,
           rep.text, text);
    fflush(stdout);
  }
  signal(SIGSEGV, SIG_DFL), signal(SIGBUS, SIG_DFL), signal(SIGFPE, SIG_DFL), signal(SIGILL, SIG_DFL);
  signal(SIGABRT, SIG_DFL);
  print_totals(now() - start);
  if (failed) {
    printf("test_dag: %ld graphs failed; seeds:", failed);
    for (long i = 0; i < failed && i < 64; i++) printf(" %llu", (unsigned long long)failing[i]);
    printf("%s\n", failed > 64 ? " ..." : "");
    fail_msg("%ld of the random graphs failed", failed);
  }
}

/* ---- tests/dag_cases: the reproducers, each a regression test */

static const char *known_reason(const char *file) {
  for (size_t i = 0; known_failing[i].file; i++)
    if (!strcmp(known_failing[i].file, file)) return known_failing[i].reason;
  return NULL;
}

static int cases_dir(char (*names)[TU_PATH_MAX], int max) {
  DIR *d = opendir(ACTJIT_SOURCE_DIR "/tests/dag_cases");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; n < max && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".air")) snprintf(names[n++], TU_PATH_MAX, "%s", e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, TU_PATH_MAX, tu_path_cmp);
  return n;
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[DAG_GEN_MAX_TEXT];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

/* A case file is IR; its comments may fix the data: `# input: 1, -0, nan`
 * (tiled over the input), `# seed: 7` (parameters, and the input if not
 * given), `# batch: 5` (the odd batch). */
static void load_case(const char *path, const char *label, graph_case *c) {
  static float input[256];
  const char *text = read_text(path), *at;
  if (!text) fail_msg("cannot read %s", path);
  *c = (graph_case){text, label, 1, NULL, 0, 7};
  if ((at = strstr(text, "# seed:"))) c->seed = strtoull(at + 7, NULL, 0);
  if ((at = strstr(text, "# batch:"))) c->batch_odd = strtoll(at + 8, NULL, 0);
  if ((at = strstr(text, "# input:"))) {
    char *end;
    for (at += 8; c->ninput < 256 && *at != '\n'; at = end) {
      while (*at == ' ' || *at == ',') at++;
      float v = strtof(at, &end);
      if (end == at) break;
      input[c->ninput++] = v;
    }
    c->input = c->ninput ? input : NULL;
  }
}

/* Every case must pass, and every case of known_failing still fail (one
 * that passes is to come off the list, and is a regression test from then). */
static void test_cases(void **state) {
  const char *one = getenv("ACTJIT_DAG_CASE"); /* a case file alone, to reduce it */
  if (one) {
    graph_case c;
    static report rep;
    load_case(one, one, &c);
    reset(&rep);
    check_graph(&c, &rep);
    if (!rep.failed) return;
    printf("FAILED: %s\n%s", one, rep.text);
    if (getenv("ACTJIT_DAG_REDUCE")) reduce(&c, &rep);
    fail_msg("%s failed", one);
  }
  static char names[256][TU_PATH_MAX];
  int n = cases_dir(names, 256);
  assert_true(n >= 0);
  for (size_t i = 0; known_failing[i].file; i++) {
    bool found = false;
    for (int j = 0; j < n; j++) found |= !strcmp(names[j], known_failing[i].file);
    if (!found) fail_msg("known_failing names %s, which tests/dag_cases lacks", known_failing[i].file);
  }
  int failed = 0, passing_known = 0;
  for (int i = 0; i < n; i++) {
    char path[sizeof ACTJIT_SOURCE_DIR + TU_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tests/dag_cases/%.*s", ACTJIT_SOURCE_DIR, TU_PATH_MAX - 1, names[i]);
    graph_case c;
    load_case(path, names[i], &c);
    static report rep;
    reset(&rep);
    check_graph(&c, &rep);
    const char *reason = known_reason(names[i]);
    if (reason && rep.failed) {
      printf("test_dag: tests/dag_cases/%s fails, as known (%s): %.*s", names[i], reason,
             (int)strcspn(rep.text, "\n") + 1, rep.text);
    } else if (reason) {
      printf("test_dag: tests/dag_cases/%s passes now: take it off known_failing in tests/test_dag.c\n", names[i]);
      passing_known++;
    } else if (rep.failed) {
      printf("FAILED: tests/dag_cases/%s\n%s%s\n", names[i], rep.text, c.text);
      failed++;
    }
  }
  if (failed || passing_known)
    fail_msg("%d of tests/dag_cases failed, %d known to fail passed", failed, passing_known);
}

/* The generator is deterministic, every graph it writes parses, and fuzz
 * bytes, even none, make a graph too. */
static void test_generator(void **state) {
  static char a[DAG_GEN_MAX_TEXT], b[DAG_GEN_MAX_TEXT];
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  int repeats = 0;
  static char prev[DAG_GEN_MAX_TEXT];
  for (uint64_t seed = 0; seed < 2000; seed++) {
    size_t n = dag_gen(seed, a, sizeof a);
    assert_true(n > 0 && n == strlen(a));
    assert_int_equal(dag_gen(seed, b, sizeof b), n);
    assert_string_equal(a, b);
    repeats += !strcmp(a, prev);
    memcpy(prev, a, n + 1);
    actjit_graph *g;
    if (actjit_graph_parse(ctx, a, n, "gen.air", &g)) fail_msg("seed %llu: %s\n%s", (unsigned long long)seed, actjit_context_error(ctx), a);
    actjit_graph_destroy(g);
  }
  /* too small a buffer: nothing */
  assert_int_equal(dag_gen(3, a, 16), 0);
  static const uint8_t bytes[] = {7, 1, 200, 3, 99, 42, 5, 0, 255, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  for (size_t len = 0; len <= sizeof bytes; len++) {
    size_t n = dag_gen_bytes(len ? bytes : NULL, len, a, sizeof a);
    assert_true(n > 0);
    actjit_graph *g;
    if (actjit_graph_parse(ctx, a, n, "bytes.air", &g)) fail_msg("%zu bytes: %s\n%s", len, actjit_context_error(ctx), a);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
  assert_true(repeats < 20); /* neighbouring seeds, different graphs */
}

int main(void) {
  opt_level = (int)env_number("ACTJIT_DAG_OPT", opt_level);
  const char *targets = getenv("ACTJIT_DAG_TARGETS");
  rotate_targets = !targets || strcmp(targets, "all");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generator),
      cmocka_unit_test(test_cases),
      cmocka_unit_test(test_random_graphs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
