/* One ahead-of-time object that binds its parameters at run time, prefix m
 * (test_aot).  Reads a batch size (argv[1]), the parameters from the file
 * argv[2] (for each of M_PARAMS in order, its float count as an int64 and
 * its floats, raw), and the input, raw float32, from stdin.  Packs the
 * parameters with m_bind into a buffer filled with 0xff and into one of
 * zeros, writes the packed bytes to the file argv[3], overwrites the
 * arrays it gave m_bind with NaN, then writes the output twice, raw
 * float32: from m_run on the first buffer and from m_run_parallel through
 * a parallel-for of 3 tasks run in reverse order on a copy of it
 * elsewhere, each over scratch filled with NaN.
 * Exits 3 if a call accepts bad arguments or a size is wrong, 4 if a
 * refused call wrote to its buffer or the two packings differ. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m.h"

static void reverse_for(void *user, int64_t n, m_task_fn task, void *arg) {
  (void)user;
  for (int64_t i = n; i-- > 0;) task(arg, i);
}

/* Whether all n bytes of p are b. */
static int all_bytes(const unsigned char *p, size_t n, unsigned char b) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != b) return 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  int64_t batch = atoll(argv[1]);
  size_t bytes = m_params_bytes();
  if (bytes != M_PARAMS_BYTES || bytes % 64) return 3;
  float *params[M_PARAMS];
  size_t counts[M_PARAMS];
  FILE *f = fopen(argv[2], "rb");
  if (!f) return 1;
  for (int i = 0; i < M_PARAMS; i++) {
    int64_t n;
    if (fread(&n, sizeof n, 1, f) != 1 || n < 0 || !(params[i] = malloc((size_t)n * sizeof(float) + 4)) ||
        fread(params[i], sizeof(float), (size_t)n, f) != (size_t)n)
      return 1;
    counts[i] = (size_t)n;
  }
  fclose(f);
  /* (one 64 bytes past, to be misaligned) */
  unsigned char *packed = aligned_alloc(64, bytes + 64), *zeros = aligned_alloc(64, bytes), *copy = aligned_alloc(64, bytes);
  if (!packed || !zeros || !copy) return 1;
  memset(packed, 0xff, bytes + 64);
  memset(zeros, 0, bytes);

  /* refused, and nothing written: a NULL params, packed or params[i], a packed not 64-byte aligned */
  const float *given[M_PARAMS];
  if (m_bind(NULL, packed) != -1 || m_bind((const float *const *)params, NULL) != -1 ||
      m_bind((const float *const *)params, packed + 4) != -1 || m_bind((const float *const *)params, packed + 32) != -1)
    return 3;
  for (int j = 0; j < M_PARAMS; j++) {
    for (int i = 0; i < M_PARAMS; i++) given[i] = i == j ? NULL : params[i];
    if (m_bind(given, packed) != -1) return 3;
  }
  if (!all_bytes(packed, bytes + 64, 0xff)) return 4;

  /* every byte written, the same whatever the buffer held */
  if (m_bind((const float *const *)params, packed) || m_bind((const float *const *)params, zeros)) return 3;
  if (memcmp(packed, zeros, bytes)) return 4;
  if (!(f = fopen(argv[3], "wb")) || fwrite(packed, 1, bytes, f) != bytes || fclose(f)) return 1;
  for (int i = 0; i < M_PARAMS; i++) memset(params[i], 0xff, counts[i] * sizeof(float));
  /* (no address inside: a copy runs as well) */
  memcpy(copy, packed, bytes);

  size_t in = (size_t)batch * M_IN_FLOATS, out = (size_t)batch * M_OUT_FLOATS, scratch_bytes = m_parallel_scratch_bytes(batch, 3);
  float *x = malloc(in * sizeof *x + 4), *y = malloc(2 * out * sizeof *y + 4);
  void *scratch = malloc(scratch_bytes + 4);
  if (!x || !y || !scratch || fread(x, sizeof *x, in, stdin) != in) return 1;
  memset(y, 0xff, 2 * out * sizeof *y);
  if (m_run(NULL, x, batch, y, scratch) != -1 || m_run(packed + 4, x, batch, y, scratch) != -1 ||
      m_run_parallel(NULL, x, batch, y, scratch, reverse_for, NULL, 3) != -1 ||
      m_run_parallel(packed + 16, x, batch, y, scratch, reverse_for, NULL, 3) != -1)
    return 3;
  if (!all_bytes((const unsigned char *)y, 2 * out * sizeof *y, 0xff)) return 4;
  memset(scratch, 0xff, scratch_bytes);
  if (m_run(packed, x, batch, y, scratch)) return 1;
  memset(scratch, 0xff, scratch_bytes);
  if (m_run_parallel(copy, x, batch, y + out, scratch, reverse_for, NULL, 3)) return 1;
  if (fwrite(y, sizeof *y, 2 * out, stdout) != 2 * out) return 1;
  for (int i = 0; i < M_PARAMS; i++) free(params[i]);
  free(packed), free(zeros), free(copy), free(x), free(y), free(scratch);
  return 0;
}
