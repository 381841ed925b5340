/* Every op, JIT-compiled for the host, an AVX2-only and an SSE-only target,
 * against the scalar reference evaluator: sizes around the vector widths,
 * batch 0/1/3, misaligned buffers, and special values (NaN, ±Inf, ±0,
 * denormals) for the elementwise ops. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "reference/reference.h"
#include "testutil.h"

/* EXACT: bit for bit (any NaN for NaN).  ULP: within `ulps` ULP of the
 * reference (float64, correctly rounded but for PyTorch's float-level
 * conventions such as sigmoid's e^-x overflow) and the same sign of zero.
 * GELU_TANH: ULP plus the conditioning of PyTorch's float inner polynomial
 * u = beta (x + kappa x^3), which actjit evaluates in float as PyTorch does:
 * u's rounding moves x sigmoid(2u) by |y| (1 - sigmoid(2u)) 2 |u| 2^-22.
 * LOG_REL: log_softmax, 2^-20 (1 + |y|) absolute (the log of a sum). */
typedef enum check { EXACT, ULP, GELU_TANH, LINEAR_SUM, SOFTMAX_REL, LOG_REL } check;

typedef struct op_case {
  const char *ir;      /* printf format taking the size S (as %1$d) */
  check how;
  int input;           /* PLAIN, SPECIALS or WIDE, see fill() */
  int ulps;            /* ULP, GELU_TANH */
} op_case;
enum { PLAIN, SPECIALS, WIDE };

