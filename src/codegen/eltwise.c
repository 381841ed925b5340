/* Elementwise ops: one emitter per op (the op table's ELTWISE rows), the
 * chain that applies a group of them in registers, and the elementwise
 * kernel, which reads each element once and writes it once. */
#include "codegen.h"
#include "vmath.h"

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

/* min(max(x + 3, 0), 6), NaN kept (hardsigmoid, hardswish). */
static LLVMValueRef relu6_of_x3(cg *c, LLVMValueRef x) {
  LLVMValueRef v = LLVMBuildFAdd(c->b, x, k(x, 3), "");
  return clamp_hi(c, clamp_lo(c, v, zero_like(x)), k(x, 6));
}

LLVMValueRef cg_eltwise_op(cg *c, const node *nd, LLVMValueRef x, LLVMValueRef w, const cg_pos *pos) {
  LLVMBuilderRef b = c->b;
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
  case OP_DROPOUT: return cg_dropout(c, nd, x, pos); /* philox.c */
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
    LLVMValueRef l = k(x, a[0]), nl = k(x, -a[0]);
    LLVMValueRef lo = sel(c, cmp(c, LLVMRealOLT, x, nl), LLVMBuildFAdd(b, x, l, ""), zero);
    return sel(c, cmp(c, LLVMRealOGT, x, l), LLVMBuildFSub(b, x, l, ""), lo);
  }
  case OP_INPUT: case OP_PARAM: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_GLU: case OP_FLATTEN: case OP_COUNT: break;
  }
  if (!c->unsupported) c->unsupported = nd;
  return x;
}

void cg_chain_init(cg *c, cg_chain *ch, const node *const *ops, int n) {
  *ch = (cg_chain){.ops = ops, .n = n};
  for (int k = 0; k < n; k++)
    if (ops[k]->op == OP_PRELU) ch->weights[k] = cg_param(c, ops[k]->args[1]);
}

/* A per-channel prelu takes its weight at pos->channel: one weight for all
 * lanes, or consecutive weights for consecutive lanes (masked). */
static LLVMValueRef prelu_weight(cg *c, const cg_chain *ch, int k, LLVMValueRef v, const cg_pos *pos) {
  bool vector = LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMVectorTypeKind;
  bool per_channel = c->g->nodes[ch->ops[k]->args[1]].shape.d[0] > 1;
  if (per_channel && pos->lanes_are_channels) return cg_load(c, ch->weights[k], pos->channel, pos->mask, 0.0f);
  LLVMValueRef w = cg_load_scalar(c, ch->weights[k], per_channel ? pos->channel : cg_i64(c, 0));
  return vector ? cg_splat(c, w) : w;
}

LLVMValueRef cg_chain_apply(cg *c, const cg_chain *ch, LLVMValueRef v, const cg_pos *pos) {
  for (int k = 0; k < ch->n; k++) {
    LLVMValueRef w = ch->weights[k] ? prelu_weight(c, ch, k, v, pos) : NULL;
    v = cg_eltwise_op(c, ch->ops[k], v, w, pos);
  }
  return v;
}

/* The elementwise kernel's loop nest.  Without per-channel weights it is one
 * flat loop.  With them (prelu with C weights on dim 1) the tensor is seen as
 * rows × cols: [outer, C] with the weights a vector along cols (inner == 1),
 * or [outer·C, inner] with one weight per row. */
typedef struct eltwise_env {
  cg_chain chain;
  int64_t channels, inner; /* channels > 1: per-channel layout */
  LLVMValueRef row, base;  /* current row and its element offset */
} eltwise_env;

static void eltwise_vector(cg *c, LLVMValueRef j, LLVMValueRef mask, void *envp) {
  eltwise_env *e = envp;
  LLVMValueRef at = e->base ? LLVMBuildNSWAdd(c->b, e->base, j, "at") : j;
  LLVMValueRef v = cg_load(c, c->x, at, mask, 0.0f);
  cg_pos pos = {.index = at, .lanes_are_channels = e->inner == 1, .mask = mask};
  pos.channel = e->inner == 1 ? j : e->row ? LLVMBuildSRem(c->b, e->row, cg_i64(c, e->channels), "ch") : NULL;
  v = cg_chain_apply(c, &e->chain, v, &pos);
  cg_store(c, v, c->y, at, mask);
}

