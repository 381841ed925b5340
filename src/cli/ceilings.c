/* The ceilings' loops (ceilings.h), built with the LLVM C API and compiled by
 * the project's JIT session for the benchmark's target. */
#include "cli/ceilings.h"

#include <llvm-c/Core.h>
#include <string.h>

typedef struct builder {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef f32, i64, vty;
} builder;

/* A counted loop of one block, run at least once: i = 0 .. n-1. */
typedef struct loop {
  LLVMBasicBlockRef entry, body;
  LLVMValueRef i;
} loop;

static LLVMValueRef add_function(builder *g, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n) {
  LLVMValueRef fn = LLVMAddFunction(g->mod, name, LLVMFunctionType(ret, params, n, 0));
  LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
  return fn;
}

static void loop_open(builder *g, LLVMValueRef fn, loop *l) {
  l->entry = LLVMGetInsertBlock(g->b);
  l->body = LLVMAppendBasicBlockInContext(g->ctx, fn, "loop");
  LLVMBuildBr(g->b, l->body);
  LLVMPositionBuilderAtEnd(g->b, l->body);
  l->i = LLVMBuildPhi(g->b, g->i64, "i");
}

/* A value carried around the loop: init on entry, set by loop_carry. */
static LLVMValueRef loop_phi(builder *g, LLVMTypeRef ty, LLVMValueRef init, loop *l) {
  LLVMValueRef phi = LLVMBuildPhi(g->b, ty, "");
  LLVMAddIncoming(phi, &init, &l->entry, 1);
  return phi;
}

static void loop_carry(loop *l, LLVMValueRef phi, LLVMValueRef next) { LLVMAddIncoming(phi, &next, &l->body, 1); }

static void loop_close(builder *g, LLVMValueRef fn, loop *l, LLVMValueRef n) {
  LLVMValueRef next = LLVMBuildAdd(g->b, l->i, LLVMConstInt(g->i64, 1, 0), "");
  LLVMValueRef zero = LLVMConstInt(g->i64, 0, 0);
  LLVMAddIncoming(l->i, &zero, &l->entry, 1);
  loop_carry(l, l->i, next);
  LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(g->ctx, fn, "exit");
  LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, next, n, ""), l->body, exit);
  LLVMPositionBuilderAtEnd(g->b, exit);
}

static LLVMValueRef call_intrinsic(builder *g, const char *name, LLVMTypeRef overload, LLVMValueRef *args,
                                   unsigned n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, &overload, 1);
  return LLVMBuildCall2(g->b, LLVMIntrinsicGetType(g->ctx, id, &overload, 1), fn, args, n, "");
}

static LLVMValueRef splat(builder *g, LLVMValueRef x) {
  LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetPoison(g->vty), x, LLVMConstInt(g->i64, 0, 0), "");
  LLVMTypeRef mask = LLVMVectorType(LLVMInt32TypeInContext(g->ctx), LLVMGetVectorSize(g->vty));
  return LLVMBuildShuffleVector(g->b, v, LLVMGetPoison(g->vty), LLVMConstNull(mask), "");
}

/* acc[0] + acc[1] + ..., then its lanes in order. */
static LLVMValueRef ordered_sum(builder *g, LLVMValueRef *acc, int n) {
  LLVMValueRef s = acc[0];
  for (int k = 1; k < n; k++) s = LLVMBuildFAdd(g->b, s, acc[k], "");
  return call_intrinsic(g, "llvm.vector.reduce.fadd", g->vty, (LLVMValueRef[]){LLVMConstReal(g->f32, -0.0), s}, 2);
}

enum { MAX_CHAINS = 32 };

/* float fma(i64 iters, float m, float a) */
static void build_fma(builder *g, int chains) {
  LLVMValueRef fn = add_function(g, "ceil_fma", g->f32, (LLVMTypeRef[]){g->i64, g->f32, g->f32}, 3);
  LLVMValueRef m = splat(g, LLVMGetParam(fn, 1)), a = splat(g, LLVMGetParam(fn, 2)), acc[MAX_CHAINS] = {0};
  LLVMValueRef init[MAX_CHAINS];
  for (int k = 0; k < chains; k++) init[k] = splat(g, LLVMConstReal(g->f32, 1 + k / 1024.0));
  loop l;
  loop_open(g, fn, &l);
  LLVMValueRef phi[MAX_CHAINS];
  for (int k = 0; k < chains; k++) phi[k] = loop_phi(g, g->vty, init[k], &l);
  for (int k = 0; k < chains; k++) {
    acc[k] = call_intrinsic(g, "llvm.fma", g->vty, (LLVMValueRef[]){phi[k], m, a}, 3);
    loop_carry(&l, phi[k], acc[k]);
  }
  loop_close(g, fn, &l, LLVMGetParam(fn, 0));
  LLVMBuildRet(g->b, ordered_sum(g, acc, chains));
}

