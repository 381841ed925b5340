/* Elementwise ops: one emitter per op (the op table's ELTWISE rows), the
 * dag that computes a group of them in registers, and the elementwise
 * kernel, which reads each of its inputs once and writes its value once. */
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/vmath.h"

static LLVMValueRef zero_like(LLVMValueRef x) { return LLVMConstNull(LLVMTypeOf(x)); }

/* Constants and comparisons on values of x's type (float or vector). */
static LLVMValueRef k(LLVMValueRef x, double v) { return vm_splat(LLVMTypeOf(x), (float)v); }
static LLVMValueRef cmp(cg *c, LLVMRealPredicate p, LLVMValueRef x, LLVMValueRef y) {
  return LLVMBuildFCmp(c->b, p, x, y, "");
}
static LLVMValueRef sel(cg *c, LLVMValueRef m, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(c->b, m, a, b, "");
}
/* max(x, lo) and min(x, hi) that keep NaN (one maxps/minps, see vmath.c). */
static LLVMValueRef clamp_lo(cg *c, LLVMValueRef x, LLVMValueRef lo) { return sel(c, cmp(c, LLVMRealOLT, x, lo), lo, x); }
static LLVMValueRef clamp_hi(cg *c, LLVMValueRef x, LLVMValueRef hi) { return sel(c, cmp(c, LLVMRealOGT, x, hi), hi, x); }
static LLVMValueRef fabs_(cg *c, LLVMValueRef x) { return vm_call_intrinsic(c->b, "llvm.fabs", &x, 1); }

/* PyTorch's elu(x, alpha, scale, input_scale) as its CPU kernel computes it,
 * with float coefficients: x > 0 ? x*pos : (e^(x*in) - 1)*neg, the e^y - 1
 * as expm1 (PyTorch's exp(y) - 1 loses all relative precision for |y| <
 * 2^-24: elu(-1e-7) = -1.19e-7 there); expm1(y) + 0 keeps PyTorch's +0 at
 * x = -0 (and -0 for alpha < 0). */
static LLVMValueRef elu(cg *c, LLVMValueRef x, float pos, float neg, float in) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef y = in == 1.0f ? x : LLVMBuildFMul(b, x, k(x, in), "");
  LLVMValueRef e = LLVMBuildFAdd(b, vm_expm1(b, y), zero_like(x), "");
  LLVMValueRef p = pos == 1.0f ? x : LLVMBuildFMul(b, x, k(x, pos), "");
  return sel(c, cmp(c, LLVMRealOGT, x, zero_like(x)), p, LLVMBuildFMul(b, e, k(x, neg), ""));
}

/* r, or NaN where x or y is NaN (torch.maximum and minimum propagate it). */
static LLVMValueRef nan_or(cg *c, LLVMValueRef x, LLVMValueRef y, LLVMValueRef r) {
  LLVMValueRef nan = vm_splat(LLVMTypeOf(x), NAN);
  return sel(c, cmp(c, LLVMRealUNO, x, y), nan, r);
}

/* x^e as the reference defines it (reference.c, after PyTorch's pow with a
 * scalar exponent): x·x, x·x·x, 1/x, 1/(x·x), else powf.  For a constant e
 * the selects fold away, and x³ never meets exp(3·log x). */
static LLVMValueRef power(cg *c, LLVMValueRef x, LLVMValueRef e) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef one = k(x, 1), x2 = LLVMBuildFMul(b, x, x, "");
  LLVMValueRef args[] = {x, e};
  LLVMValueRef r = cg_intrinsic(c, "llvm.pow", (LLVMTypeRef[]){LLVMTypeOf(x)}, 1, args, 2);
  static const float special[] = {-2, -1, 3, 2};
  LLVMValueRef forms[] = {LLVMBuildFDiv(b, one, x2, ""), LLVMBuildFDiv(b, one, x, ""), LLVMBuildFMul(b, x2, x, ""), x2};
  for (int i = 0; i < 4; i++) r = sel(c, cmp(c, LLVMRealOEQ, e, k(x, special[i])), forms[i], r);
  return r;
}

