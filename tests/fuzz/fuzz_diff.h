/* The differential check shared by fuzz_diff (graphs from text) and
 * fuzz_dag (graphs from tests/dag_gen.h): a graph, within the size caps
 * of its diff_options, is compiled fused and unfused (fuse = 0: one kernel
 * per op) for a target and opt level chosen from a seed, in inference or
 * training mode, the fused kernel sometimes with donate_input, and run on
 * batches 0, 1 and an odd one with parameters and inputs drawn from that
 * seed (±0, ±Inf, NaN, denormals and huge values among them), each through
 * a parallel-for that runs its tasks last to first, for 1, 2 and 3 tasks.
 * Checks:
 *   - (diff_options.reference) both kernels agree with the scalar reference
 *     (ref_run): NaN where it is NaN, the same infinity where it is
 *     infinite, finite values within a tolerance (below);
 *   - every task count gives the bits of one task;
 *   - fused and unfused agree bit for bit, except where a softmax is fused
 *     into a linear (it then sums in another order; README, Passes): there
 *     within 2^-20 relative and 2^-30 absolute, tests/test_dag.c's bound;
 *   - a kernel without donate_input never writes the caller's input, and
 *     the parallel-for is asked for at most min(tasks, batch) tasks;
 *   - each kernel's IR dump (the graph after the passes, with its fuse { }
 *     groups) parses back and prints the same;
 *   - every error is one line.
 *
 * The tolerance.  Each op of a kernel is within a few ULP of the reference
 * (tests/test_ops.c: up to 4 ULP for the transcendental ops, (k + 2)·2^-24
 * of Σ|x·w| for a linear, about 2^-20 for the softmaxes), but a pipeline
 * amplifies an op's error by the conditioning of the ops after it.  That
 * conditioning is measured rather than modelled: the reference is run
 * twice more, once with every input moved by ±2^-20 of itself (a random
 * sign each: 16 ULP, more than any op's own error), once with every
 * parameter so moved (or the inputs again), and
 *   |kernel - ref| <= 8·spread + ops·2^-20·|ref| + absolute + FLT_MIN
 * where spread is the larger move of the two perturbed outputs, and
 * absolute the error no move of the inputs shows: a log_softmax's, the log
 * of a sum of n terms in [1, n] rounded in float, (n + 8)·2^-23 (that of
 * tests/test_dag.c), for each log_softmax.  An element
 * whose perturbed outputs change class (finite, +Inf, -Inf, NaN) sits on a
 * boundary such as an overflow and is not compared.  Nor is a batch where
 * a linear's float sums may overflow where the reference's float64 sums do
 * not (float_sums_may_overflow).  Ops after a log_softmax may amplify its
 * absolute error beyond that term: random DAGs leave the reference to
 * tests/test_dag.c, whose intervals model each op's error.
 *
 * What a file tests depends on how this harness draws from its seed: a
 * change to the draws may need the reproducers in regress/ made anew. */
#ifndef ACTJIT_FUZZ_DIFF_H
#define ACTJIT_FUZZ_DIFF_H

#include "fuzz_common.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>

#include "ir/ir.h"
#include "reference/reference.h"

/* What a target checks, and the caps that keep a run (two compiles, 18
 * runs) fast: ops (constants counted) past GROUP_MAX (16), the most a
 * fusion group holds; each tensor at most MAX_FLOATS floats, a batched one
 * MAX_ROW a batch row. */
enum { DIFF_MAX_PARAMS = 16, MAX_FLOATS = 4096, MAX_ROW = 1024 };
typedef struct diff_options {
  const char *target; /* for messages */
  bool reference;     /* check the kernels against ref_run */
  int max_ops, max_params;
} diff_options;

static uint64_t next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}
static float uniform(uint64_t *s, float lo, float hi) {
  return lo + (hi - lo) * (float)((next(s) >> 40) * 0x1p-24);
}

static const float specials[] = {NAN,   -NAN,   INFINITY, -INFINITY, 0.0f,    -0.0f,    1e-40f,  -1e-40f,
                                 88.0f, -88.0f, 100.0f,   -100.0f,   3.4e38f, -3.4e38f, 1e-30f, -1e-30f};
