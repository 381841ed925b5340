/* Vector math emitted as LLVM IR: inline, branch-free approximations for
 * float and <W x float>.  Each takes a value of type float or <W x float>
 * and returns the same type, inserting instructions at the builder's
 * position.  Accuracy and special values follow PyTorch's CPU kernels (NaN
 * propagates, ±Inf and ±0 handled, denormal results kept, no flush-to-zero).
 * Error bounds are against the correctly rounded result, checked over every
 * float by bench/vmath_accuracy.c; the library never aborts.
 *
 * Target: the function being built declares its register width with the
 * string attribute VM_REG_LANES_ATTR ("16", "8" or "4" floats), and vectors
 * of 1 to 4 such registers use that ISA's instructions.  Without the
 * attribute the lane count decides:
 *   16k lanes (k <= 4)  need AVX-512F (vscalefps, vrcp14ps, vpermps);
 *   8k lanes            need AVX (vrcpps, vpermilps), and assume FMA as on
 *                       every AVX2 CPU: without it (Sandy/Ivy Bridge)
 *                       sigmoid's error can reach 3 ULP, exp and tanh stay
 *                       in bounds;
 *   4k lanes            SSE2 only (divisions are divps);
 *   anything else       plain IR.
 * A vector k registers wide (say <64 x float> on AVX-512) is handled a
 * register at a time where an x86 intrinsic is used, so callers may widen
 * vectors to interleave independent work.  Emitting a 16k-lane vector for a
 * target without AVX-512F would not compile. */
#ifndef ACTJIT_VMATH_H
#define ACTJIT_VMATH_H

#include <llvm-c/Core.h>

#define VM_REG_LANES_ATTR "actjit-reg-lanes"

/* e^x, <= 1 ULP; overflow to +Inf (from x = 88.72283935546875), underflow
 * through denormals to +0. */
LLVMValueRef vm_exp(LLVMBuilderRef b, LLVMValueRef x);
/* vm_exp for x <= 104 (NaN and -Inf allowed), such as
 * softmax's x - max: one instruction less (no upper clamp); larger x give
 * +Inf or NaN. */
LLVMValueRef vm_exp_nonpos(LLVMBuilderRef b, LLVMValueRef x);
/* tanh(x), <= 2 ULP, always within [-1, 1], odd (tanh(-0) = -0). */
LLVMValueRef vm_tanh(LLVMBuilderRef b, LLVMValueRef x);
/* tanh(x) for |x| <= 1 (outside: not tanh), <= 1 ULP, odd, NaN passes: a
 * polynomial, no exp and no division.  Codegen uses it where value_range
 * bounds the operand. */
LLVMValueRef vm_tanh_unit(LLVMBuilderRef b, LLVMValueRef x);
/* 1 / (1 + e^-x), <= 2 ULP, within [0, 1].  As in PyTorch (1.13, SLEEF):
 * exactly 0 where e^-x overflows, x <= -88.72283935546875; from there up
 * to x = -87.34 the results are denormals (2.94e-39 at -88.7228). */
LLVMValueRef vm_sigmoid(LLVMBuilderRef b, LLVMValueRef x);

/* e^x - 1, <= 2 ULP; -1 below x = -16.9 (1 ULP), x itself for
 * |x| < 2^-24 (so expm1(-0) = -0), +Inf from x = 88.72283935546875. */
LLVMValueRef vm_expm1(LLVMBuilderRef b, LLVMValueRef x);
/* Natural log, <= 1 ULP: log(±0) = -Inf, log(x < 0) = NaN, log(+Inf) =
 * +Inf, denormals exact. */
LLVMValueRef vm_log(LLVMBuilderRef b, LLVMValueRef x);
/* log(1 + x), <= 2 ULP: -Inf at -1, NaN below, x itself for |x| < 2^-24. */
LLVMValueRef vm_log1p(LLVMBuilderRef b, LLVMValueRef x);
/* erf(x), <= 2 ULP, odd, within [-1, 1]. */
LLVMValueRef vm_erf(LLVMBuilderRef b, LLVMValueRef x);
/* erfc(x) = 1 - erf(x) without cancellation, <= 2 ULP (denormal results
 * from x = 9.2, 0 from x = 10.05), within [0, 2]. */
LLVMValueRef vm_erfc(LLVMBuilderRef b, LLVMValueRef x);
/* GELU(x) = x/2 * erfc(-x/sqrt(2)) (PyTorch approximate='none'), the
 * exponent of the tail formed exactly from x; zero results are +0 and
 * -Inf gives NaN, as in PyTorch. */
LLVMValueRef vm_gelu(LLVMBuilderRef b, LLVMValueRef x);
/* x - tanh(x) without its cancellation near 0 (a polynomial in x^2 below
 * |x| = 1); zero results are +0, as PyTorch's x - tanh(x). */
LLVMValueRef vm_tanhshrink(LLVMBuilderRef b, LLVMValueRef x);

/* mish(x) = x tanh(log1p(e^x)), PyTorch's definition: for x >= -1 as
 * x n/(n + 2) with n = e^x (e^x + 2) (e^x capped at e^20, where the ratio
 * is 1); for x < -1 as x e^x h with x e^x rounded once (denormal results
 * included).  mish(-Inf) is NaN, as in PyTorch. */
LLVMValueRef vm_mish(LLVMBuilderRef b, LLVMValueRef x);

/* Helpers shared by the emitters. */
LLVMValueRef vm_splat(LLVMTypeRef ty, float c); /* constant c of type ty */
/* Call intrinsic `name` (e.g. "llvm.fabs", "llvm.fmuladd", "llvm.copysign"),
 * overloaded on the type of args[0].  An unknown name gives poison. */
LLVMValueRef vm_call_intrinsic(LLVMBuilderRef b, const char *name,
                               LLVMValueRef *args, unsigned nargs);

#endif
