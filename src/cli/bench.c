/* Benchmark: for each model and batch size, median time of the fused and
 * unfused kernels, the scalar reference, a memcpy of the input's bytes (the
 * bandwidth ceiling) and the peers and ceilings of cli/peers.h, all measured
 * interleaved in one run so machine noise hits them alike.  Every result is
 * first checked against the scalar reference. */
#include "cli/bench.h"
#include "cli/peers.h"
#include "cli/plot.h"
#include "cli/pool.h"

#include <actjit.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/exit_codes.h"
#include "runtime/memory.h"
#include "reference/reference.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static float uniform(float lo, float hi) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return lo + (hi - lo) * (float)((rng_state >> 40) * 0x1p-24);
}

static float *alloc_floats(size_t n) {
  float *p = aj_alloc_floats(n);
  if (!p) {
    fprintf(stderr, "actjit-bench: out of memory (%zu floats)\n", n);
    exit(EXIT_NOMEM);
  }
  return p;
}

typedef struct run_arg {
  actjit_kernel *k;
  const float *in;
  float *out;
  int64_t batch;
} run_arg;

static void run_kernel(void *p) {
  run_arg *a = p;
  actjit_kernel_run(a->k, a->in, a->batch, a->out);
}

typedef struct copy_arg {
  void *dst;
  const void *src;
  size_t bytes;
  pool *threads; /* NULL: one thread */
  int64_t tasks;
} copy_arg;

/* Part t of the copy: whole 64-byte lines but the last part. */
static void copy_part(void *p, int64_t t) {
  copy_arg *a = p;
  size_t lines = a->bytes / 64, lo = lines * (size_t)t / (size_t)a->tasks * 64;
  size_t hi = t + 1 == a->tasks ? a->bytes : lines * (size_t)(t + 1) / (size_t)a->tasks * 64;
  memcpy((char *)a->dst + lo, (const char *)a->src + lo, hi - lo);
}

static void run_copy(void *p) {
  copy_arg *a = p;
  if (a->threads)
    pool_parallel_for(a->threads, a->tasks, copy_part, a);
  else
    memcpy(a->dst, a->src, a->bytes);
}

typedef struct ref_arg {
  const ref_options *opts;
  const actjit_graph *g;
  const float *const *params;
  const float *in;
  float *out;
  int64_t batch;
} ref_arg;

static void run_ref(void *p) {
  ref_arg *a = p;
  ref_run_opts(a->g, a->params, a->in, a->batch, a->out, a->opts);
}

/* One sample: calls untimed for WARM_NS (at least one), then the mean of
 * t->iters timed calls.  The untimed calls refill the caches the neighbour
 * in the interleaved loop evicted (the reference's sweep, another engine's
 * weights) and, on several threads, wake the CPUs that idled through the
 * pause before the sample (settle), so that every engine is timed in the
 * steady state of back-to-back calls, as a loop over batches would run it
 * (the seed model at batch 1024 on two threads, one untimed call: 607-698
 * us for actjit and 608-665 for oneDNN in two runs; 2 ms of them: 585-605
 * and 603-619). */
enum { WARM_NS = 2 * 1000 * 1000 };

static double sample(timed *t) {
  if (t->measure) {
    t->measure(t->arg, 1);
    return t->measure(t->arg, t->iters);
  }
  double w0 = now();
  do t->fn(t->arg);
  while (now() - w0 < WARM_NS * 1e-9);
  double t0 = now();
  for (int i = 0; i < t->iters; i++) t->fn(t->arg);
  return (now() - t0) / t->iters;
}

/* On several threads, a pause before each sample: the threads of the
 * engine sampled before (OpenMP's, ONNX Runtime's) spin for a while after
 * their last call, on the cores the next engine's threads need. */
static void settle(const bench_options *o) {
  if (o->threads > 1) nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
}

/* Enough calls per sample for ~2 ms, so timer resolution does not matter. */
static void calibrate(timed *t) {
  timed once = {.fn = t->fn, .measure = t->measure, .arg = t->arg, .iters = 1};
  sample(&once); /* warm up: page in buffers, fill caches */
  double one = sample(&once);
  t->iters = one >= 2e-3 ? 1 : (int)(2e-3 / (one > 1e-8 ? one : 1e-8)) + 1;
}