/* min(max(x + 3, 0), 6), NaN kept (hardsigmoid, hardswish). */
static LLVMValueRef relu6_of_x3(cg *c, LLVMValueRef x) {
  LLVMValueRef v = LLVMBuildFAdd(c->b, x, k(x, 3), "");
  return clamp_hi(c, clamp_lo(c, v, zero_like(x)), k(x, 6));
}

LLVMValueRef cg_eltwise_op(cg *c, const node *nd, LLVMValueRef *operand, const cg_pos *pos) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef x = operand[0], w = nd->nargs > 1 ? operand[1] : NULL;
  LLVMTypeRef t = LLVMTypeOf(x);
  LLVMValueRef zero = zero_like(x), one = k(x, 1);
  const double *a = nd->attr;
  switch (nd->op) {
  case OP_RELU: /* x < 0 ? 0 : x keeps NaN and -0, as PyTorch's clamp_min */
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, zero_like(x), ""), zero_like(x), x, "relu");
  case OP_SIGMOID: return vm_sigmoid(b, x);
  case OP_TANH: { /* within [-1, 1] (value_range.c): the polynomial alone */
    const node *in = &c->g->nodes[nd->args[0]];
    return in->range.lo >= -1 && in->range.hi <= 1 ? vm_tanh_unit(b, x) : vm_tanh(b, x);
  }
  case OP_LEAKY_RELU: {
    /* The shortcut is decided on the float slope the code multiplies by: a
     * slope that rounds to 0 would turn +Inf into Inf·0 = NaN. */
    float slope = (float)a[0];
    w = vm_splat(t, slope);
    if (slope > 0 && slope <= 1) { /* max(x, x*w), one maxps that keeps NaN; x*w for ±0 and -Inf */
      LLVMValueRef xw = LLVMBuildFMul(b, x, w, "");
      return sel(c, cmp(c, LLVMRealOGT, x, xw), x, xw);
    }
  }
    /* fallthrough */
  case OP_PRELU:
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero_like(x), ""), x,
                           LLVMBuildFMul(b, x, w, ""), nd->op == OP_PRELU ? "prelu" : "leaky_relu");
  case OP_RRELU: /* eval mode: leaky_relu with slope (lower + upper)/2, in double as PyTorch */
    return sel(c, cmp(c, LLVMRealOGT, x, zero), x, LLVMBuildFMul(b, x, k(x, (float)((a[0] + a[1]) / 2)), ""));
  case OP_DROPOUT: /* philox.c, keyed by each lane's index: part by part */
    if (pos->nparts > 1) {
      LLVMValueRef part[ELTWISE_UNROLL];
      for (int p = 0; p < pos->nparts; p++) part[p] = cg_dropout(c, nd, cg_part(c, x, p, pos->nparts), &pos->parts[p]);
      return cg_concat(c, part, pos->nparts);
    }
    return cg_dropout(c, nd, x, pos);
  case OP_IDENTITY: return x;
  case OP_EXP: return vm_exp(b, x);
  case OP_ELU: return elu(c, x, 1.0f, (float)a[0], 1.0f);
  case OP_CELU: return elu(c, x, 1.0f, (float)a[0], (float)(1.0 / a[0]));
  case OP_SELU: return elu(c, x, SELU_SCALE_F, SELU_ALPHA_F * SELU_SCALE_F, 1.0f);
  case OP_GELU:
    if (a[0] == 0) return vm_gelu(b, x);
    { /* tanh: 0.5x(1 + tanh(u)) = x * sigmoid(2u), u = beta (x + kappa x^3) in
       * float as PyTorch, the sigmoid form without 1 + tanh's cancellation */
      LLVMValueRef x3 = LLVMBuildFMul(b, LLVMBuildFMul(b, x, x, ""), x, "");
      LLVMValueRef inner = LLVMBuildFAdd(b, x, LLVMBuildFMul(b, k(x, GELU_KAPPA_F), x3, ""), "");
      inner = LLVMBuildFMul(b, k(x, GELU_BETA_F), inner, "");
      return LLVMBuildFMul(b, x, vm_sigmoid(b, LLVMBuildFAdd(b, inner, inner, "")), "gelu");
    }
  case OP_SILU: /* x / (1 + e^-x) as PyTorch: -0 once e^-x overflows, -Inf gives NaN */
    return LLVMBuildFDiv(b, x, LLVMBuildFAdd(b, vm_exp(b, LLVMBuildFNeg(b, x, "")), one, ""), "silu");
  case OP_MISH: return vm_mish(b, x);
  case OP_HARDSIGMOID: return LLVMBuildFDiv(b, relu6_of_x3(c, x), k(x, 6), "hardsigmoid");
  case OP_HARDSWISH: return LLVMBuildFDiv(b, LLVMBuildFMul(b, x, relu6_of_x3(c, x), ""), k(x, 6), "hardswish");
  case OP_HARDTANH: return clamp_hi(c, clamp_lo(c, x, k(x, a[0])), k(x, a[1]));
  case OP_RELU6: return clamp_hi(c, clamp_lo(c, x, zero), k(x, 6));
  case OP_SOFTPLUS: { /* x*beta > threshold ? x : log1p(e^(x*beta))/beta, in float */
    LLVMValueRef z = LLVMBuildFMul(b, x, k(x, a[0]), "");
    LLVMValueRef s = LLVMBuildFDiv(b, vm_log1p(b, vm_exp(b, z)), k(x, a[0]), "");
    return sel(c, cmp(c, LLVMRealOGT, z, k(x, a[1])), x, s);
  }
  case OP_SOFTSIGN: return LLVMBuildFDiv(b, x, LLVMBuildFAdd(b, fabs_(c, x), one, ""), "softsign");
  case OP_TANHSHRINK: return vm_tanhshrink(b, x);
  case OP_THRESHOLD: /* x <= threshold ? value : x; NaN passes */
    return sel(c, cmp(c, LLVMRealOLE, x, k(x, a[0])), k(x, a[1]), x);
  case OP_LOGSIGMOID: { /* min(x, 0) - log1p(e^-|x|); min's NaN is dropped, the log1p's kept */
    LLVMValueRef m = sel(c, cmp(c, LLVMRealOLT, x, zero), x, zero);
    return LLVMBuildFSub(b, m, vm_log1p(b, vm_exp(b, LLVMBuildFNeg(b, fabs_(c, x), ""))), "logsigmoid");
  }
  case OP_HARDSHRINK: { /* -lambd <= x <= lambd ? 0 : x (+0 for -0; NaN passes) */
    LLVMValueRef in = LLVMBuildAnd(b, cmp(c, LLVMRealOGE, x, k(x, -a[0])), cmp(c, LLVMRealOLE, x, k(x, a[0])), "");
    return sel(c, in, zero, x);
  }
  case OP_SOFTSHRINK: { /* x > l ? x - l : x < -l ? x + l : 0; NaN gives 0 as in PyTorch 1.13 */
    /* At l = 0 that is x where x != 0 (ordered), else +0, written so: LLVM 19's
     * instcombine folds relu(x) then "x > 0 ? x - 0 : ..." into the relu,
     * which keeps NaN and -0 (tests/dag_cases/012.air). */
    if (a[0] == 0) return sel(c, cmp(c, LLVMRealONE, x, zero), x, zero);
    LLVMValueRef l = k(x, a[0]), nl = k(x, -a[0]);
    LLVMValueRef lo = sel(c, cmp(c, LLVMRealOLT, x, nl), LLVMBuildFAdd(b, x, l, ""), zero);
    return sel(c, cmp(c, LLVMRealOGT, x, l), LLVMBuildFSub(b, x, l, ""), lo);
  }
  case OP_ADD: return LLVMBuildFAdd(b, x, w, "add");
  case OP_SUB: return LLVMBuildFSub(b, x, w, "sub");
  case OP_MUL: return LLVMBuildFMul(b, x, w, "mul");
  case OP_DIV: return LLVMBuildFDiv(b, x, w, "div");
  case OP_MAXIMUM: return nan_or(c, x, w, sel(c, cmp(c, LLVMRealOGT, x, w), x, w));
  case OP_MINIMUM: return nan_or(c, x, w, sel(c, cmp(c, LLVMRealOLT, x, w), x, w));
  case OP_POW: return power(c, x, w);
  case OP_NEG: return LLVMBuildFNeg(b, x, "neg");
  case OP_ABS: return fabs_(c, x);
  case OP_SQRT: return vm_call_intrinsic(b, "llvm.sqrt", &x, 1);
  case OP_RECIPROCAL: return LLVMBuildFDiv(b, one, x, "reciprocal");
  case OP_ERF: return vm_erf(b, x);
  case OP_LOG: return vm_log(b, x);
  case OP_CLIP: /* min(max(x, lo), hi): NaN stays, lo > hi gives hi (torch.clamp) */
    return clamp_hi(c, sel(c, cmp(c, LLVMRealOLT, x, k(x, a[0])), k(x, a[0]), x), k(x, a[1]));
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL:
  case OP_GLU: case OP_FLATTEN: case OP_COUNT: break;
  }
  if (!c->unsupported) c->unsupported = nd;
  return x;
}

