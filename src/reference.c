#include "reference.h"

#include "philox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* PyTorch's elu kernel (see eltwise.c) in double: x > 0 ? x*pos : (e^y - 1)*neg
 * with y = x*in rounded to float as PyTorch forms it; + 0.0 gives +0 at -0. */
static float ref_elu(float x, float pos, float neg, float in) {
  if (x > 0) return x * pos;
  float y = x * in;
  return (float)((expm1((double)y) + 0.0) * neg);
}

/* 1/(1 + e^-v) with PyTorch's float overflow: 0 once e^-v is +Inf in float. */
static double ref_sigmoid(double v) {
  double e = exp(-v);
  return isinf((float)e) && v < 0 ? 0.0 : 1.0 / (1.0 + e);
}

/* x - tanh(x), by its series below 0.1 where the subtraction cancels. */
static double ref_tanhshrink(double a) {
  double t = a * a;
  if (fabs(a) < 0.1)
    return a * t * (1.0 / 3 + t * (-2.0 / 15 + t * (17.0 / 315 + t * (-62.0 / 2835 + t * (1382.0 / 155925)))));
  return a - tanh(a);
}

/* log1p(e^z) with PyTorch's float overflow of e^z (+Inf from z = 88.72). */
static double ref_log1p_exp(double z) {
  double e = exp(z);
  return isinf((float)e) ? INFINITY : log1p(e);
}

/* x^e as PyTorch's pow kernel with a scalar exponent computes it: x·x,
 * x·x·x, 1/x and 1/(x·x) rounded in float at each step (so x³ keeps the
 * sign of a negative x), any other exponent as pow(). */
static float ref_pow(float x, float e) {
  if (e == 2) return x * x; /* (any other exponent: pow in double, rounded) */
  if (e == 3) return x * x * x;
  if (e == -1) return 1.0f / x;
  if (e == -2) return 1.0f / (x * x);
  return (float)pow(x, e);
}

