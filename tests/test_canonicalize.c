/* The canonicalize pass (src/passes/canonicalize.c): each rule fires on the
 * forms torch.onnx.export writes, and the high-level op it makes agrees with
 * the primitive form; the ir/ pairs compile to the same code.
 *
 * What "agrees" means.  The primitive form is itself inexact where its
 * pieces cancel or overflow: 1 + erf(x/√2) is 0 below x ≈ -5.5 where gelu
 * is a tiny negative, sigmoid(x) is denormal below -87.3 and x·sigmoid(x)
 * with it, log(sigmoid(x)) is -Inf below -88.7, x - tanh(x) cancels for
 * small x, x·(1 + erf)·0.5 overflows above FLT_MAX/2.  So both forms are
 * compared with E, the float64 value of the function's formula at the float
 * input, and err(y) is y's distance from E in units of the high-level op's
 * error bound (README Numerics and tests/test_ops.c: gelu 4 ULP, silu 3,
 * mish, softplus, tanhshrink, logsigmoid 4, gelu's tanh form 4 ULP or the
 * conditioning of its float polynomial, softmax 1e-6 relative and log_softmax
 * 2^-20 (1 + |y|) absolute, a linear (k + 2)·2^-24·Σ|x·w| + |b|; the
 * piecewise-linear ops round as PyTorch's float formula does: relu and relu6
 * exactly, hardsigmoid within 2 ULP and hardswish within 3, one rounding per
 * float op).  With P the primitive form run by the reference evaluator, every
 * element y of the rewritten graph (its IR run by the reference evaluator,
 * and compiled, fused on three targets and unfused) has err(y) ≤ 1 (within
 * the bound), or err(y) ≤ err(P) (no worse than the primitive form), or,
 * where P is NaN or infinite and E is not (or the reverse), y is P.  The
 * sign of a zero is not compared here (the clamps keep it: maximum(-0, 0)
 * is +0 and stays maximum, tests/passes/canonicalize_relu.air).
 * A rewrite that would change a value the primitive form gets right is
 * restricted in the pass instead (x·relu6(x + 3)/6 scaled before the
 * product), but for x·hardsigmoid(x), torch's export of nn.Hardswish, which
 * becomes that module with its overflow above FLT_MAX/6
 * (test_hardswish_of_hardsigmoid). */
#include <ctype.h>
#include <float.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "passes/passes.h"
#include "reference/reference.h"
#include "testutil.h"
#include "testpipe.h"

enum { ROWS = 64, COLS = 37, LINEAR_OUT = 11 }; /* the linear cases' weights: [11, 37] */
typedef enum measure { ULP, GELU_TANH, SOFTMIN_REL, LOG_SOFTMAX_REL, LINEAR_SUM } measure;

typedef struct rule_case {
  const char *ir;   /* the primitive form; its input %x : f32[N, COLS] */
  const char *op;   /* the high-level op it becomes (once) */
  const char *keep; /* the other ops the rewritten graph keeps (space-separated), or "" */
  measure how;
  int ulps;                /* ULP, GELU_TANH */
  double (*f)(double x);   /* ULP, GELU_TANH: the function's formula */
} rule_case;

