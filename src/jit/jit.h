/* The JIT session: optimization and in-process compilation with ORC LLJIT
 * for a target (target/target.h), and the dumps of what it compiled.  Every
 * LLVM object this library creates is owned and disposed here. */
#ifndef ACTJIT_JIT_H
#define ACTJIT_JIT_H

#include <llvm-c/LLJIT.h>
#include <llvm-c/TargetMachine.h>

#include "ir/ir.h"
#include "target/target.h"

typedef struct jit_session {
  int opt_level;
  LLVMContextRef llvm; /* jit_session_context's, made when first asked for */
  LLVMOrcLLJITRef lljit;
  /* The compile's seconds in LLVM's optimizer (verifier included) and in
   * code generation and linking (creating the JIT to looking up the entry);
   * with several threads, their wall time split as the threads' time was. */
  double optimize_s, codegen_s;
  int threads; /* the threads code generation ran on (0: none ran) */
  int objects; /* the object files linked */
} jit_session;

/* A session optimizing at opt_level.  Level 0 runs no IR passes and LLVM's
 * quickest code generation; 1..3 run actjit's pipeline (jit.c) and LLVM's
 * code generator at its levels Less, Default, Aggressive. */
actjit_status jit_session_init(actjit_context *ctx, jit_session *s, int opt_level);
/* The LLVM context of the session's single-module calls below. */
LLVMContextRef jit_session_context(jit_session *s);

/* A compile's modules, each in an LLVM context of its own (contexts and
 * target machines are not thread-safe) so that threads compile them at
 * once into object files, which the JIT links together.  The caller builds
 * mod[i] in llvm[i] (with one_context, all share one: a dump links them). */
typedef struct jit_parts {
  int n;
  bool one_context;
  LLVMContextRef *llvm;
  LLVMModuleRef *mod;       /* the caller's; taken by jit_parts_emit / jit_parts_dump */
  LLVMMemoryBufferRef *obj; /* jit_parts_emit's; taken by jit_parts_load */
} jit_parts;
actjit_status jit_parts_init(actjit_context *ctx, jit_parts *p, int n, bool one_context);
void jit_parts_free(jit_parts *p);
/* The threads n modules compile on: `threads`, or for 0 one a CPU this
 * process may run on (as XLA sizes its compile pool); at most n. */
int jit_threads(int threads, int n);
/* Verifies, optimizes and emits each module as an object file on
 * jit_threads(threads, n) threads, the largest modules first; the calling
 * thread is one of them. */
actjit_status jit_parts_emit(actjit_context *ctx, jit_session *s, const target_desc *t, jit_parts *p, int threads);
/* Links the objects into the session's JIT (which owns them from here, even
 * on error) and looks up `entry`. */
actjit_status jit_parts_load(actjit_context *ctx, jit_session *s, const target_desc *t, jit_parts *p,
                             const char *entry, void **addr);
/* The text of the modules (consumed), one listing in their order, as
 * jit_parts_emit would compile them: before optimization or after it (the
 * modules linked into one), or their assembly (each module's, as the JIT
 * runs it).  Nothing is kept for a dump at compile time: a dump rebuilds
 * the modules, and codegen and LLVM give the same code for the same plan
 * and target. */
typedef enum jit_stage { JIT_LLVM, JIT_LLVM_OPT, JIT_ASM } jit_stage;
actjit_status jit_parts_dump(actjit_context *ctx, jit_session *s, const target_desc *t, jit_parts *p, jit_stage stage,
                             char **text);

/* The same for a single module built in jit_session_context: mod is
 * consumed whatever happens; a loaded obj is the JIT's from there. */
actjit_status jit_session_emit(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               LLVMMemoryBufferRef *obj);
actjit_status jit_session_load(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMMemoryBufferRef obj,
                               const char *entry, void **addr);
actjit_status jit_session_compile(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                                  const char *entry, void **addr);
actjit_status jit_session_dump(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               jit_stage stage, char **text);
/* Address of another function of the compiled code. */
actjit_status jit_session_lookup(actjit_context *ctx, jit_session *s, const char *name, void **addr);

/* The bytes of an object file (jit_parts_emit's), a malloc'ed copy; NULL
 * when out of memory. */
void *jit_object_copy(LLVMMemoryBufferRef obj, size_t *len);
/* Links n object files' bytes (obj[i], len[i] bytes each; copied: the
 * caller keeps them), as a kernel cache kept them, and looks up `entry`. */
actjit_status jit_session_load_bytes(actjit_context *ctx, jit_session *s, const target_desc *t, int n,
                                     void *const *obj, const size_t *len, const char *entry, void **addr);
void jit_session_free(jit_session *s);

/* Whether the LLVM actjit runs is its own copy, linked into it
 * (llvm_private.c), or the process's, which the application may use too
 * (llvm_shared.c): one of the two is linked, by the build. */
extern const bool jit_llvm_private;

/* The version of the LLVM library this process runs ("19.1.7"), which an
 * update may have changed since actjit was built. */
void jit_llvm_version(char *buf, size_t len);

#endif
