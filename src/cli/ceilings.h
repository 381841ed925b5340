/* The machine's ceilings, measured beside the kernels in the benchmark: three
 * loops JIT-compiled for the benchmark's target, at its vector width.
 *   fma    `chains` independent FMA chains (acc = acc * m + a), enough to
 *          cover the FMA units' latency: the arithmetic peak.
 *   read   full-width loads over a buffer, summed into independent
 *          accumulators: how fast the buffer is read from where it lives.
 *   clock  a chain of two dependent one-cycle integer ops (rotate, xor) per
 *          iteration: cycles per second, to put the rest in bytes per cycle. */
#ifndef ACTJIT_CLI_CEILINGS_H
#define ACTJIT_CLI_CEILINGS_H

#include <stdint.h>

#include "jit/jit.h"

/* Vectors read per block of `read`: a buffer is read in whole blocks. */
#define CEIL_READ_BLOCK 8

typedef struct ceilings {
  actjit_context *ctx;
  target_desc target;
  jit_session session;
  int width;  /* floats a vector */
  int chains; /* independent FMA chains */
  /* iters x chains vector FMAs; returns the sum of all lanes of all chains,
   * chain k starting at 1 + k/1024 (so nothing is dead code). */
  float (*fma)(int64_t iters, float m, float a);
  /* Sums p[0 .. blocks * CEIL_READ_BLOCK * width): accumulator j takes
   * vectors j, j + CEIL_READ_BLOCK, ...; then the accumulators in order,
   * then the lanes in order. */
  float (*read)(const float *p, int64_t blocks);
  /* iters times x = rotl(x, 1) ^ i for i = 0, 1, ...; returns x. */
  int64_t (*clock)(int64_t iters, int64_t x);
} ceilings;

/* Compiles the loops for cpu/features (NULL: the host).  Returns 0, or -1
 * with the message in ceilings_error. */
int ceilings_build(ceilings *c, const char *cpu, const char *features);
const char *ceilings_error(const ceilings *c);
void ceilings_free(ceilings *c);

#endif