static double e_silu(double x) { return x / (1 + exp(-x)); }
static double e_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
/* x/2 (1 + tanh u) = x / (1 + e^-2u), with PyTorch's float constants */
static double e_gelu_tanh(double x) { return x / (1 + exp(-2 * GELU_BETA_F * (x + GELU_KAPPA_F * x * x * x))); }
static double e_mish(double x) { return x * tanh(log1p(exp(x))); }
/* x - tanh x, by its Taylor series where the difference cancels */
static double e_tanhshrink(double x) {
  if (fabs(x) >= 0.1) return x - tanh(x);
  static const double c[] = {1.0 / 3, -2.0 / 15, 17.0 / 315, -62.0 / 2835, 1382.0 / 155925, -21844.0 / 6081075};
  double t = x * x, s = 0;
  for (int i = 5; i >= 0; i--) s = s * t + c[i];
  return s * t * x;
}
static double e_logsigmoid(double x) { return (x < 0 ? x : 0) - log1p(exp(-fabs(x))); }
static double e_relu(double x) { return isnan(x) ? x : x > 0 ? x : 0; }
static double e_relu6(double x) { return isnan(x) ? x : fmin(fmax(x, 0), 6); }
static double e_hardsigmoid(double x) { return e_relu6(x + 3) / 6; }
static double e_hardswish(double x) { return x * e_hardsigmoid(x); }
static double e_hardswish_bounded(double x) { return e_hardswish(isnan(x) ? x : fmin(fmax(x, -100), 100)); }
static double e_softsign(double x) { return x / (fabs(x) + 1); }
/* log(1 + e^z)/b with z = b·x rounded to float, as PyTorch forms it */
static double softplus(double x, double b) {
  double z = (float)(b * x);
  return z > 30 ? x + log1p(exp(-b * x)) / b : log1p(exp(z)) / b;
}
static double e_softplus2(double x) { return softplus(x, 2); }
static double e_softplus3(double x) { return softplus(x, 3); }

