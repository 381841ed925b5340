#define _GNU_SOURCE /* sched_getaffinity */
#include "jit/jit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ir/print.h"

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pthread_once_t native_once = PTHREAD_ONCE_INIT;
static int native_failed;

static void init_native(void) {
  native_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter();
}

static actjit_status llvm_error(actjit_context *ctx, LLVMErrorRef err, const char *what) {
  char *msg = LLVMGetErrorMessage(err);
  actjit_status st = aj_error(ctx, ACTJIT_ERR_LLVM, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  return st;
}

/* What went wrong with a module, kept until the thread that compiled it is
 * joined: a context is one thread's at a time. */
typedef struct jit_error {
  actjit_status st;
  char msg[1024];
} jit_error;

__attribute__((format(printf, 3, 4))) static void fail(jit_error *e, actjit_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  e->st = st;
}

/* fail() with an LLVM-owned message, which it disposes. */
static void fail_llvm(jit_error *e, actjit_status st, const char *what, char *msg) {
  fail(e, st, "%s: %s", what, msg ? msg : "");
  LLVMDisposeMessage(msg);
}

/* e set from an LLVM error, which it consumes. */
static void fail_error(jit_error *e, const char *what, LLVMErrorRef err) {
  char *msg = LLVMGetErrorMessage(err);
  fail(e, ACTJIT_ERR_LLVM, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
}

static actjit_status report(actjit_context *ctx, const jit_error *e) { return aj_error(ctx, e->st, "%s", e->msg); }

/* Small code model and PIC: what ORC's JITLink runs, so that the assembly
 * dump made with the same settings is the code that executes. */
static void make_tm(jit_error *e, const target_desc *t, int opt_level, LLVMTargetMachineRef *tm) {
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                               LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
  LLVMTargetRef target;
  char *err = NULL;
  *tm = NULL;
  if (!LLVMGetTargetFromTriple(t->triple, &target, &err))
    *tm = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, levels[opt_level], LLVMRelocPIC,
                                  LLVMCodeModelSmall);
  if (!*tm) fail(e, ACTJIT_ERR_TARGET, "no target for %s: %s", t->triple, err ? err : "");
  LLVMDisposeMessage(err);
}

/* Target machines kept for later compiles, at most TM_POOL: a new one
 * builds its subtarget when first used, which a warm compile's threads
 * would each pay again.  A machine is one thread's at a time: out of the
 * pool while it compiles. */
enum { TM_POOL = 4 };
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pooled_tm {
  LLVMTargetMachineRef tm;
  int opt_level;
} pool[TM_POOL];

/* Whether pooled machine m is one for t at opt_level (the strings it was
 * made with are LLVM's copies: the pool allocates nothing of its own). */
static bool pooled_for(const struct pooled_tm *m, const target_desc *t, int opt_level) {
  if (!m->tm || m->opt_level != opt_level) return false;
  char *triple = LLVMGetTargetMachineTriple(m->tm), *cpu = LLVMGetTargetMachineCPU(m->tm),
       *features = LLVMGetTargetMachineFeatureString(m->tm);
  bool same = !strcmp(triple, t->triple) && !strcmp(cpu, t->cpu) && !strcmp(features, t->features);
  LLVMDisposeMessage(triple), LLVMDisposeMessage(cpu), LLVMDisposeMessage(features);
  return same;
}

/* A target machine for t at opt_level, from the pool or new. */
static void take_tm(jit_error *e, const target_desc *t, int opt_level, LLVMTargetMachineRef *tm) {
  *tm = NULL;
  pthread_mutex_lock(&pool_lock);
  for (int i = 0; i < TM_POOL && !*tm; i++)
    if (pooled_for(&pool[i], t, opt_level)) *tm = pool[i].tm, pool[i].tm = NULL;
  pthread_mutex_unlock(&pool_lock);
  if (!*tm) make_tm(e, t, opt_level, tm);
}

/* tm (take_tm's at opt_level) back into the pool: into a free slot, else
 * over the last slot's machine, which is disposed. */
static void give_tm(int opt_level, LLVMTargetMachineRef tm) {
  pthread_mutex_lock(&pool_lock);
  int i = 0;
  while (i < TM_POOL - 1 && pool[i].tm) i++;
  LLVMTargetMachineRef old = pool[i].tm;
  pool[i] = (struct pooled_tm){tm, opt_level};
  pthread_mutex_unlock(&pool_lock);
  if (old) LLVMDisposeTargetMachine(old);
}

/* Code generation without loop strength reduction: the loop nests codegen
 * emits address their operands already as LSR would, and LSR, with the
 * scalar evolution it runs on, was a fifth of a warm compile of the seed
 * model and changed no ir/ pipeline's speed beyond noise on AVX-512, AVX2,
 * AVX or SSE (README, "Compile threads").  LLVM sets it only through its
 * command line, which is the process's: only an LLVM of actjit's own is
 * actjit's to set.  Parsed when code is first generated, not when a kernel
 * is loaded from the disk cache: it takes 0.2 ms in a new process. */
static pthread_once_t codegen_once = PTHREAD_ONCE_INIT;

static void set_codegen_options(void) {
  const char *argv[] = {"actjit", "-disable-lsr"};
  if (jit_llvm_private) LLVMParseCommandLineOptions(2, argv, "");
}

/* Machine code of mod, as an object file or assembly text. */
static void emit(jit_error *e, LLVMTargetMachineRef tm, LLVMModuleRef mod, LLVMCodeGenFileType kind,
                 LLVMMemoryBufferRef *buf) {
  pthread_once(&codegen_once, set_codegen_options);
  char *err = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind, &err, buf))
    fail_llvm(e, ACTJIT_ERR_LLVM, kind == LLVMAssemblyFile ? "assembly emission failed" : "object emission failed",
              err);
}

