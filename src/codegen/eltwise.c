/* Elementwise ops: one emitter per op (the op table's ELTWISE rows), the
 * chain that applies a group of them in registers, and the elementwise
 * kernel, which reads each element once and writes it once. */
#include "codegen.h"
#include "vmath.h"

static LLVMValueRef zero_like(LLVMValueRef x) { return LLVMConstNull(LLVMTypeOf(x)); }

LLVMValueRef cg_eltwise_op(cg *c, const node *nd, LLVMValueRef x, LLVMValueRef w, const cg_pos *pos) {
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
  case OP_DROPOUT: return cg_dropout(c, nd, x, pos); /* philox.c */
  case OP_IDENTITY: return x;
  case OP_INPUT: case OP_PARAM: case OP_LINEAR: case OP_SOFTMAX: case OP_FLATTEN:
  case OP_COUNT: break;
  }
  return x;
}

void cg_chain_init(cg *c, cg_chain *ch, const node *const *ops, int n) {
  *ch = (cg_chain){.ops = ops, .n = n};
  for (int k = 0; k < n; k++)
    if (ops[k]->op == OP_PRELU) ch->weights[k] = cg_param(c, ops[k]->args[1]);
}

/* A per-channel prelu takes its weight at pos->channel: one weight for all
 * lanes, or consecutive weights for consecutive lanes (masked). */
static LLVMValueRef prelu_weight(cg *c, const cg_chain *ch, int k, LLVMValueRef v, const cg_pos *pos) {
  bool vector = LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMVectorTypeKind;
  bool per_channel = c->g->nodes[ch->ops[k]->args[1]].shape.d[0] > 1;
  if (per_channel && pos->lanes_are_channels) return cg_load(c, ch->weights[k], pos->channel, pos->mask, 0.0f);
  LLVMValueRef w = cg_load_scalar(c, ch->weights[k], per_channel ? pos->channel : cg_i64(c, 0));
  return vector ? cg_splat(c, w) : w;
}

LLVMValueRef cg_chain_apply(cg *c, const cg_chain *ch, LLVMValueRef v, const cg_pos *pos) {
  for (int k = 0; k < ch->n; k++) {
    LLVMValueRef w = ch->weights[k] ? prelu_weight(c, ch, k, v, pos) : NULL;
    v = cg_eltwise_op(c, ch->ops[k], v, w, pos);
  }
  return v;
}

/* The elementwise kernel's loop nest.  Without per-channel weights it is one
 * flat loop.  With them (prelu with C weights on dim 1) the tensor is seen as
 * rows × cols: [outer, C] with the weights a vector along cols (inner == 1),
 * or [outer·C, inner] with one weight per row. */
typedef struct eltwise_env {
  cg_chain chain;
  int64_t channels, inner; /* channels > 1: per-channel layout */
  LLVMValueRef row, base;  /* current row and its element offset */
} eltwise_env;

static void eltwise_vector(cg *c, LLVMValueRef j, LLVMValueRef mask, void *envp) {
  eltwise_env *e = envp;
  LLVMValueRef at = e->base ? LLVMBuildNSWAdd(c->b, e->base, j, "at") : j;
  LLVMValueRef v = cg_load(c, c->x, at, mask, 0.0f);
  cg_pos pos = {.index = at, .lanes_are_channels = e->inner == 1, .mask = mask};
  pos.channel = e->inner == 1 ? j : e->row ? LLVMBuildSRem(c->b, e->row, cg_i64(c, e->channels), "ch") : NULL;
  v = cg_chain_apply(c, &e->chain, v, &pos);
  cg_store(c, v, c->y, at, mask);
}

static void eltwise_row(cg *c, LLVMValueRef r, void *envp) {
  eltwise_env *e = envp;
  e->row = r;
  int64_t cols = e->inner == 1 ? e->channels : e->inner;
  e->base = LLVMBuildNSWMul(c->b, r, cg_i64(c, cols), "base");
  cg_vector_loop(c, cg_i64(c, cols), eltwise_vector, e);
}

/* Outputs larger than the caches are stored non-temporally, which spares
 * the read for ownership of every written line: from a first masked vector
 * up to a register-aligned address, then aligned non-temporal stores. */
enum { NONTEMPORAL_MIN = 4 << 20 }; /* floats: 16 MB */

static void flat_loop(cg *c, LLVMValueRef n, eltwise_env *e) {
  LLVMBuilderRef b = c->b;
  LLVMBasicBlockRef big = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "nt");
  LLVMBasicBlockRef small = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "cached");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGE, n, cg_i64(c, NONTEMPORAL_MIN), ""), big, small);
  LLVMPositionBuilderAtEnd(b, small);
  cg_vector_loop(c, n, eltwise_vector, e);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, big);
  int64_t align = (int64_t)c->reg_width * 4;
  LLVMValueRef addr = LLVMBuildPtrToInt(b, c->y, c->i64, "");
  LLVMValueRef head = LLVMBuildLShr(b, LLVMBuildAnd(b, LLVMBuildNeg(b, addr, ""), cg_i64(c, align - 1), ""),
                                    cg_i64(c, 2), "head"); /* floats up to the boundary (y is 4-aligned) */
  eltwise_vector(c, cg_i64(c, 0), cg_first_lanes(c, head), e);
  c->nontemporal = true;
  cg_vector_loop_from(c, head, n, eltwise_vector, e);
  c->nontemporal = false;
  /* Order the streaming stores before whatever reads the output next. */
  LLVMValueRef fence = LLVMGetIntrinsicDeclaration(c->mod, LLVMLookupIntrinsicID("llvm.x86.sse.sfence", 19), NULL, 0);
  LLVMBuildCall2(b, LLVMGlobalGetValueType(fence), fence, NULL, 0, "");
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
}

void cg_eltwise_kernel(cg *c, const node *const *ops, int n) {
  const shape *s = &ops[0]->shape;
  eltwise_env e = {.channels = 1};
  cg_chain_init(c, &e.chain, ops, n);
  for (int k = 0; k < n; k++)
    if (ops[k]->op == OP_PRELU && c->g->nodes[ops[k]->args[1]].shape.d[0] > 1)
      e.channels = c->g->nodes[ops[k]->args[1]].shape.d[0];
  if (e.channels == 1) {
    flat_loop(c, cg_extent(c, shape_numel(s)), &e);
    return;
  }
  e.inner = shape_span(s, 2, s->rank).mul;
  cg_for(c, cg_i64(c, 0), cg_extent(c, shape_span(s, 0, e.inner == 1 ? 1 : 2)), 1, eltwise_row, &e);
}
