/* Softmax along one dim, viewed as outer × len × inner, with the group's
 * elementwise members (the prologue) applied to each value as it is loaded.  Two sweeps with an
 * online normalizer (Milakov & Gimelshein 2018), reading the input at most
 * twice:
 *
 *   1. walking the row in chunks, keep a running max m and a running sum
 *      s = Σ exp(x - m) (rescaled when m grows, which it does lazily: see
 *      LAZY_MAX_SLACK), and store exp(x - m) with the m of its chunk;
 *   2. walk the same chunks again and scale the stored values by
 *      exp(m - M) / S, M and S being the row's final max and sum.  The
 *      first sweep keeps each chunk's m (up to CHUNK_MAXIMA_MAX chunks, a
 *      row length known at compile time), so the input is read once and
 *      the chunks' exp(m - M) wait on no load; else m is recomputed from
 *      the input (max only: its second read).
 *
 * exp runs once per element, once per chunk of UNROLL vectors in the
 * second sweep, and once more where the first sweep moves m; its arguments
 * are at most LAZY_MAX_SLACK, which lets vm_exp_nonpos skip the overflow
 * clamp.  In place (output over input) with kept maxima nothing changes:
 * the second sweep never reads the input.
 * Without them it cannot re-read the input after the first overwrote it, so
 * the first only reads and the second recomputes m and exp(x - m) from the
 * input before it writes: one more exp per element, and the same bits as
 * out of place (fused plans run softmax in place where unfused ones do not).
 * inner == 1 vectorizes along the row, lanes keeping their own m and s until
 * the end; otherwise the vector runs along inner (independent columns) and
 * the sweeps stride over len.
 *
 * Special values follow PyTorch: a NaN or +Inf in a row makes the row NaN
 * (through s), and a row of -Inf is NaN.
 *
 * softmin is softmax of -x (PyTorch's definition): the loads negate.
 * log_softmax is (x - M) - log S, PyTorch's order of operations: its first
 * sweep only reads and the second writes from the input. */
#include <float.h>
#include <math.h>

#include "codegen/codegen.h"
#include "codegen/vmath.h"
#include "ir/group.h"

enum { UNROLL = 8, CHUNK_MAXIMA_MAX = 64, SHORT_VECTORS = 8 };
/* short_rows' values at once: SHORT_VECTORS, or one row of ROW_SOFTMAX_MAX
 * floats in 4-float vectors */
enum { SHORT_ROW_VALUES = SHORT_VECTORS > ROW_SOFTMAX_MAX / 4 ? SHORT_VECTORS : ROW_SOFTMAX_MAX / 4 };

/* The running max a softmax's exponents are taken against moves lazily: a
 * chunk raises it (and rescales the sums, an exp per chunk) only when some
 * lane of the chunk exceeds it by more than this, so most chunks of a row
 * skip the rescale (Zen 4, [16, 1000] in L1, with chunk_max's tree: 4.95 ->
 * 4.44 us, interleaved A/B).  exp(x - m) is then at most e^2 and the second
 * sweep's exp(m - M) / S at least e^-2 times an output, which costs
 * precision only for outputs within e^2 of FLT_MIN, where the factor is
 * already a denormal (test_ops' WIDE rows fail with a slack of 30).
 * log_softmax's (x - M) - log S would cancel: it keeps the exact max. */
#define LAZY_MAX_SLACK 2.0f

typedef struct softmax_env {
  cg_dag prologue;
  int src;                      /* the member the softmax reads, or -1: the input itself */
  LLVMValueRef x;               /* the input */
  int64_t inner;
  LLVMValueRef len, base;       /* row length, element offset of the row */
  LLVMValueRef lane, lane_mask; /* inner > 1: column offset and its tail mask */
  LLVMValueRef vmax, vsum;      /* running max and sum (variables) */
  LLVMValueRef max, rsum;       /* final max and 1/sum, for the second sweep */
  LLVMValueRef maxima;          /* each chunk's running max, or NULL: recomputed */
  bool second;                  /* which sweep is being emitted */
  bool in_place;                /* y is x */
  bool negate, log;             /* softmin, log_softmax */
  bool exp_again;               /* the first sweep stores nothing: the second recomputes exp(x - m) */
} softmax_env;

/* Row positions a chunk covers: UNROLL vectors along the row, or UNROLL
 * steps along len when the vector runs along inner. */
static int64_t chunk_span(const cg *c, const softmax_env *e) { return e->inner == 1 ? (int64_t)UNROLL * c->width : UNROLL; }

