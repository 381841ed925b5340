/* Branch-free exp/tanh/sigmoid emitted as LLVM IR (see vmath.h); expm1,
 * log, log1p, erf, erfc, the gelu/tanhshrink/mish kernels and tanh on
 * [-1, 1] follow at the end, built from the same pieces (plain IR: no x86
 * intrinsics of their own beyond exp's scaling, divisions as fdiv).
 *
 * Code shape per type (chosen by the lane count, see the header):
 *   16k lanes  AVX-512F: exp and sigmoid's e^-x from a 16-entry 2^(j/16)
 *              table (vpermps) and a cubic, scaled by vscalefps; tanh's
 *              quotient from vrcp14ps plus one correction, sigmoid's by
 *              vdivps (cheaper on Zen 4, see sigmoid_avx512).
 *   8k lanes   AVX: polynomial exp, vrcpps refined once plus one
 *              correction (FMA assumed, see the header); erfc's pieces
 *              looked up by vpermilps (4 entries), as by vpermps on
 *              AVX-512 (16).
 *   4k lanes   SSE: polynomial exp, divps.
 *   else       (scalar float, odd widths): the same as SSE in plain IR.
 * Values k > 1 registers wide (k <= 4) are processed register by register
 * for the intrinsics; everything else is ordinary vector IR.
 *
 * Multiply-adds use llvm.fmuladd rather than llvm.fma: the backend fuses
 * them where the target has FMA, and on targets without it (plain SSE2)
 * llvm.fma would become a call to libm's fmaf.  For the same reason rounding
 * to an integer uses the 1.5*2^23 trick instead of llvm.rint/roundeven,
 * which need SSE4.1.  The error bounds are verified with and without fusion
 * (tests/test_vmath.c, bench/vmath_accuracy.c).
 *
 * Clamps are written `x < lo ? lo : x` (and `x > hi ? hi : x`): x86 lowers
 * that to a single maxps(lo, x) / minps(hi, x), which returns x when x is
 * NaN, so NaN flows through the arithmetic and needs no final select. */
#include "codegen/vmath.h"
#include "codegen/vmath_isa.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---- Constants ---- */


/* Broadcast the scalar constant c to the shape of ty. */
static LLVMValueRef splat_const(LLVMTypeRef ty, LLVMValueRef c)
{
    if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind)
        return c;
    unsigned n = LLVMGetVectorSize(ty);
    if (n <= VM_MAX_LANES) {
        LLVMValueRef lanes[VM_MAX_LANES];
        for (unsigned i = 0; i < n; i++)
            lanes[i] = c;
        return LLVMConstVector(lanes, n);
    }
    /* Wider than any x86 vector: insertelement + zero-mask shufflevector of
     * constants, which the builder's constant folder turns into a constant
     * splat without inserting instructions. */
    LLVMContextRef ctx = LLVMGetTypeContext(ty);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx);
    LLVMBuilderRef tmp = LLVMCreateBuilderInContext(ctx);
    LLVMValueRef v = LLVMBuildInsertElement(tmp, LLVMGetPoison(ty), c,
                                            LLVMConstInt(i32, 0, 0), "");
    v = LLVMBuildShuffleVector(tmp, v, LLVMGetPoison(ty),
                               LLVMConstNull(LLVMVectorType(i32, n)), "");
    LLVMDisposeBuilder(tmp);
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

/* ---- Intrinsic calls ---- */

static LLVMModuleRef builder_module(LLVMBuilderRef b)
{
    return LLVMGetGlobalParent(LLVMGetBasicBlockParent(LLVMGetInsertBlock(b)));
}

LLVMValueRef vm_intrinsic(LLVMBuilderRef b, const char *name,
                          LLVMTypeRef *over, size_t nover,
                          LLVMValueRef *args, unsigned nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    if (id == 0)
        return NULL;
    LLVMModuleRef m = builder_module(b);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m, id, over, nover);
    LLVMTypeRef fty =
        LLVMIntrinsicGetType(LLVMGetModuleContext(m), id, over, nover);
    return LLVMBuildCall2(b, fty, fn, args, nargs, "");
}

LLVMValueRef vm_call_intrinsic(LLVMBuilderRef b, const char *name,
                               LLVMValueRef *args, unsigned nargs)
{
    LLVMTypeRef ty = LLVMTypeOf(args[0]);
    LLVMValueRef r = vm_intrinsic(b, name, &ty, 1, args, nargs);
    return r ? r : LLVMGetPoison(ty); /* unknown name: a caller bug */
}

/* a*m + c, fused where the target has FMA. */
static LLVMValueRef mla(LLVMBuilderRef b, LLVMValueRef a, LLVMValueRef m,
                        LLVMValueRef c)
{
    LLVMValueRef args[] = {a, m, c};
    return vm_call_intrinsic(b, "llvm.fmuladd", args, 3);
}

static LLVMValueRef fabs1(LLVMBuilderRef b, LLVMValueRef x)
{
    return vm_call_intrinsic(b, "llvm.fabs", &x, 1);
}

/* 1/d to about 2^-22 (or NULL): the estimate, refined once by Newton's
 * r += r*(1 - d*r) when it is vrcpps's 12 bits. */
static LLVMValueRef recip(LLVMBuilderRef b, LLVMValueRef d)
{
    LLVMValueRef r = vm_isa_rcp(b, d);
    if (r && vm_isa_of(b, LLVMTypeOf(d)) == ISA_AVX) {
        LLVMValueRef one = vm_splat(LLVMTypeOf(d), 1.0f);
        r = mla(b, r, mla(b, LLVMBuildFNeg(b, d, ""), r, one), r);
    }
    return r;
}

/* num / d for finite d in [1, 2] (the AVX sigmoid): q0 = num*r, then one
 * correction q0 + r*(num - d*q0), whose residual is exact under FMA; the
 * error before the last rounding is about the square of r's.  fdiv where
 * there is no estimate. */
static LLVMValueRef divide(LLVMBuilderRef b, LLVMValueRef num, LLVMValueRef d)
{
    LLVMValueRef r = recip(b, d);
    if (!r)
        return LLVMBuildFDiv(b, num, d, "");
    LLVMValueRef q0 = LLVMBuildFMul(b, num, r, "");
    return mla(b, mla(b, LLVMBuildFNeg(b, d, ""), q0, num), r, q0);
}

/* ---- Clamps (NaN passes through, see the top) ---- */

static LLVMValueRef max_lo(LLVMBuilderRef b, LLVMValueRef x, float lo)
{
    LLVMValueRef l = vm_splat(LLVMTypeOf(x), lo);
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, l, ""), l, x,
                           "");
}

static LLVMValueRef min_hi(LLVMBuilderRef b, LLVMValueRef x, float hi)
{
    LLVMValueRef h = vm_splat(LLVMTypeOf(x), hi);
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, h, ""), h, x,
                           "");
}

/* ---- exp pieces ---- */

/* Past ±104 e^x is already +Inf/0 in float; clamping keeps |q| <= 150. */
#define EXP_LIMIT 104.0f

/* k*x = q*ln2 + s with integer q and |s| <= ln2/2 (+ a hair), k = 1, -1
 * or 2.  For k = -1 the negation is folded into the constants: v = -s is
 * what is computed (sign = -1), so no instruction negates x and the clamp
 * before stays a single maxps/minps. */
