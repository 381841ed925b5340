/* The fusion passes and the memory plan: every pipeline in ir/ and a set of
 * chains built to exercise each fusion, compiled fused and unfused for the
 * host, AVX2 and SSE targets, must give bitwise identical results (fusion
 * changes where values live, never how they are computed), in place or not,
 * except in one fusion: where a softmax is fused into a linear, the row is
 * normalized in registers as exp(x - max)/sum, while the softmax kernel
 * sums online and scales exp(x - m) by exp(m - max)/sum: the two agree to
 * 2^-20 relative, or 2^-30 absolute for tiny probabilities (whose relative
 * error is |x - max|·2^-24 in any float softmax, PyTorch's included).  The
 * results also agree with the scalar reference; the caller's input is never
 * written unless donated; and inplace=True is honoured. */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "codegen/codegen.h"
#include "reference/reference.h"
#include "testutil.h"
#include "testpipe.h"

/* Pipelines exercising each fusion, and how many kernels the fused plan
 * must have. */
typedef struct chain {
  const char *ir;
  int kernels;
} chain;

static const chain chains[] = {
    /* prologue fusion: an elementwise group feeding softmax */
    {"input %x : f32[N, 37]\n%a = relu %x\n%b = sigmoid %a\n%y = softmax %b {dim = 1}\noutput %y\n", 1},
    /* a strided softmax with a prologue */
    {"input %x : f32[N, 5, 19]\n%a = tanh %x\n%y = softmax %a {dim = 1}\noutput %y\n", 1},
    /* epilogue fusion with a per-channel prelu on the output features */
    {"input %x : f32[N, 23]\nparam @w : f32[17, 23]\nparam @b : f32[17]\nparam @a : f32[17]\n"
    "%h = linear %x, @w, @b\n%p = prelu %h, @a\n%t = tanh %p\noutput %t\n", 1},
    /* rank-3 linear: a per-channel prelu cannot join the epilogue */
    {"input %x : f32[N, 4, 9]\nparam @w : f32[6, 9]\nparam @a : f32[4]\n%h = linear %x, @w\n"
    "%r = leaky_relu %h {negative_slope = 0.2}\n%p = prelu %r, @a\noutput %p\n", 2},
    /* a softmax in place over a linear's output too wide to fuse */
    {"input %x : f32[N, 8]\nparam @w : f32[70, 8]\n%h = linear %x, @w\n%y = softmax %h {dim = 1}\noutput %y\n", 2},
    /* a dead branch: removed before fusion */
    {"input %x : f32[N, 8]\n%a = relu %x\n%b = sigmoid %a\n%c = tanh %a\noutput %b\n", 1},
    /* a lone view: the output is the input's data */
    {"input %x : f32[N, 3, 4]\n%f = flatten %x\noutput %f\n", 1},
    /* ops the passes remove before a view: the output is still written */
    {"input %x : f32[N, 3, 4]\n%i = identity %x\n%f = flatten %i\noutput %f\n", 1},
    {"input %x : f32[N, 3, 4]\n%d = dropout %x {p = 0.5}\n%f = flatten %d {start_dim = 0, end_dim = 2}\noutput %f\n", 1},
    /* a softmax over the batch written in place (fused) and not (unfused):
     * the same formula either way, the running max moving across chunks */
    {"input %x : f32[N, 5]\nparam @w : f32[5]\n%p = prelu %x, @w\n%f = flatten %p\n%y = softmax %f {dim = 0}\noutput %y\n", 2},
    /* dropout and identity vanish, inplace=True is kept */
    {"input %x : f32[N, 33]\n%a = relu %x {inplace = 1}\n%d = dropout %a {p = 0.3}\n%i = identity %d\n"
    "%s = sigmoid %i {inplace = 1}\noutput %s\n", 1},
    /* tanh of values within [-1, 1] (value_range.c): the same formula fused
     * and unfused, where the dropout between stays as a kernel */
    {"input %x : f32[N, 45]\n%s = sigmoid %x\n%d = dropout %s {p = 0.2}\n%t = tanh %d\noutput %t\n", 1},
    {"input %x : f32[N, 3, 7]\n%s = softmax %x {dim = 1}\n%t = tanh %s\n%h = hardtanh %t {min_val = -0.5, max_val = 2}\n"
    "%u = tanh %h\noutput %u\n", 2},
    /* software-pipelined chains (eltwise.c): stages cut after long ops, row
     * sizes giving 0 to 30 full blocks and a tail on each target */
    {"input %x : f32[N, 97]\n%a = relu %x\n%b = sigmoid %a\n%c = leaky_relu %b {negative_slope = 0.3}\n%d = tanh %c\n"
    "%e = exp %d\n%f = hardtanh %e\n%g = silu %f\noutput %g\n", 1},
    {"input %x : f32[N, 300]\n%s = sigmoid %x\n%t = tanh %s\noutput %t\n", 1},
    /* softmax rows of at most and just over 64 chunks (softmax.c keeps each
     * chunk's max up to that many, else recomputes it from the input) */
    {"input %x : f32[N, 8192]\n%a = tanh %x\n%y = softmax %a {dim = 1}\noutput %y\n", 1},
    {"input %x : f32[N, 8200]\n%y = softmin %x {dim = -1}\noutput %y\n", 1},
    /* graphs: a residual epilogue reading x again, two linears of one input
     * meeting in one op (SwiGLU), an elementwise DAG with broadcast operands
     * and x used thrice, one value feeding two kernels (three: a softmax
     * never runs in the middle of a group) */
    {"input %x : f32[N, 19]\nparam @w : f32[19, 19]\nparam @b : f32[19]\n%h = linear %x, @w, @b\n%r = relu %h\n"
     "%y = add %x, %r\noutput %y\n", 1},
    {"input %x : f32[N, 21]\nparam @g : f32[37, 21]\nparam @u : f32[37, 21]\nparam @d : f32[21, 37]\n"
     "%gg = linear %x, @g\n%uu = linear %x, @u\n%s = silu %gg\n%p = mul %s, %uu\n%y = linear %p, @d\noutput %y\n", 2},
    /* a weight of a SwiGLU pair read by another linear too: no pair (its
     * weights are packed for the pair's tile), three kernels */
    {"input %x : f32[N, 21]\nparam @g : f32[37, 21]\nparam @u : f32[37, 21]\n%gg = linear %x, @g\n%uu = linear %x, @u\n"
     "%s = silu %gg\n%p = mul %s, %uu\n%z = linear %x, @g\n%y = add %p, %z\noutput %y\n", 3},
    {"input %x : f32[N, 3, 17]\nparam @c : f32[17]\nconst %k : f32[3, 1] = [0.5, -2, 3]\n%a = mul %x, @c\n"
     "%b = sub %a, %k\n%m = maximum %b, %x\n%y = div %m, 2\n%z = add %y, %x\noutput %z\n", 1},
    {"input %x : f32[N, 9]\n%a = tanh %x\n%b = softmax %a {dim = 1}\n%c = add %a, %b\noutput %c\n", 3},
};


