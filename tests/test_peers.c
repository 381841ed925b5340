/* The benchmark's peers and ceilings (src/cli/peers.h):
 *   - each ceiling loop computes what its definition says (ceilings.h),
 *     against a scalar C model of it, bitwise, on every test target: the
 *     loop really runs every FMA, load and dependent op it is timed for;
 *   - the oneDNN runner agrees with the scalar reference on pipelines that
 *     use every op it maps (as post-ops of a linear and as primitives of
 *     their own), and refuses the ones it cannot express with the reason;
 *     built without oneDNN it refuses all with "no oneDNN";
 *   - a peer whose output disagrees with the reference is not timed, and
 *     the report says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/ceilings.h"
#include "cli/peer_onednn.h"
#include "cli/peers.h"
#include "reference/reference.h"
#include "testutil.h"

/* ---------------------------------------------------------------- ceilings */

static float model_fma(const ceilings *c, int64_t iters, float m, float a) {
  float s = 0;
  for (int k = 0; k < c->chains; k++) {
    float v = 1 + k / 1024.0f;
    for (int64_t i = 0; i < iters; i++) v = fmaf(v, m, a);
    s = k ? s + v : v;
  }
  float r = -0.0f;
  for (int l = 0; l < c->width; l++) r += s;
  return r;
}

static float model_read(const ceilings *c, const float *p, int64_t blocks) {
  int w = c->width;
  float r = -0.0f;
  for (int l = 0; l < w; l++) {
    float s = 0;
    for (int j = 0; j < CEIL_READ_BLOCK; j++) {
      float acc = 0;
      for (int64_t b = 0; b < blocks; b++) acc += p[(b * CEIL_READ_BLOCK + j) * w + l];
      s = j ? s + acc : acc;
    }
    r += s;
  }
  return r;
}

static int64_t model_clock(int64_t iters, int64_t x) {
  uint64_t u = (uint64_t)x;
  for (int64_t i = 0; i < iters; i++) u = ((u << 1) | (u >> 63)) ^ (uint64_t)i;
  return (int64_t)u;
}

static void test_ceilings(void **state) {
  uint64_t rng = 7;
  for (size_t t = 0; t < N_TEST_TARGETS; t++) {
    ceilings c;
    if (ceilings_build(&c, test_targets[t].cpu, test_targets[t].features)) fail_msg("%s", ceilings_error(&c));
    assert_true(c.width >= 4 && c.chains >= 2 && c.chains <= c.target.vregs - 2);
    /* Enough chains to cover the FMA units' latency. */
    assert_true(c.chains >= c.target.fma_ports * c.target.fma_latency);
    for (int64_t iters = 1; iters <= 3001; iters += 1500) {
      float got = c.fma(iters, 1.0f + 0x1p-20f, -0x1p-20f), want = model_fma(&c, iters, 1.0f + 0x1p-20f, -0x1p-20f);
      if (memcmp(&got, &want, sizeof got))
        fail_msg("[%s] fma over %lld iterations: %.9g, expected %.9g", c.target.cpu, (long long)iters, got, want);
    }
    enum { BLOCKS = 37 };
    size_t n = (size_t)BLOCKS * CEIL_READ_BLOCK * (size_t)c.width;
    float *buf = tu_alloc_unaligned(n);
    for (size_t i = 0; i < n; i++) buf[i] = tu_uniform(&rng, -1, 1);
    for (int64_t blocks = 1; blocks <= BLOCKS; blocks += 12) {
      float got = c.read(buf, blocks), want = model_read(&c, buf, blocks);
      if (memcmp(&got, &want, sizeof got))
        fail_msg("[%s] read of %lld blocks: %.9g, expected %.9g", c.target.cpu, (long long)blocks, got, want);
    }
    tu_free_unaligned(buf);
    for (int64_t iters = 1; iters <= 1001; iters += 500)
      assert_int_equal(c.clock(iters, 12345), model_clock(iters, 12345));
    ceilings_free(&c);
  }
}

/* ----------------------------------------------------------------- oneDNN */

typedef struct case_run {
  actjit_context *ctx;
  actjit_graph *g;
  float **params;
  int nparams;
} case_run;

static void load(case_run *r, const char *text, const char *path, uint64_t *rng) {
  assert_int_equal(actjit_context_create(&r->ctx), ACTJIT_OK);
  actjit_status st = path ? actjit_graph_parse_file(r->ctx, path, &r->g)
                          : actjit_graph_parse(r->ctx, text, strlen(text), "case.air", &r->g);
  if (st) fail_msg("%s", actjit_context_error(r->ctx));
  r->nparams = actjit_graph_param_count(r->g);
  r->params = calloc((size_t)r->nparams + 1, sizeof *r->params);
  for (int i = 0; i < r->nparams; i++) {
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    actjit_graph_param_info(r->g, i, NULL, &rank, dims);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    r->params[i] = malloc(n * sizeof(float));
    for (size_t j = 0; j < n; j++) r->params[i][j] = tu_uniform(rng, -0.3f, 0.3f);
  }
}