struct reduced {
    LLVMValueRef t;  /* q + 1.5*2^23 as float: its low bits are q */
    LLVMValueRef qf; /* q as float */
    LLVMValueRef v;  /* sign * s */
    int sign;
};

/* |k*x| <= EXP_LIMIT, or NaN.  Cody-Waite: q*l2u is exact (l2u has 15
 * significant bits, |q| <= 150), so s keeps full precision.  one_step
 * instead subtracts q*ln2 with ln2 rounded to float: one FMA and 4 cycles
 * less, but s is off by up to |q|*1.9e-9 (tanh uses it, where q <= 28 and
 * the result's sensitivity to e^s shrinks like 2^-q). */
static struct reduced reduce(LLVMBuilderRef b, LLVMValueRef x, int k,
                             int one_step)
{
    const float magic = 12582912.0f; /* 1.5*2^23: adding it rounds to int */
    const float l2u = 0.693145751953125f, l2l = 1.428606765330187045e-06f;
    LLVMTypeRef ty = LLVMTypeOf(x);
    struct reduced r;
    r.sign = k < 0 ? -1 : 1;
    r.t = mla(b, x, vm_splat(ty, (float)k * 1.442695040888963407f),
              vm_splat(ty, magic));
    r.qf = LLVMBuildFSub(b, r.t, vm_splat(ty, magic), "");
    /* k = 2: x + x is exact, computed next to t rather than before it. */
    LLVMValueRef kx = k == 2 ? LLVMBuildFAdd(b, x, x, "") : x;
    float sg = (float)-r.sign;
    if (one_step) {
        r.v = mla(b, r.qf, vm_splat(ty, sg * 0x1.62e430p-1f), kx);
    } else {
        r.v = mla(b, r.qf, vm_splat(ty, sg * l2u), kx);
        r.v = mla(b, r.qf, vm_splat(ty, sg * l2l), r.v);
    }
    return r;
}

/* (e^s - 1 - s)/s^2 on |s| <= 0.3466, so that e^s = 1 + s + s^2*tail(s)
 * and e^s - 1 = s + s^2*tail(s).  Minimax (Lawson's algorithm, coefficients
 * rounded to float one at a time) for the larger of the two relative
 * errors: 0.05 * 2^-23 for e^s, 0.11 * 2^-23 for e^s - 1. */
static const float exp_tail_c[] = {0x1.fffffep-2f, 0x1.5554b4p-3f,
                                   0x1.5556f6p-5f, 0x1.122534p-7f,
                                   0x1.6b97f8p-10f};

/* e^s - 1 = s + s^2*tail(s) from v = sign*s, tail by Estrin's scheme (a
 * shorter dependency chain than Horner's at the same count). */
static LLVMValueRef expm1_reduced(LLVMBuilderRef b, const struct reduced *r)
{
    const float *c = exp_tail_c;
    LLVMValueRef v = r->v;
    LLVMTypeRef ty = LLVMTypeOf(v);
    float sg = (float)r->sign; /* c[i]*s^i = (c[i]*sign^i)*v^i */
    LLVMValueRef v2 = LLVMBuildFMul(b, v, v, "");
    LLVMValueRef lo = mla(b, vm_splat(ty, sg * c[1]), v, vm_splat(ty, c[0]));
    LLVMValueRef hi = mla(b, vm_splat(ty, sg * c[3]), v, vm_splat(ty, c[2]));
    hi = mla(b, vm_splat(ty, c[4]), v2, hi);
    LLVMValueRef tail = mla(b, hi, v2, lo);
    LLVMValueRef s = r->sign < 0 ? LLVMBuildFNeg(b, v, "") : v;
    return mla(b, v2, tail, s); /* the fneg folds into vfmsub */
}

/* 2^k as float for integer k in [-126, 127], from exponent bits. */
static LLVMValueRef pow2i(LLVMBuilderRef b, LLVMValueRef k, LLVMTypeRef fty)
{
    LLVMTypeRef ity = LLVMTypeOf(k);
    LLVMValueRef e = LLVMBuildAdd(b, k, splat_i32(ity, 127), "");
    e = LLVMBuildShl(b, e, splat_i32(ity, 23), "");
    return LLVMBuildBitCast(b, e, fty, "");
}

/* q as an integer, from the bits of t. */
static LLVMValueRef q_int(LLVMBuilderRef b, const struct reduced *r)
{
    LLVMTypeRef ity = int_type(LLVMTypeOf(r->t));
    return LLVMBuildSub(b, LLVMBuildBitCast(b, r->t, ity, ""),
                        splat_i32(ity, 0x4B400000), "");
}

/* u * 2^q for |q| <= 150 with a single rounding (denormal results round
 * once, overflow gives +Inf).  AVX-512: vscalefps.  Elsewhere q is split in
 * halves, each within one exponent field; the first product is exact. */
static LLVMValueRef scale(LLVMBuilderRef b, LLVMValueRef u,
                          const struct reduced *r)
{
    LLVMTypeRef ty = LLVMTypeOf(u);
    if (vm_isa_of(b, ty) == ISA_AVX512) {
        LLVMValueRef v = vm_isa_scalef(b, u, r->qf);
        if (v)
            return v;
    }
    LLVMTypeRef ity = int_type(ty);
    LLVMValueRef q = q_int(b, r);
    LLVMValueRef q1 = LLVMBuildAShr(b, q, splat_i32(ity, 1), "");
    LLVMValueRef q2 = LLVMBuildSub(b, q, q1, "");
    u = LLVMBuildFMul(b, u, pow2i(b, q1, ty), "");
    return LLVMBuildFMul(b, u, pow2i(b, q2, ty), "");
}

/* AVX-512 e^(k*x), k = 1 or -1, by a 16-entry table: k*x = (N/16)*ln2 + s
 * with N = round(16*k*x/ln2) and |s| <= ln2/32, so e^(k*x) =
 * 2^floor(N/16) * T[N mod 16] * e^s with T[j] = 2^(j/16).  t's low 4 bits
 * are N mod 16 and index vpermps directly, and e^s - 1 = s + s^2*(c2 + c3*s)
 * (0.013 * 2^-23).  Against the 16-lane polynomial path: a vpermps in place
 * of four FMA-pipe ops, and a shorter chain.  Returns T*e^s rounded once,
 * in [1/2^(1/32), 2), and nf = N/16, for vscalefps's floor.
 *
 * split holds T as hi + lo floats, T*e^s = Thi + (Thi*p + Tlo): sigmoid
 * needs that to stay within 2 ULP (3 with Thi alone).  exp itself stays
 * within 1 ULP with Thi*p + Thi (every float, bench/vmath_accuracy.c), one
 * vpermps and one add less: softmax [4096, 1000] 12% faster (1.18 -> 1.03
 * ms, interleaved A/B).  NULL fields if an intrinsic is missing. */
struct exp_table {
    LLVMValueRef m;  /* T*e^s */
    LLVMValueRef nf; /* N/16 */
};