/* ---- the dag of a kernel's elementwise members */

void cg_dag_init(cg *c, cg_dag *d, const group *gr) {
  memset(d, 0, sizeof *d);
  d->n = gr->n;
  space_init(&d->space, &c->g->nodes[gr->m[gr->n - 1]].shape);
  for (int i = 0; i < gr->n; i++) {
    const node *nd = d->m[i] = &c->g->nodes[gr->m[i]];
    if (op_table[nd->op].kind != K_ELTWISE) continue; /* a linear or the softmax: its kernel's business */
    for (int k = 0; k < nd->nargs; k++) {
      int a = nd->args[k], j = 0;
      while (j < gr->n && gr->m[j] != a) j++;
      if (j < gr->n) {
        d->src[i][k] = j;
        continue;
      }
      int u = space_add(&d->space, c->g, nd, k);
      cg_use *use = &d->use[u];
      const node *an = &c->g->nodes[a];
      d->src[i][k] = -1 - u;
      if (an->op == OP_CONST && shape_static_numel(&an->shape) == 1) {
        use->is_scalar = true;
        use->scalar = an->data[0];
      } else if (an->op == OP_CONST) {
        use->base = cg_const_data(c, an);
      } else if (an->op == OP_PARAM) {
        use->base = cg_param(c, a);
      } else {
        int in = 0;
        while (gr->ins[in] != a) in++;
        use->base = c->in[in];
      }
    }
  }
}

