#include "vmath_jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/vmath.h"

/* void f(const float *in, float *out, i64 n) */
static LLVMModuleRef build_loop(LLVMContextRef ctx, vm_emit_fn emit, unsigned width, int reg_lanes) {
  LLVMModuleRef m = LLVMModuleCreateWithNameInContext("vmath", ctx);
  LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx), i64 = LLVMInt64TypeInContext(ctx);
  LLVMTypeRef vty = width > 1 ? LLVMVectorType(f32, width) : f32, ptr = LLVMPointerTypeInContext(ctx, 0);
  LLVMValueRef fn = LLVMAddFunction(m, "f", LLVMFunctionType(LLVMVoidTypeInContext(ctx), (LLVMTypeRef[]){ptr, ptr, i64}, 3, 0));
  char lanes[8];
  snprintf(lanes, sizeof lanes, "%d", reg_lanes);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateStringAttribute(ctx, VM_REG_LANES_ATTR, (unsigned)strlen(VM_REG_LANES_ATTR), lanes,
                                                    (unsigned)strlen(lanes)));
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(ctx, fn, "entry");
  LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(ctx, fn, "loop");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ctx, fn, "done");
  LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
  LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef w = LLVMConstInt(i64, width, 0), zero = LLVMConstInt(i64, 0, 0);
  LLVMValueRef nvec = LLVMBuildSDiv(b, LLVMGetParam(fn, 2), w, "nvec");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGT, nvec, zero, ""), loop, done);
  LLVMPositionBuilderAtEnd(b, loop);
  LLVMValueRef i = LLVMBuildPhi(b, i64, "i");
  LLVMValueRef off = LLVMBuildMul(b, i, w, "");
  LLVMValueRef v = LLVMBuildLoad2(b, vty, LLVMBuildGEP2(b, f32, LLVMGetParam(fn, 0), &off, 1, ""), "");
  LLVMSetAlignment(v, 4);
  LLVMSetAlignment(LLVMBuildStore(b, emit(b, v), LLVMBuildGEP2(b, f32, LLVMGetParam(fn, 1), &off, 1, "")), 4);
  LLVMValueRef next = LLVMBuildAdd(b, i, LLVMConstInt(i64, 1, 0), "");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, next, nvec, ""), loop, done);
  LLVMAddIncoming(i, (LLVMValueRef[]){zero, next}, (LLVMBasicBlockRef[]){entry, loop}, 2);
  LLVMPositionBuilderAtEnd(b, done);
  LLVMBuildRetVoid(b);
  LLVMDisposeBuilder(b);
  return m;
}

int vm_jit_build(vm_jit *j, vm_emit_fn emit, unsigned width, const char *cpu, const char *features) {
  *j = (vm_jit){.emit = emit, .width = width};
  if (actjit_context_create(&j->ctx)) return -1;
  void *addr = NULL;
  if (target_resolve(j->ctx, cpu, features, NULL, &j->target) || jit_session_init(j->ctx, &j->session, 3)) return -1;
  LLVMModuleRef m = build_loop(jit_session_context(&j->session), emit, width, j->target.width);
  if (jit_session_compile(j->ctx, &j->session, &j->target, m, "f", &addr)) return -1;
  j->fn = (vm_kernel_fn)addr;
  return 0;
}

const char *vm_jit_error(const vm_jit *j) { return j->ctx ? actjit_context_error(j->ctx) : "out of memory"; }

int vm_jit_calls_out(vm_jit *j) {
  char *text = NULL;
  LLVMModuleRef m = build_loop(jit_session_context(&j->session), j->emit, j->width, j->target.width);
  if (jit_session_dump(j->ctx, &j->session, &j->target, m, JIT_ASM, &text)) return -1;
  int found = strstr(text, "call") != NULL || strstr(text, "@PLT") != NULL;
  free(text);
  return found;
}

void vm_jit_free(vm_jit *j) {
  jit_session_free(&j->session);
  target_free(&j->target);
  actjit_context_destroy(j->ctx);
  *j = (vm_jit){0};
}
