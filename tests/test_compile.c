/* The compile.  actjit_kernel_compile_phases: every pipeline in ir/, fused
 * and unfused, reports each phase of its compile as time spent (more than
 * nothing: each phase does work on every pipeline), the phases sum to at
 * most the total, and the total is at most the wall time the caller measured
 * around actjit_compile.  The LLVM dumps, which the compile no longer keeps
 * but rebuilds when asked: a kernel gives the same text every time, the
 * same as another kernel compiled from the same graph, also once the graph
 * is destroyed, on every test target.  Compile threads: every pipeline
 * compiled on one thread (one module) and on several (a module a kernel,
 * compiled at once and linked) gives the same bits, and the phases say how
 * many threads ran and how many objects the JIT linked; the parts hold what
 * balances them. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sched.h>
#include <time.h>

#include "testutil.h"
#include "testpipe.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_phases_sum_to_total(void **state) {
  (void)state;
  static char paths[64][TU_PATH_MAX];
  int n = tu_ir_files(paths, 64);
  assert_true(n > 0);
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (int i = 0; i < n; i++)
    for (int fuse = 0; fuse <= 1; fuse++) {
      actjit_graph *g;
      if (actjit_graph_parse_file(ctx, paths[i], &g)) fail_msg("%s", actjit_context_error(ctx));
      actjit_compile_options o;
      actjit_compile_options_init(&o);
      o.fuse = fuse;
      actjit_kernel *k;
      double t0 = now();
      if (actjit_compile(g, &o, &k)) fail_msg("%s: %s", paths[i], actjit_context_error(ctx));
      double wall = now() - t0;
      actjit_compile_phases p;
      assert_int_equal(actjit_kernel_compile_phases(k, &p), ACTJIT_OK);
      double phase[] = {p.passes, p.emit, p.optimize, p.codegen}, sum = 0;
      for (int j = 0; j < 4; j++) {
        if (!(phase[j] > 0)) fail_msg("%s fuse=%d: phase %d took %g s", paths[i], fuse, j, phase[j]);
        sum += phase[j];
      }
      if (!(sum <= p.total && p.total <= wall))
        fail_msg("%s fuse=%d: phases sum to %g s, total %g s, measured %g s", paths[i], fuse, sum, p.total, wall);
      actjit_kernel_destroy(k);
      actjit_graph_destroy(g);
    }
  actjit_context_destroy(ctx);
}

static void test_phases_null(void **state) {
  (void)state;
  actjit_compile_phases p;
  assert_int_equal(actjit_kernel_compile_phases(NULL, &p), ACTJIT_ERR_ARGUMENT);
  actjit_context *ctx;
  actjit_graph *g;
  actjit_kernel *k;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  assert_int_equal(actjit_graph_parse_file(ctx, ACTJIT_SOURCE_DIR "/ir/mlp.air", &g), ACTJIT_OK);
  assert_int_equal(actjit_compile(g, NULL, &k), ACTJIT_OK);
  assert_int_equal(actjit_kernel_compile_phases(k, NULL), ACTJIT_ERR_ARGUMENT);
  assert_non_null(strstr(actjit_context_error(ctx), "actjit_kernel_compile_phases"));
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

static char *dump(actjit_kernel *k, actjit_dump_kind kind) {
  char *text = NULL;
  assert_int_equal(actjit_kernel_dump(k, kind, &text), ACTJIT_OK);
  return text;
}

static void test_dumps_rebuilt(void **state) {
  (void)state;
  static const char *models[] = {"mlp.air", "activations.air"};
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t m = 0; m < sizeof models / sizeof *models; m++)
    for (size_t t = 0; t < N_TEST_TARGETS; t++) {
      char path[TU_PATH_MAX];
      snprintf(path, sizeof path, "%s/ir/%s", ACTJIT_SOURCE_DIR, models[m]);
      actjit_graph *g;
      if (actjit_graph_parse_file(ctx, path, &g)) fail_msg("%s", actjit_context_error(ctx));
      actjit_compile_options o;
      actjit_compile_options_init(&o);
      o.cpu = test_targets[t].cpu;
      o.features = test_targets[t].features;
      actjit_kernel *a, *b;
      assert_int_equal(actjit_compile(g, &o, &a), ACTJIT_OK);
      assert_int_equal(actjit_compile(g, &o, &b), ACTJIT_OK);
      actjit_graph_destroy(g);
      char *first[3];
      for (int kind = ACTJIT_DUMP_LLVM; kind <= ACTJIT_DUMP_ASM; kind++) {
        char *again, *other;
        first[kind - ACTJIT_DUMP_LLVM] = dump(a, kind);
        again = dump(a, kind), other = dump(b, kind);
        if (strcmp(first[kind - ACTJIT_DUMP_LLVM], again) || strcmp(first[kind - ACTJIT_DUMP_LLVM], other))
          fail_msg("%s on %s: dump %d differs between calls or kernels", models[m],
                   test_targets[t].cpu ? test_targets[t].cpu : "the host", kind);
        actjit_free(again), actjit_free(other);
      }
      /* Each stage is what it says: the entry in both IRs, optimized IR
       * differing from the IR codegen wrote, the entry's label in assembly. */
      assert_non_null(strstr(first[0], "define void @actjit_entry("));
      assert_non_null(strstr(first[1], "define void @actjit_entry("));
      assert_true(strcmp(first[0], first[1]) != 0);
      assert_non_null(strstr(first[2], "actjit_entry:"));
      for (int i = 0; i < 3; i++) actjit_free(first[i]);
      actjit_kernel_destroy(a);
      actjit_kernel_destroy(b);
    }
  actjit_context_destroy(ctx);
}

