/* The oneDNN peer (peer_onednn.h), through oneDNN's C API. */
#include "cli/peer_onednn.h"

#include <stdio.h>

#ifndef ACTJIT_HAVE_ONEDNN

const char *onednn_version(void) { return NULL; }

onednn_run *onednn_create(const actjit_graph *g, const float *const *params, int64_t batch, int threads, bool training,
                          const float *in, float *out, char *why, size_t len) {
  snprintf(why, len, "no oneDNN in this build");
  return NULL;
}

void onednn_execute(onednn_run *r) {}
void onednn_destroy(onednn_run *r) {}

#else

#include <dlfcn.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <pthread.h>
#include <stdlib.h>

#include "ir/ir.h"

/* oneDNN is opened when the benchmark first asks for it, not linked:
 * loading it, with its OpenMP and OpenCL, took 10 ms of every actjit
 * command's start-up.  The functions the peer calls, from the library of
 * the soname it was built against (ACTJIT_DNNL_SONAME); OpenMP's thread
 * count from the OpenMP runtime it brings. */
#define DNNL_FUNCTIONS(X)                                                                                              \
  X(dnnl_version) X(dnnl_status2str) X(dnnl_engine_create) X(dnnl_engine_destroy) X(dnnl_stream_create)               \
  X(dnnl_stream_wait) X(dnnl_stream_destroy) X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_create)                     \
  X(dnnl_memory_destroy) X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_query_md) X(dnnl_primitive_desc_destroy) \
  X(dnnl_primitive_create) X(dnnl_primitive_execute) X(dnnl_primitive_destroy) X(dnnl_primitive_attr_create)          \
  X(dnnl_primitive_attr_set_post_ops) X(dnnl_primitive_attr_destroy) X(dnnl_post_ops_create)                          \
  X(dnnl_post_ops_append_eltwise) X(dnnl_post_ops_destroy) X(dnnl_inner_product_forward_desc_init)                    \
  X(dnnl_eltwise_forward_desc_init) X(dnnl_softmax_v2_forward_desc_init) X(dnnl_reorder_primitive_desc_create)

static struct {
#define X(f) __typeof__(f) *f;
  DNNL_FUNCTIONS(X)
#undef X
  void (*omp_set_num_threads)(int);
  char error[256]; /* why it did not load; "" when it did */
} lib;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_open(void) {
  void *h = dlopen(ACTJIT_DNNL_SONAME, RTLD_NOW | RTLD_LOCAL);
  const char *missing = NULL;
#define X(f) if (h && !missing && !(*(void **)&lib.f = dlsym(h, #f))) missing = #f;
  DNNL_FUNCTIONS(X)
  X(omp_set_num_threads)
#undef X
  if (!h) snprintf(lib.error, sizeof lib.error, "cannot load oneDNN: %s", dlerror());
  else if (missing) snprintf(lib.error, sizeof lib.error, "cannot load oneDNN: %s has no %s", ACTJIT_DNNL_SONAME, missing);
}

/* Whether oneDNN is loaded; if not, why in why[len] (if why). */
static bool lib_loaded(char *why, size_t len) {
  pthread_once(&lib_once, lib_open);
  if (*lib.error && why) snprintf(why, len, "%s", lib.error);
  return !*lib.error;
}

const char *onednn_version(void) {
  static char v[32];
  if (!lib_loaded(NULL, 0)) return NULL;
  const dnnl_version_t *d = lib.dnnl_version();
  snprintf(v, sizeof v, "oneDNN %d.%d.%d", d->major, d->minor, d->patch);
  return v;
}

enum { MAX_STEPS = 64, MAX_ALGS = 3, MAX_POST_OPS = 16 };

typedef struct step {
  dnnl_primitive_t prim;
  dnnl_exec_arg_t args[4];
  int nargs;
} step;

struct onednn_run {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  step steps[MAX_STEPS];
  int nsteps;
  dnnl_memory_t mems[4 * MAX_STEPS + 1]; /* every memory object, destroyed with the run */
  int nmems;
};

typedef struct alg {
  dnnl_alg_kind_t kind;
  float alpha, beta;
} alg;

/* The eltwise algorithms computing nd, applied in order: how many (0 for an
 * identity), or -1 if oneDNN has none for it. */
