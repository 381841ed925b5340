/* actjit-ab: an A/B comparison of two compiled plans, interleaved in one
 * process, for a change whose effect is smaller than the machine's noise:
 * two models on the same shape (ir/elementwise_dag.air against
 * ir/relu.air), or one model under two option sets (depth-first on and
 * off).  Each round runs A and B once each, in alternating order; the
 * report is each side's median and the median of the per-round ratios,
 * with their spread.
 *
 *   actjit-ab A[:OPTS] B[:OPTS] --batch B [--rounds R] [--threads N] [--threads-cpu]
 *
 * OPTS, comma-separated: no-fuse, no-depth-first, no-canonicalize,
 * cpu=NAME, tuning=K=V/K=V (slashes for the tuning's commas).  Weights are
 * uniform in ±1/sqrt(in_features), inputs in [-1, 1).  --threads N runs both
 * through one pool of N threads (src/cli/pool.c).  --threads-cpu times
 * with the thread's CPU clock instead of the wall clock: on a host shared
 * with other jobs this leaves out the time the thread waits for a core, not
 * what the other jobs take of the memory bandwidth. */
#include <actjit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/pool.h"

typedef struct side {
  char label[512], spec[512], tuning[256]; /* label: as given; spec: cut up */
  const char *path;
  actjit_compile_options o;
  actjit_graph *g;
  actjit_kernel *k;
  float *x, *y;
  double *t;
} side;

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void) {
  struct timespec ts;
  clock_gettime(clock_id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The q-quantile of v[0..n) (sorts v). */
static double quantile(double *v, int n, double q) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[(int)(q * (n - 1) + 0.5)];
}

static uint64_t rng = 88172645463325252ull;
static float uniform(float lo, float hi) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return lo + (hi - lo) * (float)(rng >> 40) * 0x1p-24f;
}

/* "path[:opts]" into s; 0 or a message. */
static const char *parse_side(const char *arg, side *s) {
  snprintf(s->label, sizeof s->label, "%s", arg);
  snprintf(s->spec, sizeof s->spec, "%s", arg);
  actjit_compile_options_init(&s->o);
  char *colon = strchr(s->spec, ':');
  s->path = s->spec;
  if (!colon) return NULL;
  *colon = 0;
  for (char *opt = strtok(colon + 1, ","); opt; opt = strtok(NULL, ",")) {
    if (!strcmp(opt, "no-fuse")) s->o.fuse = 0;
    else if (!strcmp(opt, "no-depth-first")) s->o.depth_first = 0;
    else if (!strcmp(opt, "no-canonicalize")) s->o.canonicalize = 0;
    else if (!strncmp(opt, "cpu=", 4)) s->o.cpu = opt + 4;
    else if (!strncmp(opt, "tuning=", 7)) {
      snprintf(s->tuning, sizeof s->tuning, "%s", opt + 7);
      for (char *c = s->tuning; *c; c++)
        if (*c == '/') *c = ',';
      s->o.tuning = s->tuning;
    } else return "unknown option (no-fuse, no-depth-first, no-canonicalize, cpu=NAME, tuning=K=V/K=V)";
  }
  return NULL;
}

/* Compiles s, binds random weights, fills its input for `batch`. */
static int load_side(actjit_context *ctx, side *s, int64_t batch) {
  if (actjit_graph_parse_file(ctx, s->path, &s->g) || actjit_compile(s->g, &s->o, &s->k)) return -1;
  for (int i = 0; i < actjit_graph_param_count(s->g); i++) {
    const char *name;
    int rank;
    int64_t d[ACTJIT_MAX_RANK];
    actjit_graph_param_info(s->g, i, &name, &rank, d);
    size_t n = 1;
    for (int j = 0; j < rank; j++) n *= (size_t)d[j];
    float *w = malloc(n * sizeof *w + 1), bound = rank == 2 ? 1 / sqrtf((float)d[1]) : 0.5f;
    if (!w) return -1;
    for (size_t j = 0; j < n; j++) w[j] = uniform(-bound, bound);
    int st = actjit_kernel_bind(s->k, name, w, n);
    free(w);
    if (st) return -1;
  }
  size_t nin, nout;
  if (actjit_kernel_io_sizes(s->k, batch, &nin, &nout)) return -1;
  s->x = malloc(nin * sizeof *s->x + 4), s->y = malloc(nout * sizeof *s->y + 4);
  if (!s->x || !s->y) return -1;
  for (size_t i = 0; i < nin; i++) s->x[i] = uniform(-1, 1);
  return 0;
}