/* k's output for `batch` rows of a seeded input. */
static float *run_out(actjit_kernel *k, int64_t batch, size_t *nout) {
  size_t nin;
  assert_int_equal(actjit_kernel_io_sizes(k, batch, &nin, nout), ACTJIT_OK);
  float *x = tu_alloc_unaligned(nin), *y = tu_alloc_unaligned(*nout);
  uint64_t rng = 31 + (uint64_t)batch;
  for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -3, 3);
  assert_int_equal(actjit_kernel_run(k, x, batch, y), ACTJIT_OK);
  tu_free_unaligned(x);
  return y;
}

/* Compiled with compile_threads = threads (cache off): code generation ran
 * on `threads` threads (for 0, the CPUs this process may run on), at most
 * one a kernel, and linked one object a kernel, or on one thread one
 * object. */
static actjit_kernel *compile_on(pipeline *p, const test_target *t, int training, int threads, const char *path) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu, o.features = t->features, o.training = training, o.cache = 0, o.compile_threads = threads;
  actjit_kernel *k = compile_pipeline_with(p, &o);
  cpu_set_t set;
  assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
  int steps = actjit_kernel_step_count(k), want = threads ? threads : CPU_COUNT(&set);
  if (want > steps) want = steps;
  if (want < 1) want = 1;
  actjit_compile_phases ph;
  assert_int_equal(actjit_kernel_compile_phases(k, &ph), ACTJIT_OK);
  if (ph.codegen_threads != want || ph.objects != (want > 1 ? steps : 1))
    fail_msg("%s, %d compile threads, %d kernels: code generation on %d threads, %d objects linked", path, threads,
             steps, ph.codegen_threads, ph.objects);
  return k;
}

static void test_compile_threads(void **state) {
  (void)state;
  static char paths[64][TU_PATH_MAX];
  static const int threads[] = {1, 2, 3};
  static const int64_t batches[] = {1, 7, 300};
  int n = tu_ir_files(paths, 64);
  assert_true(n > 0);
  for (int i = 0; i < n; i++)
    for (size_t t = 0; t < 2; t++) /* the host and haswell */
      for (int training = 0; training <= 1; training++) {
        uint64_t rng = 41;
        pipeline p;
        load_pipeline(&p, NULL, paths[i], &rng);
        actjit_kernel *k[3];
        for (int j = 0; j < 3; j++) k[j] = compile_on(&p, &test_targets[t], training, threads[j], paths[i]);
        for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
          size_t n1, nj;
          float *y1 = run_out(k[0], batches[b], &n1);
          for (int j = 1; j < 3; j++) {
            float *yj = run_out(k[j], batches[b], &nj);
            assert_int_equal(n1, nj);
            for (size_t e = 0; e < n1; e++)
              if (!same_value(y1[e], yj[e]))
                fail_msg("%s on %s, training %d, batch %d, element %zu: %.9g on one thread, %.9g on %d", paths[i],
                         test_targets[t].cpu ? test_targets[t].cpu : "the host", training, (int)batches[b], e, y1[e],
                         yj[e], threads[j]);
            tu_free_unaligned(yj);
          }
          tu_free_unaligned(y1);
        }
        for (int j = 0; j < 3; j++) actjit_kernel_destroy(k[j]);
        unload_pipeline(&p);
      }
}