static int eltwise_algs(const node *nd, bool training, alg a[MAX_ALGS]) {
  float p = (float)nd->attr[0], q = (float)nd->attr[1];
  switch (nd->op) {
  case OP_IDENTITY: return 0;
  case OP_DROPOUT: return training ? -1 : 0;
  case OP_RELU: a[0] = (alg){dnnl_eltwise_relu, 0, 0}; return 1;
  case OP_LEAKY_RELU: a[0] = (alg){dnnl_eltwise_relu, p, 0}; return 1;
  case OP_RRELU: a[0] = (alg){dnnl_eltwise_relu, (p + q) / 2, 0}; return training ? -1 : 1;
  case OP_SIGMOID: a[0] = (alg){dnnl_eltwise_logistic, 0, 0}; return 1;
  case OP_TANH: a[0] = (alg){dnnl_eltwise_tanh, 0, 0}; return 1;
  case OP_ELU: a[0] = (alg){dnnl_eltwise_elu, p, 0}; return 1;
  case OP_SELU:
    a[0] = (alg){dnnl_eltwise_elu, SELU_ALPHA_F, 0}, a[1] = (alg){dnnl_eltwise_linear, SELU_SCALE_F, 0};
    return 2;
  case OP_CELU: /* alpha * elu(x / alpha) */
    a[0] = (alg){dnnl_eltwise_linear, 1 / p, 0}, a[1] = (alg){dnnl_eltwise_elu, 1, 0};
    a[2] = (alg){dnnl_eltwise_linear, p, 0};
    return 3;
  case OP_GELU: a[0] = (alg){p != 0 ? dnnl_eltwise_gelu_tanh : dnnl_eltwise_gelu_erf, 0, 0}; return 1;
  case OP_SILU: a[0] = (alg){dnnl_eltwise_swish, 1, 0}; return 1;
  case OP_MISH: a[0] = (alg){dnnl_eltwise_mish, 0, 0}; return 1;
  case OP_EXP: a[0] = (alg){dnnl_eltwise_exp, 0, 0}; return 1;
  case OP_ABS: a[0] = (alg){dnnl_eltwise_abs, 0, 0}; return 1;
  case OP_SQRT: a[0] = (alg){dnnl_eltwise_sqrt, 0, 0}; return 1;
  case OP_LOG: a[0] = (alg){dnnl_eltwise_log, 0, 0}; return 1;
  case OP_LOGSIGMOID: a[0] = (alg){dnnl_eltwise_logsigmoid, 0, 0}; return 1;
  case OP_NEG: a[0] = (alg){dnnl_eltwise_linear, -1, 0}; return 1;
  case OP_HARDSWISH: a[0] = (alg){dnnl_eltwise_hardswish, 0, 0}; return 1;
  case OP_HARDSIGMOID: /* relu6(x + 3) / 6 */
    a[0] = (alg){dnnl_eltwise_linear, 1.0f / 6, 0.5f}, a[1] = (alg){dnnl_eltwise_clip_v2, 0, 1};
    return 2;
  case OP_RELU6: a[0] = (alg){dnnl_eltwise_clip_v2, 0, 6}; return 1;
  case OP_HARDTANH: a[0] = (alg){dnnl_eltwise_clip_v2, p, q}; return 1;
  case OP_CLIP: a[0] = (alg){dnnl_eltwise_clip_v2, isnan(p) ? -INFINITY : p, isnan(q) ? INFINITY : q}; return 1;
  case OP_SOFTPLUS: /* log(1 + exp(beta x)) / beta; PyTorch's threshold moves it by < 1e-8 */
    if (p == 1) {
      a[0] = (alg){dnnl_eltwise_soft_relu, 0, 0};
      return 1;
    }
    a[0] = (alg){dnnl_eltwise_linear, p, 0}, a[1] = (alg){dnnl_eltwise_soft_relu, 0, 0};
    a[2] = (alg){dnnl_eltwise_linear, 1 / p, 0};
    return 3;
  default: return -1;
  }
}

/* What one primitive computes: a linear with the eltwise ops after it, an
 * eltwise op, or a softmax. */
