/* Compiled kernels: the compile driver (verify, passes, plan, codegen, JIT)
 * and the run-time half of the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/codegen.h"
#include "jit/jit.h"
#include "runtime/lower.h"
#include "runtime/memory.h"
#include "passes/passes.h"
#include "plan/plan.h"
#include "ir/print.h"

struct actjit_kernel {
  actjit_context *ctx;
  actjit_graph *g; /* the graph the code was generated from */
  plan plan;
  target_desc target;
  jit_session jit;
  bool training;  /* codegen's inputs beside g, plan and target, for the dumps */
  int opt_level;
  cg_entry_fn entry;
  cg_kernel_fn *steps; /* each kernel of the plan, for profiling */
  char **step_names;
  char *passes_dump;
  int nparams;
  int *param_node;   /* node index of each parameter */
  float **params;    /* bound copies, 64-byte aligned */
  float *scratch;
  size_t scratch_cap; /* floats */
  uint64_t seed;      /* keys training-mode dropout */
  /* Threads: the application's parallel-for, and how each kernel may be
   * split along the batch. */
  actjit_parallel_for_fn pfor;
  void *pfor_user;
  int tasks;
  slicing *slicing;
  int64_t *panels; /* each kernel's weight panels (cg_linear_panels) */
  actjit_compile_phases phases;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void actjit_compile_options_init(actjit_compile_options *o) {
  if (o) *o = (actjit_compile_options){.opt_level = 3, .fuse = 1, .canonicalize = 1, .depth_first = 1};
}

void actjit_kernel_destroy(actjit_kernel *k) {
  if (!k) return;
  jit_session_free(&k->jit);
  target_free(&k->target);
  for (int i = 0; k->step_names && i < k->plan.n; i++) free(k->step_names[i]);
  free(k->step_names);
  plan_free(&k->plan);
  for (int i = 0; k->params && i < k->nparams; i++) free(k->params[i]);
  free(k->params);
  free(k->param_node);
  free(k->passes_dump);
  free(k->steps);
  free(k->slicing);
  free(k->panels);
  free(k->scratch);
  actjit_graph_destroy(k->g);
  free(k);
}

static actjit_status collect_params(actjit_kernel *k) {
  k->nparams = actjit_graph_param_count(k->g);
  k->param_node = calloc((size_t)k->nparams + 1, sizeof *k->param_node);
  k->params = calloc((size_t)k->nparams + 1, sizeof *k->params);
  if (!k->param_node || !k->params) return aj_error(k->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int i = 0, j = 0; i < k->g->n; i++)
    if (k->g->nodes[i].op == OP_PARAM) k->param_node[j++] = i;
  return ACTJIT_OK;
}

void kernel_print_step(strbuf *sb, const actjit_graph *g, const step *s) {
  for (int j = 0; j < s->grp.n; j++) {
    sb_printf(sb, "%s%s ", j ? " | " : "", op_table[g->nodes[s->grp.m[j]].op].name);
    print_name(sb, '%', g->nodes[s->grp.m[j]].name);
  }
}

