/* Training-mode dropout (src/philox.h, src/codegen/philox.c): Philox4x32-10
 * known answers; PyTorch 1.13's scale and special values; keep rate; masks
 * that depend only on (seed, dropout op, element index): identical fused and
 * unfused, on the host (16 lanes), AVX2 (8), SSE (4) and in scalar linear
 * epilogues, equal to the scalar reference and to philox.h; the low/high
 * index words across 2^32; and the throughput on 16M floats (printed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <time.h>
#include <cmocka.h>

#include "codegen/codegen.h"
#include "jit/jit.h"
#include "ir/philox.h"
#include "reference/reference.h"
#include "testutil.h"
#include "testpipe.h"

/* ------------------------------------------------------------- harness */

/* Output of k on x at batch with seed: a fresh buffer of *n floats. */
static float *run(actjit_kernel *k, const float *x, int64_t batch, uint64_t seed, size_t *n) {
  size_t nin, nout;
  assert_int_equal(actjit_kernel_io_sizes(k, batch, &nin, &nout), ACTJIT_OK);
  float *y = tu_alloc_unaligned(nout);
  assert_non_null(y);
  assert_int_equal(actjit_kernel_set_seed(k, seed), ACTJIT_OK);
  assert_int_equal(actjit_kernel_run(k, x, batch, y), ACTJIT_OK);
  if (n) *n = nout;
  return y;
}

static float *reference(pipeline *p, const float *x, int64_t batch, uint64_t seed, size_t n) {
  float *y = tu_alloc_unaligned(n);
  ref_options o = {.training = true, .seed = seed};
  assert_int_equal(ref_run_opts(p->g, (const float *const *)p->params, x, batch, y, &o), ACTJIT_OK);
  return y;
}


/* One dropout alone: input %x : f32[N, cols], %<name> = dropout %x {p}. */
static void load_single(pipeline *p, const char *name, double prob, int cols) {
  char text[256];
  snprintf(text, sizeof text, "input %%x : f32[N, %d]\n%%%s = dropout %%x {p = %.17g}\noutput %%%s\n", cols, name,
           prob, name);
  uint64_t rng = 1;
  load_pipeline(p, text, NULL, &rng);
}

/* ------------------------------------------------------------- Philox */

/* Random123's kat_vectors for philox4x32 10. */
static void test_philox_known_answers(void **state) {
  static const uint32_t kat[][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
       0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
       0x24126ea1},
  };
  for (size_t i = 0; i < sizeof kat / sizeof *kat; i++) {
    uint32_t out[4];
    philox4x32_10(kat[i], kat[i] + 4, out);
    for (int w = 0; w < 4; w++) assert_int_equal(out[w], kat[i][6 + w]);
  }
  /* dropout_bits is word 0 of the block at counter (index, op), key seed. */
  assert_int_equal(dropout_bits(0x299f31d0a4093822u, 0x0370734413198a2eu, 0x85a308d3243f6a88u), 0xd16cfe09);
}

/* The emitted Philox (cg_dropout) on lanes whose indices cross 2^32 and
 * 2^40, for 1, 4, 8 and 16 lanes on every target: the counter's high word and
 * the carry out of the low word. */
typedef void (*probe_fn)(const float *x, float *y, int64_t index, uint64_t seed);

static LLVMValueRef build_probe(cg *c, const node *nd, unsigned lanes, const char *name) {
  LLVMTypeRef params[] = {c->ptr, c->ptr, c->i64, c->i64};
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->voidt, params, 4, 0));
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  c->fn = fn;
  c->seed = LLVMGetParam(fn, 3);
  LLVMTypeRef t = lanes > 1 ? LLVMVectorType(c->f32, lanes) : c->f32;
  LLVMValueRef x = LLVMBuildLoad2(c->b, t, LLVMGetParam(fn, 0), "x");
  LLVMSetAlignment(x, 4);
  LLVMValueRef y = cg_dropout(c, nd, x, &(cg_pos){.index = LLVMGetParam(fn, 2)});
  LLVMSetAlignment(LLVMBuildStore(c->b, y, LLVMGetParam(fn, 1)), 4);
  LLVMBuildRetVoid(c->b);
  return fn;
}

