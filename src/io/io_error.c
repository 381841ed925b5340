#include "io_error.h"

#include <stdarg.h>
#include <stdio.h>

int io_fail(const io_ctx *x, const char *fmt, ...) {
  if (!x->err || !x->errlen) return -1;
  int n = snprintf(x->err, x->errlen, "%s: ", x->path);
  if (n >= 0 && (size_t)n < x->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return -1;
}
