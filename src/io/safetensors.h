/* Read-only access to F32 tensors in a .safetensors file.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 * ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * ..., optional "__metadata__"}), then the data area the offsets index.
 * The file is mmap'ed and fully validated by st_open; every tensor must be
 * F32.  Fallible functions return 0 on success and on error a negative IO_*
 * code (io_error.h), leaving a one-line message naming the file in
 * err[errlen] (err may be NULL). */
#ifndef ACTJIT_IO_SAFETENSORS_H
#define ACTJIT_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "io/io_error.h"

#define ST_MAX_RANK 8

typedef struct st_file st_file;

/* Opens and validates `path`; on error *out is NULL. */
int st_open(const char *path, st_file **out, char *err, size_t errlen);

/* Number of tensors ("__metadata__" is not one). */
int st_count(const st_file *f);

/* Name of tensor i (0 <= i < st_count, header order), NULL if out of range.
 * Valid until st_close. */
const char *st_name(const st_file *f, int i);

/* Shape and data of tensor `name`.  dims[rank..] are set to 0.  *data holds
 * prod(dims) floats, suitably aligned for float (misaligned tensors are
 * copied at open), valid until st_close.  Fails with "no tensor named ..."
 * if absent. */
int st_get(const st_file *f, const char *name, int *rank,
           int64_t dims[ST_MAX_RANK], const float **data, char *err,
           size_t errlen);

/* Unmaps and frees; NULL is fine. */
void st_close(st_file *f);

#endif
