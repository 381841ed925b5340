/* The scalar definition of each elementwise op: what one element of its
 * result is, in float64 arithmetic rounded to float as PyTorch 1.13's CPU
 * kernels round (see README, Numerics).  The reference evaluator computes
 * with it and value ranges take the image of an interval through it. */
#include <math.h>

#include "ir/scalar.h"

/* PyTorch's elu kernel (see eltwise.c) in double: x > 0 ? x*pos : (e^y - 1)*neg
 * with y = x*in rounded to float as PyTorch forms it; + 0.0 gives +0 at -0. */
static float elu_of(float x, float pos, float neg, float in) {
  if (x > 0) return x * pos;
  float y = x * in;
  return (float)((expm1((double)y) + 0.0) * neg);
}

/* 1/(1 + e^-v) with PyTorch's float overflow: 0 once e^-v is +Inf in float. */
double scalar_sigmoid(double v) {
  double e = exp(-v);
  return isinf((float)e) && v < 0 ? 0.0 : 1.0 / (1.0 + e);
}

/* x - tanh(x), by its series below 0.1 where the subtraction cancels. */
static double tanhshrink_of(double a) {
  double t = a * a;
  if (fabs(a) < 0.1)
    return a * t * (1.0 / 3 + t * (-2.0 / 15 + t * (17.0 / 315 + t * (-62.0 / 2835 + t * (1382.0 / 155925)))));
  return a - tanh(a);
}

/* log1p(e^z) with PyTorch's float overflow of e^z (+Inf from z = 88.72). */
static double log1p_exp(double z) {
  double e = exp(z);
  return isinf((float)e) ? INFINITY : log1p(e);
}

/* x^e as PyTorch's pow kernel with a scalar exponent computes it: x·x,
 * x·x·x, 1/x and 1/(x·x) rounded in float at each step (so x³ keeps the
 * sign of a negative x), any other exponent as pow(). */
static float pow_of(float x, float e) {
  if (e == 2) return x * x; /* (any other exponent: pow in double, rounded) */
  if (e == 3) return x * x * x;
  if (e == -1) return 1.0f / x;
  if (e == -2) return 1.0f / (x * x);
  return (float)pow(x, e);
}

float scalar_eltwise(op_id op, const double *attr, float x, float w) {
  double v = x;
  switch (op) {
  case OP_RELU: return x < 0 ? 0.0f : x; /* NaN and -0 pass, as in PyTorch */
  case OP_SIGMOID: /* PyTorch's 1/(1 + exp(-x)) in float: 0 once exp(-x) overflows */
    return (float)scalar_sigmoid(v);
  case OP_TANH: return (float)tanh(v);
  case OP_LEAKY_RELU: return x > 0 ? x : (float)(v * (float)attr[0]);
  case OP_RRELU: return x > 0 ? x : x * (float)((attr[0] + attr[1]) / 2);
  case OP_PRELU: return x > 0 ? x : (float)(v * w);
  case OP_DROPOUT: /* inference; training-mode dropout is ref_dropout */
  case OP_IDENTITY: return x;
  case OP_EXP: return (float)exp(v);
  case OP_ELU: return elu_of(x, 1.0f, (float)attr[0], 1.0f);
  case OP_CELU: return elu_of(x, 1.0f, (float)attr[0], (float)(1.0 / attr[0]));
  case OP_SELU: return elu_of(x, SELU_SCALE_F, SELU_ALPHA_F * SELU_SCALE_F, 1.0f);
  case OP_GELU:
    if (attr[0] == 0) { /* x/2 (1 + erf(x/sqrt 2)) = x/2 erfc(-x/sqrt 2); -Inf * 0 is NaN */
      if (isinf(x) && x < 0) return NAN;
      return (float)(0.5 * v * erfc(-v / sqrt(2.0))) + 0.0f; /* +0 as PyTorch */
    } else { /* x/2 (1 + tanh(u)) = x sigmoid(2u), u with PyTorch's float constants */
      double u = (double)GELU_BETA_F * (v + (double)GELU_KAPPA_F * v * v * v);
      return (float)(v * scalar_sigmoid(2 * u));
    }
  case OP_SILU: { /* x / (1 + e^-x), e^-x overflowing as in float */
    double e = exp(-v);
    return (float)(v / (isinf((float)e) ? INFINITY : 1.0 + e));
  }
  case OP_MISH: return isinf(x) && x < 0 ? NAN : (float)(v * tanh(log1p_exp(v)));
  case OP_HARDSIGMOID: return isnan(x) ? x : fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  case OP_HARDSWISH: return isnan(x) ? x : x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  case OP_HARDTANH: return x < (float)attr[0] ? (float)attr[0] : x > (float)attr[1] ? (float)attr[1] : x;
  case OP_RELU6: return x < 0 ? 0.0f : x > 6 ? 6.0f : x;
  case OP_SOFTPLUS: {
    float z = x * (float)attr[0];
    return z > (float)attr[1] ? x : (float)(log1p_exp(z) / (float)attr[0]);
  }
  case OP_SOFTSIGN: return x / (fabsf(x) + 1.0f);
  case OP_TANHSHRINK: return (float)tanhshrink_of(v) + 0.0f; /* x - tanh x: +0, never -0 */
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
  case OP_POW: return pow_of(x, w);
  case OP_NEG: return -x;
  case OP_ABS: return fabsf(x);
  case OP_SQRT: return (float)sqrt(v);
  case OP_RECIPROCAL: return (float)(1.0 / v);
  case OP_ERF: return (float)erf(v);
  case OP_LOG: return (float)log(v);
  case OP_CLIP: /* torch.clamp: NaN stays NaN, min > max gives max */
    return isnan(x) ? x : fminf(fmaxf(x, (float)attr[0]), (float)attr[1]);
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_GLU: case OP_FLATTEN: case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL: case OP_COUNT: break;
  }
  return NAN;
}