static void test_emitted_counter(void **state) {
  static const unsigned lanes[] = {1, 4, 8, 16};
  static const uint64_t starts[] = {0, 5, 0xfffffff9u, 0xffffffffu, 0x100000000u, ((uint64_t)1 << 40) - 3,
                                    ((uint64_t)1 << 63) - 9};
  static const uint64_t seeds[] = {0, 42, 0xdeadbeef00000001u};
  node nd = {.op = OP_DROPOUT, .name = "d", .attr = {0.5}};
  for (size_t t = 0; t < N_TEST_TARGETS; t++) {
    actjit_context *ctx;
    assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
    target_desc jt;
    jit_session js;
    assert_int_equal(target_resolve(ctx, test_targets[t].cpu, test_targets[t].features, NULL, &jt), ACTJIT_OK);
    assert_int_equal(jit_session_init(ctx, &js, 3), ACTJIT_OK);
    LLVMContextRef lc = jit_session_context(&js);
    cg c = {.ctx = lc, .width = jt.width, .training = true};
    c.f32 = LLVMFloatTypeInContext(lc), c.i32 = LLVMInt32TypeInContext(lc), c.i64 = LLVMInt64TypeInContext(lc);
    c.ptr = LLVMPointerTypeInContext(lc, 0), c.voidt = LLVMVoidTypeInContext(lc);
    c.mod = LLVMModuleCreateWithNameInContext("probe", lc);
    c.b = LLVMCreateBuilderInContext(lc);
    char names[4][16];
    for (int i = 0; i < 4; i++) {
      snprintf(names[i], sizeof names[i], "probe%u", lanes[i]);
      build_probe(&c, &nd, lanes[i], names[i]);
    }
    LLVMDisposeBuilder(c.b);
    void *addr;
    if (jit_session_compile(ctx, &js, &jt, c.mod, names[0], &addr)) fail_msg("%s", actjit_context_error(ctx));
    for (int i = 0; i < 4; i++) {
      assert_int_equal(jit_session_lookup(ctx, &js, names[i], &addr), ACTJIT_OK);
      probe_fn f = (probe_fn)addr;
      for (size_t s = 0; s < sizeof starts / sizeof *starts; s++)
        for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++) {
          float x[16], y[16];
          for (int l = 0; l < 16; l++) x[l] = 1.0f + (float)l;
          f(x, y, (int64_t)starts[s], seeds[k]);
          for (unsigned l = 0; l < lanes[i]; l++) {
            float want = dropout_apply(x[l], 0.5, seeds[k], dropout_op_id("d"), starts[s] + l);
            if (!same_bits(y[l], want))
              fail_msg("[%s] %u lanes, index %#llx + %u, seed %#llx: got %g, want %g", jt.cpu, lanes[i],
                       (unsigned long long)starts[s], l, (unsigned long long)seeds[k], y[l], want);
          }
        }
    }
    jit_session_free(&js);
    target_free(&jt);
    actjit_context_destroy(ctx);
  }
}

/* ------------------------------------------------------ PyTorch semantics */

/* F.dropout(torch.ones(4096), p, training=True).max() in PyTorch 1.13:
 * 1.0f / (float)(1 - p), a float division (0.7 tells it from
 * (float)(1.0 / (1 - p)), which is 0x1.aaaaacp+1). */
static const struct {
  double p;
  float scale;
} torch_scales[] = {
    {0.1, 0x1.1c71c8p+0f}, {0.2, 0x1.4p+0f},      {0.3, 0x1.6db6dcp+0f}, {1.0 / 3, 0x1.8p+0f},
    {0.5, 0x1.0p+1f},      {0.7, 0x1.aaaaaap+1f}, {0.9, 0x1.4p+3f},      {0.123456789, 0x1.240e6cp+0f},
};

static void test_scale_is_pytorchs(void **state) {
  for (size_t i = 0; i < sizeof torch_scales / sizeof *torch_scales; i++) {
    assert_true(same_bits(dropout_scale(torch_scales[i].p), torch_scales[i].scale));
    pipeline p;
    load_single(&p, "d", torch_scales[i].p, 1000);
    actjit_kernel *k = compile_pipeline(&p, &test_targets[0], 1, 0, 1);
    float *x = tu_alloc_unaligned(1000);
    for (int j = 0; j < 1000; j++) x[j] = 1.0f;
    float *y = run(k, x, 1, 7, NULL), top = 0;
    for (int j = 0; j < 1000; j++) {
      assert_true(y[j] == 0 || same_bits(y[j], torch_scales[i].scale));
      top = fmaxf(top, y[j]);
    }
    assert_true(same_bits(top, torch_scales[i].scale));
    tu_free_unaligned(x), tu_free_unaligned(y);
    actjit_kernel_destroy(k);
    unload_pipeline(&p);
  }
}