void bench_usage_flags(FILE *f) {
  fprintf(f,
          "  --batch B[,B...]  batch sizes (default 1,16,256,1024,4096)\n"
          "  --shape DIMS      a fixed input shape such as 16384x1024 (the leading dim is the batch)\n"
          "  --reps R          samples per measurement; the median is reported (default 15)\n"
          "  --json            JSON Lines instead of the table: one object per row, per-kernel times\n"
          "                    included (keys and units: README, Benchmark)\n"
          "  --breakdown       the median time of every kernel, fused and unfused, under each row\n"
          "  --training        dropout live, as in PyTorch's train mode (seed 0)\n"
          "  --no-canonicalize activations written in primitives compiled as written (both plans)\n"
          "  --no-depth-first  the fused plan layer by layer, not blocks of rows through its layers\n"
          "  --cpu NAME, --features STR   the target (default: the host)\n"
          "  --tuning STR      overrides of what the target is known to have: fma-ports=1,l2=262144\n"
          "  --threads N       the kernels' batch slices and the memcpy on N threads (default 1); oneDNN's\n"
          "                    OpenMP threads and ONNX Runtime's intra-op threads as many\n"
          "  --plot FILE.svg   a chart of the times per batch size, every engine and plan, log-log (gnuplot)\n");
}

void bench_options_init(bench_options *o) {
  *o = (bench_options){.reps = 15, .threads = 1, .prog = "actjit-bench"};
}

static const char *const switches[] = {"--json", "--breakdown", "--training", "--no-canonicalize", "--no-depth-first"};
static const char *const valued[] = {"--reps", "--cpu", "--features", "--batch", "--shape", "--threads", "--tuning",
                                     "--plot"};

void bench_offer_flags(suggest *s) {
  for (size_t i = 0; i < sizeof switches / sizeof *switches; i++) suggest_offer(s, switches[i]);
  for (size_t i = 0; i < sizeof valued / sizeof *valued; i++) suggest_offer(s, valued[i]);
  suggest_offer(s, "--help");
}

/* "1,16,256" or "16384x1024" into v; false on anything else. */
static bool parse_list(const char *s, char sep, int64_t *v, int max, int *n) {
  for (*n = 0; *n < max;) {
    char *e;
    long long x = strtoll(s, &e, 10);
    if (e == s || x < 0) return false;
    v[(*n)++] = x;
    if (!*e) return true;
    if (*e != sep) return false;
    s = e + 1;
  }
  return false;
}

int bench_parse_flag(int argc, char **argv, int *i, bench_options *o) {
  const char *a = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;
  if (!strcmp(a, switches[0])) return o->json = true;
  if (!strcmp(a, switches[1])) return o->breakdown = true;
  if (!strcmp(a, switches[2])) return o->training = true;
  if (!strcmp(a, switches[3])) return o->no_canonicalize = true;
  if (!strcmp(a, switches[4])) return o->no_depth_first = true;
  int k = -1;
  for (int j = 0; j < (int)(sizeof valued / sizeof *valued); j++)
    if (!strcmp(a, valued[j])) k = j;
  if (k < 0) return 0;
  if (!val) {
    fprintf(stderr, "%s: %s needs a value\n", o->prog, a);
    return -1;
  }
  ++*i;
  bool ok = true;
  switch (k) {
  case 0: o->reps = atoi(val); ok = o->reps >= 1; break;
  case 1: o->cpu = val; break;
  case 2: o->features = val; break;
  case 6: o->tuning = val; break;
  case 3: ok = parse_list(val, ',', o->batches, 16, &o->nbatches); break;
  case 4: ok = parse_list(val, 'x', o->shape, ACTJIT_MAX_RANK, &o->shape_rank); break;
  case 5: {
    char *e;
    long t = strtol(val, &e, 10);
    ok = e != val && !*e && t >= 1 && t <= 256;
    o->threads = (int)t;
    break;
  }
  case 7: o->plot = val; break;
  }
  if (!ok) {
    fprintf(stderr, "%s: %s %s: not a valid value (see --help)\n", o->prog, a, val);
    return -1;
  }
  return 1;
}

