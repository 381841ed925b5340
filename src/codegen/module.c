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
 *             i64 panel0, i64 panel1), declared: the entry's module calls
 * the kernels of other modules with the attributes of their definitions. */
static LLVMValueRef declare_kernel(cg *c, int index) {
  LLVMTypeRef params[] = {c->ptr, c->ptr, c->ptr, c->i64, c->i64, c->i64, c->i64, c->i64};
  char name[32];
  snprintf(name, sizeof name, CG_KERNEL_FMT, index);
  LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
  if (fn) return fn;
  fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->voidt, params, 8, 0));
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
  return fn;
}

static LLVMValueRef emit_kernel(cg *c, const step *s, int index, cg_epilogue epilogue) {
  const group *gr = &s->grp;
  LLVMValueRef fn = declare_kernel(c, index);
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
  case KF_LINEAR: case KF_DUAL_LINEAR: case KF_LINEAR_SOFTMAX: cg_linear_kernel(c, gr, epilogue); break;
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
  LLVMValueRef area_rows;                                     /* rows they hold (plan_block_rows) */
  LLVMValueRef hi;                                            /* the run's rows end here */
  const block_run *run;
} entry_env;

/* Where kernel i reads its inputs and writes its output (buf[nins]), from
 * row r (NULL: row 0). */
static void step_buffers(entry_env *e, int i, LLVMValueRef r, LLVMValueRef buf[GROUP_MAX_INS + 1]) {
  cg *c = e->c;
  const step *s = &e->p->steps[i];
  for (int j = 0; j <= s->grp.nins; j++) {
    const buffer *b = j < s->grp.nins ? &s->in[j] : &s->out;
    int64_t row = j < s->grp.nins ? e->sl[i].row_in[j] : e->sl[i].row_out;
    if (b->kind == BUF_BLOCK)
      buf[j] = cg_gep(c, e->area, LLVMBuildNSWMul(c->b, e->area_rows, cg_i64(c, b->off_static), ""));
    else buf[j] = buffer_ptr(c, b, e->in, e->out, e->scratch);
    if (r && b->kind != BUF_BLOCK) buf[j] = cg_gep(c, buf[j], LLVMBuildNSWMul(c->b, r, cg_i64(c, row), ""));
  }
}

/* ptrs[j] = buf[j] for j < n: a kernel's input array. */
static void store_ptrs(cg *c, LLVMValueRef ptrs, const LLVMValueRef *buf, int n) {
  for (int j = 0; j < n; j++)
    LLVMBuildStore(c->b, buf[j], LLVMBuildInBoundsGEP2(c->b, c->ptr, ptrs, (LLVMValueRef[]){cg_i64(c, j)}, 1, ""));
}

/* kernel(ins, y, params, rows, seed, row0, panel0, panel1): CG_KERNEL_FMT's signature. */
static void call_kernel(cg *c, LLVMValueRef kernel, LLVMValueRef ins, LLVMValueRef y, LLVMValueRef params,
                        LLVMValueRef rows, LLVMValueRef row0, LLVMValueRef panel0, LLVMValueRef panel1) {
  LLVMValueRef args[] = {ins, y, params, rows, c->seed, row0, panel0, panel1};
  LLVMBuildCall2(c->b, LLVMGlobalGetValueType(kernel), kernel, args, 8, "");
}

/* Kernel i on `rows` rows from row r (NULL: the whole batch from row 0). */
static void call_step(entry_env *e, int i, LLVMValueRef rows, LLVMValueRef r) {
  cg *c = e->c;
  const step *s = &e->p->steps[i];
  LLVMValueRef buf[GROUP_MAX_INS + 1];
  step_buffers(e, i, r, buf);
  store_ptrs(c, e->ins, buf, s->grp.nins);
  call_kernel(c, e->kernels[i], e->ins, buf[s->grp.nins], e->params, rows ? rows : c->batch, r ? r : cg_i64(c, 0),
              cg_i64(c, 0), cg_i64(c, cg_linear_panels(c->g, &s->grp, c->target)));
}

/* A block of the depth-first run from row r through its kernels. */
static void run_block(cg *c, LLVMValueRef r, void *envp) {
  entry_env *e = envp;
  LLVMValueRef left = LLVMBuildNSWSub(c->b, e->hi, r, ""), block = cg_i64(c, e->p->block_rows);
  LLVMValueRef rows = cg_smin(c, left, block);
  for (int i = e->run->first; i <= e->run->last; i++) call_step(e, i, rows, r);
}