/* Does the fused plan normalize a linear's rows in registers? */
static bool linear_softmax_kernel(const actjit_kernel *k) {
  for (int i = 0; i < actjit_kernel_step_count(k); i++) {
    const char *name = actjit_kernel_step_name(k, i);
    if (strstr(name, "linear %") && strstr(name, "softmax %")) return true;
  }
  return false;
}

static bool agree(float a, float b, bool exact) {
  if (exact || isnan(a) || isnan(b)) return same_value(a, b);
  return fabsf(a - b) <= 0x1p-20f * fabsf(b) + 0x1p-30f;
}

/* The reference, and how far its outputs move when every input and
 * parameter moves by 2^-16 relative (random signs): the outputs'
 * sensitivity to rounding, which bounds what a float kernel may differ by
 * where sums cancel (a residual x + relu(x·Wᵀ) near 0 inherits the rounding
 * of a 1024-term sum).  A float sum of a block of 256 terms (linear.c's
 * K_BLOCK) has a backward error of up to 256·2^-24 = 2^-16 a term. */
static void reference(const pipeline *p, const float *x, size_t nin, int64_t batch, float *yr, float *spread,
                      size_t nout) {
  uint64_t rng = 99;
  float *xp = tu_alloc_unaligned(nin), *yp = tu_alloc_unaligned(nout), *pp[8];
  for (size_t i = 0; i < nin; i++) xp[i] = x[i] * (1 + ((tu_rng(&rng) & 1) ? 0x1p-16f : -0x1p-16f));
  for (int k = 0; k < p->np; k++) {
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_param_info(p->g, k, NULL, &rank, dims), ACTJIT_OK);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    pp[k] = tu_alloc_unaligned(n);
    for (size_t i = 0; i < n; i++) pp[k][i] = p->params[k][i] * (1 + ((tu_rng(&rng) & 1) ? 0x1p-16f : -0x1p-16f));
  }
  assert_int_equal(ref_run(p->g, (const float *const *)p->params, x, batch, yr), ACTJIT_OK);
  assert_int_equal(ref_run(p->g, (const float *const *)pp, xp, batch, yp), ACTJIT_OK);
  for (size_t i = 0; i < nout; i++) spread[i] = fabsf(yp[i] - yr[i]);
  for (int k = 0; k < p->np; k++) tu_free_unaligned(pp[k]);
  tu_free_unaligned(xp), tu_free_unaligned(yp);
}