static struct exp_table exp_by_table(LLVMBuilderRef b, LLVMValueRef x, int k,
                                     bool split)
{
    /* 2^(j/16) rounded to float, and the rest. */
    static const float hi[16] = {
        0x1p+0f,        0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f,
        0x1.306fe0p+0f, 0x1.3dea64p+0f, 0x1.4bfdaep+0f, 0x1.5ab07ep+0f,
        0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f,
        0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f};
    static const float lo[16] = {
        0.0f,            0x1.9f3122p-25f,  -0x1.c15742p-27f, 0x1.ceac48p-25f,
        0x1.4636e2p-25f, 0x1.824684p-25f,  -0x1.593abcp-25f, -0x1.5bd5ecp-27f,
        0x1.9fcef4p-26f, -0x1.829fd0p-25f, 0x1.15506ep-27f,  0x1.51f848p-27f,
        -0x1.a94b14p-26f, -0x1.3d56b2p-27f, -0x1.822dbcp-27f, 0x1.52486cp-27f};
    /* Minimax for the relative error of e^s on |s| <= 1.001*ln2/32. */
    const float c2 = 0x1.000220p-1f, c3 = 0x1.55559ap-3f;
    /* 1.5*2^19: adding it rounds to a multiple of 1/16. */
    const float magic = 786432.0f;
    /* ln2 = l2u + l2l, l2u with 11 significant bits: nf*l2u is exact for
     * |N| <= 2400 (12 bits). */
    const float l2u = 0x1.62cp-1f, l2l = 0x1.217f7ep-12f;

    LLVMTypeRef ty = LLVMTypeOf(x);
    struct exp_table e = {NULL, NULL};
    float sg = (float)k; /* v = k*s: the negation folds into constants */

    LLVMValueRef t = mla(b, x, vm_splat(ty, sg * 1.442695040888963407f),
                         vm_splat(ty, magic));
    e.nf = LLVMBuildFSub(b, t, vm_splat(ty, magic), "");
    LLVMValueRef v = mla(b, e.nf, vm_splat(ty, -sg * l2u), x);
    v = mla(b, e.nf, vm_splat(ty, -sg * l2l), v);

    LLVMValueRef idx = LLVMBuildBitCast(b, t, int_type(ty), "");
    LLVMValueRef thi = vm_isa_table(b, hi, 16, idx);
    LLVMValueRef tlo = split ? vm_isa_table(b, lo, 16, idx) : NULL;
    if (!thi || (split && !tlo))
        return e;

    /* p = e^s - 1 = s + s^2*(c2 + c3*s), s = sg*v. */
    LLVMValueRef v2 = LLVMBuildFMul(b, v, v, "");
    LLVMValueRef a = mla(b, vm_splat(ty, sg * c3), v, vm_splat(ty, c2));
    LLVMValueRef sv = k < 0 ? LLVMBuildFNeg(b, v, "") : v;
    LLVMValueRef p = mla(b, v2, a, sv);
    e.m = split ? LLVMBuildFAdd(b, thi, mla(b, thi, p, tlo), "")
                : mla(b, thi, p, thi);
    return e;
}

/* e^x from its reduction: 1 + (e^s - 1) adds the 1 last, so the result
 * rounds once at its own scale, then the 2^q scaling. */
static LLVMValueRef exp_reduced(LLVMBuilderRef b, const struct reduced *r)
{
    LLVMValueRef u = expm1_reduced(b, r);
    u = LLVMBuildFAdd(b, u, vm_splat(LLVMTypeOf(u), 1.0f), "");
    return scale(b, u, r);
}

/* e^(k*x), k = 1 or -1, for x already within ±EXP_LIMIT. */
static LLVMValueRef exp_clamped(LLVMBuilderRef b, LLVMValueRef x, int k)
{
    struct reduced r = reduce(b, x, k, 0);
    return exp_reduced(b, &r);
}

/* e^x for x already clamped below (to -EXP_LIMIT) and at most EXP_LIMIT:
 * the table path on AVX-512, else SLEEF-style x = q*ln2 + s with e^s by a
 * degree-6 polynomial, scaled by 2^q with one rounding.  NaN propagates
 * through the clamps and the arithmetic. */
static LLVMValueRef exp_upto_limit(LLVMBuilderRef b, LLVMValueRef x)
{
    if (vm_isa_of(b, LLVMTypeOf(x)) == ISA_AVX512) {
        struct exp_table e = exp_by_table(b, x, 1, false);
        LLVMValueRef y = e.m ? vm_isa_scalef(b, e.m, e.nf) : NULL;
        if (y)
            return y;
    }
    return exp_clamped(b, x, 1);
}

LLVMValueRef vm_exp(LLVMBuilderRef b, LLVMValueRef x)
{
    return exp_upto_limit(
        b, min_hi(b, max_lo(b, x, -EXP_LIMIT), EXP_LIMIT));
}

LLVMValueRef vm_exp_nonpos(LLVMBuilderRef b, LLVMValueRef x)
{
    return exp_upto_limit(b, max_lo(b, x, -EXP_LIMIT));
}

/* ---- tanh ---- */

/* E/(E + 2) for E >= 0.  As divide(), except that the residual
 * E - (E + 2)*q0 is formed as (E - 2*q0) - E*q0 rather than from the rounded
 * E + 2: for E <= 2, E - 2*q0 is exact (Sterbenz), so the rounding of E + 2
 * (up to 1 ULP of the result near 0) no longer shows. */
static LLVMValueRef tanh_quotient(LLVMBuilderRef b, LLVMValueRef e)
{
    LLVMTypeRef ty = LLVMTypeOf(e);
    LLVMValueRef d = LLVMBuildFAdd(b, e, vm_splat(ty, 2.0f), "");
    LLVMValueRef r = recip(b, d);
    if (!r) /* SSE, scalar: one division, then the same correction */
        r = LLVMBuildFDiv(b, vm_splat(ty, 1.0f), d, "");
    LLVMValueRef q0 = LLVMBuildFMul(b, e, r, "");
    LLVMValueRef w = mla(b, vm_splat(ty, -2.0f), q0, e);
    LLVMValueRef res = mla(b, LLVMBuildFNeg(b, e, ""), q0, w);
    return mla(b, res, r, q0);
}

/* tanh(a) = E/(E + 2) with E = expm1(2a), on a = min(|x|, 9.5) (tanh rounds
 * to 1.0f from 9.01 on), sign restored last so tanh(-0) = -0.  expm1 keeps
 * full relative precision near 0, so no separate small-|x| branch:
 * E = 2^q*(e^s - 1) + (2^q - 1) with e^s - 1 = s + s^2*tail(s), where
 * 2^q - 1 is exact (0 <= q <= 28).  The quotient's error is E's times
 * 2/(E+2) <= 1, plus the rounding of E + 2 and of the result.  NaN passes
 * through min, the arithmetic and copysign. */
