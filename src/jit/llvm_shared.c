/* Linked into what uses the process's LLVM (libactjit.a, or everything
 * when LLVM is not linked in): its command-line options are the
 * application's, which actjit leaves alone (jit.c). */
#include "jit/jit.h"

const bool jit_llvm_private = false;