enum fill_mode { PLAIN, SPECIALS, WIDE };

/* Uniform in [-scale, scale]; WIDE: magnitudes 2^-40..2^40; SPECIALS and
 * WIDE: one in eight a special value. */
static void fill(float *p, size_t n, uint64_t *s, int mode, float scale) {
  for (size_t i = 0; i < n; i++) {
    float u = uniform(s, -1, 1);
    p[i] = mode == WIDE ? copysignf(exp2f(uniform(s, -40, 40)), u) : scale * u;
    if (mode != PLAIN && next(s) % 8 == 0) p[i] = specials[next(s) % (sizeof specials / sizeof *specials)];
  }
}

/* Each element moved by ±2^-20 of itself. */
static void perturb(const float *src, float *dst, size_t n, uint64_t *s) {
  for (size_t i = 0; i < n; i++) dst[i] = (float)(src[i] * (next(s) & 1 ? 1 + 0x1p-20 : 1 - 0x1p-20));
}

/* FNV-1a of a fuzzer's input: the seed of what a target draws. */
static uint64_t fuzz_hash(const uint8_t *data, size_t size) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 0x100000001b3u;
  return h;
}

static float *floats(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  FUZZ_CHECK(p, "out of memory");
  return p;
}

/* Ops, parameters and sizes within the caps. */
static bool small_enough(const actjit_graph *g, const diff_options *opt, int *ops) {
  int params = 0;
  *ops = 0;
  for (int i = 0; i < g->n; i++) {
    const node *nd = &g->nodes[i];
    double numel = 1;
    for (int d = 0; d < nd->shape.rank; d++) numel *= (double)nd->shape.d[d];
    if (numel > (nd->shape.dyn ? MAX_ROW : MAX_FLOATS)) return false;
    if (nd->op == OP_PARAM) params++;
    else if (nd->op != OP_INPUT) ++*ops;
  }
  return *ops <= opt->max_ops && params <= opt->max_params && params <= DIFF_MAX_PARAMS;
}

/* ------------------------------------------------------- parallel-for */

typedef struct pfor_ctl {
  int tasks;
  int64_t batch;
} pfor_ctl;

/* One thread, tasks last to first: a slice that depended on an earlier one
 * would find it not done.  A split needs rows to compute: at most a task a
 * row, or (a linear's weight panels) a task for a row or more. */
static void reverse_for(void *user, int64_t n, actjit_task_fn task, void *arg) {
  const pfor_ctl *c = user;
  FUZZ_CHECK(n >= 2 && n <= c->tasks && c->batch >= 1, "parallel-for asked for %lld tasks (tasks %d, batch %lld)",
             (long long)n, c->tasks, (long long)c->batch);
  for (int64_t i = n - 1; i >= 0; i--) task(arg, i);
}

/* ----------------------------------------------------------- checking */

typedef struct run_case {
  const diff_options *opt;
  actjit_context *ctx;
  const char *text;  /* the input, for messages */
  size_t text_len;
  const char *cpu;
  int opt_level, training, donate, ops; /* donate: the fused kernel may overwrite its input */
  uint64_t seed;
  double absolute; /* absolute_error at the batch at hand */
} run_case;

static void fail_case(const run_case *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail_case(const run_case *rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\n%s: ", rc->opt->target);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n[cpu %s, opt %d, %s%s, seed %llu]\n%.*s\n", rc->cpu ? rc->cpu : "host", rc->opt_level,
          rc->training ? "training" : "inference", rc->donate ? ", fused kernel donated the input" : "",
          (unsigned long long)rc->seed, (int)rc->text_len, rc->text);
  abort();
}

enum { FINITE, POS_INF, NEG_INF, IS_NAN };
static int fclass(float v) { return isnan(v) ? IS_NAN : isinf(v) ? (v > 0 ? POS_INF : NEG_INF) : FINITE; }

/* got against the reference want and its perturbed runs p1, p2 (see the
 * header comment). */
