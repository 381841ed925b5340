/* x86's vector instructions for vmath.c and codegen (vmath_isa.h): which a
 * value may use, and the ones that have no target-neutral LLVM form
 * (vrcp14ps/vrcpps, vscalefps, vpermps/vpermilps, sfence), called a
 * register at a time on values up to 4 registers wide. */
#include "codegen/vmath.h"
#include "codegen/vmath_isa.h"

#include <string.h>

enum { MAX_PIECES = 4 }; /* at most 4 registers per value (64 lanes) */

/* Floats per vector register, from the function's VM_REG_LANES_ATTR
 * attribute; 0 if it has none. */
static unsigned reg_lanes(LLVMBuilderRef b)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(b));
    LLVMAttributeRef a = LLVMGetStringAttributeAtIndex(
        fn, LLVMAttributeFunctionIndex, VM_REG_LANES_ATTR,
        (unsigned)strlen(VM_REG_LANES_ATTR));
    if (!a)
        return 0;
    unsigned len;
    const char *v = LLVMGetStringAttributeValue(a, &len);
    return len == 2 && !memcmp(v, "16", 2) ? 16
           : len == 1 && v[0] == '8'       ? 8
           : len == 1 && v[0] == '4'       ? 4
                                           : 0;
}

enum isa vm_isa_of(LLVMBuilderRef b, LLVMTypeRef ty)
{
    if (LLVMGetTypeKind(ty) != LLVMVectorTypeKind ||
        LLVMGetTypeKind(LLVMGetElementType(ty)) != LLVMFloatTypeKind)
        return ISA_GENERIC;
    unsigned n = LLVMGetVectorSize(ty), reg = reg_lanes(b);
    if (reg)
        return n % reg || n / reg > MAX_PIECES ? ISA_GENERIC
               : reg == 16                     ? ISA_AVX512
               : reg == 8                      ? ISA_AVX
                                               : ISA_SSE;
    if (n % 16 == 0 && n / 16 <= MAX_PIECES)
        return ISA_AVX512;
    if (n % 8 == 0 && n / 8 <= MAX_PIECES)
        return ISA_AVX;
    if (n % 4 == 0 && n / 4 <= MAX_PIECES)
        return ISA_SSE;
    return ISA_GENERIC;
}

/* Lanes [first, first + n) of v (n <= VM_MAX_LANES). */
static LLVMValueRef lanes_of(LLVMBuilderRef b, LLVMValueRef v, unsigned first,
                             unsigned n)
{
    LLVMTypeRef i32 = LLVMInt32TypeInContext(LLVMGetTypeContext(LLVMTypeOf(v)));
    LLVMValueRef mask[VM_MAX_LANES];
    for (unsigned i = 0; i < n; i++)
        mask[i] = LLVMConstInt(i32, first + i, 0);
    return LLVMBuildShuffleVector(b, v, LLVMGetPoison(LLVMTypeOf(v)),
                                  LLVMConstVector(mask, n), "");
}

/* Call the fixed-signature intrinsic `name`, which works on one register,
 * on values one or more registers wide: args[i] with bit i of `split` set
 * are such values (all with the same lane count, a multiple of the
 * register's `lanes`), the others are passed as they are.  One call per
 * register, results concatenated; the splitting and joining shuffles vanish
 * in type legalization.  NULL if the intrinsic is unknown. */
