/* Depth-first runs (plan.h): where linear layers follow one another through
 * elementwise ops, a fused plan runs blocks of rows through them all.  Here
 * a small L2 (compile option tuning) makes the blocks 48 rows, so batches
 * of 0 to 100 rows take partial, one and several blocks (a batch of one
 * block in block buffers of its own rows, up to a multiple of 16): the output is
 * bitwise that of the same plan layer by layer (every output is summed in
 * one order whatever rows a kernel is given), on one thread, through the
 * entry and through the step loop, with blocks split among tasks run in
 * reverse order (a batch of one block: layer by layer), and profiled; the intermediates take the same memory at
 * every batch, and the dump shows the run and its block buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "actjit.h"
#include "testutil.h"
#include "testpipe.h"

/* Three layers, a dropout between (live in training: masks keyed by the
 * row, which a block must offset), a residual add reading the input again
 * in the last layer's epilogue. */
static const char model[] =
    "input %x : f32[N, 24]\n"
    "param @w1 : f32[40, 24]\nparam @b1 : f32[40]\nparam @w2 : f32[33, 40]\nparam @w3 : f32[24, 33]\n"
    "%h = linear %x, @w1, @b1\n%r = relu %h\n%d = dropout %r {p = 0.25}\n%g = linear %d, @w2\n%t = tanh %g\n"
    "%o = linear %t, @w3\n%y = add %o, %x\n%s = softmax %y {dim = 1}\noutput %s\n";

/* Tasks run last to first on this thread, counted. */
static void reverse_for(void *user, int64_t n, actjit_task_fn task, void *arg) {
  *(int64_t *)user = n > *(int64_t *)user ? n : *(int64_t *)user;
  for (int64_t i = n - 1; i >= 0; i--) task(arg, i);
}

static actjit_kernel *compile_l2(pipeline *p, const test_target *t, int depth_first, int training, const char *tuning) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu, o.features = t->features, o.training = training, o.depth_first = depth_first;
  o.tuning = tuning;
  actjit_kernel *k = compile_pipeline_with(p, &o);
  actjit_kernel_set_seed(k, 3);
  return k;
}

/* An L2 of 64 KiB: the 12 KiB of weights fit in half, and the blocks'
 * 73 floats a row in a quarter make blocks of 48 rows. */
static actjit_kernel *compile_blocks(pipeline *p, const test_target *t, int depth_first, int training) {
  return compile_l2(p, t, depth_first, training, "l2=65536");
}

static void expect_same(const float *got, const float *want, size_t n, const char *what, int64_t batch) {
  for (size_t i = 0; i < n; i++)
    if (!same_value(got[i], want[i]))
      fail_msg("%s, batch %lld, element %zu: %.9g, layer by layer %.9g", what, (long long)batch, i, (double)got[i],
               (double)want[i]);
}