typedef struct stage {
  const node *nd;
  alg algs[MAX_POST_OPS]; /* a linear's post-ops, else the one eltwise op */
  int nalgs;
} stage;

/* Whether n more algorithms fit among the post-ops of linear stage s.  Two
 * of one kind must have the same alpha and beta: oneDNN 2.6's inner product
 * (brgemm, AVX-512) applies one kind's alpha and beta to all its post-ops
 * (eltwise_linear 2 then 3 scale by 4, not 6; celu, which takes linear, elu,
 * linear, was 0.56 off). */
static bool fits_post_ops(const stage *s, const alg *a, int n) {
  if (s->nalgs + n > MAX_POST_OPS) return false;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < s->nalgs + i; j++) {
      const alg *b = j < s->nalgs ? &s->algs[j] : &a[j - s->nalgs];
      if (b->kind == a[i].kind && (b->alpha != a[i].alpha || b->beta != a[i].beta)) return false;
    }
  return true;
}

static int param_index(const actjit_graph *g, int v) {
  int k = 0;
  for (int i = 0; i < v; i++) k += g->nodes[i].op == OP_PARAM;
  return k;
}

/* The graph as stages, or false with the reason. */
static bool plan_stages(const actjit_graph *g, bool training, stage *st, int *nst, char *why, size_t len) {
  const node *in = &g->nodes[g->input];
  if (in->shape.rank != 2 || !in->shape.dyn || in->shape.d[0] != 1) {
    snprintf(why, len, "the oneDNN runner takes an input of [N, features]");
    return false;
  }
  int cur = g->input;
  *nst = 0;
  for (int i = 0; i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (op_table[nd->op].kind == K_SOURCE) continue;
    if (ir_uses(g, cur) != 1 || nd->args[0] != cur) {
      if (ir_uses(g, cur) != 1)
        snprintf(why, len, "the oneDNN runner takes a chain of ops: %%%s has %d uses", g->nodes[cur].name, ir_uses(g, cur));
      else
        snprintf(why, len, "the oneDNN runner takes a chain of ops: %s %%%s does not take %%%s", op_table[nd->op].name,
                 nd->name, g->nodes[cur].name);
      return false;
    }
    cur = i;
    alg a[MAX_ALGS];
    int n = op_table[nd->op].kind == K_ELTWISE ? eltwise_algs(nd, training, a) : 0;
    bool softmax = (nd->op == OP_SOFTMAX || nd->op == OP_LOG_SOFTMAX) && dim_index(nd->attr[0], 2) == 1;
    bool linear = nd->op == OP_LINEAR && g->nodes[nd->args[1]].op == OP_PARAM &&
                  (nd->nargs < 3 || g->nodes[nd->args[2]].op == OP_PARAM);
    if (n < 0 || (op_table[nd->op].kind != K_ELTWISE && !softmax && !linear)) {
      snprintf(why, len, "oneDNN has no %s%s (%%%s)", op_table[nd->op].name,
               nd->op == OP_DROPOUT || nd->op == OP_RRELU ? " in training mode" : "", nd->name);
      return false;
    }
    stage *last = *nst ? &st[*nst - 1] : NULL;
    if (n && last && last->nd->op == OP_LINEAR && fits_post_ops(last, a, n)) {
      for (int k = 0; k < n; k++) last->algs[last->nalgs++] = a[k];
    } else if (linear || softmax) {
      st[(*nst)++] = (stage){.nd = nd};
    } else {
      for (int k = 0; k < n; k++) st[(*nst)++] = (stage){.nd = nd, .algs = {a[k]}, .nalgs = 1};
    }
    if (*nst > MAX_STEPS - MAX_ALGS) {
      snprintf(why, len, "more than %d oneDNN primitives", MAX_STEPS - MAX_ALGS);
      return false;
    }
  }
  if (!*nst) snprintf(why, len, "nothing for oneDNN to compute");
  return *nst > 0;
}

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    dnnl_status_t s_ = (call);                                                                                         \
    if (s_ != dnnl_success) {                                                                                          \
      snprintf(why, len, "oneDNN: %s: %s", #call, lib.dnnl_status2str(s_));                                                \
      goto fail;                                                                                                       \
    }                                                                                                                  \
  } while (0)