/* Operand use u at pos: a splat of a scalar constant, a vector where the
 * use runs along the loop's innermost dim, else a splat of one element;
 * at a pos of parts, each part's at its width, side by side. */
static LLVMValueRef load_use(cg *c, const cg_dag *d, int u, const cg_pos *pos) {
  const cg_use *use = &d->use[u];
  if (use->is_scalar) return vm_splat(c->vf, use->scalar);
  if (pos->nparts > 1) {
    LLVMValueRef part[ELTWISE_UNROLL];
    int width = c->width;
    cg_widen(c, width / pos->nparts / c->reg_width);
    for (int p = 0; p < pos->nparts; p++) part[p] = load_use(c, d, u, &pos->parts[p]);
    cg_widen(c, width / c->reg_width);
    return cg_concat(c, part, pos->nparts);
  }
  if (d->space.stride[u][d->space.rank - 1] == 1) return cg_load(c, use->base, pos->off[u], pos->mask, 0.0f);
  return cg_splat(c, cg_load_scalar(c, use->base, pos->off[u]));
}

void cg_dag_eval(cg *c, cg_dag *d, int from, int to, const cg_pos *pos) {
  for (int i = from; i < to; i++) {
    const node *nd = d->m[i];
    if (op_table[nd->op].kind != K_ELTWISE) continue;
    LLVMValueRef operand[OP_MAX_ARGS];
    for (int k = 0; k < nd->nargs; k++)
      operand[k] = d->src[i][k] >= 0 ? d->val[d->src[i][k]] : load_use(c, d, -1 - d->src[i][k], pos);
    d->val[i] = cg_eltwise_op(c, nd, operand, pos);
  }
}

/* ---- the elementwise kernel */

typedef struct eltwise_env {
  cg_dag dag;
  int dims;  /* the loop's dims (the dag's space, merged) */
  int depth; /* the dim being emitted */
  LLVMValueRef out_base, off_base[SPACE_MAX_OPERANDS]; /* offsets of the innermost dim's element 0 */
} eltwise_env;

