/* actjit-compile-time: what one compile costs, by phase, in a process of
 * its own (README, "Compile threads").
 *
 *   actjit-compile-time MODEL|chain:N [--runs R] [--threads T]
 *
 * Compiles the model (textual IR, or ONNX when its name ends in .onnx) R + 1
 * times (default 15) with the kernel cache off:
 * the first compile of the process, which includes LLVM's start-up, then
 * the median of the R after it, each phase of actjit_kernel_compile_phases
 * in milliseconds.  chain:N builds, through the C API, a graph of N
 * elementwise ops on a [batch, 64] input, relu, sigmoid and tanh in turn
 * with every fifth an add of the input, for how compile time grows with
 * the graph (the passes and the planner should grow linearly).  --threads
 * sets compile_threads (0, the default: one a CPU). */
#include <actjit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PHASES = 5 };
static const char *const phase_names[PHASES] = {"total", "passes", "emit", "optimize", "codegen"};

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The chain of n ops described above. */
static actjit_status build_chain(actjit_context *ctx, long n, actjit_graph **out) {
  static const char *const ops[] = {"relu", "sigmoid", "tanh"};
  actjit_graph *g;
  actjit_value x, v;
  actjit_status st = actjit_graph_create(ctx, &g);
  if (st) return st;
  st = actjit_graph_input(g, "x", 2, (int64_t[]){ACTJIT_DYN, 64}, &x);
  v = x;
  for (long i = 0; !st && i < n; i++)
    st = i % 5 == 4 ? actjit_graph_op(g, "add", (actjit_value[]){v, x}, 2, NULL, 0, &v)
                    : actjit_graph_op(g, ops[i % 3], &v, 1, NULL, 0, &v);
  if (!st) st = actjit_graph_output(g, v);
  if (st) actjit_graph_destroy(g);
  else *out = g;
  return st;
}

static void print_phases(const char *what, const double *ms) {
  printf("%-28s", what);
  for (int p = 0; p < PHASES; p++) printf("  %s %.2f", phase_names[p], ms[p]);
  printf(" ms\n");
}

int main(int argc, char **argv) {
  const char *model = NULL;
  int runs = 15, threads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!model && argv[i][0] != '-') model = argv[i];
    else model = NULL, i = argc;
  }
  if (!model || runs < 1 || runs > 1000 || threads < 0) {
    fprintf(stderr, "usage: actjit-compile-time MODEL|chain:N [--runs R (1-1000)] [--threads T]\n");
    return 2;
  }
  actjit_context *ctx;
  actjit_graph *g = NULL;
  if (actjit_context_create(&ctx)) return fprintf(stderr, "actjit-compile-time: out of memory\n"), 1;
  double t0 = now();
  actjit_status st = !strncmp(model, "chain:", 6) ? build_chain(ctx, atol(model + 6), &g)
                     : strstr(model, ".onnx")     ? actjit_graph_from_onnx_file(ctx, model, 0, &g)
                                                  : actjit_graph_parse_file(ctx, model, &g);
  double built = (now() - t0) * 1e3;
  double *ms = calloc((size_t)runs * PHASES, sizeof *ms);
  if (!ms) return fprintf(stderr, "actjit-compile-time: out of memory\n"), 1;
  if (!st) printf("%s: graph read or built in %.2f ms\n", model, built);
  for (int r = 0; !st && r <= runs; r++) {
    actjit_compile_options o;
    actjit_compile_options_init(&o);
    o.cache = 0;
    o.compile_threads = threads;
    actjit_kernel *k;
    actjit_compile_phases ph;
    if ((st = actjit_compile(g, &o, &k)) || (st = actjit_kernel_compile_phases(k, &ph))) break;
    double one[PHASES] = {ph.total * 1e3, ph.passes * 1e3, ph.emit * 1e3, ph.optimize * 1e3, ph.codegen * 1e3};
    if (!r) {
      print_phases("first compile", one);
      printf("%-28s  %d object files, code generated on %d threads\n", "", ph.objects, ph.codegen_threads);
    } else {
      for (int p = 0; p < PHASES; p++) ms[p * runs + r - 1] = one[p];
    }
    actjit_kernel_destroy(k);
  }
  if (!st) {
    double med[PHASES];
    for (int p = 0; p < PHASES; p++) {
      qsort(ms + p * runs, (size_t)runs, sizeof *ms, cmp);
      med[p] = runs % 2 ? ms[p * runs + runs / 2] : (ms[p * runs + runs / 2 - 1] + ms[p * runs + runs / 2]) / 2;
    }
    char what[64];
    snprintf(what, sizeof what, "later, median of %d", runs);
    print_phases(what, med);
  } else {
    fprintf(stderr, "actjit-compile-time: %s\n", actjit_context_error(ctx));
  }
  free(ms);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  return st ? 1 : 0;
}
