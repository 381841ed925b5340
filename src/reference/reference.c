/* The scalar reference evaluator: each op of the graph in turn, its
 * elements by the op's scalar definition (ir/scalar.c). */
#include "reference/reference.h"

#include "ir/philox.h"
#include "ir/scalar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t ext_val(extent e, int64_t batch) { return e.dyn ? e.mul * batch : e.mul; }

static void ref_linear(const actjit_graph *g, const node *nd, const float *const *pv,
                       const float *x, float *y, int64_t batch) {
  const shape *ws = &g->nodes[nd->args[1]].shape;
  int64_t out = ws->d[0], in = ws->d[1];
  int64_t rows = ext_val(shape_numel(&nd->shape), batch) / (out ? out : 1);
  if (!out) return;
  const float *w = pv[nd->args[1]], *b = nd->nargs == 3 ? pv[nd->args[2]] : NULL;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < out; o++) {
      double acc = b ? b[o] : 0.0;
      for (int64_t i = 0; i < in; i++) acc += (double)x[r * in + i] * w[o * in + i];
      y[r * out + o] = (float)acc;
    }
}

/* Splits a shape around axis: outer × axis × inner. */
static void split_axis(const shape *s, int axis, int64_t batch, int64_t *outer,
                       int64_t *len, int64_t *inner) {
  *outer = ext_val(shape_span(s, 0, axis), batch);
  *len = ext_val(shape_span(s, axis, axis + 1), batch);
  *inner = ext_val(shape_span(s, axis + 1, s->rank), batch);
}

/* glu: the dim split in halves a, b; y = a * sigmoid(b). */
static void ref_glu(const node *nd, const float *x, float *y, int64_t batch) {
  int axis = dim_index(nd->attr[0], nd->shape.rank);
  int64_t outer = ext_val(shape_span(&nd->shape, 0, axis), batch);
  int64_t half = ext_val(shape_span(&nd->shape, axis, nd->shape.rank), batch);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < half; i++)
      y[o * half + i] = (float)(x[o * 2 * half + i] * scalar_sigmoid(x[o * 2 * half + half + i]));
}

static void ref_softmax(const node *nd, const float *x, float *y, int64_t batch) {
  int axis = dim_index(nd->attr[0], nd->shape.rank);
  int64_t outer, len, inner;
  split_axis(&nd->shape, axis, batch, &outer, &len, &inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *xr = x + o * len * inner + i;
      float *yr = y + o * len * inner + i;
      double m = -INFINITY, sum = 0, sg = nd->op == OP_SOFTMIN ? -1 : 1;
      /* A NaN anywhere makes the sum, so the whole row, NaN: as PyTorch. */
      for (int64_t k = 0; k < len; k++) m = fmax(m, sg * xr[k * inner]);
      for (int64_t k = 0; k < len; k++) sum += exp(sg * xr[k * inner] - m);
      for (int64_t k = 0; k < len; k++) {
        double d = sg * xr[k * inner] - m;
        /* log_softmax: (x - max) - log(sum), in that order, as PyTorch */
        yr[k * inner] = (float)(nd->op == OP_LOG_SOFTMAX ? d - log(sum) : exp(d) / sum);
      }
    }
}

/* Training-mode dropout: element i's mask from (seed, op name, i). */
static void ref_dropout(const node *nd, const float *x, float *y, int64_t batch, uint64_t seed) {
  int64_t n = ext_val(shape_numel(&nd->shape), batch);
  uint64_t op = dropout_op_id(nd->name);
  for (int64_t i = 0; i < n; i++) y[i] = dropout_apply(x[i], nd->attr[0], seed, op, (uint64_t)i);
}

/* Extent of dim k of s at this batch. */
static int64_t dim_at(const shape *s, int k, int64_t batch) { return k == 0 && s->dyn ? s->d[0] * batch : s->d[k]; }

/* The offset in `in`, broadcast to `out` with trailing dims aligned (NumPy),
 * of out's element i. */
static int64_t broadcast_index(const shape *out, const shape *in, int64_t batch, int64_t i) {
  int64_t off = 0, stride = 1;
  for (int k = 1; k <= out->rank; k++) {
    int64_t od = dim_at(out, out->rank - k, batch), idx = od ? i % od : 0;
    i = od ? i / od : 0;
    if (k > in->rank) continue;
    int64_t id = dim_at(in, in->rank - k, batch);
    if (id != 1) off += idx * stride;
    stride *= id;
  }
  return off;
}

/* Row-major strides of s at this batch, in elements. */
static void strides_at(const shape *s, int64_t batch, int64_t *st) {
  int64_t n = 1;
  for (int k = s->rank - 1; k >= 0; n *= dim_at(s, k, batch), k--) st[k] = n;
}

/* transpose: y's element at index (i0, i1, ...) is x's at i_k along x's dim perm[k]. */
static void ref_transpose(const actjit_graph *g, const node *nd, const float *x, float *y, int64_t batch) {
  const shape *xs = &g->nodes[nd->args[0]].shape, *ys = &nd->shape;
  int64_t xst[ACTJIT_MAX_RANK], n = ext_val(shape_numel(ys), batch);
  strides_at(xs, batch, xst);
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0, rest = i;
    for (int k = ys->rank - 1; k >= 0; k--) {
      int64_t d = dim_at(ys, k, batch);
      off += rest % d * xst[dim_index(nd->list.v[k], xs->rank)];
      rest /= d;
    }
    y[i] = x[off];
  }
}

