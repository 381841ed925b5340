/* Loop nests and vector memory access. */
#include "codegen/codegen.h"
#include <llvm-c/DebugInfo.h>
#include <string.h>

#include "codegen/vmath.h"
#include "codegen/vmath_isa.h"

LLVMValueRef cg_i64(cg *c, int64_t v) { return LLVMConstInt(c->i64, (unsigned long long)v, 1); }

LLVMValueRef cg_extent(cg *c, extent e) {
  if (!e.dyn) return cg_i64(c, e.mul);
  return e.mul == 1 ? c->batch : LLVMBuildNSWMul(c->b, c->batch, cg_i64(c, e.mul), "ext");
}

LLVMValueRef cg_alloca(cg *c, LLVMTypeRef t) {
  LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first) LLVMPositionBuilderBefore(c->b, first);
  else LLVMPositionBuilderAtEnd(c->b, entry);
  LLVMValueRef var = LLVMBuildAlloca(c->b, t, "var");
  LLVMSetAlignment(var, 64);
  LLVMPositionBuilderAtEnd(c->b, here);
  return var;
}

LLVMValueRef cg_var(cg *c, LLVMTypeRef t, LLVMValueRef init) {
  LLVMValueRef var = cg_alloca(c, t);
  LLVMBuildStore(c->b, init, var);
  return var;
}

void cg_sfence(cg *c) { vm_isa_stream_fence(c->b); }

/* Loop metadata that keeps LLVM from unrolling a loop (its body is unrolled
 * already): !{!self, !{!"llvm.loop.unroll.disable"}}. */
static LLVMValueRef no_unroll_md(cg *c) {
  LLVMMetadataRef name = LLVMMDStringInContext2(c->ctx, "llvm.loop.unroll.disable", 24);
  LLVMMetadataRef disable = LLVMMDNodeInContext2(c->ctx, &name, 1);
  LLVMMetadataRef tmp = LLVMTemporaryMDNode(c->ctx, NULL, 0);
  LLVMMetadataRef ops[] = {tmp, disable};
  LLVMMetadataRef loop = LLVMMDNodeInContext2(c->ctx, ops, 2);
  LLVMMetadataReplaceAllUsesWith(tmp, loop);
  return LLVMMetadataAsValue(c->ctx, loop);
}

void cg_for_rolled(cg *c, LLVMValueRef lo, LLVMValueRef hi, int64_t step, cg_body body, void *env) {
  c->rolled = true;
  cg_for(c, lo, hi, step, body, env);
}

LLVMValueRef cg_smin(cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* v as a constant, if it is one. */
static bool const_i64(LLVMValueRef v, int64_t *out) {
  if (!LLVMIsAConstantInt(v)) return false;
  *out = LLVMConstIntGetSExtValue(v);
  return true;
}

void cg_for(cg *c, LLVMValueRef lo, LLVMValueRef hi, int64_t step, cg_body body, void *env) {
  bool rolled = c->rolled;
  c->rolled = false;
  /* Constant bounds of one iteration or none (a tile of one row, a row
   * shorter than a step of unrolled vectors): the body once or not at all,
   * not a loop for LLVM to fold away. */
  int64_t l, h;
  if (const_i64(lo, &l) && const_i64(hi, &h) && h - l <= step) {
    if (h > l) body(c, lo, env);
    return;
  }
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
  LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "loop");
  LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
  LLVMBuildBr(c->b, head);
  LLVMPositionBuilderAtEnd(c->b, head);
  LLVMValueRef i = LLVMBuildPhi(c->b, c->i64, "i");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i, hi, "more"), loop, done);
  LLVMPositionBuilderAtEnd(c->b, loop);
  body(c, i, env);
  LLVMValueRef next = LLVMBuildNSWAdd(c->b, i, cg_i64(c, step), "next");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
  LLVMValueRef back = LLVMBuildBr(c->b, head);
  if (rolled) LLVMSetMetadata(back, LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9), no_unroll_md(c));
  LLVMValueRef in_vals[] = {lo, next};
  LLVMBasicBlockRef in_bbs[] = {pre, latch};
  LLVMAddIncoming(i, in_vals, in_bbs, 2);
  LLVMPositionBuilderAtEnd(c->b, done);
}