/* Where the block areas start: after the plan's dyn * batch + static
 * floats of scratch. */
static LLVMValueRef block_areas(cg *c, const plan *p, LLVMValueRef batch) {
  return LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, batch, cg_i64(c, p->scratch_dyn), ""),
                         cg_i64(c, p->scratch_static), "blocks");
}

/* plan_block_rows at batch: the smaller of it and a block (a multiple of
 * 16), rounded up to 16, so that no batch overflows. */
static LLVMValueRef block_rows_at(cg *c, const plan *p, LLVMValueRef batch) {
  LLVMValueRef rows = cg_smin(c, batch, cg_i64(c, p->block_rows));
  return LLVMBuildAnd(c->b, LLVMBuildNSWAdd(c->b, rows, cg_i64(c, 15), ""), cg_i64(c, ~(int64_t)15), "");
}

/* Floats of one task's block area at batch. */
static LLVMValueRef block_floats(cg *c, const plan *p, LLVMValueRef batch) {
  return LLVMBuildNSWMul(c->b, block_rows_at(c, p, batch), cg_i64(c, p->block_row_floats), "block_floats");
}

/* e's block buffers: task t's (NULL: task 0's) at c's batch. */
static void set_block_area(entry_env *e, LLVMValueRef t) {
  cg *c = e->c;
  e->area_rows = block_rows_at(c, e->p, c->batch);
  LLVMValueRef at = block_areas(c, e->p, c->batch);
  if (t) {
    LLVMValueRef floats = LLVMBuildNSWMul(c->b, e->area_rows, cg_i64(c, e->p->block_row_floats), "block_floats");
    at = LLVMBuildNSWAdd(c->b, at, LLVMBuildNSWMul(c->b, t, floats, ""), "");
  }
  e->area = cg_gep(c, e->scratch, at);
}

static bool emit_exports(entry_env *e, LLVMValueRef entry, const cg_aot *a);

/* build's part for the whole plan in one module (cg_build's) */
enum { WHOLE = -1 };

/* The part that defines kernel i's epilogue function (a linear's): the
 * next kernel's, the last kernel's own.  A plan's first kernel is most
 * often its largest (an MLP narrows), and on two threads its part's
 * compile is the compile's wait: the seed model's warm compile took 2 ms
 * (9%) less with fc1's epilogue beside fc2 (abab, six interleaved runs,
 * medians of 61). */
static int epilogue_part(const plan *p, int i) { return i + 1 < CG_PARTS(p) ? i + 1 : i; }

