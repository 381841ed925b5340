#include "reference.h"

#include "philox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float ref_eltwise(op_id op, const double *attr, float x, float w) {
  double v = x;
  switch (op) {
  case OP_RELU: return x < 0 ? 0.0f : x; /* NaN and -0 pass, as in PyTorch */
  case OP_SIGMOID: /* PyTorch's 1/(1 + exp(-x)) in float: 0 once exp(-x) overflows */
    return isinf((float)exp(-v)) && v < 0 ? 0.0f : (float)(1.0 / (1.0 + exp(-v)));
  case OP_TANH: return (float)tanh(v);
  case OP_LEAKY_RELU: return x > 0 ? x : (float)(v * (float)attr[0]);
  case OP_PRELU: return x > 0 ? x : (float)(v * w);
  case OP_DROPOUT: /* inference; training-mode dropout is ref_dropout */
  case OP_IDENTITY: return x;
  case OP_INPUT: case OP_PARAM: case OP_LINEAR: case OP_SOFTMAX: case OP_FLATTEN:
  case OP_COUNT: break;
  }
  return NAN;
}

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

static void ref_softmax(const node *nd, const float *x, float *y, int64_t batch) {
  int axis = (int)(nd->attr[0] < 0 ? nd->attr[0] + nd->shape.rank : nd->attr[0]);
  int64_t outer, len, inner;
  split_axis(&nd->shape, axis, batch, &outer, &len, &inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const float *xr = x + o * len * inner + i;
      float *yr = y + o * len * inner + i;
      double m = -INFINITY, sum = 0;
      /* A NaN anywhere makes the sum, so the whole row, NaN: as PyTorch. */
      for (int64_t k = 0; k < len; k++) m = fmax(m, xr[k * inner]);
      for (int64_t k = 0; k < len; k++) sum += exp((double)xr[k * inner] - m);
      for (int64_t k = 0; k < len; k++) yr[k * inner] = (float)(exp((double)xr[k * inner] - m) / sum);
    }
}

/* Training-mode dropout: element i's mask from (seed, op name, i). */
static void ref_dropout(const node *nd, const float *x, float *y, int64_t batch, uint64_t seed) {
  int64_t n = ext_val(shape_numel(&nd->shape), batch);
  uint64_t op = dropout_op_id(nd->name);
  for (int64_t i = 0; i < n; i++) y[i] = dropout_apply(x[i], nd->attr[0], seed, op, (uint64_t)i);
}

static void ref_eltwise_op(const actjit_graph *g, const node *nd, const float *const *pv,
                           const float *x, float *y, int64_t batch) {
  int64_t n = ext_val(shape_numel(&nd->shape), batch);
  const float *w = nd->op == OP_PRELU ? pv[nd->args[1]] : NULL;
  int64_t channels = w ? g->nodes[nd->args[1]].shape.d[0] : 1;
  int64_t inner = ext_val(shape_span(&nd->shape, 2, nd->shape.rank), batch);
  bool per_channel = channels > 1;
  for (int64_t i = 0; i < n; i++) {
    float wi = w ? w[per_channel ? (i / (inner ? inner : 1)) % channels : 0] : 0.0f;
    y[i] = ref_eltwise(nd->op, nd->attr, x[i], wi);
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
    const float *x = pv[nd->args[0]];
    if (op_table[nd->op].kind == K_VIEW) { pv[i] = x; continue; }
    size_t n = (size_t)ext_val(shape_numel(&nd->shape), batch);
    float *y = i == g->output ? out : (own[i] = malloc((n ? n : 1) * sizeof(float)));
    if (!y) { st = ACTJIT_ERR_NOMEM; break; }
    switch (op_table[nd->op].kind) {
    case K_LINEAR: ref_linear(g, nd, pv, x, y, batch); break;
    case K_SOFTMAX: ref_softmax(nd, x, y, batch); break;
    case K_ELTWISE:
      if (nd->op == OP_DROPOUT && training) ref_dropout(nd, x, y, batch, o->seed);
      else ref_eltwise_op(g, nd, pv, x, y, batch);
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