/* One vector at element j of the innermost dim: every member, then the store. */
static void eltwise_vector(cg *c, LLVMValueRef j, LLVMValueRef mask, void *envp) {
  eltwise_env *e = envp;
  cg_dag *d = &e->dag;
  LLVMValueRef off[SPACE_MAX_OPERANDS];
  for (int u = 0; u < d->space.nops; u++) {
    int64_t st = d->space.stride[u][e->dims - 1];
    LLVMValueRef in = st ? LLVMBuildNSWMul(c->b, j, cg_i64(c, st), "") : cg_i64(c, 0);
    off[u] = e->off_base[u] ? LLVMBuildNSWAdd(c->b, e->off_base[u], in, "off") : in;
  }
  LLVMValueRef at = e->out_base ? LLVMBuildNSWAdd(c->b, e->out_base, j, "at") : j;
  cg_pos pos = {.index = at, .mask = mask, .off = off};
  cg_dag_eval(c, d, 0, d->n, &pos);
  cg_store(c, d->val[d->n - 1], c->y, at, mask);
}

/* ---- Software pipelining of long chains ----
 * A chain of several vector-math ops is one dependency chain of some 100
 * cycles a vector.  The core keeps only a few vectors' waiting ops (its FP
 * scheduler is small), so with the ops of each vector in program order it
 * stalls with the FMA pipes half idle.  Cut into stages after each
 * long-latency op, the loop runs stage k on the block PIPE_DISTANCE·k slots
 * behind stage 0: a slot's later stages work on values computed slots
 * before, ready as they are dispatched.  (Zen 4, leaky_relu → sigmoid →
 * tanh in L1: 25 cycles a vector plain, 22 pipelined.) */
enum { PIPE_DISTANCE = 2, PIPE_STAGES = 4 };

/* Streaming pipelined loops also prefetch their input this far ahead, a
 * 64-byte line at a time: the hardware prefetchers alone leave them waiting
 * on DRAM (16M floats, leaky_relu → sigmoid → tanh, interleaved A/B: 0.80-0.95
 * the time at 1-4 KB ahead, none better further out). */
enum { PREFETCH_FLOATS = 1024, LINE_FLOATS = 16 };

bool cg_long_latency(const cg *c, const node *nd) {
  switch (nd->op) {
  case OP_SIGMOID: case OP_TANH: case OP_EXP: case OP_ELU: case OP_CELU: case OP_SELU: case OP_GELU:
  case OP_SILU: case OP_MISH: case OP_SOFTPLUS: case OP_TANHSHRINK: case OP_LOGSIGMOID: case OP_ERF: case OP_LOG:
  case OP_POW:
    return true;
  case OP_DROPOUT: return c->training;
  case OP_RELU: case OP_LEAKY_RELU: case OP_PRELU: case OP_IDENTITY: case OP_HARDSIGMOID: case OP_HARDSWISH:
  case OP_HARDTANH: case OP_RELU6: case OP_SOFTSIGN: case OP_THRESHOLD: case OP_HARDSHRINK: case OP_SOFTSHRINK:
  case OP_RRELU: case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: case OP_NEG:
  case OP_ABS: case OP_SQRT: case OP_RECIPROCAL: case OP_CLIP:
    return false;
  case OP_INPUT: case OP_PARAM: case OP_CONST: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_MATMUL:
  case OP_GLU: case OP_FLATTEN: case OP_COUNT: break; /* not elementwise: cg_eltwise_op reports it */
  }
  return false;
}

/* Stage k is members [cut[k], cut[k + 1]): each long op ends a stage, cheap
 * ops join the stage after them (the last stage, after the last long op).
 * Only a chain is cut, where each member's only member operand is the one
 * before it, so one vector crosses each cut.  Returns the number of stages. */
