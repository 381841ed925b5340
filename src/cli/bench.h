/* The fused-vs-unfused benchmark, shared by `actjit-bench` (textual IR,
 * random weights) and `actjit bench` (any model `actjit run` takes). */
#ifndef ACTJIT_BENCH_H
#define ACTJIT_BENCH_H

#include <actjit.h>
#include <stdbool.h>
#include <stdio.h>

#include "ir/suggest.h"

typedef struct bench_options {
  int64_t batches[16]; /* batch sizes; none: 1,16,256,1024,4096 */
  int nbatches;
  int64_t shape[ACTJIT_MAX_RANK]; /* --shape: a fixed input shape */
  int shape_rank;
  int reps;                       /* samples a measurement; the median is reported */
  int threads;                    /* >1: kernels and memcpy through a pool of this many */
  bool json, breakdown, training, no_canonicalize, no_depth_first;
  const char *cpu, *features, *tuning;
  const char *plot; /* --plot FILE.svg */
  const char *prog; /* what messages start with: "actjit-bench" (the default), "actjit: bench" */
  const char *ort_model; /* an ONNX file: ONNX Runtime runs it rather than an export (peer_ort.h), or NULL */
} bench_options;

/* The largest error against the scalar reference, relative to max(1, |ref|),
 * that a kernel (or a peer engine) may have. */
#define BENCH_MAX_REL_ERROR 1e-4

/* What a run carries from one model to the next: whether the table's header
 * is out, and the rows of --plot's chart. */
typedef struct bench_run {
  bool header;
  struct bench_plot *plot;
} bench_run;

void bench_options_init(bench_options *o);
/* Reads the benchmark flag at argv[*i] (and its value, advancing *i).
 * Returns 1 if it was one, 0 if not, -1 on a bad value (reported). */
int bench_parse_flag(int argc, char **argv, int *i, bench_options *o);
void bench_usage_flags(FILE *f);
/* Offers the benchmark's flags to a "did you mean" suggestion. */
void bench_offer_flags(suggest *s);
/* Benchmarks g, labelled `label`; weights[i] is the data of parameter i, or
 * weights is NULL for random ones.  run starts zeroed.  Returns an exit
 * status (cli/exit_codes.h): 0, the class of an error (reported), or
 * EXIT_MISMATCH when a kernel disagrees with the reference. */
int bench_graph(const bench_options *o, const char *label, actjit_graph *g, const float *const *weights,
                bench_run *run);
/* Ends a run: draws --plot's chart, frees what run holds.  Returns status,
 * or the class of an error drawing the chart (reported). */
int bench_finish(const bench_options *o, bench_run *run, int status);
/* Largest |a - b| relative to max(1, |b|), NaN-aware. */
double bench_max_error(const float *a, const float *b, size_t n);
/* actjit-bench's main. */
int bench_main(int argc, char **argv);

#endif