actjit_status jit_session_init(actjit_context *ctx, jit_session *s, int opt_level) {
  *s = (jit_session){.opt_level = opt_level};
  pthread_once(&native_once, init_native);
  if (native_failed) return aj_error(ctx, ACTJIT_ERR_TARGET, "LLVM has no native target for this host");
  if (opt_level < 0 || opt_level > 3)
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "optimization level %d is not in 0..3", opt_level);
  return ACTJIT_OK;
}

/* (LLVMContextCreate does not fail: LLVM ends the process when out of
 * memory.) */
LLVMContextRef jit_session_context(jit_session *s) {
  if (!s->llvm) s->llvm = LLVMContextCreate();
  return s->llvm;
}

/* The passes actjit's IR needs; its kernels run as fast as after
 * default<O3> (every ir/ pipeline benchmarked against it) for a tenth of
 * the optimization time.  SROA makes codegen's variables (cg_var)
 * registers, early CSE and instcombine fold the loop nests' address
 * arithmetic and constants, simplifycfg merges the blocks codegen leaves,
 * and early CSE over memory SSA reuses values loaded from the same place in
 * other blocks (a strided softmax's prologue: 1.5x slower without it).  The
 * rest of O3 (vectorizers, unrolling, LICM, GVN, inlining) finds nothing to
 * gain in code that is vectorized and unrolled already.  instcombine's
 * fixpoint check is off: with it LLVM aborts when one iteration is not
 * enough. */
static const char pipeline[] =
    "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,early-cse<memssa>)";

static void optimize(jit_error *e, int opt_level, LLVMTargetMachineRef tm, LLVMModuleRef mod) {
  if (!opt_level) return;
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef err = LLVMRunPasses(mod, pipeline, tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (err) fail_error(e, "optimization", err);
}

/* Gives mod the target's triple and data layout and verifies it. */
static void prepare(jit_error *e, const target_desc *t, LLVMTargetMachineRef tm, LLVMModuleRef mod) {
  LLVMSetTarget(mod, t->triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  char *dls = LLVMCopyStringRepOfTargetData(dl);
  LLVMSetDataLayout(mod, dls);
  LLVMDisposeMessage(dls);
  LLVMDisposeTargetData(dl);
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg))
    fail_llvm(e, ACTJIT_ERR_LLVM, "generated module is invalid", msg);
  else LLVMDisposeMessage(msg);
}

/* ------------------------------------------------------------- compiling */

/* Modules compiled by several threads: each takes the next module of
 * `order` and compiles it with a target machine of its own. */
typedef struct emit_job {
  const target_desc *t;
  int opt_level, n;
  LLVMModuleRef *mods;      /* taken as compiled */
  LLVMMemoryBufferRef *obj; /* obj[i]: mods[i]'s */
  jit_error *errs;          /* errs[i]: mods[i]'s */
  const int *order;
  pthread_mutex_t lock;     /* guards the fields below */
  int next;                 /* order[next] is the next module to take */
  double optimize_s, codegen_s; /* summed over the threads */
} emit_job;