static bool agrees(float got, float want, float p1, float p2, int ops, double absolute) {
  int c = fclass(want);
  if (fclass(p1) != c || fclass(p2) != c) return true;
  if (c != FINITE || fclass(got) != FINITE) return fclass(got) == c;
  double spread = fmax(fabs((double)p1 - want), fabs((double)p2 - want));
  return fabs((double)got - want) <= 8 * spread + ops * 0x1p-20 * fabs(want) + absolute + FLT_MIN;
}

/* The absolute error of g's log_softmaxes at this batch (the header comment). */
static double absolute_error(const actjit_graph *g, int64_t batch) {
  double e = 0;
  for (int i = 0; i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (nd->op != OP_LOG_SOFTMAX) continue;
    int d = dim_index(nd->attr[0], nd->shape.rank);
    int64_t n = d == 0 && nd->shape.dyn ? nd->shape.d[0] * batch : nd->shape.d[d];
    e += ((double)n + 8) * 0x1p-23;
  }
  return e;
}

static bool same_value(float a, float b) { return isnan(a) ? isnan(b) : !memcmp(&a, &b, sizeof a); }

/* Fused f against unfused u: the same bits, or when the fused plan sums in
 * another order (not exact), within tests/test_dag.c's bound. */
static bool fused_agrees(float f, float u, bool exact) {
  if (same_value(f, u)) return true;
  return !exact && isfinite(f) && isfinite(u) && fabsf(f - u) <= 0x1p-20f * fabsf(u) + 0x1p-30f;
}

static size_t numel_at(const shape *s, int64_t batch) {
  extent e = shape_numel(s);
  return (size_t)(e.dyn ? e.mul * batch : e.mul);
}

/* Parameter node v's data: params are in declaration order. */
static const float *param_data(const actjit_graph *g, const float *const *params, int v) {
  int k = 0;
  for (int i = 0; i < v; i++) k += g->nodes[i].op == OP_PARAM;
  return params[k];
}

/* Whether some linear of g may overflow float in its sums where float64
 * does not: Σ|x·w| + |b| over the finite terms of an output (x its operand
 * as the reference computes it) nears FLT_MAX.  The reference sums in
 * float64, the kernels (as PyTorch) in float, so their infinities and NaNs
 * may then differ, and whatever follows from them. */
static bool float_sums_may_overflow(actjit_graph *g, const float *const *params, const float *x, int64_t batch,
                                    const ref_options *ro) {
  bool overflow = false;
  for (int i = 0; i < g->n && !overflow; i++) {
    const node *nd = &g->nodes[i];
    if (nd->op != OP_LINEAR) continue;
    int a = nd->args[0];
    size_t n = numel_at(&g->nodes[a].shape, batch);
    float *v = floats(n);
    if (ir_view_root(g, a) == g->input) {
      memcpy(v, x, n * sizeof *v);
    } else { /* the reference up to the operand */
      int output = g->output;
      g->output = a;
      FUZZ_CHECK(ref_run_opts(g, params, x, batch, v, ro) == ACTJIT_OK, "ref_run failed");
      g->output = output;
    }
    const float *w = param_data(g, params, nd->args[1]), *b = nd->nargs == 3 ? param_data(g, params, nd->args[2]) : NULL;
    int64_t out = g->nodes[nd->args[1]].shape.d[0], in = g->nodes[nd->args[1]].shape.d[1];
    for (size_t r = 0; in && r < n / (size_t)in && !overflow; r++)
      for (int64_t o = 0; o < out && !overflow; o++) {
        double sum = b && isfinite(b[o]) ? fabs(b[o]) : 0;
        for (int64_t j = 0; j < in; j++) {
          double t = (double)v[r * (size_t)in + (size_t)j] * w[o * in + j];
          sum += isfinite(t) ? fabs(t) : 0;
        }
        overflow = sum >= 0.999 * FLT_MAX;
      }
    free(v);
  }
  return overflow;
}

/* A fused step of linear and a softmax-like op sums in another order than
 * the unfused kernels. */
static bool sums_reordered(const actjit_kernel *k) {
  for (int i = 0; i < actjit_kernel_step_count(k); i++) {
    const char *s = actjit_kernel_step_name(k, i);
    if (strstr(s, "linear %") && (strstr(s, "softmax %") || strstr(s, "softmin %"))) return true;
  }
  return false;
}

