/* Compiled kernels: the compile driver (verify, passes, plan, codegen, JIT)
 * and the run-time half of the public API. */
#include <pthread.h>
#include <stdint.h>
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
#include "runtime/cache.h"

struct actjit_kernel {
  actjit_context *ctx;
  compiled *c;      /* the code and plan, shared with kernels compiled alike */
  float **params;   /* bound copies of c->params, 64-byte aligned */
  float *scratch;
  size_t scratch_cap; /* floats */
  uint64_t seed;      /* keys training-mode dropout */
  /* Threads: the application's parallel-for (c->slicing says how each
   * kernel may be split along the batch). */
  actjit_parallel_for_fn pfor;
  void *pfor_user;
  int tasks;
  actjit_compile_phases phases;
  actjit_cache_outcome cache;
  char note[CACHE_NOTE_MAX]; /* what the disk cache did, "" if nothing to say */
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void actjit_compile_options_init(actjit_compile_options *o) {
  if (o)
    *o = (actjit_compile_options){
        .opt_level = 3, .fuse = 1, .canonicalize = 1, .depth_first = 1, .cache = 1, .compile_threads = 0};
}

/* What a compile made, or an entry of the disk cache gave: c as before. */
static void compiled_clear(compiled *c) {
  jit_session_free(&c->jit);
  for (int i = 0; c->step_names && i < c->plan.n; i++) free(c->step_names[i]);
  free(c->step_names);
  plan_free(&c->plan);
  for (int i = 0; c->params && i < c->nparams; i++) free(c->params[i].name);
  free(c->params);
  actjit_graph_destroy(c->g);
  free(c->ir_dump);
  free(c->passes_dump);
  free(c->steps);
  free(c->slicing);
  free(c->panels);
  c->step_names = NULL, c->params = NULL, c->nparams = 0, c->g = NULL, c->ir_dump = c->passes_dump = NULL;
  c->entry = NULL, c->steps = NULL, c->slicing = NULL, c->panels = NULL;
}

void compiled_free(compiled *c) {
  if (!c) return;
  compiled_clear(c);
  target_free(&c->target);
  free(c->file);
  free(c->source);
  free(c);
}

void actjit_kernel_destroy(actjit_kernel *k) {
  if (!k) return;
  for (int i = 0; k->params && i < k->c->nparams; i++) free(k->params[i]);
  free(k->params);
  free(k->scratch);
  cache_release(k->c);
  free(k);
}

static actjit_status nomem(actjit_context *ctx) { return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory"); }

static actjit_status collect_params(actjit_context *ctx, compiled *c);

void kernel_print_step(strbuf *sb, const actjit_graph *g, const step *s) {
  for (int j = 0; j < s->grp.n; j++) {
    sb_printf(sb, "%s%s ", j ? " | " : "", op_table[g->nodes[s->grp.m[j]].op].name);
    print_name(sb, '%', g->nodes[s->grp.m[j]].name);
  }
}

/* The kernels one by one, and their names ("linear %fc1 | relu %act"). */
static actjit_status name_steps(actjit_context *ctx, compiled *c) {
  if (!(c->step_names = calloc((size_t)c->plan.n + 1, sizeof *c->step_names))) return nomem(ctx);
  for (int i = 0; i < c->plan.n; i++) {
    strbuf sb = {0};
    kernel_print_step(&sb, c->g, &c->plan.steps[i]);
    if (sb.failed) {
      free(sb.buf);
      return nomem(ctx);
    }
    c->step_names[i] = sb.buf;
  }
  return ACTJIT_OK;
}

/* The entry and each kernel's function, from the code loaded in c->jit. */
static actjit_status lookup_steps(actjit_context *ctx, compiled *c) {
  void *addr;
  actjit_status st = jit_session_lookup(ctx, &c->jit, CG_ENTRY, &addr);
  if (st) return st;
  c->entry = (cg_entry_fn)addr;
  if (!(c->steps = calloc((size_t)c->plan.n + 1, sizeof *c->steps))) return nomem(ctx);
  for (int i = 0; i < c->plan.n; i++) {
    char name[32];
    snprintf(name, sizeof name, CG_KERNEL_FMT, i);
    if ((st = jit_session_lookup(ctx, &c->jit, name, &addr))) return st;
    c->steps[i] = (cg_kernel_fn)addr;
  }
  return ACTJIT_OK;
}

/* Verified graph g through the passes to its plan p for target t; dump
 * gets the IR after each pass, then the plan. */
static actjit_status lower(actjit_graph *g, const compiled_options *o, const target_desc *t, plan *p, strbuf *dump) {
  pass_options po = {.training = o->training, .canonicalize = o->canonicalize};
  /* depth-first blocks: their intermediates in a quarter of L2, beside the
   * layers' weights in half of it */
  plan_options pl = {.reuse = o->fuse, .donate_input = o->donate_input,
                     .block_bytes = o->fuse && o->depth_first ? t->l2 / 4 : 0};
  actjit_status st = run_passes(g, &po, o->fuse, dump);
  if (!st) st = plan_memory(g, &pl, p);
  if (!st) {
    sb_printf(dump, "\n");
    plan_print(dump, g, p);
    if (dump->failed) st = nomem(g->ctx);
  }
  return st;
}

/* What of o changes the code or the plan. */
static compiled_options options_of(const actjit_compile_options *o) {
  return (compiled_options){.opt_level = o->opt_level, .fuse = o->fuse, .training = o->training,
                            .donate_input = o->donate_input, .canonicalize = o->canonicalize,
                            .depth_first = o->depth_first};
}

actjit_status kernel_lower(actjit_graph *g, const actjit_compile_options *o, target_desc *t, plan *p, strbuf *dump) {
  actjit_status st = actjit_graph_verify(g);
  /* The target first: what the passes and codegen decide may depend on it. */
  if (!st) st = target_resolve(g->ctx, o->cpu, o->features, o->tuning, t);
  compiled_options co = options_of(o);
  return st ? st : lower(g, &co, t, p, dump);
}

/* g's modules for plan p in parts (cg_build_part), which threads compile
 * at once, or in one: LLVM spends 1.5 ms on a module beside its code's
 * time (building its pass pipelines), a cost one thread need not pay.  A
 * dump's share one context. */
static actjit_status build_parts(const actjit_graph *g, const plan *p, const target_desc *t, const compiled_options *o,
                                 bool in_parts, bool dump, jit_parts *parts) {
  actjit_status st = jit_parts_init(g->ctx, parts, in_parts ? CG_PARTS(p) : 1, dump);
  for (int i = 0; !st && i < parts->n; i++)
    st = in_parts ? cg_build_part(g, p, parts->llvm[i], t, o->training, i, &parts->mod[i])
                  : cg_build(g, p, parts->llvm[i], t, o->training, &parts->mod[i]);
  return st;
}

/* Compiles c->g (the kernel's copy of the verified graph) for c->target:
 * passes, plan, codegen, JIT on up to `threads` threads; objs (if not
 * NULL) gets a copy of the object files, none when out of memory for them. */
static actjit_status compile(actjit_context *ctx, compiled *c, int threads, actjit_compile_phases *phases,
                             cache_objects *objs) {
  double t0 = now();
  /* Each kernel binds its own copy of the parameters' values. */
  for (int i = 0; i < c->g->n; i++) {
    free(c->g->nodes[i].op == OP_PARAM ? c->g->nodes[i].data : NULL);
    if (c->g->nodes[i].op == OP_PARAM) c->g->nodes[i].data = NULL;
  }
  strbuf dump = {0};
  actjit_status st = lower(c->g, &c->opts, &c->target, &c->plan, &dump);
  c->passes_dump = dump.buf;
  if (!st) st = collect_params(ctx, c);
  if (!st) st = actjit_graph_print(c->g, &c->ir_dump);
  double t1 = now();
  phases->passes += t1 - t0;
  jit_parts parts = {0};
  if (!st) st = jit_session_init(ctx, &c->jit, c->opts.opt_level);
  if (!st) st = build_parts(c->g, &c->plan, &c->target, &c->opts, jit_threads(threads, CG_PARTS(&c->plan)) > 1, false,
                                 &parts);
  phases->emit = now() - t1;
  if (!st) st = jit_parts_emit(ctx, &c->jit, &c->target, &parts, threads);
  if (!st && objs) cache_objects_copy(objs, parts.n, parts.obj);
  void *addr;
  if (!st) st = jit_parts_load(ctx, &c->jit, &c->target, &parts, CG_ENTRY, &addr);
  jit_parts_free(&parts);
  phases->optimize = c->jit.optimize_s;
  phases->codegen = c->jit.codegen_s;
  phases->codegen_threads = c->jit.threads;
  phases->objects = c->jit.objects;
  if (!st) st = lookup_steps(ctx, c);
  if (!st) st = name_steps(ctx, c);
  if (!st && (!(c->slicing = calloc((size_t)c->plan.n + 1, sizeof *c->slicing)) ||
              !(c->panels = calloc((size_t)c->plan.n + 1, sizeof *c->panels))))
    st = nomem(ctx);
  if (!st) plan_slicing(c->g, &c->plan, c->slicing);
  for (int i = 0; !st && i < c->plan.n; i++) c->panels[i] = cg_linear_panels(c->g, &c->plan.steps[i].grp, &c->target);
  c->in_shape = c->g->nodes[c->g->input].shape;
  c->out_shape = c->g->nodes[c->g->output].shape;
  /* The shared graph reports to no context; a dump works on a copy. */
  c->g->ctx = NULL;
  return st;
}

/* c (its manifest read from the disk cache) running the entry's object
 * files. */
static actjit_status load_entry(actjit_context *ctx, compiled *c, const cache_objects *objs) {
  void *addr;
  actjit_status st = jit_session_init(ctx, &c->jit, c->opts.opt_level);
  if (!st) st = jit_session_load_bytes(ctx, &c->jit, &c->target, objs->n, objs->p, objs->len, CG_ENTRY, &addr);
  return st ? st : lookup_steps(ctx, c);
}

/* Parameters that hold their values in g (an ONNX model's initializers)
 * start bound. */
static actjit_status bind_held(actjit_kernel *k, const actjit_graph *g) {
  for (int i = 0; i < k->c->nparams; i++) {
    const char *name = k->c->params[i].name;
    const node *p = ir_find(g, name, strlen(name));
    actjit_status st = p && p->op == OP_PARAM && p->data
                           ? actjit_kernel_bind(k, name, p->data, (size_t)shape_static_numel(&p->shape))
                           : ACTJIT_OK;
    if (st) return st;
  }
  return ACTJIT_OK;
}

/* c's code from dir's entry for id, if it has a valid one: CACHE_HIT, c
 * ready to run; CACHE_NONE; or CACHE_INVALID, c as it was, k->note saying
 * why.  t0: when the compile started, for its phases. */
static cache_read from_disk(actjit_kernel *k, compiled *c, const char *dir, const cache_id *id, double t0) {
  cache_objects objs = {0};
  cache_read got = cache_disk_read(dir, id, c, &objs, k->note);
  k->phases.passes = now() - t0;
  if (got == CACHE_HIT && load_entry(k->ctx, c, &objs)) {
    got = CACHE_INVALID;
    snprintf(k->note, sizeof k->note, "entry's object file refused by LLVM");
  }
  k->phases.codegen = c->jit.codegen_s;
  k->phases.objects = c->jit.objects;
  if (got == CACHE_INVALID) compiled_clear(c);
  cache_objects_free(&objs);
  return got;
}

/* c compiled from a copy of g on up to `threads` threads, its entry written
 * to dir if not NULL. */
static actjit_status compile_anew(actjit_kernel *k, compiled *c, const actjit_graph *g, int threads, const char *dir,
                                  const cache_id *id, double t0) {
  if (!(c->g = ir_clone(g))) return nomem(k->ctx);
  k->phases.passes = now() - t0;
  cache_objects objs = {0};
  actjit_status st = compile(k->ctx, c, threads, &k->phases, dir ? &objs : NULL);
  if (!st && dir && !objs.n) snprintf(k->note, sizeof k->note, "entry not written: out of memory");
  if (!st && objs.n) cache_disk_write(dir, id, c, &objs, k->note);
  cache_objects_free(&objs);
  return st;
}

/* The compiled code for g: through the cache when o->cache, shared from
 * the process's table, read from o->cache_dir or compiled (and added to
 * both); k->c holds a reference. */
static actjit_status get_compiled(actjit_graph *g, const actjit_compile_options *o, actjit_kernel *k) {
  actjit_context *ctx = k->ctx;
  double t0 = now();
  compiled *c = calloc(1, sizeof *c);
  if (!c) return nomem(ctx);
  c->refs = 1;
  c->opts = options_of(o);
  cache_id id = {0};
  actjit_status st = actjit_graph_verify(g);
  if (!st && o->compile_threads < 0)
    st = aj_error(ctx, ACTJIT_ERR_ARGUMENT, "compile_threads %d is negative (0: one a CPU)", o->compile_threads);
  /* The target first: what the passes and codegen decide may depend on it. */
  if (!st) st = target_resolve(ctx, o->cpu, o->features, o->tuning, &c->target);
  if (!st && !(c->file = aj_strndup(g->file ? g->file : "", g->file ? strlen(g->file) : 0))) st = nomem(ctx);
  if (!st && o->cache) st = actjit_graph_print(g, &c->source);
  if (!st && o->cache) st = cache_id_make(ctx, c->source, &c->target, &c->opts, &id);
  compiled *hit = !st && o->cache ? cache_find(id.key) : NULL;
  const char *dir = o->cache ? o->cache_dir : NULL;
  cache_read got = CACHE_NONE;
  if (hit) {
    compiled_free(c);
    c = hit;
  } else if (!st) {
    memcpy(c->key, id.key, sizeof c->key);
    if (dir) got = from_disk(k, c, dir, &id, t0);
    if (got != CACHE_HIT) st = compile_anew(k, c, g, o->compile_threads, dir, &id, t0);
    if (!st && o->cache) c = cache_add(c);
  }
  k->cache = !o->cache ? ACTJIT_CACHE_BYPASSED
             : hit ? ACTJIT_CACHE_MEMORY
             : got == CACHE_HIT ? ACTJIT_CACHE_DISK
             : got == CACHE_INVALID ? ACTJIT_CACHE_REBUILT
             : ACTJIT_CACHE_MISS;
  cache_id_free(&id);
  if (st) {
    compiled_free(c);
    return st;
  }
  k->c = c;
  return ACTJIT_OK;
}

actjit_status actjit_compile(actjit_graph *g, const actjit_compile_options *o, actjit_kernel **out) {
  if (!g || !out) return aj_error(g ? g->ctx : NULL, ACTJIT_ERR_ARGUMENT, "actjit_compile: NULL argument");
  *out = NULL;
  double t0 = now();
  actjit_compile_options defaults;
  actjit_compile_options_init(&defaults);
  actjit_kernel *k = calloc(1, sizeof *k);
  if (!k) return nomem(g->ctx);
  k->ctx = g->ctx;
  actjit_status st = get_compiled(g, o ? o : &defaults, k);
  if (!st && !(k->params = calloc((size_t)k->c->nparams + 1, sizeof *k->params))) st = nomem(k->ctx);
  if (!st) st = bind_held(k, g);
  if (st) {
    actjit_kernel_destroy(k);
    return st;
  }
  k->phases.total = now() - t0;
  *out = k;
  return ACTJIT_OK;
}

actjit_cache_outcome actjit_kernel_cache_outcome(const actjit_kernel *k, const char **note) {
  if (note) *note = k ? k->note : "";
  return k ? k->cache : ACTJIT_CACHE_BYPASSED;
}

actjit_status actjit_kernel_compile_phases(const actjit_kernel *k, actjit_compile_phases *out) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  if (!out) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_compile_phases: out is NULL");
  *out = k->phases;
  return ACTJIT_OK;
}

/* The parameters after the passes, which renumber nodes, in declaration
 * order, and how each is bound. */
static actjit_status collect_params(actjit_context *ctx, compiled *c) {
  c->nparams = actjit_graph_param_count(c->g);
  if (!(c->params = calloc((size_t)c->nparams + 1, sizeof *c->params))) return nomem(ctx);
  for (int i = 0, j = 0; i < c->g->n; i++) {
    const node *nd = &c->g->nodes[i];
    if (nd->op != OP_PARAM) continue;
    rt_param *p = &c->params[j++];
    p->shape = nd->shape;
    p->linears = cg_param_layout(c->g, &c->plan, i);
    if (!(p->name = aj_strndup(nd->name, strlen(nd->name)))) return nomem(ctx);
  }
  return ACTJIT_OK;
}

actjit_status actjit_kernel_bind(actjit_kernel *k, const char *param, const float *data, size_t count) {
  if (!k || !param || (!data && count)) return aj_error(k ? k->ctx : NULL, ACTJIT_ERR_ARGUMENT, "actjit_kernel_bind: NULL argument");
  const compiled *c = k->c;
  for (int i = 0; i < c->nparams; i++) {
    const rt_param *p = &c->params[i];
    if (strcmp(p->name, param)) continue;
    size_t want = (size_t)shape_static_numel(&p->shape);
    char buf[96];
    if (count != want)
      return aj_error(k->ctx, ACTJIT_ERR_WEIGHTS, "parameter @%s has shape %s (%zu floats), got %zu floats",
                      param, shape_str(&p->shape, buf, sizeof buf), want, count);
    float *copy = aj_alloc_floats((size_t)cg_param_floats(&c->target, &p->shape, p->linears));
    if (!copy) return nomem(k->ctx);
    cg_param_pack(&c->target, &p->shape, p->linears, data, copy);
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

/* actjit_kernel_io_sizes, its message (if any) to ctx: NULL for none. */
static actjit_status io_sizes(const actjit_kernel *k, actjit_context *ctx, int64_t batch, size_t *in_count,
                              size_t *out_count) {
  if (batch < 0) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "batch %lld is negative", (long long)batch);
  int64_t in = scaled(shape_numel(&k->c->in_shape), batch);
  int64_t out = scaled(shape_numel(&k->c->out_shape), batch);
  if (in < 0 || out < 0) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "batch %lld is too large", (long long)batch);
  if (in_count) *in_count = (size_t)in;
  if (out_count) *out_count = (size_t)out;
  return ACTJIT_OK;
}

actjit_status actjit_kernel_io_sizes(const actjit_kernel *k, int64_t batch, size_t *in_count,
                                     size_t *out_count) {
  return k ? io_sizes(k, k->ctx, batch, in_count, out_count) : ACTJIT_ERR_ARGUMENT;
}

/* Tasks a depth-first run splits into, each with its block buffers. */
static int64_t block_tasks(const actjit_kernel *k) { return k->pfor ? k->tasks : 1; }

/* Floats of a task's block area at this batch. */
static int64_t block_floats(const plan *p, int64_t batch) { return p->block_row_floats * plan_block_rows(p, batch); }

/* Scratch floats at this batch: the plan's, then each task's block area;
 * -1 past int64_t. */
static int64_t scratch_floats(const actjit_kernel *k, int64_t batch) {
  const plan *p = &k->c->plan;
  int64_t dyn = scaled((extent){p->scratch_dyn, true}, batch);
  int64_t fixed = p->scratch_static + block_tasks(k) * block_floats(p, batch);
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

/* Checks run arguments, the message (if any) to ctx: NULL for none. */
static actjit_status check_run(const actjit_kernel *k, actjit_context *ctx, const float *input, int64_t *batch,
                               float *output) {
  if (!input || !output) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_run: NULL buffer");
  if (!k->c->in_shape.dyn) *batch = 1;
  actjit_status st = io_sizes(k, ctx, *batch, NULL, NULL);
  if (st) return st;
  for (int i = 0; i < k->c->nparams; i++)
    if (!k->params[i])
      return aj_error(ctx, ACTJIT_ERR_WEIGHTS, "parameter @%s is not bound", k->c->params[i].name);
  return ACTJIT_OK;
}

int actjit_kernel_step_count(const actjit_kernel *k) { return k ? k->c->plan.n : 0; }

const char *actjit_kernel_step_name(const actjit_kernel *k, int i) {
  return k && i >= 0 && i < k->c->plan.n ? k->c->step_names[i] : NULL;
}

/* One run: the kernel, and the scratch it uses. */
typedef struct run {
  const actjit_kernel *k;
  const compiled *c;
  float *scratch;
  const float *input;
  float *output;
  int64_t batch;
} run;

/* Task t's block buffers, after the plan's scratch. */
static float *block_area(const run *r, int64_t t) {
  return r->scratch + scratch_floats(r->k, r->batch) - (block_tasks(r->k) - t) * block_floats(&r->c->plan, r->batch);
}

/* Block buffer b in a task's block area at r's batch. */
static float *block_buffer(const run *r, float *area, const buffer *b) {
  return area + b->off_static * plan_block_rows(&r->c->plan, r->batch);
}

/* Where a buffer is (a block buffer: task 0's, for a batch of one block). */
static float *buffer_at(const run *r, const buffer *b) {
  switch (b->kind) {
  case BUF_INPUT: return (float *)r->input;
  case BUF_OUTPUT: return r->output;
  case BUF_SCRATCH: break;
  case BUF_BLOCK: return block_buffer(r, block_area(r, 0), b);
  }
  return r->scratch + b->off_dyn * r->batch + b->off_static;
}

/* Task t of n runs kernel i on its share of the batch rows, [lo, hi), or
 * of a linear's weight panels with every row. */
typedef struct slice_job {
  const run *r;
  int i;
  const float *in[GROUP_MAX_INS];
  float *y;
  int64_t n;
  bool by_panels;
} slice_job;

static void run_slice(void *arg, int64_t t) {
  const slice_job *j = arg;
  const compiled *c = j->r->c;
  const slicing *sl = &c->slicing[j->i];
  const float *const *params = (const float *const *)j->r->k->params;
  int64_t panels = c->panels[j->i], batch = j->r->batch;
  uint64_t seed = j->r->k->seed;
  if (j->by_panels) {
    int64_t p0 = panels * t / j->n, p1 = panels * (t + 1) / j->n;
    if (p1 > p0) c->steps[j->i](j->in, j->y, params, batch, seed, 0, p0, p1);
    return;
  }
  int64_t lo = batch * t / j->n, hi = batch * (t + 1) / j->n;
  const float *in[GROUP_MAX_INS];
  for (int q = 0; q < c->plan.steps[j->i].grp.nins; q++) in[q] = j->in[q] + lo * sl->row_in[q];
  if (hi > lo) c->steps[j->i](in, j->y + lo * sl->row_out, params, hi - lo, seed, lo, 0, panels);
}

/* Kernel i on the whole batch, in slices through the parallel-for when it
 * may be split: along the batch, or for few rows along a linear's panels. */
static void run_step(const run *r, int i) {
  const actjit_kernel *k = r->k;
  const compiled *c = r->c;
  const step *s = &c->plan.steps[i];
  int64_t batch = r->batch;
  bool by_panels = k->pfor && c->panels[i] > 1 && batch >= 1 && batch < (int64_t)CG_SPLIT_ROWS_MIN * k->tasks;
  /* At least one task, even for an empty batch: run_slice divides by the count. */
  int64_t tasks = by_panels                                  ? (k->tasks < c->panels[i] ? k->tasks : c->panels[i])
                  : c->slicing[i].by_rows && k->pfor && batch > 1 ? (k->tasks < batch ? k->tasks : batch)
                                                             : 1;
  slice_job j = {.r = r, .i = i, .y = buffer_at(r, &s->out), .n = tasks, .by_panels = by_panels};
  for (int q = 0; q < s->grp.nins; q++) j.in[q] = buffer_at(r, &s->in[q]);
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
  const run *r;
  const block_run *blocks;
  int64_t n;
  double *seconds;
} block_job;

static void run_blocks(void *arg, int64_t t) {
  const block_job *j = arg;
  const run *r = j->r;
  const compiled *c = r->c;
  float *area = block_area(r, t);
  int64_t lo = r->batch * t / j->n, hi = r->batch * (t + 1) / j->n, block_rows = c->plan.block_rows;
  for (int64_t row = lo; row < hi; row += block_rows) {
    int64_t rows = hi - row < block_rows ? hi - row : block_rows;
    for (int i = j->blocks->first; i <= j->blocks->last; i++) {
      const step *s = &c->plan.steps[i];
      const slicing *sl = &c->slicing[i];
      const float *in[GROUP_MAX_INS];
      for (int q = 0; q < s->grp.nins; q++)
        in[q] = s->in[q].kind == BUF_BLOCK ? block_buffer(r, area, &s->in[q]) : buffer_at(r, &s->in[q]) + row * sl->row_in[q];
      float *y = s->out.kind == BUF_BLOCK ? block_buffer(r, area, &s->out) : buffer_at(r, &s->out) + row * sl->row_out;
      double t0 = j->seconds && !t ? now() : 0;
      c->steps[i](in, y, (const float *const *)r->k->params, rows, r->k->seed, row, 0, c->panels[i]);
      if (j->seconds && !t) j->seconds[i] += now() - t0;
    }
  }
}

/* Every kernel of the plan, depth-first runs in blocks; seconds (or NULL):
 * each kernel's time.  A batch of one block runs layer by layer (its block
 * buffers hold it), its kernels split as they would be without the run. */
static void run_plan(const run *r, double *seconds) {
  const actjit_kernel *k = r->k;
  const plan *p = &r->c->plan;
  for (int i = 0, q = 0; i < p->n;) {
    while (q < p->nruns && p->runs[q].last < i) q++;
    if (q < p->nruns && p->runs[q].first == i && r->batch > p->block_rows) {
      const block_run *b = &p->runs[q++];
      int64_t blocks = (r->batch + p->block_rows - 1) / p->block_rows;
      block_job j = {r, b, k->pfor && blocks > 1 ? (k->tasks < blocks ? k->tasks : blocks) : 1, seconds};
      for (int s = b->first; seconds && s <= b->last; s++) seconds[s] = 0;
      if (j.n > 1) k->pfor(k->pfor_user, j.n, run_blocks, &j);
      else run_blocks(&j, 0);
      i = b->last + 1;
      continue;
    }
    double t0 = seconds ? now() : 0;
    run_step(r, i);
    if (seconds) seconds[i] = now() - t0;
    i++;
  }
}

/* The plan on the caller's buffers with this scratch; seconds as run_plan's. */
static void run_with(const actjit_kernel *k, const float *input, int64_t batch, float *output, float *scratch,
                     double *seconds) {
  run r = {k, k->c, scratch, input, output, batch};
  /* (the entry runs the whole plan in one call, on this thread) */
  if (k->pfor || seconds) run_plan(&r, seconds);
  else k->c->entry(input, output, (const float *const *)k->params, scratch, batch, k->seed);
}

actjit_status actjit_kernel_run_profiled(actjit_kernel *k, const float *input, int64_t batch, float *output,
                                         double *seconds) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  if (!seconds) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_run_profiled: seconds is NULL");
  actjit_status st = check_run(k, k->ctx, input, &batch, output);
  if (!st) st = ensure_scratch(k, batch);
  if (!st) run_with(k, input, batch, output, k->scratch, seconds);
  return st;
}

actjit_status actjit_kernel_run(actjit_kernel *k, const float *input, int64_t batch, float *output) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  actjit_status st = check_run(k, k->ctx, input, &batch, output);
  if (!st) st = ensure_scratch(k, batch);
  if (!st) run_with(k, input, batch, output, k->scratch, NULL);
  return st;
}

