/* The seed model ahead of time: `actjit aot` wrote seed.o and seed.h, and
 * this program needs nothing else.  It reads `batch` rows of 784 floats
 * (raw float32) from stdin and writes their 10 class probabilities to
 * stdout the same way. */
#include <stdio.h>
#include <stdlib.h>

#include "seed.h"

int main(int argc, char **argv) {
  long long batch = argc > 1 ? atoll(argv[1]) : 1;
  if (batch < 1) return 2;
  size_t in = (size_t)batch * SEED_IN_FLOATS, out = (size_t)batch * SEED_OUT_FLOATS;
  float *x = malloc(in * sizeof *x), *y = malloc(out * sizeof *y);
  void *scratch = malloc(seed_scratch_bytes(batch));
  int ok = x && y && scratch && fread(x, sizeof *x, in, stdin) == in && seed_run(x, batch, y, scratch) == 0 &&
           fwrite(y, sizeof *y, out, stdout) == out;
  free(x), free(y), free(scratch);
  return ok ? 0 : 1;
}
