#include "jit/jit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static char *dup_str(const char *s) { return aj_strndup(s, strlen(s)); }

/* Takes an LLVM-owned message, returns a malloc'ed copy, disposes it. */
static char *take_llvm_message(char *msg) {
  char *s = dup_str(msg ? msg : "");
  LLVMDisposeMessage(msg);
  return s;
}

static actjit_status llvm_error(actjit_context *ctx, LLVMErrorRef err, const char *what) {
  char *msg = LLVMGetErrorMessage(err);
  actjit_status st = aj_error(ctx, ACTJIT_ERR_LLVM, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  return st;
}

/* Small code model and PIC: what ORC's JITLink runs, so that the assembly
 * dump made with the same settings is the code that executes. */
static actjit_status make_tm(actjit_context *ctx, const target_desc *t, int opt_level, LLVMTargetMachineRef *tm) {
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                               LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
  LLVMTargetRef target;
  char *err = NULL;
  *tm = NULL;
  if (!LLVMGetTargetFromTriple(t->triple, &target, &err))
    *tm = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, levels[opt_level], LLVMRelocPIC,
                                  LLVMCodeModelSmall);
  if (*tm) return ACTJIT_OK;
  actjit_status st = aj_error(ctx, ACTJIT_ERR_TARGET, "no target for %s: %s", t->triple, err ? err : "");
  LLVMDisposeMessage(err);
  return st;
}

/* Machine code of mod, as an object file or assembly text. */
static actjit_status emit(actjit_context *ctx, LLVMTargetMachineRef tm, LLVMModuleRef mod, LLVMCodeGenFileType kind,
                          LLVMMemoryBufferRef *buf) {
  char *err = NULL;
  if (!LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind, &err, buf)) return ACTJIT_OK;
  actjit_status st = aj_error(ctx, ACTJIT_ERR_LLVM, "%s emission failed: %s", kind == LLVMAssemblyFile ? "assembly" : "object",
                              err ? err : "");
  LLVMDisposeMessage(err);
  return st;
}

actjit_status jit_session_init(actjit_context *ctx, jit_session *s, int opt_level) {
  *s = (jit_session){.opt_level = opt_level};
  pthread_once(&native_once, init_native);
  if (native_failed) return aj_error(ctx, ACTJIT_ERR_TARGET, "LLVM has no native target for this host");
  if (opt_level < 0 || opt_level > 3)
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "optimization level %d is not in 0..3", opt_level);
  s->llvm = LLVMContextCreate();
  return s->llvm ? ACTJIT_OK : aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
}

LLVMContextRef jit_session_context(jit_session *s) { return s->llvm; }

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

