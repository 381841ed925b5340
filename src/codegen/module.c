/* The module: one internal function per kernel of the plan, and the entry
 * that computes each kernel's buffers and calls them in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/vmath.h"

void cg_widen(cg *c, int factor) {
  c->width = c->reg_width * factor;
  c->vf = LLVMVectorType(c->f32, (unsigned)c->width);
  c->vi = LLVMVectorType(c->i32, (unsigned)c->width);
  c->vmask = LLVMVectorType(LLVMInt1TypeInContext(c->ctx), (unsigned)c->width);
}

static void init_types(cg *c, LLVMContextRef ctx, int width) {
  c->ctx = ctx;
  c->reg_width = width;
  c->f32 = LLVMFloatTypeInContext(ctx);
  c->i32 = LLVMInt32TypeInContext(ctx);
  c->i64 = LLVMInt64TypeInContext(ctx);
  c->ptr = LLVMPointerTypeInContext(ctx, 0);
  c->voidt = LLVMVoidTypeInContext(ctx);
  cg_widen(c, 1);
}

static void add_attr(cg *c, LLVMValueRef fn, unsigned idx, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(c->ctx, kind, 0));
}

/* void kernel(const float *const *in, float *y, const float *const *params, i64 batch, u64 seed, i64 row0,
 *             i64 panel0, i64 panel1) */
static LLVMValueRef emit_kernel(cg *c, const step *s, int index) {
  const group *gr = &s->grp;
  LLVMTypeRef params[] = {c->ptr, c->ptr, c->ptr, c->i64, c->i64, c->i64, c->i64, c->i64};
  char name[32];
  snprintf(name, sizeof name, CG_KERNEL_FMT, index);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->voidt, params, 8, 0));
  /* Kernels stay separate functions, as separate kernels would be, and can
   * be timed one by one. */
  add_attr(c, fn, LLVMAttributeFunctionIndex, "noinline");
  add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
  /* vmath picks instructions by the target's register width, not by how
   * wide a kernel makes its vectors. */
  char lanes[8];
  snprintf(lanes, sizeof lanes, "%d", c->reg_width);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(c->ctx, VM_REG_LANES_ATTR, (unsigned)strlen(VM_REG_LANES_ATTR),
                                                    lanes, (unsigned)strlen(lanes)));
  c->fn = fn;
  c->y = LLVMGetParam(fn, 1);
  c->params = LLVMGetParam(fn, 2);
  c->batch = LLVMGetParam(fn, 3);
  c->seed = LLVMGetParam(fn, 4);
  c->row0 = LLVMGetParam(fn, 5);
  c->panel0 = LLVMGetParam(fn, 6);
  c->panel1 = LLVMGetParam(fn, 7);
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  for (int j = 0; j < gr->nins; j++) {
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(c->b, c->ptr, LLVMGetParam(fn, 0), (LLVMValueRef[]){cg_i64(c, j)}, 1, "");
    c->in[j] = LLVMBuildLoad2(c->b, c->ptr, slot, "in");
  }
  switch (gr->form) {
  case KF_LINEAR: case KF_DUAL_LINEAR: case KF_LINEAR_SOFTMAX: cg_linear_kernel(c, gr); break;
  case KF_GLU: cg_glu_kernel(c, &c->g->nodes[gr->m[0]]); break;
  case KF_TRANSPOSE: cg_transpose_kernel(c, &c->g->nodes[gr->m[0]]); break;
  case KF_MATMUL: cg_matmul_kernel(c, &c->g->nodes[gr->m[0]]); break;
  case KF_SOFTMAX: cg_softmax_kernel(c, gr, step_in_place(s)); break; /* softmax, softmin, log_softmax */
  case KF_ELTWISE:
    /* Elementwise dags are long dependency chains of vector math: work on
     * ELTWISE_UNROLL registers at once (LLVM splits the wide vectors) so
     * that their latencies overlap. */
    cg_widen(c, ELTWISE_UNROLL);
    cg_eltwise_kernel(c, gr);
    cg_widen(c, 1);
    break;
  case KF_INVALID:
    if (!c->unsupported) c->unsupported = &c->g->nodes[gr->m[0]];
    break;
  }
  LLVMBuildRetVoid(c->b);
  return fn;
}

LLVMValueRef cg_const_data(cg *c, const node *nd) {
  int64_t n = shape_static_numel(&nd->shape);
  LLVMValueRef *elems = malloc((size_t)(n ? n : 1) * sizeof *elems);
  if (!elems) { /* (reported like an op without code: the module is dropped) */
    if (!c->unsupported) c->unsupported = nd;
    return LLVMConstNull(c->ptr);
  }
  for (int64_t i = 0; i < n; i++) elems[i] = LLVMConstReal(c->f32, nd->data[i]);
  LLVMTypeRef t = LLVMArrayType2(c->f32, (uint64_t)n);
  LLVMValueRef gv = LLVMAddGlobal(c->mod, t, "const");
  LLVMSetInitializer(gv, LLVMConstArray2(c->f32, elems, (uint64_t)n));
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  LLVMSetAlignment(gv, 64);
  free(elems);
  return gv;
}

static LLVMValueRef buffer_ptr(cg *c, const buffer *bf, LLVMValueRef in, LLVMValueRef out,
                               LLVMValueRef scratch) {
  switch (bf->kind) {
  case BUF_INPUT: return in;
  case BUF_OUTPUT: return out;
  case BUF_SCRATCH: case BUF_BLOCK: break; /* (a block buffer: call_step) */
  }
  LLVMValueRef off = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, c->batch, cg_i64(c, bf->off_dyn), ""),
                                     cg_i64(c, bf->off_static), "off");
  return cg_gep(c, scratch, off);
}