/* The kernels one by one, and their names ("linear %fc1 | relu %act"). */
static actjit_status lookup_steps(actjit_kernel *k) {
  k->steps = calloc((size_t)k->plan.n + 1, sizeof *k->steps);
  k->step_names = calloc((size_t)k->plan.n + 1, sizeof *k->step_names);
  if (!k->steps || !k->step_names) return aj_error(k->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int i = 0; i < k->plan.n; i++) {
    char name[32];
    snprintf(name, sizeof name, CG_KERNEL_FMT, i);
    void *addr;
    actjit_status st = jit_session_lookup(k->ctx, &k->jit, name, &addr);
    if (st) return st;
    k->steps[i] = (cg_kernel_fn)addr;
    strbuf sb = {0};
    kernel_print_step(&sb, k->g, &k->plan.steps[i]);
    if (sb.failed) {
      free(sb.buf);
      return aj_error(k->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    }
    k->step_names[i] = sb.buf;
  }
  return ACTJIT_OK;
}

actjit_status kernel_lower(actjit_graph *g, const actjit_compile_options *o, target_desc *t, plan *p, strbuf *dump) {
  actjit_status st = actjit_graph_verify(g);
  /* The target first: what the passes and codegen decide may depend on it. */
  if (!st) st = target_resolve(g->ctx, o->cpu, o->features, o->tuning, t);
  if (st) return st;
  /* Passes, then the memory plan; the dump shows the IR after each. */
  pass_options po = {.training = o->training, .canonicalize = o->canonicalize};
  /* depth-first blocks: their intermediates in a quarter of L2, beside the
   * layers' weights in half of it */
  plan_options pl = {.reuse = o->fuse, .donate_input = o->donate_input,
                     .block_bytes = o->fuse && o->depth_first ? t->l2 / 4 : 0};
  st = run_passes(g, &po, o->fuse, dump);
  if (!st) st = plan_memory(g, &pl, p);
  if (!st) {
    sb_printf(dump, "\n");
    plan_print(dump, g, p);
    if (dump->failed) st = aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  return st;
}

static actjit_status compile(actjit_kernel *k, const actjit_compile_options *o) {
  double t0 = now();
  strbuf dump = {0};
  actjit_status st = kernel_lower(k->g, o, &k->target, &k->plan, &dump);
  k->passes_dump = dump.buf;
  /* (after the passes, which renumber nodes) */
  if (!st) st = collect_params(k);
  double t1 = now();
  k->phases.passes = t1 - t0;
  k->training = o->training;
  k->opt_level = o->opt_level;
  if (!st) st = jit_session_init(k->ctx, &k->jit, k->opt_level);
  if (st) return st;
  LLVMModuleRef mod;
  if ((st = cg_build(k->g, &k->plan, jit_session_context(&k->jit), &k->target, k->training, &mod))) return st;
  k->phases.emit = now() - t1;
  void *addr = NULL;
  st = jit_session_compile(k->ctx, &k->jit, &k->target, mod, CG_ENTRY, &addr);
  k->phases.optimize = k->jit.optimize_s;
  k->phases.codegen = k->jit.codegen_s;
  k->entry = (cg_entry_fn)addr;
  if (!st) st = lookup_steps(k);
  if (!st && (!(k->slicing = calloc((size_t)k->plan.n + 1, sizeof *k->slicing)) ||
              !(k->panels = calloc((size_t)k->plan.n + 1, sizeof *k->panels))))
    st = aj_error(k->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  if (!st) plan_slicing(k->g, &k->plan, k->slicing);
  for (int i = 0; !st && i < k->plan.n; i++) k->panels[i] = cg_linear_panels(k->g, &k->plan.steps[i].grp, &k->target);
  /* Parameters that hold their values (an ONNX model's initializers) start
   * bound; the kernel's copy of the graph then lets its own copy go. */
  for (int i = 0; !st && i < k->nparams; i++) {
    node *p = &k->g->nodes[k->param_node[i]];
    if (p->data) st = actjit_kernel_bind(k, p->name, p->data, (size_t)shape_static_numel(&p->shape));
    free(p->data);
    p->data = NULL;
  }
  return st;
}

actjit_status actjit_compile(actjit_graph *g, const actjit_compile_options *o, actjit_kernel **out) {
  if (!g || !out) return aj_error(g ? g->ctx : NULL, ACTJIT_ERR_ARGUMENT, "actjit_compile: NULL argument");
  *out = NULL;
  double t0 = now();
  actjit_compile_options defaults;
  actjit_compile_options_init(&defaults);
  actjit_kernel *k = calloc(1, sizeof *k);
  if (!k) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  k->ctx = g->ctx;
  k->g = ir_clone(g);
  actjit_status st = k->g ? compile(k, o ? o : &defaults) : aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  if (st) {
    actjit_kernel_destroy(k);
    return st;
  }
  k->phases.total = now() - t0;
  *out = k;
  return ACTJIT_OK;
}

actjit_status actjit_kernel_compile_phases(const actjit_kernel *k, actjit_compile_phases *out) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  if (!out) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_compile_phases: out is NULL");
  *out = k->phases;
  return ACTJIT_OK;
}

actjit_status actjit_kernel_bind(actjit_kernel *k, const char *param, const float *data, size_t count) {
  if (!k || !param || (!data && count)) return aj_error(k ? k->ctx : NULL, ACTJIT_ERR_ARGUMENT, "actjit_kernel_bind: NULL argument");
  for (int i = 0; i < k->nparams; i++) {
    const node *nd = &k->g->nodes[k->param_node[i]];
    if (strcmp(nd->name, param)) continue;
    size_t want = (size_t)shape_static_numel(&nd->shape);
    char buf[96];
    if (count != want)
      return aj_error(k->ctx, ACTJIT_ERR_WEIGHTS, "parameter @%s has shape %s (%zu floats), got %zu floats",
                      param, shape_str(&nd->shape, buf, sizeof buf), want, count);
    float *copy = aj_alloc_floats((size_t)cg_param_floats(k->g, &k->plan, &k->target, k->param_node[i]));
    if (!copy) return aj_error(k->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    cg_param_pack(k->g, &k->plan, &k->target, k->param_node[i], data, copy);
    free(k->params[i]);
    k->params[i] = copy;
    return ACTJIT_OK;
  }
  return aj_error(k->ctx, ACTJIT_ERR_WEIGHTS, "the pipeline has no parameter @%s", param);
}

/* mul * batch, or -1 if it overflows. */
static int64_t scaled(extent e, int64_t batch) {
  if (!e.dyn) return e.mul;
  if (batch && e.mul > INT64_MAX / 4 / batch) return -1;
  return e.mul * batch;
}

actjit_status actjit_kernel_io_sizes(const actjit_kernel *k, int64_t batch, size_t *in_count,
                                     size_t *out_count) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  if (batch < 0) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "batch %lld is negative", (long long)batch);
  int64_t in = scaled(shape_numel(&k->g->nodes[k->g->input].shape), batch);
  int64_t out = scaled(shape_numel(&k->g->nodes[k->g->output].shape), batch);
  if (in < 0 || out < 0) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "batch %lld is too large", (long long)batch);
  if (in_count) *in_count = (size_t)in;
  if (out_count) *out_count = (size_t)out;
  return ACTJIT_OK;
}