static void unload(case_run *r) {
  for (int i = 0; i < r->nparams; i++) free(r->params[i]);
  free(r->params);
  actjit_graph_destroy(r->g);
  actjit_context_destroy(r->ctx);
}

static size_t io_count(const case_run *r, actjit_value v, int64_t batch) {
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(r->g, v, &rank, dims);
  size_t n = 1;
  for (int d = 0; d < rank; d++) n *= (size_t)(dims[d] < 0 ? -dims[d] * batch : dims[d]);
  return n;
}

/* Every eltwise op the runner maps, in one chain (exp keeps sqrt and log
 * in their domains). */
#define ELTWISE_CHAIN(T)                                                                                               \
  "%a1 = leaky_relu " T " {negative_slope = 0.1}\n%a2 = sigmoid %a1\n%a3 = tanh %a2\n%a4 = elu %a3 {alpha = 0.5}\n"   \
  "%a5 = celu %a4 {alpha = 1.5}\n%a6 = selu %a5\n%a7 = gelu %a6 {approximate = 1}\n%a8 = gelu %a7\n"                   \
  "%a9 = silu %a8\n%a10 = mish %a9\n%a11 = hardswish %a10\n%a12 = hardsigmoid %a11\n%a13 = relu6 %a12\n"              \
  "%a14 = hardtanh %a13 {min_val = -0.5, max_val = 2}\n%a15 = softplus %a14 {beta = 2}\n%a16 = softplus %a15\n"       \
  "%a17 = logsigmoid %a16\n%a18 = neg %a17\n%a19 = abs %a18\n%a20 = exp %a19\n%a21 = sqrt %a20\n%a22 = log %a21\n"     \
  "%a23 = clip %a22 {min = 0.1, max = 3}\n%a24 = rrelu %a23\n%a25 = identity %a24\n%a26 = dropout %a25\n%a27 = relu %a26\n"

static const char *const expressible[] = {
    /* The chain as primitives of their own, then a softmax. */
    "input %x : f32[N, 40]\n" ELTWISE_CHAIN("%x") "%y = softmax %a27 {dim = 1}\noutput %y\n",
    /* As a linear's post-ops (more than fit: the rest are primitives), a
     * linear without bias, a log_softmax. */
    "input %x : f32[N, 40]\nparam @w : f32[24, 40]\nparam @b : f32[24]\nparam @v : f32[10, 24]\n"
    "%h = linear %x, @w, @b\n" ELTWISE_CHAIN("%h") "%z = linear %a27, @v\n%y = log_softmax %z {dim = -1}\noutput %y\n",
    /* A linear alone, then an eltwise op (as a post-op). */
    "input %x : f32[N, 33]\nparam @w : f32[17, 33]\n%y = linear %x, @w\n%r = tanh %y\noutput %r\n",
};

static void check_onednn(const char *text, const char *path) {
  uint64_t rng = 99;
  case_run r;
  load(&r, text, path, &rng);
  static const int64_t batches[] = {1, 5, 37};
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    size_t nin = io_count(&r, actjit_graph_get_input(r.g), batches[b]);
    size_t nout = io_count(&r, actjit_graph_get_output(r.g), batches[b]);
    float *x = malloc(nin * sizeof *x), *y = malloc(nout * sizeof *y), *ref = malloc(nout * sizeof *ref);
    for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -3, 3);
    assert_int_equal(ref_run(r.g, (const float *const *)r.params, x, batches[b], ref), ACTJIT_OK);
    char why[256] = "";
    onednn_run *run = onednn_create(r.g, (const float *const *)r.params, batches[b], 1, false, x, y, why, sizeof why);
    if (!run) fail_msg("%s\n%s", path ? path : text, why);
    onednn_execute(run);
    double e = bench_max_error(y, ref, nout);
    if (!(e <= BENCH_MAX_REL_ERROR)) fail_msg("%s\nbatch %lld: max relative error %.3g", path ? path : text, (long long)batches[b], e);
    onednn_destroy(run);
    free(x), free(y), free(ref);
  }
  unload(&r);
}