static void check_pipeline(const char *text, const char *path, int kernels) {
  uint64_t rng = 12345;
  pipeline p;
  load_pipeline(&p, text, path, &rng);
  const char *what = path ? path : text;
  enum { NB = 4 };
  static const int batches[NB] = {0, 1, 5, 37};
  float *x[NB], *yr[NB], *spread[NB];
  size_t nin[NB], nout[NB];
  for (size_t t = 0; t < N_TEST_TARGETS; t++) {
    actjit_kernel *fused = compile_pipeline(&p, &test_targets[t], 1, 0, 0), *unfused = compile_pipeline(&p, &test_targets[t], 0, 0, 0);
    actjit_kernel *donated = compile_pipeline(&p, &test_targets[t], 1, 1, 0);
    bool exact = !linear_softmax_kernel(fused);
    if (actjit_kernel_step_count(fused) != kernels)
      fail_msg("%s\n[%s] the fused plan has %d kernels, expected %d", what, actjit_kernel_cpu(fused),
               actjit_kernel_step_count(fused), kernels);
    for (size_t b = 0; b < NB; b++) {
      if (t == 0) { /* the inputs and the reference, once for all targets */
        assert_int_equal(actjit_kernel_io_sizes(fused, batches[b], &nin[b], &nout[b]), ACTJIT_OK);
        x[b] = tu_alloc_unaligned(nin[b]), yr[b] = tu_alloc_unaligned(nout[b]), spread[b] = tu_alloc_unaligned(nout[b]);
        for (size_t i = 0; i < nin[b]; i++) x[b][i] = tu_uniform(&rng, -4, 4);
        reference(&p, x[b], nin[b], batches[b], yr[b], spread[b], nout[b]);
      }
      float *x_copy = tu_alloc_unaligned(nin[b]);
      float *yf = tu_alloc_unaligned(nout[b]), *yu = tu_alloc_unaligned(nout[b]), *yd = tu_alloc_unaligned(nout[b]);
      memcpy(x_copy, x[b], nin[b] * sizeof(float));
      assert_int_equal(actjit_kernel_run(fused, x[b], batches[b], yf), ACTJIT_OK);
      assert_int_equal(actjit_kernel_run(unfused, x[b], batches[b], yu), ACTJIT_OK);
      /* The caller's input is read, never written. */
      assert_memory_equal(x[b], x_copy, nin[b] * sizeof(float));
      assert_int_equal(actjit_kernel_run(donated, x_copy, batches[b], yd), ACTJIT_OK);
      for (size_t i = 0; i < nout[b]; i++) {
        if (!agree(yf[i], yu[i], exact) || !same_value(yf[i], yd[i]))
          fail_msg("%s\n[%s] batch %d element %zu: fused %.9g, unfused %.9g, donated %.9g", what,
                   actjit_kernel_cpu(fused), batches[b], i, yf[i], yu[i], yd[i]);
        if (!(fabsf(yf[i] - yr[b][i]) <= 1e-5f * (1 + fabsf(yr[b][i])) + 2 * spread[b][i]))
          fail_msg("%s\n[%s] batch %d element %zu: fused %.9g, reference %.9g (moving the inputs by 2^-16 moves it by "
                   "%.3g)",
                   what, actjit_kernel_cpu(fused), batches[b], i, yf[i], yr[b][i], spread[b][i]);
      }
      tu_free_unaligned(x_copy), tu_free_unaligned(yf), tu_free_unaligned(yu), tu_free_unaligned(yd);
    }
    actjit_kernel_destroy(fused), actjit_kernel_destroy(unfused), actjit_kernel_destroy(donated);
  }
  for (size_t b = 0; b < NB; b++) tu_free_unaligned(x[b]), tu_free_unaligned(yr[b]), tu_free_unaligned(spread[b]);
  unload_pipeline(&p);
}