/* Tasks a depth-first run splits into, each with its block buffers. */
static int64_t block_tasks(const actjit_kernel *k) { return k->pfor ? k->tasks : 1; }

/* Scratch floats at this batch: the plan's, then each task's block area;
 * -1 past int64_t. */
static int64_t scratch_floats(const actjit_kernel *k, int64_t batch) {
  int64_t dyn = scaled((extent){k->plan.scratch_dyn, true}, batch);
  int64_t fixed = k->plan.scratch_static + block_tasks(k) * k->plan.block_floats;
  return dyn < 0 || dyn > INT64_MAX / 4 - fixed ? -1 : dyn + fixed;
}

size_t actjit_kernel_scratch_bytes(const actjit_kernel *k, int64_t batch) {
  if (!k || batch < 0) return 0;
  int64_t n = scratch_floats(k, batch);
  return n < 0 ? SIZE_MAX : (size_t)n * sizeof(float);
}

static actjit_status ensure_scratch(actjit_kernel *k, int64_t batch) {
  int64_t n = scratch_floats(k, batch);
  if (n < 0) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "batch %lld is too large", (long long)batch);
  size_t need = (size_t)n;
  if (need <= k->scratch_cap && k->scratch) return ACTJIT_OK;
  float *s = aj_alloc_floats(need);
  if (!s) return aj_error(k->ctx, ACTJIT_ERR_NOMEM, "cannot allocate %zu bytes of scratch", need * sizeof(float));
  free(k->scratch);
  k->scratch = s;
  k->scratch_cap = need;
  return ACTJIT_OK;
}