static void *emit_worker(void *arg) {
  emit_job *j = arg;
  LLVMTargetMachineRef tm = NULL;
  double opt = 0, cg = 0;
  for (;;) {
    pthread_mutex_lock(&j->lock);
    int i = j->next < j->n ? j->order[j->next++] : -1;
    pthread_mutex_unlock(&j->lock);
    if (i < 0) break;
    jit_error *e = &j->errs[i];
    double t0 = seconds();
    if (!tm) take_tm(e, j->t, j->opt_level, &tm);
    if (!e->st) prepare(e, j->t, tm, j->mods[i]);
    if (!e->st) optimize(e, j->opt_level, tm, j->mods[i]);
    double t1 = seconds();
    if (!e->st) emit(e, tm, j->mods[i], LLVMObjectFile, &j->obj[i]);
    LLVMDisposeModule(j->mods[i]);
    j->mods[i] = NULL;
    opt += t1 - t0;
    cg += seconds() - t1;
  }
  if (tm) give_tm(j->opt_level, tm);
  pthread_mutex_lock(&j->lock);
  j->optimize_s += opt;
  j->codegen_s += cg;
  pthread_mutex_unlock(&j->lock);
  return NULL;
}

int jit_threads(int threads, int n) {
  if (threads <= 0) {
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    threads = !sched_getaffinity(0, sizeof set, &set) ? CPU_COUNT(&set) : online > 0 ? (int)online : 1;
  }
  return threads < n ? threads : n;
}

static long instructions(LLVMModuleRef m) {
  long n = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f))
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(f); b; b = LLVMGetNextBasicBlock(b))
      for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i)) n++;
  return n;
}

typedef struct sized {
  long size;
  int i;
} sized;

static int larger_first(const void *a, const void *b) {
  const sized *x = a, *y = b;
  return x->size != y->size ? (x->size < y->size ? 1 : -1) : x->i - y->i;
}

/* mods[0..n) (each consumed) as object files obj[0..n), on up to `threads`
 * threads, the largest modules first so that the threads finish together. */