#define HDR "input %x : f32[N, 37]\n"
static const rule_case cases[] = {
    /* nn.SiLU at opsets 11-17, and the other order */
    {HDR "%s = sigmoid %x\n%y = mul %x, %s\noutput %y\n", "silu", "", ULP, 3, e_silu},
    {HDR "%s = sigmoid %x\n%y = mul %s, %x\noutput %y\n", "silu", "", ULP, 3, e_silu},
    /* nn.GELU(): Div, Erf, Add, Mul, Mul; 0.5·x first with x·(1/√2); /2 */
    {HDR "%d = div %x, 1.4142135\n%e = erf %d\n%a = add %e, 1\n%m = mul %x, %a\n%y = mul %m, 0.5\noutput %y\n", "gelu",
     "", ULP, 4, e_gelu},
    {HDR "%h = mul 0.5, %x\n%d = mul %x, 0.70710677\n%e = erf %d\n%a = add 1, %e\n%y = mul %h, %a\noutput %y\n", "gelu",
     "", ULP, 4, e_gelu},
    {HDR "const %s : f32[1] = [1.4142135]\n%d = div %x, %s\n%e = erf %d\n%a = add %e, 1\n%m = mul %a, %x\n"
         "%y = div %m, 2\noutput %y\n",
     "gelu", "", ULP, 4, e_gelu},
    /* nn.GELU('tanh'); Pow(x, 3); Megatron's sqrt(2/pi)·x·(1 + 0.044715·x²) */
    {HDR "%x2 = mul %x, %x\n%x3 = mul %x, %x2\n%k = mul 0.044715, %x3\n%i = add %x, %k\n%u = mul 0.7978846, %i\n"
         "%t = tanh %u\n%a = add 1, %t\n%m = mul %x, %a\n%y = mul 0.5, %m\noutput %y\n",
     "gelu", "", GELU_TANH, 4, e_gelu_tanh},
    {HDR "%x3 = pow %x, 3\n%k = mul %x3, 0.044715\n%i = add %k, %x\n%u = mul %i, 0.7978846\n%t = tanh %u\n"
         "%a = add %t, 1\n%h = mul %x, 0.5\n%y = mul %h, %a\noutput %y\n",
     "gelu", "", GELU_TANH, 4, e_gelu_tanh},
    {HDR "%x2 = mul %x, %x\n%k = mul 0.044715, %x2\n%c = add 1, %k\n%b = mul 0.7978846, %x\n%u = mul %b, %c\n"
         "%t = tanh %u\n%a = add 1, %t\n%h = mul %x, 0.5\n%y = mul %h, %a\noutput %y\n",
     "gelu", "", GELU_TANH, 4, e_gelu_tanh},
    /* nn.Mish: Softplus (threshold 20), Tanh, Mul */
    {HDR "%s = softplus %x\n%t = tanh %s\n%y = mul %x, %t\noutput %y\n", "mish", "", ULP, 4, e_mish},
    /* nn.Tanhshrink: Tanh, Sub */
    {HDR "%t = tanh %x\n%y = sub %x, %t\noutput %y\n", "tanhshrink", "", ULP, 4, e_tanhshrink},
    /* nn.Softmin(1): Neg, Softmax */
    {HDR "%n = neg %x\n%y = softmax %n {dim = 1}\noutput %y\n", "softmin", "", SOFTMIN_REL, 0, NULL},
    {HDR "%s = softmax %x {dim = -1}\n%y = log %s\noutput %y\n", "log_softmax", "", LOG_SOFTMAX_REL, 0, NULL},
    /* nn.LogSigmoid: Sigmoid, Log */
    {HDR "%s = sigmoid %x\n%y = log %s\noutput %y\n", "logsigmoid", "", ULP, 4, e_logsigmoid},
    {HDR "%y = maximum 0, %x\noutput %y\n", "relu", "", ULP, 0, e_relu},
    /* nn.ReLU6: Clip(x, 0, 6); as maximum and minimum either way */
    {HDR "%y = clip %x {min = 0, max = 6}\noutput %y\n", "relu6", "", ULP, 0, e_relu6},
    {HDR "%b = maximum 0, %x\n%y = minimum %b, 6\noutput %y\n", "relu6", "", ULP, 0, e_relu6},
    {HDR "%b = minimum 6, %x\n%y = maximum 0, %b\noutput %y\n", "relu6", "", ULP, 0, e_relu6},
    {HDR "%b = minimum %x, 6\n%y = relu %b\noutput %y\n", "relu6", "", ULP, 0, e_relu6},
    {HDR "%a = add %x, 3\n%r = clip %a {min = 0, max = 6}\n%y = div %r, 6\noutput %y\n", "hardsigmoid", "", ULP, 2,
     e_hardsigmoid},
    {HDR "%a = add 3, %x\n%r = hardtanh %a {min_val = 0, max_val = 6}\n%y = mul %r, 0.16666667\noutput %y\n",
     "hardsigmoid", "", ULP, 2, e_hardsigmoid},
    /* x·relu6(x + 3)/6 */
    {HDR "%a = add %x, 3\n%r = clip %a {min = 0, max = 6}\n%m = mul %x, %r\n%y = div %m, 6\noutput %y\n", "hardswish",
     "", ULP, 3, e_hardswish},
    {HDR "%a = add 3, %x\n%b = maximum %a, 0\n%r = minimum %b, 6\n%m = mul %r, %x\n%y = mul 0.16666667, %m\n"
         "output %y\n",
     "hardswish", "", ULP, 3, e_hardswish},
    /* nn.Hardswish at opsets 11 and 13: Mul(x, HardSigmoid(x)), here of an
     * x below FLT_MAX/6 (above: test_hardswish_of_hardsigmoid) */
    {HDR "%h = hardtanh %x {min_val = -100, max_val = 100}\n%s = hardsigmoid %h\n%y = mul %h, %s\noutput %y\n",
     "hardswish", "hardtanh", ULP, 3, e_hardswish_bounded},
    /* nn.Softsign at opsets 11-17: Abs, Add(·, 1), Div; the same float operations */
    {HDR "%a = abs %x\n%b = add %a, 1\n%y = div %x, %b\noutput %y\n", "softsign", "", ULP, 0, e_softsign},
    {HDR "%a = abs %x\n%b = add 1, %a\n%y = div %x, %b\noutput %y\n", "softsign", "", ULP, 0, e_softsign},
    /* nn.Softplus(beta=2): Mul, Softplus, Div; beta 3 as ·(1/3) */
    {HDR "%m = mul %x, 2\n%s = softplus %m\n%y = div %s, 2\noutput %y\n", "softplus", "", ULP, 4, e_softplus2},
    {HDR "%m = mul 3, %x\n%s = softplus %m {threshold = 15}\n%y = mul %s, 0.33333334\noutput %y\n", "softplus", "", ULP,
     4, e_softplus3},
    /* linear without bias, then the bias added (a param declared between) */
    {HDR "param @w : f32[11, 37]\n%h = linear %x, @w\nparam @b : f32[11]\n%y = add %h, @b\noutput %y\n", "linear", "",
     LINEAR_SUM, 0, NULL},
    {HDR "param @w : f32[11, 37]\nparam @b : f32[11]\n%h = linear %x, @w\n%y = add @b, %h\noutput %y\n", "linear", "",
     LINEAR_SUM, 0, NULL},
};