LLVMValueRef vm_tanh(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef one = vm_splat(ty, 1.0f);
    LLVMValueRef a = min_hi(b, fabs1(b, x), 9.5f);
    /* One-step reduction where FMA is expected (measured: no change in
     * the error; without FMA the rounded q*ln2 adds ~0.2 ULP). */
    struct reduced r = reduce(b, a, 2, vm_isa_of(b, ty) >= ISA_AVX);
    LLVMValueRef u = expm1_reduced(b, &r);
    LLVMValueRef p = pow2i(b, q_int(b, &r), ty); /* 2^q, 0 <= q <= 28 */
    LLVMValueRef e = mla(b, p, u, LLVMBuildFSub(b, p, one, ""));

    LLVMValueRef t = tanh_quotient(b, e);
    LLVMValueRef args[] = {t, x};
    return vm_call_intrinsic(b, "llvm.copysign", args, 2);
}

/* ---- sigmoid ---- */

/* PyTorch computes 1/(1 + e^-x) and gets exactly 0 once e^-x overflows,
 * i.e. for x <= -88.72283935546875 (float e^88.72283935546875 rounds to
 * +Inf), while just above it the result is a denormal near 2.9e-39. */
#define SIGMOID_ZERO_AT (-88.72283935546875f)

/* AVX-512: 1/(1 + e^-x) as written.  With e^-x = 2^q * m, m = T*e^s from
 * exp_by_table(), z = vscalefps(m, q) rounds e^-x once (+Inf where it
 * overflows, as PyTorch's expf), d = z + 1 once more, and the quotient is a
 * true division: 1/+Inf = 0 below SIGMOID_ZERO_AT (x = -Inf is clamped) and
 * denormal results round once, with no special cases.  On Zen 4 vdivps
 * costs about two FMA-pipe cycles, less than vrcp14ps and its two-FMA
 * Newton step (plus the FLT_MAX cap that kept Inf*0 out of the residual):
 * leaky_relu -> sigmoid -> tanh in L1, 4-5% faster (12.1 -> 11.5 us per 32K
 * floats, interleaved A/B), and the error stays within 2 ULP (exhaustive,
 * bench/vmath_accuracy.c).  The chain is bound by the FMA pipes (one
 * 512-bit FMA-class op a cycle; max, min and add run beside it), which is
 * why d = z + 1 is an addition, not an FMA.  NaN flows through.  NULL if an
 * intrinsic is missing. */
static LLVMValueRef sigmoid_avx512(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef one = vm_splat(ty, 1.0f);
    x = min_hi(b, max_lo(b, x, -EXP_LIMIT), EXP_LIMIT);
    struct exp_table e = exp_by_table(b, x, -1, true);
    LLVMValueRef z = e.m ? vm_isa_scalef(b, e.m, e.nf) : NULL;
    if (!z)
        return NULL;
    return LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, z, one, ""), "");
}

LLVMValueRef vm_sigmoid(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef one = vm_splat(ty, 1.0f);
    enum isa isa = vm_isa_of(b, ty);

    if (isa == ISA_AVX512) {
        LLVMValueRef y = sigmoid_avx512(b, x);
        if (y)
            return y;
    }
    if (isa == ISA_AVX) {
        /* vrcpps flushes tiny results, so keep the denominator in [1, 2]:
         * sigmoid = (x < 0 ? e : 1)/(1 + e) with e = e^-|x| <= 1 (the
         * clamp is one-sided), and e forced to 0 where PyTorch's e^-x
         * overflows.  NaN: e is NaN, neither compare holds. */
        LLVMValueRef a = min_hi(b, fabs1(b, x), EXP_LIMIT);
        LLVMValueRef e = exp_clamped(b, a, -1);
        LLVMValueRef zero_at = vm_splat(ty, SIGMOID_ZERO_AT);
        e = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLE, x, zero_at, ""),
                            LLVMConstNull(ty), e, "");
        LLVMValueRef neg =
            LLVMBuildFCmp(b, LLVMRealOLT, x, LLVMConstNull(ty), "");
        LLVMValueRef num = LLVMBuildSelect(b, neg, e, one, "");
        return divide(b, num, LLVMBuildFAdd(b, e, one, ""));
    }
    /* SSE, scalar: 1/(1 + e^-x) with a true division, which handles
     * d = +Inf (result 0) and denormal results by itself. */
    x = min_hi(b, max_lo(b, x, -EXP_LIMIT), EXP_LIMIT);
    LLVMValueRef d = LLVMBuildFAdd(b, exp_clamped(b, x, -1), one, "");
    return LLVMBuildFDiv(b, one, d, "");
}

/* ---- Helpers for the functions below ---- */

static LLVMValueRef sel(LLVMBuilderRef b, LLVMValueRef c, LLVMValueRef t,
                        LLVMValueRef f)
{
    return LLVMBuildSelect(b, c, t, f, "");
}

/* x OP c for a float constant c (ordered: false for NaN, except UNE/ULT). */
static LLVMValueRef cmp_c(LLVMBuilderRef b, LLVMRealPredicate p,
                          LLVMValueRef x, float c)
{
    return LLVMBuildFCmp(b, p, x, vm_splat(LLVMTypeOf(x), c), "");
}

static LLVMValueRef fadd_c(LLVMBuilderRef b, LLVMValueRef x, float c)
{
    return LLVMBuildFAdd(b, x, vm_splat(LLVMTypeOf(x), c), "");
}

static LLVMValueRef fmul_c(LLVMBuilderRef b, LLVMValueRef x, float c)
{
    return LLVMBuildFMul(b, x, vm_splat(LLVMTypeOf(x), c), "");
}

static LLVMValueRef as_int(LLVMBuilderRef b, LLVMValueRef x)
{
    return LLVMBuildBitCast(b, x, int_type(LLVMTypeOf(x)), "");
}

static LLVMValueRef as_float(LLVMBuilderRef b, LLVMValueRef i, LLVMTypeRef fty)
{
    return LLVMBuildBitCast(b, i, fty, "");
}

/* c[0] + c[1] x + ... + c[n-1] x^(n-1), Horner's scheme; HORNER takes the
 * length from the array c. */
#define HORNER(b, x, c) horner(b, x, c, (int)(sizeof c / sizeof *c))
static LLVMValueRef horner(LLVMBuilderRef b, LLVMValueRef x, const float *c,
                           int n)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef p = vm_splat(ty, c[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        p = mla(b, p, x, vm_splat(ty, c[i]));
    return p;
}

/* x with the low 12 bits of its significand cleared: 12 significant bits,
 * so that its square is exact. */
static LLVMValueRef high12(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMValueRef i = as_int(b, x);
    i = LLVMBuildAnd(b, i, splat_i32(LLVMTypeOf(i), (int32_t)0xfffff000u), "");
    return as_float(b, i, LLVMTypeOf(x));
}

/* ---- expm1 ---- */

/* e^x - 1 = 2^q (e^s - 1) + 2^q - 1 = 2^q * ((e^s - 1) + (1 - 2^-q)), with
 * 1 - 2^-q exact for -24 <= q <= 24 (and rounding to 1 above, where the
 * difference is below the result's precision): one rounding of the sum,
 * then an exact scaling.  Below x = -16.9 (q < -24) the result is -1 to
 * within 1 ULP; for |x| < 2^-24 it is x itself (±0 and denormals kept). */
LLVMValueRef vm_expm1(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x), ity = int_type(ty);
    LLVMValueRef xc = min_hi(b, max_lo(b, x, -EXP_LIMIT), EXP_LIMIT);
    struct reduced r = reduce(b, xc, 1, 0);
    LLVMValueRef u = expm1_reduced(b, &r);
    LLVMValueRef q = q_int(b, &r);
    LLVMValueRef lo = splat_i32(ity, -24), hi = splat_i32(ity, 100);
    LLVMValueRef qc = sel(b, LLVMBuildICmp(b, LLVMIntSLT, q, lo, ""), lo, q);
    qc = sel(b, LLVMBuildICmp(b, LLVMIntSGT, qc, hi, ""), hi, qc);
    LLVMValueRef t = LLVMBuildFSub(
        b, vm_splat(ty, 1.0f), pow2i(b, LLVMBuildNeg(b, qc, ""), ty), "");
    LLVMValueRef y = scale(b, LLVMBuildFAdd(b, u, t, ""), &r);
    y = sel(b, cmp_c(b, LLVMRealOLT, x, -16.9f), vm_splat(ty, -1.0f), y);
    return sel(b, cmp_c(b, LLVMRealOLT, fabs1(b, x), 0x1p-24f), x, y);
}

