/* Softmax along one dim, viewed as outer × len × inner, with the fused
 * prologue chain applied to each value as it is loaded.  Two sweeps with an
 * online normalizer (Milakov & Gimelshein 2018): the first keeps a running
 * max m and a running sum s of exp(x - m), rescaling s when m grows; the
 * second writes exp(x - m) / s.  The input is read twice, the output written
 * once.  inner == 1 vectorizes along the row, chunks of UNROLL vectors
 * sharing one rescale; otherwise the vector runs along inner (independent
 * columns) and the sweeps stride over len.
 *
 * Special values follow PyTorch: a NaN or +Inf in a row makes the row NaN
 * (through s), and a row of -Inf is NaN (0 · 1/0). */
#include <math.h>

#include "codegen.h"
#include "vmath.h"

enum { UNROLL = 4 };

typedef struct softmax_env {
  const cg_chain *prologue;
  int64_t inner;
  LLVMValueRef len, base;       /* row length, element offset of the row */
  LLVMValueRef lane, lane_mask; /* inner > 1: column offset and its tail mask */
  LLVMValueRef vmax, vsum;      /* running max and sum (variables) */
  LLVMValueRef max, rsum;       /* final max and 1/sum, for the second sweep */
} softmax_env;

static LLVMValueRef element(cg *c, softmax_env *e, LLVMValueRef k) {
  if (e->inner == 1) return LLVMBuildNSWAdd(c->b, e->base, k, "at");
  LLVMValueRef off = LLVMBuildNSWMul(c->b, k, cg_i64(c, e->inner), "");
  return LLVMBuildNSWAdd(c->b, LLVMBuildNSWAdd(c->b, e->base, off, ""), e->lane, "at");
}

static LLVMValueRef neg_inf(cg *c) { return vm_splat(c->vf, -INFINITY); }

/* prologue(x[k]); masked-off lanes read -Inf, which adds nothing. */
static LLVMValueRef load_x(cg *c, softmax_env *e, LLVMValueRef k, LLVMValueRef mask) {
  LLVMValueRef at = element(c, e, k);
  LLVMValueRef v = cg_load(c, c->x, at, mask, 0.0f);
  v = cg_chain_apply(c, e->prologue, v, &(cg_pos){.index = at, .mask = mask});
  return mask ? LLVMBuildSelect(c->b, mask, v, neg_inf(c), "x") : v;
}

/* m' = max(m, xs...); s = s·exp(m - m') + Σ exp(x - m').  While m' is -Inf
 * every x is -Inf or NaN: the term is exp(x) (0 or NaN), not exp(-Inf + Inf),
 * and the scale is 1.  The max skips NaN; the sum keeps it. */
static void accumulate(cg *c, softmax_env *e, LLVMValueRef *xs, int n) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef cm = xs[0];
  for (int j = 1; j < n; j++) cm = cg_max(c, xs[j], cm);
  LLVMValueRef m = LLVMBuildLoad2(b, c->vf, e->vmax, "m");
  LLVMValueRef mn = cg_max(c, cm, m);
  LLVMValueRef none = LLVMBuildFCmp(b, LLVMRealOEQ, mn, neg_inf(c), "none");
  LLVMValueRef zero = LLVMConstNull(c->vf);
  LLVMValueRef scale = vm_exp(b, LLVMBuildSelect(b, none, zero, LLVMBuildFSub(b, m, mn, ""), ""));
  LLVMValueRef s = LLVMBuildFMul(b, LLVMBuildLoad2(b, c->vf, e->vsum, "s"), scale, "");
  for (int j = 0; j < n; j++)
    s = LLVMBuildFAdd(b, s, vm_exp(b, LLVMBuildSelect(b, none, xs[j], LLVMBuildFSub(b, xs[j], mn, ""), "")), "");
  LLVMBuildStore(b, mn, e->vmax);
  LLVMBuildStore(b, s, e->vsum);
}