/* The module of the whole plan, or of one part of it (cg_build_part). */
static actjit_status build(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t,
                           bool training, int part, const cg_aot *aot, LLVMModuleRef *out) {
  cg c = {.g = g, .target = t, .training = training};
  init_types(&c, ctx, t->width);
  /* a part's module is named after its kernel (the assembly's .file) */
  char name[32] = "actjit";
  if (part != WHOLE) snprintf(name, sizeof name, CG_KERNEL_FMT, part);
  c.mod = LLVMModuleCreateWithNameInContext(name, ctx);
  c.b = LLVMCreateBuilderInContext(ctx);
  LLVMValueRef *kernels = calloc((size_t)p->n + 1, sizeof *kernels);
  slicing *sl = calloc((size_t)p->n + 1, sizeof *sl);
  if (!sl) free(kernels), kernels = NULL;
  bool with_entry = part == WHOLE || part == CG_PARTS(p) - 1;
  for (int i = 0; kernels && i < p->n && !c.unsupported; i++) {
    bool apart = part != WHOLE && epilogue_part(p, i) != i;
    if (part == WHOLE || part == i)
      kernels[i] = emit_kernel(&c, &p->steps[i], i, apart ? EPILOGUE_DECLARED : EPILOGUE_HERE);
    else if (with_entry) kernels[i] = declare_kernel(&c, i);
    if (apart && part == epilogue_part(p, i) && form_has_linear(p->steps[i].grp.form)) {
      c.fn = declare_kernel(&c, i);
      cg_linear_epilogue(&c, &p->steps[i].grp);
    }
  }
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
  if (!with_entry) {
    free(kernels), free(sl);
    LLVMDisposeBuilder(c.b);
    *out = c.mod;
    return ACTJIT_OK;
  }

  LLVMTypeRef eparams[] = {c.ptr, c.ptr, c.ptr, c.ptr, c.i64, c.i64};
  LLVMValueRef entry = LLVMAddFunction(c.mod, CG_ENTRY, LLVMFunctionType(c.voidt, eparams, 6, 0));
  add_attr(&c, entry, LLVMAttributeFunctionIndex, "nounwind");
  /* It only calls the kernels, a few times a run: LLVM's quickest code
   * generation serves (optimized, it took 1 ms of the seed model's 15). */
  add_attr(&c, entry, LLVMAttributeFunctionIndex, "optnone");
  add_attr(&c, entry, LLVMAttributeFunctionIndex, "noinline");
  c.fn = entry;
  c.batch = LLVMGetParam(entry, 4);
  c.seed = LLVMGetParam(entry, 5);
  LLVMPositionBuilderAtEnd(c.b, LLVMAppendBasicBlockInContext(ctx, entry, "entry"));
  plan_slicing(g, p, sl);
  entry_env e = {.c = &c, .p = p, .sl = sl, .kernels = kernels, .in = LLVMGetParam(entry, 0),
                 .out = LLVMGetParam(entry, 1), .params = LLVMGetParam(entry, 2), .scratch = LLVMGetParam(entry, 3),
                 .hi = c.batch};
  /* each kernel's input pointers, in an array on the stack */
  e.ins = LLVMBuildAlloca(c.b, LLVMArrayType2(c.ptr, GROUP_MAX_INS), "ins");
  /* the block buffers after the scratch (one task's: the entry runs alone) */
  set_block_area(&e, NULL);
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
  bool ok = !aot || emit_exports(&e, entry, aot);
  free(kernels), free(sl);
  LLVMDisposeBuilder(c.b);
  if (!ok) {
    LLVMDisposeModule(c.mod);
    return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  *out = c.mod;
  return ACTJIT_OK;
}

actjit_status cg_build(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t, bool training,
                       LLVMModuleRef *out) {
  return build(g, p, ctx, t, training, WHOLE, NULL, out);
}

actjit_status cg_build_part(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t,
                            bool training, int part, LLVMModuleRef *out) {
  return build(g, p, ctx, t, training, part, NULL, out);
}

actjit_status cg_build_aot(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t,
                           const cg_aot *a, LLVMModuleRef *out) {
  return build(g, p, ctx, t, false, WHOLE, a, out);
}

/* ---------------------------------------------- ahead-of-time exports
 * The module's own functions and data become internal, so that objects of
 * several models link together; the parameters become constant data (or
 * are bound at run time: pack.c), and functions named after the prefix run
 * the plan as the JIT's runtime does: the entry on one thread, or each
 * kernel in slices through the caller's parallel-for, split as kernel.c
 * splits them. */

/* The fields of a task's argument (a struct on the caller's stack): a
 * kernel's input pointers and output, or a depth-first run's input, output
 * and scratch; the batch, the task count, whether the kernel splits by
 * weight panels, and the run's parameter table (parameters bound at run
 * time). */
enum { J_INS, J_X, J_Y, J_SCRATCH, J_BATCH, J_N, J_BY_PANELS, J_PARAMS, J_FIELDS };

typedef struct aot_env {
  entry_env *e;
  const cg_aot *a;
  LLVMValueRef entry;
  LLVMValueRef params; /* the parameter table: constant data, or the function's own (bound at run time) */
  LLVMTypeRef job_t, task_t, pfor_t;
  bool dyn;          /* the input is batch-led (else a batch of 1) */
  int64_t max_batch; /* larger batches overflow the sizes */
} aot_env;

static LLVMValueRef job_field(aot_env *m, LLVMValueRef job, int f) {
  return LLVMBuildStructGEP2(m->e->c->b, m->job_t, job, (unsigned)f, "");
}

static LLVMValueRef job_load(aot_env *m, LLVMValueRef job, int f) {
  cg *c = m->e->c;
  return LLVMBuildLoad2(c->b, f == J_INS ? c->ptr : LLVMStructGetTypeAtIndex(m->job_t, (unsigned)f),
                        job_field(m, job, f), "");
}

/* A function of the module, the builder at its start: exported under
 * prefix + suffix, or internal. */
static LLVMValueRef begin_function(aot_env *m, const char *suffix, LLVMTypeRef type, bool exported) {
  cg *c = m->e->c;
  char name[256];
  snprintf(name, sizeof name, "%s%s", exported ? m->a->prefix : "", suffix);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, type);
  add_attr(c, fn, LLVMAttributeFunctionIndex, "nounwind");
  if (!exported) LLVMSetLinkage(fn, LLVMInternalLinkage);
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  return fn;
}

