/* vmath accuracy and special values: each emitter is JIT-compiled in a
 * vector loop for several widths/targets and compared with double-precision
 * libm rounded to float. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>


#include "codegen/vmath.h"
#include "vmath_jit.h"

/* The loop around each function is JIT-compiled by bench/vmath_jit.c, on
 * the project's own JIT session. */

typedef vm_emit_fn emit_fn;
typedef vm_kernel_fn kernel_fn;

/* ---- Reference functions and error measure ---- */

static double ref_exp(double x) { return exp(x); }
static double ref_tanh(double x) { return tanh(x); }
/* PyTorch's 1/(1 + e^-x): exactly 0 once e^-x overflows in float. */
static double ref_sigmoid(double x)
{
    double e = exp(-x);
    return (float)e == INFINITY ? 0.0 : 1.0 / (1.0 + e);
}

static double ref_expm1(double x) { return expm1(x); }
static double ref_log(double x) { return log(x); }
static double ref_log1p(double x) { return log1p(x); }
static double ref_erf(double x) { return erf(x); }
static double ref_erfc(double x) { return erfc(x); }
/* PyTorch's GELU, x/2 (1 + erf(x/sqrt 2)), without its cancellation. */
static double ref_gelu(double x)
{
    return isinf(x) && x < 0 ? NAN : 0.5 * x * erfc(-x / sqrt(2.0));
}
/* x - tanh(x), by its series where the subtraction cancels. */
static double ref_tanhshrink(double a)
{
    double t = a * a;
    if (fabs(a) < 0.1)
        return a * t * (1.0 / 3 + t * (-2.0 / 15 + t * (17.0 / 315 + t * (-62.0 / 2835 + t * (1382.0 / 155925)))));
    return a - tanh(a);
}
static double ref_mish(double x)
{
    return isinf(x) && x < 0 ? NAN : x * tanh(log1p(exp(x)));
}

/* ---- Test configurations ---- */

/* Special inputs must give exactly these results (bit for bit, any NaN for
 * NaN).  Denormal expectations are the correctly rounded values. */
struct special {
    float x, want;
};

static const struct special exp_specials[] = {
    {NAN, NAN},           {-NAN, NAN},          {INFINITY, INFINITY},
    {-INFINITY, 0.0f},    {0.0f, 1.0f},         {-0.0f, 1.0f},
    {0x1p-149f, 1.0f},    {88.73f, INFINITY},   {1000.0f, INFINITY},
    {FLT_MAX, INFINITY},  {-104.0f, 0.0f},      {-1e30f, 0.0f},
    {-FLT_MAX, 0.0f},     {-100.0f, 0x1.bp-145f}, /* 3.7835e-44 */
    {-88.0f, 0x1.07b71p-127f},                  /* 6.0546e-39 */
    {-103.0f, 0x1p-149f},                       /* smallest denormal */
    {88.72283935546875f, INFINITY},             /* first to overflow */
    {88.72283172607422f, 0x1.ffff08p+127f},     /* last finite */
    {-87.33654022216797f, 0x1.00004cp-126f},    /* just above FLT_MIN */
    {-87.3365478515625f, 0x1.ffff98p-127f},     /* just below: denormal */
};

static const struct special tanh_specials[] = {
    {NAN, NAN},          {-NAN, NAN},         {INFINITY, 1.0f},
    {-INFINITY, -1.0f},  {0.0f, 0.0f},        {-0.0f, -0.0f},
    {1e-40f, 1e-40f},    {-1e-40f, -1e-40f},  {0x1p-149f, 0x1p-149f},
    {FLT_MIN, FLT_MIN},  {-FLT_MIN, -FLT_MIN}, {10.0f, 1.0f},
    {-10.0f, -1.0f},     {1e30f, 1.0f},       {-FLT_MAX, -1.0f},
};

