/* One ahead-of-time object, prefix m (test_aot, every pipeline in ir/).
 * Reads a batch size (argv[1]) and the input, raw float32, from stdin;
 * writes the output twice, raw float32: from m_run and from
 * m_run_parallel through a parallel-for of 3 tasks run in reverse order,
 * each over scratch filled with NaN. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m.h"

static void reverse_for(void *user, int64_t n, m_task_fn task, void *arg) {
  (void)user;
  for (int64_t i = n; i-- > 0;) task(arg, i);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int64_t batch = atoll(argv[1]);
  size_t in = (size_t)batch * M_IN_FLOATS, out = (size_t)batch * M_OUT_FLOATS, bytes = m_parallel_scratch_bytes(batch, 3);
  float *x = malloc(in * sizeof *x + 4), *y = malloc(2 * out * sizeof *y + 4);
  void *scratch = malloc(bytes + 4);
  if (!x || !y || !scratch || fread(x, sizeof *x, in, stdin) != in) return 1;
  memset(y, 0xff, 2 * out * sizeof *y);
  memset(scratch, 0xff, bytes);
  if (m_run(x, batch, y, scratch)) return 1;
  memset(scratch, 0xff, bytes);
  if (m_run_parallel(x, batch, y + out, scratch, reverse_for, NULL, 3)) return 1;
  if (fwrite(y, sizeof *y, 2 * out, stdout) != 2 * out) return 1;
  free(x), free(y), free(scratch);
  return 0;
}