static actjit_kernel *compile(const run_case *rc, actjit_graph *g, fuzz_errors *e, int fuse, int donate,
                              const float *const *params) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = rc->cpu, o.opt_level = rc->opt_level, o.fuse = fuse, o.training = rc->training, o.donate_input = donate;
  actjit_kernel *k = NULL;
  actjit_status st = actjit_compile(g, &o, &k);
  if (st) {
    fuzz_check_failure(actjit_graph_context(g), e, st, NULL);
    fail_case(rc, "%s compile of a verified graph failed: %s", fuse ? "fused" : "unfused",
              actjit_context_error(actjit_graph_context(g)));
  }
  for (int i = 0; i < actjit_graph_param_count(g); i++) {
    const char *name;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    FUZZ_CHECK(actjit_graph_param_info(g, i, &name, &rank, dims) == ACTJIT_OK, "param_info %d", i);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    if (actjit_kernel_bind(k, name, params[i], n))
      fail_case(rc, "bind @%s: %s", name, actjit_context_error(actjit_graph_context(g)));
  }
  /* The IR after the passes, fuse { } groups and all, parses back. */
  char *ir;
  FUZZ_CHECK(actjit_kernel_dump(k, ACTJIT_DUMP_IR, &ir) == ACTJIT_OK, "actjit_kernel_dump");
  fuzz_check_reprint(rc->ctx, e, ir);
  actjit_free(ir);
  return k;
}

/* Kernel k (fused or not) on x at one batch, for 1, 2 and 3 tasks: each
 * against the reference (want NULL: not), the task counts bitwise against
 * one task.  A kernel compiled with donate_input runs on a copy of x; any
 * other must leave x as it was.  The one-task output is left in `out`. */
static void check_kernel(const run_case *rc, actjit_kernel *k, const char *which, bool donated, const float *x,
                         size_t nin, int64_t batch, const float *want, const float *p1, const float *p2, size_t nout,
                         float *out) {
  float *x_run = floats(nin), *y = floats(nout);
  for (int tasks = 1; tasks <= 3; tasks++) {
    pfor_ctl ctl = {tasks, batch};
    FUZZ_CHECK(actjit_kernel_set_parallel_for(k, reverse_for, &ctl, tasks) == ACTJIT_OK, "set_parallel_for");
    float *dst = tasks == 1 ? out : y;
    memset(dst, 0xff, nout * sizeof *dst); /* NaN: an element not written stands out */
    memcpy(x_run, x, nin * sizeof *x);
    if (actjit_kernel_run(k, x_run, batch, dst))
      fail_case(rc, "%s, batch %lld, %d tasks: run failed: %s", which, (long long)batch, tasks,
                actjit_context_error(rc->ctx));
    if (!donated && memcmp(x_run, x, nin * sizeof *x))
      fail_case(rc, "%s, batch %lld, %d tasks: the input was written", which, (long long)batch, tasks);
    for (size_t i = 0; i < nout; i++) {
      if (tasks == 1 && want && !agrees(out[i], want[i], p1[i], p2[i], rc->ops, rc->absolute))
        fail_case(rc, "%s, batch %lld: element %zu of %zu: got %.9g, reference %.9g (perturbed %.9g, %.9g)", which,
                  (long long)batch, i, nout, out[i], want[i], p1[i], p2[i]);
      if (tasks > 1 && !same_value(y[i], out[i]))
        fail_case(rc, "%s, batch %lld, %d tasks: element %zu of %zu: got %.9g, one task %.9g", which,
                  (long long)batch, tasks, i, nout, y[i], out[i]);
    }
  }
  free(x_run);
  free(y);
}

/* Graph g, parsed from `text` (for messages), as the header comment says,
 * with data and choices drawn from `seed`; -1 if g is over the caps (not
 * worth keeping in the corpus), else 0.  g and ctx stay the caller's. */
