/* Training-mode dropout: Philox4x32-10 as vector code, one block per lane,
 * and the mask applied to the values in registers.  The definition (counter,
 * key, keep decision, scale) is src/philox.h's, which this must match bit
 * for bit: see there.
 *
 * A round needs two 32×32→64 products per lane: see mulhilo.  Scalars (the
 * linear epilogue) take the same path on i32/i64. */
#include "codegen/codegen.h"
#include "ir/philox.h"
#include "codegen/vmath.h"

/* v of type t (i32 / i64 or a vector of them), splatted. */
static LLVMValueRef konst(LLVMTypeRef t, uint64_t v) {
  if (LLVMGetTypeKind(t) != LLVMVectorTypeKind) return LLVMConstInt(t, v, 0);
  unsigned n = LLVMGetVectorSize(t);
  LLVMValueRef e[64], k = LLVMConstInt(LLVMGetElementType(t), v, 0);
  for (unsigned i = 0; i < n; i++) e[i] = k;
  return LLVMConstVector(e, n);
}

/* A scalar broadcast to t's lanes (or t itself when t is scalar). */
static LLVMValueRef bcast(cg *c, LLVMTypeRef t, LLVMValueRef s) {
  if (LLVMGetTypeKind(t) != LLVMVectorTypeKind) return s;
  LLVMValueRef poison = LLVMGetPoison(t);
  LLVMValueRef one = LLVMBuildInsertElement(c->b, poison, s, LLVMConstInt(c->i32, 0, 0), "");
  return LLVMBuildShuffleVector(c->b, one, poison, LLVMConstNull(LLVMVectorType(c->i32, LLVMGetVectorSize(t))), "");
}

/* hi:lo = m · x, 32×32→64, lane by lane.  A scalar is one i64 mul.  A
 * vector of 2k lanes is seen as k i64 lanes: the even lanes (low halves) and
 * the odd lanes (high halves shifted down) each make one i64 mul of 32-bit
 * operands, which is one pmuludq, and the halves are put back in place with
 * shifts and masks (x86 selects a blend for the low halves and an
 * in-register permute for the high).  This beats zext to <2k x i64> and
 * truncating back by 1.6x at 16 lanes. */
static void mulhilo(cg *c, uint32_t m, LLVMValueRef x, LLVMValueRef *hi, LLVMValueRef *lo) {
  LLVMBuilderRef b = c->b;
  LLVMTypeRef t32 = LLVMTypeOf(x);
  if (LLVMGetTypeKind(t32) != LLVMVectorTypeKind || LLVMGetVectorSize(t32) % 2) {
    LLVMTypeRef t64 = LLVMGetTypeKind(t32) == LLVMVectorTypeKind ? LLVMVectorType(c->i64, LLVMGetVectorSize(t32)) : c->i64;
    LLVMValueRef p = LLVMBuildNUWMul(b, LLVMBuildZExt(b, x, t64, ""), konst(t64, m), "");
    *lo = LLVMBuildTrunc(b, p, t32, "lo");
    *hi = LLVMBuildTrunc(b, LLVMBuildLShr(b, p, konst(t64, 32), ""), t32, "hi");
    return;
  }
  LLVMTypeRef t64 = LLVMVectorType(c->i64, LLVMGetVectorSize(t32) / 2);
  LLVMValueRef low = konst(t64, 0xffffffffu), high = konst(t64, 0xffffffff00000000u), k32 = konst(t64, 32);
  LLVMValueRef w = LLVMBuildBitCast(b, x, t64, "");
  LLVMValueRef even = LLVMBuildNUWMul(b, LLVMBuildAnd(b, w, low, ""), konst(t64, m), "even");
  LLVMValueRef odd = LLVMBuildNUWMul(b, LLVMBuildLShr(b, w, k32, ""), konst(t64, m), "odd");
  LLVMValueRef l = LLVMBuildOr(b, LLVMBuildAnd(b, even, low, ""), LLVMBuildShl(b, odd, k32, ""), "");
  LLVMValueRef h = LLVMBuildOr(b, LLVMBuildLShr(b, even, k32, ""), LLVMBuildAnd(b, odd, high, ""), "");
  *lo = LLVMBuildBitCast(b, l, t32, "lo");
  *hi = LLVMBuildBitCast(b, h, t32, "hi");
}