/* float read(const float *p, i64 blocks) */
static void build_read(builder *g, int width) {
  LLVMTypeRef ptr = LLVMPointerTypeInContext(g->ctx, 0);
  LLVMValueRef fn = add_function(g, "ceil_read", g->f32, (LLVMTypeRef[]){ptr, g->i64}, 2);
  LLVMValueRef acc[CEIL_READ_BLOCK], phi[CEIL_READ_BLOCK];
  loop l;
  loop_open(g, fn, &l);
  for (int j = 0; j < CEIL_READ_BLOCK; j++) phi[j] = loop_phi(g, g->vty, LLVMConstNull(g->vty), &l);
  LLVMValueRef base = LLVMBuildMul(g->b, l.i, LLVMConstInt(g->i64, (unsigned long long)CEIL_READ_BLOCK * width, 0), "");
  for (int j = 0; j < CEIL_READ_BLOCK; j++) {
    LLVMValueRef off = LLVMBuildAdd(g->b, base, LLVMConstInt(g->i64, (unsigned long long)j * width, 0), "");
    LLVMValueRef v = LLVMBuildLoad2(g->b, g->vty, LLVMBuildGEP2(g->b, g->f32, LLVMGetParam(fn, 0), &off, 1, ""), "");
    LLVMSetAlignment(v, 4);
    acc[j] = LLVMBuildFAdd(g->b, phi[j], v, "");
    loop_carry(&l, phi[j], acc[j]);
  }
  loop_close(g, fn, &l, LLVMGetParam(fn, 1));
  LLVMBuildRet(g->b, ordered_sum(g, acc, CEIL_READ_BLOCK));
}

/* i64 clock(i64 iters, i64 x) */
static void build_clock(builder *g) {
  LLVMValueRef fn = add_function(g, "ceil_clock", g->i64, (LLVMTypeRef[]){g->i64, g->i64}, 2);
  loop l;
  loop_open(g, fn, &l);
  LLVMValueRef x = loop_phi(g, g->i64, LLVMGetParam(fn, 1), &l);
  LLVMValueRef rot = call_intrinsic(g, "llvm.fshl", g->i64, (LLVMValueRef[]){x, x, LLVMConstInt(g->i64, 1, 0)}, 3);
  LLVMValueRef next = LLVMBuildXor(g->b, rot, l.i, "");
  loop_carry(&l, x, next);
  loop_close(g, fn, &l, LLVMGetParam(fn, 0));
  LLVMBuildRet(g->b, next);
}

int ceilings_build(ceilings *c, const char *cpu, const char *features) {
  *c = (ceilings){0};
  if (actjit_context_create(&c->ctx)) return -1;
  if (target_resolve(c->ctx, cpu, features, NULL, &c->target) || jit_session_init(c->ctx, &c->session, 3)) return -1;
  const target_desc *t = &c->target;
  c->width = t->width;
  /* Enough chains to keep every FMA unit busy through the latency, half the
   * registers at least, leaving two for m and a. */
  int need = t->fma_ports * t->fma_latency;
  c->chains = need > t->vregs / 2 ? need : t->vregs / 2;
  if (c->chains > t->vregs - 2) c->chains = t->vregs - 2;
  if (c->chains > MAX_CHAINS) c->chains = MAX_CHAINS;
  builder g = {.ctx = jit_session_context(&c->session)};
  g.mod = LLVMModuleCreateWithNameInContext("ceilings", g.ctx);
  g.b = LLVMCreateBuilderInContext(g.ctx);
  g.f32 = LLVMFloatTypeInContext(g.ctx), g.i64 = LLVMInt64TypeInContext(g.ctx);
  g.vty = LLVMVectorType(g.f32, (unsigned)c->width);
  build_fma(&g, c->chains);
  build_read(&g, c->width);
  build_clock(&g);
  LLVMDisposeBuilder(g.b);
  void *fma, *read, *clock;
  if (jit_session_compile(c->ctx, &c->session, t, g.mod, "ceil_fma", &fma) ||
      jit_session_lookup(c->ctx, &c->session, "ceil_read", &read) || jit_session_lookup(c->ctx, &c->session, "ceil_clock", &clock))
    return -1;
  c->fma = (float (*)(int64_t, float, float))fma;
  c->read = (float (*)(const float *, int64_t))read;
  c->clock = (int64_t (*)(int64_t, int64_t))clock;
  return 0;
}

const char *ceilings_error(const ceilings *c) { return c->ctx ? actjit_context_error(c->ctx) : "out of memory"; }

void ceilings_free(ceilings *c) {
  jit_session_free(&c->session);
  target_free(&c->target);
  actjit_context_destroy(c->ctx);
  *c = (ceilings){0};
}