/* Scratch floats at batch for `tasks` tasks' block areas (kernel.c's
 * scratch_floats); wraps past max_batch, which the callers refuse. */
static LLVMValueRef scratch_floats(aot_env *m, LLVMValueRef batch, LLVMValueRef tasks) {
  cg *c = m->e->c;
  const plan *p = m->e->p;
  LLVMValueRef dyn = LLVMBuildMul(c->b, batch, cg_i64(c, p->scratch_dyn), "");
  LLVMValueRef blocks = LLVMBuildMul(c->b, tasks, block_floats(c, p, batch), "");
  return LLVMBuildAdd(c->b, LLVMBuildAdd(c->b, dyn, cg_i64(c, p->scratch_static), ""), blocks, "floats");
}

/* The batch the plan runs (1 when the input has none). */
static LLVMValueRef run_batch(aot_env *m, LLVMValueRef batch) { return m->dyn ? batch : cg_i64(m->e->c, 1); }

/* The task count as i64, at least 1. */
static LLVMValueRef task_count(cg *c, LLVMValueRef tasks) {
  LLVMValueRef t = LLVMBuildSExt(c->b, tasks, c->i64, "");
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, t, cg_i64(c, 1), ""), cg_i64(c, 1), t, "tasks");
}

/* size_t PREFIX_scratch_bytes(int64_t batch), or with `int tasks` after it
 * PREFIX_parallel_scratch_bytes: 0 for a negative batch, SIZE_MAX past
 * the largest. */
static void emit_scratch_bytes(aot_env *m, bool parallel) {
  cg *c = m->e->c;
  LLVMTypeRef params[] = {c->i64, c->i32};
  LLVMValueRef fn = begin_function(m, parallel ? "_parallel_scratch_bytes" : "_scratch_bytes",
                                   LLVMFunctionType(c->i64, params, parallel ? 2 : 1, 0), true);
  LLVMValueRef batch = run_batch(m, LLVMGetParam(fn, 0));
  LLVMValueRef tasks = parallel ? task_count(c, LLVMGetParam(fn, 1)) : cg_i64(c, 1);
  LLVMValueRef bytes = LLVMBuildMul(c->b, scratch_floats(m, batch, tasks), cg_i64(c, sizeof(float)), "bytes");
  bytes = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, batch, cg_i64(c, m->max_batch), ""), cg_i64(c, -1),
                          bytes, "");
  LLVMBuildRet(c->b, LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, batch, cg_i64(c, 0), ""), cg_i64(c, 0),
                                     bytes, ""));
}

/* Returns -1 from the function being emitted unless the run's arguments
 * hold: a batch in [0, max_batch], the buffers given (scratch unless none
 * is needed; packed, when the parameters are bound at run time, 64-byte
 * aligned); then, for those, the run's parameter table. */
static void check_run(aot_env *m, LLVMValueRef packed, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef y,
                      LLVMValueRef scratch, LLVMValueRef tasks) {
  cg *c = m->e->c;
  LLVMBuilderRef b = c->b;
  LLVMValueRef bad = LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntSLT, batch, cg_i64(c, 0), ""),
                                 LLVMBuildICmp(b, LLVMIntSGT, batch, cg_i64(c, m->max_batch), ""), "");
  if (packed) bad = LLVMBuildOr(b, bad, cg_bad_packed(c, packed), "");
  bad = LLVMBuildOr(b, bad, LLVMBuildIsNull(b, x, ""), "");
  bad = LLVMBuildOr(b, bad, LLVMBuildIsNull(b, y, ""), "");
  LLVMValueRef needs = LLVMBuildICmp(b, LLVMIntNE, scratch_floats(m, batch, tasks), cg_i64(c, 0), "");
  cg_fail_if(c, LLVMBuildOr(b, bad, LLVMBuildAnd(b, LLVMBuildIsNull(b, scratch, ""), needs, ""), "bad"));
  if (packed) m->params = m->e->params = cg_bound_params(c, packed, m->a);
}

/* A task's parameter table: the run's, from its job, when bound at run time. */
static void task_params(aot_env *m, LLVMValueRef job) {
  if (!m->a->params) m->params = m->e->params = job_load(m, job, J_PARAMS);
}

/* An exported run's function type: `args` after `const void *packed` when
 * the parameters are bound at run time; *first, the index of args[0]. */