static LLVMValueRef call_per_register(LLVMBuilderRef b, const char *name,
                                      unsigned lanes, LLVMValueRef *args,
                                      unsigned nargs, unsigned split)
{
    LLVMValueRef part_args[8];
    unsigned n = 0;
    if (nargs > sizeof part_args / sizeof part_args[0])
        return NULL;
    for (unsigned j = 0; j < nargs; j++)
        if (split >> j & 1)
            n = LLVMGetVectorSize(LLVMTypeOf(args[j]));
    if (n <= lanes)
        return vm_intrinsic(b, name, NULL, 0, args, nargs);
    LLVMValueRef parts[MAX_PIECES];
    unsigned np = n / lanes;
    if (np > MAX_PIECES)
        return NULL;
    for (unsigned p = 0; p < np; p++) {
        for (unsigned j = 0; j < nargs; j++)
            part_args[j] = split >> j & 1
                               ? lanes_of(b, args[j], p * lanes, lanes)
                               : args[j];
        parts[p] = vm_intrinsic(b, name, NULL, 0, part_args, nargs);
        if (!parts[p])
            return NULL;
    }
    /* Concatenate pairwise; an odd part out is paired with poison and the
     * excess trimmed at the end. */
    LLVMTypeRef i32 = LLVMInt32TypeInContext(
        LLVMGetTypeContext(LLVMTypeOf(parts[0])));
    while (np > 1) {
        unsigned half = (np + 1) / 2;
        for (unsigned p = 0; p < half; p++) {
            LLVMValueRef a = parts[2 * p];
            unsigned la = LLVMGetVectorSize(LLVMTypeOf(a));
            LLVMValueRef c = 2 * p + 1 < np ? parts[2 * p + 1]
                                            : LLVMGetPoison(LLVMTypeOf(a));
            LLVMValueRef mask[VM_MAX_LANES];
            for (unsigned i = 0; i < 2 * la; i++)
                mask[i] = LLVMConstInt(i32, i, 0);
            parts[p] = LLVMBuildShuffleVector(
                b, a, c, LLVMConstVector(mask, 2 * la), "");
        }
        np = half;
    }
    if (LLVMGetVectorSize(LLVMTypeOf(parts[0])) != n)
        return lanes_of(b, parts[0], 0, n);
    return parts[0];
}

LLVMValueRef vm_isa_rcp(LLVMBuilderRef b, LLVMValueRef d)
{
    LLVMTypeRef ty = LLVMTypeOf(d);
    LLVMContextRef ctx = LLVMGetTypeContext(ty);
    switch (vm_isa_of(b, ty)) {
    case ISA_AVX512: {
        LLVMTypeRef v16 = LLVMVectorType(LLVMFloatTypeInContext(ctx), 16);
        LLVMValueRef args[] = {d, LLVMConstNull(v16),
                               LLVMConstAllOnes(LLVMInt16TypeInContext(ctx))};
        return call_per_register(b, "llvm.x86.avx512.rcp14.ps.512", 16, args,
                                 3, 1);
    }
    case ISA_AVX:
        return call_per_register(b, "llvm.x86.avx.rcp.ps.256", 8, &d, 1, 1);
    default:
        return NULL;
    }
}

LLVMValueRef vm_isa_scalef(LLVMBuilderRef b, LLVMValueRef u, LLVMValueRef qf)
{
    LLVMContextRef ctx = LLVMGetTypeContext(LLVMTypeOf(u));
    LLVMTypeRef v16 = LLVMVectorType(LLVMFloatTypeInContext(ctx), 16);
    LLVMValueRef args[] = {u, qf, LLVMGetPoison(v16),
                           LLVMConstAllOnes(LLVMInt16TypeInContext(ctx)),
                           LLVMConstInt(LLVMInt32TypeInContext(ctx), 4, 0)};
    return call_per_register(b, "llvm.x86.avx512.mask.scalef.ps.512", 16,
                             args, 5, 3);
}

int vm_isa_table_size(LLVMBuilderRef b, LLVMTypeRef ty)
{
    switch (vm_isa_of(b, ty)) {
    case ISA_AVX512:
        return 16;
    case ISA_AVX:
        return 4;
    case ISA_GENERIC:
    case ISA_SSE:
        return 0;
    }
    return 0;
}

LLVMValueRef vm_isa_table(LLVMBuilderRef b, const float *table, int n,
                          LLVMValueRef idx)
{
    LLVMContextRef ctx = LLVMGetTypeContext(LLVMTypeOf(idx));
    LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx);
    int size = vm_isa_table_size(
        b, LLVMVectorType(f32, LLVMGetVectorSize(LLVMTypeOf(idx))));
    if (n > size)
        return NULL; /* (no table that large: callers ask vm_isa_table_size) */
    unsigned lanes = size == 16 ? 16 : 8; /* a register */
    LLVMValueRef t[16];
    for (unsigned j = 0; j < lanes; j++)
        t[j] = LLVMConstReal(f32, (int)j % size < n ? table[j % size] : 0.0);
    LLVMValueRef args[] = {LLVMConstVector(t, lanes), idx};
    return call_per_register(b,
                             size == 16 ? "llvm.x86.avx512.permvar.sf.512"
                                        : "llvm.x86.avx.vpermilvar.ps.256",
                             lanes, args, 2, 2);
}

void vm_isa_stream_fence(LLVMBuilderRef b) { vm_intrinsic(b, "llvm.x86.sse.sfence", NULL, 0, NULL, 0); }
