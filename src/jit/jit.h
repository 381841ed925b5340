/* The JIT session: target selection, optimization and in-process
 * compilation with ORC LLJIT, and the dumps of what it compiled.  Every
 * LLVM object this library creates is owned and disposed here. */
#ifndef ACTJIT_JIT_H
#define ACTJIT_JIT_H

#include <llvm-c/LLJIT.h>
#include <llvm-c/TargetMachine.h>

#include "ir/ir.h"

typedef struct jit_target {
  char *triple, *cpu, *features; /* malloc'ed */
  int width;                     /* floats per vector register */
  int opt_level;
} jit_target;

/* Resolves cpu/features (NULL: the host's), rejecting names this LLVM does
 * not know, and derives the vector width. */
actjit_status jit_target_init(actjit_context *ctx, const char *cpu,
                              const char *features, int opt_level,
                              jit_target *t);
void jit_target_free(jit_target *t);

typedef struct jit_session {
  LLVMOrcThreadSafeContextRef tsc;
  LLVMOrcLLJITRef lljit;
  LLVMModuleRef optimized; /* a clone kept for the assembly dump */
  char *llvm_ir, *llvm_opt;
} jit_session;

/* Address of another function of the compiled module. */
actjit_status jit_session_lookup(actjit_context *ctx, jit_session *s, const char *name, void **addr);
/* The LLVM context modules for this session must be built in. */
actjit_status jit_session_init(actjit_context *ctx, jit_session *s);
/* Verifies, optimizes and JIT-compiles mod (built in the session's context;
 * consumed whatever happens), then looks up `entry`. */
actjit_status jit_session_compile(actjit_context *ctx, jit_session *s,
                                  const jit_target *t, LLVMModuleRef mod,
                                  const char *entry, void **addr);
LLVMContextRef jit_session_context(jit_session *s);
/* Host assembly of the optimized module, from a clone of it. */
actjit_status jit_session_asm(actjit_context *ctx, jit_session *s,
                              const jit_target *t, char **text);
void jit_session_free(jit_session *s);

#endif
