/* Shared by the fuzz targets: a check that stops the run (libFuzzer then
 * saves the input as a crash), the one-line-message rule for every error,
 * the print -> parse -> print fixed point, and a private scratch directory
 * in memory-backed storage for the readers that take a path. */
#ifndef ACTJIT_FUZZ_COMMON_H
#define ACTJIT_FUZZ_COMMON_H

#define _DEFAULT_SOURCE /* mkdtemp */

#include <actjit.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_CHECK(cond, ...)                                       \
  do {                                                              \
    if (!(cond)) {                                                  \
      fprintf(stderr, "\nfuzz check failed: %s\n", #cond);          \
      fprintf(stderr, __VA_ARGS__);                                 \
      fputc('\n', stderr);                                          \
      abort();                                                      \
    }                                                               \
  } while (0)

/* An error message: non-empty, one line. */
static inline void fuzz_check_message(const char *msg, const char *what) {
  FUZZ_CHECK(msg && msg[0], "%s: empty error message", what);
  FUZZ_CHECK(!strpbrk(msg, "\r\n"), "%s: the message is not one line: '%s'", what, msg);
}

/* The error callback: checks each message as it is raised and keeps the
 * last, which must be the context's message once the call has failed. */
typedef struct fuzz_errors {
  int count;
  char last[1024];
} fuzz_errors;

static inline void fuzz_on_error(void *user, actjit_status s, const char *msg) {
  fuzz_errors *e = user;
  FUZZ_CHECK(s != ACTJIT_OK, "error callback called with ACTJIT_OK: '%s'", msg);
  fuzz_check_message(msg, "error callback");
  e->count++;
  snprintf(e->last, sizeof e->last, "%s", msg);
}

static inline actjit_context *fuzz_context(fuzz_errors *e) {
  actjit_context *ctx;
  FUZZ_CHECK(actjit_context_create(&ctx) == ACTJIT_OK, "actjit_context_create failed");
  *e = (fuzz_errors){0};
  actjit_context_set_error_callback(ctx, fuzz_on_error, e);
  return ctx;
}

/* A failed call: the context holds a one-line message, the callback saw it,
 * and the message names the file (when file is not NULL). */
static inline void fuzz_check_failure(actjit_context *ctx, const fuzz_errors *e, actjit_status st, const char *file) {
  const char *msg = actjit_context_error(ctx);
  fuzz_check_message(msg, actjit_status_name(st));
  FUZZ_CHECK(e->count > 0 && !strcmp(e->last, msg), "%s: the error callback did not get '%s' (last: '%s')",
             actjit_status_name(st), msg, e->last);
  FUZZ_CHECK(st != ACTJIT_ERR_NOMEM, "out of memory: '%s'", msg);
  if (file)
    FUZZ_CHECK(strstr(msg, file), "%s: the message does not name the file %s: '%s'", actjit_status_name(st), file, msg);
}

/* `printed`, a graph's print-out, parses back and prints the same. */
static inline void fuzz_check_reprint(actjit_context *ctx, const fuzz_errors *e, const char *printed) {
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_parse(ctx, printed, strlen(printed), "printed.air", &g);
  if (st) fuzz_check_failure(ctx, e, st, "printed.air");
  FUZZ_CHECK(st == ACTJIT_OK, "the print-out does not parse: %s\n%s", actjit_context_error(ctx), printed);
  char *again = NULL;
  FUZZ_CHECK(actjit_graph_print(g, &again) == ACTJIT_OK, "actjit_graph_print of the reparsed graph failed");
  FUZZ_CHECK(!strcmp(printed, again), "print(parse(text)) != text:\n%s---\n%s", printed, again);
  actjit_free(again);
  actjit_graph_destroy(g);
}

/* print(g) is a print -> parse fixed point. */
static inline void fuzz_check_fixed_point(actjit_context *ctx, const fuzz_errors *e, const actjit_graph *g) {
  char *printed = NULL;
  FUZZ_CHECK(actjit_graph_print(g, &printed) == ACTJIT_OK, "actjit_graph_print: %s", actjit_context_error(ctx));
  fuzz_check_reprint(ctx, e, printed);
  actjit_free(printed);
}

/* A directory of this process in memory-backed storage (/dev/shm, else
 * $TMPDIR or /tmp), removed at exit with the files fuzz_path named. */
enum { FUZZ_MAX_FILES = 4 };
static char fuzz_dir[256];
static char fuzz_files[FUZZ_MAX_FILES][300];

static inline void fuzz_cleanup(void) {
  for (int i = 0; i < FUZZ_MAX_FILES; i++)
    if (fuzz_files[i][0]) unlink(fuzz_files[i]);
  if (fuzz_dir[0]) rmdir(fuzz_dir);
}

/* The path of scratch file `name` (at most FUZZ_MAX_FILES names). */
static inline const char *fuzz_path(const char *name) {
  if (!fuzz_dir[0]) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/actjit-fuzz-XXXXXX", base);
    FUZZ_CHECK(mkdtemp(fuzz_dir), "cannot create a directory in %s", base);
    atexit(fuzz_cleanup);
  }
  for (int i = 0; i < FUZZ_MAX_FILES; i++) {
    if (!fuzz_files[i][0]) snprintf(fuzz_files[i], sizeof fuzz_files[i], "%s/%s", fuzz_dir, name);
    if (!strcmp(strrchr(fuzz_files[i], '/') + 1, name)) return fuzz_files[i];
  }
  FUZZ_CHECK(0, "more than %d scratch files", FUZZ_MAX_FILES);
  return NULL;
}

/* Writes data to path, whole. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  FUZZ_CHECK(f, "cannot create %s", path);
  FUZZ_CHECK(fwrite(data, 1, size, f) == size && fclose(f) == 0, "cannot write %s", path);
}

#endif