static int diff_graph(const diff_options *opt, actjit_context *ctx, fuzz_errors *e, actjit_graph *g, const char *text,
                      size_t text_len, uint64_t seed) {
  int ops;
  if (!small_enough(g, opt, &ops)) return -1;
  uint64_t rng = seed;
  static const char *const cpus[] = {NULL, "haswell", "x86-64"};
  run_case rc = {opt, ctx, text, text_len, cpus[next(&rng) % 3], (int)(next(&rng) % 2), next(&rng) % 4 == 0,
                 next(&rng) % 4 == 0, ops, seed, 0};

  /* Parameters (and their perturbed copies): [-0.5, 0.5], sometimes with
   * special values. */
  int np = actjit_graph_param_count(g), mode = next(&rng) % 4 == 0 ? SPECIALS : PLAIN;
  float *params[DIFF_MAX_PARAMS], *moved[DIFF_MAX_PARAMS];
  for (int i = 0; i < np; i++) {
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    FUZZ_CHECK(actjit_graph_param_info(g, i, NULL, &rank, dims) == ACTJIT_OK, "param_info %d", i);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    params[i] = floats(n), moved[i] = floats(n);
    fill(params[i], n, &rng, mode, 0.5f);
    perturb(params[i], moved[i], n, &rng);
  }
  actjit_kernel *fused = compile(&rc, g, e, 1, rc.donate, (const float *const *)params);
  actjit_kernel *unfused = compile(&rc, g, e, 0, 0, (const float *const *)params);
  bool exact = !sums_reordered(fused);
  ref_options ro = {.training = rc.training, .seed = seed};
  FUZZ_CHECK(actjit_kernel_set_seed(fused, seed) == ACTJIT_OK && actjit_kernel_set_seed(unfused, seed) == ACTJIT_OK,
             "set_seed");

  const int64_t batches[] = {0, 1, 3 + 2 * (int64_t)(next(&rng) % 3)};
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    int64_t batch = batches[b];
    rc.absolute = absolute_error(g, batch);
    size_t nin, nout, nin_u, nout_u;
    FUZZ_CHECK(actjit_kernel_io_sizes(fused, batch, &nin, &nout) == ACTJIT_OK &&
                   actjit_kernel_io_sizes(unfused, batch, &nin_u, &nout_u) == ACTJIT_OK && nin == nin_u &&
                   nout == nout_u,
               "io_sizes at batch %lld", (long long)batch);
    float *x = floats(nin), *x1 = floats(nin), *x2 = floats(nin);
    float *want = floats(nout), *p1 = floats(nout), *p2 = floats(nout), *yf = floats(nout), *yu = floats(nout);
    fill(x, nin, &rng, (int)(next(&rng) % 3), 4.0f);
    perturb(x, x1, nin, &rng);
    perturb(x, x2, nin, &rng);
    /* The inputs moved, then the parameters (or the inputs again): moving
     * both at once could cancel in a product. */
    FUZZ_CHECK(ref_run_opts(g, (const float *const *)params, x, batch, want, &ro) == ACTJIT_OK, "ref_run failed");
    bool oracle = opt->reference && !float_sums_may_overflow(g, (const float *const *)params, x, batch, &ro);
    if (oracle)
      FUZZ_CHECK(ref_run_opts(g, (const float *const *)params, x1, batch, p1, &ro) == ACTJIT_OK &&
                     ref_run_opts(g, (const float *const *)(np ? moved : params), np ? x : x2, batch, p2, &ro) ==
                         ACTJIT_OK,
                 "ref_run failed");
    check_kernel(&rc, fused, "fused", rc.donate, x, nin, batch, oracle ? want : NULL, p1, p2, nout, yf);
    check_kernel(&rc, unfused, "unfused", false, x, nin, batch, oracle ? want : NULL, p1, p2, nout, yu);
    for (size_t i = 0; i < nout; i++)
      if (!fused_agrees(yf[i], yu[i], exact))
        fail_case(&rc, "batch %lld: element %zu of %zu: fused %.9g, unfused %.9g (reference %.9g)", (long long)batch,
                  i, nout, yf[i], yu[i], want[i]);
    free(x), free(x1), free(x2), free(want), free(p1), free(p2), free(yf), free(yu);
  }
  actjit_kernel_destroy(fused);
  actjit_kernel_destroy(unfused);
  for (int i = 0; i < np; i++) free(params[i]), free(moved[i]);
  return 0;
}

#endif