typedef struct vloop_env {
  cg_vbody body;
  void *env;
} vloop_env;

static void full_vector(cg *c, LLVMValueRef i, void *env) {
  vloop_env *e = env;
  e->body(c, i, NULL, e->env);
}

void cg_vector_loop(cg *c, LLVMValueRef n, cg_vbody body, void *env) {
  cg_vector_loop_from(c, cg_i64(c, 0), n, body, env);
}

LLVMValueRef cg_full_vectors(cg *c, LLVMValueRef lo, LLVMValueRef n, LLVMValueRef *rem) {
  *rem = LLVMBuildSRem(c->b, LLVMBuildNSWSub(c->b, n, lo, ""), cg_i64(c, c->width), "rem");
  return LLVMBuildNSWSub(c->b, n, *rem, "full");
}

void cg_vector_loop_full(cg *c, LLVMValueRef lo, LLVMValueRef full, cg_vbody body, void *env) {
  vloop_env e = {body, env};
  cg_for(c, lo, full, c->width, full_vector, &e);
}

void cg_vector_loop_from(cg *c, LLVMValueRef lo, LLVMValueRef n, cg_vbody body, void *env) {
  LLVMValueRef rem, full = cg_full_vectors(c, lo, n, &rem);
  cg_vector_loop_full(c, lo, full, body, env);
  cg_vector_tail(c, full, rem, body, env);
}

typedef struct nest_env {
  const loop_space *sp;
  int n, depth;
  LLVMValueRef offs[SPACE_MAX_OPERANDS];
  cg_nest_body body;
  void *env;
} nest_env;

static void nest_from(cg *c, nest_env *e);

static void nest_index(cg *c, LLVMValueRef i, void *envp) {
  nest_env *e = envp;
  LLVMValueRef saved[SPACE_MAX_OPERANDS];
  for (int u = 0; u < e->sp->nops; u++) {
    saved[u] = e->offs[u];
    e->offs[u] = LLVMBuildNSWAdd(c->b, e->offs[u], LLVMBuildNSWMul(c->b, i, cg_i64(c, e->sp->stride[u][e->depth]), ""), "");
  }
  e->depth++;
  nest_from(c, e);
  e->depth--;
  for (int u = 0; u < e->sp->nops; u++) e->offs[u] = saved[u];
}

static void nest_from(cg *c, nest_env *e) {
  if (e->depth == e->n) e->body(c, e->offs, e->env);
  else cg_for(c, cg_i64(c, 0), cg_extent(c, e->sp->dim[e->depth]), 1, nest_index, e);
}

void cg_nest(cg *c, const loop_space *sp, int n, cg_nest_body body, void *env) {
  nest_env e = {.sp = sp, .n = n, .body = body, .env = env};
  for (int u = 0; u < sp->nops; u++) e.offs[u] = cg_i64(c, 0);
  nest_from(c, &e);
}

LLVMBasicBlockRef cg_if(cg *c, LLVMValueRef cond, const char *name) {
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "endif");
  LLVMBuildCondBr(c->b, cond, then, done);
  LLVMPositionBuilderAtEnd(c->b, then);
  return done;
}

void cg_end_if(cg *c, LLVMBasicBlockRef done) {
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, done);
}

void cg_fail_if(cg *c, LLVMValueRef bad) {
  LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "bad_args");
  LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "args_ok");
  LLVMBuildCondBr(c->b, bad, fail, ok);
  LLVMPositionBuilderAtEnd(c->b, fail);
  LLVMBuildRet(c->b, LLVMConstInt(c->i32, (unsigned long long)-1, 1));
  LLVMPositionBuilderAtEnd(c->b, ok);
}