static LLVMTypeRef run_type(aot_env *m, LLVMTypeRef *args, unsigned n, unsigned *first) {
  cg *c = m->e->c;
  LLVMTypeRef types[8] = {c->ptr};
  *first = !m->a->params;
  memcpy(types + *first, args, n * sizeof *args);
  return LLVMFunctionType(c->i32, types, n + *first, 0);
}

/* entry(x, y, params, scratch, batch, 0): the whole plan on this thread. */
static void call_entry(aot_env *m, LLVMValueRef x, LLVMValueRef batch, LLVMValueRef y, LLVMValueRef scratch) {
  cg *c = m->e->c;
  LLVMValueRef args[] = {x, y, m->params, scratch, batch, cg_i64(c, 0)};
  LLVMBuildCall2(c->b, LLVMGlobalGetValueType(m->entry), m->entry, args, 6, "");
}

/* int PREFIX_run([const void *packed,] const float *x, int64_t batch, float *y, void *scratch) */
static void emit_run(aot_env *m) {
  cg *c = m->e->c;
  LLVMTypeRef params[] = {c->ptr, c->i64, c->ptr, c->ptr};
  unsigned a;
  LLVMValueRef fn = begin_function(m, "_run", run_type(m, params, 4, &a), true);
  LLVMValueRef x = LLVMGetParam(fn, a), batch = run_batch(m, LLVMGetParam(fn, a + 1)), y = LLVMGetParam(fn, a + 2),
               scratch = LLVMGetParam(fn, a + 3);
  check_run(m, a ? LLVMGetParam(fn, 0) : NULL, x, batch, y, scratch, cg_i64(c, 1));
  call_entry(m, x, batch, y, scratch);
  LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
}

/* Task t of n of kernel i (run_slice in kernel.c): its share of the
 * weight panels with every row, or of the batch rows. */
static LLVMValueRef emit_slice_task(aot_env *m, int i) {
  entry_env *e = m->e;
  cg *c = e->c;
  LLVMBuilderRef b = c->b;
  const step *s = &e->p->steps[i];
  int64_t panels = cg_linear_panels(c->g, &s->grp, c->target);
  LLVMValueRef fn = begin_function(m, "slice", m->task_t, false);
  LLVMValueRef job = LLVMGetParam(fn, 0), t = LLVMGetParam(fn, 1);
  LLVMValueRef n = job_load(m, job, J_N), y = job_load(m, job, J_Y), ins = job_field(m, job, J_INS);
  c->batch = job_load(m, job, J_BATCH);
  task_params(m, job);
  LLVMValueRef t1 = LLVMBuildNSWAdd(b, t, cg_i64(c, 1), "");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, fn, "done");
  if (panels > 1) {
    LLVMBasicBlockRef by_panels = LLVMAppendBasicBlockInContext(c->ctx, fn, "by_panels");
    LLVMBasicBlockRef by_rows = LLVMAppendBasicBlockInContext(c->ctx, fn, "by_rows");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, job_load(m, job, J_BY_PANELS), cg_i64(c, 0), ""), by_panels, by_rows);
    LLVMPositionBuilderAtEnd(b, by_panels);
    LLVMValueRef p0 = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, cg_i64(c, panels), t, ""), n, "p0");
    LLVMValueRef p1 = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, cg_i64(c, panels), t1, ""), n, "p1");
    LLVMBasicBlockRef some = cg_if(c, LLVMBuildICmp(b, LLVMIntSGT, p1, p0, ""), "panels");
    call_kernel(c, e->kernels[i], ins, y, m->params, c->batch, cg_i64(c, 0), p0, p1);
    cg_end_if(c, some);
    LLVMBuildBr(b, done);
    LLVMPositionBuilderAtEnd(b, by_rows);
  }
  LLVMValueRef lo = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, c->batch, t, ""), n, "lo");
  LLVMValueRef hi = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, c->batch, t1, ""), n, "hi");
  LLVMBasicBlockRef some = cg_if(c, LLVMBuildICmp(b, LLVMIntSGT, hi, lo, ""), "rows");
  LLVMValueRef buf[GROUP_MAX_INS];
  for (int q = 0; q < s->grp.nins; q++)
    buf[q] = cg_gep(c, LLVMBuildLoad2(b, c->ptr, LLVMBuildInBoundsGEP2(b, c->ptr, ins, (LLVMValueRef[]){cg_i64(c, q)}, 1, ""), ""),
                    LLVMBuildNSWMul(b, lo, cg_i64(c, e->sl[i].row_in[q]), ""));
  LLVMValueRef local = cg_alloca(c, LLVMArrayType2(c->ptr, GROUP_MAX_INS));
  store_ptrs(c, local, buf, s->grp.nins);
  call_kernel(c, e->kernels[i], local, cg_gep(c, y, LLVMBuildNSWMul(b, lo, cg_i64(c, e->sl[i].row_out), "")), m->params,
              LLVMBuildNSWSub(b, hi, lo, ""), lo, cg_i64(c, 0), cg_i64(c, panels));
  cg_end_if(c, some);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
  LLVMBuildRetVoid(b);
  return fn;
}

