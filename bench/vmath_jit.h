/* A JIT-compiled loop around one vector-math function, for the accuracy
 * sweep, the speed comparison and test_vmath: out[i] = emit(in[i]), `width`
 * lanes at a time, compiled by the project's own JIT session (src/jit/jit.c). */
#ifndef ACTJIT_VMATH_JIT_H
#define ACTJIT_VMATH_JIT_H

#include <llvm-c/Core.h>
#include <stdint.h>
#include <string.h>

#include "jit/jit.h"

typedef LLVMValueRef (*vm_emit_fn)(LLVMBuilderRef b, LLVMValueRef x);
typedef void (*vm_kernel_fn)(const float *in, float *out, int64_t n);

typedef struct vm_jit {
  actjit_context *ctx;
  target_desc target;
  jit_session session;
  vm_emit_fn emit; /* what was compiled, rebuilt for the assembly */
  unsigned width;
  vm_kernel_fn fn; /* n must be a multiple of the width */
} vm_jit;

/* Compiles the loop for cpu/features (NULL: the host).  width 1 is plain
 * float.  Returns 0, or -1 with the message in vm_jit_error. */
int vm_jit_build(vm_jit *j, vm_emit_fn emit, unsigned width, const char *cpu, const char *features);
const char *vm_jit_error(const vm_jit *j);
/* Whether the machine code calls out (to libm, say): from its assembly. */
int vm_jit_calls_out(vm_jit *j);
void vm_jit_free(vm_jit *j);

/* Floats as bits, and as positions on the float line in ULP steps (±0 both
 * at 0), for measuring errors in ULP. */
static inline float vm_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static inline uint32_t vm_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
static inline int64_t vm_ordinal(float f) {
  uint32_t u = vm_to_bits(f);
  return u >> 31 ? -(int64_t)(u & 0x7fffffff) : (int64_t)u;
}

#endif
