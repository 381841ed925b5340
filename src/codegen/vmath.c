/* Branch-free exp/tanh/sigmoid emitted as LLVM IR (see vmath.h).
 *
 * Multiply-adds use llvm.fmuladd rather than llvm.fma: the backend fuses
 * them where the target has FMA, and on targets without it (plain SSE2)
 * llvm.fma would become a call to libm's fmaf.  For the same reason rounding
 * to an integer uses the 1.5*2^23 trick instead of llvm.rint/roundeven,
 * which need SSE4.1.  All error bounds hold with and without fusion. */
#include "vmath.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Broadcast the scalar constant c to the shape of ty. */
static LLVMValueRef splat_const(LLVMTypeRef ty, LLVMValueRef c)
{
    if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind)
        return c;
    unsigned n = LLVMGetVectorSize(ty);
    LLVMValueRef *lanes = malloc(n * sizeof *lanes);
    if (!lanes)
        abort();
    for (unsigned i = 0; i < n; i++)
        lanes[i] = c;
    LLVMValueRef v = LLVMConstVector(lanes, n);
    free(lanes);
    return v;
}

LLVMValueRef vm_splat(LLVMTypeRef ty, float c)
{
    LLVMTypeRef elem = LLVMGetTypeKind(ty) == LLVMVectorTypeKind
                           ? LLVMGetElementType(ty)
                           : ty;
    return splat_const(ty, LLVMConstReal(elem, c));
}

/* Integer type (i32 or <W x i32>) matching the float type ty. */
static LLVMTypeRef int_type(LLVMTypeRef ty)
{
    LLVMTypeRef i32 = LLVMInt32TypeInContext(LLVMGetTypeContext(ty));
    if (LLVMGetTypeKind(ty) == LLVMVectorTypeKind)
        return LLVMVectorType(i32, LLVMGetVectorSize(ty));
    return i32;
}

static LLVMValueRef splat_i32(LLVMTypeRef ity, int32_t c)
{
    LLVMTypeRef elem = LLVMInt32TypeInContext(LLVMGetTypeContext(ity));
    return splat_const(ity, LLVMConstInt(elem, (uint32_t)c, 1));
}

LLVMValueRef vm_call_intrinsic(LLVMBuilderRef b, const char *name,
                               LLVMValueRef *args, unsigned nargs)
{
    LLVMModuleRef m =
        LLVMGetGlobalParent(LLVMGetBasicBlockParent(LLVMGetInsertBlock(b)));
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    assert(id != 0 && "unknown intrinsic");
    LLVMTypeRef ty = LLVMTypeOf(args[0]);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m, id, &ty, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(LLVMGetModuleContext(m), id, &ty, 1);
    return LLVMBuildCall2(b, fty, fn, args, nargs, "");
}

/* a*m + c, fused where the target has FMA. */
static LLVMValueRef mla(LLVMBuilderRef b, LLVMValueRef a, LLVMValueRef m,
                        LLVMValueRef c)
{
    LLVMValueRef args[] = {a, m, c};
    return vm_call_intrinsic(b, "llvm.fmuladd", args, 3);
}

static LLVMValueRef call1(LLVMBuilderRef b, const char *name, LLVMValueRef x)
{
    return vm_call_intrinsic(b, name, &x, 1);
}

/* c[0] + c[1]*x + ... + c[n-1]*x^(n-1), Horner's rule. */
static LLVMValueRef poly(LLVMBuilderRef b, LLVMValueRef x, const float *c,
                         unsigned n)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef acc = vm_splat(ty, c[n - 1]);
    for (unsigned i = n - 1; i-- > 0;)
        acc = mla(b, acc, x, vm_splat(ty, c[i]));
    return acc;
}

/* 2^k as float for integer k in [-126, 127], built from exponent bits. */
static LLVMValueRef pow2i(LLVMBuilderRef b, LLVMValueRef k, LLVMTypeRef fty)
{
    LLVMTypeRef ity = LLVMTypeOf(k);
    LLVMValueRef e = LLVMBuildAdd(b, k, splat_i32(ity, 127), "");
    e = LLVMBuildShl(b, e, splat_i32(ity, 23), "");
    return LLVMBuildBitCast(b, e, fty, "");
}

/* lo <= x <= hi; a NaN x gives lo (callers restore NaN themselves).  The
 * ordered-compare form maps to single maxps/minps instructions. */
static LLVMValueRef clamp(LLVMBuilderRef b, LLVMValueRef x, float lo, float hi)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef l = vm_splat(ty, lo), h = vm_splat(ty, hi);
    LLVMValueRef above = LLVMBuildFCmp(b, LLVMRealOGT, x, l, "");
    x = LLVMBuildSelect(b, above, x, l, "");
    LLVMValueRef below = LLVMBuildFCmp(b, LLVMRealOLT, x, h, "");
    return LLVMBuildSelect(b, below, x, h, "");
}

/* NaN lanes of x pass through unchanged, others take r. */
static LLVMValueRef keep_nan(LLVMBuilderRef b, LLVMValueRef x, LLVMValueRef r)
{
    LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
    return LLVMBuildSelect(b, nan, x, r, "");
}