static const float specials[] = {
    NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN, 1e-30f, -1e-30f,
    1e-20f, -1e-10f, 1e-4f, -1e-4f, 1e30f, -1e30f, 1e38f, -1e38f, FLT_MAX, -FLT_MAX, 88.7f, -88.7f, -87.5f, -89.0f,
    100, -100, -5.5f, -9, -15, -30, 9.5f, 10, 20, -3, 3, 2.9999998f, -2.9999998f, 0.5f, -0.5f};

/* One in `rare` elements special, the rest uniform in [-10, 10], in
 * [-100, 100], or of any magnitude (sign · 2^e, e uniform in [-149, 128)). */
static void fill(float *x, size_t n, uint64_t *rng, unsigned rare) {
  for (size_t i = 0; i < n; i++) {
    unsigned pick = (unsigned)(tu_rng(rng) % (3 * rare));
    if (pick < 3) x[i] = specials[tu_rng(rng) % (sizeof specials / sizeof *specials)];
    else if (pick % 3 == 0) x[i] = tu_uniform(rng, -10, 10);
    else if (pick % 3 == 1) x[i] = tu_uniform(rng, -100, 100);
    else x[i] = ldexpf(tu_uniform(rng, -2, 2), (int)(tu_rng(rng) % 277) - 149);
  }
}

/* E for every element of row r, and the tolerance of the measures that
 * are not in ULP. */
static void exact_row(const rule_case *c, const float *const *params, const float *x, double *e, double *tol) {
  if (c->how == SOFTMIN_REL || c->how == LOG_SOFTMAX_REL) {
    double s = c->how == SOFTMIN_REL ? -1 : 1, m = -INFINITY, sum = 0;
    for (int j = 0; j < COLS; j++) m = isnan(x[j]) || s * x[j] > m ? s * x[j] : m;
    for (int j = 0; j < COLS; j++) sum += exp(s * x[j] - m);
    for (int j = 0; j < COLS; j++) {
      double y = s * x[j] - m; /* float rounds it: e^y moves by |y|·2^-24 (tests/test_fusion.c) */
      e[j] = c->how == SOFTMIN_REL ? exp(y) / sum : y - log(sum);
      tol[j] = c->how == SOFTMIN_REL ? (1e-6 + 1e-7 * sqrt(COLS) + fabs(y) * 0x1p-23) * fabs(e[j]) + 1e-38
                                     : 0x1p-20 * (1 + fabs(e[j]));
    }
  } else if (c->how == LINEAR_SUM) {
    for (int o = 0; o < LINEAR_OUT; o++) {
      const float *w = params[0] + o * COLS;
      double sum = params[1][o], mag = fabs(params[1][o]);
      for (int j = 0; j < COLS; j++) sum += (double)x[j] * w[j], mag += fabs((double)x[j] * w[j]);
      e[o] = sum;
      tol[o] = (COLS + 2) * 0x1p-24 * mag;
    }
  } else {
    for (int j = 0; j < COLS; j++) {
      double v = x[j], u = GELU_BETA_F * (v + GELU_KAPPA_F * v * v * v);
      e[j] = c->f(v);
      /* gelu's tanh form: its float u moves x·sigmoid(2u) (tests/test_ops.c) */
      double conditioning = (2 * fabs(u) * 0x1p-22 + c->ulps * 0x1p-23) / (1 + exp(2 * u));
      tol[j] = c->how == GELU_TANH ? fabs(e[j]) * conditioning + 0x1p-149 : 0;
    }
  }
}

