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

#include "ir/suggest.h"
#include "target_names.h" /* generated from this LLVM's llc -mcpu=help */

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

static bool in_list(const char *const *list, size_t n, const char *s, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(list[i]) == len && !memcmp(list[i], s, len)) return true;
  return false;
}

/* " (did you mean 'x'?)" for the name of the list closest to s[0..len),
 * written with `sign` before it, or "". */
static const char *list_hint(const char *const *list, size_t n, const char *sign, const char *s, size_t len,
                             char hint[SUGGEST_HINT_SIZE + 1]) {
  suggest sg;
  suggest_init(&sg, s, len);
  for (size_t i = 0; i < n; i++) suggest_offer(&sg, list[i]);
  hint[0] = '\0';
  if (sg.best) snprintf(hint, SUGGEST_HINT_SIZE + 1, " (did you mean '%s%s'?)", sign, sg.best);
  return hint;
}

/* Each entry of "+a,-b" must be a feature LLVM knows: LLVM would only warn
 * on stderr and ignore it. */
static actjit_status check_features(actjit_context *ctx, const char *fs) {
  size_t nf = sizeof known_features / sizeof *known_features;
  for (const char *p = fs; *p;) {
    size_t len = strcspn(p, ",");
    bool sign = *p == '+' || *p == '-';
    char hint[SUGGEST_HINT_SIZE + 1] = "";
    if (len && (!sign || !in_list(known_features, nf, p + 1, len - 1)))
      return aj_error(ctx, ACTJIT_ERR_TARGET,
                      "unknown CPU feature '%.*s'%s; expected +name or -name, names as in llc -mattr=help", (int)len,
                      p, sign ? list_hint(known_features, nf, *p == '+' ? "+" : "-", p + 1, len - 1, hint) : "");
    p += len + (p[len] == ',');
  }
  return ACTJIT_OK;
}

static LLVMTargetMachineRef make_tm(const jit_target *t, char **err) {
  LLVMTargetRef target;
  if (LLVMGetTargetFromTriple(t->triple, &target, err)) return NULL;
  static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                               LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
  /* Small code model and PIC: what ORC's JITLink runs, so that the assembly
   * dump made with the same settings is the code that executes. */
  return LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, levels[t->opt_level],
                                 LLVMRelocPIC, LLVMCodeModelSmall);
}

static actjit_status emit_asm(actjit_context *ctx, const jit_target *t, LLVMModuleRef mod,
                              char **text) {
  char *err = NULL;
  LLVMTargetMachineRef tm = make_tm(t, &err);
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

/* A CPU name and features imply others (+avx2 implies +avx; skylake-avx512
 * implies +avx512f), which the C API cannot list: ask the backend which
 * registers a 16-float add uses. */
static actjit_status probe_width(actjit_context *ctx, jit_target *t) {
  LLVMContextRef c = LLVMContextCreate();
  LLVMModuleRef m = LLVMModuleCreateWithNameInContext("probe", c);
  LLVMTypeRef v = LLVMVectorType(LLVMFloatTypeInContext(c), 16);
  LLVMValueRef fn = LLVMAddFunction(m, "probe", LLVMFunctionType(v, (LLVMTypeRef[]){v, v}, 2, 0));
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c, fn, "e"));
  LLVMBuildRet(b, LLVMBuildFAdd(b, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), ""));
  LLVMDisposeBuilder(b);
  LLVMSetTarget(m, t->triple);
  char *text = NULL;
  actjit_status st = emit_asm(ctx, t, m, &text);
  if (!st) t->width = strstr(text, "zmm") ? 16 : strstr(text, "ymm") ? 8 : 4;
  free(text);
  LLVMDisposeModule(m);
  LLVMContextDispose(c);
  return st;
}

