/* transpose: the result written in its own order, each element read from
 * where the permutation puts it in the operand.  The loop space is the
 * result's dims with two operands, the input (its strides permuted) and the
 * result (row-major), merged where both are contiguous (a permutation that
 * keeps the innermost dims together copies them as one run).  The innermost
 * dim is a vector loop: plain loads where the input is contiguous along it,
 * gathers at its stride otherwise; stores are contiguous. */
#include "codegen/codegen.h"
#include "codegen/vmath.h"

enum { IN, OUT };

typedef struct transpose_env {
  extent inner;   /* the innermost dim */
  int64_t stride; /* the input's along it */
  LLVMValueRef in_off, out_off;
} transpose_env;

/* The vector of x[off + (i + lane)·stride] (masked lanes: 0). */
static LLVMValueRef gather(cg *c, LLVMValueRef x, LLVMValueRef off, LLVMValueRef i, int64_t stride, LLVMValueRef mask) {
  LLVMValueRef lanes[64];
  for (int k = 0; k < c->width; k++) lanes[k] = LLVMConstInt(c->i64, (unsigned long long)k * (unsigned long long)stride, 0);
  LLVMValueRef first = LLVMBuildNSWAdd(c->b, off, LLVMBuildNSWMul(c->b, i, cg_i64(c, stride), ""), "first");
  LLVMValueRef idx = LLVMBuildNSWAdd(c->b, cg_splat(c, first), LLVMConstVector(lanes, (unsigned)c->width), "idx");
  LLVMValueRef ptrs = LLVMBuildInBoundsGEP2(c->b, c->f32, x, &idx, 1, "ptrs");
  LLVMTypeRef vptr = LLVMVectorType(c->ptr, (unsigned)c->width);
  if (!mask) mask = LLVMConstAllOnes(c->vmask);
  LLVMValueRef args[] = {ptrs, LLVMConstInt(c->i32, 4, 0), mask, vm_splat(c->vf, 0.0f)};
  return cg_intrinsic(c, "llvm.masked.gather", (LLVMTypeRef[]){c->vf, vptr}, 2, args, 4);
}

static void copy_vector(cg *c, LLVMValueRef i, LLVMValueRef mask, void *envp) {
  transpose_env *e = envp;
  LLVMValueRef v = e->stride == 1 ? cg_load(c, c->in[0], LLVMBuildNSWAdd(c->b, e->in_off, i, ""), mask, 0.0f)
                                  : gather(c, c->in[0], e->in_off, i, e->stride, mask);
  cg_store(c, v, c->y, LLVMBuildNSWAdd(c->b, e->out_off, i, ""), mask);
}

static void copy_run(cg *c, const LLVMValueRef *offs, void *envp) {
  transpose_env *e = envp;
  e->in_off = offs[IN], e->out_off = offs[OUT];
  cg_vector_loop(c, cg_extent(c, e->inner), copy_vector, e);
}

void cg_transpose_kernel(cg *c, const node *nd) {
  const shape *xs = &c->g->nodes[nd->args[0]].shape, *ys = &nd->shape;
  int64_t xst[ACTJIT_MAX_RANK], n = 1;
  for (int d = xs->rank - 1; d >= 0; n *= xs->d[d], d--) xst[d] = n; /* (dim 0's extent is in no stride) */
  loop_space sp;
  space_init(&sp, ys);
  sp.nops = 2;
  n = 1;
  for (int d = ys->rank - 1; d >= 0; n *= ys->d[d], d--) {
    sp.stride[IN][d] = xst[dim_index(nd->list.v[d], xs->rank)];
    sp.stride[OUT][d] = n;
  }
  int dims = space_merge(&sp, 0, sp.rank);
  transpose_env e = {.inner = sp.dim[dims - 1], .stride = sp.stride[IN][dims - 1]};
  cg_nest(c, &sp, dims - 1, copy_run, &e);
}