/* PyTorch 1.13, F.dropout(x, p, training=True) on
 *   [inf, -inf, nan, 1, -0, 2, -1, -3]:
 *   p = 0: x itself;  p = 1: [nan, nan, nan, 0, -0, 0, -0, -0] (x * 0);
 *   p = 0.5: each element x*2 or x*0 (inf stays inf or becomes nan). */
static void test_special_values(void **state) {
  static const float specials[] = {INFINITY, -INFINITY, NAN, 1.0f, -0.0f, 2.0f, -1.0f, -3.0f};
  enum { S = sizeof specials / sizeof *specials, COLS = 37, BATCH = 5, N = COLS * BATCH };
  float *x = tu_alloc_unaligned(N);
  for (int i = 0; i < N; i++) x[i] = specials[i % S];
  /* A NaN with a payload: p = 0 keeps it bit for bit. */
  uint32_t payload = 0x7fc01234u;
  memcpy(&x[2], &payload, 4);
  static const double probs[] = {0.0, 1.0, 0.5};
  for (size_t pi = 0; pi < 3; pi++) {
    pipeline p;
    load_single(&p, "d", probs[pi], COLS);
    for (size_t t = 0; t < N_TEST_TARGETS; t++)
      for (int fuse = 0; fuse <= 1; fuse++) {
        actjit_kernel *k = compile_pipeline(&p, &test_targets[t], fuse, 0, 1);
        float *y = run(k, x, BATCH, 3, NULL), *r = reference(&p, x, BATCH, 3, N);
        for (int i = 0; i < N; i++) {
          float want;
          if (probs[pi] == 0) want = x[i];
          else if (probs[pi] == 1) want = x[i] * 0.0f;
          else want = x[i] * (dropout_keep(3, dropout_op_id("d"), (uint64_t)i, dropout_threshold(0.5)) ? 2.0f : 0.0f);
          bool ok = probs[pi] == 0 ? same_bits(y[i], want) : same_value(y[i], want);
          if (!ok || !same_value(r[i], want))
            fail_msg("[%s fuse %d] p = %g, x[%d] = %g: got %g, reference %g, want %g", actjit_kernel_cpu(k), fuse,
                     probs[pi], i, x[i], y[i], r[i], want);
        }
        if (probs[pi] == 1) { /* spelled out: the PyTorch 1.13 output */
          assert_true(isnan(y[0]) && isnan(y[1]) && isnan(y[2]));
          assert_true(same_bits(y[3], 0.0f) && same_bits(y[4], -0.0f) && same_bits(y[5], 0.0f));
          assert_true(same_bits(y[6], -0.0f) && same_bits(y[7], -0.0f));
        }
        tu_free_unaligned(y), tu_free_unaligned(r);
        actjit_kernel_destroy(k);
      }
    unload_pipeline(&p);
  }
  tu_free_unaligned(x);
}

/* Inference mode: dropout is the identity, fused (eliminated, or kept as the
 * copy when it is the whole pipeline) and unfused (an identity kernel). */
static void test_inference_is_identity(void **state) {
  pipeline p;
  load_single(&p, "d", 0.5, 33);
  uint64_t rng = 5;
  float *x = tu_alloc_unaligned(99);
  for (int i = 0; i < 99; i++) x[i] = tu_uniform(&rng, -3, 3);
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (int fuse = 0; fuse <= 1; fuse++) {
      actjit_kernel *k = compile_pipeline(&p, &test_targets[t], fuse, 0, 0);
      float *y = run(k, x, 3, 99, NULL);
      assert_memory_equal(x, y, 99 * sizeof(float));
      tu_free_unaligned(y);
      actjit_kernel_destroy(k);
    }
  tu_free_unaligned(x);
  unload_pipeline(&p);
}

/* ------------------------------------------------------------ statistics */

/* About 1M elements: keep rate within 5 sigma of 1 - p; kept values exactly
 * x * scale, dropped +0 (x > 0); element by element philox.h's decision and
 * the reference's output. */