/* Checks run arguments and readies scratch. */
static actjit_status prepare_run(actjit_kernel *k, const float *input, int64_t *batch, float *output) {
  if (!input || !output) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_run: NULL buffer");
  if (!k->g->nodes[k->g->input].shape.dyn) *batch = 1;
  actjit_status st = actjit_kernel_io_sizes(k, *batch, NULL, NULL);
  if (st) return st;
  for (int i = 0; i < k->nparams; i++)
    if (!k->params[i])
      return aj_error(k->ctx, ACTJIT_ERR_WEIGHTS, "parameter @%s is not bound", k->g->nodes[k->param_node[i]].name);
  return ensure_scratch(k, *batch);
}

int actjit_kernel_step_count(const actjit_kernel *k) { return k ? k->plan.n : 0; }

const char *actjit_kernel_step_name(const actjit_kernel *k, int i) {
  return k && i >= 0 && i < k->plan.n ? k->step_names[i] : NULL;
}

/* Task t's block buffers, after the plan's scratch. */
static float *block_area(const actjit_kernel *k, int64_t batch, int64_t t) {
  return k->scratch + scratch_floats(k, batch) - (block_tasks(k) - t) * k->plan.block_floats;
}

/* Where a buffer is (a block buffer: task 0's, for a batch of one block). */
static float *buffer_at(actjit_kernel *k, const buffer *b, const float *in, float *out, int64_t batch) {
  switch (b->kind) {
  case BUF_INPUT: return (float *)in;
  case BUF_OUTPUT: return out;
  case BUF_SCRATCH: break;
  case BUF_BLOCK: return block_area(k, batch, 0) + b->off_static;
  }
  return k->scratch + b->off_dyn * batch + b->off_static;
}

/* Task t of n runs kernel i on its share of the batch rows, [lo, hi), or
 * of a linear's weight panels with every row. */
typedef struct slice_job {
  const actjit_kernel *k;
  int i;
  const float *in[GROUP_MAX_INS];
  float *y;
  int64_t batch, n;
  bool by_panels;
} slice_job;

static void run_slice(void *arg, int64_t t) {
  const slice_job *j = arg;
  const slicing *sl = &j->k->slicing[j->i];
  const float *const *params = (const float *const *)j->k->params;
  int64_t panels = j->k->panels[j->i];
  if (j->by_panels) {
    int64_t p0 = panels * t / j->n, p1 = panels * (t + 1) / j->n;
    if (p1 > p0) j->k->steps[j->i](j->in, j->y, params, j->batch, j->k->seed, 0, p0, p1);
    return;
  }
  int64_t lo = j->batch * t / j->n, hi = j->batch * (t + 1) / j->n;
  const float *in[GROUP_MAX_INS];
  for (int q = 0; q < j->k->plan.steps[j->i].grp.nins; q++) in[q] = j->in[q] + lo * sl->row_in[q];
  if (hi > lo) j->k->steps[j->i](in, j->y + lo * sl->row_out, params, hi - lo, j->k->seed, lo, 0, panels);
}

/* Kernel i on the whole batch, in slices through the parallel-for when it
 * may be split: along the batch, or for few rows along a linear's panels. */
static void run_step(actjit_kernel *k, int i, const float *input, float *output, int64_t batch) {
  const step *s = &k->plan.steps[i];
  bool by_panels = k->pfor && k->panels[i] > 1 && batch >= 1 && batch < (int64_t)CG_SPLIT_ROWS_MIN * k->tasks;
  /* At least one task, even for an empty batch: run_slice divides by the count. */
  int64_t tasks = by_panels                                  ? (k->tasks < k->panels[i] ? k->tasks : k->panels[i])
                  : k->slicing[i].by_rows && k->pfor && batch > 1 ? (k->tasks < batch ? k->tasks : batch)
                                                             : 1;
  slice_job j = {.k = k, .i = i, .y = buffer_at(k, &s->out, input, output, batch), .batch = batch, .n = tasks,
                 .by_panels = by_panels};
  for (int q = 0; q < s->grp.nins; q++) j.in[q] = buffer_at(k, &s->in[q], input, output, batch);
  if (j.n > 1)
    k->pfor(k->pfor_user, j.n, run_slice, &j);
  else
    run_slice(&j, 0);
}