static LLVMValueRef element(cg *c, softmax_env *e, LLVMValueRef k) {
  if (e->inner == 1) return LLVMBuildNSWAdd(c->b, e->base, k, "at");
  LLVMValueRef off = LLVMBuildNSWMul(c->b, k, cg_i64(c, e->inner), "");
  return LLVMBuildNSWAdd(c->b, LLVMBuildNSWAdd(c->b, e->base, off, ""), e->lane, "at");
}

static LLVMValueRef neg_inf(cg *c) { return vm_splat(c->vf, -INFINITY); }

/* The running max starts at -FLT_MAX, not -Inf: then x - m is never
 * -Inf + Inf, -Inf inputs give exp(-Inf) = 0 with no special case, and a row
 * of -Inf still ends as 0 · (1/0) = NaN, as in PyTorch. */
static LLVMValueRef lowest(cg *c) { return vm_splat(c->vf, -FLT_MAX); }

/* prologue(x[k]); masked-off lanes read -Inf, which adds nothing.  The
 * prologue reads the input (of the softmax's shape: offset `at`) and
 * scalars (offset 0). */
static LLVMValueRef load_x(cg *c, softmax_env *e, LLVMValueRef at, LLVMValueRef mask) {
  LLVMValueRef v;
  if (e->src < 0) {
    v = cg_load(c, e->x, at, mask, 0.0f);
  } else {
    cg_dag *d = &e->prologue;
    LLVMValueRef off[SPACE_MAX_OPERANDS];
    for (int u = 0; u < d->space.nops; u++) off[u] = d->space.stride[u][0] ? at : cg_i64(c, 0);
    cg_dag_eval(c, d, 0, d->n, &(cg_pos){.index = at, .mask = mask, .off = off});
    v = d->val[e->src];
  }
  if (e->negate) v = LLVMBuildFNeg(c->b, v, "neg");
  return mask ? LLVMBuildSelect(c->b, mask, v, neg_inf(c), "x") : v;
}

/* The max of n vectors, as a tree (a shorter chain than left to right); a
 * NaN may be skipped or kept (either way the running max skips it). */
static LLVMValueRef chunk_max(cg *c, LLVMValueRef *xs, int n) {
  LLVMValueRef t[UNROLL];
  for (int j = 0; j < n; j++) t[j] = xs[j];
  for (int w = 1; w < n; w *= 2)
    for (int j = 0; j + w < n; j += 2 * w) t[j] = cg_max(c, t[j + w], t[j]);
  return t[0];
}

/* The chunk's running max m' from the chunk's max cm and the row's m so far
 * (e->vmax, updated): m' = max(m, cm) lane by lane, NaN skipped, when some
 * lane of cm exceeds m by more than the slack, else m' = m.  On a move the
 * first sweep scales the sums by exp(m - m'). */
static LLVMValueRef running_max(cg *c, softmax_env *e, LLVMValueRef cm) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef m = LLVMBuildLoad2(b, c->vf, e->vmax, "m");
  LLVMValueRef bound = e->log ? m : LLVMBuildFAdd(b, m, vm_splat(c->vf, LAZY_MAX_SLACK), "bound");
  LLVMValueRef above = LLVMBuildFCmp(b, LLVMRealOGT, cm, bound, "above");
  LLVMValueRef any = cg_intrinsic(c, "llvm.vector.reduce.or", &c->vmask, 1, &above, 1);
  LLVMBasicBlockRef done = cg_if(c, any, "max.move");
  LLVMValueRef mn = cg_max(c, cm, m);
  LLVMBuildStore(b, mn, e->vmax);
  if (!e->second) {
    LLVMValueRef scale = vm_exp_nonpos(b, LLVMBuildFSub(b, m, mn, ""));
    LLVMBuildStore(b, LLVMBuildFMul(b, LLVMBuildLoad2(b, c->vf, e->vsum, "s"), scale, ""), e->vsum);
  }
  cg_end_if(c, done);
  return LLVMBuildLoad2(b, c->vf, e->vmax, "m'");
}

/* One chunk of n vectors at positions at[], masks mask[], the idx-th of
 * its row.  Both sweeps know the same running max m' (running_max), kept
 * in maxima[idx] by the first or recomputed by the second. */
