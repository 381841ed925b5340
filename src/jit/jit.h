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
  LLVMContextRef llvm;
  LLVMOrcLLJITRef lljit;
  LLVMTargetMachineRef tm; /* jit_session_emit's, until jit_session_load takes it */
  /* The compile's seconds in LLVM's optimizer (verifier included) and in
   * code generation and linking (creating the JIT to looking up the entry). */
  double optimize_s, codegen_s;
} jit_session;

/* Address of another function of the compiled module. */
actjit_status jit_session_lookup(actjit_context *ctx, jit_session *s, const char *name, void **addr);
/* A session optimizing at opt_level, and the LLVM context its modules must
 * be built in (jit_session_context).  Level 0 runs no IR passes and LLVM's
 * quickest code generation; 1..3 run actjit's pipeline (jit.c) and LLVM's
 * code generator at its levels Less, Default, Aggressive. */
actjit_status jit_session_init(actjit_context *ctx, jit_session *s, int opt_level);
/* Verifies, optimizes and JIT-compiles mod (built in the session's context;
 * consumed whatever happens), then looks up `entry`. */
actjit_status jit_session_compile(actjit_context *ctx, jit_session *s,
                                  const target_desc *t, LLVMModuleRef mod,
                                  const char *entry, void **addr);
/* jit_session_compile's two halves: the object file of mod (consumed
 * whatever happens), as the JIT or an ahead-of-time build links it; and
 * that object (owned by the JIT from here, even on error) loaded into the
 * session, and `entry` looked up. */
actjit_status jit_session_emit(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               LLVMMemoryBufferRef *obj);
actjit_status jit_session_load(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMMemoryBufferRef obj,
                               const char *entry, void **addr);
/* The bytes of an object file (jit_session_emit's), a malloc'ed copy;
 * NULL when out of memory. */
void *jit_object_copy(LLVMMemoryBufferRef obj, size_t *len);
/* jit_session_load of an object file's bytes (copied: the caller keeps
 * them), as a kernel cache kept them. */
actjit_status jit_session_load_bytes(actjit_context *ctx, jit_session *s, const target_desc *t, const void *obj,
                                     size_t len, const char *entry, void **addr);
LLVMContextRef jit_session_context(jit_session *s);
/* The text of mod (built in the session's context; consumed whatever
 * happens) as jit_session_compile would see it: before optimization, after
 * it, or as assembly from the JIT's target machine settings.  Nothing is
 * kept for a dump at compile time: a dump rebuilds the module, and codegen
 * and LLVM give the same code for the same plan and target. */
typedef enum jit_stage { JIT_LLVM, JIT_LLVM_OPT, JIT_ASM } jit_stage;
actjit_status jit_session_dump(actjit_context *ctx, jit_session *s, const target_desc *t, LLVMModuleRef mod,
                               jit_stage stage, char **text);
void jit_session_free(jit_session *s);

/* The version of the LLVM library this process runs ("19.1.7"), which an
 * update may have changed since actjit was built. */
void jit_llvm_version(char *buf, size_t len);

#endif
