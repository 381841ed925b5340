/* Value ranges: for every value an interval [lo, hi] holding each of its
 * non-NaN elements, so that codegen may choose a cheaper formula that is
 * exact on it (tanh of a value within [-1, 1] is a polynomial: no exp, no
 * division).  Ranges follow the dataflow, not the fusion groups, and the
 * pass runs with and without fusion, so fused and unfused kernels choose the
 * same formulas and agree bitwise.
 *
 * An op's interval is its bounds (what its kernel guarantees for any input,
 * e.g. sigmoid within [0, 1]) intersected, for an op nondecreasing in its
 * operand, with the image of the operand's interval: the scalar reference
 * at both ends, widened by 2^-20 relative for the kernels' rounding (they
 * are within a few ULP).  Anything else is [-Inf, Inf]. */
#include <math.h>

#include "ir/scalar.h"
#include "passes/passes.h"

static const interval everything = {-INFINITY, INFINITY};

/* What the kernel of nd produces whatever its input. */
static interval bounds(const node *nd) {
  switch (nd->op) {
  case OP_SIGMOID: case OP_HARDSIGMOID: case OP_SOFTMAX: case OP_SOFTMIN: return (interval){0, 1};
  case OP_TANH: case OP_SOFTSIGN: return (interval){-1, 1};
  case OP_RELU: case OP_EXP: return (interval){0, INFINITY};
  case OP_RELU6: return (interval){0, 6};
  case OP_HARDTANH: return (interval){nd->attr[0], nd->attr[1]};
  case OP_LOGSIGMOID: case OP_LOG_SOFTMAX: return (interval){-INFINITY, 0};
  case OP_ABS: case OP_SQRT: return (interval){0, INFINITY}; /* (sqrt(-0) = -0, which compares equal) */
  case OP_ERF: return (interval){-1, 1};
  case OP_CLIP: return (interval){fmin(nd->attr[0], nd->attr[1]), nd->attr[1]}; /* min > max gives max */
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_LEAKY_RELU: case OP_PRELU: case OP_DROPOUT:
  case OP_IDENTITY: case OP_ELU: case OP_CELU: case OP_SELU: case OP_GELU: case OP_SILU: case OP_MISH:
  case OP_HARDSWISH: case OP_SOFTPLUS: case OP_TANHSHRINK: case OP_THRESHOLD: case OP_HARDSHRINK:
  case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL:
  case OP_SOFTSHRINK: case OP_RRELU: case OP_GLU: case OP_FLATTEN: case OP_ADD: case OP_SUB: case OP_MUL:
  case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_POW: case OP_NEG: case OP_RECIPROCAL: case OP_LOG:
  case OP_COUNT:
    break;
  }
  return everything;
}

/* Is the elementwise op nd nondecreasing in its operand? */
static bool nondecreasing(const node *nd) {
  const double *a = nd->attr;
  switch (nd->op) {
  case OP_RELU: case OP_SIGMOID: case OP_TANH: case OP_EXP: case OP_SELU: case OP_HARDSIGMOID:
  case OP_RELU6: case OP_SOFTSIGN: case OP_TANHSHRINK: case OP_LOGSIGMOID: case OP_IDENTITY: case OP_SQRT:
  case OP_ERF: case OP_LOG: case OP_CLIP:
    return true;
  case OP_LEAKY_RELU: case OP_ELU: case OP_HARDSHRINK: case OP_SOFTSHRINK: return a[0] >= 0;
  case OP_CELU: return a[0] > 0;
  case OP_RRELU: return a[0] + a[1] >= 0;
  case OP_HARDTANH: return a[0] <= a[1];
  case OP_PRELU: case OP_DROPOUT: case OP_GELU: case OP_SILU: case OP_MISH: case OP_HARDSWISH: case OP_SOFTPLUS:
  case OP_THRESHOLD: case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN:
  case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL:
  case OP_LOG_SOFTMAX: case OP_GLU: case OP_FLATTEN: case OP_NEG: case OP_ABS: case OP_RECIPROCAL: case OP_COUNT:
  case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_POW: /* binary_range */
    break;
  }
  return false;
}

static double widen(double v, double dir) { return isfinite(v) ? v + dir * fabs(v) * 0x1p-20 : v; }

static interval image(const node *nd, interval in) {
  double lo = scalar_eltwise(nd->op, nd->attr, (float)in.lo, 0);
  double hi = scalar_eltwise(nd->op, nd->attr, (float)in.hi, 0);
  return (interval){isnan(lo) ? -INFINITY : widen(lo, -1), isnan(hi) ? INFINITY : widen(hi, 1)};
}