static int pipeline_stages(const cg *c, const cg_dag *d, int cut[PIPE_STAGES + 1]) {
  cut[0] = 0;
  cut[1] = d->n;
  for (int i = 0; i < d->n; i++)
    for (int k = 0; k < d->m[i]->nargs; k++)
      if (d->src[i][k] >= 0 && d->src[i][k] != i - 1) return 1;
  int s = 0;
  for (int i = 0; i + 1 < d->n && s + 1 < PIPE_STAGES; i++)
    if (cg_long_latency(c, d->m[i])) cut[++s] = i + 1;
  cut[++s] = d->n;
  /* Trailing cheap ops do not make a stage of their own. */
  while (s > 1) {
    bool any = false;
    for (int i = cut[s - 1]; i < cut[s]; i++) any |= cg_long_latency(c, d->m[i]);
    if (any) break;
    cut[s - 1] = cut[s];
    s--;
  }
  return s;
}

typedef struct pipe_env {
  eltwise_env *e;
  LLVMValueRef lo, nblocks; /* blocks of width floats from element lo */
  int stages, cut[PIPE_STAGES + 1];
  /* line[k][d]: stage k's results waiting for stage k + 1, oldest first. */
  LLVMValueRef line[PIPE_STAGES - 1][PIPE_DISTANCE], fresh[PIPE_STAGES - 1];
} pipe_env;

/* Prefetches each input the flat loop streams through, PREFETCH_FLOATS ahead
 * of element `at` (a hint: it may pass the end). */
static void prefetch_inputs(cg *c, const cg_dag *d, LLVMValueRef at) {
  LLVMBuilderRef b = c->b;
  for (int u = 0; u < d->space.nops; u++) {
    bool seen = d->use[u].is_scalar || d->space.stride[u][0] != 1;
    for (int v = 0; !seen && v < u; v++) seen = d->use[v].base == d->use[u].base && d->space.stride[v][0] == 1;
    for (int l = 0; !seen && l < c->width; l += LINE_FLOATS) {
      LLVMValueRef ahead = LLVMBuildAdd(b, at, cg_i64(c, PREFETCH_FLOATS + l), "");
      LLVMValueRef args[] = {LLVMBuildGEP2(b, c->f32, d->use[u].base, &ahead, 1, ""), LLVMConstInt(c->i32, 0, 0),
                             LLVMConstInt(c->i32, 3, 0), LLVMConstInt(c->i32, 1, 0)};
      cg_intrinsic(c, "llvm.prefetch", &c->ptr, 1, args, 4); /* read, keep in all levels, data */
    }
  }
}

/* Slot i: stage k works on block i - k·PIPE_DISTANCE when that is a block,
 * last stage first (it reads the oldest entry of its line before the shift),
 * then every line moves up by one.  The loop is flat: a use's offset is the
 * element's index or 0. */
static void pipe_slot(cg *c, LLVMValueRef i, void *envp) {
  pipe_env *p = envp;
  cg_dag *d = &p->e->dag;
  LLVMBuilderRef b = c->b;
  for (int k = p->stages - 1; k >= 0; k--) {
    LLVMValueRef blk = LLVMBuildNSWSub(b, i, cg_i64(c, (int64_t)k * PIPE_DISTANCE), "blk");
    LLVMValueRef on = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, blk, cg_i64(c, 0), ""),
                                   LLVMBuildICmp(b, LLVMIntSLT, blk, p->nblocks, ""), "on");
    LLVMBasicBlockRef next = cg_if(c, on, "stage");
    LLVMValueRef at = LLVMBuildNSWAdd(b, p->lo, LLVMBuildNSWMul(b, blk, cg_i64(c, c->width), ""), "at");
    if (!k && c->stream) {
      LLVMBasicBlockRef streamed = cg_if(c, c->stream, "prefetch");
      prefetch_inputs(c, d, at);
      cg_end_if(c, streamed);
    }
    LLVMValueRef off[SPACE_MAX_OPERANDS];
    for (int u = 0; u < d->space.nops; u++) off[u] = d->space.stride[u][0] ? at : cg_i64(c, 0);
    cg_pos pos = {.index = at, .off = off};
    if (k) d->val[p->cut[k] - 1] = LLVMBuildLoad2(b, c->vf, p->line[k - 1][0], "");
    cg_dag_eval(c, d, p->cut[k], p->cut[k + 1], &pos);
    LLVMValueRef v = d->val[p->cut[k + 1] - 1];
    if (k == p->stages - 1) cg_store(c, v, c->y, at, NULL);
    else LLVMBuildStore(b, v, p->fresh[k]);
    cg_end_if(c, next);
  }
  for (int k = 0; k + 1 < p->stages; k++) {
    for (int j = 0; j + 1 < PIPE_DISTANCE; j++)
      LLVMBuildStore(b, LLVMBuildLoad2(b, c->vf, p->line[k][j + 1], ""), p->line[k][j]);
    LLVMBuildStore(b, LLVMBuildLoad2(b, c->vf, p->fresh[k], ""), p->line[k][PIPE_DISTANCE - 1]);
  }
}