void cg_vector_tail(cg *c, LLVMValueRef full, LLVMValueRef rem, cg_vbody body, void *env) {
  int64_t r;
  if (const_i64(rem, &r)) { /* a static length: the tail or not, without the test */
    if (r) body(c, full, cg_first_lanes(c, rem), env);
    return;
  }
  LLVMBasicBlockRef done = cg_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rem, cg_i64(c, 0), "has_tail"), "tail");
  body(c, full, cg_first_lanes(c, rem), env);
  cg_end_if(c, done);
}

LLVMValueRef cg_first_lanes(cg *c, LLVMValueRef count) {
  LLVMValueRef lanes[64];
  for (int k = 0; k < c->width; k++) lanes[k] = LLVMConstInt(c->i32, (unsigned)k, 0);
  LLVMValueRef n = LLVMBuildTrunc(c->b, count, c->i32, "lanes");
  return LLVMBuildICmp(c->b, LLVMIntSLT, LLVMConstVector(lanes, (unsigned)c->width), cg_splat(c, n), "mask");
}

LLVMValueRef cg_splat(cg *c, LLVMValueRef scalar) {
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), (unsigned)c->width);
  LLVMValueRef undef = LLVMGetPoison(vt);
  LLVMValueRef one = LLVMBuildInsertElement(c->b, undef, scalar, LLVMConstInt(c->i32, 0, 0), "");
  return LLVMBuildShuffleVector(c->b, one, undef, LLVMConstNull(LLVMVectorType(c->i32, (unsigned)c->width)), "splat");
}

/* Shuffle of a and b (a's lanes first) taking lanes [from, from + n). */
static LLVMValueRef lanes_of(cg *c, LLVMValueRef a, LLVMValueRef b, unsigned from, unsigned n) {
  LLVMValueRef idx[256];
  for (unsigned k = 0; k < n; k++) idx[k] = LLVMConstInt(c->i32, from + k, 0);
  return LLVMBuildShuffleVector(c->b, a, b, LLVMConstVector(idx, n), "");
}

LLVMValueRef cg_concat(cg *c, const LLVMValueRef *v, int n) {
  if (n == 1) return v[0];
  LLVMValueRef lo = cg_concat(c, v, n / 2), hi = cg_concat(c, v + n / 2, n / 2);
  return lanes_of(c, lo, hi, 0, 2 * LLVMGetVectorSize(LLVMTypeOf(lo)));
}

LLVMValueRef cg_part(cg *c, LLVMValueRef v, int k, int n) {
  if (n == 1) return v;
  unsigned m = LLVMGetVectorSize(LLVMTypeOf(v)) / (unsigned)n;
  return lanes_of(c, v, LLVMGetPoison(LLVMTypeOf(v)), (unsigned)k * m, m);
}

LLVMValueRef cg_gep(cg *c, LLVMValueRef p, LLVMValueRef i) {
  return LLVMBuildInBoundsGEP2(c->b, c->f32, p, &i, 1, "p");
}

LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef *tys, unsigned ntys,
                          LLVMValueRef *args, unsigned nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, tys, ntys);
  return LLVMBuildCall2(c->b, LLVMGlobalGetValueType(fn), fn, args, nargs, "");
}

LLVMValueRef cg_load(cg *c, LLVMValueRef p, LLVMValueRef i, LLVMValueRef mask, float fill) {
  LLVMValueRef at = cg_gep(c, p, i);
  if (!mask) {
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->vf, at, "v");
    LLVMSetAlignment(v, 4);
    return v;
  }
  LLVMValueRef args[] = {at, LLVMConstInt(c->i32, 4, 0), mask, vm_splat(c->vf, fill)};
  return cg_intrinsic(c, "llvm.masked.load", (LLVMTypeRef[]){c->vf, c->ptr}, 2, args, 4);
}