/* A constant's values, NaN skipped. */
static interval const_range(const node *nd) {
  interval r = {INFINITY, -INFINITY};
  for (int64_t i = 0; i < shape_static_numel(&nd->shape); i++)
    if (!isnan(nd->data[i])) r = (interval){fmin(r.lo, nd->data[i]), fmax(r.hi, nd->data[i])};
  return r.lo <= r.hi ? r : everything;
}

/* Interval arithmetic for the binary ops that keep it simple; a bound that
 * comes out NaN (Inf - Inf, 0·Inf) makes the range everything. */
static interval binary_range(const node *nd, interval a, interval b) {
  interval r = everything;
  switch (nd->op) {
  case OP_ADD: r = (interval){a.lo + b.lo, a.hi + b.hi}; break;
  case OP_SUB: r = (interval){a.lo - b.hi, a.hi - b.lo}; break;
  case OP_MUL: {
    double p[4] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
    r = (interval){fmin(fmin(p[0], p[1]), fmin(p[2], p[3])), fmax(fmax(p[0], p[1]), fmax(p[2], p[3]))};
    for (int i = 0; i < 4; i++)
      if (isnan(p[i])) r = everything;
    break;
  }
  case OP_MAXIMUM: r = (interval){fmax(a.lo, b.lo), fmax(a.hi, b.hi)}; break;
  case OP_MINIMUM: r = (interval){fmin(a.lo, b.lo), fmin(a.hi, b.hi)}; break;
  case OP_DIV: case OP_POW: return everything;
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_RELU: case OP_SIGMOID: case OP_TANH:
  case OP_LEAKY_RELU: case OP_PRELU: case OP_DROPOUT: case OP_IDENTITY: case OP_EXP: case OP_ELU: case OP_CELU:
  case OP_SELU: case OP_GELU: case OP_SILU: case OP_MISH: case OP_HARDSIGMOID: case OP_HARDSWISH: case OP_HARDTANH:
  case OP_RELU6: case OP_SOFTPLUS: case OP_SOFTSIGN: case OP_TANHSHRINK: case OP_THRESHOLD: case OP_LOGSIGMOID:
  case OP_HARDSHRINK: case OP_SOFTSHRINK: case OP_RRELU: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL:
  case OP_GLU: case OP_FLATTEN: case OP_NEG: case OP_ABS: case OP_SQRT: case OP_RECIPROCAL: case OP_ERF: case OP_LOG:
  case OP_CLIP: case OP_COUNT:
    return everything; /* not binary */
  }
  if (isnan(r.lo) || isnan(r.hi)) return everything;
  return (interval){widen(r.lo, -1), widen(r.hi, 1)};
}

static interval range_of(const actjit_graph *g, const node *nd, const pass_options *o) {
  interval in = nd->nargs ? g->nodes[nd->args[0]].range : everything;
  switch (op_table[nd->op].kind) {
  case K_VIEW: case K_TRANSPOSE: return in; /* the same values */
  case K_ELTWISE: break;
  case K_SOURCE: return nd->op == OP_CONST ? const_range(nd) : everything;
  case K_LINEAR: case K_SOFTMAX: case K_GLU: case K_MATMUL: return bounds(nd);
  }
  if (op_is_binary(nd->op)) return binary_range(nd, in, g->nodes[nd->args[1]].range);
  if (nd->op == OP_NEG) return (interval){-in.hi, -in.lo};
  if (nd->op == OP_IDENTITY) return in; /* exact, as an eval dropout below (the unfused plan keeps both) */
  if (nd->op == OP_DROPOUT) {
    if (!o->training) return in;
    double s = nd->attr[0] < 1 ? 1 / (1 - nd->attr[0]) : 0; /* kept values x/(1-p), the rest 0 */
    return (interval){fmin(0, widen(in.lo * s, -1)), fmax(0, widen(in.hi * s, 1))};
  }
  if (nd->op == OP_PRELU) return in.lo >= 0 ? in : everything; /* weights unknown */
  interval r = bounds(nd);
  if (nondecreasing(nd)) {
    interval m = image(nd, in);
    r = (interval){fmax(r.lo, m.lo), fmin(r.hi, m.hi)};
  }
  return r;
}

actjit_status pass_value_range(actjit_graph *g, const pass_options *o) {
  for (int i = 0; i < g->n; i++) g->nodes[i].range = range_of(g, &g->nodes[i], o);
  return ACTJIT_OK;
}
