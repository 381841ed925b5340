/* Softmax along one dim, viewed as outer × len × inner.  Three sweeps as
 * PyTorch's kernel does: the max, exp(x - max) stored with its sum, then a
 * multiply by 1/sum.  inner == 1 vectorizes along the row; otherwise the
 * vector runs along inner and the sweeps stride over len. */
#include <math.h>

#include "codegen.h"
#include "vmath.h"

typedef struct softmax_env {
  int64_t inner;
  LLVMValueRef base;              /* element offset of the current row/column block */
  LLVMValueRef vmax, vsum;        /* vector accumulators (vars) */
  LLVMValueRef max, rsum;         /* broadcast row max and 1/sum */
  LLVMValueRef lane, lane_mask;   /* inner > 1: offset in inner, tail mask */
  LLVMValueRef len;
} softmax_env;

static LLVMValueRef at(cg *c, softmax_env *e, LLVMValueRef k) {
  /* inner == 1: k is the position in the row; else k is the index along len */
  if (e->inner == 1) return LLVMBuildNSWAdd(c->b, e->base, k, "at");
  LLVMValueRef off = LLVMBuildNSWMul(c->b, k, cg_i64(c, e->inner), "");
  return LLVMBuildNSWAdd(c->b, LLVMBuildNSWAdd(c->b, e->base, off, ""), e->lane, "at");
}

/* Each sweep body works on one vector; mask is the tail mask (inner == 1) or
 * the column mask (inner > 1). */
static LLVMValueRef sweep_mask(softmax_env *e, LLVMValueRef mask) { return e->inner == 1 ? mask : e->lane_mask; }

static void max_step(cg *c, LLVMValueRef k, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  mask = sweep_mask(e, mask);
  LLVMValueRef v = cg_load(c, c->x, at(c, e, k), mask, -INFINITY);
  LLVMValueRef m = LLVMBuildLoad2(c->b, c->vf, e->vmax, "m");
  LLVMBuildStore(c->b, cg_max(c, v, m), e->vmax);
}

static void exp_step(cg *c, LLVMValueRef k, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  mask = sweep_mask(e, mask);
  LLVMValueRef p = at(c, e, k);
  LLVMValueRef v = vm_exp(c->b, LLVMBuildFSub(c->b, cg_load(c, c->x, p, mask, 0.0f), e->max, "d"));
  cg_store(c, v, c->y, p, mask);
  if (mask && e->inner == 1) v = LLVMBuildSelect(c->b, mask, v, LLVMConstNull(c->vf), "");
  LLVMValueRef s = LLVMBuildLoad2(c->b, c->vf, e->vsum, "s");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, s, v, ""), e->vsum);
}

static void scale_step(cg *c, LLVMValueRef k, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  mask = sweep_mask(e, mask);
  LLVMValueRef p = at(c, e, k);
  cg_store(c, LLVMBuildFMul(c->b, cg_load(c, c->y, p, mask, 0.0f), e->rsum, "y"), c->y, p, mask);
}

typedef struct sweep_env {
  cg_vbody body;
  softmax_env *e;
} sweep_env;

static void strided_step(cg *c, LLVMValueRef k, void *envp) {
  sweep_env *s = envp;
  s->body(c, k, NULL, s->e);
}

/* Runs body over the current row (inner == 1) or column block (inner > 1). */
static void sweep(cg *c, softmax_env *e, cg_vbody body) {
  if (e->inner == 1) {
    cg_vector_loop(c, e->len, body, e);
  } else {
    sweep_env s = {body, e};
    cg_for(c, cg_i64(c, 0), e->len, 1, strided_step, &s);
  }
}

static void normalize(cg *c, softmax_env *e) {
  LLVMValueRef neg_inf = LLVMConstReal(c->f32, -INFINITY);
  LLVMBuildStore(c->b, cg_splat(c, neg_inf), e->vmax);
  LLVMBuildStore(c->b, LLVMConstNull(c->vf), e->vsum);
  sweep(c, e, max_step);
  LLVMValueRef m = LLVMBuildLoad2(c->b, c->vf, e->vmax, "vmax");
  e->max = e->inner == 1 ? cg_splat(c, cg_reduce_max(c, m)) : m;
  sweep(c, e, exp_step);
  LLVMValueRef s = LLVMBuildLoad2(c->b, c->vf, e->vsum, "vsum");
  if (e->inner == 1) s = cg_splat(c, cg_reduce_add(c, s));
  e->rsum = LLVMBuildFDiv(c->b, vm_splat(c->vf, 1.0f), s, "rsum");
  sweep(c, e, scale_step);
}

static void column_block(cg *c, LLVMValueRef lane, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  e->lane = lane;
  e->lane_mask = mask;
  normalize(c, e);
}

static void one_outer(cg *c, LLVMValueRef o, void *envp) {
  softmax_env *e = envp;
  e->base = LLVMBuildNSWMul(c->b, o, LLVMBuildNSWMul(c->b, e->len, cg_i64(c, e->inner), ""), "base");
  if (e->inner == 1) normalize(c, e);
  else cg_vector_loop(c, cg_i64(c, e->inner), column_block, e);
}

void cg_softmax_kernel(cg *c, const node *nd) {
  const shape *s = &nd->shape;
  int axis = (int)(nd->attr[0] < 0 ? nd->attr[0] + s->rank : nd->attr[0]);
  softmax_env e = {.inner = shape_span(s, axis + 1, s->rank).mul};
  e.len = cg_extent(c, shape_span(s, axis, axis + 1));
  e.vmax = cg_var(c, c->vf, LLVMConstNull(c->vf));
  e.vsum = cg_var(c, c->vf, LLVMConstNull(c->vf));
  cg_for(c, cg_i64(c, 0), cg_extent(c, shape_span(s, 0, axis)), 1, one_outer, &e);
}