static void chunk(cg *c, softmax_env *e, LLVMValueRef idx, LLVMValueRef *at, LLVMValueRef *mask, int n) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef slot = e->maxima ? LLVMBuildInBoundsGEP2(b, c->vf, e->maxima, &idx, 1, "slot") : NULL;
  bool kept = e->second && slot; /* m' and exp(x - m') stored: x is not read again */
  LLVMValueRef xs[UNROLL] = {0};
  for (int j = 0; j < n && !kept; j++) xs[j] = load_x(c, e, at[j], mask[j]);
  if (e->second && e->log) {
    for (int j = 0; j < n; j++)
      cg_store(c, LLVMBuildFSub(b, LLVMBuildFSub(b, xs[j], e->max, ""), e->rsum, "y"), c->y, at[j], mask[j]);
    return;
  }
  LLVMValueRef mn;
  if (kept) {
    mn = LLVMBuildLoad2(b, c->vf, slot, "m");
  } else {
    mn = running_max(c, e, chunk_max(c, xs, n));
    if (slot && !e->second) LLVMBuildStore(b, mn, slot);
  }
  if (e->second) {
    /* y = exp(x - m') · exp(m' - M) / S */
    LLVMValueRef f = LLVMBuildFMul(b, vm_exp_nonpos(b, LLVMBuildFSub(b, mn, e->max, "")), e->rsum, "f");
    for (int j = 0; j < n; j++) {
      LLVMValueRef ex = e->exp_again ? vm_exp_nonpos(b, LLVMBuildFSub(b, xs[j], mn, ""))
                                     : cg_load(c, c->y, at[j], mask[j], 0.0f);
      cg_store(c, LLVMBuildFMul(b, ex, f, "y"), c->y, at[j], mask[j]);
    }
    return;
  }
  LLVMValueRef zero = LLVMConstNull(c->vf);
  LLVMValueRef s = LLVMBuildLoad2(b, c->vf, e->vsum, "s");
  for (int j = 0; j < n; j++) {
    LLVMValueRef ex = vm_exp_nonpos(b, LLVMBuildFSub(b, xs[j], mn, ""));
    if (!e->exp_again) cg_store(c, ex, c->y, at[j], mask[j]);
    s = LLVMBuildFAdd(b, s, mask[j] ? LLVMBuildSelect(b, mask[j], ex, zero, "") : ex, "");
  }
  LLVMBuildStore(b, s, e->vsum);
}

/* The chunks: UNROLL vectors at a time, then one at a time (the last one
 * masked when inner == 1). */
static void chunk_step(cg *c, LLVMValueRef k, void *envp) {
  softmax_env *e = envp;
  LLVMValueRef at[UNROLL], mask[UNROLL];
  int64_t stride = e->inner == 1 ? c->width : 1;
  for (int j = 0; j < UNROLL; j++) {
    at[j] = element(c, e, LLVMBuildNSWAdd(c->b, k, cg_i64(c, j * stride), ""));
    mask[j] = e->inner == 1 ? NULL : e->lane_mask;
  }
  chunk(c, e, LLVMBuildExactSDiv(c->b, k, cg_i64(c, chunk_span(c, e)), "idx"), at, mask, UNROLL);
}

static void single_step(cg *c, LLVMValueRef k, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  LLVMValueRef at = element(c, e, k), m = e->inner == 1 ? mask : e->lane_mask;
  chunk(c, e, NULL, &at, &m, 1); /* only without stored maxima */
}

static void single_strided(cg *c, LLVMValueRef k, void *envp) { single_step(c, k, NULL, envp); }

/* With a row length known at compile time the rest of the row after the
 * whole chunks is one last chunk (its last vector masked): one rescale for
 * it, not one per vector. */
static bool last_chunk(cg *c, softmax_env *e, int64_t start) {
  if (!LLVMIsAConstantInt(e->len)) return false;
  int64_t len = LLVMConstIntGetSExtValue(e->len), step = e->inner == 1 ? c->width : 1;
  int n = (int)((len - start + step - 1) / step);
  if (n == 0) return true;
  if (n > UNROLL) return false; /* not after whole chunks */
  LLVMValueRef at[UNROLL], mask[UNROLL];
  for (int j = 0; j < n; j++) {
    int64_t k = start + j * step;
    at[j] = element(c, e, cg_i64(c, k));
    mask[j] = e->inner != 1 ? e->lane_mask : NULL;
    if (e->inner == 1 && len - k < c->width) mask[j] = cg_first_lanes(c, cg_i64(c, len - k)); /* folds to a constant */
  }
  chunk(c, e, cg_i64(c, start / chunk_span(c, e)), at, mask, n);
  return true;
}