static actjit_status emit_modules(actjit_context *ctx, jit_session *s, const target_desc *t, int n,
                                  LLVMModuleRef *mods, LLVMMemoryBufferRef *obj, int threads) {
  double t0 = seconds();
  emit_job j = {.t = t, .opt_level = s->opt_level, .n = n, .mods = mods, .obj = obj};
  int *order = calloc((size_t)n + 1, sizeof *order);
  sized *by_size = calloc((size_t)n + 1, sizeof *by_size);
  j.errs = calloc((size_t)n + 1, sizeof *j.errs);
  threads = jit_threads(threads, n);
  pthread_t *tids = calloc((size_t)threads + 1, sizeof *tids);
  if (!order || !by_size || !j.errs || !tids) {
    for (int i = 0; i < n; i++) LLVMDisposeModule(mods[i]), mods[i] = NULL;
    free(order), free(by_size), free(j.errs), free(tids);
    return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  for (int i = 0; i < n; i++) by_size[i] = (sized){threads > 1 ? instructions(mods[i]) : 0, i};
  qsort(by_size, (size_t)n, sizeof *by_size, larger_first);
  for (int i = 0; i < n; i++) order[i] = by_size[i].i;
  j.order = order;
  pthread_mutex_init(&j.lock, NULL);
  /* (a thread that cannot start leaves its share to the others) */
  int started = 1;
  while (started < threads && !pthread_create(&tids[started], NULL, emit_worker, &j)) started++;
  emit_worker(&j);
  for (int i = 1; i < started; i++) pthread_join(tids[i], NULL);
  pthread_mutex_destroy(&j.lock);
  const jit_error *failed = NULL;
  for (int i = 0; i < n && !failed; i++)
    if (j.errs[i].st) failed = &j.errs[i];
  actjit_status st = failed ? report(ctx, failed) : ACTJIT_OK;
  for (int i = 0; st && i < n; i++)
    if (obj[i]) LLVMDisposeMemoryBuffer(obj[i]), obj[i] = NULL;
  double wall = seconds() - t0, busy = j.optimize_s + j.codegen_s;
  s->optimize_s = busy > 0 ? wall * j.optimize_s / busy : 0;
  s->codegen_s = wall - s->optimize_s;
  s->threads = started;
  free(order), free(by_size), free(j.errs), free(tids);
  return st;
}

/* ---------------------------------------------------------------- linking */

/* A JIT for t's objects, which it only links: the target machines it
 * makes from its builder (for a data layout, and for an IR compiler it never
 * runs) are the triple's generic CPU's, quick to set up, where the host's,
 * with its hundred features, and detecting the host cost 0.3 ms more of a
 * fresh process's disk cache hit.  The builder takes the target machine;
 * LLJIT takes the builder. */
static void make_jit(jit_error *e, const target_desc *t, LLVMOrcLLJITRef *out) {
  char none[] = "";
  const target_desc generic = {.triple = t->triple, .cpu = none, .features = none};
  LLVMTargetMachineRef tm;
  make_tm(e, &generic, 0, &tm);
  if (e->st) return;
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  /* (Calls the code may make, powf for pow's general exponents, resolve to
   * this process's libm: LLJIT links the process's symbols.) */
  LLVMErrorRef err = LLVMOrcCreateLLJIT(out, builder);
  if (err) fail_error(e, "creating the JIT", err);
}

/* Links obj[0..n) (each taken, even on error) into a new JIT and looks up
 * entry. */
static actjit_status load_objects(actjit_context *ctx, jit_session *s, const target_desc *t, int n,
                                  LLVMMemoryBufferRef *obj, const char *entry, void **addr) {
  double t0 = seconds();
  jit_error err = {0};
  make_jit(&err, t, &s->lljit);
  /* The JIT owns an object once added, even when adding fails. */
  for (int i = 0; i < n; i++) {
    LLVMOrcJITDylibRef main = err.st ? NULL : LLVMOrcLLJITGetMainJITDylib(s->lljit);
    LLVMErrorRef e = main ? LLVMOrcLLJITAddObjectFile(s->lljit, main, obj[i]) : NULL;
    if (!main) LLVMDisposeMemoryBuffer(obj[i]);
    if (e) fail_error(&err, "adding an object to the JIT", e);
    obj[i] = NULL;
  }
  if (err.st) return report(ctx, &err);
  s->objects = n;
  /* The first lookup links them. */
  actjit_status st = jit_session_lookup(ctx, s, entry, addr);
  s->codegen_s += seconds() - t0;
  return st;
}

/* ------------------------------------------------------------------ dumps */

/* LLVM's diagnostics (a link's) go to the dump's message, not to stderr. */
static void keep_diagnostic(LLVMDiagnosticInfoRef info, void *ep) {
  jit_error *e = ep;
  if (LLVMGetDiagInfoSeverity(info) == LLVMDSError && !e->st)
    fail_llvm(e, ACTJIT_ERR_LLVM, "linking the dump's modules", LLVMGetDiagInfoDescription(info));
}

/* mods[0..n) (in one context; consumed) as text: each optimized or not,
 * then linked into one, or each one's assembly. */
static actjit_status dump_modules(actjit_context *ctx, jit_session *s, const target_desc *t, int n,
                                  LLVMModuleRef *mods, jit_stage stage, char **text) {
  jit_error e = {0};
  LLVMTargetMachineRef tm = NULL;
  strbuf sb = {0};
  take_tm(&e, t, s->opt_level, &tm);
  for (int i = 0; !e.st && i < n; i++) {
    prepare(&e, t, tm, mods[i]);
    if (!e.st && stage != JIT_LLVM) optimize(&e, s->opt_level, tm, mods[i]);
    LLVMMemoryBufferRef buf = NULL;
    if (!e.st && stage == JIT_ASM) emit(&e, tm, mods[i], LLVMAssemblyFile, &buf);
    if (buf) sb_printf(&sb, "%.*s", (int)LLVMGetBufferSize(buf), LLVMGetBufferStart(buf));
    if (buf) LLVMDisposeMemoryBuffer(buf);
  }
  if (!e.st && stage != JIT_ASM && n) {
    LLVMContextRef llvm = LLVMGetModuleContext(mods[0]);
    LLVMContextSetDiagnosticHandler(llvm, keep_diagnostic, &e);
    for (int i = 1; i < n && !e.st; i++) {
      if (LLVMLinkModules2(mods[0], mods[i]) && !e.st) fail(&e, ACTJIT_ERR_LLVM, "linking the dump's modules failed");
      mods[i] = NULL; /* (the linker disposed of it) */
    }
    LLVMContextSetDiagnosticHandler(llvm, NULL, NULL);
    /* (named as the one module is) */
    LLVMSetModuleIdentifier(mods[0], "actjit", strlen("actjit"));
    LLVMSetSourceFileName(mods[0], "actjit", strlen("actjit"));
    if (!e.st) {
      char *ir = LLVMPrintModuleToString(mods[0]);
      sb_printf(&sb, "%s", ir);
      LLVMDisposeMessage(ir);
    }
  }
  if (!e.st && (sb.failed || !sb_printf(&sb, "%s", ""))) fail(&e, ACTJIT_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++)
    if (mods[i]) LLVMDisposeModule(mods[i]), mods[i] = NULL;
  if (tm) give_tm(s->opt_level, tm);
  if (e.st) {
    free(sb.buf);
    return report(ctx, &e);
  }
  *text = sb.buf;
  return ACTJIT_OK;
}

/* ------------------------------------------------------------------ parts */

actjit_status jit_parts_init(actjit_context *ctx, jit_parts *p, int n, bool one_context) {
  *p = (jit_parts){.n = n, .one_context = one_context};
  p->llvm = calloc((size_t)n + 1, sizeof *p->llvm);
  p->mod = calloc((size_t)n + 1, sizeof *p->mod);
  p->obj = calloc((size_t)n + 1, sizeof *p->obj);
  if (!p->llvm || !p->mod || !p->obj) {
    jit_parts_free(p);
    return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  for (int i = 0; i < n; i++) p->llvm[i] = one_context && i ? p->llvm[0] : LLVMContextCreate();
  return ACTJIT_OK;
}

void jit_parts_free(jit_parts *p) {
  for (int i = 0; p->mod && i < p->n; i++)
    if (p->mod[i]) LLVMDisposeModule(p->mod[i]);
  for (int i = 0; p->obj && i < p->n; i++)
    if (p->obj[i]) LLVMDisposeMemoryBuffer(p->obj[i]);
  for (int i = 0; p->llvm && i < (p->one_context ? 1 : p->n); i++)
    if (p->llvm[i]) LLVMContextDispose(p->llvm[i]);
  free(p->llvm), free(p->mod), free(p->obj);
  *p = (jit_parts){0};
}

actjit_status jit_parts_emit(actjit_context *ctx, jit_session *s, const target_desc *t, jit_parts *p, int threads) {
  return emit_modules(ctx, s, t, p->n, p->mod, p->obj, threads);
}

actjit_status jit_parts_load(actjit_context *ctx, jit_session *s, const target_desc *t, jit_parts *p,
                             const char *entry, void **addr) {
  return load_objects(ctx, s, t, p->n, p->obj, entry, addr);
}

actjit_status jit_parts_dump(actjit_context *ctx, jit_session *s, const target_desc *t, jit_parts *p, jit_stage stage,
                             char **text) {
  return dump_modules(ctx, s, t, p->n, p->mod, stage, text);
}

/* --------------------------------------------------------- single module */

actjit_status jit_session_emit(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               LLVMMemoryBufferRef *obj) {
  *obj = NULL;
  return emit_modules(ctx, s, t, 1, &mod, obj, 1);
}

actjit_status jit_session_load(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMMemoryBufferRef obj,
                               const char *entry, void **addr) {
  return load_objects(ctx, s, t, 1, &obj, entry, addr);
}

actjit_status jit_session_compile(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                                  const char *entry, void **addr) {
  LLVMMemoryBufferRef obj;
  actjit_status st = jit_session_emit(ctx, s, t, mod, &obj);
  return st ? st : jit_session_load(ctx, s, t, obj, entry, addr);
}

actjit_status jit_session_dump(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               jit_stage stage, char **text) {
  return dump_modules(ctx, s, t, 1, &mod, stage, text);
}

actjit_status jit_session_lookup(actjit_context *ctx, jit_session *s, const char *name, void **addr) {
  LLVMOrcExecutorAddress a = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(s->lljit, &a, name);
  if (e) return llvm_error(ctx, e, name);
  *addr = (void *)(uintptr_t)a;
  return ACTJIT_OK;
}

void *jit_object_copy(LLVMMemoryBufferRef obj, size_t *len) {
  *len = LLVMGetBufferSize(obj);
  void *p = malloc(*len ? *len : 1);
  if (p) memcpy(p, LLVMGetBufferStart(obj), *len);
  return p;
}

actjit_status jit_session_load_bytes(actjit_context *ctx, jit_session *s, const target_desc *t, int n,
                                     void *const *obj, const size_t *len, const char *entry, void **addr) {
  LLVMMemoryBufferRef *bufs = calloc((size_t)n + 1, sizeof *bufs);
  bool ok = bufs != NULL;
  for (int i = 0; ok && i < n; i++)
    ok = (bufs[i] = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj[i], len[i], "actjit-cached-kernel")) != NULL;
  actjit_status st = ok ? load_objects(ctx, s, t, n, bufs, entry, addr) : aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int i = 0; !ok && bufs && i < n; i++)
    if (bufs[i]) LLVMDisposeMemoryBuffer(bufs[i]);
  free(bufs);
  return st;
}

void jit_session_free(jit_session *s) {
  if (s->lljit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(s->lljit);
    if (e) LLVMConsumeError(e);
  }
  if (s->llvm) LLVMContextDispose(s->llvm);
  *s = (jit_session){0};
}