/* The count an ir/ file declares in its `# fused kernels: N` line. */
static int declared_kernels(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512];
  int n = -1;
  while (n < 0 && fgets(line, sizeof line, f)) sscanf(line, "# fused kernels: %d", &n);
  fclose(f);
  if (n < 0) fail_msg("%s declares no '# fused kernels: N' line", path);
  return n;
}

static void test_chains(void **state) {
  for (size_t i = 0; i < sizeof chains / sizeof *chains; i++) check_pipeline(chains[i].ir, NULL, chains[i].kernels);
}

static void test_ir_files(void **state) {
  static char paths[64][TU_PATH_MAX];
  int n = tu_ir_files(paths, 64);
  assert_true(n >= 5);
  for (int i = 0; i < n; i++) check_pipeline(NULL, paths[i], declared_kernels(paths[i]));
}

/* The host's fused plan layer by layer (no depth-first runs). */
static actjit_kernel *compile_layered(pipeline *p) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.depth_first = 0;
  return compile_pipeline_with(p, &o);
}

static char *dump_kernel_passes(actjit_kernel *k) {
  char *text;
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_PASSES, &text), ACTJIT_OK);
  actjit_kernel_destroy(k);
  return text;
}

static char *dump_passes(pipeline *p, int fuse) {
  actjit_kernel *k = compile_pipeline(p, &test_targets[0], fuse, 0, 0);
  char *text;
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_PASSES, &text), ACTJIT_OK);
  actjit_kernel_destroy(k);
  return text;
}

/* The host target with its L2 taken as l2 bytes (tuning). */
static actjit_kernel *compile_l2(pipeline *p, const char *l2) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.tuning = l2;
  return compile_pipeline_with(p, &o);
}

/* Seed model at batch 1024: the fused, in-place plan needs at most a third
 * of the unfused plan's intermediate memory, and runs 2 kernels, not 5;
 * depth-first, its memory does not grow with the batch where the L2 holds
 * its first layer's weights beside a block (1 MiB, as on Zen 4 or
 * Skylake-SP); with 512 KiB (Zen 3) it runs layer by layer. */
static void test_seed_model_plan(void **state) {
  uint64_t rng = 1;
  pipeline p;
  load_pipeline(&p, NULL, ACTJIT_SOURCE_DIR "/ir/mlp.air", &rng);
  actjit_kernel *fused = compile_layered(&p), *unfused = compile_pipeline(&p, &test_targets[0], 0, 0, 0);
  actjit_kernel *df = compile_l2(&p, "l2=1048576"), *small = compile_l2(&p, "l2=524288");
  assert_int_equal(actjit_kernel_scratch_bytes(small, 16384), 16384 * 128 * sizeof(float));
  actjit_kernel_destroy(small);
  size_t bf = actjit_kernel_scratch_bytes(fused, 1024), bu = actjit_kernel_scratch_bytes(unfused, 1024);
  assert_true(bf > 0 && 3 * bf <= bu);
  /* 128 floats a row for the hidden layer; the rest lives in the output. */
  assert_int_equal(bf, 1024 * 128 * sizeof(float));
  size_t bd = actjit_kernel_scratch_bytes(df, 1024);
  assert_true(bd > 0 && bd % (128 * sizeof(float)) == 0);
  assert_int_equal(actjit_kernel_scratch_bytes(df, 16384), bd);
  /* a batch smaller than a block: block buffers of its rows, up to 16 */
  assert_int_equal(actjit_kernel_scratch_bytes(df, 1), 16 * 128 * sizeof(float));
  actjit_kernel_destroy(unfused), actjit_kernel_destroy(df);
  char *f = dump_kernel_passes(fused), *u = dump_passes(&p, 0), *d = dump_kernel_passes(compile_l2(&p, "l2=1048576"));
  assert_non_null(strstr(d, "#   depth-first: kernels 0-1 in blocks of "));
  assert_non_null(strstr(d, "kernel 0: linear %fc1 | relu %act  reads input, writes block0@0"));
  actjit_free(d);
  assert_non_null(strstr(f, "# memory plan: 2 kernels"));
  assert_non_null(strstr(f, "kernel 0: linear %fc1 | relu %act  reads input, writes scratch0@(0*N+0)"));
  assert_non_null(strstr(f, "kernel 1: linear %fc2 | softmax %y  reads scratch0@(0*N+0), writes output"));
  const char *after = strstr(f, "# IR after dropout_elim");
  assert_non_null(after);
  assert_null(strstr(after, "dropout %"));
  assert_non_null(strstr(u, "# memory plan: 5 kernels"));
  assert_null(strstr(u, "(in place)"));
  actjit_free(f), actjit_free(u);
  unload_pipeline(&p);
}

