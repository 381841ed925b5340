/* An ahead-of-time object made without its weights binds them at run time:
 * PREFIX_bind, generated here into the object (which then needs no
 * libactjit), packs the parameters as cg_param_pack packs them for the JIT
 * into one buffer of the caller's, each at a 64-byte aligned offset
 * (cg_bound_offset), and a run reads them there through a table of
 * pointers it builds on its stack (cg_bound_params).  The buffer holds no
 * address, so a packed buffer may be copied, or saved and read back. */
#include "codegen/codegen.h"

enum { PACK_ALIGN = 64 };

int64_t cg_bound_offset(const cg_aot *a, int j) {
  int64_t off = 0;
  for (int i = 0; i < j; i++) off += (a->param_floats[i] * (int64_t)sizeof(float) + PACK_ALIGN - 1) / PACK_ALIGN * PACK_ALIGN;
  return off;
}

static LLVMValueRef byte_gep(cg *c, LLVMValueRef p, int64_t bytes) {
  return LLVMBuildInBoundsGEP2(c->b, LLVMInt8TypeInContext(c->ctx), p, (LLVMValueRef[]){cg_i64(c, bytes)}, 1, "");
}

LLVMValueRef cg_bad_packed(cg *c, LLVMValueRef packed) {
  LLVMValueRef low = LLVMBuildAnd(c->b, LLVMBuildPtrToInt(c->b, packed, c->i64, ""), cg_i64(c, PACK_ALIGN - 1), "");
  return LLVMBuildOr(c->b, LLVMBuildIsNull(c->b, packed, ""), LLVMBuildICmp(c->b, LLVMIntNE, low, cg_i64(c, 0), ""),
                     "bad_packed");
}

LLVMValueRef cg_bound_params(cg *c, LLVMValueRef packed, const cg_aot *a) {
  LLVMValueRef table = cg_alloca(c, LLVMArrayType2(c->ptr, (uint64_t)a->nparams));
  for (int j = 0; j < a->nparams; j++)
    LLVMBuildStore(c->b, byte_gep(c, packed, cg_bound_offset(a, j)),
                   LLVMBuildInBoundsGEP2(c->b, c->ptr, table, (LLVMValueRef[]){cg_i64(c, j)}, 1, ""));
  return table;
}

/* A linear's weight w [out, in] packed at dst: cg_pack_weight's loops,
 * dst written in order, panel p, then k, then output p·nr + j (zero past
 * out). */
typedef struct pack_env {
  LLVMValueRef w, dst, p, k;
  int64_t out, in, nr;
} pack_env;

static void pack_output(cg *c, LLVMValueRef j, void *envp) {
  pack_env *e = envp;
  LLVMBuilderRef b = c->b;
  LLVMValueRef o = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, e->p, cg_i64(c, e->nr), ""), j, "o");
  LLVMValueRef in_range = LLVMBuildICmp(b, LLVMIntSLT, o, cg_i64(c, e->out), "");
  /* (a padding output reads the last row's element, which the select drops: no load out of bounds) */
  LLVMValueRef row = LLVMBuildSelect(b, in_range, o, cg_i64(c, e->out - 1), "");
  LLVMValueRef v = cg_load_scalar(c, e->w, LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, row, cg_i64(c, e->in), ""), e->k, ""));
  v = LLVMBuildSelect(b, in_range, v, LLVMConstReal(c->f32, 0.0), "");
  LLVMValueRef at = LLVMBuildNSWAdd(
      b, LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, e->p, cg_i64(c, e->in), ""), e->k, ""), cg_i64(c, e->nr), ""),
      j, "");
  LLVMBuildStore(b, v, cg_gep(c, e->dst, at));
}

static void pack_k(cg *c, LLVMValueRef k, void *envp) {
  pack_env *e = envp;
  e->k = k;
  cg_for(c, cg_i64(c, 0), cg_i64(c, e->nr), 1, pack_output, e);
}

static void pack_panel(cg *c, LLVMValueRef p, void *envp) {
  pack_env *e = envp;
  e->p = p;
  cg_for(c, cg_i64(c, 0), cg_i64(c, e->in), 1, pack_k, e);
}

/* params[j], a float pointer. */
static LLVMValueRef param_ptr(cg *c, LLVMValueRef params, int j) {
  return LLVMBuildLoad2(c->b, c->ptr, LLVMBuildInBoundsGEP2(c->b, c->ptr, params, (LLVMValueRef[]){cg_i64(c, j)}, 1, ""),
                        "src");
}

void cg_emit_bind(cg *c, const plan *p, const cg_aot *a) {
  LLVMBuilderRef b = c->b;
  const actjit_graph *g = c->g;
  LLVMValueRef params = LLVMGetParam(c->fn, 0), packed = LLVMGetParam(c->fn, 1);
  cg_fail_if(c, LLVMBuildOr(b, LLVMBuildIsNull(b, params, ""), cg_bad_packed(c, packed), ""));
  /* every pointer checked before a byte is written */
  LLVMValueRef any_null = LLVMConstInt(LLVMInt1TypeInContext(c->ctx), 0, 0);
  for (int j = 0; j < a->nparams; j++) any_null = LLVMBuildOr(b, any_null, LLVMBuildIsNull(b, param_ptr(c, params, j), ""), "");
  cg_fail_if(c, any_null);
  for (int v = 0, j = 0; v < g->n; v++) {
    const node *nd = &g->nodes[v];
    if (nd->op != OP_PARAM) continue;
    int64_t off = cg_bound_offset(a, j), bytes = a->param_floats[j] * (int64_t)sizeof(float);
    LLVMValueRef src = param_ptr(c, params, j), dst = byte_gep(c, packed, off);
    int layout = cg_param_layout(g, p, v);
    if (layout) {
      pack_env e = {.w = src, .dst = dst, .out = nd->shape.d[0], .in = nd->shape.d[1],
                    .nr = cg_panel_floats(c->target, nd->shape.d[0], layout)};
      cg_for(c, cg_i64(c, 0), cg_i64(c, (e.out + e.nr - 1) / e.nr), 1, pack_panel, &e);
    } else if (bytes) {
      LLVMBuildMemCpy(b, dst, PACK_ALIGN, src, sizeof(float), cg_i64(c, bytes));
    }
    /* the gap to the next parameter is zeros: every byte of packed is written */
    int64_t gap = cg_bound_offset(a, j + 1) - off - bytes;
    if (gap) LLVMBuildMemSet(b, byte_gep(c, dst, bytes), LLVMConstInt(LLVMInt8TypeInContext(c->ctx), 0, 0),
                             cg_i64(c, gap), sizeof(float));
    j++;
  }
  LLVMBuildRet(b, LLVMConstInt(c->i32, 0, 0));
}