static actjit_status optimize(actjit_context *ctx, int opt_level, LLVMTargetMachineRef tm, LLVMModuleRef mod) {
  if (!opt_level) return ACTJIT_OK;
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef err = LLVMRunPasses(mod, pipeline, tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  return err ? llvm_error(ctx, err, "optimization") : ACTJIT_OK;
}

/* Gives mod the target's triple and data layout and verifies it. */
static actjit_status prepare(actjit_context *ctx, const target_desc *t, LLVMTargetMachineRef tm, LLVMModuleRef mod) {
  LLVMSetTarget(mod, t->triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  char *dls = LLVMCopyStringRepOfTargetData(dl);
  LLVMSetDataLayout(mod, dls);
  LLVMDisposeMessage(dls);
  LLVMDisposeTargetData(dl);
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    actjit_status st = aj_error(ctx, ACTJIT_ERR_LLVM, "generated module is invalid: %s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return st;
  }
  LLVMDisposeMessage(msg);
  return ACTJIT_OK;
}

actjit_status jit_session_emit(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               LLVMMemoryBufferRef *obj) {
  double t0 = seconds();
  LLVMTargetMachineRef tm;
  *obj = NULL;
  actjit_status st = make_tm(ctx, t, s->opt_level, &tm);
  if (!st) st = prepare(ctx, t, tm, mod);
  if (!st) st = optimize(ctx, s->opt_level, tm, mod);
  double t1 = seconds();
  s->optimize_s = t1 - t0;
  if (!st) st = emit(ctx, tm, mod, LLVMObjectFile, obj);
  LLVMDisposeModule(mod);
  s->codegen_s = seconds() - t1;
  /* kept for the JIT that loads the object */
  if (st && tm) LLVMDisposeTargetMachine(tm);
  else s->tm = tm;
  return st;
}

actjit_status jit_session_load(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMMemoryBufferRef obj,
                               const char *entry, void **addr) {
  double t0 = seconds();
  /* The builder takes the target machine; LLJIT takes the builder.  An
   * object emitted elsewhere (a kernel cache's) is only linked: the host's
   * builder for the object's triple, without a target machine of ours
   * (LLJIT makes one from the builder all the same). */
  LLVMOrcJITTargetMachineBuilderRef jtmb = NULL;
  LLVMErrorRef e = NULL;
  if (s->tm) jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(s->tm);
  else if (!(e = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb)))
    LLVMOrcJITTargetMachineBuilderSetTargetTriple(jtmb, t->triple);
  s->tm = NULL;
  if (e) {
    LLVMDisposeMemoryBuffer(obj);
    return llvm_error(ctx, e, "detecting the host");
  }
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
  e = LLVMOrcCreateLLJIT(&s->lljit, builder);
  if (e) {
    LLVMDisposeMemoryBuffer(obj);
    return llvm_error(ctx, e, "creating the JIT");
  }
  /* Calls the code may make (powf for pow's general exponents) resolve to
   * this process's libm. */
  LLVMOrcDefinitionGeneratorRef gen = NULL;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(s->lljit), NULL, NULL);
  if (e) {
    LLVMDisposeMemoryBuffer(obj);
    return llvm_error(ctx, e, "searching the process for symbols");
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(s->lljit), gen);
  /* The JIT owns the object once added, even when adding fails. */
  e = LLVMOrcLLJITAddObjectFile(s->lljit, LLVMOrcLLJITGetMainJITDylib(s->lljit), obj);
  if (e) return llvm_error(ctx, e, "adding the object to the JIT");
  /* The first lookup links it. */
  actjit_status st = jit_session_lookup(ctx, s, entry, addr);
  s->codegen_s += seconds() - t0;
  return st;
}

void *jit_object_copy(LLVMMemoryBufferRef obj, size_t *len) {
  *len = LLVMGetBufferSize(obj);
  void *p = malloc(*len ? *len : 1);
  if (p) memcpy(p, LLVMGetBufferStart(obj), *len);
  return p;
}

actjit_status jit_session_load_bytes(actjit_context *ctx, jit_session *s, const target_desc *t, const void *obj,
                                     size_t len, const char *entry, void **addr) {
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj, len, "actjit-cached-kernel");
  return buf ? jit_session_load(ctx, s, t, buf, entry, addr) : aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
}

actjit_status jit_session_compile(actjit_context *ctx, jit_session *s, const target_desc *t,
                                  LLVMModuleRef mod, const char *entry, void **addr) {
  LLVMMemoryBufferRef obj;
  actjit_status st = jit_session_emit(ctx, s, t, mod, &obj);
  return st ? st : jit_session_load(ctx, s, t, obj, entry, addr);
}

actjit_status jit_session_lookup(actjit_context *ctx, jit_session *s, const char *name, void **addr) {
  LLVMOrcExecutorAddress a = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(s->lljit, &a, name);
  if (e) return llvm_error(ctx, e, name);
  *addr = (void *)(uintptr_t)a;
  return ACTJIT_OK;
}

actjit_status jit_session_dump(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               jit_stage stage, char **text) {
  LLVMTargetMachineRef tm;
  LLVMMemoryBufferRef buf = NULL;
  actjit_status st = make_tm(ctx, t, s->opt_level, &tm);
  if (!st) st = prepare(ctx, t, tm, mod);
  if (!st && stage != JIT_LLVM) st = optimize(ctx, s->opt_level, tm, mod);
  if (!st && stage == JIT_ASM) st = emit(ctx, tm, mod, LLVMAssemblyFile, &buf);
  if (!st) {
    *text = buf ? aj_strndup(LLVMGetBufferStart(buf), LLVMGetBufferSize(buf))
                : take_llvm_message(LLVMPrintModuleToString(mod));
    if (!*text) st = aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  if (buf) LLVMDisposeMemoryBuffer(buf);
  if (tm) LLVMDisposeTargetMachine(tm);
  LLVMDisposeModule(mod);
  return st;
}

void jit_session_free(jit_session *s) {
  if (s->tm) LLVMDisposeTargetMachine(s->tm);
  if (s->lljit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(s->lljit);
    if (e) LLVMConsumeError(e);
  }
  if (s->llvm) LLVMContextDispose(s->llvm);
  *s = (jit_session){0};
}
