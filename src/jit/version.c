#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

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
