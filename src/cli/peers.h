/* The benchmark's peers and ceilings, timed in its interleaved loop beside
 * actjit's kernels: oneDNN (peer_onednn.h), ONNX Runtime (peer_ort.h), the
 * FMA peak, the core clock and, at batch 1, the time to read the model's
 * weight bytes (ceilings.h).  A peer that cannot run a pipeline, is not
 * installed or disagrees with the reference is reported with the reason and
 * not timed; nothing fails because of it. */
#ifndef ACTJIT_CLI_PEERS_H
#define ACTJIT_CLI_PEERS_H

#include <actjit.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/bench.h"
#include "cli/plot.h"
#include "cli/pool.h"

/* What one timed call does. */
typedef struct timed {
  void (*fn)(void *);
  /* Or, for a call timed in another process: seconds a call over `iters`
   * calls back to back (NaN on failure). */
  double (*measure)(void *arg, int iters);
  void *arg;
  int iters; /* calls per sample, so a sample is long enough to time */
  double *samples;
} timed;

/* Timed entries peers_prepare may add. */
enum { PEERS_MAX_TIMED = 6 };

typedef struct peers peers;

/* The peers of model `label` (graph g, params[i] the data of parameter i,
 * threads the benchmark's pool or NULL).  NULL only out of memory. */
peers *peers_open(const bench_options *o, const char *label, const actjit_graph *g, const float *const *params,
                  pool *threads);
/* For one batch size: sets up each peer on input in[nin], checks its
 * output against the scalar reference ref[nout], and fills t[0..n) with
 * what to time; returns n. */
int peers_prepare(peers *p, int64_t batch, const float *in, size_t nin, const float *ref, size_t nout, timed *t);
/* After the loop, med[i] the median seconds of t[i]: ORT's profiler pass,
 * then the results, as JSON keys (", \"onednn_us\": ...") or as lines under
 * the table's row, and, with plot, a row of the chart. */
void peers_report(peers *p, const double *med, double fused_s, double unfused_s, double flops, bench_plot *plot);
void peers_close(peers *p);

#endif