/* y's distance from e in units of the bound (see the top); 0 for the same
 * NaN or infinity, INFINITY when only one is a number. */
static double err(const rule_case *c, float y, double e, double tol) {
  if (isnan(y) || isnan(e)) return isnan(y) && isnan(e) ? 0 : INFINITY;
  if (c->how == ULP || c->how == GELU_TANH) {
    int64_t u = tu_ulp(y, (float)e);
    double units = c->ulps ? (double)u / c->ulps : u ? INFINITY : 0;
    if (units > 1 && c->how == GELU_TANH && isfinite(y) && isfinite(e)) units = fmin(units, fabs(y - e) / tol);
    return units;
  }
  if ((double)y == e) return 0;
  return isfinite(y) && isfinite(e) ? fabs(y - e) / tol : INFINITY;
}

typedef struct stats {
  int64_t n, p_out, y_out; /* elements; of them P, and the rewritten form, outside the bound */
  double p_max, y_max;     /* largest finite err of each */
} stats;

static void check(const rule_case *c, const char *what, const float *x, const float *p, const float *y,
                  const double *e, const double *tol, size_t n, stats *s) {
  for (size_t i = 0; i < n; i++) {
    double ep = err(c, p[i], e[i], tol[i]), ey = err(c, y[i], e[i], tol[i]);
    bool ok = ey <= 1 || (isfinite(ep) ? ey <= ep : same_value(y[i], p[i]));
    if (!ok)
      fail_msg("%s: %s element %zu (x %.9g): got %.9g (err %g), primitive form %.9g (err %g), float64 %.17g", c->op,
               what, i, c->how == LINEAR_SUM ? NAN : x[i], y[i], ey, p[i], ep, e[i]);
    s->n++;
    s->p_out += ep > 1, s->y_out += ey > 1;
    if (isfinite(ep)) s->p_max = fmax(s->p_max, ep);
    if (isfinite(ey)) s->y_max = fmax(s->y_max, ey);
  }
}

/* The rewrite fired: the graph computes `op` once and, besides it, only
 * the case's `keep` ops, no constant left. */
static void assert_fired(const rule_case *c, const actjit_graph *g) {
  int found = 0;
  for (int i = 0; i < g->n; i++) {
    const char *name = op_table[g->nodes[i].op].name;
    if (g->nodes[i].op == OP_INPUT || g->nodes[i].op == OP_PARAM) continue;
    if (!strcmp(name, c->op)) found++;
    else if (g->nodes[i].op == OP_CONST || !strstr(c->keep, name)) fail_msg("%s: %s left: %s", c->op, name, c->ir);
  }
  if (found != 1) fail_msg("%s: %d of it after canonicalize: %s", c->op, found, c->ir);
}

static actjit_kernel *compile_as(pipeline *p, const test_target *t, int fuse, int canonicalize) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu, o.features = t->features, o.fuse = fuse, o.canonicalize = canonicalize;
  actjit_kernel *k;
  if (actjit_compile(p->g, &o, &k)) fail_msg("%s", actjit_context_error(p->ctx));
  for (int i = 0; i < p->np; i++) {
    const char *name;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_param_info(p->g, i, &name, &rank, dims), ACTJIT_OK);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    assert_int_equal(actjit_kernel_bind(k, name, p->params[i], n), ACTJIT_OK);
  }
  return k;
}

/* How many ops k's plan runs, and (op non-NULL) how many of them are `op`
 * (from the step names, "div %d | erf %e"). */
static int ops_run(const actjit_kernel *k, const char *op, int *of_op) {
  int n = 0, m = 0;
  for (int i = 0; i < actjit_kernel_step_count(k); i++)
    for (const char *s = actjit_kernel_step_name(k, i); s; s = strstr(s, " | ") ? strstr(s, " | ") + 3 : NULL, n++)
      m += op && !strncmp(s, op, strlen(op)) && s[strlen(op)] == ' ';
  if (of_op) *of_op = m;
  return n;
}