static void sweep(cg *c, softmax_env *e) {
  LLVMBuildStore(c->b, lowest(c), e->vmax);
  int64_t span = chunk_span(c, e);
  LLVMValueRef chunks_end = LLVMBuildNSWSub(c->b, e->len, LLVMBuildSRem(c->b, e->len, cg_i64(c, span), ""), "chunks");
  cg_for(c, cg_i64(c, 0), chunks_end, span, chunk_step, e);
  if (LLVMIsAConstantInt(chunks_end) && last_chunk(c, e, LLVMConstIntGetSExtValue(chunks_end))) return;
  if (e->inner == 1) cg_vector_loop_from(c, chunks_end, e->len, single_step, e);
  else cg_for(c, chunks_end, e->len, 1, single_strided, e);
}

static void normalize(cg *c, softmax_env *e) {
  LLVMBuilderRef b = c->b;
  LLVMBuildStore(b, LLVMConstNull(c->vf), e->vsum);
  e->second = false;
  sweep(c, e);
  LLVMValueRef m = LLVMBuildLoad2(b, c->vf, e->vmax, "m"), s = LLVMBuildLoad2(b, c->vf, e->vsum, "s");
  if (e->inner == 1) {
    /* Merge the lanes: S = Σ s_i · exp(m_i - M). */
    LLVMValueRef big = cg_splat(c, cg_reduce_max(c, m));
    s = LLVMBuildFMul(b, s, vm_exp_nonpos(b, LLVMBuildFSub(b, m, big, "")), "");
    m = big;
    s = cg_splat(c, cg_reduce_add(c, s));
  }
  e->max = m;
  /* log_softmax: rsum holds log S instead */
  e->rsum = e->log ? vm_log(b, s) : LLVMBuildFDiv(b, vm_splat(c->vf, 1.0f), s, "rsum");
  e->second = true;
  sweep(c, e);
}

void cg_softmax_rows(cg *c, bool log, int rows, int n, LLVMValueRef *v, const LLVMValueRef *mask) {
  enum { MAX = 64 };
  LLVMBuilderRef b = c->b;
  LLVMValueRef zero = LLVMConstNull(c->vf), m[MAX], s[MAX], ex[MAX];
  for (int i = 0; i < rows; i++) {
    m[i] = lowest(c);
    for (int j = 0; j < n; j++) {
      LLVMValueRef *x = &v[i * n + j];
      if (mask[j]) *x = LLVMBuildSelect(b, mask[j], *x, neg_inf(c), "");
      m[i] = cg_max(c, *x, m[i]);
    }
    m[i] = cg_splat(c, cg_reduce_max(c, m[i]));
  }
  for (int q = 0; q < rows * n; q++) v[q] = LLVMBuildFSub(b, v[q], m[q / n], "");
  for (int q = 0; q < rows * n; q++) ex[q] = vm_exp_nonpos(b, v[q]);
  for (int i = 0; i < rows; i++) {
    LLVMValueRef sum = zero;
    for (int j = 0; j < n; j++)
      sum = LLVMBuildFAdd(b, sum, mask[j] ? LLVMBuildSelect(b, mask[j], ex[i * n + j], zero, "") : ex[i * n + j], "");
    sum = cg_splat(c, cg_reduce_add(c, sum));
    s[i] = log ? vm_log(b, sum) : LLVMBuildFDiv(b, vm_splat(c->vf, 1.0f), sum, "rsum");
  }
  for (int q = 0; q < rows * n; q++)
    v[q] = log ? LLVMBuildFSub(b, v[q], s[q / n], "y") : LLVMBuildFMul(b, ex[q], s[q / n], "y");
}

/* Rows of at most a few vectors (inner == 1, a length known at compile
 * time, such as a classifier's 10 outputs): the two sweeps and their chunk
 * bookkeeping would be most of the work, and one row's max, exp, sum and
 * scale form one long chain of dependent steps.  So `rows` rows are
 * normalized at once (cg_softmax_rows). */
typedef struct short_env {
  softmax_env *e;
  int64_t len;
  int nvec, rows; /* vectors a row; rows at once */
} short_env;

