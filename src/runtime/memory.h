/* Float buffers for tensors: 64-byte aligned with 64 bytes to spare (vector
 * loads may run past the last element), freed with free(). */
#ifndef ACTJIT_MEMORY_H
#define ACTJIT_MEMORY_H

#include <stddef.h>

/* n floats; NULL when out of memory (or n is absurd). */
float *aj_alloc_floats(size_t n);

#endif
