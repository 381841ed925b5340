/* vmath-accuracy: maximum ULP error of the emitted vector functions
 * (src/codegen/vmath.c: exp, tanh, sigmoid, expm1, log, log1p, erf, erfc,
 * the gelu, tanhshrink and mish kernels, and tanh_unit on [-1, 1]) over
 * every float bit pattern, or every N-th with --stride N (default 97, a few
 * seconds), at each vector width and target.
 *
 *   vmath-accuracy [--stride N] [--fn NAME]
 *
 * The reference is double-precision libm rounded to float.  That is the
 * correctly rounded float except when the exact value lies within about
 * 2^-29 float ULP of a rounding boundary (double rounding), which can move
 * the measured error by one in rare cases; at the 1-2 ULP bounds checked
 * here that is negligible.  sigmoid's reference is PyTorch's definition,
 * 1/(1 + e^-x) with e^-x overflowing to +Inf, i.e. exactly 0 for
 * x <= -88.72283935546875.
 *
 * Columns: max ULP distance from the reference (integer steps along the
 * float line, ±0 equal), the first input where it occurs, and the share of
 * inputs that are not correctly rounded.  Every non-NaN result must lie in
 * the function's range and NaN inputs must give NaN; violations are
 * counted in "bad" (exit status 1). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/vmath.h"
#include "vmath_jit.h"

typedef vm_emit_fn emit_fn;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "vmath-accuracy: %s%s%s\n", what, msg ? ": " : "",
            msg ? msg : "");
    exit(2);
}

/* ---- References ---- */

static float ref_exp(float x) { return (float)exp((double)x); }
static float ref_tanh(float x) { return (float)tanh((double)x); }
static float ref_sigmoid(float x)
{
    double e = exp(-(double)x);
    return (float)e == INFINITY ? 0.0f : (float)(1.0 / (1.0 + e));
}

static float ref_expm1(float x) { return (float)expm1((double)x); }
static float ref_log(float x) { return (float)log((double)x); }
static float ref_log1p(float x) { return (float)log1p((double)x); }
static float ref_erf(float x) { return (float)erf((double)x); }
static float ref_erfc(float x) { return (float)erfc((double)x); }
/* GELU as PyTorch defines it, x/2 (1 + erf(x/sqrt 2)), evaluated without
 * the cancellation for x < 0; -Inf gives NaN (-Inf * 0). */
static float ref_gelu(float x)
{
    double v = 0.5 * x * erfc(-(double)x / sqrt(2.0));
    return isinf(x) && x < 0 ? NAN : (float)v;
}
/* x - tanh(x): a series below 0.1, where the subtraction cancels. */
static float ref_tanhshrink(float x)
{
    double a = x, t = a * a;
    if (fabs(a) < 0.1)
        return (float)(a * t * (1.0 / 3 + t * (-2.0 / 15 + t * (17.0 / 315 + t * (-62.0 / 2835 + t * 1382.0 / 155925)))));
    return (float)(a - tanh(a));
}

static float ref_mish(float x)
{
    return isinf(x) && x < 0 ? NAN : (float)(x * tanh(log1p(exp((double)x))));
}

struct fn_case {
    const char *name;
    emit_fn emit;
    float (*ref)(float);
    int64_t bound; /* documented max ULP */
    float lo, hi;  /* range of every non-NaN result */
    float max_x;   /* inputs above are outside the contract (0: none) */
    float min_x;   /* inputs below are outside the contract (0: none) */
};