/* matmul: for each matrix of the result, a's and w's matrices at the same
 * index of the broadcast batch dims; float64 sums. */
static void ref_matmul(const actjit_graph *g, const node *nd, const float *const *pv, float *y, int64_t batch) {
  const shape *as = &g->nodes[nd->args[0]].shape, *ws = &g->nodes[nd->args[1]].shape, *ys = &nd->shape;
  const float *a = pv[nd->args[0]], *w = pv[nd->args[1]];
  int64_t m = ys->d[ys->rank - 2], p = ys->d[ys->rank - 1], k = as->d[as->rank - 1];
  /* the batch dims alone: each shape without its last two */
  shape ab = *as, wb = *ws, yb = *ys;
  ab.rank -= 2, wb.rank -= 2, yb.rank -= 2;
  int64_t mats = ext_val(shape_numel(&yb), batch);
  for (int64_t b = 0; b < mats; b++) {
    const float *am = a + broadcast_index(&yb, &ab, batch, b) * m * k, *wm = w + broadcast_index(&yb, &wb, batch, b) * k * p;
    for (int64_t r = 0; r < m; r++)
      for (int64_t c = 0; c < p; c++) {
        double acc = 0;
        for (int64_t j = 0; j < k; j++) acc += (double)am[r * k + j] * wm[j * p + c];
        y[(b * m + r) * p + c] = (float)acc;
      }
  }
}

static void ref_eltwise_op(const actjit_graph *g, const node *nd, const float *const *pv, float *y, int64_t batch) {
  int64_t n = ext_val(shape_numel(&nd->shape), batch);
  const float *x = pv[nd->args[0]];
  if (op_is_binary(nd->op)) {
    const shape *a = &g->nodes[nd->args[0]].shape, *b = &g->nodes[nd->args[1]].shape;
    const float *w = pv[nd->args[1]];
    for (int64_t i = 0; i < n; i++)
      y[i] = scalar_eltwise(nd->op, nd->attr, x[broadcast_index(&nd->shape, a, batch, i)],
                         w[broadcast_index(&nd->shape, b, batch, i)]);
    return;
  }
  /* prelu's weight: one, or one per channel of dim 1 */
  const float *w = nd->op == OP_PRELU ? pv[nd->args[1]] : NULL;
  int64_t channels = w ? g->nodes[nd->args[1]].shape.d[0] : 1;
  int64_t inner = ext_val(shape_span(&nd->shape, 2, nd->shape.rank), batch);
  bool per_channel = channels > 1;
  for (int64_t i = 0; i < n; i++) {
    float wi = w ? w[per_channel ? (i / (inner ? inner : 1)) % channels : 0] : 0.0f;
    y[i] = scalar_eltwise(nd->op, nd->attr, x[i], wi);
  }
}

actjit_status ref_run(const actjit_graph *g, const float *const *params,
                      const float *in, int64_t batch, float *out) {
  return ref_run_opts(g, params, in, batch, out, NULL);
}

actjit_status ref_run_opts(const actjit_graph *g, const float *const *params,
                           const float *in, int64_t batch, float *out,
                           const ref_options *o) {
  bool training = o && o->training;
  /* pv: data pointer of every value; params first. */
  const float **pv = calloc((size_t)g->n, sizeof *pv);
  float **own = calloc((size_t)g->n, sizeof *own);
  actjit_status st = pv && own ? ACTJIT_OK : ACTJIT_ERR_NOMEM;
  for (int i = 0, k = 0; !st && i < g->n; i++) {
    const node *nd = &g->nodes[i];
    if (nd->op == OP_PARAM) { pv[i] = params[k++]; continue; }
    if (nd->op == OP_INPUT) { pv[i] = in; continue; }
    if (nd->op == OP_CONST) { pv[i] = nd->data; continue; }
    const float *x = pv[nd->args[0]];
    if (op_table[nd->op].kind == K_VIEW) { pv[i] = x; continue; }
    size_t n = (size_t)ext_val(shape_numel(&nd->shape), batch);
    float *y = i == g->output ? out : (own[i] = malloc((n ? n : 1) * sizeof(float)));
    if (!y) { st = ACTJIT_ERR_NOMEM; break; }
    switch (op_table[nd->op].kind) {
    case K_LINEAR: ref_linear(g, nd, pv, x, y, batch); break;
    case K_SOFTMAX: ref_softmax(nd, x, y, batch); break;
    case K_GLU: ref_glu(nd, x, y, batch); break;
    case K_TRANSPOSE: ref_transpose(g, nd, x, y, batch); break;
    case K_MATMUL: ref_matmul(g, nd, pv, y, batch); break;
    case K_ELTWISE:
      if (nd->op == OP_DROPOUT && training) ref_dropout(nd, x, y, batch, o->seed);
      else ref_eltwise_op(g, nd, pv, y, batch);
      break;
    case K_SOURCE: case K_VIEW: break;
    }
    pv[i] = y;
  }
  /* A view as the output: copy it out. */
  if (!st && op_table[g->nodes[g->output].op].kind == K_VIEW)
    memcpy(out, pv[g->output], (size_t)ext_val(shape_numel(&g->nodes[g->output].shape), batch) * sizeof(float));
  for (int i = 0; own && i < g->n; i++) free(own[i]);
  free(own);
  free(pv);
  return st;
}