/* SLEEF's xexpf (expf_u10): x = q*ln2 + s, e^s by a degree-6 polynomial,
 * then scaled by 2^q in two steps so that denormal results round once. */
LLVMValueRef vm_exp(LLVMBuilderRef b, LLVMValueRef x)
{
    static const float c[] = {0.5f, 0.166666671633720397949219f,
                              0.0416664853692054748535156f,
                              0.00833336077630519866943359f,
                              0.00139304355252534151077271f,
                              0.000198527617612853646278381f};
    const float magic = 12582912.0f; /* 1.5*2^23: adding it rounds to int */
    LLVMTypeRef ty = LLVMTypeOf(x), ity = int_type(ty);

    /* Past ±104 the result is already +Inf/0; clamping keeps q small. */
    LLVMValueRef xc = clamp(b, x, -104.0f, 104.0f);
    LLVMValueRef t = mla(b, xc, vm_splat(ty, 1.442695040888963407f),
                         vm_splat(ty, magic));
    LLVMValueRef qf = LLVMBuildFSub(b, t, vm_splat(ty, magic), "");
    LLVMValueRef q = LLVMBuildSub(b, LLVMBuildBitCast(b, t, ity, ""),
                                  splat_i32(ity, 0x4B400000), "");

    /* Cody-Waite: q*L2U is exact, so s keeps full precision. */
    LLVMValueRef s = mla(b, qf, vm_splat(ty, -0.693145751953125f), xc);
    s = mla(b, qf, vm_splat(ty, -1.428606765330187045e-06f), s);

    /* e^s = 1 + (s + s^2*P(s)): adding 1 last leaves a single rounding at
     * the scale of the result. */
    LLVMValueRef u = poly(b, s, c, sizeof c / sizeof c[0]);
    u = mla(b, LLVMBuildFMul(b, s, s, ""), u, s);
    u = LLVMBuildFAdd(b, u, vm_splat(ty, 1.0f), "");

    /* |q| <= 150 exceeds one exponent field, so split it in two halves. */
    LLVMValueRef q1 = LLVMBuildAShr(b, q, splat_i32(ity, 1), "");
    LLVMValueRef q2 = LLVMBuildSub(b, q, q1, "");
    u = LLVMBuildFMul(b, u, pow2i(b, q1, ty), "");
    u = LLVMBuildFMul(b, u, pow2i(b, q2, ty), "");
    return keep_nan(b, x, u);
}

/* tanh on a = |x|, sign restored last (so tanh(-0) = -0): minimax
 * polynomial near 0, where 1 - 2/(e^2a+1) would cancel, else that formula.
 * e^2a = +Inf for large a gives exactly 1, and NaN fails the a < 0.55 test
 * and propagates through exp. */
LLVMValueRef vm_tanh(LLVMBuilderRef b, LLVMValueRef x)
{
    /* (tanh(a) - a) / a^3 ~ P(a^2) on a < 0.55, weighted minimax. */
    static const float c[] = {-0.33333316445350647f, 0.13332585990428925f,
                              -0.05385230854153633f, 0.021071676164865494f,
                              -0.006274236366152763f};
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef one = vm_splat(ty, 1.0f);
    LLVMValueRef a = call1(b, "llvm.fabs", x);

    /* a + a^3*P(a^2): the correction is tiny, so a rounds once. */
    LLVMValueRef a2 = LLVMBuildFMul(b, a, a, "");
    LLVMValueRef p = poly(b, a2, c, sizeof c / sizeof c[0]);
    LLVMValueRef small = mla(b, LLVMBuildFMul(b, a, a2, ""), p, a);

    LLVMValueRef e = vm_exp(b, LLVMBuildFAdd(b, a, a, ""));
    LLVMValueRef r = LLVMBuildFDiv(b, vm_splat(ty, 2.0f),
                                   LLVMBuildFAdd(b, e, one, ""), "");
    LLVMValueRef big = LLVMBuildFSub(b, one, r, "");

    LLVMValueRef is_small =
        LLVMBuildFCmp(b, LLVMRealOLT, a, vm_splat(ty, 0.55f), "");
    LLVMValueRef args[] = {LLVMBuildSelect(b, is_small, small, big, ""), x};
    return vm_call_intrinsic(b, "llvm.copysign", args, 2);
}

/* sigmoid = (x >= 0 ? 1 : e) / (1 + e) with e = e^-|x| <= 1: never
 * overflows, and for very negative x it returns e itself, denormals kept.
 * NaN gives e = NaN and takes the e branch. */
LLVMValueRef vm_sigmoid(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef one = vm_splat(ty, 1.0f);
    LLVMValueRef e = vm_exp(b, LLVMBuildFNeg(b, call1(b, "llvm.fabs", x), ""));
    LLVMValueRef nonneg =
        LLVMBuildFCmp(b, LLVMRealOGE, x, vm_splat(ty, 0.0f), "");
    LLVMValueRef num = LLVMBuildSelect(b, nonneg, one, e, "");
    return LLVMBuildFDiv(b, num, LLVMBuildFAdd(b, one, e, ""), "");
}
