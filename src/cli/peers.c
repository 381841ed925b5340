/* The benchmark's peers and ceilings (peers.h). */
#include "cli/peers.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/ceilings.h"
#include "cli/peer_onednn.h"
#include "cli/peer_ort.h"
#include "runtime/memory.h"

/* Work a call of the ceilings: ~0.6 ms of FMAs on a core with two 512-bit
 * FMA units, long enough that waking the pool's threads is small beside it. */
enum { FMA_ITERS = 1 << 18, CLOCK_ITERS = 1 << 18 };
/* acc * m + a drifts away from its fixed point 1 by a factor of m an
 * iteration: the values stay normal floats near 1 for ~2^20 iterations. */
#define FMA_M (1.0f + 0x1p-20f)
#define FMA_A (-0x1p-20f)

enum slot { S_ONEDNN, S_ORT, S_ORT_IDENTITY, S_FMA, S_CLOCK, S_READ, NSLOTS };

struct peers {
  const bench_options *o;
  const char *label;
  const actjit_graph *g;
  const float *const *params;
  pool *threads;
  int tasks; /* --threads */
  onednn_run *dnn;
  ort_peer *ort;
  ceilings ceil;
  bool have_ceil;
  char dnn_why[256], ort_why[256], ceil_why[256];
  float *out;             /* a peer's output */
  float *weights;         /* every parameter, for ONNX Runtime and the read ceiling */
  int64_t weight_blocks;  /* their whole blocks (ceilings.h), the last padded */
  float results[256];     /* each task's result, so no loop is dead code */
  int slot[NSLOTS];       /* index in this batch's timed entries, or -1 */
  int64_t batch;
};

/* Floats of parameter i. */
static size_t param_floats(const actjit_graph *g, int i) {
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_graph_param_info(g, i, NULL, &rank, dims);
  size_t n = 1;
  for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
  return n;
}

peers *peers_open(const bench_options *o, const char *label, const actjit_graph *g, const float *const *params,
                  pool *threads) {
  peers *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  *p = (peers){.o = o, .label = label, .g = g, .params = params, .threads = threads, .tasks = o->threads};
  if (ceilings_build(&p->ceil, o->cpu, o->features))
    snprintf(p->ceil_why, sizeof p->ceil_why, "%s", ceilings_error(&p->ceil));
  else
    p->have_ceil = true;
  /* Every parameter in declaration order, in whole blocks of the read
   * ceiling (zeros after the last). */
  size_t floats = 0, block = p->have_ceil ? (size_t)CEIL_READ_BLOCK * (size_t)p->ceil.width : 1;
  for (int i = 0; i < actjit_graph_param_count(g); i++) floats += param_floats(g, i);
  p->weight_blocks = (int64_t)((floats + block - 1) / block);
  if (!(p->weights = aj_alloc_floats((size_t)p->weight_blocks * block + 1))) {
    free(p);
    return NULL;
  }
  size_t k = 0;
  for (int i = 0; i < actjit_graph_param_count(g); i++) {
    size_t n = param_floats(g, i);
    memcpy(p->weights + k, params[i], n * sizeof(float));
    k += n;
  }
  memset(p->weights + floats, 0, ((size_t)p->weight_blocks * block - floats) * sizeof(float));
  if (o->training)
    snprintf(p->ort_why, sizeof p->ort_why, "not with --training (the ONNX export is in eval mode)");
  else
    p->ort = o->ort_model ? ort_open(o->ort_model, true, NULL, 0, o->threads, p->ort_why, sizeof p->ort_why)
                          : ort_open(label, false, p->weights, floats, o->threads, p->ort_why, sizeof p->ort_why);
  return p;
}

static void run_onednn(void *arg) { onednn_execute(((peers *)arg)->dnn); }

static void fma_task(void *arg, int64_t t) {
  peers *p = arg;
  p->results[t] = p->ceil.fma(FMA_ITERS, FMA_M, FMA_A);
}

/* Part t of the weights, in whole blocks. */
static void read_task(void *arg, int64_t t) {
  peers *p = arg;
  int64_t lo = p->weight_blocks * t / p->tasks, hi = p->weight_blocks * (t + 1) / p->tasks;
  if (hi > lo) p->results[t] = p->ceil.read(p->weights + lo * CEIL_READ_BLOCK * p->ceil.width, hi - lo);
}