/* First sweep: UNROLL vectors at a time, then one at a time. */
static void chunk_step(cg *c, LLVMValueRef k, void *envp) {
  softmax_env *e = envp;
  LLVMValueRef xs[UNROLL];
  int64_t stride = e->inner == 1 ? c->width : 1;
  for (int j = 0; j < UNROLL; j++)
    xs[j] = load_x(c, e, LLVMBuildNSWAdd(c->b, k, cg_i64(c, j * stride), ""), e->inner == 1 ? NULL : e->lane_mask);
  accumulate(c, e, xs, UNROLL);
}

static void single_step(cg *c, LLVMValueRef k, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  LLVMValueRef x = load_x(c, e, k, e->inner == 1 ? mask : e->lane_mask);
  accumulate(c, e, &x, 1);
}

static void single_strided(cg *c, LLVMValueRef k, void *envp) { single_step(c, k, NULL, envp); }

/* Second sweep: y = exp(x - max) · (1/sum). */
static void write_step(cg *c, LLVMValueRef k, LLVMValueRef mask, void *envp) {
  softmax_env *e = envp;
  mask = e->inner == 1 ? mask : e->lane_mask;
  LLVMValueRef y = vm_exp(c->b, LLVMBuildFSub(c->b, load_x(c, e, k, mask), e->max, ""));
  cg_store(c, LLVMBuildFMul(c->b, y, e->rsum, "y"), c->y, element(c, e, k), mask);
}

static void write_strided(cg *c, LLVMValueRef k, void *envp) { write_step(c, k, NULL, envp); }

static void normalize(cg *c, softmax_env *e) {
  LLVMBuilderRef b = c->b;
  LLVMBuildStore(b, neg_inf(c), e->vmax);
  LLVMBuildStore(b, LLVMConstNull(c->vf), e->vsum);
  int64_t chunk = e->inner == 1 ? (int64_t)UNROLL * c->width : UNROLL;
  LLVMValueRef chunks_end = LLVMBuildNSWSub(b, e->len, LLVMBuildSRem(b, e->len, cg_i64(c, chunk), ""), "chunks");
  cg_for(c, cg_i64(c, 0), chunks_end, chunk, chunk_step, e);
  if (e->inner == 1) cg_vector_loop_from(c, chunks_end, e->len, single_step, e);
  else cg_for(c, chunks_end, e->len, 1, single_strided, e);

  LLVMValueRef m = LLVMBuildLoad2(b, c->vf, e->vmax, "m"), s = LLVMBuildLoad2(b, c->vf, e->vsum, "s");
  if (e->inner == 1) {
    /* Merge the lanes: S = Σ s_i · exp(m_i - M). */
    LLVMValueRef big = cg_splat(c, cg_reduce_max(c, m));
    s = LLVMBuildFMul(b, s, vm_exp(b, LLVMBuildFSub(b, m, big, "")), "");
    m = big;
    s = cg_splat(c, cg_reduce_add(c, s));
  }
  e->max = m;
  e->rsum = LLVMBuildFDiv(b, vm_splat(c->vf, 1.0f), s, "rsum");
  if (e->inner == 1) cg_vector_loop(c, e->len, write_step, e);
  else cg_for(c, cg_i64(c, 0), e->len, 1, write_strided, e);
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

void cg_softmax_kernel(cg *c, const node *nd, const cg_chain *prologue) {
  const shape *s = &nd->shape;
  int axis = (int)(nd->attr[0] < 0 ? nd->attr[0] + s->rank : nd->attr[0]);
  softmax_env e = {.prologue = prologue, .inner = shape_span(s, axis + 1, s->rank).mul};
  e.len = cg_extent(c, shape_span(s, axis, axis + 1));
  e.vmax = cg_var(c, c->vf, LLVMConstNull(c->vf));
  e.vsum = cg_var(c, c->vf, LLVMConstNull(c->vf));
  cg_for(c, cg_i64(c, 0), cg_extent(c, shape_span(s, 0, axis)), 1, one_outer, &e);
}
