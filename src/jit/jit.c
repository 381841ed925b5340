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

static LLVMTargetMachineRef make_tm(const target_desc *t, int opt_level, char **err) {
  LLVMTargetRef target;
  if (LLVMGetTargetFromTriple(t->triple, &target, err)) return NULL;
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                               LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
  /* Small code model and PIC: what ORC's JITLink runs, so that the assembly
   * dump made with the same settings is the code that executes. */
  return LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, levels[opt_level],
                                 LLVMRelocPIC, LLVMCodeModelSmall);
}

static actjit_status emit_asm(actjit_context *ctx, const target_desc *t, int opt_level, LLVMModuleRef mod,
                              char **text) {
  char *err = NULL;
  LLVMTargetMachineRef tm = make_tm(t, opt_level, &err);
  if (!tm) {
    actjit_status st = aj_error(ctx, ACTJIT_ERR_TARGET, "no target for %s: %s", t->triple, err ? err : "");
    LLVMDisposeMessage(err);
    return st;
  }
  LLVMMemoryBufferRef buf = NULL;
  LLVMBool failed = LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &err, &buf);
  LLVMDisposeTargetMachine(tm);
  if (failed) {
    actjit_status st = aj_error(ctx, ACTJIT_ERR_LLVM, "assembly emission failed: %s", err ? err : "");
    LLVMDisposeMessage(err);
    return st;
  }
  size_t n = LLVMGetBufferSize(buf);
  *text = aj_strndup(LLVMGetBufferStart(buf), n);
  LLVMDisposeMemoryBuffer(buf);
  return *text ? ACTJIT_OK : aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
}

actjit_status jit_session_init(actjit_context *ctx, jit_session *s, int opt_level) {
  *s = (jit_session){.opt_level = opt_level};
  pthread_once(&native_once, init_native);
  if (native_failed) return aj_error(ctx, ACTJIT_ERR_TARGET, "LLVM has no native target for this host");
  if (opt_level < 0 || opt_level > 3)
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "optimization level %d is not in 0..3", opt_level);
  s->tsc = LLVMOrcCreateNewThreadSafeContext();
  return s->tsc ? ACTJIT_OK : aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
}

LLVMContextRef jit_session_context(jit_session *s) { return LLVMOrcThreadSafeContextGetContext(s->tsc); }

static char *print_module(LLVMModuleRef m) { return take_llvm_message(LLVMPrintModuleToString(m)); }

static actjit_status optimize(actjit_context *ctx, int opt_level, LLVMTargetMachineRef tm, LLVMModuleRef mod) {
  char passes[32];
  snprintf(passes, sizeof passes, "default<O%d>", opt_level);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef err = LLVMRunPasses(mod, passes, tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  return err ? llvm_error(ctx, err, "optimization") : ACTJIT_OK;
}

static actjit_status prepare(actjit_context *ctx, jit_session *s, const target_desc *t,
                             LLVMTargetMachineRef tm, LLVMModuleRef mod) {
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
  s->llvm_ir = print_module(mod);
  actjit_status st = optimize(ctx, s->opt_level, tm, mod);
  if (st) return st;
  s->llvm_opt = print_module(mod);
  s->optimized = LLVMCloneModule(mod);
  if (!s->llvm_ir || !s->llvm_opt || !s->optimized) return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  return ACTJIT_OK;
}

actjit_status jit_session_compile(actjit_context *ctx, jit_session *s, const target_desc *t,
                                  LLVMModuleRef mod, const char *entry, void **addr) {
  double t0 = seconds();
  char *err = NULL;
  LLVMTargetMachineRef tm = make_tm(t, s->opt_level, &err);
  if (!tm) {
    LLVMDisposeModule(mod);
    actjit_status st = aj_error(ctx, ACTJIT_ERR_TARGET, "no target for %s: %s", t->triple, err ? err : "");
    LLVMDisposeMessage(err);
    return st;
  }
  actjit_status st = prepare(ctx, s, t, tm, mod);
  double t1 = seconds();
  s->optimize_s = t1 - t0;
  if (st) {
    LLVMDisposeTargetMachine(tm);
    LLVMDisposeModule(mod);
    return st;
  }
  /* The builder takes the target machine; LLJIT takes the builder. */
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&s->lljit, builder);
  if (e) {
    LLVMDisposeModule(mod);
    return llvm_error(ctx, e, "creating the JIT");
  }
  /* Calls the code may make (powf for pow's general exponents) resolve to
   * this process's libm. */
  LLVMOrcDefinitionGeneratorRef gen = NULL;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(s->lljit), NULL, NULL);
  if (e) {
    LLVMDisposeModule(mod);
    return llvm_error(ctx, e, "searching the process for symbols");
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(s->lljit), gen);
  /* The thread-safe module owns mod, and the JIT owns it once added, even
   * when adding fails. */
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, s->tsc);
  e = LLVMOrcLLJITAddLLVMIRModule(s->lljit, LLVMOrcLLJITGetMainJITDylib(s->lljit), tsm);
  if (e) return llvm_error(ctx, e, "adding the module to the JIT");
  /* The lookup materializes the module: instruction selection and linking. */
  st = jit_session_lookup(ctx, s, entry, addr);
  s->codegen_s = seconds() - t1;
  return st;
}

actjit_status jit_session_lookup(actjit_context *ctx, jit_session *s, const char *name, void **addr) {
  LLVMOrcExecutorAddress a = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(s->lljit, &a, name);
  if (e) return llvm_error(ctx, e, name);
  *addr = (void *)(uintptr_t)a;
  return ACTJIT_OK;
}

actjit_status jit_session_asm(actjit_context *ctx, jit_session *s, const target_desc *t, char **text) {
  if (!s->optimized) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "nothing was compiled");
  LLVMModuleRef clone = LLVMCloneModule(s->optimized);
  if (!clone) return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  actjit_status st = emit_asm(ctx, t, s->opt_level, clone, text);
  LLVMDisposeModule(clone);
  return st;
}

void jit_session_free(jit_session *s) {
  if (s->optimized) LLVMDisposeModule(s->optimized);
  if (s->lljit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(s->lljit);
    if (e) LLVMConsumeError(e);
  }
  if (s->tsc) LLVMOrcDisposeThreadSafeContext(s->tsc);
  free(s->llvm_ir);
  free(s->llvm_opt);
  *s = (jit_session){0};
}