/* One call of a ceiling on every thread of the benchmark. */
static void on_threads(peers *p, actjit_task_fn task) {
  if (p->threads) pool_parallel_for(p->threads, p->tasks, task, p);
  else task(p, 0);
}

static void run_fma(void *arg) { on_threads(arg, fma_task); }
static void run_read(void *arg) { on_threads(arg, read_task); }

/* The clock: the fastest of `iters` calls, each timed alone.  It converts
 * seconds to cycles rather than competing, and a call that is descheduled
 * (the machine is shared) only ever takes longer. */
static double measure_clock(void *arg, int iters) {
  peers *p = arg;
  double best = INFINITY;
  for (int i = 0; i < iters; i++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    p->results[0] = (float)p->ceil.clock(CLOCK_ITERS, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    best = fmin(best, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
  }
  return best;
}

/* Whether a peer's output agrees with the reference; else why not, in why
 * (what the report says in the peer's place: stderr is for actjit's own
 * errors). */
static bool agrees(peers *p, const char *who, const float *ref, size_t nout, char *why, size_t len) {
  double e = bench_max_error(p->out, ref, nout);
  if (e <= BENCH_MAX_REL_ERROR) return true;
  snprintf(why, len, "%s disagrees with the reference (max relative error %.3g)", who, e);
  return false;
}

int peers_prepare(peers *p, int64_t batch, const float *in, size_t nin, const float *ref, size_t nout, timed *t) {
  onednn_destroy(p->dnn);
  p->dnn = NULL;
  free(p->out);
  p->batch = batch;
  for (int s = 0; s < NSLOTS; s++) p->slot[s] = -1;
  int n = 0;
  if (!(p->out = aj_alloc_floats(nout))) {
    snprintf(p->dnn_why, sizeof p->dnn_why, "out of memory");
    snprintf(p->ort_why, sizeof p->ort_why, "out of memory");
    return 0;
  }
  p->dnn = onednn_create(p->g, p->params, batch, p->tasks, p->o->training, in, p->out, p->dnn_why, sizeof p->dnn_why);
  if (p->dnn) {
    onednn_execute(p->dnn);
    if (agrees(p, "oneDNN", ref, nout, p->dnn_why, sizeof p->dnn_why)) {
      p->slot[S_ONEDNN] = n;
      t[n++] = (timed){.fn = run_onednn, .arg = p};
    } else {
      onednn_destroy(p->dnn);
      p->dnn = NULL;
    }
  }
  if (p->ort) {
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    actjit_graph_value_shape(p->g, actjit_graph_get_input(p->g), &rank, dims);
    for (int d = 0; d < rank; d++) dims[d] = dims[d] < 0 ? -dims[d] * batch : dims[d];
    if (ort_prepare(p->ort, rank, dims, in, nin, p->out, nout, p->ort_why, sizeof p->ort_why) == 0 &&
        agrees(p, "ONNX Runtime", ref, nout, p->ort_why, sizeof p->ort_why)) {
      p->slot[S_ORT] = n;
      t[n++] = (timed){.measure = ort_time_model, .arg = p->ort};
      p->slot[S_ORT_IDENTITY] = n;
      t[n++] = (timed){.measure = ort_time_identity, .arg = p->ort};
    } else {
      ort_close(p->ort); /* what failed stays in ort_why for every later batch */
      p->ort = NULL;
    }
  }
  if (p->have_ceil) {
    p->slot[S_FMA] = n;
    t[n++] = (timed){.fn = run_fma, .arg = p};
    p->slot[S_CLOCK] = n;
    t[n++] = (timed){.measure = measure_clock, .arg = p};
    if (batch == 1 && p->weight_blocks) {
      p->slot[S_READ] = n;
      t[n++] = (timed){.fn = run_read, .arg = p};
    }
  }
  return n;
}

/* The median of slot s, or NaN if it was not timed. */
static double seconds(const peers *p, const double *med, enum slot s) { return p->slot[s] < 0 ? NAN : med[p->slot[s]]; }

static void json_number(const char *key, double v, double scale) {
  if (isfinite(v)) printf(", \"%s\": %.3f", key, v * scale);
  else printf(", \"%s\": null", key);
}

static void json_string(const char *key, const char *s) {
  printf(", \"%s\": \"", key);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

void peers_report(peers *p, const double *med, double fused_s, double unfused_s, double flops, bench_plot *plot) {
  double dnn = seconds(p, med, S_ONEDNN), ort = seconds(p, med, S_ORT), ort_id = seconds(p, med, S_ORT_IDENTITY);
  double ort_run = NAN;
  if (p->ort && isfinite(ort)) ort_run = ort_profile(p->ort, p->o->reps);
  if (p->ort && ort_failed(p->ort)) { /* node died or answered an error while timed */
    snprintf(p->ort_why, sizeof p->ort_why, "ONNX Runtime failed: %s", ort_failed(p->ort));
    ort_close(p->ort);
    p->ort = NULL;
    ort = ort_id = ort_run = NAN;
  }
  double fma_s = seconds(p, med, S_FMA), clock_s = seconds(p, med, S_CLOCK), read_s = seconds(p, med, S_READ);
  int width = p->have_ceil ? p->ceil.width : 0;
  double peak = 2.0 * FMA_ITERS * p->ceil.chains * width * p->tasks / fma_s; /* FLOP/s */
  double hz = 2.0 * CLOCK_ITERS / clock_s;
  double read_bytes = (double)p->weight_blocks * CEIL_READ_BLOCK * width * sizeof(float);
  const char *dnn_name = p->dnn ? onednn_version() : p->dnn_why, *ort_name = p->ort ? ort_version(p->ort) : p->ort_why;
  if (p->o->json) {
    /* The keys and their units are listed in the README (Benchmark). */
    json_string("onednn", dnn_name);
    json_number("onednn_us", dnn, 1e6);
    json_string("ort", ort_name);
    json_number("ort_us", ort, 1e6);
    json_number("ort_overhead_us", ort_id, 1e6);
    json_number("ort_run_us", ort_run, 1e6);
    json_number("fma_peak_gflops", peak, 1e-9);
    json_number("clock_ghz", hz, 1e-9);
    json_number("weights_read_us", read_s, 1e6);
    json_number("weights_read_bytes", isfinite(read_s) ? read_bytes : NAN, 1);
    json_number("weights_read_bytes_per_cycle", read_bytes / read_s / hz, 1);
  } else {
    if (p->dnn) printf("    %-24s %11.2f us  fused %.2fx as fast\n", dnn_name, dnn * 1e6, dnn / fused_s);
    else printf("    %-24s %11s     %s\n", "oneDNN", "-", dnn_name);
    if (isfinite(ort))
      printf("    %-24s %11.2f us  fused %.2fx as fast net of its %.2f us call overhead (ORT's model_run %.2f us)\n",
             ort_name, ort * 1e6, (ort - ort_id) / fused_s, ort_id * 1e6, ort_run * 1e6);
    else printf("    %-24s %11s     %s\n", "ONNX Runtime", "-", ort_name);
    if (p->have_ceil) {
      printf("    %-24s %11.2f GFLOP/s on %d thread%s (%.2f FMA/cycle of %d floats at %.2f GHz)", "FMA peak", peak * 1e-9,
             p->tasks, p->tasks > 1 ? "s" : "", peak / hz / (2.0 * width * p->tasks), width, hz * 1e-9);
      if (flops > 0) printf(": fused at %.0f%%", 100 * flops / fused_s / peak);
      printf("\n");
    } else {
      printf("    %-24s %11s     %s\n", "FMA peak", "-", p->ceil_why);
    }
    if (isfinite(read_s))
      printf("    %-24s %11.2f us  %.1f KiB from %s, %.1f bytes/cycle: fused takes %.2fx its time\n", "weights read", read_s * 1e6,
             read_bytes / 1024, read_bytes <= (double)p->ceil.target.l2 ? "L2" : "beyond L2", read_bytes / read_s / hz,
             fused_s / read_s);
  }
  if (plot) {
    double us[PLOT_NSERIES] = {[PLOT_FUSED] = fused_s * 1e6, [PLOT_UNFUSED] = unfused_s * 1e6, [PLOT_ONEDNN] = dnn * 1e6,
                               [PLOT_ORT] = (ort - ort_id) * 1e6, [PLOT_ORT_RUN] = ort_run * 1e6,
                               [PLOT_FMA] = flops > 0 ? flops / peak * 1e6 : NAN};
    if (plot_add(plot, p->label, p->batch, us)) fprintf(stderr, "%s: out of memory for --plot\n", p->o->prog);
  }
}

void peers_close(peers *p) {
  if (!p) return;
  onednn_destroy(p->dnn);
  ort_close(p->ort);
  ceilings_free(&p->ceil);
  free(p->out);
  free(p->weights);
  free(p);
}