static void eltwise_row(cg *c, LLVMValueRef r, void *envp) {
  eltwise_env *e = envp;
  e->row = r;
  int64_t cols = e->inner == 1 ? e->channels : e->inner;
  e->base = LLVMBuildNSWMul(c->b, r, cg_i64(c, cols), "base");
  cg_vector_loop(c, cg_i64(c, cols), eltwise_vector, e);
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

/* Ops whose code is a long dependency chain: those built on vmath.c, and
 * dropout's Philox rounds. */
static bool long_latency(const cg *c, const node *nd) {
  switch (nd->op) {
  case OP_SIGMOID: case OP_TANH: case OP_EXP: case OP_ELU: case OP_CELU: case OP_SELU: case OP_GELU:
  case OP_SILU: case OP_MISH: case OP_SOFTPLUS: case OP_TANHSHRINK: case OP_LOGSIGMOID:
    return true;
  case OP_DROPOUT: return c->training;
  case OP_RELU: case OP_LEAKY_RELU: case OP_PRELU: case OP_IDENTITY: case OP_HARDSIGMOID: case OP_HARDSWISH:
  case OP_HARDTANH: case OP_RELU6: case OP_SOFTSIGN: case OP_THRESHOLD: case OP_HARDSHRINK: case OP_SOFTSHRINK:
  case OP_RRELU:
    return false;
  case OP_INPUT: case OP_PARAM: case OP_LINEAR: case OP_SOFTMAX: case OP_SOFTMIN: case OP_LOG_SOFTMAX:
  case OP_GLU: case OP_FLATTEN: case OP_COUNT: break; /* not elementwise: cg_eltwise_op reports it */
  }
  return false;
}

/* Stage k is ops [cut[k], cut[k + 1]): each long op ends a stage, cheap ops
 * join the stage after them (the last stage, after the last long op).
 * Returns the number of stages. */
static int pipeline_stages(const cg *c, const cg_chain *ch, int cut[PIPE_STAGES + 1]) {
  int s = 0;
  cut[0] = 0;
  for (int k = 0; k + 1 < ch->n && s + 1 < PIPE_STAGES; k++)
    if (long_latency(c, ch->ops[k])) cut[++s] = k + 1;
  cut[++s] = ch->n;
  /* Trailing cheap ops do not make a stage of their own. */
  while (s > 1) {
    bool any = false;
    for (int k = cut[s - 1]; k < cut[s]; k++) any |= long_latency(c, ch->ops[k]);
    if (any) break;
    cut[s - 1] = cut[s];
    s--;
  }
  return s;
}

static cg_chain chain_slice(const cg_chain *ch, int from, int to) {
  cg_chain s = {.ops = ch->ops + from, .n = to - from};
  for (int k = from; k < to; k++) s.weights[k - from] = ch->weights[k];
  return s;
}

typedef struct pipe_env {
  eltwise_env *e;
  LLVMValueRef lo, nblocks; /* blocks of width floats from element lo */
  int stages, cut[PIPE_STAGES + 1];
  /* line[k][d]: stage k's results waiting for stage k + 1, oldest first. */
  LLVMValueRef line[PIPE_STAGES - 1][PIPE_DISTANCE], fresh[PIPE_STAGES - 1];
} pipe_env;

/* Slot i: stage k works on block i - k·PIPE_DISTANCE when that is a block,
 * last stage first (it reads the oldest entry of its line before the shift),
 * then every line moves up by one. */
static void pipe_slot(cg *c, LLVMValueRef i, void *envp) {
  pipe_env *p = envp;
  LLVMBuilderRef b = c->b;
  for (int k = p->stages - 1; k >= 0; k--) {
    LLVMValueRef blk = LLVMBuildNSWSub(b, i, cg_i64(c, (int64_t)k * PIPE_DISTANCE), "blk");
    LLVMValueRef on = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, blk, cg_i64(c, 0), ""),
                                   LLVMBuildICmp(b, LLVMIntSLT, blk, p->nblocks, ""), "on");
    LLVMBasicBlockRef next = cg_if(c, on, "stage");
    LLVMValueRef at = LLVMBuildNSWAdd(b, p->lo, LLVMBuildNSWMul(b, blk, cg_i64(c, c->width), ""), "at");
    if (!k && c->nontemporal)
      for (int l = 0; l < c->width; l += LINE_FLOATS) {
        LLVMValueRef ahead = LLVMBuildAdd(b, at, cg_i64(c, PREFETCH_FLOATS + l), ""); /* may pass the end: a hint */
        LLVMValueRef args[] = {LLVMBuildGEP2(b, c->f32, c->x, &ahead, 1, ""),
                               LLVMConstInt(c->i32, 0, 0), LLVMConstInt(c->i32, 3, 0), LLVMConstInt(c->i32, 1, 0)};
        cg_intrinsic(c, "llvm.prefetch", &c->ptr, 1, args, 4); /* read, keep in all levels, data */
      }
    LLVMValueRef v = k ? LLVMBuildLoad2(b, c->vf, p->line[k - 1][0], "") : cg_load(c, c->x, at, NULL, 0.0f);
    cg_chain part = chain_slice(&p->e->chain, p->cut[k], p->cut[k + 1]);
    cg_pos pos = {.index = at};
    v = cg_chain_apply(c, &part, v, &pos);
    if (k == p->stages - 1) cg_store(c, v, c->y, at, NULL);
    else LLVMBuildStore(b, v, p->fresh[k]);
    cg_end_if(c, next);
  }
  for (int k = 0; k + 1 < p->stages; k++) {
    for (int d = 0; d + 1 < PIPE_DISTANCE; d++)
      LLVMBuildStore(b, LLVMBuildLoad2(b, c->vf, p->line[k][d + 1], ""), p->line[k][d]);
    LLVMBuildStore(b, LLVMBuildLoad2(b, c->vf, p->fresh[k], ""), p->line[k][PIPE_DISTANCE - 1]);
  }
}