/* The caller's scratch for a run at this batch, the message (if any) to
 * ctx: NULL for none. */
static actjit_status check_scratch(const actjit_kernel *k, actjit_context *ctx, int64_t batch, const void *scratch) {
  int64_t n = scratch_floats(k, batch);
  if (n < 0) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "batch %lld is too large", (long long)batch);
  if (!scratch && n)
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_run_scratch: scratch is NULL, batch %lld needs %zu bytes",
                    (long long)batch, (size_t)n * sizeof(float));
  if ((uintptr_t)scratch % sizeof(float))
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_run_scratch: scratch at %p is not aligned to a float",
                    scratch);
  return ACTJIT_OK;
}

/* The messages of failed actjit_kernel_run_scratch calls, which may run at
 * once on one kernel, go to its context one at a time. */
static pthread_mutex_t run_error_lock = PTHREAD_MUTEX_INITIALIZER;

actjit_status actjit_kernel_run_scratch(const actjit_kernel *k, const float *input, int64_t batch, float *output,
                                        void *scratch) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  actjit_status st = check_run(k, NULL, input, &batch, output);
  if (!st) st = check_scratch(k, NULL, batch, scratch);
  if (st) {
    pthread_mutex_lock(&run_error_lock);
    if (!check_run(k, k->ctx, input, &batch, output)) check_scratch(k, k->ctx, batch, scratch);
    pthread_mutex_unlock(&run_error_lock);
    return st;
  }
  run_with(k, input, batch, output, scratch, NULL);
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
    if (i >= 0 && i < k->c->plan.n)
      sb_printf(&sb, "%c " CG_KERNEL_FMT ": %s\n", assembly ? '#' : ';', i, k->c->step_names[i]);
    sb_printf(&sb, "%.*s", (int)len, line);
    line += len;
  }
  free(text);
  if (sb.failed || !sb_printf(&sb, "%s", "")) {
    free(sb.buf);
    return nomem(k->ctx);
  }
  *out = sb.buf;
  return ACTJIT_OK;
}

