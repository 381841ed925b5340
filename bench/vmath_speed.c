/* vmath-speed: in-cache throughput of the emitted exp/tanh/sigmoid
 * (src/codegen/vmath.c) at 16 lanes (AVX-512) against glibc's libmvec
 * (_ZGVeN16v_expf, _ZGVeN16v_tanhf, and 1/(1 + expf(-x)) built from it for
 * sigmoid) and plain scalar libm loops, all measured in the same run.
 *
 *   vmath-speed [--n FLOATS] [--reps R] [--lo A] [--hi B]
 *
 * Each implementation maps a buffer of n floats (default 4096, in L1/L2)
 * uniformly spread over [lo, hi] (default [-10, 10]) to a second buffer;
 * every sample times enough passes for about a millisecond, and the median
 * of R samples (default 15) is reported as ns per float.  "vs ours" is that
 * time over ours (> 1: ours is faster).  Needs an AVX-512 CPU. */
#include <errno.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Core.h>

#include "codegen/vmath.h"
#include "vmath_jit.h"

/* glibc libmvec, AVX-512 variants (x86_64 vector function ABI, 'e'); the
 * target attribute lets a compiler without -mavx512f pass __m512 in zmm. */
__attribute__((target("avx512f"))) __m512 _ZGVeN16v_expf(__m512);
__attribute__((target("avx512f"))) __m512 _ZGVeN16v_tanhf(__m512);

typedef vm_emit_fn emit_fn;
typedef vm_kernel_fn kernel_fn;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "vmath-speed: %s%s%s\n", what, msg ? ": " : "",
            msg ? msg : "");
    exit(2);
}

/* ---- Competitors ---- */

__attribute__((target("avx512f"))) static void
mvec_exp(const float *in, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16)
        _mm512_storeu_ps(out + i, _ZGVeN16v_expf(_mm512_loadu_ps(in + i)));
}

__attribute__((target("avx512f"))) static void
mvec_tanh(const float *in, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16)
        _mm512_storeu_ps(out + i, _ZGVeN16v_tanhf(_mm512_loadu_ps(in + i)));
}

/* PyTorch's formula on libmvec's exp (no tanh/sigmoid variant exists). */
__attribute__((target("avx512f"))) static void
mvec_sigmoid(const float *in, float *out, int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __m512 x = _mm512_loadu_ps(in + i);
        __m512 e = _ZGVeN16v_expf(_mm512_sub_ps(_mm512_setzero_ps(), x));
        _mm512_storeu_ps(out + i, _mm512_div_ps(one, _mm512_add_ps(one, e)));
    }
}

static void scalar_exp(const float *in, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = expf(in[i]);
}

static void scalar_tanh(const float *in, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = tanhf(in[i]);
}

static void scalar_sigmoid(const float *in, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = 1.0f / (1.0f + expf(-in[i]));
}

#define SCALAR_LOOP(fn)                                                     \
    static void scalar_##fn(const float *in, float *out, int64_t n)          \
    {                                                                        \
        for (int64_t i = 0; i < n; i++)                                      \
            out[i] = fn##f(in[i]);                                           \
    }
SCALAR_LOOP(expm1)
SCALAR_LOOP(log)
SCALAR_LOOP(log1p)
SCALAR_LOOP(erf)
SCALAR_LOOP(erfc)

/* ---- Timing ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over reps samples of ns per float; each sample runs `passes`
 * passes over the buffer. */
static double time_ns(kernel_fn fn, const float *in, float *out, int64_t n,
                      int reps)
{
    fn(in, out, n); /* warm up */
    int passes = 1;
    for (;;) { /* about 1 ms per sample */
        double t0 = now();
        for (int p = 0; p < passes; p++)
            fn(in, out, n);
        if (now() - t0 > 1e-3 || passes >= (1 << 24))
            break;
        passes *= 2;
    }
    double *s = malloc((size_t)reps * sizeof *s);
    if (!s)
        die("out of memory", NULL);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int p = 0; p < passes; p++)
            fn(in, out, n);
        s[r] = (now() - t0) * 1e9 / ((double)passes * (double)n);
    }
    qsort(s, (size_t)reps, sizeof *s, cmp_double);
    double med = s[reps / 2];
    free(s);
    return med;
}

static double arg_num(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s)
        die("bad number for", opt);
    return v;
}

