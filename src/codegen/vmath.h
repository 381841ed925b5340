/* Vector math emitted as LLVM IR: inline, branch-free approximations that
 * work for any vector width (and for plain float scalars).  Each takes a
 * value of type float or <W x float> and returns the same type, inserting
 * instructions at the builder's position.  Accuracy and special values follow
 * PyTorch's CPU kernels (NaN propagates, ±Inf and ±0 handled, denormal
 * results kept, no flush-to-zero). */
#ifndef ACTJIT_VMATH_H
#define ACTJIT_VMATH_H

#include <llvm-c/Core.h>

/* e^x, ≤ 1 ULP; overflow to +Inf, underflow through denormals to +0. */
LLVMValueRef vm_exp(LLVMBuilderRef b, LLVMValueRef x);
/* tanh(x), ≤ 2 ULP, always within [-1, 1], odd (tanh(-0) = -0). */
LLVMValueRef vm_tanh(LLVMBuilderRef b, LLVMValueRef x);
/* 1 / (1 + e^-x) without overflow, ≤ 2 ULP, within [0, 1]. */
LLVMValueRef vm_sigmoid(LLVMBuilderRef b, LLVMValueRef x);

/* Helpers shared by the emitters. */
LLVMValueRef vm_splat(LLVMTypeRef ty, float c); /* constant c of type ty */
/* Call intrinsic `name` (e.g. "llvm.fabs", "llvm.fmuladd", "llvm.copysign"),
 * overloaded on the type of args[0]. */
LLVMValueRef vm_call_intrinsic(LLVMBuilderRef b, const char *name,
                               LLVMValueRef *args, unsigned nargs);

#endif