static const struct special sigmoid_specials[] = {
    {NAN, NAN},          {-NAN, NAN},           {INFINITY, 1.0f},
    {-INFINITY, 0.0f},   {0.0f, 0.5f},          {-0.0f, 0.5f},
    {100.0f, 1.0f},      {FLT_MAX, 1.0f},       {-FLT_MAX, 0.0f},
    {-200.0f, 0.0f},     {-100.0f, 0.0f},       {-89.0f, 0.0f},
    /* PyTorch 1.13 (torch.sigmoid) around e^-x overflowing: */
    {-88.72283935546875f, 0.0f},                /* 0xc2b17218 */
    {-88.72283172607422f, 0x1.00008p-128f},     /* 0xc2b17217 */
    {-88.72279357910156f, 0x1.0003p-128f},      /* 0xc2b17212 */
    {-88.5f, 0x1.3fe71p-128f},
    {-88.0f, 0x1.07b71p-127f},                  /* 6.0546e-39 */
};

struct fn_case {
    const char *name;
    emit_fn emit;
    double (*ref)(double);
    int64_t max_ulp;
    float lo, hi; /* required output range */
    const struct special *specials;
    size_t nspecials;
    float max_x; /* inputs above are outside the contract (0: none) */
    float min_x; /* inputs below are outside the contract (0: none) */
    float dense_lo, dense_hi; /* every float in [dense_lo, dense_hi] too */
};

#define SPECIALS(a) a, sizeof a / sizeof a[0]

static const struct fn_case fn_exp = {"exp", vm_exp, ref_exp, 1, 0.0f,
                                      INFINITY, SPECIALS(exp_specials), 0.0f, 0.0f, 0.0f, 0.0f};
static const struct fn_case fn_tanh = {"tanh", vm_tanh, ref_tanh, 2, -1.0f,
                                       1.0f, SPECIALS(tanh_specials), 0.0f, 0.0f, 0.0f, 0.0f};
static const struct fn_case fn_sigmoid = {"sigmoid", vm_sigmoid, ref_sigmoid,
                                          2, 0.0f, 1.0f,
                                          SPECIALS(sigmoid_specials), 0.0f, 0.0f, 0.0f, 0.0f};

/* vm_exp_nonpos: vm_exp's values for x <= 104 (softmax's x - max). */
static const struct special exp_nonpos_specials[] = {
    {NAN, NAN},          {-NAN, NAN},         {-INFINITY, 0.0f},
    {0.0f, 1.0f},        {-0.0f, 1.0f},       {-104.0f, 0.0f},
    {-1e30f, 0.0f},      {-FLT_MAX, 0.0f},    {-100.0f, 0x1.bp-145f},
    {-88.0f, 0x1.07b71p-127f},                {-103.0f, 0x1p-149f},
    {88.72283935546875f, INFINITY},           {104.0f, INFINITY},
};
static const struct fn_case fn_exp_nonpos = {
    "exp_nonpos", vm_exp_nonpos, ref_exp, 1, 0.0f, INFINITY,
    SPECIALS(exp_nonpos_specials), 104.0f, 0.0f, 0.0f, 0.0f};