static void short_rows(cg *c, short_env *se, LLVMValueRef o0) {
  LLVMBuilderRef b = c->b;
  int n = se->nvec;
  LLVMValueRef at[SHORT_ROW_VALUES], mask[SHORT_ROW_VALUES], v[SHORT_ROW_VALUES];
  for (int j = 0; j < n; j++) {
    int64_t left = se->len - (int64_t)j * c->width;
    mask[j] = left < c->width ? cg_first_lanes(c, cg_i64(c, left)) : NULL;
  }
  for (int q = 0; q < se->rows * n; q++) {
    LLVMValueRef row = LLVMBuildNSWAdd(b, o0, cg_i64(c, q / n), "");
    at[q] = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, row, cg_i64(c, se->len), ""), cg_i64(c, (int64_t)(q % n) * c->width), "at");
    v[q] = load_x(c, se->e, at[q], mask[q % n]);
  }
  cg_softmax_rows(c, se->e->log, se->rows, n, v, mask);
  for (int q = 0; q < se->rows * n; q++) cg_store(c, v[q], c->y, at[q], mask[q % n]);
}

static void short_rows_step(cg *c, LLVMValueRef o, void *envp) { short_rows(c, envp, o); }

/* Whether rows of e are short enough for short_rows: how many vectors a
 * row, or 0.  A row a linear's softmax normalizes in registers (of at most
 * ROW_SOFTMAX_MAX floats, however narrow the vectors) is one too, so that
 * the fused and the unfused plan compute it the same way (on SSE a row of
 * 24 is six vectors: the chunked sweeps, with their lazy max, rounded it
 * otherwise). */
static int short_row_vectors(const cg *c, const softmax_env *e) {
  if (e->inner != 1 || !LLVMIsAConstantInt(e->len)) return 0;
  int64_t len = LLVMConstIntGetSExtValue(e->len), n = (len + c->width - 1) / c->width;
  return len > 0 && (n <= SHORT_VECTORS / 2 || len <= ROW_SOFTMAX_MAX) ? (int)n : 0;
}

static void column_block(cg *c, LLVMValueRef lane, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  e->lane = lane;
  e->lane_mask = mask;
  normalize(c, e);
}

static void one_outer(cg *c, LLVMValueRef o, void *envp) {
  softmax_env *e = envp;
  e->base = LLVMBuildNSWMul(c->b, o, LLVMBuildNSWMul(c->b, e->len, cg_i64(c, e->inner), ""), "base");
  if (e->inner == 1) normalize(c, e);
  else cg_vector_loop(c, cg_i64(c, e->inner), column_block, e);
}

void cg_softmax_kernel(cg *c, const group *gr, bool in_place) {
  const node *nd = &c->g->nodes[gr->m[gr->n - 1]];
  const shape *s = &nd->shape;
  int axis = dim_index(nd->attr[0], s->rank);
  softmax_env e = {.inner = shape_span(s, axis + 1, s->rank).mul, .in_place = in_place,
                   .negate = nd->op == OP_SOFTMIN, .log = nd->op == OP_LOG_SOFTMAX, .src = -1, .x = c->in[0]};
  cg_dag_init(c, &e.prologue, gr);
  space_merge(&e.prologue.space, 0, s->rank); /* the input is contiguous: one flat dim */
  for (int i = 0; i + 1 < gr->n; i++)
    if (gr->m[i] == nd->args[0]) e.src = i;
  e.len = cg_extent(c, shape_span(s, axis, axis + 1));
  e.vmax = cg_var(c, c->vf, LLVMConstNull(c->vf));
  e.vsum = cg_var(c, c->vf, LLVMConstNull(c->vf));
  if (!e.log && LLVMIsAConstantInt(e.len)) {
    int64_t span = chunk_span(c, &e);
    int64_t chunks = (LLVMConstIntGetSExtValue(e.len) + span - 1) / span;
    if (chunks <= CHUNK_MAXIMA_MAX) e.maxima = cg_alloca(c, LLVMArrayType(c->vf, (unsigned)chunks));
  }
  e.exp_again = e.log || (e.in_place && !e.maxima);
  LLVMValueRef outer = cg_extent(c, shape_span(s, 0, axis));
  int nvec = short_row_vectors(c, &e);
  if (!nvec) {
    cg_for(c, cg_i64(c, 0), outer, 1, one_outer, &e);
    return;
  }
  /* rows at once: as many as fill SHORT_VECTORS, then one at a time */
  short_env se = {.e = &e, .len = LLVMConstIntGetSExtValue(e.len), .nvec = nvec, .rows = SHORT_VECTORS / nvec};
  LLVMValueRef whole = cg_i64(c, 0);
  if (se.rows > 1) {
    whole = LLVMBuildNSWSub(c->b, outer, LLVMBuildSRem(c->b, outer, cg_i64(c, se.rows), ""), "whole");
    cg_for(c, cg_i64(c, 0), whole, se.rows, short_rows_step, &se);
  }
  se.rows = 1;
  cg_for(c, whole, outer, 1, short_rows_step, &se);
}
