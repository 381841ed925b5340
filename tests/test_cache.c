/* The kernel cache (README, "Kernel cache").  In memory: a graph that
 * prints the same, for the same target and options, compiled while a kernel
 * of it is alive, shares that kernel's code, whatever the context; any
 * change of IR, target or option compiles anew, and so does a compile once
 * every kernel of it is gone.  A kernel that shares code has its own
 * parameters, seed and context.  Results are bitwise those of a kernel
 * compiled without the cache.
 */
#define _DEFAULT_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "actjit.h"
#include "testutil.h"
#include "testpipe.h"

#define MLP ACTJIT_SOURCE_DIR "/ir/mlp.air"

/* A pipeline's kernel's output for an input of `batch` rows (seeded). */
static float *run_out(actjit_kernel *k, int64_t batch, size_t *nout) {
  size_t nin;
  assert_int_equal(actjit_kernel_io_sizes(k, batch, &nin, nout), ACTJIT_OK);
  float *x = tu_alloc_unaligned(nin), *y = tu_alloc_unaligned(*nout);
  uint64_t rng = 17 + (uint64_t)batch;
  for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -3, 3);
  assert_int_equal(actjit_kernel_run(k, x, batch, y), ACTJIT_OK);
  tu_free_unaligned(x);
  return y;
}

/* a and b give the same bits on a few batches. */
static void assert_same_results(actjit_kernel *a, actjit_kernel *b, const char *what) {
  static const int64_t batches[] = {1, 7, 300};
  for (size_t i = 0; i < sizeof batches / sizeof *batches; i++) {
    size_t na, nb;
    float *ya = run_out(a, batches[i], &na), *yb = run_out(b, batches[i], &nb);
    assert_int_equal(na, nb);
    for (size_t j = 0; j < na; j++)
      if (!same_value(ya[j], yb[j])) fail_msg("%s: batch %d, element %zu: %.9g against %.9g", what, (int)batches[i], j, ya[j], yb[j]);
    tu_free_unaligned(ya), tu_free_unaligned(yb);
  }
}

static actjit_compile_options options(void) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  return o;
}

static actjit_kernel *compile_uncached(pipeline *p) {
  actjit_compile_options o = options();
  o.cache = 0;
  actjit_kernel *k = compile_pipeline_with(p, &o);
  assert_int_equal(actjit_kernel_cache_outcome(k), ACTJIT_CACHE_BYPASSED);
  return k;
}

/* ------------------------------------------------------------- in memory */

/* The same file parsed in two contexts: the second compile shares the
 * first's code (no phase took time), gives the same bits as a kernel
 * compiled without the cache, and the same plan and dumps. */
static void test_memory_hit(void **state) {
  (void)state;
  uint64_t rng = 1;
  pipeline a, b;
  load_pipeline(&a, NULL, MLP, &rng);
  rng = 1;
  load_pipeline(&b, NULL, MLP, &rng);
  actjit_compile_options o = options();
  actjit_kernel *ka = compile_pipeline_with(&a, &o);
  assert_int_equal(actjit_kernel_cache_outcome(ka), ACTJIT_CACHE_MISS);
  actjit_kernel *kb = compile_pipeline_with(&b, &o);
  assert_int_equal(actjit_kernel_cache_outcome(kb), ACTJIT_CACHE_MEMORY);
  actjit_compile_phases ph;
  assert_int_equal(actjit_kernel_compile_phases(kb, &ph), ACTJIT_OK);
  assert_true(ph.passes == 0 && ph.emit == 0 && ph.optimize == 0 && ph.codegen == 0 && ph.total > 0);
  actjit_kernel *ku = compile_uncached(&b);
  assert_same_results(ka, ku, "first kernel vs uncached");
  assert_same_results(kb, ku, "shared kernel vs uncached");
  assert_int_equal(actjit_kernel_step_count(kb), actjit_kernel_step_count(ku));
  for (int i = 0; i < actjit_kernel_step_count(kb); i++)
    assert_string_equal(actjit_kernel_step_name(kb, i), actjit_kernel_step_name(ku, i));
  for (int kind = ACTJIT_DUMP_IR; kind <= ACTJIT_DUMP_ASM; kind++) {
    char *tb, *tu;
    assert_int_equal(actjit_kernel_dump(kb, kind, &tb), ACTJIT_OK);
    assert_int_equal(actjit_kernel_dump(ku, kind, &tu), ACTJIT_OK);
    assert_string_equal(tb, tu);
    actjit_free(tb), actjit_free(tu);
  }
  actjit_kernel_destroy(ka), actjit_kernel_destroy(kb), actjit_kernel_destroy(ku);
  unload_pipeline(&a), unload_pipeline(&b);
}

