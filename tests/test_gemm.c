/* The linear kernel's tiles (src/codegen/linear.c).  A block of rows takes
 * one of two tiles: MR rows, skipping those past the batch, or one row
 * spanning panels, which at the end of a panel group (or of a thread's
 * panels) may span past the last panel.  For every batch from 1 to 20
 * (every count of rows left over, MR being 8 at most), outputs that make
 * an odd number of panels on every test target, K over one block and
 * under it, two linears of one input (SwiGLU's gate and up) and a linear
 * ending in a softmax, on every test target:
 *   - each output row is bitwise the same row computed at batch 1: every
 *     output is summed in one order, whatever tile computes it;
 *   - batch 20 agrees with the scalar reference within the rounding of
 *     its float sums;
 *   - 3 tasks in reverse order (which split a small batch along panels)
 *     give the same bits.
 * And the seed model's kernels have the two tiles each: 41 multiply-adds
 * in their k loops on skylake-avx512, where a tile a power of two of rows
 * had 75. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "reference/reference.h"
#include "testutil.h"
#include "testpipe.h"

enum { MAX_BATCH = 20 };

static const struct {
  const char *text;
  int64_t k; /* the longest sum: the reference's tolerance */
} cases[] = {
    /* 130 outputs: 3 panels of 64 (AVX-512), 9 of 16 (AVX2), 17 of 8 (SSE); K = 300 in two blocks */
    {"input %x : f32[N, 300]\nparam @w : f32[130, 300]\nparam @b : f32[130]\n"
     "%h = linear %x, @w, @b\n%y = relu %h\noutput %y\n",
     300},
    {"input %x : f32[N, 24]\nparam @g : f32[130, 24]\nparam @u : f32[130, 24]\n"
     "%a = linear %x, @g\n%b = linear %x, @u\n%s = silu %a\n%y = mul %s, %b\noutput %y\n",
     24},
    {"input %x : f32[N, 24]\nparam @w : f32[10, 24]\nparam @b : f32[10]\n"
     "%h = linear %x, @w, @b\n%y = softmax %h {dim = 1}\noutput %y\n",
     24},
};

static void reverse_pfor(void *user, int64_t n, actjit_task_fn task, void *arg) {
  (void)user;
  for (int64_t i = n - 1; i >= 0; i--) task(arg, i);
}

static void run(actjit_kernel *k, const float *x, int64_t batch, float *y, int tasks) {
  assert_int_equal(actjit_kernel_set_parallel_for(k, tasks > 1 ? reverse_pfor : NULL, NULL, tasks), ACTJIT_OK);
  assert_int_equal(actjit_kernel_run(k, x, batch, y), ACTJIT_OK);
}

static void test_every_batch(void **state) {
  (void)state;
  uint64_t rng = 11;
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    pipeline p;
    load_pipeline(&p, cases[c].text, NULL, &rng);
    size_t in_row, out_row;
    actjit_kernel *k0 = compile_pipeline(&p, &test_targets[0], 1, 0, 0);
    assert_int_equal(actjit_kernel_io_sizes(k0, 1, &in_row, &out_row), ACTJIT_OK);
    actjit_kernel_destroy(k0);
    float *x = tu_alloc_unaligned(in_row * MAX_BATCH), *ref = tu_alloc_unaligned(out_row * MAX_BATCH);
    float *row = tu_alloc_unaligned(out_row * MAX_BATCH);
    for (size_t i = 0; i < in_row * MAX_BATCH; i++) x[i] = tu_uniform(&rng, -2, 2);
    assert_int_equal(ref_run(p.g, (const float *const *)p.params, x, MAX_BATCH, ref), ACTJIT_OK);
    for (size_t t = 0; t < N_TEST_TARGETS; t++) {
      actjit_kernel *k = compile_pipeline(&p, &test_targets[t], 1, 0, 0);
      const char *cpu = test_targets[t].cpu ? test_targets[t].cpu : "host";
      for (int64_t r = 0; r < MAX_BATCH; r++) run(k, x + r * in_row, 1, row + r * out_row, 1);
      double tol = (double)(cases[c].k + 2) * 0x1p-24 * (double)cases[c].k / 2;
      for (size_t i = 0; i < out_row * MAX_BATCH; i++)
        if (!(fabs((double)row[i] - ref[i]) <= tol))
          fail_msg("case %zu, %s: element %zu is %.9g, the reference's %.9g", c, cpu, i, row[i], ref[i]);
      for (int64_t batch = 1; batch <= MAX_BATCH; batch++)
        for (int tasks = 1; tasks <= 3; tasks += 2) {
          /* the batch's rows exactly (a sanitizer sees a read past them), and
           * a row after the output's that must stay as it was */
          size_t nx = in_row * (size_t)batch, ny = out_row * (size_t)batch;
          float *xb = tu_alloc_unaligned(nx), *yb = tu_alloc_unaligned(ny + out_row);
          memcpy(xb, x, nx * sizeof *xb);
          memset(yb, 0xff, (ny + out_row) * sizeof *yb);
          run(k, xb, batch, yb, tasks);
          for (size_t i = 0; i < ny + out_row; i++)
            if (i < ny ? !same_value(yb[i], row[i]) : !isnan(yb[i]))
              fail_msg("case %zu, %s, batch %lld, %d tasks: element %zu is %.9g, %s %.9g", c, cpu, (long long)batch,
                       tasks, i, yb[i], i < ny ? "alone in its batch" : "past the batch: untouched, not", row[i]);
          tu_free_unaligned(xb), tu_free_unaligned(yb);
        }
      actjit_kernel_destroy(k);
    }
    tu_free_unaligned(x), tu_free_unaligned(ref), tu_free_unaligned(row);
    unload_pipeline(&p);
  }
}

static void test_two_tiles(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g;
  if (actjit_graph_parse_file(ctx, ACTJIT_SOURCE_DIR "/ir/mlp.air", &g)) fail_msg("%s", actjit_context_error(ctx));
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = "skylake-avx512";
  actjit_kernel *k;
  if (actjit_compile(g, &o, &k)) fail_msg("%s", actjit_context_error(ctx));
  char *ir;
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_LLVM, &ir), ACTJIT_OK);
  /* a k loop's multiply-add reads its accumulator as %accN: kernel 0
   * (784 -> 128: panels of 4 vectors, MR = 6) 6 x 4 + 1 x 8 (a row spans
   * two panels), kernel 1 (128 -> 10 | softmax: one vector, MR = 8) 8 + 1 */
  int accs = 0;
  for (const char *s = ir; (s = strstr(s, "\n  %acc")); s++) {
    const char *e = s + 7;
    while (*e >= '0' && *e <= '9') e++;
    accs += !strncmp(e, " = load", 7);
  }
  assert_int_equal(accs, 41);
  actjit_free(ir);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_batch), cmocka_unit_test(test_two_tiles)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