/* The whole vectors of [lo, n), pipelined when the dag has stages: where
 * they end (*rem lanes are left). */
static LLVMValueRef full_range(cg *c, LLVMValueRef lo, LLVMValueRef n, pipe_env *p, LLVMValueRef *rem) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef full = cg_full_vectors(c, lo, n, rem);
  if (p->stages < 2) {
    cg_vector_loop_full(c, lo, full, eltwise_vector, p->e);
    return full;
  }
  p->lo = lo;
  p->nblocks = LLVMBuildSDiv(b, LLVMBuildNSWSub(b, full, lo, ""), cg_i64(c, c->width), "nblocks");
  LLVMValueRef poison = LLVMGetPoison(c->vf);
  for (int k = 0; k + 1 < p->stages; k++) {
    for (int j = 0; j < PIPE_DISTANCE; j++) p->line[k][j] = cg_var(c, c->vf, poison);
    p->fresh[k] = cg_var(c, c->vf, poison);
  }
  LLVMValueRef slots = LLVMBuildNSWAdd(b, p->nblocks, cg_i64(c, (int64_t)(p->stages - 1) * PIPE_DISTANCE), "slots");
  cg_for(c, cg_i64(c, 0), slots, 1, pipe_slot, p);
  return full;
}

/* The masked vectors at the ends of a streamed range: edge 0 the head (up
 * to the aligned address), edge 1 the tail; one copy of the dag for both. */
typedef struct edges_env {
  eltwise_env *e;
  LLVMValueRef head, full, rem;
} edges_env;

static void edge(cg *c, LLVMValueRef k, void *envp) {
  edges_env *g = envp;
  LLVMValueRef tail = LLVMBuildICmp(c->b, LLVMIntNE, k, cg_i64(c, 0), "");
  LLVMValueRef at = LLVMBuildSelect(c->b, tail, g->full, cg_i64(c, 0), "at");
  LLVMValueRef count = LLVMBuildSelect(c->b, tail, g->rem, g->head, "count");
  LLVMBasicBlockRef done = cg_if(c, LLVMBuildICmp(c->b, LLVMIntSGT, count, cg_i64(c, 0), ""), "edge");
  eltwise_vector(c, at, cg_first_lanes(c, count), g->e);
  cg_end_if(c, done);
}

/* [0, n) where `stream` (i1) holds: a first masked vector up to a
 * register-aligned address, then streamed (the vectors' own stores pick
 * their kind); else all cached. */
static void stream_range(cg *c, LLVMValueRef stream, LLVMValueRef n, pipe_env *p) {
  LLVMBuilderRef b = c->b;
  int64_t align = (int64_t)c->reg_width * 4;
  LLVMValueRef addr = LLVMBuildPtrToInt(b, c->y, c->i64, "");
  LLVMValueRef misaligned = LLVMBuildLShr(b, LLVMBuildAnd(b, LLVMBuildNeg(b, addr, ""), cg_i64(c, align - 1), ""),
                                          cg_i64(c, 2), ""); /* floats up to the boundary (y is 4-aligned) */
  edges_env g = {.e = p->e, .head = LLVMBuildSelect(b, stream, misaligned, cg_i64(c, 0), "head")};
  c->stream = stream;
  g.full = full_range(c, g.head, n, p, &g.rem);
  c->stream = NULL;
  cg_for_rolled(c, cg_i64(c, 0), cg_i64(c, 2), 1, edge, &g);
  LLVMBasicBlockRef fenced = cg_if(c, stream, "sfence");
  cg_sfence(c);
  cg_end_if(c, fenced);
}