static dnnl_memory_desc_t plain(int rank, int64_t d0, int64_t d1) {
  dnnl_memory_desc_t md;
  lib.dnnl_memory_desc_init_by_tag(&md, rank, (dnnl_dims_t){d0, d1}, dnnl_f32, rank == 1 ? dnnl_a : dnnl_ab);
  return md;
}

/* A memory object of run r over data (DNNL_MEMORY_ALLOCATE: its own). */
static dnnl_memory_t memory(onednn_run *r, const dnnl_memory_desc_t *md, const void *data) {
  dnnl_memory_t m = NULL;
  if (lib.dnnl_memory_create(&m, md, r->engine, (void *)data) == dnnl_success) r->mems[r->nmems++] = m;
  return m;
}

/* Appends the primitive of pd, reading src and writing dst. */
static dnnl_status_t add_step(onednn_run *r, dnnl_primitive_desc_t pd, dnnl_memory_t src, dnnl_memory_t dst) {
  step *s = &r->steps[r->nsteps];
  dnnl_status_t st = lib.dnnl_primitive_create(&s->prim, pd);
  if (st != dnnl_success) return st;
  r->nsteps++;
  s->args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, src};
  s->args[1] = (dnnl_exec_arg_t){DNNL_ARG_DST, dst};
  s->nargs = 2;
  return dnnl_success;
}

/* The inner product of linear stage s: weights reordered once into the
 * primitive's layout. */
static dnnl_status_t add_linear(onednn_run *r, const actjit_graph *g, const stage *s, const float *const *params,
                                int64_t batch, dnnl_memory_t src, dnnl_memory_t dst) {
  const node *nd = s->nd;
  int64_t in_f = g->nodes[nd->args[0]].shape.d[1], out_f = nd->shape.d[1];
  dnnl_memory_desc_t src_md = plain(2, batch, in_f), dst_md = plain(2, batch, out_f), w_user = plain(2, out_f, in_f);
  dnnl_memory_desc_t b_md = plain(1, out_f, 0), w_any;
  lib.dnnl_memory_desc_init_by_tag(&w_any, 2, (dnnl_dims_t){out_f, in_f}, dnnl_f32, dnnl_format_tag_any);
  dnnl_inner_product_desc_t d;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_primitive_desc_t pd = NULL, rpd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_status_t st = lib.dnnl_inner_product_forward_desc_init(&d, dnnl_forward_inference, &src_md, &w_any,
                                                          nd->nargs == 3 ? &b_md : NULL, &dst_md);
  if (!st) st = lib.dnnl_primitive_attr_create(&attr);
  if (!st) st = lib.dnnl_post_ops_create(&po);
  for (int k = 0; !st && k < s->nalgs; k++)
    st = lib.dnnl_post_ops_append_eltwise(po, 1.0f, s->algs[k].kind, s->algs[k].alpha, s->algs[k].beta);
  if (!st) st = lib.dnnl_primitive_attr_set_post_ops(attr, po);
  if (!st) st = lib.dnnl_primitive_desc_create(&pd, &d, attr, r->engine, NULL);
  if (!st) st = add_step(r, pd, src, dst);
  dnnl_memory_t w_src = NULL, w = NULL;
  if (!st) {
    const dnnl_memory_desc_t *w_md = lib.dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    w_src = memory(r, &w_user, params[param_index(g, nd->args[1])]);
    w = memory(r, w_md, DNNL_MEMORY_ALLOCATE);
    st = w_src && w ? lib.dnnl_reorder_primitive_desc_create(&rpd, &w_user, r->engine, w_md, r->engine, NULL)
                    : dnnl_out_of_memory;
  }
  if (!st) st = lib.dnnl_primitive_create(&reorder, rpd);
  if (!st) {
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, w_src}, {DNNL_ARG_TO, w}};
    st = lib.dnnl_primitive_execute(reorder, r->stream, 2, args);
  }
  if (!st) st = lib.dnnl_stream_wait(r->stream);
  if (!st) {
    step *s_ip = &r->steps[r->nsteps - 1];
    s_ip->args[s_ip->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, w};
    if (nd->nargs == 3) {
      dnnl_memory_t b = memory(r, &b_md, params[param_index(g, nd->args[2])]);
      if (b) s_ip->args[s_ip->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, b};
      else st = dnnl_out_of_memory;
    }
  }
  if (reorder) lib.dnnl_primitive_destroy(reorder);
  if (rpd) lib.dnnl_primitive_desc_destroy(rpd);
  if (pd) lib.dnnl_primitive_desc_destroy(pd);
  if (po) lib.dnnl_post_ops_destroy(po);
  if (attr) lib.dnnl_primitive_attr_destroy(attr);
  return st;
}