/* The parts on two threads: a linear's epilogue function is defined in
 * the next kernel's module (the last one's beside it), so that the first
 * kernel, the seed model's fc1, is compiled alone; the assembly dump lists
 * the modules in order.  The entry, which only calls the kernels, is
 * optnone: LLVM's quickest code generation. */
static void test_parts_balanced(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  char path[TU_PATH_MAX];
  snprintf(path, sizeof path, "%s/ir/mlp.air", ACTJIT_SOURCE_DIR);
  actjit_graph *g;
  if (actjit_graph_parse_file(ctx, path, &g)) fail_msg("%s", actjit_context_error(ctx));
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cache = 0, o.compile_threads = 2;
  actjit_kernel *k;
  assert_int_equal(actjit_compile(g, &o, &k), ACTJIT_OK);
  actjit_compile_phases ph;
  assert_int_equal(actjit_kernel_compile_phases(k, &ph), ACTJIT_OK);
  assert_int_equal(ph.objects, 2);
  char *s = NULL, *ir = NULL;
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_ASM, &s), ACTJIT_OK);
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_LLVM, &ir), ACTJIT_OK);
  const char *part1 = strstr(s, ".file\t\"actjit_k1\"");
  const char *k0 = strstr(s, "\nactjit_k0:"), *epi0 = strstr(s, "\nactjit_k0.epilogue:"), *epi1 = strstr(s, "\nactjit_k1.epilogue:");
  assert_true(part1 && k0 && epi0 && epi1);
  if (!(k0 < part1 && part1 < epi0 && part1 < epi1)) fail_msg("fc1's code or the epilogues are not in their parts:\n%s", s);
  /* exported from fc2's module, declared in fc1's; fc2's own internal */
  assert_non_null(strstr(ir, "define void @actjit_k0.epilogue("));
  assert_non_null(strstr(ir, "define internal void @actjit_k1.epilogue("));
  const char *entry = strstr(ir, "define void @actjit_entry(");
  assert_non_null(entry);
  char group[32], attrs[256];
  assert_int_equal(sscanf(strchr(entry, ')') + 1, " %31[#0-9]", group), 1);
  snprintf(attrs, sizeof attrs, "\nattributes %s = {", group);
  const char *line = strstr(ir, attrs);
  assert_non_null(line);
  const char *end = strchr(line + 1, '\n');
  const char *optnone = strstr(line, "optnone");
  assert_true(optnone && (!end || optnone < end));
  actjit_free(s), actjit_free(ir);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* 0 threads: one a CPU the process may run on; fewer than 0: refused. */
static void test_compile_threads_default(void **state) {
  (void)state;
  uint64_t rng = 43;
  pipeline p;
  load_pipeline(&p, NULL, ACTJIT_SOURCE_DIR "/ir/activations.air", &rng);
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  assert_int_equal(o.compile_threads, 0);
  actjit_kernel_destroy(compile_on(&p, &test_targets[0], 0, 0, "ir/activations.air"));
  o.compile_threads = -1;
  actjit_kernel *k;
  assert_int_equal(actjit_compile(p.g, &o, &k), ACTJIT_ERR_ARGUMENT);
  assert_non_null(strstr(actjit_context_error(p.ctx), "compile_threads -1"));
  unload_pipeline(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_phases_sum_to_total),
      cmocka_unit_test(test_phases_null),
      cmocka_unit_test(test_dumps_rebuilt),
      cmocka_unit_test(test_compile_threads),
      cmocka_unit_test(test_compile_threads_default),
      cmocka_unit_test(test_parts_balanced),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