/* The ops a graph computes. */
static int computed(const actjit_graph *g) {
  int n = 0;
  for (int i = 0; i < g->n; i++) n += !ir_is_source(g, i);
  return n;
}

static void test_rule(void **state) {
  const rule_case *c = *state;
  uint64_t rng = 0x5DEECE66Dull ^ (uint64_t)(c - cases);
  pipeline p;
  load_pipeline(&p, c->ir, NULL, &rng);
  actjit_graph *gc = ir_clone(p.g);
  assert_non_null(gc);
  pass_options po = {.canonicalize = true};
  assert_int_equal(pass_canonicalize(gc, &po), ACTJIT_OK);
  assert_fired(c, gc);

  size_t nin = ROWS * COLS, out = c->how == LINEAR_SUM ? LINEAR_OUT : COLS, nout = ROWS * out;
  float *x = tu_alloc_unaligned(nin), *pr = tu_alloc_unaligned(nout), *y = tu_alloc_unaligned(nout);
  double *e = calloc(nout, sizeof *e), *tol = calloc(nout, sizeof *tol);
  fill(x, nin, &rng, c->how == ULP || c->how == GELU_TANH ? 4 : 64);
  const float *const *params = (const float *const *)p.params;
  for (size_t r = 0; r < ROWS; r++) exact_row(c, params, x + r * COLS, e + r * out, tol + r * out);
  assert_int_equal(ref_run(p.g, params, x, ROWS, pr), ACTJIT_OK);
  stats s = {0};
  assert_int_equal(ref_run(gc, params, x, ROWS, y), ACTJIT_OK);
  check(c, "reference evaluator", x, pr, y, e, tol, nout, &s);
  for (size_t t = 0; t <= N_TEST_TARGETS; t++) { /* the targets fused, then the host unfused */
    const test_target *tt = &test_targets[t % N_TEST_TARGETS];
    bool fused = t < N_TEST_TARGETS;
    actjit_kernel *k = compile_as(&p, tt, fused, 1);
    int of_op;
    assert_int_equal(ops_run(k, c->op, &of_op), computed(gc));
    assert_int_equal(of_op, 1);
    assert_int_equal(actjit_kernel_run(k, x, ROWS, y), ACTJIT_OK);
    char what[64];
    snprintf(what, sizeof what, "compiled for %s%s", tt->cpu ? tt->cpu : "the host", fused ? "" : ", unfused");
    check(c, what, x, pr, y, e, tol, nout, &s);
    actjit_kernel_destroy(k);
  }
  /* turned off, the primitive form is what runs */
  actjit_kernel *k = compile_as(&p, &test_targets[0], 1, 0);
  assert_int_equal(ops_run(k, NULL, NULL), computed(p.g));
  actjit_kernel_destroy(k);
  print_message("%-12s %6lld elements: primitive form outside the bound at %lld (largest finite err %.3g), "
                "rewritten at %lld (%.3g)\n",
                c->op, (long long)s.n, (long long)s.p_out, s.p_max, (long long)s.y_out, s.y_max);
  free(e), free(tol);
  tu_free_unaligned(x), tu_free_unaligned(pr), tu_free_unaligned(y);
  actjit_graph_destroy(gc);
  unload_pipeline(&p);
}

static actjit_graph *parse(actjit_context *ctx, const char *text) {
  actjit_graph *g;
  if (actjit_graph_parse(ctx, text, strlen(text), "case.air", &g)) fail_msg("%s", actjit_context_error(ctx));
  return g;
}

/* x·hardsigmoid(x) of an unbounded x (the output of a linear, as torch
 * exports nn.Hardswish at opsets 11 and 13) becomes hardswish, the module
 * it was exported from.  The one value that changes beyond hardswish's 3
 * ULP: above FLT_MAX/6 hardswish's x·relu6(x + 3) overflows, +Inf as
 * nn.Hardswish computes it, where the product gives x.  (x/6)·relu6(x + 3)
 * stays. */