#define HDR "input %%x : f32[N, %1$d]\n"
static const op_case cases[] = {
    {HDR "%%y = relu %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = leaky_relu %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = leaky_relu %%x {negative_slope = 0.1}\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = dropout %%x {p = 0.2}\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = identity %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "param @w : f32[1]\n%%y = prelu %%x, @w\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "param @w : f32[%1$d]\n%%y = prelu %%x, @w\noutput %%y\n", EXACT, SPECIALS, 0},
    {"input %%x : f32[N, 3, %1$d]\nparam @w : f32[3]\n%%y = prelu %%x, @w\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = sigmoid %%x\noutput %%y\n", ULP, SPECIALS, 2},
    {HDR "%%y = tanh %%x\noutput %%y\n", ULP, SPECIALS, 2},
    /* The activation set of issue #4; the ULP bounds are measured maxima
     * rounded up (bench/vmath_accuracy.c measures the vector functions). */
    {HDR "%%y = exp %%x\noutput %%y\n", ULP, SPECIALS, 1},
    {HDR "%%y = exponential %%x\noutput %%y\n", ULP, SPECIALS, 1},
    {HDR "%%y = elu %%x\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "%%y = elu %%x {alpha = 0.5}\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "%%y = celu %%x\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "%%y = celu %%x {alpha = 3}\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "%%y = selu %%x\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "%%y = gelu %%x\noutput %%y\n", ULP, SPECIALS, 4},
    {HDR "%%y = gelu %%x {approximate = 1}\noutput %%y\n", GELU_TANH, SPECIALS, 4},
    {HDR "%%y = silu %%x\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "%%y = swish %%x\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "%%y = mish %%x\noutput %%y\n", ULP, SPECIALS, 4},
    {HDR "%%y = hardsigmoid %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = hardswish %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = hardtanh %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = hardtanh %%x {min_val = -2, max_val = 0.5}\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = relu6 %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = softplus %%x\noutput %%y\n", ULP, SPECIALS, 4},
    {HDR "%%y = softplus %%x {beta = 2, threshold = 5}\noutput %%y\n", ULP, SPECIALS, 4},
    {HDR "%%y = softsign %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = tanhshrink %%x\noutput %%y\n", ULP, SPECIALS, 4},
    {HDR "%%y = threshold %%x {threshold = 0.5, value = -3}\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = logsigmoid %%x\noutput %%y\n", ULP, SPECIALS, 4},
    {HDR "%%y = hardshrink %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = softshrink %%x {lambd = 1.5}\noutput %%y\n", EXACT, SPECIALS, 0},
    {HDR "%%y = rrelu %%x\noutput %%y\n", EXACT, SPECIALS, 0},
    {"input %%x : f32[N, 2, %1$d]\n%%y = glu %%x {dim = 1}\noutput %%y\n", ULP, SPECIALS, 3},
    {"input %%x : f32[N, %1$d, 4]\n%%y = glu %%x\noutput %%y\n", ULP, SPECIALS, 3},
    {"input %%x : f32[N, 6, %1$d]\n%%y = glu %%x {dim = -2}\noutput %%y\n", ULP, SPECIALS, 3},
    {HDR "param @w : f32[7, %1$d]\nparam @b : f32[7]\n%%y = linear %%x, @w, @b\noutput %%y\n", LINEAR_SUM, PLAIN, 0},
    {"input %%x : f32[N, 5]\nparam @w : f32[%1$d, 5]\n%%y = linear %%x, @w\noutput %%y\n", LINEAR_SUM, PLAIN, 0},
    {"input %%x : f32[N, 2, %1$d]\nparam @w : f32[3, %1$d]\nparam @b : f32[3]\n%%y = linear %%x, @w, @b\noutput %%y\n",
     LINEAR_SUM, PLAIN, 0},
    {HDR "%%y = softmax %%x {dim = 1}\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
    {HDR "%%y = softmax %%x {dim = -1}\noutput %%y\n", SOFTMAX_REL, SPECIALS, 0},
    /* Rows spanning 300 (WIDE): outputs down through FLT_MIN to 0, and
     * running maxima that move by more and by less than softmax.c's lazy
     * slack. */
    {HDR "%%y = softmax %%x {dim = 1}\noutput %%y\n", SOFTMAX_REL, WIDE, 0},
    {HDR "%%y = softmax %%x {dim = 0}\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
    {"input %%x : f32[N, %1$d, 3]\n%%y = softmax %%x {dim = 1}\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
    {"input %%x : f32[N, 3, %1$d]\n%%y = softmax %%x {dim = 2}\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
    {"input %%x : f32[N, 2, %1$d]\n%%y = softmax %%x {dim = 0}\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
    {"input %%x : f32[N, 2, %1$d]\n%%f = flatten %%x\n%%y = softmax %%f {dim = 1}\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
    {HDR "%%y = softmin %%x {dim = 1}\noutput %%y\n", SOFTMAX_REL, SPECIALS, 0},
    {"input %%x : f32[N, %1$d, 3]\n%%y = softmin %%x {dim = 1}\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
    {HDR "%%y = log_softmax %%x {dim = -1}\noutput %%y\n", LOG_REL, SPECIALS, 0},
    {HDR "%%y = log_softmax %%x {dim = 0}\noutput %%y\n", LOG_REL, PLAIN, 0},
    {"input %%x : f32[N, 3, %1$d]\n%%y = log_softmax %%x {dim = 1}\noutput %%y\n", LOG_REL, PLAIN, 0},
    {"input %%x : f32[N, 3, %1$d]\n%%y = softmax2d %%x\noutput %%y\n", SOFTMAX_REL, PLAIN, 0},
};
static const int sizes[] = {0, 1, 15, 16, 17, 33, 1000};
static const int batches[] = {0, 1, 3};

static const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f,
                                 1e-45f, 88.0f, -88.0f, 100.0f, -100.0f, 1e-30f, 3.4e38f, -3.4e38f};

/* Uniform in [-8, 8]; SPECIALS: one in five a special value; WIDE: 150 u^3
 * for u uniform in [-1, 1], rounded to a multiple of 1/8 (so that x - max
 * is exact): rows whose lanes' maxima lie far apart. */
static void fill(float *p, size_t n, uint64_t *rng, int input) {
  for (size_t i = 0; i < n; i++) {
    float u = tu_uniform(rng, -1, 1);
    p[i] = input == WIDE ? roundf(1200 * u * u * u) / 8 : 8 * u;
    if (input == SPECIALS && tu_rng(rng) % 5 == 0)
      p[i] = specials[tu_rng(rng) % (sizeof specials / sizeof *specials)];
  }
}

/* Σ|x·w| + |b| for output element i of a linear op, for its error bound. */
static double linear_magnitude(const actjit_graph *g, const float *const *params, const float *x,
                               size_t i, int64_t *k_out) {
  const node *nd = &g->nodes[g->output];
  const shape *ws = &g->nodes[nd->args[1]].shape;
  int64_t out = ws->d[0], k = ws->d[1], r = (int64_t)i / out, o = (int64_t)i % out;
  double s = nd->nargs == 3 ? fabs(params[1][o]) : 0;
  for (int64_t j = 0; j < k; j++) s += fabs((double)x[r * k + j] * params[0][o * k + j]);
  *k_out = k;
  return s;
}

static void compare(const op_case *c, const actjit_graph *g, const float *const *params, const float *x,
                    const float *got, const float *want, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++) {
    bool ok = false;
    double tol = 0;
    switch (c->how) {
    case EXACT: ok = isnan(want[i]) ? isnan(got[i]) : !memcmp(&got[i], &want[i], 4); break;
    case ULP: /* a NaN's sign is not specified; a zero's is */
    case GELU_TANH:
      ok = tu_ulp(got[i], want[i]) <= c->ulps && (isnan(want[i]) || signbit(got[i]) == signbit(want[i]));
      if (!ok && c->how == GELU_TANH && isfinite(want[i]) && isfinite(x[i])) {
        double v = x[i], u = GELU_BETA_F * (v + GELU_KAPPA_F * v * v * v);
        tol = fabs(want[i]) * (2 * fabs(u) * 0x1p-22 + c->ulps * 0x1p-23) / (1 + exp(2 * u)) + 0x1p-149;
        ok = fabs((double)got[i] - want[i]) <= tol;
      }
      break;
    case LOG_REL:
      tol = 0x1p-20 * (1 + fabs(want[i]));
      ok = isnan(want[i]) || isinf(want[i]) ? !memcmp(&got[i], &want[i], 4) || (isnan(want[i]) && isnan(got[i]))
                                            : fabs((double)got[i] - want[i]) <= tol;
      break;
    case LINEAR_SUM: {
      int64_t k;
      double mag = linear_magnitude(g, params, x, i, &k);
      tol = (double)(k + 2) * 0x1p-24 * mag;
      ok = fabs((double)got[i] - want[i]) <= tol;
      break;
    }
    case SOFTMAX_REL:
      tol = 1e-6 * fabs(want[i]) + 1e-7 * fabs(want[i]) * sqrt((double)n) + 1e-38;
      ok = isnan(want[i]) ? isnan(got[i]) : fabs((double)got[i] - want[i]) <= tol;
      break;
    }
    if (!ok) fail_msg("%s: element %zu: got %.9g, want %.9g (tol %g)", what, i, got[i], want[i], tol);
  }
}

static void run_case(const op_case *c, int size, const test_target *t, uint64_t *rng) {
  char ir[512], what[640];
  snprintf(ir, sizeof ir, c->ir, size);
  snprintf(what, sizeof what, "[cpu %s, S=%d]\n%s", t->cpu ? t->cpu : "host", size, ir);
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g;
  if (actjit_graph_parse(ctx, ir, strlen(ir), "case.air", &g)) fail_msg("%s: %s", what, actjit_context_error(ctx));
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu;
  o.features = t->features;
  actjit_kernel *k;
  if (actjit_compile(g, &o, &k)) fail_msg("%s: %s", what, actjit_context_error(ctx));
  if (t->width) assert_int_equal(actjit_kernel_vector_width(k), t->width);

  int np = actjit_graph_param_count(g);
  float *params[3] = {0};
  for (int i = 0; i < np; i++) {
    const char *name;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_param_info(g, i, &name, &rank, dims), ACTJIT_OK);
    size_t cnt = 1;
    for (int d = 0; d < rank; d++) cnt *= (size_t)dims[d];
    params[i] = tu_alloc_unaligned(cnt);
    fill(params[i], cnt, rng, PLAIN);
    assert_int_equal(actjit_kernel_bind(k, name, params[i], cnt), ACTJIT_OK);
  }
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    size_t nin, nout;
    assert_int_equal(actjit_kernel_io_sizes(k, batches[b], &nin, &nout), ACTJIT_OK);
    float *x = tu_alloc_unaligned(nin), *got = tu_alloc_unaligned(nout), *want = tu_alloc_unaligned(nout);
    fill(x, nin, rng, c->input);
    for (size_t i = 0; i < nout; i++) got[i] = want[i] = 12345.0f;
    assert_int_equal(actjit_kernel_run(k, x, batches[b], got), ACTJIT_OK);
    assert_int_equal(ref_run(g, (const float *const *)params, x, batches[b], want), ACTJIT_OK);
    char w2[700];
    snprintf(w2, sizeof w2, "batch %d %s", batches[b], what);
    compare(c, g, (const float *const *)params, x, got, want, nout, w2);
    tu_free_unaligned(x), tu_free_unaligned(got), tu_free_unaligned(want);
  }
  for (int i = 0; i < np; i++) tu_free_unaligned(params[i]);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* One cmocka test per case; it sweeps sizes and targets. */
static void test_case(void **state) {
  const op_case *c = *state;
  uint64_t rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(c - cases);
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) run_case(c, sizes[s], &test_targets[t], &rng);
}

int main(void) {
  enum { N = sizeof cases / sizeof *cases };
  struct CMUnitTest tests[N];
  static char names[N][96];
  for (int i = 0; i < N; i++) {
    /* Name each test after its op line, e.g. "%y = relu %x". */
    const char *op = strstr(cases[i].ir, "%%y = ");
    if (!op) op = cases[i].ir;
    snprintf(names[i], sizeof names[i], "case %d: %.*s", i, (int)strcspn(op, "\n"), op);
    tests[i] = (struct CMUnitTest){names[i], test_case, NULL, NULL, (void *)&cases[i]};
  }
  return cmocka_run_group_tests(tests, NULL, NULL);
}