actjit_status actjit_kernel_set_parallel_for(actjit_kernel *k, actjit_parallel_for_fn pfor, void *user, int tasks) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  k->pfor = tasks > 1 ? pfor : NULL;
  k->pfor_user = user;
  k->tasks = tasks;
  return ACTJIT_OK;
}

/* A depth-first run over the batch: task t of n takes its share of the
 * rows, a block of plan.block_rows at a time through every kernel of the
 * run, with its own block buffers.  seconds: each kernel's time, summed
 * over the blocks (task 0's; the tasks run alike). */
typedef struct block_job {
  const actjit_kernel *k;
  const block_run *run;
  const float *input;
  float *output;
  int64_t batch, n;
  double *seconds;
} block_job;

static void run_blocks(void *arg, int64_t t) {
  const block_job *j = arg;
  const actjit_kernel *k = j->k;
  float *area = block_area(k, j->batch, t);
  int64_t lo = j->batch * t / j->n, hi = j->batch * (t + 1) / j->n;
  for (int64_t r = lo; r < hi; r += k->plan.block_rows) {
    int64_t rows = hi - r < k->plan.block_rows ? hi - r : k->plan.block_rows;
    for (int i = j->run->first; i <= j->run->last; i++) {
      const step *s = &k->plan.steps[i];
      const slicing *sl = &k->slicing[i];
      const float *in[GROUP_MAX_INS];
      for (int q = 0; q < s->grp.nins; q++)
        in[q] = s->in[q].kind == BUF_BLOCK ? area + s->in[q].off_static
                                           : buffer_at((actjit_kernel *)k, &s->in[q], j->input, j->output, j->batch) +
                                                 r * sl->row_in[q];
      float *y = s->out.kind == BUF_BLOCK ? area + s->out.off_static
                                          : buffer_at((actjit_kernel *)k, &s->out, j->input, j->output, j->batch) +
                                                r * sl->row_out;
      double t0 = j->seconds && !t ? now() : 0;
      k->steps[i](in, y, (const float *const *)k->params, rows, k->seed, r, 0, k->panels[i]);
      if (j->seconds && !t) j->seconds[i] += now() - t0;
    }
  }
}

/* Every kernel of the plan, depth-first runs in blocks; seconds (or NULL):
 * each kernel's time.  A batch of one block runs layer by layer (its block
 * buffers hold it), its kernels split as they would be without the run. */
static void run_plan(actjit_kernel *k, const float *input, float *output, int64_t batch, double *seconds) {
  for (int i = 0, q = 0; i < k->plan.n;) {
    while (q < k->plan.nruns && k->plan.runs[q].last < i) q++;
    if (q < k->plan.nruns && k->plan.runs[q].first == i && batch > k->plan.block_rows) {
      const block_run *r = &k->plan.runs[q++];
      int64_t blocks = (batch + k->plan.block_rows - 1) / k->plan.block_rows;
      block_job j = {k, r, input, output, batch, k->pfor && blocks > 1 ? (k->tasks < blocks ? k->tasks : blocks) : 1,
                     seconds};
      for (int s = r->first; seconds && s <= r->last; s++) seconds[s] = 0;
      if (j.n > 1) k->pfor(k->pfor_user, j.n, run_blocks, &j);
      else run_blocks(&j, 0);
      i = r->last + 1;
      continue;
    }
    double t0 = seconds ? now() : 0;
    run_step(k, i, input, output, batch);
    if (seconds) seconds[i] = now() - t0;
    i++;
  }
}

actjit_status actjit_kernel_run_profiled(actjit_kernel *k, const float *input, int64_t batch, float *output,
                                         double *seconds) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  if (!seconds) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_run_profiled: seconds is NULL");
  actjit_status st = prepare_run(k, input, &batch, output);
  if (st) return st;
  run_plan(k, input, output, batch, seconds);
  return ACTJIT_OK;
}