static void test_hardswish_of_hardsigmoid(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  static const char prod[] = "input %x : f32[N, 1]\n%s = hardsigmoid %x\n%y = mul %x, %s\noutput %y\n";
  actjit_graph *p = parse(ctx, prod), *g = parse(ctx, prod);
  actjit_graph *scaled = parse(ctx, "input %x : f32[N, 1]\n%s = mul %x, 0.16666667\n%a = add %x, 3\n%r = relu6 %a\n"
                                    "%y = mul %s, %r\noutput %y\n");
  char *after, *before, *kept;
  pass_options po = {.canonicalize = true};
  assert_int_equal(actjit_graph_print(scaled, &before), ACTJIT_OK);
  assert_int_equal(pass_canonicalize(g, &po), ACTJIT_OK);
  assert_int_equal(pass_canonicalize(scaled, &po), ACTJIT_OK);
  assert_int_equal(actjit_graph_print(g, &after), ACTJIT_OK);
  assert_int_equal(actjit_graph_print(scaled, &kept), ACTJIT_OK);
  assert_string_equal(after, "input %x : f32[N, 1]\n%y = hardswish %x : f32[N, 1]\noutput %y\n");
  assert_string_equal(kept, before);
  static const float xs[] = {FLT_MAX / 6 * 1.0001f, 1e38f, FLT_MAX, FLT_MAX / 6 * 0.9999f, 1e30f, 3, 2.5f, -1, -3.5f};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
    float x = xs[i], y, z;
    assert_int_equal(ref_run(p, NULL, &x, 1, &y), ACTJIT_OK);
    assert_int_equal(ref_run(g, NULL, &x, 1, &z), ACTJIT_OK);
    if (x > FLT_MAX / 6) assert_true(y == x && isinf(z) && z > 0);
    else if (tu_ulp(y, z) > 3) fail_msg("x %.9g: hardswish %.9g, x·hardsigmoid(x) %.9g", x, z, y);
  }
  actjit_free(after), actjit_free(before), actjit_free(kept);
  actjit_graph_destroy(p), actjit_graph_destroy(g), actjit_graph_destroy(scaled);
  actjit_context_destroy(ctx);
}

/* LLVM IR with its value names (%0, %x.i, %acc) renamed %v0, %v1, ... in
 * the order they first appear. */
static char *rename_values(const char *text) {
  enum { NAMES = 8192 };
  static char names[NAMES][64];
  int n = 0;
  char *out = malloc(2 * strlen(text) + 1), *o = out;
  assert_non_null(out);
  for (const char *p = text; *p;) {
    size_t len = 0;
    while (*p == '%' && (isalnum((unsigned char)p[1 + len]) || (p[1 + len] && strchr("$._-", p[1 + len])))) len++;
    if (!len) {
      *o++ = *p++;
      continue;
    }
    assert_true(len < sizeof names[0]);
    int k = 0;
    while (k < n && (strlen(names[k]) != len || strncmp(names[k], p + 1, len))) k++;
    if (k == n) {
      assert_true(n < NAMES);
      memcpy(names[n], p + 1, len), names[n++][len] = 0;
    }
    o += sprintf(o, "%%v%d", k);
    p += 1 + len;
  }
  *o = 0;
  return out;
}

/* The must-show: GELU as torch.onnx.export writes it and x·sigmoid(x)
 * compile to the same code as gelu and silu (the optimized LLVM IR, up to
 * value names); turned off, each is still one fused kernel that reads its
 * input once and writes its output once. */