/* Every change of IR, target or option compiles anew while the first
 * kernel is alive; the cache option off compiles anew too. */
static void test_memory_keys(void **state) {
  (void)state;
  uint64_t rng = 2;
  pipeline p, q;
  load_pipeline(&p, NULL, MLP, &rng);
  actjit_compile_options o = options();
  actjit_kernel *k0 = compile_pipeline_with(&p, &o);
  assert_int_equal(actjit_kernel_cache_outcome(k0), ACTJIT_CACHE_MISS);
  actjit_compile_options changed[8];
  int n = 0;
  changed[n] = o, changed[n++].fuse = 0;
  changed[n] = o, changed[n++].cpu = "haswell";
  changed[n] = o, changed[n++].features = "-avx512f";
  changed[n] = o, changed[n++].tuning = "l2=262144";
  changed[n] = o, changed[n++].opt_level = 2;
  changed[n] = o, changed[n++].training = 1;
  changed[n] = o, changed[n++].donate_input = 1;
  changed[n] = o, changed[n++].depth_first = 0;
  for (int i = 0; i < n; i++) {
    actjit_kernel *k = compile_pipeline_with(&p, &changed[i]);
    if (actjit_kernel_cache_outcome(k) != ACTJIT_CACHE_MISS) fail_msg("option set %d shared the code", i);
    actjit_kernel_destroy(k);
  }
  /* canonicalize off: a graph with nothing to canonicalize compiles alike, but anew */
  actjit_compile_options nc = o;
  nc.canonicalize = 0;
  actjit_kernel *k = compile_pipeline_with(&p, &nc);
  assert_int_equal(actjit_kernel_cache_outcome(k), ACTJIT_CACHE_MISS);
  actjit_kernel_destroy(k);
  /* the IR: one attribute, or one name, differs */
  static const char *const texts[] = {
      "input %x : f32[N, 8]\nparam @w : f32[4, 8]\n%h = linear %x, @w\n%y = leaky_relu %h {negative_slope = 0.01}\noutput %y\n",
      "input %x : f32[N, 8]\nparam @w : f32[4, 8]\n%h = linear %x, @w\n%y = leaky_relu %h {negative_slope = 0.02}\noutput %y\n",
      "input %x : f32[N, 8]\nparam @w : f32[4, 8]\n%h = linear %x, @w\n%z = leaky_relu %h {negative_slope = 0.02}\noutput %z\n",
  };
  actjit_kernel *ks[3];
  for (int i = 0; i < 3; i++) {
    rng = 3;
    load_pipeline(&q, texts[i], NULL, &rng);
    ks[i] = compile_pipeline_with(&q, &o);
    if (actjit_kernel_cache_outcome(ks[i]) != ACTJIT_CACHE_MISS) fail_msg("text %d shared the code", i);
    unload_pipeline(&q);
  }
  for (int i = 0; i < 3; i++) actjit_kernel_destroy(ks[i]);
  actjit_kernel *kb = compile_uncached(&p);
  actjit_kernel_destroy(kb);
  actjit_kernel_destroy(k0);
  /* every kernel of it gone: compiled anew */
  k0 = compile_pipeline_with(&p, &o);
  assert_int_equal(actjit_kernel_cache_outcome(k0), ACTJIT_CACHE_MISS);
  actjit_kernel_destroy(k0);
  unload_pipeline(&p);
}

