/* The context: error reporting shared by every handle made from it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

struct actjit_context {
  char error[1024];
  actjit_error_fn fn;
  void *user;
};

actjit_status actjit_context_create(actjit_context **out) {
  if (!out) return ACTJIT_ERR_ARGUMENT;
  *out = calloc(1, sizeof **out);
  return *out ? ACTJIT_OK : ACTJIT_ERR_NOMEM;
}

void actjit_context_destroy(actjit_context *ctx) { free(ctx); }

const char *actjit_context_error(const actjit_context *ctx) {
  return ctx ? ctx->error : "no context";
}

void actjit_context_set_error_callback(actjit_context *ctx, actjit_error_fn fn,
                                       void *user) {
  if (!ctx) return;
  ctx->fn = fn;
  ctx->user = user;
}

actjit_status aj_error(actjit_context *ctx, actjit_status s, const char *fmt,
                       ...) {
  if (!ctx) return s;
  char msg[sizeof ctx->error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One line whatever the message quotes (a name may hold any byte): control
   * bytes escaped as aj_printable does; other bytes (UTF-8) kept. */
  size_t k = 0;
  for (const char *p = msg; *p; p++) {
    unsigned char c = (unsigned char)*p;
    bool control = c < 0x20 || c == 0x7f;
    if (k + (control ? 4 : 1) >= sizeof ctx->error) break;
    if (control) k += (size_t)snprintf(ctx->error + k, 5, "\\x%02X", c);
    else ctx->error[k++] = (char)c;
  }
  ctx->error[k] = 0;
  if (ctx->fn) ctx->fn(ctx->user, s, ctx->error);
  return s;
}

char *aj_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

const char *aj_printable(const char *s, size_t n, char *buf, size_t len) {
  size_t k = 0, i = 0;
  for (; i < n && k + 8 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f) buf[k++] = (char)c;
    else k += (size_t)snprintf(buf + k, len - k, "\\x%02X", c);
  }
  if (i < n && k + 4 <= len) memcpy(buf + k, "...", 3), k += 3;
  buf[k < len ? k : len - 1] = 0;
  return buf;
}

void actjit_free(void *p) { free(p); }

const char *actjit_status_name(actjit_status s) {
  static const char *const names[] = {
      "ACTJIT_OK",         "ACTJIT_ERR_ARGUMENT", "ACTJIT_ERR_PARSE",
      "ACTJIT_ERR_VERIFY", "ACTJIT_ERR_WEIGHTS",  "ACTJIT_ERR_IO",
      "ACTJIT_ERR_NOMEM",  "ACTJIT_ERR_TARGET",   "ACTJIT_ERR_LLVM",    "ACTJIT_ERR_UNSUPPORTED"};
  return (unsigned)s < sizeof names / sizeof *names ? names[s] : "ACTJIT_ERR_?";
}
