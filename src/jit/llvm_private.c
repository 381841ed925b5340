/* Linked into what carries LLVM inside it (libactjit.so and the actjit
 * commands, with ACTJIT_STATIC_LLVM): that LLVM's command-line options are
 * actjit's own to set (jit.c). */
#include "jit/jit.h"

const bool jit_llvm_private = true;