typedef struct model {
  const char *path;
  actjit_graph *g;
  actjit_kernel *fused, *unfused;
  float **params;
  int nparams;
  double flops_per_row; /* 2·in·out summed over the weight matrices, per batch row */
  double compile_s[2];  /* compile time, fused and unfused */
  actjit_compile_phases phases[2];
  pool *threads;        /* --threads N > 1, else NULL */
  peers *peers;
} model;

static int load_model(actjit_context *ctx, const bench_options *o, const char *label, actjit_graph *g,
                      const float *const *weights, model *m) {
  *m = (model){.path = label, .g = g};
  actjit_compile_options co;
  actjit_compile_options_init(&co);
  co.cpu = o->cpu;
  co.features = o->features;
  co.tuning = o->tuning;
  co.fuse = 1;
  co.training = o->training;
  co.canonicalize = !o->no_canonicalize;
  co.depth_first = !o->no_depth_first;
  double t0 = now();
  actjit_status st = actjit_compile(m->g, &co, &m->fused);
  if (st) goto fail;
  double t1 = now();
  co.fuse = 0;
  if ((st = actjit_compile(m->g, &co, &m->unfused))) goto fail;
  m->compile_s[0] = t1 - t0, m->compile_s[1] = now() - t1;
  actjit_kernel_compile_phases(m->fused, &m->phases[0]);
  actjit_kernel_compile_phases(m->unfused, &m->phases[1]);
  if (o->threads > 1) {
    if (!(m->threads = pool_create(o->threads))) {
      fprintf(stderr, "%s: cannot start %d threads\n", o->prog, o->threads);
      return EXIT_INTERNAL;
    }
    actjit_kernel_set_parallel_for(m->fused, pool_parallel_for, m->threads, o->threads);
    actjit_kernel_set_parallel_for(m->unfused, pool_parallel_for, m->threads, o->threads);
  }
  m->nparams = actjit_graph_param_count(m->g);
  m->params = calloc((size_t)m->nparams + 1, sizeof *m->params);
  for (int i = 0; i < m->nparams; i++) {
    const char *name;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    actjit_graph_param_info(m->g, i, &name, &rank, dims);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    /* Given weights, or PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    float bound = 1.0f / sqrtf((float)(rank == 2 ? dims[1] : dims[0]));
    m->params[i] = alloc_floats(n);
    for (size_t j = 0; j < n; j++) m->params[i][j] = weights ? weights[i][j] : uniform(-bound, bound);
    if (rank == 2) m->flops_per_row += 2.0 * (double)dims[0] * (double)dims[1];
    if ((st = actjit_kernel_bind(m->fused, name, m->params[i], n)) ||
        (st = actjit_kernel_bind(m->unfused, name, m->params[i], n)))
      goto fail;
  }
  return 0;
fail:
  fprintf(stderr, "%s: %s: %s\n", o->prog, label, actjit_context_error(ctx));
  return exit_for_status(st);
}

static void free_model(model *m) {
  peers_close(m->peers);
  for (int i = 0; m->params && i < m->nparams; i++) free(m->params[i]);
  free(m->params);
  actjit_kernel_destroy(m->fused);
  actjit_kernel_destroy(m->unfused);
  pool_destroy(m->threads);
}

double bench_max_error(const float *a, const float *b, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) || isnan(b[i])) {
      if (isnan(a[i]) != isnan(b[i])) return INFINITY;
      continue;
    }
    if (a[i] == b[i]) continue;
    double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs(b[i]));
    if (d > e) e = d;
  }
  return e;
}

/* s as a JSON string. */
static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* Bytes in KiB below a MiB, else in MiB. */
static const char *bytes_str(char buf[24], size_t b) {
  if (b < ((size_t)1 << 20)) snprintf(buf, 24, "%.1f KiB", (double)b / 1024);
  else snprintf(buf, 24, "%.1f MiB", (double)b / (1 << 20));
  return buf;
}

/* Median time of each kernel of k over reps profiled runs. */
static void kernel_breakdown(actjit_kernel *k, const float *in, float *out, int64_t batch, int reps, double *med) {
  int n = actjit_kernel_step_count(k);
  double *t = calloc((size_t)(n * reps) + 1, sizeof *t), *col = calloc((size_t)reps + 1, sizeof *col);
  for (int r = 0; r < reps; r++) actjit_kernel_run_profiled(k, in, batch, out, t + r * n);
  for (int i = 0; i < n; i++) {
    for (int r = 0; r < reps; r++) col[r] = t[r * n + i];
    med[i] = median(col, reps);
  }
  free(t);
  free(col);
}

static void print_breakdown(const bench_options *o, actjit_kernel *k, const char *label, const float *in, float *out,
                            int64_t batch) {
  int n = actjit_kernel_step_count(k);
  double *med = calloc((size_t)n + 1, sizeof *med);
  kernel_breakdown(k, in, out, batch, o->reps, med);
  if (o->json) {
    printf(", \"%s_kernels\": [", label);
    for (int i = 0; i < n; i++) {
      printf("%s{\"kernel\": ", i ? ", " : "");
      print_json_string(actjit_kernel_step_name(k, i));
      printf(", \"us\": %.3f}", med[i] * 1e6);
    }
    printf("]");
  } else {
    for (int i = 0; i < n; i++)
      printf("    %-8s kernel %d  %10.2f us  %s\n", label, i, med[i] * 1e6, actjit_kernel_step_name(k, i));
  }
  free(med);
}

static int bench_one(const bench_options *o, model *m, int64_t batch, bench_run *run) {
  size_t nin, nout;
  actjit_kernel_io_sizes(m->fused, batch, &nin, &nout);
  float *in = alloc_floats(nin), *out_f = alloc_floats(nout), *out_u = alloc_floats(nout);
  float *out_r = alloc_floats(nout), *copy = alloc_floats(nin);
  for (size_t i = 0; i < nin; i++) in[i] = uniform(-2, 2);

  run_arg fa = {m->fused, in, out_f, batch}, ua = {m->unfused, in, out_u, batch};
  ref_options ro = {.training = o->training};
  ref_arg ra = {&ro, m->g, (const float *const *)m->params, in, out_r, batch};
  copy_arg ca = {copy, in, nin * sizeof(float), m->threads, o->threads};
  run_kernel(&fa), run_kernel(&ua), run_ref(&ra);
  double err_f = bench_max_error(out_f, out_r, nout), err_u = bench_max_error(out_u, out_r, nout);
  bool agree = err_f <= BENCH_MAX_REL_ERROR && err_u <= BENCH_MAX_REL_ERROR;

  enum { FUSED, UNFUSED, MEMCPY, REF, NT };
  timed t[NT + PEERS_MAX_TIMED] = {{.fn = run_kernel, .arg = &fa}, {.fn = run_kernel, .arg = &ua}, {.fn = run_copy, .arg = &ca}, {.fn = run_ref, .arg = &ra}};
  int nt = NT + peers_prepare(m->peers, batch, in, nin, out_r, nout, t + NT);
  double med[NT + PEERS_MAX_TIMED];
  for (int k = 0; k < nt; k++) {
    calibrate(&t[k]);
    t[k].samples = calloc((size_t)o->reps, sizeof(double));
  }
  /* The reference is slow: sample it fewer times. */
  int ref_reps = o->reps < 3 ? o->reps : 3;
  /* Interleaved, each repetition starting one measurement later, so that
   * none always follows the same neighbour (the reference evicts caches). */
  for (int r = 0; r < o->reps; r++)
    for (int j = 0; j < nt; j++) {
      int k = (j + r) % nt;
      if (k == REF && r >= ref_reps) continue;
      settle(o);
      t[k].samples[r] = sample(&t[k]);
    }
  for (int k = 0; k < nt; k++) {
    med[k] = median(t[k].samples, k == REF ? ref_reps : o->reps);
    free(t[k].samples);
  }

  double bytes = (double)(nin + nout) * sizeof(float);
  double flops = m->flops_per_row * (double)batch;
  size_t peak_f = actjit_kernel_scratch_bytes(m->fused, batch);
  size_t peak_u = actjit_kernel_scratch_bytes(m->unfused, batch);
  int rank;
  int64_t dims[ACTJIT_MAX_RANK], shape[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(m->g, 0, &rank, dims);
  for (int d = 0; d < rank; d++) shape[d] = dims[d] < 0 ? -dims[d] * batch : dims[d];
  /* The keys and their units are listed in the README (Benchmark). */
  if (o->json) {
    printf("{\"model\": ");
    print_json_string(m->path);
    printf(", \"shape\": [");
    for (int d = 0; d < rank; d++) printf("%s%lld", d ? ", " : "", (long long)shape[d]);
    printf("], \"threads\": %d, \"fused_us\": %.3f, \"unfused_us\": %.3f, \"reference_us\": %.3f, "
           "\"memcpy_us\": %.3f, \"speedup\": %.3f, \"fused_gbs\": %.3f, ",
           o->threads, med[FUSED] * 1e6, med[UNFUSED] * 1e6, med[REF] * 1e6, med[MEMCPY] * 1e6,
           med[UNFUSED] / med[FUSED], bytes / med[FUSED] * 1e-9);
    if (flops > 0) printf("\"fused_gflops\": %.3f, ", flops / med[FUSED] * 1e-9);
    else printf("\"fused_gflops\": null, ");
    printf("\"fused_peak_bytes\": %zu, \"unfused_peak_bytes\": %zu, \"max_rel_error\": %.3g, "
           "\"compile_ms\": {\"fused\": %.2f, \"unfused\": %.2f}",
           peak_f, peak_u, fmax(err_f, err_u), m->compile_s[0] * 1e3, m->compile_s[1] * 1e3);
    printf(", \"compile_phases_ms\": {");
    for (int p = 0; p < 2; p++) {
      const actjit_compile_phases *ph = &m->phases[p];
      printf("%s\"%s\": {\"passes\": %.3f, \"emit\": %.3f, \"optimize\": %.3f, \"codegen\": %.3f}", p ? ", " : "",
             p ? "unfused" : "fused", ph->passes * 1e3, ph->emit * 1e3, ph->optimize * 1e3, ph->codegen * 1e3);
    }
    printf("}");
    print_breakdown(o, m->fused, "fused", in, out_f, batch);
    print_breakdown(o, m->unfused, "unfused", in, out_u, batch);
    peers_report(m->peers, med + NT, med[FUSED], med[UNFUSED], flops, run->plot);
    printf("}\n");
  } else {
    if (!run->header) {
      printf("%-28s %7s %11s %11s %11s %11s %8s %10s %13s %11s %12s %11s\n", "model", "batch", "fused us",
             "unfused us", "ref us", "memcpy us", "speedup", "fused GB/s", "fused GFLOP/s", "fused peak", "unfused peak",
             "max rel err");
      run->header = true;
    }
    char gf[16] = "-", pf[24], pu[24];
    if (flops > 0) snprintf(gf, sizeof gf, "%.2f", flops / med[FUSED] * 1e-9);
    printf("%-28s %7lld %11.2f %11.2f %11.2f %11.2f %7.2fx %10.2f %13s %11s %12s %11.2g%s\n", m->path,
           (long long)batch, med[FUSED] * 1e6, med[UNFUSED] * 1e6, med[REF] * 1e6, med[MEMCPY] * 1e6,
           med[UNFUSED] / med[FUSED], bytes / med[FUSED] * 1e-9, gf, bytes_str(pf, peak_f), bytes_str(pu, peak_u),
           fmax(err_f, err_u), agree ? "" : "  MISMATCH");
    peers_report(m->peers, med + NT, med[FUSED], med[UNFUSED], flops, run->plot);
    if (o->breakdown) {
      print_breakdown(o, m->fused, "fused", in, out_f, batch);
      print_breakdown(o, m->unfused, "unfused", in, out_u, batch);
    }
  }
  free(in), free(out_f), free(out_u), free(out_r), free(copy);
  if (agree) return EXIT_OK;
  fflush(stdout);
  fprintf(stderr, "%s: %s: at batch %lld the %s kernels disagree with the scalar reference (max relative error %.3g > %g)\n",
          o->prog, m->path, (long long)batch, err_f > BENCH_MAX_REL_ERROR ? "fused" : "unfused", fmax(err_f, err_u),
          BENCH_MAX_REL_ERROR);
  return EXIT_MISMATCH;
}

int bench_graph(const bench_options *o, const char *label, actjit_graph *g, const float *const *weights,
                bench_run *run) {
  model m;
  int st = load_model(actjit_graph_context(g), o, label, g, weights, &m);
  if (!st && (!(m.peers = peers_open(o, label, g, (const float *const *)m.params, m.threads)) ||
              (o->plot && !run->plot && !(run->plot = plot_create())))) {
    fprintf(stderr, "%s: out of memory\n", o->prog);
    st = EXIT_NOMEM;
  }
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(g, actjit_graph_get_input(g), &rank, dims);
  if (!st && o->shape_rank) {
    /* --shape fixes the input: its leading dim is the batch. */
    int64_t rest = 1, want = 1;
    for (int d = 1; d < o->shape_rank; d++) rest *= o->shape[d];
    for (int d = 1; d < rank; d++) want *= dims[d];
    if (rest != want || dims[0] >= 0) {
      fprintf(stderr, "%s: %s: --shape does not match the model's input\n", o->prog, label);
      st = EXIT_USAGE;
    } else {
      st = bench_one(o, &m, o->shape[0] / -dims[0], run);
    }
  }
  static const int64_t def[] = {1, 16, 256, 1024, 4096};
  const int64_t *batches = o->nbatches ? o->batches : def;
  int nb = o->nbatches ? o->nbatches : 5;
  for (int b = 0; !st && !o->shape_rank && b < nb; b++) st = bench_one(o, &m, batches[b], run);
  if (!st && !o->json)
    printf("    compile: fused %.2f ms, unfused %.2f ms (the first compile in a process includes LLVM's start-up)\n",
           m.compile_s[0] * 1e3, m.compile_s[1] * 1e3);
  free_model(&m);
  return st;
}

int bench_finish(const bench_options *o, bench_run *run, int status) {
  char *cpu = NULL, *features = NULL, title[256], err[256];
  if (!status && run->plot) {
    actjit_host_cpu(&cpu, &features);
    snprintf(title, sizeof title, "time per call, %d thread%s, %s", o->threads, o->threads > 1 ? "s" : "",
             o->cpu ? o->cpu : cpu ? cpu : "the host CPU");
    actjit_free(cpu);
    actjit_free(features);
    if (plot_write(run->plot, o->plot, title, err, sizeof err)) {
      fprintf(stderr, "%s: --plot %s: %s\n", o->prog, o->plot, err);
      status = EXIT_IO;
    }
  }
  plot_free(run->plot);
  *run = (bench_run){0};
  return status;
}

int bench_main(int argc, char **argv) {
  bench_options o;
  bench_options_init(&o);
  const char *models[64];
  int nmodels = 0;
  for (int i = 1; i < argc; i++) {
    int r = bench_parse_flag(argc, argv, &i, &o);
    if (r < 0) return EXIT_USAGE;
    if (r) continue;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("usage: %s [MODEL.air ...] [flags]\n"
             "Times each model fused, unfused and through the scalar reference, beside a memcpy of\n"
             "the input's bytes, oneDNN, ONNX Runtime and the machine's ceilings (README, Benchmark),\n"
             "and checks the kernels and the peers against the reference first.  Weights are\n"
             "random (PyTorch's default init); `actjit bench` also takes PyTorch print-outs and\n"
             "--weights.  Default MODEL: ir/mlp.air.  Exit status as actjit's (actjit --help);\n"
             "7 when a kernel disagrees with the reference.\n", argv[0]);
      bench_usage_flags(stdout);
      return fflush(stdout) ? EXIT_IO : EXIT_OK;
    }
    if (argv[i][0] == '-') {
      suggest sg;
      char hint[SUGGEST_HINT_SIZE];
      suggest_init(&sg, argv[i], strlen(argv[i]));
      bench_offer_flags(&sg);
      fprintf(stderr, "%s: unknown option '%s'%s; see %s --help\n", o.prog, argv[i], suggest_hint(&sg, hint), o.prog);
      return EXIT_USAGE;
    }
    if (nmodels < 64) models[nmodels++] = argv[i];
  }
  if (!nmodels) models[nmodels++] = "ir/mlp.air";
  actjit_context *ctx;
  if (actjit_context_create(&ctx)) return EXIT_NOMEM;
  bench_run run = {0};
  int st = 0;
  for (int i = 0; i < nmodels && !st; i++) {
    actjit_graph *g;
    actjit_status ps = actjit_graph_parse_file(ctx, models[i], &g);
    if (ps) {
      fprintf(stderr, "%s: %s\n", o.prog, actjit_context_error(ctx));
      st = exit_for_status(ps);
      break;
    }
    st = bench_graph(&o, models[i], g, NULL, &run);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
  return bench_finish(&o, &run, st);
}