/* ---- log, log1p ---- */

/* log(1 + f) + k*ln2 + c for f in [sqrt(2)/2 - 1, sqrt(2) - 1], as fdlibm's
 * logf/log1pf (FreeBSD msun): s = f/(2 + f), log(1 + f) = 2 atanh(s) =
 * f - f^2/2 + s*(f^2/2 + R(s^2)), R a minimax polynomial; ln2 in two
 * parts, so k*ln2_hi is exact.  c corrects for the rounding of 1 + x in
 * log1p (0 for log). */
static LLVMValueRef log_core(LLVMBuilderRef b, LLVMValueRef f, LLVMValueRef k,
                             LLVMValueRef c)
{
    const float lg1 = 0xaaaaaa.0p-24f, lg2 = 0xccce13.0p-25f,
                lg3 = 0x91e9ee.0p-25f, lg4 = 0xf89e26.0p-26f;
    const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
    LLVMTypeRef ty = LLVMTypeOf(f);
    LLVMValueRef dk = LLVMBuildSIToFP(b, k, ty, "");
    LLVMValueRef s = LLVMBuildFDiv(b, f, fadd_c(b, f, 2.0f), "");
    LLVMValueRef z = LLVMBuildFMul(b, s, s, "");
    LLVMValueRef w = LLVMBuildFMul(b, z, z, "");
    LLVMValueRef t1 = LLVMBuildFMul(
        b, w, mla(b, w, vm_splat(ty, lg4), vm_splat(ty, lg2)), "");
    LLVMValueRef t2 = LLVMBuildFMul(
        b, z, mla(b, w, vm_splat(ty, lg3), vm_splat(ty, lg1)), "");
    LLVMValueRef R = LLVMBuildFAdd(b, t2, t1, "");
    LLVMValueRef hfsq = LLVMBuildFMul(b, fmul_c(b, f, 0.5f), f, "");
    LLVMValueRef lo = mla(b, dk, vm_splat(ty, ln2_lo), c);
    LLVMValueRef y = mla(b, s, LLVMBuildFAdd(b, hfsq, R, ""), lo);
    y = LLVMBuildFAdd(b, LLVMBuildFSub(b, y, hfsq, ""), f, "");
    return mla(b, dk, vm_splat(ty, ln2_hi), y);
}

/* Splits the bits of a positive float u as 2^k * m, m in
 * [sqrt(2)/2, sqrt(2)): returns k, and m in *m. */
static LLVMValueRef log_split(LLVMBuilderRef b, LLVMValueRef u, LLVMValueRef *m)
{
    LLVMTypeRef ty = LLVMTypeOf(u), ity = int_type(ty);
    LLVMValueRef iu = LLVMBuildAdd(b, as_int(b, u),
                                   splat_i32(ity, 0x3f800000 - 0x3f3504f3), "");
    LLVMValueRef k = LLVMBuildSub(
        b, LLVMBuildLShr(b, iu, splat_i32(ity, 23), ""), splat_i32(ity, 0x7f),
        "");
    LLVMValueRef im = LLVMBuildAdd(
        b, LLVMBuildAnd(b, iu, splat_i32(ity, 0x007fffff), ""),
        splat_i32(ity, 0x3f3504f3), "");
    *m = as_float(b, im, ty);
    return k;
}

/* log(x): denormals scaled by 2^25 first; NaN or x < 0 give NaN, ±0 -Inf,
 * +Inf +Inf. */
LLVMValueRef vm_log(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x), ity = int_type(ty);
    LLVMValueRef tiny = cmp_c(b, LLVMRealOLT, x, 0x1p-126f);
    LLVMValueRef xs = sel(b, tiny, fmul_c(b, x, 0x1p25f), x);
    LLVMValueRef m;
    LLVMValueRef k = log_split(b, xs, &m);
    k = LLVMBuildSub(b, k, sel(b, tiny, splat_i32(ity, 25), splat_i32(ity, 0)),
                     "");
    LLVMValueRef y =
        log_core(b, fadd_c(b, m, -1.0f), k, LLVMConstNull(ty));
    y = sel(b, cmp_c(b, LLVMRealOEQ, x, INFINITY), x, y);
    y = sel(b, cmp_c(b, LLVMRealOEQ, x, 0.0f), vm_splat(ty, -INFINITY), y);
    return sel(b, cmp_c(b, LLVMRealULT, x, 0.0f), vm_splat(ty, NAN), y);
}

/* log(1 + x), fdlibm's log1pf without branches: u = 1 + x rounded,
 * u = 2^k m; f = m - 1 and the rounding error of u folded in as
 * c = (x - (u - 1))/u (or (1 - (u - x))/u for k >= 2, 0 for k >= 25); for
 * k = 0, f = x exactly.  |x| < 2^-24 gives x (±0, denormals); x = -1 -Inf;
 * x < -1 or NaN NaN; +Inf +Inf. */
LLVMValueRef vm_log1p(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x), ity = int_type(ty);
    LLVMValueRef one = vm_splat(ty, 1.0f), zero = LLVMConstNull(ty);
    LLVMValueRef u = LLVMBuildFAdd(b, x, one, "");
    LLVMValueRef m;
    LLVMValueRef k = log_split(b, u, &m);
    LLVMValueRef c_lo = LLVMBuildFSub(b, x, LLVMBuildFSub(b, u, one, ""), "");
    LLVMValueRef c_hi = LLVMBuildFSub(b, one, LLVMBuildFSub(b, u, x, ""), "");
    LLVMValueRef c = sel(b, LLVMBuildICmp(b, LLVMIntSGE, k, splat_i32(ity, 2), ""),
                         c_hi, c_lo);
    c = LLVMBuildFDiv(b, c, u, "");
    LLVMValueRef k0 = LLVMBuildICmp(b, LLVMIntEQ, k, splat_i32(ity, 0), "");
    c = sel(b, LLVMBuildICmp(b, LLVMIntSGE, k, splat_i32(ity, 25), ""), zero, c);
    c = sel(b, k0, zero, c);
    LLVMValueRef f = sel(b, k0, x, fadd_c(b, m, -1.0f));
    LLVMValueRef y = log_core(b, f, k, c);
    y = sel(b, cmp_c(b, LLVMRealOEQ, x, INFINITY), x, y);
    y = sel(b, cmp_c(b, LLVMRealOEQ, x, -1.0f), vm_splat(ty, -INFINITY), y);
    y = sel(b, cmp_c(b, LLVMRealULT, x, -1.0f), vm_splat(ty, NAN), y);
    return sel(b, cmp_c(b, LLVMRealOLT, fabs1(b, x), 0x1p-24f), x, y);
}

