/* Error reporting shared by the file readers: one line into the caller's
 * buffer, prefixed with the file's path. */
#ifndef ACTJIT_IO_ERROR_H
#define ACTJIT_IO_ERROR_H

#include <stddef.h>

typedef struct io_ctx {
  const char *path;
  char *err;
  size_t errlen;
} io_ctx;

/* Writes "path: message" into x->err (if any); always returns -1 so callers
 * can `return io_fail(...)`. */
int io_fail(const io_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