void cg_philox4x32_10(cg *c, LLVMValueRef ctr[4], LLVMValueRef key[2], LLVMValueRef out[4]) {
  LLVMBuilderRef b = c->b;
  LLVMTypeRef t = LLVMTypeOf(ctr[0]);
  LLVMValueRef x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
  LLVMValueRef k0 = key[0], k1 = key[1];
  for (int r = 0; r < PHILOX_ROUNDS; r++) {
    if (r) {
      k0 = LLVMBuildAdd(b, k0, LLVMConstInt(c->i32, PHILOX_W0, 0), "k0");
      k1 = LLVMBuildAdd(b, k1, LLVMConstInt(c->i32, PHILOX_W1, 0), "k1");
    }
    LLVMValueRef hi0, lo0, hi1, lo1;
    mulhilo(c, PHILOX_M0, x0, &hi0, &lo0);
    mulhilo(c, PHILOX_M1, x2, &hi1, &lo1);
    LLVMValueRef n0 = LLVMBuildXor(b, LLVMBuildXor(b, hi1, x1, ""), bcast(c, t, k0), "");
    LLVMValueRef n2 = LLVMBuildXor(b, LLVMBuildXor(b, hi0, x3, ""), bcast(c, t, k1), "");
    x0 = n0, x1 = lo1, x2 = n2, x3 = lo0;
  }
  out[0] = x0, out[1] = x1, out[2] = x2, out[3] = x3;
}

/* Word 0 of the block of each lane: counter (index + lane, op), key seed. */
static LLVMValueRef dropout_bits_ir(cg *c, uint64_t op, LLVMValueRef x, LLVMValueRef index) {
  LLVMBuilderRef b = c->b;
  bool vector = LLVMGetTypeKind(LLVMTypeOf(x)) == LLVMVectorTypeKind;
  unsigned n = vector ? LLVMGetVectorSize(LLVMTypeOf(x)) : 1;
  LLVMTypeRef t = vector ? LLVMVectorType(c->i32, n) : c->i32;
  LLVMValueRef lo0 = LLVMBuildTrunc(b, index, c->i32, "ilo");
  LLVMValueRef hi0 = LLVMBuildTrunc(b, LLVMBuildLShr(b, index, cg_i64(c, 32), ""), c->i32, "ihi");
  LLVMValueRef lo = bcast(c, t, lo0), hi = bcast(c, t, hi0);
  if (vector) {
    /* Lane l is element index + l: add l to the low word, carry into the high. */
    LLVMValueRef iota[64];
    for (unsigned l = 0; l < n; l++) iota[l] = LLVMConstInt(c->i32, l, 0);
    LLVMValueRef base = lo;
    lo = LLVMBuildAdd(b, base, LLVMConstVector(iota, n), "ilo");
    LLVMValueRef carry = LLVMBuildICmp(b, LLVMIntULT, lo, base, "carry");
    hi = LLVMBuildAdd(b, hi, LLVMBuildZExt(b, carry, t, ""), "ihi");
  }
  LLVMValueRef ctr[4] = {lo, hi, konst(t, (uint32_t)op), konst(t, (uint32_t)(op >> 32))};
  LLVMValueRef key[2] = {LLVMBuildTrunc(b, c->seed, c->i32, "s0"),
                         LLVMBuildTrunc(b, LLVMBuildLShr(b, c->seed, cg_i64(c, 32), ""), c->i32, "s1")};
  LLVMValueRef out[4];
  cg_philox4x32_10(c, ctr, key, out);
  return out[0];
}

LLVMValueRef cg_dropout(cg *c, const node *nd, LLVMValueRef x, const cg_pos *pos) {
  if (!c->training) return x; /* inference: identity */
  LLVMBuilderRef b = c->b;
  LLVMTypeRef ft = LLVMTypeOf(x);
  double p = nd->attr[0];
  uint64_t t = dropout_threshold(p);
  if (t == 0) return x;                                          /* keep all */
  if (t >> 32) return LLVMBuildFMul(b, x, LLVMConstNull(ft), "dropout"); /* drop all */
  /* The index in the whole tensor: row0 batch rows precede x's. */
  extent e = shape_numel(&nd->shape);
  LLVMValueRef index = e.dyn ? LLVMBuildAdd(b, pos->index, LLVMBuildMul(b, c->row0, cg_i64(c, e.mul), ""), "index")
                             : pos->index;
  LLVMValueRef r = dropout_bits_ir(c, dropout_op_id(nd->name), x, index);
  LLVMValueRef keep = LLVMBuildICmp(b, LLVMIntUGE, r, konst(LLVMTypeOf(r), t), "keep");
  /* x · (keep ? scale : 0): one rounding, as PyTorch's x · noise. */
  LLVMValueRef factor = LLVMBuildSelect(b, keep, vm_splat(ft, dropout_scale(p)), LLVMConstNull(ft), "");
  return LLVMBuildFMul(b, x, factor, "dropout");
}