/* ---- erf, erfc ---- */

/* e^(hi + lo) as 2^q (1 + u): returns u and the reduction (for scale()).
 * hi <= 0 (clamped to -EXP_LIMIT), |lo| <= 0.06: q from hi + lo, s =
 * (hi - q*l2u) + (lo - q*l2l), the first difference exact. */
static LLVMValueRef exp_hilo(LLVMBuilderRef b, LLVMValueRef hi, LLVMValueRef lo,
                             struct reduced *r)
{
    const float magic = 12582912.0f;
    const float l2u = 0.693145751953125f, l2l = 1.428606765330187045e-06f;
    LLVMTypeRef ty = LLVMTypeOf(hi);
    hi = max_lo(b, hi, -EXP_LIMIT);
    r->sign = 1;
    r->t = mla(b, LLVMBuildFAdd(b, hi, lo, ""),
               vm_splat(ty, 1.442695040888963407f), vm_splat(ty, magic));
    r->qf = LLVMBuildFSub(b, r->t, vm_splat(ty, magic), "");
    /* the small terms first, so that s rounds once */
    LLVMValueRef v = mla(b, r->qf, vm_splat(ty, -l2u), hi);
    lo = mla(b, r->qf, vm_splat(ty, -l2l), lo);
    r->v = LLVMBuildFAdd(b, v, lo, "");
    return expm1_reduced(b, r);
}

/* erf(a)/a - 1 on t = a^2 in [0, 1] (weighted least squares toward
 * minimax, coefficients rounded to float one at a time: 0.03 ULP of
 * erf(a)/a). */
static const float erf_y[] = {0x1.06eba8p-3f,  -0x1.81273ep-2f, 0x1.ce2cf2p-4f,
                              -0x1.b7f88cp-6f, 0x1.540170p-8f,  -0x1.a3d7ecp-11f,
                              0x1.4916f2p-14f};
/* erfc(a) e^(a^2) on [0, 0.8] in a - 0.40234375, where it is within 0.006
 * ULP of a float, so that the constant term rounds that little (0.04 ULP;
 * src/codegen/vmath_fit.py fits it), for gelu. */
static const float erfc_r0[] = {
    0x1.56bc06p-1f,  -0x1.2def9ep-1f, 0x1.ba8136p-2f,  -0x1.1be31ep-2f,
    0x1.484af2p-3f,  -0x1.5cab00p-4f, 0x1.579454p-5f,  -0x1.3b94dap-6f,
    0x1.2ac434p-7f,  -0x1.183c26p-8f};
#define ERFC_R0_AT 0.40234375f
/* erfc(a) e^(a^2) on [0.8, 2], a polynomial in a - 1.34375 (0.02 ULP). */
static const float erfc_ra[] = {
    0x1.658634p-2f,  -0x1.853a50p-3f, 0x1.800c12p-4f,  -0x1.5ddbacp-5f,
    0x1.29fc88p-6f,  -0x1.deb406p-8f, 0x1.6caa5ep-9f,  -0x1.0dbb60p-10f,
    0x1.93051cp-12f, -0x1.c27d2ap-14f};
#define ERFC_RA_AT 1.34375f
/* erfc(a) e^(a^2) on [2, 4] in a - 3 (0.13 ULP) and on [4, 10.5] in
 * a - 7.25 (0.3 ULP): polynomials in a itself, so that no rounded 1/a or
 * division adds to the two roundings of the result. */
static const float erfc_rb[] = {
    0x1.6e9828p-3f,  -0x1.bd6ae4p-5f,  0x1.043fb6p-6f,  -0x1.25908ap-8f,
    0x1.40afe8p-10f, -0x1.53e094p-12f, 0x1.5b5244p-14f, -0x1.5e7beep-16f,
    0x1.8f5fc2p-18f, -0x1.74776ep-20f};
static const float erfc_rc[] = {
    0x1.3bcc5ap-4f,   -0x1.5621e4p-7f,  0x1.6f685ep-10f,  -0x1.872ceep-13f,
    0x1.9d1070p-16f,  -0x1.b07f10p-19f, 0x1.bfa5ecp-22f,  -0x1.ce6862p-25f,
    0x1.eedef6p-28f,  -0x1.ed6c98p-31f, 0x1.540cbcp-34f,  -0x1.7c0e08p-37f,
    0x1.de4c9ap-39f,  -0x1.b57804p-42f};

/* erfc(a) e^(a^2) on [4, 7] in a - 5.87109375 (0.06 ULP) and on [7, 10.5]
 * in a - 8.6484375 (0.01 ULP), for gelu on AVX-512 (vmath_fit.py): two
 * polynomials as short as the others, for one Horner chain of 10. */
static const float erfc_rd[] = {
    0x1.8421e8p-4f,  -0x1.0144bap-6f,  0x1.50a95ap-9f,  -0x1.b3129ep-12f,
    0x1.15b9bap-14f, -0x1.5f2b44p-17f, 0x1.b8118ap-20f, -0x1.f82954p-23f,
    0x1.38ffc6p-25f, -0x1.87253ep-27f};
static const float erfc_re[] = {
    0x1.097484p-4f,  -0x1.e4bf4ep-8f,  0x1.b7ce08p-11f, -0x1.8c8ec2p-14f,
    0x1.636302p-17f, -0x1.3c7a16p-20f, 0x1.17e846p-23f, -0x1.f36e3ep-27f,
    0x1.cfdf34p-30f, -0x1.50aab6p-33f};

/* A polynomial of erfc(a) e^(a^2) in a - at, from a = from on. */
typedef struct erfc_piece {
    const float *c;
    int n;
    float at, from;
} erfc_piece;
#define PIECE(c, at, from) {c, (int)(sizeof c / sizeof *c), at, from}
static const erfc_piece erfc_r0_piece = PIECE(erfc_r0, ERFC_R0_AT, 0.0f),
                        erfc_ra_piece = PIECE(erfc_ra, ERFC_RA_AT, 0.8f),
                        erfc_rb_piece = PIECE(erfc_rb, 3.0f, 2.0f),
                        erfc_rc_piece = PIECE(erfc_rc, 7.25f, 4.0f),
                        erfc_rd_piece = PIECE(erfc_rd, 5.87109375f, 4.0f),
                        erfc_re_piece = PIECE(erfc_re, 8.6484375f, 7.0f);
enum { ERFC_MAX_PIECES = 5 };

/* R(ac), erfc(ac) e^(ac^2), by the piece whose interval holds ac (the
 * first also below it; the last also for NaN).  Where the target has a
 * per-lane table of n entries (vm_isa_table), each lane looks its centre
 * and coefficients up and one Horner chain runs instead of them all: the
 * shorter polynomials start with zeros, and 0*t + c is c exactly, so every
 * lane's result is the one its own polynomial gives. */