/* Kernels sharing code keep their own parameters, seed and context: each
 * one's results are those of an uncached kernel bound alike, and an error
 * on one is reported to its own context only. */
static void test_memory_own_state(void **state) {
  (void)state;
  const char *text = "input %x : f32[N, 20]\nparam @w : f32[24, 20]\nparam @b : f32[24]\n%h = linear %x, @w, @b\n"
                     "%d = dropout %h {p = 0.3}\n%y = gelu %d\noutput %y\n";
  uint64_t rng = 4;
  pipeline a, b;
  load_pipeline(&a, text, NULL, &rng);
  load_pipeline(&b, text, NULL, &rng); /* other weights */
  actjit_compile_options o = options();
  o.training = 1;
  actjit_kernel *ka = compile_pipeline_with(&a, &o), *kb = compile_pipeline_with(&b, &o);
  assert_int_equal(actjit_kernel_cache_outcome(kb), ACTJIT_CACHE_MEMORY);
  o.cache = 0;
  actjit_kernel *ua = compile_pipeline_with(&a, &o), *ub = compile_pipeline_with(&b, &o);
  assert_int_equal(actjit_kernel_set_seed(kb, 9), ACTJIT_OK);
  assert_int_equal(actjit_kernel_set_seed(ub, 9), ACTJIT_OK);
  assert_same_results(ka, ua, "kernel a");
  assert_same_results(kb, ub, "kernel b, other weights and seed");
  size_t na, nb;
  float *ya = run_out(ka, 5, &na), *yb = run_out(kb, 5, &nb);
  assert_true(memcmp(ya, yb, na * sizeof *ya) != 0);
  tu_free_unaligned(ya), tu_free_unaligned(yb);
  /* a wrong count for b's bias: b's context says so, a's says nothing */
  float w[3] = {0};
  assert_int_equal(actjit_kernel_bind(kb, "b", w, 3), ACTJIT_ERR_WEIGHTS);
  assert_non_null(strstr(actjit_context_error(b.ctx), "@b"));
  assert_string_equal(actjit_context_error(a.ctx), "");
  actjit_kernel_destroy(ka), actjit_kernel_destroy(kb), actjit_kernel_destroy(ua), actjit_kernel_destroy(ub);
  unload_pipeline(&a), unload_pipeline(&b);
}

/* A graph's parameters that hold values (as an ONNX model's) start bound
 * in a kernel that shares code too. */
static void test_memory_held_params(void **state) {
  (void)state;
  const char *text = "input %x : f32[N, 3]\nparam @w : f32[2, 3]\n%y = linear %x, @w\noutput %y\n";
  actjit_context *ctx;
  actjit_graph *g[2];
  actjit_kernel *k[2];
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  const float w[2][6] = {{1, 2, 3, 4, 5, 6}, {-1, 0, 1, 0.5f, 0.25f, 2}};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(actjit_graph_parse(ctx, text, strlen(text), "held.air", &g[i]), ACTJIT_OK);
    assert_int_equal(actjit_graph_param_set_data(g[i], "w", w[i], 6), ACTJIT_OK);
    assert_int_equal(actjit_compile(g[i], NULL, &k[i]), ACTJIT_OK);
  }
  assert_int_equal(actjit_kernel_cache_outcome(k[1]), ACTJIT_CACHE_MEMORY);
  const float x[3] = {1, -2, 0.5f};
  for (int i = 0; i < 2; i++) {
    float y[2];
    assert_int_equal(actjit_kernel_run(k[i], x, 1, y), ACTJIT_OK);
    for (int r = 0; r < 2; r++)
      assert_true(y[r] == (float)((double)w[i][3 * r] * x[0] + (double)w[i][3 * r + 1] * x[1] + (double)w[i][3 * r + 2] * x[2]));
    actjit_kernel_destroy(k[i]);
    actjit_graph_destroy(g[i]);
  }
  actjit_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory_hit),
      cmocka_unit_test(test_memory_keys),
      cmocka_unit_test(test_memory_own_state),
      cmocka_unit_test(test_memory_held_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