/* The LLVM and assembly dumps name the ops each kernel's function runs on
 * the line before it, so that a reader finds a layer's loop. */
static void test_dump_kernel_comments(void **state) {
  uint64_t rng = 1;
  pipeline p;
  load_pipeline(&p, NULL, ACTJIT_SOURCE_DIR "/ir/mlp.air", &rng);
  actjit_kernel *k = compile_pipeline(&p, &test_targets[0], 1, 0, 0);
  static const struct {
    actjit_dump_kind kind;
    const char *k0, *k1;
  } dumps[] = {
      {ACTJIT_DUMP_LLVM, "; actjit_k0: linear %fc1 | relu %act\ndefine void @actjit_k0(",
       "; actjit_k1: linear %fc2 | softmax %y\ndefine void @actjit_k1("},
      {ACTJIT_DUMP_LLVM_OPT, "; actjit_k0: linear %fc1 | relu %act\ndefine void @actjit_k0(",
       "; actjit_k1: linear %fc2 | softmax %y\ndefine void @actjit_k1("},
      {ACTJIT_DUMP_ASM, "# actjit_k0: linear %fc1 | relu %act\nactjit_k0:", "# actjit_k1: linear %fc2 | softmax %y\nactjit_k1:"},
  };
  for (size_t i = 0; i < sizeof dumps / sizeof *dumps; i++) {
    char *text;
    assert_int_equal(actjit_kernel_dump(k, dumps[i].kind, &text), ACTJIT_OK);
    if (!strstr(text, dumps[i].k0) || !strstr(text, dumps[i].k1)) fail_msg("dump %d lacks the kernel comments", (int)i);
    actjit_free(text);
  }
  actjit_kernel_destroy(k);
  unload_pipeline(&p);
}

/* Unfused, only the ops PyTorch marks inplace=True write over their operand. */
static void test_inplace_flag(void **state) {
  uint64_t rng = 1;
  pipeline p;
  load_pipeline(&p,
       "input %x : f32[N, 8]\n%a = tanh %x\n%b = relu %a {inplace = 1}\n%c = sigmoid %b\n%d = tanh %c\noutput %d\n",
       NULL, &rng);
  char *u = dump_passes(&p, 0);
  assert_non_null(strstr(u, "kernel 1: relu %b  reads scratch0@(0*N+0), writes scratch0@(0*N+0) (in place)"));
  assert_non_null(strstr(u, "kernel 2: sigmoid %c  reads scratch0@(0*N+0), writes scratch1"));
  actjit_free(u);
  unload_pipeline(&p);
}

/* Outputs of CG_STREAM_MIN floats and more are written with non-temporal
 * stores after an aligning head: at such a size, with an output address 4 bytes past a
 * 64-byte boundary, every element must still be right, head and tail.  Both
 * loop shapes: a plain chain, checked bitwise against the reference, and a
 * software-pipelined one, bitwise against its unfused kernels (which stream
 * without pipelining) and against the reference within 1e-5. */
