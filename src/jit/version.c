#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "jit/jit.h"

const char *actjit_version(void) {
  return "actjit " ACTJIT_VERSION_STRING " (LLVM " LLVM_VERSION_STRING_ ")";
}

actjit_status actjit_host_cpu(char **name, char **features) {
  if (!name || !features) return ACTJIT_ERR_ARGUMENT;
  char *n = LLVMGetHostCPUName(), *f = LLVMGetHostCPUFeatures();
  *name = aj_strndup(n, strlen(n));
  *features = aj_strndup(f, strlen(f));
  LLVMDisposeMessage(n);
  LLVMDisposeMessage(f);
  if (*name && *features) return ACTJIT_OK;
  free(*name), free(*features);
  *name = *features = NULL;
  return ACTJIT_ERR_NOMEM;
}

void jit_llvm_version(char *buf, size_t len) {
  unsigned major, minor, patch;
  LLVMGetVersion(&major, &minor, &patch);
  snprintf(buf, len, "%u.%u.%u", major, minor, patch);
}
