#define _POSIX_C_SOURCE 200809L /* mkstemp, fchmod */

#include "io/io_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int vfail(const io_ctx *x, int code, const char *fmt, va_list ap) {
  if (!x->err || !x->errlen) return code;
  int n = snprintf(x->err, x->errlen, "%s: ", x->path);
  if (n >= 0 && (size_t)n < x->errlen) vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
  return code;
}

int io_fail_as(const io_ctx *x, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(x, code, fmt, ap);
  va_end(ap);
  return code;
}

int io_fail(const io_ctx *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(x, IO_BAD_FILE, fmt, ap);
  va_end(ap);
  return IO_BAD_FILE;
}

/* Why the new file could not be made in path's directory. */
static int create_failed(const io_ctx *x, int e) {
  const char *slash = strrchr(x->path, '/');
  int dlen = slash ? (slash == x->path ? 1 : (int)(slash - x->path)) : 1;
  const char *dir = slash ? x->path : ".";
  if (e == ENOENT) return io_fail_as(x, IO_SYSTEM, "cannot write: no such directory '%.*s'", dlen, dir);
  if (e == ENOTDIR) return io_fail_as(x, IO_SYSTEM, "cannot write: '%.*s' is not a directory", dlen, dir);
  return io_fail_as(x, IO_SYSTEM, "cannot write: %s", strerror(e));
}

int io_write_atomic(const char *path, const void *const *bufs, const size_t *lens, int n, char *err,
                    size_t errlen) {
  io_ctx x = {path, err, errlen};
  size_t plen = strlen(path);
  char *tmp = malloc(plen + sizeof ".XXXXXX");
  if (!tmp) return io_fail_as(&x, IO_NOMEM, "out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".XXXXXX", sizeof ".XXXXXX");
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int rc = create_failed(&x, errno);
    free(tmp);
    return rc;
  }
  /* mkstemp creates 0600; the result gets a normal file's mode. */
  FILE *f = fchmod(fd, 0644) ? NULL : fdopen(fd, "wb");
  int e = errno;
  bool ok = f != NULL;
  for (int i = 0; ok && i < n; i++) ok = !lens[i] || fwrite(bufs[i], 1, lens[i], f) == lens[i];
  if (!ok) e = errno;
  if (f && fclose(f) && ok) { /* buffered writes surface here (e.g. ENOSPC) */
    ok = false;
    e = errno;
  }
  if (!f) close(fd);
  if (ok && rename(tmp, path)) {
    ok = false;
    e = errno;
  }
  int rc = ok ? 0 : io_fail_as(&x, IO_SYSTEM, "cannot write: %s", strerror(e));
  if (!ok) unlink(tmp);
  free(tmp);
  return rc;
}