static void test_keep_rate(void **state) {
  enum { COLS = 1000, BATCH = 1049, N = COLS * BATCH };
  static const double probs[] = {0.1, 0.5, 0.9};
  uint64_t rng = 77;
  float *x = tu_alloc_unaligned(N);
  for (int i = 0; i < N; i++) x[i] = tu_uniform(&rng, 0.25f, 4.0f);
  for (size_t pi = 0; pi < 3; pi++) {
    double pr = probs[pi];
    pipeline p;
    load_single(&p, "drop", pr, COLS);
    actjit_kernel *k = compile_pipeline(&p, &test_targets[0], 1, 0, 1);
    uint64_t seed = 1234567 + pi, op = dropout_op_id("drop"), t = dropout_threshold(pr);
    float *y = run(k, x, BATCH, seed, NULL), *r = reference(&p, x, BATCH, seed, N);
    float scale = 1.0f / (float)(1.0 - pr);
    size_t kept = 0;
    for (int i = 0; i < N; i++) {
      bool keep = dropout_keep(seed, op, (uint64_t)i, t);
      float want = keep ? x[i] * scale : 0.0f;
      if (!same_bits(y[i], want) || !same_bits(r[i], want))
        fail_msg("p = %g element %d: got %.9g, reference %.9g, want %.9g", pr, i, y[i], r[i], want);
      kept += keep;
    }
    double mean = N * (1 - pr), sigma = sqrt(N * pr * (1 - pr));
    print_message("p = %.1f: kept %zu of %d (expected %.0f, %.2f sigma)\n", pr, kept, N, mean, (kept - mean) / sigma);
    assert_true(fabs((double)kept - mean) <= 5 * sigma);
    tu_free_unaligned(y), tu_free_unaligned(r);
    actjit_kernel_destroy(k);
    unload_pipeline(&p);
  }
  tu_free_unaligned(x);
}

/* Fraction of elements where a and b differ in being zero. */
static double mask_difference(const float *a, const float *b, size_t n) {
  size_t d = 0;
  for (size_t i = 0; i < n; i++) d += (a[i] == 0) != (b[i] == 0);
  return (double)d / (double)n;
}

/* Same seed, same mask (run after run, kernel after kernel); other seeds
 * (low or high word) and other dropout ops, other masks; a mask follows the
 * op's name, not its position in the graph. */
static void test_seeds_and_ops(void **state) {
  enum { COLS = 100, BATCH = 100, N = COLS * BATCH };
  float *x = tu_alloc_unaligned(N);
  for (int i = 0; i < N; i++) x[i] = 1.0f + (float)(i % 7);
  pipeline p;
  load_single(&p, "d", 0.5, COLS);
  actjit_kernel *k = compile_pipeline(&p, &test_targets[0], 1, 0, 1), *k2 = compile_pipeline(&p, &test_targets[0], 1, 0, 1);
  float *a = run(k, x, BATCH, 11, NULL), *b = run(k, x, BATCH, 11, NULL), *c = run(k2, x, BATCH, 11, NULL);
  assert_memory_equal(a, b, N * sizeof(float));
  assert_memory_equal(a, c, N * sizeof(float));
  /* The default seed is 0. */
  actjit_kernel *fresh = compile_pipeline(&p, &test_targets[0], 1, 0, 1);
  float *d0 = tu_alloc_unaligned(N), *z = run(k, x, BATCH, 0, NULL);
  assert_int_equal(actjit_kernel_run(fresh, x, BATCH, d0), ACTJIT_OK);
  assert_memory_equal(d0, z, N * sizeof(float));
  static const uint64_t others[] = {12, (uint64_t)11 | (uint64_t)1 << 32, (uint64_t)1 << 63};
  for (size_t i = 0; i < 3; i++) {
    float *o = run(k, x, BATCH, others[i], NULL);
    double diff = mask_difference(a, o, N);
    assert_true(diff > 0.45 && diff < 0.55);
    tu_free_unaligned(o);
  }
  tu_free_unaligned(b), tu_free_unaligned(c), tu_free_unaligned(d0), tu_free_unaligned(z);
  actjit_kernel_destroy(k2), actjit_kernel_destroy(fresh);

  /* Another name: another mask. */
  pipeline q;
  load_single(&q, "e", 0.5, COLS);
  actjit_kernel *kq = compile_pipeline(&q, &test_targets[0], 1, 0, 1);
  float *e = run(kq, x, BATCH, 11, NULL);
  double diff = mask_difference(a, e, N);
  assert_true(diff > 0.45 && diff < 0.55);
  tu_free_unaligned(e);
  actjit_kernel_destroy(kq);
  unload_pipeline(&q);

  /* The same name after other nodes (another node index; relu of positive
   * x is x): the same mask. */
  uint64_t rng = 1;
  load_pipeline(&q, "input %x : f32[N, 100]\n%r = relu %x\n%t = identity %r\n%d = dropout %t {p = 0.5}\noutput %d\n", NULL, &rng);
  for (int fuse = 0; fuse <= 1; fuse++) {
    kq = compile_pipeline(&q, &test_targets[0], fuse, 0, 1);
    e = run(kq, x, BATCH, 11, NULL);
    assert_memory_equal(a, e, N * sizeof(float));
    tu_free_unaligned(e);
    actjit_kernel_destroy(kq);
  }
  unload_pipeline(&q);

  /* Two dropouts in one pipeline: independent masks, each philox.h's. */
  load_pipeline(&q, "input %x : f32[N, 100]\n%d1 = dropout %x {p = 0.5}\n%d2 = dropout %d1 {p = 0.5}\noutput %d2\n", NULL, &rng);
  uint64_t t = dropout_threshold(0.5), id1 = dropout_op_id("d1"), id2 = dropout_op_id("d2");
  size_t differ = 0, kept = 0;
  for (int i = 0; i < N; i++) differ += dropout_keep(11, id1, (uint64_t)i, t) != dropout_keep(11, id2, (uint64_t)i, t);
  assert_true(differ > 0.45 * N && differ < 0.55 * N);
  for (int fuse = 0; fuse <= 1; fuse++) {
    kq = compile_pipeline(&q, &test_targets[0], fuse, 0, 1);
    e = run(kq, x, BATCH, 11, NULL);
    kept = 0;
    for (int i = 0; i < N; i++) {
      bool keep = dropout_keep(11, id1, (uint64_t)i, t) && dropout_keep(11, id2, (uint64_t)i, t);
      assert_true(same_bits(e[i], keep ? x[i] * 2.0f * 2.0f : 0.0f));
      kept += keep;
    }
    assert_true(kept > 0.2 * N && kept < 0.3 * N);
    tu_free_unaligned(e);
    actjit_kernel_destroy(kq);
  }
  unload_pipeline(&q);

  tu_free_unaligned(a);
  actjit_kernel_destroy(k);
  unload_pipeline(&p);
  tu_free_unaligned(x);
}

