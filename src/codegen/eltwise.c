/* Elementwise ops: one emitter per op (driven by the op table's ELTWISE
 * rows) and the kernel that runs a chain of them over a tensor, reading each
 * element once and writing it once. */
#include "codegen.h"
#include "vmath.h"

static LLVMValueRef zero_like(LLVMValueRef x) { return LLVMConstNull(LLVMTypeOf(x)); }

LLVMValueRef cg_eltwise_op(cg *c, const node *nd, LLVMValueRef x, LLVMValueRef w) {
  LLVMBuilderRef b = c->b;
  LLVMTypeRef t = LLVMTypeOf(x);
  switch (nd->op) {
  case OP_RELU: /* x < 0 ? 0 : x keeps NaN and -0, as PyTorch's clamp_min */
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, zero_like(x), ""), zero_like(x), x, "relu");
  case OP_SIGMOID: return vm_sigmoid(b, x);
  case OP_TANH: return vm_tanh(b, x);
  case OP_LEAKY_RELU:
    w = vm_splat(t, (float)nd->attr[0]);
    /* fallthrough */
  case OP_PRELU:
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero_like(x), ""), x,
                           LLVMBuildFMul(b, x, w, ""), nd->op == OP_PRELU ? "prelu" : "leaky_relu");
  case OP_DROPOUT: /* inference: identity */
  case OP_IDENTITY: return x;
  case OP_INPUT: case OP_PARAM: case OP_LINEAR: case OP_SOFTMAX: case OP_FLATTEN:
  case OP_COUNT: break;
  }
  return x;
}

/* How a chain's loop nest is laid out.  Without per-channel weights it is one
 * flat loop.  With them (prelu with C weights on dim 1) the tensor is seen as
 * rows × cols: either [outer, C] with the weights a vector along cols
 * (inner == 1), or [outer·C, inner] with one weight broadcast per row. */
typedef struct chain_env {
  const node *const *ops;
  int n;
  int64_t channels, inner; /* channels > 1: per-channel layout */
  LLVMValueRef weights[8]; /* per op: prelu weight pointer or NULL */
  LLVMValueRef row;        /* current row (per-channel layout) */
  LLVMValueRef base;       /* element offset of the current row */
} chain_env;

static void chain_vector(cg *c, LLVMValueRef j, LLVMValueRef mask, void *envp) {
  chain_env *e = envp;
  LLVMValueRef at = e->base ? LLVMBuildNSWAdd(c->b, e->base, j, "at") : j;
  LLVMValueRef v = cg_load(c, c->x, at, mask, 0.0f);
  for (int k = 0; k < e->n; k++) {
    LLVMValueRef w = NULL;
    if (e->weights[k]) {
      bool per_channel = c->g->nodes[e->ops[k]->args[1]].shape.d[0] > 1;
      if (!per_channel) w = cg_splat(c, cg_load_scalar(c, e->weights[k], cg_i64(c, 0)));
      else if (e->inner == 1) w = cg_load(c, e->weights[k], j, mask, 0.0f);
      else w = cg_splat(c, cg_load_scalar(c, e->weights[k],
                                           LLVMBuildSRem(c->b, e->row, cg_i64(c, e->channels), "ch")));
    }
    v = cg_eltwise_op(c, e->ops[k], v, w);
  }
  cg_store(c, v, c->y, at, mask);
}

static void chain_row(cg *c, LLVMValueRef r, void *envp) {
  chain_env *e = envp;
  int64_t cols = e->inner == 1 ? e->channels : e->inner;
  e->row = r;
  e->base = LLVMBuildNSWMul(c->b, r, cg_i64(c, cols), "base");
  cg_vector_loop(c, cg_i64(c, cols), chain_vector, e);
}

void cg_eltwise_chain(cg *c, const node *const *ops, int n) {
  const shape *s = &ops[0]->shape;
  chain_env e = {.ops = ops, .n = n, .channels = 1};
  for (int k = 0; k < n && k < 8; k++) {
    if (ops[k]->op != OP_PRELU) continue;
    e.weights[k] = cg_param(c, ops[k]->args[1]);
    int64_t cw = c->g->nodes[ops[k]->args[1]].shape.d[0];
    if (cw > 1) e.channels = cw;
  }
  extent numel = shape_numel(s);
  if (e.channels == 1) {
    cg_vector_loop(c, cg_extent(c, numel), chain_vector, &e);
    return;
  }
  e.inner = shape_span(s, 2, s->rank).mul;
  extent rows = shape_span(s, 0, e.inner == 1 ? 1 : 2);
  cg_for(c, cg_i64(c, 0), cg_extent(c, rows), 1, chain_row, &e);
}

void cg_eltwise_kernel(cg *c, const node *nd) { cg_eltwise_chain(c, &nd, 1); }