/* Task t of n of depth-first run r (run_blocks in kernel.c): its share of
 * the rows, a block at a time through the run's kernels, in its own block
 * area. */
static LLVMValueRef emit_blocks_task(aot_env *m, const block_run *r) {
  entry_env *e = m->e;
  cg *c = e->c;
  LLVMBuilderRef b = c->b;
  LLVMValueRef fn = begin_function(m, "blocks", m->task_t, false);
  LLVMValueRef job = LLVMGetParam(fn, 0), t = LLVMGetParam(fn, 1), n = job_load(m, job, J_N);
  c->batch = job_load(m, job, J_BATCH);
  task_params(m, job);
  e->in = job_load(m, job, J_X);
  e->out = job_load(m, job, J_Y);
  e->scratch = job_load(m, job, J_SCRATCH);
  e->ins = cg_alloca(c, LLVMArrayType2(c->ptr, GROUP_MAX_INS));
  set_block_area(e, t);
  LLVMValueRef lo = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, c->batch, t, ""), n, "lo");
  e->hi = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, c->batch, LLVMBuildNSWAdd(b, t, cg_i64(c, 1), ""), ""), n, "hi");
  e->run = r;
  cg_for(c, lo, e->hi, e->p->block_rows, run_block, e);
  LLVMBuildRetVoid(b);
  return fn;
}

/* task(job, 0) alone, or pfor(user, n, task, job) when n > 1. */
static void dispatch(aot_env *m, LLVMValueRef pfor, LLVMValueRef user, LLVMValueRef task, LLVMValueRef job,
                     LLVMValueRef n) {
  cg *c = m->e->c;
  LLVMBuilderRef b = c->b;
  LLVMBasicBlockRef many = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tasks");
  LLVMBasicBlockRef one = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "alone");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "dispatched");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGT, n, cg_i64(c, 1), ""), many, one);
  LLVMPositionBuilderAtEnd(b, many);
  LLVMBuildCall2(b, m->pfor_t, pfor, (LLVMValueRef[]){user, n, task, job}, 4, "");
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, one);
  LLVMBuildCall2(b, m->task_t, task, (LLVMValueRef[]){job, cg_i64(c, 0)}, 2, "");
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
}

/* Kernel i on the whole batch in slices (run_step in kernel.c): by weight
 * panels when the rows are too few to share, else by rows if it may be. */
static void parallel_step(aot_env *m, int i, LLVMValueRef pfor, LLVMValueRef user, LLVMValueRef tasks,
                          LLVMValueRef job, LLVMValueRef slice) {
  entry_env *e = m->e;
  cg *c = e->c;
  LLVMBuilderRef b = c->b;
  const step *s = &e->p->steps[i];
  int64_t panels = cg_linear_panels(c->g, &s->grp, c->target);
  LLVMValueRef one = cg_i64(c, 1), n = one, by_panels = cg_i64(c, 0);
  if (e->sl[i].by_rows)
    n = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, c->batch, one, ""), cg_smin(c, tasks, c->batch), one, "");
  if (panels > 1) {
    LLVMValueRef few = LLVMBuildICmp(b, LLVMIntSLT, c->batch, LLVMBuildNSWMul(b, tasks, cg_i64(c, CG_SPLIT_ROWS_MIN), ""), "");
    few = LLVMBuildAnd(b, few, LLVMBuildICmp(b, LLVMIntSGE, c->batch, one, ""), "few_rows");
    n = LLVMBuildSelect(b, few, cg_smin(c, tasks, cg_i64(c, panels)), n, "");
    by_panels = LLVMBuildZExt(b, few, c->i64, "");
  }
  LLVMValueRef buf[GROUP_MAX_INS + 1];
  step_buffers(e, i, NULL, buf);
  store_ptrs(c, job_field(m, job, J_INS), buf, s->grp.nins);
  LLVMBuildStore(b, buf[s->grp.nins], job_field(m, job, J_Y));
  LLVMBuildStore(b, c->batch, job_field(m, job, J_BATCH));
  LLVMBuildStore(b, n, job_field(m, job, J_N));
  LLVMBuildStore(b, by_panels, job_field(m, job, J_BY_PANELS));
  dispatch(m, pfor, user, slice, job, n);
}

