/* Shared helpers for the tests: deterministic data, ULP distance, and a
 * compile-bind-run wrapper around the public API. */
#ifndef ACTJIT_TESTUTIL_H
#define ACTJIT_TESTUTIL_H

#include <actjit.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file at path, NUL-terminated (*len, if not NULL, its bytes
 * without the NUL), or NULL if it cannot be opened; the caller frees it. */
static inline char *tu_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  if (buf) buf[got] = 0;
  if (len) *len = got;
  return buf;
}

/* The targets every kernel test runs on: the host, an AVX2-only CPU and an
 * SSE-only one. */
typedef struct test_target {
  const char *cpu, *features;
  int width;
} test_target;
static const test_target test_targets[] = {
    {NULL, NULL, 0},          /* host: AVX-512 here */
    {"haswell", NULL, 8},     /* AVX2 + FMA */
    {"x86-64", NULL, 4},      /* SSE2 */
};
#define N_TEST_TARGETS (sizeof test_targets / sizeof *test_targets)

/* The CPU the host target is narrowed to (ACTJIT_CPU, README "Targets"),
 * NULL when it is the host's own: then the host and a test target of that
 * CPU are one target. */
static inline const char *tu_narrowed(void) {
  const char *cpu = getenv("ACTJIT_CPU");
  return cpu && *cpu ? cpu : NULL;
}

/* A CPU that is not the host target's: haswell, or x86-64 on a host
 * narrowed to haswell. */
static inline const char *tu_other_cpu(void) {
  return tu_narrowed() && !strcmp(tu_narrowed(), "haswell") ? "x86-64" : "haswell";
}

static inline uint64_t tu_rng(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}
/* Uniform in [lo, hi). */
static inline float tu_uniform(uint64_t *s, float lo, float hi) {
  return lo + (hi - lo) * (float)((tu_rng(s) >> 40) * 0x1p-24);
}

/* Distance in units in the last place; NaN vs NaN is 0, NaN vs number huge. */
static inline int64_t tu_ulp(float a, float b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : INT64_MAX;
  int32_t ia, ib;
  memcpy(&ia, &a, 4), memcpy(&ib, &b, 4);
  int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia, lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
  return la > lb ? la - lb : lb - la;
}

/* Buffer of n floats at an address that is 4 mod 64: deliberately misaligned
 * for every vector width.  Free with tu_free_unaligned. */
static inline float *tu_alloc_unaligned(size_t n) {
  char *p = aligned_alloc(64, ((n + 1) * sizeof(float) + 63) / 64 * 64 + 64);
  return p ? (float *)(p + 4) : NULL;
}
static inline void tu_free_unaligned(float *p) {
  if (p) free((char *)p - 4);
}

/* The pipelines in ir/: up to max paths, sorted; returns how many (-1 if
 * the folder cannot be read). */
enum { TU_PATH_MAX = 512 };
static inline int tu_path_cmp(const void *a, const void *b) { return strcmp(a, b); }
static inline int tu_ir_files(char (*paths)[TU_PATH_MAX], int max) {
  DIR *d = opendir(ACTJIT_SOURCE_DIR "/ir");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; n < max && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".air"))
      snprintf(paths[n++], TU_PATH_MAX, "%s/ir/%s", ACTJIT_SOURCE_DIR, e->d_name);
  }
  closedir(d);
  qsort(paths, (size_t)n, TU_PATH_MAX, tu_path_cmp);
  return n;
}

#endif
