/* .npy files holding float32 little-endian C-order arrays ('<f4').
 *
 * Reads format versions 1.0, 2.0 and 3.0, writes 1.0 (what numpy.save
 * writes for such arrays).  Functions return 0 on success and on error a
 * negative IO_* code (io_error.h: a bad file, a system failure, out of
 * memory), leaving a one-line message naming the file in err[errlen] (err
 * may be NULL).  Nothing is printed. */
#ifndef ACTJIT_IO_NPY_H
#define ACTJIT_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "io/io_error.h"

#define NPY_MAX_RANK 8

typedef struct npy_array {
  int rank;                    /* 0..NPY_MAX_RANK */
  int64_t dims[NPY_MAX_RANK];  /* dims[rank..] are 0 */
  size_t count;                /* product of dims (1 for rank 0) */
  float *data;                 /* malloc'ed; NULL when count is 0 */
} npy_array;

/* Reads `path` into *out.  On error *out is left empty (safe to npy_free). */
int npy_read(const char *path, npy_array *out, char *err, size_t errlen);

/* Writes count = prod(dims) floats atomically: the file is written under a
 * temporary name in the same directory, then renamed over `path`, so `path`
 * is never left partially written.  The new file gets mode 0644. */
int npy_write(const char *path, int rank, const int64_t *dims,
              const float *data, char *err, size_t errlen);

/* Frees out->data and empties *out; NULL is fine. */
void npy_free(npy_array *a);

/* Element count of a shape.  Returns -1 if rank is outside 0..NPY_MAX_RANK,
 * a dim is negative, or count * sizeof(float) would overflow size_t. */
int npy_shape_count(int rank, const int64_t *dims, size_t *count);

#endif
