/* The seed model ir/mlp.air against PyTorch 1.13's output
 * (tests/golden/gen_golden.py), on every test target, fused and unfused;
 * and the assembly each target runs uses that target's registers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "io/npy.h"
#include "io/safetensors.h"
#include "testutil.h"

#define GOLDEN ACTJIT_SOURCE_DIR "/tests/golden/"

static actjit_kernel *compile_mlp(actjit_context *ctx, const test_target *t, int fuse) {
  actjit_graph *g;
  if (actjit_graph_parse_file(ctx, ACTJIT_SOURCE_DIR "/ir/mlp.air", &g)) fail_msg("%s", actjit_context_error(ctx));
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu;
  o.features = t->features;
  o.fuse = fuse;
  actjit_kernel *k;
  if (actjit_compile(g, &o, &k)) fail_msg("%s", actjit_context_error(ctx));
  char err[256];
  st_file *st;
  if (st_open(GOLDEN "mlp.safetensors", &st, err, sizeof err)) fail_msg("%s", err);
  for (int i = 0; i < actjit_graph_param_count(g); i++) {
    const char *name;
    int rank;
    int64_t dims[ST_MAX_RANK];
    const float *data;
    assert_int_equal(actjit_graph_param_info(g, i, &name, NULL, NULL), ACTJIT_OK);
    if (st_get(st, name, &rank, dims, &data, err, sizeof err)) fail_msg("%s", err);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    assert_int_equal(actjit_kernel_bind(k, name, data, n), ACTJIT_OK);
  }
  st_close(st);
  actjit_graph_destroy(g);
  return k;
}

static void test_mlp_matches_pytorch(void **state) {
  static const int batches[] = {1, 3, 17, 64};
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (int fuse = 0; fuse <= 1; fuse++) {
      actjit_kernel *k = compile_mlp(ctx, &test_targets[t], fuse);
      for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        char px[256], py[256], err[256];
        snprintf(px, sizeof px, GOLDEN "mlp_x_%d.npy", batches[b]);
        snprintf(py, sizeof py, GOLDEN "mlp_y_%d.npy", batches[b]);
        npy_array x, y;
        if (npy_read(px, &x, err, sizeof err) || npy_read(py, &y, err, sizeof err)) fail_msg("%s", err);
        assert_int_equal(x.dims[0], batches[b]);
        float *out = tu_alloc_unaligned(y.count);
        assert_int_equal(actjit_kernel_run(k, x.data, batches[b], out), ACTJIT_OK);
        for (size_t i = 0; i < y.count; i++)
          if (!(fabsf(out[i] - y.data[i]) <= 1e-6f + 1e-5f * fabsf(y.data[i])))
            fail_msg("cpu %s fuse %d batch %d element %zu: got %.9g, PyTorch %.9g",
                     actjit_kernel_cpu(k), fuse, batches[b], i, out[i], y.data[i]);
        tu_free_unaligned(out);
        npy_free(&x);
        npy_free(&y);
      }
      actjit_kernel_destroy(k);
    }
  actjit_context_destroy(ctx);
}

static int count(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p++) n++;
  return n;
}

/* Lines in [from, to) that allocate a variable whose name does not start
 * with `kept` (LLVM's SROA splits %total into %total.sroa.N). */
static int allocas_but(const char *from, const char *to, const char *kept) {
  int n = 0;
  for (const char *p = from; (p = strstr(p, " = alloca ")) && p < to; p++) {
    const char *line = p;
    while (line > from && line[-1] != '\n') line--;
    while (*line == ' ') line++;
    n += strncmp(line, kept, strlen(kept)) != 0;
  }
  return n;
}

/* zmm on the AVX-512 host, ymm but no zmm for AVX2, xmm only for SSE. */
static void test_assembly_registers(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  char *name, *features;
  assert_int_equal(actjit_host_cpu(&name, &features), ACTJIT_OK);
  bool host_avx512 = strstr(features, "+avx512f") != NULL && !tu_narrowed();
  actjit_free(name), actjit_free(features);
  for (size_t t = 0; t < N_TEST_TARGETS; t++) {
    actjit_kernel *k = compile_mlp(ctx, &test_targets[t], 0);
    char *text;
    assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_ASM, &text), ACTJIT_OK);
    int w = actjit_kernel_vector_width(k);
    if (!test_targets[t].cpu && host_avx512) assert_int_equal(w, 16);
    if (w == 16) assert_true(count(text, "%zmm") > 0);
    if (w == 8) assert_true(count(text, "%ymm") > 0 && count(text, "%zmm") == 0);
    if (w == 4) assert_true(count(text, "%xmm") > 0 && count(text, "%ymm") + count(text, "%zmm") == 0);
    /* The entry the JIT runs is in the listing. */
    assert_non_null(strstr(text, "actjit_entry:"));
    actjit_free(text);
    actjit_kernel_destroy(k);
  }
  actjit_context_destroy(ctx);
}

static void test_dumps(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_kernel *k = compile_mlp(ctx, &test_targets[0], 1);
  char *ir, *llvm, *opt, *passes;
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_IR, &ir), ACTJIT_OK);
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_LLVM, &llvm), ACTJIT_OK);
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_LLVM_OPT, &opt), ACTJIT_OK);
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_PASSES, &passes), ACTJIT_OK);
  assert_non_null(strstr(ir, "%y = softmax %fc2 {dim = 1} : f32[N, 10]"));
  assert_non_null(strstr(llvm, "define void @actjit_entry("));
  assert_non_null(strstr(opt, "define void @actjit_entry("));
  /* Before optimization the kernels' loops keep their allocas; after, none
   * remain (the entry keeps its array of each kernel's input pointers, and a
   * GEMM summing K in blocks its tile of block sums, %total). */
  const char *k_llvm = strstr(llvm, "define void @actjit_k0("), *k_opt = strstr(opt, "define void @actjit_k0(");
  const char *e_llvm = strstr(llvm, "define void @actjit_entry("), *e_opt = strstr(opt, "define void @actjit_entry(");
  assert_true(k_llvm && k_opt && e_llvm > k_llvm && e_opt > k_opt);
  assert_true(allocas_but(k_llvm, e_llvm, "%total") > 0);
  assert_int_equal(allocas_but(k_opt, e_opt, "%total"), 0);
  assert_non_null(strstr(passes, "memory plan"));
  actjit_free(ir), actjit_free(llvm), actjit_free(opt), actjit_free(passes);
  actjit_kernel_destroy(k);
  actjit_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp_matches_pytorch),
      cmocka_unit_test(test_assembly_registers),
      cmocka_unit_test(test_dumps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