actjit_status actjit_kernel_run(actjit_kernel *k, const float *input, int64_t batch, float *output) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  actjit_status st = prepare_run(k, input, &batch, output);
  if (st) return st;
  /* (the entry runs the whole plan in one call, on this thread) */
  if (k->pfor) run_plan(k, input, output, batch, NULL);
  else k->entry(input, output, (const float *const *)k->params, k->scratch, batch, k->seed);
  return ACTJIT_OK;
}

/* The kernel whose function starts at this line of a dump, or -1: in LLVM
 * IR `define ... @actjit_k<i>(`, in assembly the label `actjit_k<i>:`. */
static int kernel_at(const char *line, size_t len, bool assembly) {
  const char *at = assembly ? line : memchr(line, '@', len);
  size_t skip = assembly ? 0 : 1, prefix = strlen(CG_KERNEL_PREFIX);
  if (!at || (!assembly && strncmp(line, "define ", 7))) return -1;
  at += skip;
  if ((size_t)(at - line) + prefix >= len || strncmp(at, CG_KERNEL_PREFIX, prefix)) return -1;
  char *end;
  long i = strtol(at + prefix, &end, 10);
  return end > at + prefix && *end == (assembly ? ':' : '(') ? (int)i : -1;
}

/* text with a comment line before each kernel's function naming the ops it
 * runs (`; actjit_k0: linear %fc1 | relu %act`, `#` in assembly), so that
 * a reader finds the loop of fc1; takes text. */
static actjit_status annotate(actjit_kernel *k, char *text, bool assembly, char **out) {
  strbuf sb = {0};
  for (const char *line = text; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
    int i = kernel_at(line, len, assembly);
    if (i >= 0 && i < k->plan.n) sb_printf(&sb, "%c " CG_KERNEL_FMT ": %s\n", assembly ? '#' : ';', i, k->step_names[i]);
    sb_printf(&sb, "%.*s", (int)len, line);
    line += len;
  }
  free(text);
  if (sb.failed || !sb_printf(&sb, "%s", "")) {
    free(sb.buf);
    return aj_error(k->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  *out = sb.buf;
  return ACTJIT_OK;
}

/* An LLVM dump: the module rebuilt, as the compile built it, in a session
 * of its own. */
static actjit_status dump_llvm(actjit_kernel *k, jit_stage stage, char **text) {
  jit_session s;
  LLVMModuleRef mod;
  char *raw;
  actjit_status st = jit_session_init(k->ctx, &s, k->opt_level);
  if (!st) st = cg_build(k->g, &k->plan, jit_session_context(&s), &k->target, k->training, &mod);
  if (!st) st = jit_session_dump(k->ctx, &s, &k->target, mod, stage, &raw);
  jit_session_free(&s);
  return st ? st : annotate(k, raw, stage == JIT_ASM, text);
}

actjit_status actjit_kernel_dump(actjit_kernel *k, actjit_dump_kind kind, char **text) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  if (!text) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_dump: text is NULL");
  switch (kind) {
  case ACTJIT_DUMP_IR: return actjit_graph_print(k->g, text);
  case ACTJIT_DUMP_PASSES:
    *text = aj_strndup(k->passes_dump, strlen(k->passes_dump));
    return *text ? ACTJIT_OK : aj_error(k->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  case ACTJIT_DUMP_LLVM: return dump_llvm(k, JIT_LLVM, text);
  case ACTJIT_DUMP_LLVM_OPT: return dump_llvm(k, JIT_LLVM_OPT, text);
  case ACTJIT_DUMP_ASM: return dump_llvm(k, JIT_ASM, text);
  }
  return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "unknown dump kind %d", (int)kind);
}

actjit_status actjit_kernel_set_seed(actjit_kernel *k, uint64_t seed) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  k->seed = seed;
  return ACTJIT_OK;
}

const char *actjit_kernel_cpu(const actjit_kernel *k) { return k ? k->target.cpu : NULL; }
int actjit_kernel_vector_width(const actjit_kernel *k) { return k ? k->target.width : 0; }