static const struct fn_case fns[] = {
    {"exp", vm_exp, ref_exp, 1, 0.0f, INFINITY, 0.0f, 0.0f},
    {"tanh", vm_tanh, ref_tanh, 2, -1.0f, 1.0f, 0.0f, 0.0f},
    {"sigmoid", vm_sigmoid, ref_sigmoid, 2, 0.0f, 1.0f, 0.0f, 0.0f},
    {"exp_nonpos", vm_exp_nonpos, ref_exp, 1, 0.0f, INFINITY, 104.0f, 0.0f},
    {"expm1", vm_expm1, ref_expm1, 2, -1.0f, INFINITY, 0.0f, 0.0f},
    {"log", vm_log, ref_log, 1, -INFINITY, INFINITY, 0.0f, 0.0f},
    {"log1p", vm_log1p, ref_log1p, 2, -INFINITY, INFINITY, 0.0f, 0.0f},
    {"erf", vm_erf, ref_erf, 2, -1.0f, 1.0f, 0.0f, 0.0f},
    {"erfc", vm_erfc, ref_erfc, 2, 0.0f, 2.0f, 0.0f, 0.0f},
    {"gelu", vm_gelu, ref_gelu, 4, -INFINITY, INFINITY, 0.0f, 0.0f},
    {"tanhshrink", vm_tanhshrink, ref_tanhshrink, 4, -INFINITY, INFINITY, 0.0f, 0.0f},
    {"mish", vm_mish, ref_mish, 4, -INFINITY, INFINITY, 0.0f, 0.0f},
    {"tanh_unit", vm_tanh_unit, ref_tanh, 1, -1.0f, 1.0f, 1.0f, -1.0f},
};

struct target {
    unsigned width;
    const char *cpu; /* NULL: host */
    const char *features;
    const char *note;
    int sigmoid_bound; /* when not the documented 2 */
};

/* The widths the project emits (16 only on AVX-512, 8 on AVX, 4 on SSE,
 * scalar in linear epilogues), plus AVX without FMA, where vmath.h
 * documents sigmoid at up to 3 ULP. */
static const struct target targets[] = {
    {16, NULL, NULL, "host (AVX-512)", 0},
    {8, "haswell", "+avx2,+fma", "haswell (AVX2+FMA)", 0},
    {8, "sandybridge", "+avx", "sandybridge (AVX, no FMA)", 3},
    {4, "x86-64", "+sse2", "x86-64 (SSE2)", 0},
    {1, "x86-64", "+sse2", "x86-64 (scalar)", 0},
};
#define NTARGETS (sizeof targets / sizeof targets[0])

/* Whether this machine can execute code for target t. */
static int runnable(const struct target *t)
{
    __builtin_cpu_init();
    if (t->width % 16 == 0)
        return __builtin_cpu_supports("avx512f");
    if (t->cpu && !strcmp(t->cpu, "haswell"))
        return __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
    if (t->cpu && !strcmp(t->cpu, "sandybridge"))
        return __builtin_cpu_supports("avx");
    return 1;
}

/* The float at position k of the float line (inverse of ordinal, +0 for 0). */
static float from_ordinal(int64_t k)
{
    return k < 0 ? vm_from_bits(0x80000000u | (uint32_t)-k) : vm_from_bits((uint32_t)k);
}

struct stats {
    int64_t worst;
    float worst_x;
    uint64_t inexact, bad, n;
};

#define CHUNK 65536 /* a multiple of every width */