int main(int argc, char **argv)
{
    int64_t n = 4096;
    int reps = 15;
    double lo = -10.0, hi = 10.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = (int64_t)arg_num(argv[++i], "--n");
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (int)arg_num(argv[++i], "--reps");
        else if (!strcmp(argv[i], "--lo") && i + 1 < argc)
            lo = arg_num(argv[++i], "--lo");
        else if (!strcmp(argv[i], "--hi") && i + 1 < argc)
            hi = arg_num(argv[++i], "--hi");
        else {
            fprintf(stderr,
                    "usage: %s [--n FLOATS] [--reps R] [--lo A] [--hi B]\n"
                    "  In-cache ns/float of vmath's functions (16 lanes) "
                    "vs glibc libmvec\n  (exp, tanh, sigmoid) and scalar libm on "
                    "FLOATS inputs spread over [A, B].\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 16 || n % 16 || n > (1 << 26) || reps < 1)
        die("--n must be a positive multiple of 16 (at most 2^26), --reps "
            "positive",
            NULL);
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        die("this benchmark needs AVX-512F", NULL);
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();

    float *in = aligned_alloc(64, (size_t)n * sizeof *in);
    float *out = aligned_alloc(64, (size_t)n * sizeof *out);
    if (!in || !out)
        die("out of memory", NULL);
    /* A fixed shuffle of an even grid: no input is special. */
    for (int64_t i = 0; i < n; i++) {
        int64_t k = (i * 2654435761) % n;
        in[i] = (float)(lo + (hi - lo) * ((double)k + 0.5) / (double)n);
    }

    struct row {
        const char *name;
        emit_fn emit;
        kernel_fn mvec, scalar; /* mvec NULL: not timed */
        const char *mvec_name, *scalar_name;
        int positive; /* inputs |x| + 0.5 (log, log1p) */
    } rows[] = {
        {"exp", vm_exp, mvec_exp, scalar_exp, "_ZGVeN16v_expf", "expf", 0},
        {"tanh", vm_tanh, mvec_tanh, scalar_tanh, "_ZGVeN16v_tanhf", "tanhf", 0},
        {"sigmoid", vm_sigmoid, mvec_sigmoid, scalar_sigmoid,
         "1/(1+_ZGVeN16v_expf(-x))", "1/(1+expf(-x))", 0},
        {"expm1", vm_expm1, NULL, scalar_expm1, NULL, "expm1f", 0},
        {"log", vm_log, NULL, scalar_log, NULL, "logf", 1},
        {"log1p", vm_log1p, NULL, scalar_log1p, NULL, "log1pf", 1},
        {"erf", vm_erf, NULL, scalar_erf, NULL, "erff", 0},
        {"erfc", vm_erfc, NULL, scalar_erfc, NULL, "erfcf", 0},
    };
    float *pos = aligned_alloc(64, (size_t)n * sizeof *pos);
    if (!pos)
        die("out of memory", NULL);
    for (int64_t i = 0; i < n; i++)
        pos[i] = fabsf(in[i]) + 0.5f;
    printf("%lld floats in [%g, %g], median of %d samples, ns per float\n\n",
           (long long)n, lo, hi, reps);
    printf("%-8s %-26s %9s %10s %8s\n", "function", "implementation", "ns",
           "Gfloat/s", "vs ours");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        vm_jit jit;
        if (vm_jit_build(&jit, rows[r].emit, 16, NULL, NULL))
            die("compiling", vm_jit_error(&jit));
        kernel_fn ours = jit.fn;
        const float *x = rows[r].positive ? pos : in;
        double t_ours = time_ns(ours, x, out, n, reps);
        double t_scalar = time_ns(rows[r].scalar, x, out, n, reps);
        printf("%-8s %-26s %9.4f %10.3f %8s\n", rows[r].name,
               "vmath (JIT, 16 lanes)", t_ours, 1.0 / t_ours, "1.00x");
        if (rows[r].mvec) {
            double t_mvec = time_ns(rows[r].mvec, x, out, n, reps);
            printf("%-8s %-26s %9.4f %10.3f %7.2fx\n", "", rows[r].mvec_name,
                   t_mvec, 1.0 / t_mvec, t_mvec / t_ours);
        }
        printf("%-8s %-26s %9.4f %10.3f %7.2fx\n", "", rows[r].scalar_name,
               t_scalar, 1.0 / t_scalar, t_scalar / t_ours);
        vm_jit_free(&jit);
    }
    free(in);
    free(out);
    free(pos);
    LLVMShutdown();
    return 0;
}