static double time_run(side *s, int64_t batch) {
  double t0 = now();
  actjit_kernel_run(s->k, s->x, batch, s->y);
  return now() - t0;
}

int main(int argc, char **argv) {
  side sd[2] = {0};
  int nsides = 0, rounds = 21, threads = 1;
  int64_t batch = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads-cpu")) clock_id = CLOCK_THREAD_CPUTIME_ID;
    else if (argv[i][0] != '-' && nsides < 2) {
      const char *err = parse_side(argv[i], &sd[nsides++]);
      if (err) return fprintf(stderr, "actjit-ab: %s: %s\n", argv[i], err), 2;
    } else {
      fprintf(stderr, "usage: actjit-ab A[:OPTS] B[:OPTS] --batch B [--rounds R] [--threads N] [--threads-cpu]\n");
      return 2;
    }
  }
  if (nsides != 2 || batch < 0 || rounds < 1 || threads < 1) {
    fprintf(stderr, "usage: actjit-ab A[:OPTS] B[:OPTS] --batch B [--rounds R] [--threads N] [--threads-cpu]\n");
    return 2;
  }
  actjit_context *ctx;
  if (actjit_context_create(&ctx)) return 5;
  for (int s = 0; s < 2; s++)
    if (load_side(ctx, &sd[s], batch) || !(sd[s].t = calloc((size_t)rounds, sizeof(double)))) {
      fprintf(stderr, "actjit-ab: %s: %s\n", sd[s].label, actjit_context_error(ctx));
      return 1;
    }
  pool *workers = threads > 1 ? pool_create(threads) : NULL;
  if (threads > 1 && !workers) return fprintf(stderr, "actjit-ab: cannot start %d threads\n", threads), 5;
  for (int s = 0; s < 2; s++) actjit_kernel_set_parallel_for(sd[s].k, pool_parallel_for, workers, threads);
  double *ratio = calloc((size_t)rounds, sizeof *ratio);
  if (!ratio) return 5;
  for (int s = 0; s < 2; s++) time_run(&sd[s], batch); /* warm: pages, caches */
  for (int r = 0; r < rounds; r++) {
    int first = r % 2;
    sd[first].t[r] = time_run(&sd[first], batch);
    sd[!first].t[r] = time_run(&sd[!first], batch);
    ratio[r] = sd[0].t[r] / sd[1].t[r];
  }
  double lo = quantile(ratio, rounds, 0.25), hi = quantile(ratio, rounds, 0.75), mid = quantile(ratio, rounds, 0.5);
  for (int s = 0; s < 2; s++)
    printf("%c %-40s %12.1f us (median of %d)\n", 'A' + s, sd[s].label, quantile(sd[s].t, rounds, 0.5) * 1e6, rounds);
  printf("A/B %.3f (quartiles %.3f-%.3f), batch %lld, %d thread%s, %s clock, CPU %s\n", mid, lo, hi, (long long)batch,
         threads, threads > 1 ? "s" : "", clock_id == CLOCK_MONOTONIC ? "wall" : "thread CPU", actjit_kernel_cpu(sd[0].k));
  for (int s = 0; s < 2; s++) {
    free(sd[s].x), free(sd[s].y), free(sd[s].t);
    actjit_kernel_destroy(sd[s].k);
    actjit_graph_destroy(sd[s].g);
  }
  free(ratio);
  pool_destroy(workers);
  actjit_context_destroy(ctx);
  return 0;
}
