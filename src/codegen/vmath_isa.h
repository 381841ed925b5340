/* What vector math may use for a value on the target (vmath.h says how the
 * register width is chosen), and the operations that have no target-neutral
 * LLVM form.  vmath_x86.c defines them: the one file of codegen that names
 * x86 intrinsics.  Another ISA brings its own file and enumerators. */
#ifndef ACTJIT_VMATH_ISA_H
#define ACTJIT_VMATH_ISA_H

#include <stddef.h>

#include <llvm-c/Core.h>

enum isa { ISA_GENERIC, ISA_SSE, ISA_AVX, ISA_AVX512 };

/* Lanes of the widest value vector math takes (4 AVX-512 registers). */
enum { VM_MAX_LANES = 64 };

/* The instructions a value of type ty may use: those of the register width
 * the function declares, for values of up to 4 registers; without the
 * attribute, 16k lanes AVX-512, 8k AVX, 4k SSE; anything else plain IR. */
enum isa vm_isa_of(LLVMBuilderRef b, LLVMTypeRef ty);
/* An estimate of 1/d: vrcp14ps (rel. error < 2^-14, denormal results kept)
 * for AVX-512, vrcpps (< 1.5*2^-12, tiny results flushed to 0) for AVX.
 * NULL elsewhere, where callers divide: refining an estimate needs an exact
 * residual d*r - 1, i.e. FMA, and SSE-only targets (4 lanes) have no FMA (it
 * is VEX-encoded), so there rcpps + Newton would cost about as much as divps
 * and miss the error bounds (3 ULP for sigmoid, measured). */
LLVMValueRef vm_isa_rcp(LLVMBuilderRef b, LLVMValueRef d);
/* u * 2^floor(qf), one rounding (vscalefps), for AVX-512 values. */
LLVMValueRef vm_isa_scalef(LLVMBuilderRef b, LLVMValueRef u, LLVMValueRef qf);
/* Entries a per-lane table lookup (vm_isa_table) takes for values of type
 * ty: 16 AVX-512 (vpermps), 4 AVX (vpermilps, which picks within each
 * 128-bit half: the table sits in both), 0 elsewhere. */
int vm_isa_table_size(LLVMBuilderRef b, LLVMTypeRef ty);
/* table[idx mod size] lane by lane, for n <= size = vm_isa_table_size()
 * entries (0 past them), NULL for more; idx has the lanes of the value it
 * was asked for. */
LLVMValueRef vm_isa_table(LLVMBuilderRef b, const float *table, int n, LLVMValueRef idx);
/* Orders non-temporal stores before whatever reads their memory next
 * (sfence). */
void vm_isa_stream_fence(LLVMBuilderRef b);

/* (vmath.c) A call of intrinsic `name`, overloaded on the nover types in
 * over (none: a fixed signature); NULL if this LLVM does not know it. */
LLVMValueRef vm_intrinsic(LLVMBuilderRef b, const char *name, LLVMTypeRef *over, size_t nover, LLVMValueRef *args,
                          unsigned nargs);

#endif