static void expect_refused(const char *text, bool training, const char *reason) {
  uint64_t rng = 5;
  case_run r;
  load(&r, text, NULL, &rng);
  float x[64] = {0}, y[64];
  char why[256] = "";
  onednn_run *run = onednn_create(r.g, (const float *const *)r.params, 1, 1, training, x, y, why, sizeof why);
  if (run) fail_msg("%s\naccepted", text);
  if (!strstr(why, reason)) fail_msg("%s\nreason '%s', expected '%s'", text, why, reason);
  unload(&r);
}

static void test_onednn(void **state) {
  if (!onednn_version()) { /* a build without libdnnl-dev */
    expect_refused(expressible[2], false, "no oneDNN");
    return;
  }
  assert_non_null(strstr(onednn_version(), "oneDNN "));
  for (size_t i = 0; i < sizeof expressible / sizeof *expressible; i++) check_onednn(expressible[i], NULL);
  check_onednn(NULL, ACTJIT_SOURCE_DIR "/ir/mlp.air");
  check_onednn(NULL, ACTJIT_SOURCE_DIR "/ir/square1024.air");
  expect_refused("input %x : f32[N, 8]\nparam @w : f32[8, 8]\n%h = linear %x, @w\n%y = add %x, %h\noutput %y\n", false,
                 "takes a chain of ops: %x has 2 uses");
  expect_refused("input %x : f32[N, 8]\nparam @p : f32[8]\n%y = prelu %x, @p\noutput %y\n", false, "oneDNN has no prelu (%y)");
  expect_refused("input %x : f32[N, 8]\n%y = softmin %x {dim = 1}\noutput %y\n", false, "oneDNN has no softmin (%y)");
  expect_refused("input %x : f32[N, 8]\n%y = softmax %x {dim = 0}\noutput %y\n", false, "oneDNN has no softmax (%y)");
  expect_refused("input %x : f32[N, 8]\n%y = dropout %x {p = 0.5}\noutput %y\n", true,
                 "oneDNN has no dropout in training mode (%y)");
  expect_refused("input %x : f32[N, 2, 4]\n%y = relu %x\noutput %y\n", false, "takes an input of [N, features]");
}

/* ------------------------------------------------------------------ peers */

/* peers_report's JSON keys for one batch, as a string. */
static char *report_json(peers *p, const double *med) {
  char path[] = "/tmp/test_peers_XXXXXX";
  int fd = mkstemp(path), saved = dup(1);
  assert_true(fd >= 0 && saved >= 0);
  fflush(stdout);
  dup2(fd, 1);
  peers_report(p, med, 1e-3, 2e-3, 0, NULL);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  static char text[4096];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  text[n > 0 ? n : 0] = 0;
  close(fd);
  unlink(path);
  return text;
}

static void test_wrong_peer_not_timed(void **state) {
  if (!onednn_version()) skip(); /* nothing to be wrong: test_onednn checks the refusal */
  uint64_t rng = 3;
  case_run r;
  load(&r, NULL, ACTJIT_SOURCE_DIR "/ir/fc1.air", &rng);
  bench_options o;
  bench_options_init(&o);
  o.json = true, o.reps = 1;
  peers *p = peers_open(&o, "fc1.air", r.g, (const float *const *)r.params, NULL);
  assert_non_null(p);
  enum { B = 3 };
  size_t nin = io_count(&r, actjit_graph_get_input(r.g), B), nout = io_count(&r, actjit_graph_get_output(r.g), B);
  float *x = malloc(nin * sizeof *x), *ref = malloc(nout * sizeof *ref);
  for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -3, 3);
  assert_int_equal(ref_run(r.g, (const float *const *)r.params, x, B, ref), ACTJIT_OK);
  timed t[PEERS_MAX_TIMED];
  double med[PEERS_MAX_TIMED] = {1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3};
  int right = peers_prepare(p, B, x, nin, ref, nout, t);
  assert_non_null(strstr(report_json(p, med), "\"onednn\": \"oneDNN "));
  ref[nout / 2] += 0.01f; /* a reference the peers cannot match */
  int wrong = peers_prepare(p, B, x, nin, ref, nout, t);
  /* oneDNN (and ONNX Runtime's two entries, where it is installed) dropped;
   * the FMA peak and the clock stay. */
  assert_true(wrong == 2 && right >= 3);
  char *json = report_json(p, med);
  if (!strstr(json, "\"onednn\": \"oneDNN disagrees with the reference (max relative error ") ||
      !strstr(json, "\"onednn_us\": null"))
    fail_msg("%s", json);
  peers_close(p);
  free(x), free(ref);
  unload(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ceilings),
      cmocka_unit_test(test_onednn),
      cmocka_unit_test(test_wrong_peer_not_timed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