float ref_eltwise(op_id op, const double *attr, float x, float w) {
  double v = x;
  switch (op) {
  case OP_RELU: return x < 0 ? 0.0f : x; /* NaN and -0 pass, as in PyTorch */
  case OP_SIGMOID: /* PyTorch's 1/(1 + exp(-x)) in float: 0 once exp(-x) overflows */
    return (float)ref_sigmoid(v);
  case OP_TANH: return (float)tanh(v);
  case OP_LEAKY_RELU: return x > 0 ? x : (float)(v * (float)attr[0]);
  case OP_RRELU: return x > 0 ? x : x * (float)((attr[0] + attr[1]) / 2);
  case OP_PRELU: return x > 0 ? x : (float)(v * w);
  case OP_DROPOUT: /* inference; training-mode dropout is ref_dropout */
  case OP_IDENTITY: return x;
  case OP_EXP: return (float)exp(v);
  case OP_ELU: return ref_elu(x, 1.0f, (float)attr[0], 1.0f);
  case OP_CELU: return ref_elu(x, 1.0f, (float)attr[0], (float)(1.0 / attr[0]));
  case OP_SELU: return ref_elu(x, SELU_SCALE_F, SELU_ALPHA_F * SELU_SCALE_F, 1.0f);
  case OP_GELU:
    if (attr[0] == 0) { /* x/2 (1 + erf(x/sqrt 2)) = x/2 erfc(-x/sqrt 2); -Inf * 0 is NaN */
      if (isinf(x) && x < 0) return NAN;
      return (float)(0.5 * v * erfc(-v / sqrt(2.0))) + 0.0f; /* +0 as PyTorch */
    } else { /* x/2 (1 + tanh(u)) = x sigmoid(2u), u with PyTorch's float constants */
      double u = (double)GELU_BETA_F * (v + (double)GELU_KAPPA_F * v * v * v);
      return (float)(v * ref_sigmoid(2 * u));
    }
  case OP_SILU: { /* x / (1 + e^-x), e^-x overflowing as in float */
    double e = exp(-v);
    return (float)(v / (isinf((float)e) ? INFINITY : 1.0 + e));
  }
  case OP_MISH: return isinf(x) && x < 0 ? NAN : (float)(v * tanh(ref_log1p_exp(v)));
  case OP_HARDSIGMOID: return isnan(x) ? x : fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  case OP_HARDSWISH: return isnan(x) ? x : x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  case OP_HARDTANH: return x < (float)attr[0] ? (float)attr[0] : x > (float)attr[1] ? (float)attr[1] : x;
  case OP_RELU6: return x < 0 ? 0.0f : x > 6 ? 6.0f : x;
  case OP_SOFTPLUS: {
    float z = x * (float)attr[0];
    return z > (float)attr[1] ? x : (float)(ref_log1p_exp(z) / (float)attr[0]);
  }
  case OP_SOFTSIGN: return x / (fabsf(x) + 1.0f);
  case OP_TANHSHRINK: return (float)ref_tanhshrink(v) + 0.0f; /* x - tanh x: +0, never -0 */
  case OP_THRESHOLD: return x <= (float)attr[0] ? (float)attr[1] : x;
  case OP_LOGSIGMOID: return (float)((v < 0 ? v : 0.0) - log1p(exp(-fabs(v))));
  case OP_HARDSHRINK: return x >= -(float)attr[0] && x <= (float)attr[0] ? 0.0f : x;
  case OP_SOFTSHRINK: {
    float l = (float)attr[0];
    return x > l ? x - l : x < -l ? x + l : 0.0f;
  }
  case OP_ADD: return (float)(v + w);
  case OP_SUB: return (float)(v - w);
  case OP_MUL: return (float)(v * w);
  case OP_DIV: return (float)(v / w);
  case OP_MAXIMUM: return isnan(x) || isnan(w) ? NAN : x > w ? x : w; /* torch.maximum: NaN propagates */
  case OP_MINIMUM: return isnan(x) || isnan(w) ? NAN : x < w ? x : w;
  case OP_POW: return ref_pow(x, w);
  case OP_NEG: return -x;
  case OP_ABS: return fabsf(x);
  case OP_SQRT: return (float)sqrt(v);
  case OP_RECIPROCAL: return (float)(1.0 / v);
  case OP_ERF: return (float)erf(v);
  case OP_LOG: return (float)log(v);
  case OP_CLIP: /* torch.clamp: NaN stays NaN, min > max gives max */
    return isnan(x) ? x : fminf(fmaxf(x, (float)attr[0]), (float)attr[1]);
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_GLU: case OP_FLATTEN: case OP_COUNT: break;
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

/* glu: the dim split in halves a, b; y = a * sigmoid(b). */
static void ref_glu(const node *nd, const float *x, float *y, int64_t batch) {
  int axis = dim_index(nd->attr[0], nd->shape.rank);
  int64_t outer = ext_val(shape_span(&nd->shape, 0, axis), batch);
  int64_t half = ext_val(shape_span(&nd->shape, axis, nd->shape.rank), batch);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < half; i++)
      y[o * half + i] = (float)(x[o * 2 * half + i] * ref_sigmoid(x[o * 2 * half + half + i]));
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

static void ref_eltwise_op(const actjit_graph *g, const node *nd, const float *const *pv, float *y, int64_t batch) {
  int64_t n = ext_val(shape_numel(&nd->shape), batch);
  const float *x = pv[nd->args[0]];
  if (op_is_binary(nd->op)) {
    const shape *a = &g->nodes[nd->args[0]].shape, *b = &g->nodes[nd->args[1]].shape;
    const float *w = pv[nd->args[1]];
    for (int64_t i = 0; i < n; i++)
      y[i] = ref_eltwise(nd->op, nd->attr, x[broadcast_index(&nd->shape, a, batch, i)],
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