/* The entry's view of the plan: where its buffers are, and the depth-first
 * run being emitted. */
typedef struct entry_env {
  cg *c;
  const plan *p;
  const slicing *sl;
  LLVMValueRef *kernels, ins, in, out, params, scratch, area; /* area: the block buffers */
  const block_run *run;
} entry_env;

/* Kernel i on `rows` rows from row r (NULL: the whole batch from row 0). */
static void call_step(entry_env *e, int i, LLVMValueRef rows, LLVMValueRef r) {
  cg *c = e->c;
  const step *s = &e->p->steps[i];
  LLVMValueRef buf[GROUP_MAX_INS + 1];
  for (int j = 0; j <= s->grp.nins; j++) {
    const buffer *b = j < s->grp.nins ? &s->in[j] : &s->out;
    int64_t row = j < s->grp.nins ? e->sl[i].row_in[j] : e->sl[i].row_out;
    if (b->kind == BUF_BLOCK) buf[j] = cg_gep(c, e->area, cg_i64(c, b->off_static));
    else buf[j] = buffer_ptr(c, b, e->in, e->out, e->scratch);
    if (r && b->kind != BUF_BLOCK) buf[j] = cg_gep(c, buf[j], LLVMBuildNSWMul(c->b, r, cg_i64(c, row), ""));
  }
  for (int j = 0; j < s->grp.nins; j++)
    LLVMBuildStore(c->b, buf[j], LLVMBuildInBoundsGEP2(c->b, c->ptr, e->ins, (LLVMValueRef[]){cg_i64(c, j)}, 1, ""));
  LLVMValueRef args[] = {e->ins, buf[s->grp.nins], e->params, rows ? rows : c->batch, c->seed,
                         r ? r : cg_i64(c, 0), cg_i64(c, 0), cg_i64(c, cg_linear_panels(c->g, &s->grp, c->target))};
  LLVMBuildCall2(c->b, LLVMGlobalGetValueType(e->kernels[i]), e->kernels[i], args, 8, "");
}

/* A block of the depth-first run from row r through its kernels. */
static void run_block(cg *c, LLVMValueRef r, void *envp) {
  entry_env *e = envp;
  LLVMValueRef left = LLVMBuildNSWSub(c->b, c->batch, r, ""), block = cg_i64(c, e->p->block_rows);
  LLVMValueRef rows = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, left, block, ""), left, block, "rows");
  for (int i = e->run->first; i <= e->run->last; i++) call_step(e, i, rows, r);
}

actjit_status cg_build(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t, bool training,
                       LLVMModuleRef *out) {
  cg c = {.g = g, .target = t, .training = training};
  init_types(&c, ctx, t->width);
  c.mod = LLVMModuleCreateWithNameInContext("actjit", ctx);
  c.b = LLVMCreateBuilderInContext(ctx);
  LLVMValueRef *kernels = calloc((size_t)p->n + 1, sizeof *kernels);
  slicing *sl = calloc((size_t)p->n + 1, sizeof *sl);
  if (!sl) free(kernels), kernels = NULL;
  for (int i = 0; kernels && i < p->n && !c.unsupported; i++) kernels[i] = emit_kernel(&c, &p->steps[i], i);
  if (!kernels || c.unsupported) {
    char where[256];
    actjit_status st = kernels ? aj_error(g->ctx, ACTJIT_ERR_UNSUPPORTED, "%s: codegen has no kernel for this op here",
                                          node_where(g, c.unsupported, where, sizeof where))
                               : aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    free(kernels), free(sl);
    LLVMDisposeBuilder(c.b);
    LLVMDisposeModule(c.mod);
    return st;
  }

  LLVMTypeRef eparams[] = {c.ptr, c.ptr, c.ptr, c.ptr, c.i64, c.i64};
  LLVMValueRef entry = LLVMAddFunction(c.mod, CG_ENTRY, LLVMFunctionType(c.voidt, eparams, 6, 0));
  add_attr(&c, entry, LLVMAttributeFunctionIndex, "nounwind");
  c.fn = entry;
  c.batch = LLVMGetParam(entry, 4);
  c.seed = LLVMGetParam(entry, 5);
  LLVMPositionBuilderAtEnd(c.b, LLVMAppendBasicBlockInContext(ctx, entry, "entry"));
  plan_slicing(g, p, sl);
  entry_env e = {.c = &c, .p = p, .sl = sl, .kernels = kernels, .in = LLVMGetParam(entry, 0),
                 .out = LLVMGetParam(entry, 1), .params = LLVMGetParam(entry, 2), .scratch = LLVMGetParam(entry, 3)};
  /* each kernel's input pointers, in an array on the stack */
  e.ins = LLVMBuildAlloca(c.b, LLVMArrayType2(c.ptr, GROUP_MAX_INS), "ins");
  /* the block buffers after the scratch (one task's: the entry runs alone) */
  e.area = cg_gep(&c, e.scratch,
                  LLVMBuildNSWAdd(c.b, LLVMBuildNSWMul(c.b, c.batch, cg_i64(&c, p->scratch_dyn), ""),
                                  cg_i64(&c, p->scratch_static), "blocks"));
  for (int i = 0, q = 0; i < p->n; i++) {
    if (q < p->nruns && p->runs[q].first == i) {
      e.run = &p->runs[q++];
      cg_for(&c, cg_i64(&c, 0), c.batch, p->block_rows, run_block, &e);
      i = e.run->last;
    } else {
      call_step(&e, i, NULL, NULL);
    }
  }
  LLVMBuildRetVoid(c.b);
  free(kernels), free(sl);
  LLVMDisposeBuilder(c.b);
  *out = c.mod;
  return ACTJIT_OK;
}