/* ------------------------------------------------- fused == unfused, widths */

typedef struct chain_case {
  const char *ir;
  bool exact; /* only exact ops: bitwise equal to the reference */
} chain_case;

static const chain_case chains[] = {
    /* linear epilogue (scalar lanes) → dropout, relu, dropout → softmax prologue */
    {"input %x : f32[N, 37]\nparam @w : f32[29, 37]\nparam @b : f32[29]\n%h = linear %x, @w, @b\n"
     "%d1 = dropout %h {p = 0.3}\n%r = relu %d1\n%d2 = dropout %r {p = 0.6}\n%y = softmax %d2 {dim = 1}\noutput %y\n",
     false},
    /* the same without the softmax: the zeros show */
    {"input %x : f32[N, 37]\nparam @w : f32[29, 37]\nparam @b : f32[29]\n%h = linear %x, @w, @b\n"
     "%d1 = dropout %h {p = 0.3}\n%r = relu %d1\n%d2 = dropout %r {p = 0.6}\noutput %d2\n",
     false},
    {"input %x : f32[N, 45]\n%r = relu %x\n%d = dropout %r {p = 0.4}\n%y = sigmoid %d\noutput %y\n", false},
    /* a software-pipelined chain (eltwise.c): dropout's rounds are a stage */
    {"input %x : f32[N, 97]\n%d = dropout %x {p = 0.3}\n%s = sigmoid %d\n%e = dropout %s {p = 0.5}\n%t = tanh %e\n"
     "output %t\n", false},
    /* exact ops only, a per-channel prelu (rows × channels loop) */
    {"input %x : f32[N, 3, 21]\nparam @a : f32[3]\n%r = relu %x\n%d = dropout %r {p = 0.25}\n"
     "%l = leaky_relu %d {negative_slope = 0.1}\n%e = dropout %l {p = 0.75}\n%q = prelu %e, @a\n"
     "%f = dropout %q {p = 0.5}\noutput %f\n",
     true},
    /* strided softmax: the prologue's vector runs along inner */
    {"input %x : f32[N, 5, 19]\n%d = dropout %x {p = 0.5}\n%y = softmax %d {dim = 1}\noutput %y\n", false},
    /* a dropout of the input through a flatten, as the whole pipeline */
    {"input %x : f32[N, 3, 11]\n%f = flatten %x\n%d = dropout %f {p = 0.2}\noutput %d\n", true},
};