static void test_streaming_stores(void **state) {
  static const char *const models[] = {
      "input %x : f32[N, 4099]\n%r = leaky_relu %x {negative_slope = 0.1}\n%s = relu %r\noutput %s\n",
      "input %x : f32[N, 4099]\n%r = leaky_relu %x {negative_slope = 0.1}\n%s = sigmoid %r\n%t = tanh %s\noutput %t\n",
  };
  for (int m = 0; m < 2; m++) {
    uint64_t rng = 5;
    pipeline p;
    load_pipeline(&p, models[m], NULL, &rng);
    int64_t batch = 1025; /* 4.2M floats */
    for (size_t t = 0; t < N_TEST_TARGETS; t++) {
      actjit_kernel *k = compile_pipeline(&p, &test_targets[t], 1, 0, 0), *u = compile_pipeline(&p, &test_targets[t], 0, 0, 0);
      size_t nin, nout;
      assert_int_equal(actjit_kernel_io_sizes(k, batch, &nin, &nout), ACTJIT_OK);
      assert_true(nout >= (size_t)CG_STREAM_MIN);
      float *x = tu_alloc_unaligned(nin), *y = tu_alloc_unaligned(nout), *yu = tu_alloc_unaligned(nout);
      float *r = tu_alloc_unaligned(nout);
      for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -4, 4);
      assert_int_equal(actjit_kernel_run(k, x, batch, y), ACTJIT_OK);
      assert_int_equal(actjit_kernel_run(u, x, batch, yu), ACTJIT_OK);
      assert_int_equal(ref_run(p.g, NULL, x, batch, r), ACTJIT_OK);
      for (size_t i = 0; i < nout; i++)
        if (!same_value(y[i], yu[i]) || !(m ? fabsf(y[i] - r[i]) <= 1e-5f * (1 + fabsf(r[i])) : same_value(y[i], r[i])))
          fail_msg("[%s] model %d element %zu: fused %.9g, unfused %.9g, reference %.9g", actjit_kernel_cpu(k), m, i,
                   y[i], yu[i], r[i]);
      char *text;
      assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_ASM, &text), ACTJIT_OK);
      assert_non_null(strstr(text, "vmovntps") ? strstr(text, "vmovntps") : strstr(text, "movntps"));
      actjit_free(text);
      tu_free_unaligned(x), tu_free_unaligned(y), tu_free_unaligned(yu), tu_free_unaligned(r);
      actjit_kernel_destroy(k), actjit_kernel_destroy(u);
    }
    unload_pipeline(&p);
  }
}

/* Where value_range bounds tanh's operand to [-1, 1] its kernel is the
 * polynomial alone (no reciprocal, no division) on every target; an
 * unbounded operand keeps the full formula. */
static void test_range_formulas(void **state) {
  static const char *const bounded = "input %x : f32[N, 40]\n%c = hardtanh %x\n%t = tanh %c\noutput %t\n";
  static const char *const unbounded = "input %x : f32[N, 40]\n%c = relu %x\n%t = tanh %c\noutput %t\n";
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (int fuse = 0; fuse <= 1; fuse++)
      for (int b = 0; b < 2; b++) {
        uint64_t rng = 1;
        pipeline p;
        load_pipeline(&p, b ? unbounded : bounded, NULL, &rng);
        actjit_kernel *k = compile_pipeline(&p, &test_targets[t], fuse, 0, 0);
        char *text;
        assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_ASM, &text), ACTJIT_OK);
        bool full = strstr(text, "rcp") || strstr(text, "div");
        if (full != (b == 1))
          fail_msg("[%s] %s tanh after %s: %s", actjit_kernel_cpu(k), fuse ? "fused" : "unfused", b ? "relu" : "hardtanh",
                   full ? "reciprocal or division" : "no reciprocal or division");
        actjit_free(text);
        actjit_kernel_destroy(k);
        unload_pipeline(&p);
      }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streaming_stores),
      cmocka_unit_test(test_chains),
      cmocka_unit_test(test_ir_files),
      cmocka_unit_test(test_seed_model_plan),
      cmocka_unit_test(test_inplace_flag),
      cmocka_unit_test(test_dump_kernel_comments),
      cmocka_unit_test(test_range_formulas),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
