/* Training-mode dropout's random numbers, in scalar C: the definition that
 * the reference evaluator and the tests use and that codegen (philox.c)
 * emits as vector code.  Header-only so that tests can include it alone.
 *
 * Generator: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC 2011), counter-based: the bits of an
 * element are a pure function of
 *     key     = (seed lo, seed hi)
 *     counter = (index lo, index hi, op lo, op hi)
 * where index is the element's flat (row-major) index in the dropout's
 * tensor, batch included, and op is a 64-bit FNV-1a hash of the dropout
 * node's SSA name (passes keep names; node indices they do not).  Word 0 of
 * the block is the element's u32.  So the mask of an element depends only on
 * (seed, which dropout, element index): fused or not, for every vector
 * width, lane order and thread split.
 *
 * Keep decision: integer, not PyTorch's float comparison (whose stream
 * cannot be reproduced anyway): with T = round(p · 2^32),
 *     keep  <=>  u32 >= T
 * so P(keep) = 1 - T/2^32, within 2^-33 of 1 - p.  T = 0 (p < 2^-33, and
 * p = 0) keeps every element; T = 2^32 (p = 1, or within 2^-33 of it) drops
 * every element.
 *
 * Value: PyTorch 1.13's CPU dropout computes noise = bernoulli(1-p) as a
 * float 0/1 tensor, noise /= (1 - p) (a double scalar: the division is in
 * float, by (float)(1 - p)), then x * noise.  So
 *     y = x * (keep ? scale : 0.0f),   scale = 1.0f / (float)(1.0 - p)
 * rounded once, in float: a dropped Inf or NaN gives NaN (Inf·0), a dropped
 * negative gives -0.  p = 1 is x * 0 for every element (PyTorch: input *
 * zeros, the same), and p = 0 returns x untouched (PyTorch returns input).
 */
#ifndef ACTJIT_PHILOX_H
#define ACTJIT_PHILOX_H

#include <stdbool.h>
#include <stdint.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_ROUNDS 10

/* out = Philox4x32-10(ctr, key).  out may alias ctr. */
static inline void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < PHILOX_ROUNDS; r++) {
    if (r) k0 += PHILOX_W0, k1 += PHILOX_W1;
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* Identity of a dropout op: 64-bit FNV-1a of its SSA name. */
static inline uint64_t dropout_op_id(const char *name) {
  uint64_t h = 0xcbf29ce484222325u;
  for (const unsigned char *s = (const unsigned char *)name; s && *s; s++) h = (h ^ *s) * 0x100000001b3u;
  return h;
}

/* T = round(p · 2^32) in [0, 2^32], for p in [0, 1]. */
static inline uint64_t dropout_threshold(double p) {
  if (!(p > 0)) return 0;
  if (p >= 1) return (uint64_t)1 << 32;
  return (uint64_t)(p * 4294967296.0 + 0.5); /* p·2^32 is exact; +0.5 too */
}

/* What PyTorch multiplies kept elements by. */
static inline float dropout_scale(double p) { return 1.0f / (float)(1.0 - p); }

/* The u32 of element `index` of dropout `op` under `seed`. */
static inline uint32_t dropout_bits(uint64_t seed, uint64_t op, uint64_t index) {
  uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)op, (uint32_t)(op >> 32)};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  philox4x32_10(ctr, key, ctr);
  return ctr[0];
}

static inline bool dropout_keep(uint64_t seed, uint64_t op, uint64_t index, uint64_t threshold) {
  return dropout_bits(seed, op, index) >= threshold;
}

/* y for element `index` of a training-mode dropout with probability p. */
static inline float dropout_apply(float x, double p, uint64_t seed, uint64_t op, uint64_t index) {
  uint64_t t = dropout_threshold(p);
  if (t == 0) return x;
  return x * (dropout_keep(seed, op, index, t) ? dropout_scale(p) : 0.0f);
}

#endif
