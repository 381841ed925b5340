/* Linear layers: y[r, o] = Σ_k x[r, k] · W[o, k] + b[o], W stored [out, in]
 * as PyTorch does.  Each output is a vector dot product along k with a
 * masked tail, reduced once at the end, then the fused epilogue applied
 * before the store.  (The blocked GEMM with packed
 * weights comes later and replaces this file's inner loops.) */
#include "codegen.h"

typedef struct linear_env {
  const node *nd;
  const cg_chain *epilogue;
  int64_t in, out;
  LLVMValueRef w, bias;
  LLVMValueRef row, xrow, wrow, acc; /* current row / output, accumulator var */
} linear_env;

static void dot_step(cg *c, LLVMValueRef k, LLVMValueRef mask, void *envp) {
  linear_env *e = envp;
  LLVMValueRef xv = cg_load(c, c->x, LLVMBuildNSWAdd(c->b, e->xrow, k, ""), mask, 0.0f);
  LLVMValueRef wv = cg_load(c, e->w, LLVMBuildNSWAdd(c->b, e->wrow, k, ""), mask, 0.0f);
  LLVMValueRef acc = LLVMBuildLoad2(c->b, c->vf, e->acc, "acc");
  LLVMValueRef args[] = {xv, wv, acc};
  LLVMBuildStore(c->b, cg_intrinsic(c, "llvm.fma", &c->vf, 1, args, 3), e->acc);
}

static void one_output(cg *c, LLVMValueRef o, void *envp) {
  linear_env *e = envp;
  e->wrow = LLVMBuildNSWMul(c->b, o, cg_i64(c, e->in), "wrow");
  LLVMBuildStore(c->b, LLVMConstNull(c->vf), e->acc);
  cg_vector_loop(c, cg_i64(c, e->in), dot_step, e);
  LLVMValueRef sum = cg_reduce_add(c, LLVMBuildLoad2(c->b, c->vf, e->acc, "acc"));
  if (e->bias) sum = LLVMBuildFAdd(c->b, sum, cg_load_scalar(c, e->bias, o), "biased");
  /* The epilogue, on the value still in a register; output o is channel o. */
  LLVMValueRef at = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, e->row, cg_i64(c, e->out), ""), o, "at");
  sum = cg_chain_apply(c, e->epilogue, sum, &(cg_pos){.index = at, .channel = o});
  LLVMValueRef p = cg_gep(c, c->y, at);
  LLVMSetAlignment(LLVMBuildStore(c->b, sum, p), 4);
}

static void one_row(cg *c, LLVMValueRef r, void *envp) {
  linear_env *e = envp;
  e->row = r;
  e->xrow = LLVMBuildNSWMul(c->b, r, cg_i64(c, e->in), "xrow");
  cg_for(c, cg_i64(c, 0), cg_i64(c, e->out), 1, one_output, e);
}

void cg_linear_kernel(cg *c, const node *nd, const cg_chain *epilogue) {
  const shape *ws = &c->g->nodes[nd->args[1]].shape;
  linear_env e = {.nd = nd, .epilogue = epilogue, .out = ws->d[0], .in = ws->d[1]};
  e.w = cg_param(c, nd->args[1]);
  e.bias = nd->nargs == 3 ? cg_param(c, nd->args[2]) : NULL;
  e.acc = cg_var(c, c->vf, LLVMConstNull(c->vf));
  const shape *s = &nd->shape;
  extent rows = shape_span(s, 0, s->rank - 1);
  cg_for(c, cg_i64(c, 0), cg_extent(c, rows), 1, one_row, &e);
}