/* A loop over one flat dim.  Outputs of CG_STREAM_MIN floats and more are
 * streamed: from a first masked vector up to a register-aligned address,
 * then aligned non-temporal stores.  Pipelined chains too: compute-bound,
 * they still leave the reads and the write-allocate of ordinary stores
 * competing for the bandwidth, which on a loaded host is what they wait on
 * (Zen 4, leaky_relu → sigmoid → tanh on 16M floats, interleaved A/B in one
 * process: streaming 0.77-1.01× the time of ordinary stores over 8 runs,
 * the gain largest when the memory is busiest). */
static void flat_loop(cg *c, LLVMValueRef n, eltwise_env *e) {
  LLVMBuilderRef b = c->b;
  pipe_env p = {.e = e};
  p.stages = pipeline_stages(c, &e->dag, p.cut);
  bool long_dag = false;
  for (int i = 0; i < e->dag.n; i++) long_dag |= cg_long_latency(c, e->dag.m[i]);
  LLVMValueRef stream = LLVMBuildICmp(b, LLVMIntSGE, n, cg_i64(c, CG_STREAM_MIN), "stream");
  /* A long dag's code is large (its compile time too): one loop, whose
   * stores pick their kind, a branch an iteration.  A cheap one's loop is
   * small, and that branch would cost it 4-8% (eltwise_cheap.air at batches
   * 1 and 1024): a loop for each. */
  if (long_dag) {
    stream_range(c, stream, n, &p);
    return;
  }
  LLVMBasicBlockRef big = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "nt");
  LLVMBasicBlockRef small = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "cached");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
  LLVMBuildCondBr(b, stream, big, small);
  LLVMPositionBuilderAtEnd(b, small);
  LLVMValueRef rem, full = full_range(c, cg_i64(c, 0), n, &p, &rem);
  cg_vector_tail(c, full, rem, eltwise_vector, e);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, big);
  stream_range(c, LLVMConstInt(LLVMInt1TypeInContext(c->ctx), 1, 0), n, &p);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
}

/* A loop nest over the dims from e->depth: the outer ones are loops whose
 * index adds its stride to every operand's offset and folds into the
 * output's (row-major: base·extent + index); the innermost is a vector loop. */
static void nest(cg *c, eltwise_env *e);

static void outer_index(cg *c, LLVMValueRef i, void *envp) {
  eltwise_env *e = envp;
  const loop_space *sp = &e->dag.space;
  int dim = e->depth;
  LLVMValueRef saved_out = e->out_base, saved[SPACE_MAX_OPERANDS];
  e->out_base = saved_out ? LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, saved_out, cg_i64(c, sp->dim[dim].mul), ""), i, "")
                          : i;
  for (int u = 0; u < sp->nops; u++) {
    saved[u] = e->off_base[u];
    LLVMValueRef step = LLVMBuildNSWMul(c->b, i, cg_i64(c, sp->stride[u][dim]), "");
    e->off_base[u] = saved[u] ? LLVMBuildNSWAdd(c->b, saved[u], step, "") : step;
  }
  e->depth++;
  nest(c, e);
  e->depth--;
  e->out_base = saved_out;
  for (int u = 0; u < sp->nops; u++) e->off_base[u] = saved[u];
}

static void nest(cg *c, eltwise_env *e) {
  const extent *dim = &e->dag.space.dim[e->depth];
  if (e->depth < e->dims - 1) {
    cg_for(c, cg_i64(c, 0), cg_extent(c, *dim), 1, outer_index, e);
    return;
  }
  LLVMValueRef saved = e->out_base; /* the rows before, each dim->mul long */
  e->out_base = LLVMBuildNSWMul(c->b, saved, cg_i64(c, dim->mul), "row");
  cg_vector_loop(c, cg_i64(c, dim->mul), eltwise_vector, e);
  e->out_base = saved;
}

void cg_eltwise_kernel(cg *c, const group *gr) {
  eltwise_env e = {0};
  cg_dag_init(c, &e.dag, gr);
  e.dims = space_merge(&e.dag.space, 0, e.dag.space.rank);
  if (e.dims == 1) flat_loop(c, cg_extent(c, e.dag.space.dim[0]), &e);
  else nest(c, &e);
}