/* int PREFIX_run_parallel([const void *packed,] const float *x, int64_t batch, float *y, void *scratch, pfor,
 *                         void *user, int tasks):
 * the plan as kernel.c's run_plan runs it with a parallel-for. */
static bool emit_run_parallel(aot_env *m) {
  entry_env *e = m->e;
  cg *c = e->c;
  const plan *p = e->p;
  LLVMValueRef *slices = calloc((size_t)p->n + 1, sizeof *slices), *blocks = calloc((size_t)p->nruns + 1, sizeof *blocks);
  if (!slices || !blocks) {
    free(slices), free(blocks);
    return false;
  }
  for (int i = 0; i < p->n; i++) slices[i] = emit_slice_task(m, i);
  for (int q = 0; q < p->nruns; q++) blocks[q] = emit_blocks_task(m, &p->runs[q]);

  LLVMTypeRef params[] = {c->ptr, c->i64, c->ptr, c->ptr, c->ptr, c->ptr, c->i32};
  unsigned a;
  LLVMValueRef fn = begin_function(m, "_run_parallel", run_type(m, params, 7, &a), true);
  LLVMBuilderRef b = c->b;
  LLVMValueRef x = LLVMGetParam(fn, a), y = LLVMGetParam(fn, a + 2), scratch = LLVMGetParam(fn, a + 3);
  LLVMValueRef pfor = LLVMGetParam(fn, a + 4), user = LLVMGetParam(fn, a + 5), tasks = task_count(c, LLVMGetParam(fn, a + 6));
  c->batch = run_batch(m, LLVMGetParam(fn, a + 1));
  check_run(m, a ? LLVMGetParam(fn, 0) : NULL, x, c->batch, y, scratch, tasks);
  /* no parallel-for or one task: the entry, as kernel.c runs it */
  LLVMValueRef alone = LLVMBuildOr(b, LLVMBuildIsNull(b, pfor, ""), LLVMBuildICmp(b, LLVMIntSLE, tasks, cg_i64(c, 1), ""), "");
  LLVMBasicBlockRef serial = LLVMAppendBasicBlockInContext(c->ctx, fn, "serial");
  LLVMBasicBlockRef parallel = LLVMAppendBasicBlockInContext(c->ctx, fn, "parallel");
  LLVMBuildCondBr(b, alone, serial, parallel);
  LLVMPositionBuilderAtEnd(b, serial);
  call_entry(m, x, c->batch, y, scratch);
  LLVMBuildRet(b, LLVMConstInt(c->i32, 0, 0));
  LLVMPositionBuilderAtEnd(b, parallel);
  e->in = x, e->out = y, e->scratch = scratch;
  set_block_area(e, NULL); /* task 0's, for a kernel run alone */
  LLVMValueRef job = cg_alloca(c, m->job_t);
  if (a) LLVMBuildStore(b, m->params, job_field(m, job, J_PARAMS));
  for (int i = 0, q = 0; i < p->n;) {
    if (q < p->nruns && p->runs[q].first == i) {
      /* a batch of one block runs layer by layer in task 0's area */
      const block_run *r = &p->runs[q];
      LLVMValueRef rows = cg_i64(c, p->block_rows);
      LLVMBasicBlockRef split = LLVMAppendBasicBlockInContext(c->ctx, fn, "blocks");
      LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(c->ctx, fn, "layers");
      LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, fn, "run_done");
      LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGT, c->batch, rows, ""), split, whole);
      LLVMPositionBuilderAtEnd(b, split);
      LLVMValueRef nblocks = LLVMBuildSDiv(b, LLVMBuildNSWAdd(b, c->batch, cg_i64(c, p->block_rows - 1), ""), rows, "");
      LLVMBuildStore(b, x, job_field(m, job, J_X));
      LLVMBuildStore(b, y, job_field(m, job, J_Y));
      LLVMBuildStore(b, scratch, job_field(m, job, J_SCRATCH));
      LLVMBuildStore(b, c->batch, job_field(m, job, J_BATCH));
      LLVMValueRef n = cg_smin(c, tasks, nblocks);
      LLVMBuildStore(b, n, job_field(m, job, J_N));
      dispatch(m, pfor, user, blocks[q], job, n);
      LLVMBuildBr(b, done);
      LLVMPositionBuilderAtEnd(b, whole);
      for (int s = r->first; s <= r->last; s++) parallel_step(m, s, pfor, user, tasks, job, slices[s]);
      LLVMBuildBr(b, done);
      LLVMPositionBuilderAtEnd(b, done);
      i = r->last + 1;
      q++;
      continue;
    }
    parallel_step(m, i, pfor, user, tasks, job, slices[i]);
    i++;
  }
  LLVMBuildRet(b, LLVMConstInt(c->i32, 0, 0));
  free(slices), free(blocks);
  return true;
}