/* The graph after the passes and its plan, for a dump, reporting to the
 * kernel's context: a copy of c's graph (the plan is c's), or, for code
 * read from the disk cache, c's source taken through the passes again to
 * its plan (*p): the same graph, passes and plan as the compile, so codegen
 * and LLVM give the same code. */
static actjit_status dump_graph(actjit_kernel *k, actjit_graph **g, plan *p) {
  const compiled *c = k->c;
  if (c->g) {
    if (!(*g = ir_clone(c->g))) return nomem(k->ctx);
    (*g)->ctx = k->ctx;
    return ACTJIT_OK;
  }
  strbuf passes = {0};
  actjit_status st = actjit_graph_parse(k->ctx, c->source, strlen(c->source), *c->file ? c->file : NULL, g);
  if (!st) st = actjit_graph_verify(*g);
  if (!st) st = lower(*g, &c->opts, &c->target, p, &passes);
  free(passes.buf);
  return st;
}

/* An LLVM dump: the module rebuilt, as the compile built it, in a session
 * of its own. */
static actjit_status dump_llvm(actjit_kernel *k, jit_stage stage, char **text) {
  const compiled *c = k->c;
  jit_session s = {0};
  jit_parts parts = {0};
  char *raw;
  actjit_graph *g = NULL;
  plan p = {0};
  actjit_status st = dump_graph(k, &g, &p);
  if (!st) st = jit_session_init(k->ctx, &s, c->opts.opt_level);
  /* in parts if the JIT's code was */
  if (!st) st = build_parts(g, c->g ? &c->plan : &p, &c->target, &c->opts, c->jit.objects > 1, true, &parts);
  if (!st) st = jit_parts_dump(k->ctx, &s, &c->target, &parts, stage, &raw);
  jit_parts_free(&parts);
  jit_session_free(&s);
  plan_free(&p);
  actjit_graph_destroy(g);
  return st ? st : annotate(k, raw, stage == JIT_ASM, text);
}

static actjit_status copy_text(actjit_kernel *k, const char *s, char **text) {
  *text = aj_strndup(s, strlen(s));
  return *text ? ACTJIT_OK : nomem(k->ctx);
}

actjit_status actjit_kernel_dump(actjit_kernel *k, actjit_dump_kind kind, char **text) {
  if (!k) return ACTJIT_ERR_ARGUMENT;
  if (!text) return aj_error(k->ctx, ACTJIT_ERR_ARGUMENT, "actjit_kernel_dump: text is NULL");
  switch (kind) {
  case ACTJIT_DUMP_IR: return copy_text(k, k->c->ir_dump, text);
  case ACTJIT_DUMP_PASSES: return copy_text(k, k->c->passes_dump, text);
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

const char *actjit_kernel_cpu(const actjit_kernel *k) { return k ? k->c->target.cpu : NULL; }
int actjit_kernel_vector_width(const actjit_kernel *k) { return k ? k->c->target.width : 0; }
