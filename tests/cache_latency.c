/* What the kernel cache saves (README, "Kernel cache"), on one model:
 *   cache_latency MODEL [RUNS]
 * a compile in this process (writing the entry to a new cache directory),
 * then the median of RUNS (default 11) in-memory hits (the first kernel
 * alive), and of RUNS disk hits, each the first actjit_compile of a fresh
 * process (this program run again), from the call to the runnable kernel;
 * the disk hit's phases too.  Times are wall-clock milliseconds. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <actjit.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static actjit_kernel *compile(actjit_graph *g, const char *dir, double *ms, actjit_cache_outcome want) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cache_dir = dir;
  actjit_kernel *k;
  double t0 = now();
  if (actjit_compile(g, &o, &k)) {
    fprintf(stderr, "cache_latency: %s\n", actjit_context_error(actjit_graph_context(g)));
    exit(1);
  }
  *ms = (now() - t0) * 1e3;
  const char *note;
  actjit_cache_outcome got = actjit_kernel_cache_outcome(k, &note);
  if (got != want) {
    fprintf(stderr, "cache_latency: cache outcome %d, not %d %s\n", (int)got, (int)want, note);
    exit(1);
  }
  return k;
}

int main(int argc, char **argv) {
  bool child = argc == 4 && !strcmp(argv[1], "--disk-hit");
  if (!child && (argc < 2 || argc > 3)) {
    fprintf(stderr, "usage: cache_latency MODEL [RUNS]\n");
    return 2;
  }
  const char *model = child ? argv[3] : argv[1];
  int runs = argc == 3 ? atoi(argv[2]) : 11;
  actjit_context *ctx;
  actjit_graph *g;
  if (actjit_context_create(&ctx) || actjit_graph_parse_file(ctx, model, &g)) {
    fprintf(stderr, "cache_latency: %s\n", ctx ? actjit_context_error(ctx) : "out of memory");
    return 1;
  }
  double ms;
  if (child) {
    /* one line: the compile, then its phases */
    actjit_kernel *k = compile(g, argv[2], &ms, ACTJIT_CACHE_DISK);
    actjit_compile_phases ph;
    actjit_kernel_compile_phases(k, &ph);
    printf("%.4f %.4f %.4f\n", ms, ph.passes * 1e3, ph.codegen * 1e3);
    return 0;
  }
  if (runs < 1 || runs > 1000) runs = 11;
  char dir[] = "/tmp/actjit-latency-XXXXXX";
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  actjit_kernel *first = compile(g, dir, &ms, ACTJIT_CACHE_MISS);
  printf("%s: compile %.2f ms (entry written)\n", model, ms);
  double *t = calloc((size_t)runs, sizeof *t), *passes = calloc((size_t)runs, sizeof *t),
         *link = calloc((size_t)runs, sizeof *t);
  for (int i = 0; i < runs; i++) actjit_kernel_destroy(compile(g, dir, &t[i], ACTJIT_CACHE_MEMORY));
  printf("in-memory hit: median %.4f ms of %d\n", median(t, runs), runs);
  actjit_kernel_destroy(first);
  for (int i = 0; i < runs; i++) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --disk-hit '%s' '%s'", argv[0], dir, model);
    FILE *p = popen(cmd, "r");
    if (!p || fscanf(p, "%lf %lf %lf", &t[i], &passes[i], &link[i]) != 3 || pclose(p)) {
      fprintf(stderr, "cache_latency: %s failed\n", cmd);
      return 1;
    }
  }
  printf("disk hit, first compile of a fresh process: median %.3f ms of %d (of which verifying, the target, the key "
         "and reading the entry %.3f ms, loading the object %.3f ms)\n",
         median(t, runs), runs, median(passes, runs), median(link, runs));
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
  if (system(rm)) return 1;
  free(t), free(passes), free(link);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  return 0;
}