static LLVMValueRef erfc_scaled(LLVMBuilderRef b, LLVMValueRef ac,
                                const erfc_piece *const *pc, int n)
{
    LLVMTypeRef ty = LLVMTypeOf(ac);
    LLVMValueRef on[ERFC_MAX_PIECES]; /* on[j]: ac is past piece j's start,
                                          or NaN */
    for (int j = 1; j < n; j++)
        on[j] = cmp_c(b, LLVMRealUGE, ac, pc[j]->from);
    if (n > vm_isa_table_size(b, ty)) {
        LLVMValueRef r = NULL;
        for (int j = n - 1; j >= 0; j--) {
            LLVMValueRef p =
                horner(b, fadd_c(b, ac, -pc[j]->at), pc[j]->c, pc[j]->n);
            r = r ? sel(b, on[j + 1], r, p) : p;
        }
        return r;
    }
    LLVMTypeRef ity = int_type(ty);
    LLVMValueRef idx = NULL;
    int longest = 0;
    for (int j = 0; j < n; j++)
        longest = pc[j]->n > longest ? pc[j]->n : longest;
    for (int j = 1; j < n; j++) {
        LLVMValueRef one = LLVMBuildZExt(b, on[j], ity, "");
        idx = idx ? LLVMBuildAdd(b, idx, one, "") : one;
    }
    float table[ERFC_MAX_PIECES];
    for (int j = 0; j < n; j++)
        table[j] = pc[j]->at;
    LLVMValueRef t = LLVMBuildFSub(b, ac, vm_isa_table(b, table, n, idx), "");
    LLVMValueRef r = NULL;
    for (int k = longest - 1; k >= 0; k--) {
        for (int j = 0; j < n; j++)
            table[j] = k < pc[j]->n ? pc[j]->c[k] : 0.0f;
        LLVMValueRef c = vm_isa_table(b, table, n, idx);
        r = r ? mla(b, r, t, c) : c;
    }
    return r;
}

/* The pieces of erf/erfc at a = |x| (a NaN propagates into all):
 *   small: a*(1 + Y(a^2)) = erf(a), accurate for a < 1;
 *   ysmall: a*Y, for erfc on a < 0.8 as 1 - (a + aY) (a < 1/4) or
 *           0.5 - ((a - 0.5) + aY), whose rounding errors stay below
 *           erfc's ULP;
 *   tail: erfc(a) = e^(-a^2) R(a) for a >= 0.8, with -a^2 = ehi + elo
 *         given exactly by the caller, (1 + u) R rounded once, then
 *         scaled by 2^q; it underflows to 0 from a = 10.05. */
struct erf_parts {
    LLVMValueRef small, tail, ec_small;
    LLVMValueRef tail_m;  /* tail = tail_m * 2^q, tail_m = (1 + u) R */
    struct reduced r;
};

static struct erf_parts erf_pieces(LLVMBuilderRef b, LLVMValueRef a,
                                   LLVMValueRef ehi, LLVMValueRef elo)
{
    LLVMTypeRef ty = LLVMTypeOf(a);
    struct erf_parts p;
    LLVMValueRef t = LLVMBuildFMul(b, a, a, "");
    LLVMValueRef ay = LLVMBuildFMul(b, a, HORNER(b, t, erf_y), "");
    p.small = LLVMBuildFAdd(b, a, ay, "");
    LLVMValueRef e1 = LLVMBuildFSub(b, vm_splat(ty, 1.0f), p.small, "");
    LLVMValueRef e2 = LLVMBuildFSub(
        b, vm_splat(ty, 0.5f),
        LLVMBuildFAdd(b, fadd_c(b, a, -0.5f), ay, ""), "");
    p.ec_small = sel(b, cmp_c(b, LLVMRealOLT, a, 0.25f), e1, e2);

    static const erfc_piece *const pieces[] = {&erfc_ra_piece, &erfc_rb_piece,
                                               &erfc_rc_piece};
    LLVMValueRef R = erfc_scaled(b, min_hi(b, a, 10.5f), pieces, 3);
    LLVMValueRef u = exp_hilo(b, ehi, elo, &p.r);
    p.tail_m = mla(b, R, u, R); /* (1 + u) R rounded once */
    p.tail = scale(b, p.tail_m, &p.r);
    return p;
}

/* -a^2 as hi + lo for 0 <= a <= limit (clamped here): with z = high12(a),
 * a^2 = z^2 + (a - z)(a + z), z^2 exact. */
static void neg_square(LLVMBuilderRef b, LLVMValueRef a, float limit,
                       LLVMValueRef *hi, LLVMValueRef *lo)
{
    a = min_hi(b, a, limit);
    LLVMValueRef z = high12(b, a);
    *hi = LLVMBuildFNeg(b, LLVMBuildFMul(b, z, z, ""), "");
    *lo = LLVMBuildFMul(b, LLVMBuildFSub(b, z, a, ""), LLVMBuildFAdd(b, z, a, ""),
                        "");
}

LLVMValueRef vm_erf(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef a = fabs1(b, x), hi, lo;
    neg_square(b, a, 10.5f, &hi, &lo);
    struct erf_parts p = erf_pieces(b, a, hi, lo);
    LLVMValueRef big = LLVMBuildFSub(b, vm_splat(ty, 1.0f), p.tail, "");
    LLVMValueRef y = sel(b, cmp_c(b, LLVMRealOLT, a, 1.0f), p.small, big);
    LLVMValueRef args[] = {y, x};
    return vm_call_intrinsic(b, "llvm.copysign", args, 2);
}

/* erfc(x) for x >= 0 is the pieces' erfc(a); for x < 0, 1 + erf(a) or
 * 2 - erfc(a). */
static LLVMValueRef erfc_signed(LLVMBuilderRef b, LLVMValueRef neg,
                                LLVMValueRef a, const struct erf_parts *p)
{
    LLVMTypeRef ty = LLVMTypeOf(a);
    LLVMValueRef lt = cmp_c(b, LLVMRealOLT, a, 0.8f);
    LLVMValueRef pos = sel(b, lt, p->ec_small, p->tail);
    LLVMValueRef ng = sel(b, lt, fadd_c(b, p->small, 1.0f),
                          LLVMBuildFSub(b, vm_splat(ty, 2.0f), p->tail, ""));
    return sel(b, neg, ng, pos);
}

LLVMValueRef vm_erfc(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMValueRef a = fabs1(b, x), hi, lo;
    neg_square(b, a, 10.5f, &hi, &lo);
    struct erf_parts p = erf_pieces(b, a, hi, lo);
    return erfc_signed(b, cmp_c(b, LLVMRealOLT, x, 0.0f), a, &p);
}

/* ---- activations built on the internals ---- */