onednn_run *onednn_create(const actjit_graph *g, const float *const *params, int64_t batch, int threads, bool training,
                          const float *in, float *out, char *why, size_t len) {
  stage st[MAX_STEPS];
  int nst;
  if (!lib_loaded(why, len) || !plan_stages(g, training, st, &nst, why, len)) return NULL;
  onednn_run *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(why, len, "out of memory");
    return NULL;
  }
  lib.omp_set_num_threads(threads);
  CHECK(lib.dnnl_engine_create(&r->engine, dnnl_cpu, 0));
  CHECK(lib.dnnl_stream_create(&r->stream, r->engine, dnnl_stream_default_flags));
  /* Linears write a buffer of their own, or the output when only
   * eltwise ops and softmaxes follow; those run in place but on the input. */
  int64_t cols = g->nodes[g->input].shape.d[1];
  dnnl_memory_desc_t md = plain(2, batch, cols);
  dnnl_memory_t cur = memory(r, &md, in);
  bool on_input = true;
  for (int k = 0; k < nst; k++) {
    const node *nd = st[k].nd;
    bool rest_in_place = true;
    for (int j = k + 1; j < nst; j++) rest_in_place &= st[j].nd->op != OP_LINEAR;
    bool in_place = nd->op != OP_LINEAR && !on_input;
    cols = nd->shape.d[1];
    md = plain(2, batch, cols);
    dnnl_memory_t dst = in_place ? cur : memory(r, &md, rest_in_place ? out : DNNL_MEMORY_ALLOCATE);
    if (!cur || !dst) CHECK(dnnl_out_of_memory);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_success;
    if (nd->op == OP_LINEAR) {
      s = add_linear(r, g, &st[k], params, batch, cur, dst);
    } else if (op_table[nd->op].kind == K_SOFTMAX) {
      dnnl_softmax_v2_desc_t d;
      s = lib.dnnl_softmax_v2_forward_desc_init(&d, dnnl_forward_inference,
                                            nd->op == OP_SOFTMAX ? dnnl_softmax_accurate : dnnl_softmax_log, &md, &md, 1);
      if (!s) s = lib.dnnl_primitive_desc_create(&pd, &d, NULL, r->engine, NULL);
    } else {
      dnnl_eltwise_desc_t d;
      s = lib.dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, st[k].algs[0].kind, &md, st[k].algs[0].alpha,
                                         st[k].algs[0].beta);
      if (!s) s = lib.dnnl_primitive_desc_create(&pd, &d, NULL, r->engine, NULL);
    }
    if (pd) {
      s = add_step(r, pd, cur, dst);
      lib.dnnl_primitive_desc_destroy(pd);
    }
    if (s != dnnl_success) {
      snprintf(why, len, "oneDNN cannot make the primitive of %s %%%s: %s", op_table[nd->op].name, nd->name,
               lib.dnnl_status2str(s));
      goto fail;
    }
    cur = dst, on_input = false;
  }
  return r;
fail:
  onednn_destroy(r);
  return NULL;
}

void onednn_execute(onednn_run *r) {
  for (int k = 0; k < r->nsteps; k++) lib.dnnl_primitive_execute(r->steps[k].prim, r->stream, r->steps[k].nargs, r->steps[k].args);
  lib.dnnl_stream_wait(r->stream);
}

void onednn_destroy(onednn_run *r) {
  if (!r) return;
  for (int k = 0; k < r->nsteps; k++) lib.dnnl_primitive_destroy(r->steps[k].prim);
  for (int k = 0; k < r->nmems; k++) lib.dnnl_memory_destroy(r->mems[k]);
  if (r->stream) lib.dnnl_stream_destroy(r->stream);
  if (r->engine) lib.dnnl_engine_destroy(r->engine);
  free(r);
}

#endif