static void test_same_code(void **state) {
  static const char *const pairs[][3] = {{"gelu_onnx.air", "gelu.air", "gelu %y"},
                                          {"silu_primitive.air", "silu.air", "silu %y"}};
  for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
    pipeline prim, op;
    uint64_t rng = 1;
    char path[TU_PATH_MAX];
    snprintf(path, sizeof path, "%s/ir/%s", ACTJIT_SOURCE_DIR, pairs[i][0]);
    load_pipeline(&prim, NULL, path, &rng);
    snprintf(path, sizeof path, "%s/ir/%s", ACTJIT_SOURCE_DIR, pairs[i][1]);
    load_pipeline(&op, NULL, path, &rng);
    actjit_kernel *kp = compile_as(&prim, &test_targets[0], 1, 1), *ko = compile_as(&op, &test_targets[0], 1, 1);
    assert_int_equal(actjit_kernel_step_count(kp), 1);
    assert_string_equal(actjit_kernel_step_name(kp, 0), pairs[i][2]);
    char *tp, *to, *passes;
    assert_int_equal(actjit_kernel_dump(kp, ACTJIT_DUMP_LLVM_OPT, &tp), ACTJIT_OK);
    assert_int_equal(actjit_kernel_dump(ko, ACTJIT_DUMP_LLVM_OPT, &to), ACTJIT_OK);
    char *np = rename_values(tp), *no = rename_values(to);
    assert_string_equal(np, no);
    free(np), free(no), actjit_free(tp), actjit_free(to);
    actjit_kernel_destroy(kp), actjit_kernel_destroy(ko);

    kp = compile_as(&prim, &test_targets[0], 1, 0);
    assert_int_equal(actjit_kernel_step_count(kp), 1);
    assert_int_equal(ops_run(kp, NULL, NULL), computed(prim.g));
    assert_int_equal(actjit_kernel_dump(kp, ACTJIT_DUMP_PASSES, &passes), ACTJIT_OK);
    const char *plan = strstr(passes, "# memory plan: 1 kernel");
    if (!plan || !strstr(plan, "#   kernel 0: ") || !strstr(plan, "  reads input, writes output\n"))
      fail_msg("%s: %s", pairs[i][0], plan ? plan : passes);
    actjit_free(passes);
    actjit_kernel_destroy(kp);
    unload_pipeline(&prim), unload_pipeline(&op);
  }
}

/* Nodes the passes remove before a parameter's declaration (canonicalize
 * in an unfused compile, dce in a fused one) leave its binding intact. */
static void test_params_after_removed_nodes(void **state) {
  static const char *const texts[] = {
      "input %x : f32[N, 5]\n%s = sigmoid %x\n%m = mul %x, %s\nparam @w : f32[3, 5]\n%y = linear %m, @w\noutput %y\n",
      "input %x : f32[N, 5]\n%dead = tanh %x\nparam @w : f32[3, 5]\n%y = linear %x, @w\noutput %y\n",
  };
  for (int i = 0; i < 2; i++) {
    pipeline p;
    uint64_t rng = 7;
    load_pipeline(&p, texts[i], NULL, &rng);
    actjit_kernel *k = compile_as(&p, &test_targets[0], i, 1); /* binds the params */
    float x[2 * 5], got[2 * 3], want[2 * 3];
    for (int j = 0; j < 10; j++) x[j] = (float)j - 4.5f;
    assert_int_equal(actjit_kernel_run(k, x, 2, got), ACTJIT_OK);
    assert_int_equal(ref_run(p.g, (const float *const *)p.params, x, 2, want), ACTJIT_OK);
    for (int j = 0; j < 6; j++) assert_true(fabsf(got[j] - want[j]) <= 1e-5f * (1 + fabsf(want[j])));
    actjit_kernel_destroy(k);
    unload_pipeline(&p);
  }
}

int main(void) {
  enum { N = sizeof cases / sizeof *cases };
  struct CMUnitTest tests[N + 3];
  static char names[N][96];
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "rule %d: %s", i, cases[i].op);
    tests[i] = (struct CMUnitTest){names[i], test_rule, NULL, NULL, (void *)&cases[i]};
  }
  tests[N] = (struct CMUnitTest)cmocka_unit_test(test_hardswish_of_hardsigmoid);
  tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_same_code);
  tests[N + 2] = (struct CMUnitTest)cmocka_unit_test(test_params_after_removed_nodes);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
