/* Error reporting shared by the file readers and writers: one line into the
 * caller's buffer, prefixed with the file's path, and a negative code that
 * says what kind of failure it was. */
#ifndef ACTJIT_IO_ERROR_H
#define ACTJIT_IO_ERROR_H

#include <stddef.h>

/* What a failed reader or writer returns (every failure is negative). */
enum {
  IO_BAD_FILE = -1, /* the file is not what it should be: format, header, dtype, shape */
  IO_SYSTEM = -2,   /* the system could not open, read or write it */
  IO_NOMEM = -3,    /* out of memory */
};

typedef struct io_ctx {
  const char *path;
  char *err;
  size_t errlen;
} io_ctx;

/* Writes "path: message" into x->err (if any) and returns `code`, so callers
 * can `return io_fail_as(...)`. */
int io_fail_as(const io_ctx *x, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for a file that is not what it should be: returns IO_BAD_FILE. */
int io_fail(const io_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes the n buffers one after another to path atomically: into a new
 * file in the same directory, renamed over path once complete, so path never
 * holds a partial file.  The file gets mode 0644.  Messages name path (and
 * never the temporary file). */
int io_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int n, char *err,
                    size_t errlen);

#endif