LLVMValueRef vm_gelu(LLVMBuilderRef b, LLVMValueRef x)
{
    /* x Φ(x), Φ(x) = erfc(-z)/2 with z = x/sqrt(2) rounded: erfc(a) =
     * e^(-a^2) R(a) at a = |z| on every interval (R from 0: erfc_scaled),
     * and for x >= 0 2 - erfc(a), which is at least 1, so nothing cancels
     * and no erf polynomial is needed.  The exponent -z^2 = -x^2/2 comes
     * from x exactly (-x^2 from neg_square() on |x| <= 15, halved), as its
     * rounding would be amplified by |z|^2. */
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef a = fabs1(b, fmul_c(b, x, 0.70710678118654752f)), hi, lo;
    neg_square(b, fabs1(b, x), 15.0f, &hi, &lo);
    hi = fmul_c(b, hi, 0.5f);
    lo = fmul_c(b, lo, 0.5f);
    /* With a table of 5 (AVX-512), [4, 10.5] in two, for a chain of 10
     * coefficients */
    static const erfc_piece *const wide[] = {&erfc_r0_piece, &erfc_ra_piece,
                                             &erfc_rb_piece, &erfc_rd_piece,
                                             &erfc_re_piece},
                            *const other[] = {&erfc_r0_piece, &erfc_ra_piece,
                                              &erfc_rb_piece, &erfc_rc_piece};
    bool split = vm_isa_table_size(b, ty) >= 5;
    LLVMValueRef R = erfc_scaled(b, min_hi(b, a, 10.5f), split ? wide : other,
                                 split ? 5 : 4);
    struct reduced r;
    LLVMValueRef u = exp_hilo(b, hi, lo, &r);
    LLVMValueRef tail_m = mla(b, R, u, R); /* (1 + u) R rounded once */
    LLVMValueRef tail = scale(b, tail_m, &r);
    LLVMValueRef hx = fmul_c(b, x, 0.5f);
    LLVMValueRef e = sel(b, cmp_c(b, LLVMRealOGE, x, 0.0f),
                         LLVMBuildFSub(b, vm_splat(ty, 2.0f), tail, ""), tail);
    LLVMValueRef y = LLVMBuildFMul(b, hx, e, "");
    /* For x < 0, x/2 multiplies the unscaled mantissa, so that a result
     * near FLT_MIN rounds once, not after a denormal erfc; below -15 (the
     * exponent's clamp) y itself: -0, or NaN for -Inf. */
    LLVMValueRef yt = scale(b, LLVMBuildFMul(b, hx, tail_m, ""), &r);
    LLVMValueRef neg = LLVMBuildAnd(b, cmp_c(b, LLVMRealOLT, x, 0.0f),
                                    cmp_c(b, LLVMRealOGE, x, -15.0f), "");
    y = sel(b, neg, yt, y);
    return fadd_c(b, y, 0.0f); /* -0 -> +0, as PyTorch (oneDNN) */
}

/* (a - tanh a)/a^3 on t = a^2 in [0, 1] (0.5 ULP, the rounding of 1/3). */
static const float tanhshrink_p[] = {
    0x1.555556p-2f,  -0x1.11112cp-3f, 0x1.ba1b04p-5f,  -0x1.660178p-6f,
    0x1.1eb534p-7f,  -0x1.ad2322p-9f, 0x1.fb886cp-11f, -0x1.443aaep-13f};

LLVMValueRef vm_tanhshrink(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef a = fabs1(b, x);
    LLVMValueRef t = LLVMBuildFMul(b, a, a, "");
    LLVMValueRef small = LLVMBuildFMul(b, LLVMBuildFMul(b, a, t, ""),
                                       HORNER(b, t, tanhshrink_p), "");
    /* a - tanh a = (a - 1) + 2/(e^2a + 1): two positive terms for a >= 1,
     * a - 1 exact. */
    LLVMValueRef e = vm_exp(b, LLVMBuildFAdd(b, a, a, ""));
    LLVMValueRef big = LLVMBuildFAdd(
        b, fadd_c(b, a, -1.0f),
        LLVMBuildFDiv(b, vm_splat(ty, 2.0f), fadd_c(b, e, 1.0f), ""), "");
    LLVMValueRef y = sel(b, cmp_c(b, LLVMRealOLT, a, 1.0f), small, big);
    LLVMValueRef args[] = {y, x};
    y = vm_call_intrinsic(b, "llvm.copysign", args, 2);
    return fadd_c(b, y, 0.0f); /* x - tanh(x) is +0, never -0 */
}

LLVMValueRef vm_mish(LLVMBuilderRef b, LLVMValueRef x)
{
    /* x >= -1: x n/(n + 2), n's error damped by 2/(n + 2) <= 0.7. */
    LLVMValueRef e = vm_exp(b, min_hi(b, x, 20.0f));
    LLVMValueRef n = LLVMBuildFMul(b, e, fadd_c(b, e, 2.0f), "");
    LLVMValueRef y = LLVMBuildFMul(
        b, x, LLVMBuildFDiv(b, n, fadd_c(b, n, 2.0f), ""), "");
    /* x < -1: tanh(softplus(x)) = e h, h = 1 - e(1 + e)/(2 + e(2 + e)) in
     * (0.82, 1]; x e^x = 2^q (x (1 + u)) multiplied by h, scaled last:
     * three roundings, denormal results rounded once.  Below -120, where
     * x e^x is below the smallest denormal, y (x * 0: -0, NaN for -Inf). */
    struct reduced r = reduce(b, max_lo(b, x, -120.0f), 1, 0);
    LLVMValueRef m = fadd_c(b, expm1_reduced(b, &r), 1.0f);
    LLVMValueRef en = scale(b, m, &r);
    LLVMValueRef g = LLVMBuildFDiv(
        b, LLVMBuildFMul(b, en, fadd_c(b, en, 1.0f), ""),
        fadd_c(b, LLVMBuildFMul(b, en, fadd_c(b, en, 2.0f), ""), 2.0f), "");
    LLVMValueRef h = LLVMBuildFSub(b, vm_splat(LLVMTypeOf(x), 1.0f), g, "");
    LLVMValueRef yn = scale(
        b, LLVMBuildFMul(b, LLVMBuildFMul(b, x, m, ""), h, ""), &r);
    LLVMValueRef neg = LLVMBuildAnd(b, cmp_c(b, LLVMRealOLT, x, -1.0f),
                                    cmp_c(b, LLVMRealOGE, x, -120.0f), "");
    return sel(b, neg, yn, y);
}

/* tanh(x) = x (1 + x^2 Q(x^2)) for |x| <= 1, Q minimax (Lawson) for the
 * relative error of tanh, 0.08 * 2^-23 before rounding, then its float
 * coefficients nudged by a few ulps until no float in [0.8, 1] is 2 ULP off
 * with or without FMA (as rounded first, SSE2 reached 2 ULP near 0.907);
 * 1 ULP measured over every float in [-1, 1] on every target.  The form
 * x * (...) keeps tanh(-0) = -0. */
static const float tanh_unit_q[] = {
    -0x1.55553ep-2f, 0x1.110c12p-3f, -0x1.b966b2p-5f, 0x1.6023c4p-6f,
    -0x1.04ad4cp-7f, 0x1.2e82aep-9f, -0x1.79d598p-12f};

LLVMValueRef vm_tanh_unit(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMValueRef u = LLVMBuildFMul(b, x, x, "");
    LLVMValueRef q = HORNER(b, u, tanh_unit_q);
    return LLVMBuildFMul(b, x, mla(b, u, q, vm_splat(LLVMTypeOf(x), 1.0f)),
                         "");
}