static void test_blocks_bitwise(void **state) {
  (void)state;
  uint64_t rng = 11;
  pipeline p;
  load_pipeline(&p, model, NULL, &rng);
  static const int64_t batches[] = {0, 1, 15, 16, 17, 100};
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (int training = 0; training <= 1; training++) {
      actjit_kernel *df = compile_blocks(&p, &test_targets[t], 1, training);
      actjit_kernel *flat = compile_blocks(&p, &test_targets[t], 0, training);
      for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        int64_t batch = batches[b];
        size_t nin, nout;
        assert_int_equal(actjit_kernel_io_sizes(df, batch, &nin, &nout), ACTJIT_OK);
        float *x = tu_alloc_unaligned(nin + 1), *want = tu_alloc_unaligned(nout + 1), *got = tu_alloc_unaligned(nout + 1);
        for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -2, 2);
        assert_int_equal(actjit_kernel_run(flat, x, batch, want), ACTJIT_OK);
        assert_int_equal(actjit_kernel_run(df, x, batch, got), ACTJIT_OK); /* the entry */
        expect_same(got, want, nout, "depth-first", batch);
        double seconds[8];
        memset(got, 0xff, nout * sizeof *got);
        assert_int_equal(actjit_kernel_run_profiled(df, x, batch, got, seconds), ACTJIT_OK); /* the step loop */
        expect_same(got, want, nout, "depth-first, profiled", batch);
        int64_t most = 0;
        assert_int_equal(actjit_kernel_set_parallel_for(df, reverse_for, &most, 3), ACTJIT_OK);
        memset(got, 0xff, nout * sizeof *got);
        assert_int_equal(actjit_kernel_run(df, x, batch, got), ACTJIT_OK);
        expect_same(got, want, nout, "depth-first on 3 tasks", batch);
        /* a task a block, up to 3 (one block runs layer by layer, each
         * kernel split as without the run: test_threads.c) */
        int64_t blocks = (batch + 47) / 48;
        if (blocks > 1) assert_int_equal(most, blocks < 3 ? blocks : 3);
        assert_int_equal(actjit_kernel_set_parallel_for(df, NULL, NULL, 1), ACTJIT_OK);
        tu_free_unaligned(x), tu_free_unaligned(want), tu_free_unaligned(got);
      }
      actjit_kernel_destroy(df), actjit_kernel_destroy(flat);
    }
  unload_pipeline(&p);
}

/* The intermediates take a block's memory at any batch (3 tasks: three
 * blocks' worth), and a batch of fewer rows its own rows' (up to a
 * multiple of 16); layer by layer the batch's; the dump says so. */
static void test_blocks_memory(void **state) {
  (void)state;
  uint64_t rng = 5;
  pipeline p;
  load_pipeline(&p, model, NULL, &rng);
  actjit_kernel *df = compile_blocks(&p, &test_targets[0], 1, 0), *flat = compile_blocks(&p, &test_targets[0], 0, 0);
  size_t one = actjit_kernel_scratch_bytes(df, 1024);
  assert_true(one > 0);
  assert_int_equal(actjit_kernel_scratch_bytes(df, 16384), one);
  assert_int_equal(actjit_kernel_scratch_bytes(df, 48), one);
  assert_int_equal(3 * actjit_kernel_scratch_bytes(df, 1), one);  /* 16 rows of 48 */
  assert_int_equal(3 * actjit_kernel_scratch_bytes(df, 17), 2 * one);
  assert_int_equal(actjit_kernel_scratch_bytes(df, 0), 0);
  assert_true(actjit_kernel_scratch_bytes(flat, 16384) > actjit_kernel_scratch_bytes(flat, 1024));
  assert_true(actjit_kernel_scratch_bytes(flat, 1024) > one);
  assert_int_equal(actjit_kernel_set_parallel_for(df, reverse_for, &(int64_t){0}, 3), ACTJIT_OK);
  assert_int_equal(actjit_kernel_scratch_bytes(df, 16384), 3 * one);
  char *text;
  assert_int_equal(actjit_kernel_dump(df, ACTJIT_DUMP_PASSES, &text), ACTJIT_OK);
  if (!strstr(text, "#   depth-first: kernels 0-2 in blocks of 48 rows, block buffers 73 floats a row"))
    fail_msg("the plan does not show the depth-first run:\n%s", text);
  assert_non_null(strstr(text, "writes block0@0"));
  actjit_free(text);
  /* an L2 of 8 KiB: the weights would come from memory for every block */
  actjit_kernel *big = compile_l2(&p, &test_targets[0], 1, 0, "l2=8192");
  assert_int_equal(actjit_kernel_dump(big, ACTJIT_DUMP_PASSES, &text), ACTJIT_OK);
  assert_null(strstr(text, "depth-first"));
  assert_true(actjit_kernel_scratch_bytes(big, 16384) > actjit_kernel_scratch_bytes(big, 1024));
  actjit_free(text);
  actjit_kernel_destroy(big);
  actjit_kernel_destroy(df), actjit_kernel_destroy(flat);
  unload_pipeline(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_blocks_bitwise), cmocka_unit_test(test_blocks_memory)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