static const struct special expm1_specials[] = {
    {NAN, NAN},        {INFINITY, INFINITY}, {-INFINITY, -1.0f},
    {0.0f, 0.0f},      {-0.0f, -0.0f},       {1e-40f, 1e-40f},
    {-1e-40f, -1e-40f}, {0x1p-149f, 0x1p-149f}, {-100.0f, -1.0f},
    {88.72283935546875f, INFINITY},          {1000.0f, INFINITY},
    {-FLT_MAX, -1.0f},
};
static const struct special log_specials[] = {
    {NAN, NAN},       {-1.0f, NAN},          {-INFINITY, NAN},
    {0.0f, -INFINITY}, {-0.0f, -INFINITY},   {INFINITY, INFINITY},
    {1.0f, 0.0f},     {-0x1p-149f, NAN},
};
static const struct special log1p_specials[] = {
    {NAN, NAN},       {-1.0f, -INFINITY},    {-2.0f, NAN},
    {-INFINITY, NAN}, {INFINITY, INFINITY},  {0.0f, 0.0f},
    {-0.0f, -0.0f},   {1e-40f, 1e-40f},      {-1e-40f, -1e-40f},
};
static const struct special erf_specials[] = {
    {NAN, NAN},         {INFINITY, 1.0f}, {-INFINITY, -1.0f}, {0.0f, 0.0f},
    {-0.0f, -0.0f},     {10.0f, 1.0f},    {-10.0f, -1.0f},    {FLT_MAX, 1.0f},
};
static const struct special erfc_specials[] = {
    {NAN, NAN},       {INFINITY, 0.0f}, {-INFINITY, 2.0f}, {0.0f, 1.0f},
    {-0.0f, 1.0f},    {10.1f, 0.0f},    {-11.0f, 2.0f},    {FLT_MAX, 0.0f},
    {-FLT_MAX, 2.0f},
};
/* PyTorch (1.13, oneDNN's gelu_erf) gives +0 for every zero result. */
static const struct special gelu_specials[] = {
    {NAN, NAN},       {INFINITY, INFINITY}, {-INFINITY, NAN}, {0.0f, 0.0f},
    {-0.0f, 0.0f},    {-100.0f, 0.0f},      {-FLT_MAX, 0.0f}, {100.0f, 100.0f},
    {FLT_MAX, FLT_MAX},
};
static const struct special tanhshrink_specials[] = {
    {NAN, NAN},       {INFINITY, INFINITY}, {-INFINITY, -INFINITY},
    {0.0f, 0.0f},     {-0.0f, 0.0f},        {1e-40f, 0.0f},
    {-1e-40f, 0.0f},  {100.0f, 99.0f},      {-100.0f, -99.0f},
};
static const struct special mish_specials[] = {
    {NAN, NAN},       {INFINITY, INFINITY}, {-INFINITY, NAN}, {0.0f, 0.0f},
    {-0.0f, -0.0f},   {100.0f, 100.0f},     {-1000.0f, -0.0f},
};
/* vm_tanh_unit: tanh for |x| <= 1, where the polynomial alone serves. */
static const struct special tanh_unit_specials[] = {
    {NAN, NAN},        {-NAN, NAN},        {0.0f, 0.0f},     {-0.0f, -0.0f},
    {1e-40f, 1e-40f},  {-1e-40f, -1e-40f}, {0x1p-149f, 0x1p-149f},
    {FLT_MIN, FLT_MIN}, {-FLT_MIN, -FLT_MIN},
};
/* Densely where its roundings pile up: SSE2 code was once 2 ULP at
 * 0x1.d07d46p-1, between the sampled points. */
static const struct fn_case fn_tanh_unit = {
    "tanh_unit", vm_tanh_unit, ref_tanh, 1, -1.0f, 1.0f,
    SPECIALS(tanh_unit_specials), 1.0f, -1.0f, 0.875f, 1.0f};