static void test_fused_unfused_widths(void **state) {
  static const int batches[] = {0, 1, 3, 8};
  for (size_t ci = 0; ci < sizeof chains / sizeof *chains; ci++) {
    uint64_t rng = 99;
    pipeline p;
    load_pipeline(&p, chains[ci].ir, NULL, &rng);
    actjit_kernel *ks[2 * N_TEST_TARGETS];
    for (size_t t = 0; t < N_TEST_TARGETS; t++)
      for (int fuse = 0; fuse <= 1; fuse++) ks[2 * t + fuse] = compile_pipeline(&p, &test_targets[t], fuse, 0, 1);
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
      size_t nin, nout;
      assert_int_equal(actjit_kernel_io_sizes(ks[0], batches[b], &nin, &nout), ACTJIT_OK);
      float *x = tu_alloc_unaligned(nin);
      for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -4, 4);
      uint64_t seed = 0x9e3779b97f4a7c15u + b;
      float *r = reference(&p, x, batches[b], seed, nout);
      float *y0 = run(ks[0], x, batches[b], seed, NULL);
      float *yu = NULL; /* this target's unfused output */
      for (size_t kk = 0; kk < 2 * N_TEST_TARGETS; kk++) {
        float *y = kk ? run(ks[kk], x, batches[b], seed, NULL) : y0;
        /* Fused == unfused bitwise on every target, but where a softmax is
         * fused into a linear (a row normalized in registers sums in another
         * order than the softmax kernel: 2^-20 relative, as in test_fusion;
         * the second chain shows the same masks bitwise without it); across
         * targets (other vector widths: other summation orders in linear and
         * softmax) only when every op is exact. */
        bool row_softmax = strstr(chains[ci].ir, "linear") && strstr(chains[ci].ir, "softmax");
        for (size_t i = 0; i < nout; i++) {
          bool agree = kk % 2 == 0 ? true
                       : row_softmax && !isnan(y[i]) ? fabsf(y[i] - yu[i]) <= 0x1p-20f * fabsf(yu[i]) + 0x1p-30f
                                                     : same_value(y[i], yu[i]);
          if (!agree)
            fail_msg("%s\n[%s fuse %zu] batch %d element %zu: %.9g, but [%s unfused] %.9g", chains[ci].ir,
                     actjit_kernel_cpu(ks[kk]), kk % 2, batches[b], i, y[i], actjit_kernel_cpu(ks[kk - 1]), yu[i]);
          if (chains[ci].exact && !same_value(y[i], y0[i]))
            fail_msg("%s\n[%s fuse %zu] batch %d element %zu: %.9g, but [%s unfused] %.9g", chains[ci].ir,
                     actjit_kernel_cpu(ks[kk]), kk % 2, batches[b], i, y[i], actjit_kernel_cpu(ks[0]), y0[i]);
        }
        for (size_t i = 0; i < nout; i++) {
          bool ok = chains[ci].exact ? same_value(y[i], r[i]) : fabsf(y[i] - r[i]) <= 1e-5f * (1 + fabsf(r[i]));
          if (!ok)
            fail_msg("%s\n[%s fuse %zu] batch %d element %zu: %.9g, reference %.9g", chains[ci].ir,
                     actjit_kernel_cpu(ks[kk]), kk % 2, batches[b], i, y[i], r[i]);
        }
        if (kk % 2 == 0) {
          if (yu != y0) tu_free_unaligned(yu);
          yu = y;
        } else if (kk) {
          tu_free_unaligned(y);
        }
      }
      if (yu != y0) tu_free_unaligned(yu);
      tu_free_unaligned(y0), tu_free_unaligned(r), tu_free_unaligned(x);
    }
    for (size_t kk = 0; kk < 2 * N_TEST_TARGETS; kk++) actjit_kernel_destroy(ks[kk]);
    unload_pipeline(&p);
  }
}



int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_philox_known_answers),
      cmocka_unit_test(test_emitted_counter),
      cmocka_unit_test(test_scale_is_pytorchs),
      cmocka_unit_test(test_special_values),
      cmocka_unit_test(test_inference_is_identity),
      cmocka_unit_test(test_keep_rate),
      cmocka_unit_test(test_seeds_and_ops),
      cmocka_unit_test(test_fused_unfused_widths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