int main(int argc, char **argv)
{
    uint64_t stride = 97;
    float range_lo = 1.0f, range_hi = 0.0f; /* none */
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stride") && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || *end || v == 0 || v > 0xffffffffull)
                die("--stride takes an integer in 1..2^32-1", NULL);
            stride = v;
        } else if (!strcmp(argv[i], "--range") && i + 2 < argc) {
            range_lo = strtof(argv[++i], NULL);
            range_hi = strtof(argv[++i], NULL);
            if (!(range_lo <= range_hi))
                die("--range takes two numbers LO <= HI", NULL);
        } else if (!strcmp(argv[i], "--fn") && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: %s [--stride N] [--fn NAME] [--range LO HI]\n"
                    "  NAME: exp tanh sigmoid exp_nonpos expm1 log log1p erf erfc "
                    "gelu tanhshrink mish tanh_unit\n"
                    "  Max ULP error of vmath's functions over every "
                    "N-th float bit\n  pattern (default N = 97; 1 = "
                    "exhaustive) at each width/target.\n",
                    argv[0]);
            return 2;
        }
    }
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();

    float *in = malloc(CHUNK * sizeof *in);
    float *want = malloc(CHUNK * sizeof *want);
    float *out = malloc(CHUNK * sizeof *out);
    if (!in || !want || !out)
        die("out of memory", NULL);

    printf("every %llu-th float bit pattern (%llu inputs); reference: double "
           "libm rounded to float\n\n",
           (unsigned long long)stride,
           (unsigned long long)((0x100000000ull + stride - 1) / stride));
    printf("%-10s %5s  %-26s %7s %5s  %-16s %-15s %9s %4s\n", "function",
           "width", "target", "max ulp", "bound", "at x", "(decimal)",
           "inexact", "bad");
    int failed = 0;
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        const struct fn_case *fc = &fns[f];
        if (only && strcmp(only, fc->name))
            continue;
        vm_jit jits[NTARGETS];
        struct stats st[NTARGETS];
        memset(st, 0, sizeof st);
        memset(jits, 0, sizeof jits);
        for (size_t t = 0; t < NTARGETS; t++)
            if (runnable(&targets[t]))
                if (vm_jit_build(&jits[t], fc->emit, targets[t].width, targets[t].cpu, targets[t].features))
                    die("compiling", vm_jit_error(&jits[t]));
        clock_t t0 = clock();
        /* Positions on the float line, -0x7f800000 (-Inf) .. 0x7f800000
         * (+Inf), then the NaNs, in steps of stride; or every stride-th
         * float of --range. */
        int64_t first = range_lo <= range_hi ? vm_ordinal(range_lo) : 0;
        uint64_t end = range_lo <= range_hi
                           ? (uint64_t)(vm_ordinal(range_hi) - first) + 1
                           : 0x100000000ull;
        uint64_t next = 0;
        while (next < end) {
            size_t n = 0;
            for (; n < CHUNK && next < end; n++, next += stride)
                in[n] = range_lo <= range_hi ? from_ordinal(first + (int64_t)next)
                                             : vm_from_bits((uint32_t)next);
            for (size_t i = 0; i < n; i++)
                want[i] = fc->ref(in[i]);
            for (size_t i = n; i < CHUNK; i++) /* pad to the width */
                in[i] = 0.0f;
            for (size_t t = 0; t < NTARGETS; t++) {
                unsigned w = targets[t].width;
                if (!jits[t].fn)
                    continue;
                jits[t].fn(in, out, (int64_t)((n + w - 1) / w * w));
                struct stats *s = &st[t];
                for (size_t i = 0; i < n; i++) {
                    float y = out[i], r = want[i];
                    if ((fc->max_x && in[i] > fc->max_x) || (fc->min_x && in[i] < fc->min_x))
                        continue;
                    s->n++;
                    if (isnan(r) || isnan(y)) {
                        if (isnan(r) != isnan(y)) {
                            s->bad++;
                            if (s->bad <= 3)
                                fprintf(stderr, "%s/%u: f(%a) = %a, want %a\n",
                                        fc->name, w, in[i], y, r);
                        }
                        continue;
                    }
                    if (y < fc->lo || y > fc->hi) {
                        s->bad++;
                        continue;
                    }
                    int64_t d = llabs(vm_ordinal(y) - vm_ordinal(r));
                    if (d)
                        s->inexact++;
                    if (d > s->worst) {
                        s->worst = d;
                        s->worst_x = in[i];
                    }
                }
            }
        }
        double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        for (size_t t = 0; t < NTARGETS; t++) {
            const struct stats *s = &st[t];
            if (!jits[t].fn) {
                printf("%-10s %5u  %-26s  skipped: the host cannot run it\n",
                       fc->name, targets[t].width, targets[t].note);
                continue;
            }
            int64_t bound = fc->bound;
            if (fc->emit == vm_sigmoid && targets[t].sigmoid_bound)
                bound = targets[t].sigmoid_bound;
            int over = s->worst > bound || s->bad;
            failed |= over;
            printf("%-10s %5u  %-26s %7lld %5lld  %-16a %-15.9g %8.4f%% "
                   "%4llu%s\n",
                   fc->name, targets[t].width, targets[t].note,
                   (long long)s->worst, (long long)bound, s->worst_x,
                   s->worst_x, 100.0 * (double)s->inexact / (double)s->n,
                   (unsigned long long)s->bad, over ? "  OVER" : "");
            vm_jit_free(&jits[t]);
        }
        printf("(%s: %.1f s)\n", fc->name, secs);
        fflush(stdout);
    }
    free(in);
    free(want);
    free(out);
    LLVMShutdown();
    return failed;
}