/* The parameters as constant data, 64-byte aligned, and the array of
 * pointers to them the kernels take. */
static LLVMValueRef param_data(cg *c, const cg_aot *a) {
  if (!a->nparams) return LLVMConstNull(c->ptr);
  LLVMValueRef *ptrs = calloc((size_t)a->nparams, sizeof *ptrs);
  if (!ptrs) return NULL;
  for (int j = 0; j < a->nparams; j++) {
    size_t bytes = (size_t)a->param_floats[j] * sizeof(float);
    LLVMValueRef init = LLVMConstStringInContext2(c->ctx, (const char *)a->params[j], bytes, 1);
    LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), "param");
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetAlignment(gv, 64);
    ptrs[j] = gv;
  }
  LLVMValueRef init = LLVMConstArray2(c->ptr, ptrs, (uint64_t)a->nparams);
  LLVMValueRef gv = LLVMAddGlobal(c->mod, LLVMTypeOf(init), "params");
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetLinkage(gv, LLVMPrivateLinkage);
  free(ptrs);
  return gv;
}

/* False when out of memory. */
static bool emit_exports(entry_env *e, LLVMValueRef entry, const cg_aot *a) {
  cg *c = e->c;
  for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f; f = LLVMGetNextFunction(f))
    if (!LLVMIsDeclaration(f)) LLVMSetLinkage(f, LLVMInternalLinkage);
  for (LLVMValueRef v = LLVMGetFirstGlobal(c->mod); v; v = LLVMGetNextGlobal(v))
    if (!LLVMIsDeclaration(v) && LLVMGetLinkage(v) == LLVMExternalLinkage) LLVMSetLinkage(v, LLVMInternalLinkage);
  const node *in = &c->g->nodes[c->g->input], *out = &c->g->nodes[c->g->output];
  /* the batch at which a size in floats would pass INT64_MAX / 4, as kernel.c's scaled() */
  int64_t per_row = e->p->scratch_dyn, fixed = e->p->scratch_static + e->p->block_row_floats * e->p->block_rows;
  if (shape_numel(&in->shape).mul > per_row) per_row = shape_numel(&in->shape).mul;
  if (shape_numel(&out->shape).mul > per_row) per_row = shape_numel(&out->shape).mul;
  aot_env m = {.e = e, .a = a, .entry = entry, .dyn = in->shape.dyn,
               .max_batch = (INT64_MAX / 4 - fixed) / (per_row > 1 ? per_row : 1)};
  LLVMTypeRef fields[J_FIELDS] = {LLVMArrayType2(c->ptr, GROUP_MAX_INS), c->ptr, c->ptr, c->ptr, c->i64, c->i64, c->i64,
                                  c->ptr};
  m.job_t = LLVMStructTypeInContext(c->ctx, fields, J_FIELDS, 0);
  m.task_t = LLVMFunctionType(c->voidt, (LLVMTypeRef[]){c->ptr, c->i64}, 2, 0);
  m.pfor_t = LLVMFunctionType(c->voidt, (LLVMTypeRef[]){c->ptr, c->i64, c->ptr, c->ptr}, 4, 0);
  c->seed = cg_i64(c, 0); /* (eval mode: no dropout to key) */
  if (a->params && !(m.params = param_data(c, a))) return false;
  e->params = m.params;
  if (!a->params) {
    begin_function(&m, "_params_bytes", LLVMFunctionType(c->i64, NULL, 0, 0), true);
    LLVMBuildRet(c->b, cg_i64(c, cg_bound_offset(a, a->nparams)));
    begin_function(&m, "_bind", LLVMFunctionType(c->i32, (LLVMTypeRef[]){c->ptr, c->ptr}, 2, 0), true);
    cg_emit_bind(c, e->p, a);
  }
  emit_scratch_bytes(&m, false);
  emit_scratch_bytes(&m, true);
  emit_run(&m);
  return emit_run_parallel(&m);
}