void cg_store(cg *c, LLVMValueRef v, LLVMValueRef p, LLVMValueRef i, LLVMValueRef mask) {
  LLVMValueRef at = cg_gep(c, p, i);
  if (!mask) {
    LLVMBasicBlockRef done = NULL;
    if (c->stream) {
      /* both stores, a branch (taken one way for a whole call) between */
      LLVMBasicBlockRef nt = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "nt_store");
      LLVMBasicBlockRef plain = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "store");
      done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "stored");
      LLVMBuildCondBr(c->b, c->stream, nt, plain);
      LLVMPositionBuilderAtEnd(c->b, nt);
      LLVMValueRef st = LLVMBuildStore(c->b, v, at);
      LLVMSetAlignment(st, (unsigned)c->reg_width * 4);
      unsigned kind = LLVMGetMDKindIDInContext(c->ctx, "nontemporal", 11);
      LLVMValueRef one = LLVMConstInt(c->i32, 1, 0);
      LLVMSetMetadata(st, kind, LLVMMDNodeInContext(c->ctx, &one, 1));
      LLVMBuildBr(c->b, done);
      LLVMPositionBuilderAtEnd(c->b, plain);
    }
    LLVMSetAlignment(LLVMBuildStore(c->b, v, at), 4);
    if (done) {
      LLVMBuildBr(c->b, done);
      LLVMPositionBuilderAtEnd(c->b, done);
    }
    return;
  }
  LLVMValueRef args[] = {v, at, LLVMConstInt(c->i32, 4, 0), mask};
  cg_intrinsic(c, "llvm.masked.store", (LLVMTypeRef[]){c->vf, c->ptr}, 2, args, 4);
}

LLVMValueRef cg_load_scalar(cg *c, LLVMValueRef p, LLVMValueRef i) {
  LLVMValueRef v = LLVMBuildLoad2(c->b, c->f32, cg_gep(c, p, i), "s");
  LLVMSetAlignment(v, 4);
  return v;
}

LLVMValueRef cg_max(cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, a, b, "gt"), a, b, "max");
}

/* One step of the reductions' tree: lanes (or vectors) lo and hi. */
static LLVMValueRef combine(cg *c, LLVMValueRef lo, LLVMValueRef hi, bool max) {
  return max ? cg_max(c, hi, lo) : LLVMBuildFAdd(c->b, lo, hi, "sum");
}

/* Halves of v combined lane by lane until one lane is left: vector ops on
 * x86.  The max's tree is explicit because the intrinsic
 * llvm.vector.reduce.fmax orders NaNs as maxnum does, which x86 has no
 * instruction for, so LLVM ran it as a chain of 15 scalar maxes and NaN
 * tests (the seed model's softmax row: 40 instructions of its 70, and 1.5
 * ms of code generation); the sum's, so that its order is ours to know,
 * not LLVM's to choose. */
static LLVMValueRef reduce_halves(cg *c, LLVMValueRef v, bool max) {
  enum { MAX_LANES = 64 };
  LLVMValueRef lanes[MAX_LANES];
  for (unsigned w = LLVMGetVectorSize(LLVMTypeOf(v)); w > 1; w /= 2) {
    LLVMValueRef half[2];
    for (unsigned h = 0; h < 2; h++) {
      for (unsigned i = 0; i < w / 2; i++) lanes[i] = LLVMConstInt(c->i32, h * (w / 2) + i, 0);
      half[h] = LLVMBuildShuffleVector(c->b, v, LLVMGetPoison(LLVMTypeOf(v)), LLVMConstVector(lanes, w / 2), "half");
    }
    v = combine(c, half[0], half[1], max);
  }
  return LLVMBuildExtractElement(c->b, v, cg_i64(c, 0), max ? "max" : "sum");
}

LLVMValueRef cg_reduce_add(cg *c, LLVMValueRef v) { return reduce_halves(c, v, false); }

LLVMValueRef cg_reduce_max(cg *c, LLVMValueRef v) { return reduce_halves(c, v, true); }

LLVMValueRef cg_param(cg *c, int v) {
  int k = 0;
  for (int i = 0; i < v; i++) k += c->g->nodes[i].op == OP_PARAM;
  LLVMValueRef slot = LLVMBuildInBoundsGEP2(c->b, c->ptr, c->params, (LLVMValueRef[]){cg_i64(c, k)}, 1, "slot");
  return LLVMBuildLoad2(c->b, c->ptr, slot, c->g->nodes[v].name);
}