/* [lo, n) with the chain in p->stages stages: full blocks pipelined, then
 * the masked tail as one vector. */
static void pipelined_loop(cg *c, LLVMValueRef lo, LLVMValueRef n, pipe_env *p) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef rem, full = cg_full_vectors(c, lo, n, &rem);
  p->lo = lo;
  p->nblocks = LLVMBuildSDiv(b, LLVMBuildNSWSub(b, full, lo, ""), cg_i64(c, c->width), "nblocks");
  LLVMValueRef poison = LLVMGetPoison(c->vf);
  for (int k = 0; k + 1 < p->stages; k++) {
    for (int d = 0; d < PIPE_DISTANCE; d++) p->line[k][d] = cg_var(c, c->vf, poison);
    p->fresh[k] = cg_var(c, c->vf, poison);
  }
  LLVMValueRef slots = LLVMBuildNSWAdd(b, p->nblocks, cg_i64(c, (int64_t)(p->stages - 1) * PIPE_DISTANCE), "slots");
  cg_for(c, cg_i64(c, 0), slots, 1, pipe_slot, p);
  cg_vector_tail(c, full, rem, eltwise_vector, p->e);
}

/* [lo, n), pipelined when the chain has stages. */
static void chain_loop(cg *c, LLVMValueRef lo, LLVMValueRef n, pipe_env *p) {
  if (p->stages > 1) pipelined_loop(c, lo, n, p);
  else cg_vector_loop_from(c, lo, n, eltwise_vector, p->e);
}

/* Outputs of CG_STREAM_MIN floats and more are streamed: from a first
 * masked vector up to a register-aligned address, then aligned
 * non-temporal stores.  Pipelined chains too: compute-bound, they still
 * leave the reads and the write-allocate of ordinary stores competing for
 * the bandwidth, which on a loaded host is what they wait on (Zen 4,
 * leaky_relu → sigmoid → tanh on 16M floats, interleaved A/B in one
 * process: streaming 0.77-1.01× the time of ordinary stores over 8 runs,
 * the gain largest when the memory is busiest). */
static void flat_loop(cg *c, LLVMValueRef n, eltwise_env *e) {
  LLVMBuilderRef b = c->b;
  pipe_env p = {.e = e};
  p.stages = pipeline_stages(c, &e->chain, p.cut);
  LLVMBasicBlockRef big = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "nt");
  LLVMBasicBlockRef small = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "cached");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
  LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGE, n, cg_i64(c, CG_STREAM_MIN), ""), big, small);
  LLVMPositionBuilderAtEnd(b, small);
  chain_loop(c, cg_i64(c, 0), n, &p);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, big);
  int64_t align = (int64_t)c->reg_width * 4;
  LLVMValueRef addr = LLVMBuildPtrToInt(b, c->y, c->i64, "");
  LLVMValueRef head = LLVMBuildLShr(b, LLVMBuildAnd(b, LLVMBuildNeg(b, addr, ""), cg_i64(c, align - 1), ""),
                                    cg_i64(c, 2), "head"); /* floats up to the boundary (y is 4-aligned) */
  eltwise_vector(c, cg_i64(c, 0), cg_first_lanes(c, head), e);
  c->nontemporal = true;
  chain_loop(c, head, n, &p);
  c->nontemporal = false;
  cg_sfence(c);
  LLVMBuildBr(b, done);
  LLVMPositionBuilderAtEnd(b, done);
}

void cg_eltwise_kernel(cg *c, const node *const *ops, int n) {
  const shape *s = &ops[0]->shape;
  eltwise_env e = {.channels = 1};
  cg_chain_init(c, &e.chain, ops, n);
  for (int k = 0; k < n; k++)
    if (ops[k]->op == OP_PRELU && c->g->nodes[ops[k]->args[1]].shape.d[0] > 1)
      e.channels = c->g->nodes[ops[k]->args[1]].shape.d[0];
  if (e.channels == 1) {
    flat_loop(c, cg_extent(c, shape_numel(s)), &e);
    return;
  }
  e.inner = shape_span(s, 2, s->rank).mul;
  cg_for(c, cg_i64(c, 0), cg_extent(c, shape_span(s, 0, e.inner == 1 ? 1 : 2)), 1, eltwise_row, &e);
}