actjit_status jit_target_init(actjit_context *ctx, const char *cpu, const char *features,
                              int opt_level, jit_target *t) {
  *t = (jit_target){.opt_level = opt_level};
  pthread_once(&native_once, init_native);
  if (native_failed) return aj_error(ctx, ACTJIT_ERR_TARGET, "LLVM has no native target for this host");
  if (opt_level < 0 || opt_level > 3)
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "optimization level %d is not in 0..3", opt_level);
  /* Like oneDNN's ONEDNN_MAX_CPU_ISA: the environment may narrow the host
   * target (tools such as valgrind lack AVX-512). */
  if (!cpu && getenv("ACTJIT_CPU") && *getenv("ACTJIT_CPU")) {
    cpu = getenv("ACTJIT_CPU");
    features = features ? features : getenv("ACTJIT_FEATURES");
  }
  size_t ncpus = sizeof known_cpus / sizeof *known_cpus;
  char hint[SUGGEST_HINT_SIZE + 1];
  if (cpu && !in_list(known_cpus, ncpus, cpu, strlen(cpu)))
    return aj_error(ctx, ACTJIT_ERR_TARGET, "unknown CPU '%s'%s; names as in llc -mcpu=help", cpu,
                    list_hint(known_cpus, ncpus, "", cpu, strlen(cpu), hint));
  actjit_status st = features ? check_features(ctx, features) : ACTJIT_OK;
  if (st) return st;
  t->triple = take_llvm_message(LLVMGetDefaultTargetTriple());
  t->cpu = cpu ? dup_str(cpu) : take_llvm_message(LLVMGetHostCPUName());
  t->features = features ? dup_str(features) : cpu ? dup_str("") : take_llvm_message(LLVMGetHostCPUFeatures());
  if (!t->triple || !t->cpu || !t->features) {
    jit_target_free(t);
    return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  st = probe_width(ctx, t);
  if (st) jit_target_free(t);
  return st;
}

void jit_target_free(jit_target *t) {
  free(t->triple);
  free(t->cpu);
  free(t->features);
  *t = (jit_target){0};
}

actjit_status jit_session_init(actjit_context *ctx, jit_session *s) {
  *s = (jit_session){0};
  s->tsc = LLVMOrcCreateNewThreadSafeContext();
  return s->tsc ? ACTJIT_OK : aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
}

LLVMContextRef jit_session_context(jit_session *s) { return LLVMOrcThreadSafeContextGetContext(s->tsc); }

static char *print_module(LLVMModuleRef m) { return take_llvm_message(LLVMPrintModuleToString(m)); }

static actjit_status optimize(actjit_context *ctx, const jit_target *t, LLVMTargetMachineRef tm,
                              LLVMModuleRef mod) {
  char passes[32];
  snprintf(passes, sizeof passes, "default<O%d>", t->opt_level);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef err = LLVMRunPasses(mod, passes, tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  return err ? llvm_error(ctx, err, "optimization") : ACTJIT_OK;
}

static actjit_status prepare(actjit_context *ctx, jit_session *s, const jit_target *t,
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
  actjit_status st = optimize(ctx, t, tm, mod);
  if (st) return st;
  s->llvm_opt = print_module(mod);
  s->optimized = LLVMCloneModule(mod);
  if (!s->llvm_ir || !s->llvm_opt || !s->optimized) return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  return ACTJIT_OK;
}

actjit_status jit_session_compile(actjit_context *ctx, jit_session *s, const jit_target *t,
                                  LLVMModuleRef mod, const char *entry, void **addr) {
  char *err = NULL;
  LLVMTargetMachineRef tm = make_tm(t, &err);
  if (!tm) {
    LLVMDisposeModule(mod);
    actjit_status st = aj_error(ctx, ACTJIT_ERR_TARGET, "no target for %s: %s", t->triple, err ? err : "");
    LLVMDisposeMessage(err);
    return st;
  }
  actjit_status st = prepare(ctx, s, t, tm, mod);
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
  /* The thread-safe module owns mod, and the JIT owns it once added, even
   * when adding fails. */
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, s->tsc);
  e = LLVMOrcLLJITAddLLVMIRModule(s->lljit, LLVMOrcLLJITGetMainJITDylib(s->lljit), tsm);
  if (e) return llvm_error(ctx, e, "adding the module to the JIT");
  return jit_session_lookup(ctx, s, entry, addr);
}

actjit_status jit_session_lookup(actjit_context *ctx, jit_session *s, const char *name, void **addr) {
  LLVMOrcExecutorAddress a = 0;
  LLVMErrorRef e = LLVMOrcLLJITLookup(s->lljit, &a, name);
  if (e) return llvm_error(ctx, e, name);
  *addr = (void *)(uintptr_t)a;
  return ACTJIT_OK;
}

actjit_status jit_session_asm(actjit_context *ctx, jit_session *s, const jit_target *t, char **text) {
  if (!s->optimized) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "nothing was compiled");
  LLVMModuleRef clone = LLVMCloneModule(s->optimized);
  if (!clone) return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  actjit_status st = emit_asm(ctx, t, clone, text);
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