#define FN(name, lo, hi, ulp)                                                 \
    static const struct fn_case fn_##name = {#name, vm_##name, ref_##name,   \
                                             ulp, lo, hi,                     \
                                             SPECIALS(name##_specials), 0.0f, 0.0f, 0.0f, 0.0f}
FN(expm1, -1.0f, INFINITY, 2);
FN(log, -INFINITY, INFINITY, 1);
FN(log1p, -INFINITY, INFINITY, 2);
FN(erf, -1.0f, 1.0f, 2);
FN(erfc, 0.0f, 2.0f, 2);
FN(gelu, -INFINITY, INFINITY, 4);
FN(tanhshrink, -INFINITY, INFINITY, 4);
FN(mish, -INFINITY, INFINITY, 4);

struct config {
    const char *name;
    const struct fn_case *fn;
    unsigned width;       /* 1: scalar float */
    const char *cpu;      /* NULL: host CPU and features */
    const char *features;
};

/* Every VM_STRIDE-th float bit pattern plus a dense grid on [-20, 20]. */
#ifndef VM_STRIDE
#define VM_STRIDE 2003
#endif
#define BIT_SAMPLES ((0x100000000ull + VM_STRIDE - 1) / VM_STRIDE)
#define GRID_POINTS (1u << 20)
#define SAMPLES (BIT_SAMPLES + GRID_POINTS + 1)
#define CHUNK 98304 /* a multiple of every width (3 * 2^15) */

static float sample(uint64_t k)
{
    if (k < BIT_SAMPLES)
        return vm_from_bits((uint32_t)(k * VM_STRIDE));
    return (float)(-20.0 + 40.0 * (double)(k - BIT_SAMPLES) / GRID_POINTS);
}

/* Check one input/output pair; tracks the worst ULP error and its input. */
static void check_value(const struct fn_case *fc, float x, float y, float want,
                        int64_t *worst, float *worst_x)
{
    if (isnan(want)) {
        if (!isnan(y))
            fail_msg("%s(%a) = %a, want NaN", fc->name, x, y);
        return;
    }
    if (isnan(y) || y < fc->lo || y > fc->hi)
        fail_msg("%s(%a) = %a, outside [%g, %g]", fc->name, x, y, fc->lo,
                 fc->hi);
    int64_t d = llabs(vm_ordinal(y) - vm_ordinal(want));
    if (d > *worst) {
        *worst = d;
        *worst_x = x;
    }
    if (d > fc->max_ulp)
        fail_msg("%s(%a) = %a, want %a (%lld ulp)", fc->name, x, y, want,
                 (long long)d);
}

/* The reference values of the last function checked: configs of one
 * function follow each other, and libm in double is most of the cost. */
static float *want_cache;
static const struct fn_case *cache_fc;

static float want_of(const struct fn_case *fc, uint64_t k)
{
    if (cache_fc != fc) {
        if (!want_cache)
            want_cache = malloc(SAMPLES * sizeof *want_cache);
        assert_non_null(want_cache);
        for (uint64_t i = 0; i < SAMPLES; i++)
            want_cache[i] = (float)fc->ref((double)sample(i));
        cache_fc = fc;
    }
    return want_cache[k];
}

static float dense_input(uint64_t k) { return vm_from_bits((uint32_t)k); }
static float dense_want(const struct fn_case *fc, uint64_t k)
{
    return (float)fc->ref((double)dense_input(k));
}

/* fn on input(k) for k in [first, end), a chunk at a time, against want(k);
 * inputs outside the contract (max_x, min_x) are skipped. */
static void check_inputs(const struct fn_case *fc, kernel_fn fn, unsigned width,
                         uint64_t first, uint64_t end, float (*input)(uint64_t),
                         float (*want)(const struct fn_case *, uint64_t),
                         int64_t *worst, float *worst_x)
{
    float *in = malloc(CHUNK * sizeof *in), *out = malloc(CHUNK * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (uint64_t base = first; base < end; base += CHUNK) {
        size_t n = end - base < CHUNK ? (size_t)(end - base) : CHUNK;
        for (size_t i = 0; i < CHUNK; i++) /* pad to a multiple of width */
            in[i] = input(base + (i < n ? i : 0));
        fn(in, out, (int64_t)((n + width - 1) / width * width));
        for (size_t i = 0; i < n; i++)
            if (!(fc->max_x && in[i] > fc->max_x) && !(fc->min_x && in[i] < fc->min_x))
                check_value(fc, in[i], out[i], want(fc, base + i), worst, worst_x);
    }
    free(in);
    free(out);
}

static void check_accuracy(const struct fn_case *fc, kernel_fn fn,
                           unsigned width, const char *target)
{
    int64_t worst = 0;
    float worst_x = 0.0f;
    check_inputs(fc, fn, width, 0, SAMPLES, sample, want_of, &worst, &worst_x);
    print_message("%-10s width %2u %-22s max %lld ulp at x = %a (%.9g)\n",
                  fc->name, width, target, (long long)worst, worst_x,
                  worst_x);
}

/* Every float in [fc->dense_lo, fc->dense_hi] (positive bounds). */
static void check_dense(const struct fn_case *fc, kernel_fn fn, unsigned width)
{
    if (!(fc->dense_hi > fc->dense_lo))
        return;
    int64_t worst = 0;
    float worst_x = 0.0f;
    check_inputs(fc, fn, width, vm_to_bits(fc->dense_lo),
                 (uint64_t)vm_to_bits(fc->dense_hi) + 1, dense_input, dense_want,
                 &worst, &worst_x);
}

static void check_specials(const struct fn_case *fc, kernel_fn fn,
                           unsigned width)
{
    const struct special *sp = fc->specials;
    float in[64], out[64];
    for (size_t k = 0; k < fc->nspecials; k++) {
        for (unsigned i = 0; i < width; i++)
            in[i] = sp[k].x;
        fn(in, out, width);
        for (unsigned i = 0; i < width; i++) {
            int ok = isnan(sp[k].want) ? isnan(out[i])
                                       : vm_to_bits(out[i]) == vm_to_bits(sp[k].want);
            if (!ok)
                fail_msg("%s(%a) = %a, want %a (width %u)", fc->name, sp[k].x,
                         out[i], sp[k].want, width);
        }
    }
}

static void run_config(void **state)
{
    const struct config *c = *state;
    /* vmath takes 16k-lane vectors to mean AVX-512 (see vmath.h). */
    __builtin_cpu_init();
    if (c->width % 16 == 0 && !__builtin_cpu_supports("avx512f")) {
        print_message("%s: skipped, the host has no AVX-512F\n", c->name);
        skip();
    }
    /* The host target narrowed (ACTJIT_CPU) is another CPU, whose bounds
     * (vmath.h) are not the host's. */
    const char *narrowed = getenv("ACTJIT_CPU");
    if (!c->cpu && narrowed && *narrowed) {
        print_message("%s: skipped, the host target is narrowed to %s\n", c->name, narrowed);
        skip();
    }
    vm_jit j;
    if (vm_jit_build(&j, c->fn->emit, c->width, c->cpu, c->features))
        fail_msg("%s: %s", c->name, vm_jit_error(&j));
    /* Inline math: no call out to libm. */
    assert_int_equal(vm_jit_calls_out(&j), 0);
    check_specials(c->fn, j.fn, c->width);
    check_accuracy(c->fn, j.fn, c->width, c->cpu ? c->cpu : "host");
    check_dense(c->fn, j.fn, c->width);
    vm_jit_free(&j);
}

/* Widths 16 (host, AVX-512 here), 8 (AVX2+FMA), 4 and scalar (SSE2, no FMA:
 * multiply-adds stay unfused), and values several registers wide (32 lanes
 * on AVX-512, 24 on AVX2), which vmath splits per register for the x86
 * intrinsics. */
#define TARGETS(f, name)                                                     \
    {name "/16/host", &f, 16, NULL, NULL},                                   \
        {name "/8/haswell", &f, 8, "haswell", "+avx2,+fma"},                 \
        {name "/4/x86-64", &f, 4, "x86-64", "+sse2"},                        \
        {name "/1/x86-64", &f, 1, "x86-64", "+sse2"},                        \
        {name "/32/host", &f, 32, NULL, NULL},                               \
        {name "/24/haswell", &f, 24, "haswell", "+avx2,+fma"}

/* The newer functions on one width per code shape (their vector paths
 * call no x86 intrinsic, so the multi-register widths add nothing; erf,
 * erfc and gelu do, and take TARGETS). */
#define TARGETS4(f, name)                                                    \
    {name "/16/host", &f, 16, NULL, NULL},                                   \
        {name "/8/haswell", &f, 8, "haswell", "+avx2,+fma"},                 \
        {name "/4/x86-64", &f, 4, "x86-64", "+sse2"},                        \
        {name "/1/x86-64", &f, 1, "x86-64", "+sse2"}

static struct config configs[] = {
    TARGETS(fn_exp, "exp"),           TARGETS(fn_tanh, "tanh"),
    TARGETS(fn_sigmoid, "sigmoid"),   TARGETS(fn_exp_nonpos, "exp_nonpos"),
    TARGETS4(fn_expm1, "expm1"),      TARGETS4(fn_log, "log"),
    TARGETS4(fn_log1p, "log1p"),      TARGETS(fn_erf, "erf"),
    TARGETS(fn_erfc, "erfc"),         TARGETS(fn_gelu, "gelu"),
    TARGETS4(fn_tanhshrink, "tanhshrink"), TARGETS4(fn_mish, "mish"),
    TARGETS4(fn_tanh_unit, "tanh_unit")};

int main(void)
{
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    struct CMUnitTest tests[sizeof configs / sizeof configs[0]];
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        tests[i] = (struct CMUnitTest){configs[i].name, run_config, NULL,
                                       NULL, &configs[i]};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(want_cache);
    LLVMShutdown();
    return rc;
}
