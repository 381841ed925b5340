/* Linear layers: y[r, o] = Σ_k x[r, k] · W[o, k] + b[o].  The weight is
 * bound packed as Wᵀ, [in][out rounded up to the vector width] with zero
 * padding (kernel.c), so a vector of consecutive outputs is one load.  A
 * register block of ROWS rows × COLS vectors of outputs accumulates over k
 * with one weight load per vector and one broadcast per row; the bias and
 * the fused epilogue are applied to the block in registers before the
 * store.  Rows and outputs that do not fill a block take narrower blocks,
 * the last vector of outputs masked.  With a fused softmax the block spans
 * the whole row of outputs, which is normalized in registers. */
#include <math.h>

#include "codegen.h"
#include "vmath.h"

/* MAX_COLS: a row of ROW_SOFTMAX_MAX outputs at the narrowest width. */
enum { ROWS = 4, COLS = 2, MAX_COLS = ROW_SOFTMAX_MAX / 4 };

/* Floats per row of the packed weight. */
int64_t cg_packed_stride(int64_t out, int width) { return (out + width - 1) / width * width; }

typedef struct linear_env {
  const cg_chain *epilogue;
  int64_t in, out, stride;
  LLVMValueRef w, bias;
  bool row_softmax;   /* each row of outputs ends in a softmax */
  int rows, cols;     /* the block being emitted */
  bool masked;        /* its last vector may run past `out` */
  LLVMValueRef r, o;  /* its first row and first output */
  LLVMValueRef acc[ROWS][MAX_COLS];
} linear_env;

static void k_step(cg *c, LLVMValueRef k, void *envp) {
  linear_env *e = envp;
  LLVMValueRef wv[MAX_COLS];
  LLVMValueRef wrow = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, k, cg_i64(c, e->stride), ""), e->o, "");
  for (int j = 0; j < e->cols; j++)
    wv[j] = cg_load(c, e->w, LLVMBuildNSWAdd(c->b, wrow, cg_i64(c, j * c->width), ""), NULL, 0);
  for (int i = 0; i < e->rows; i++) {
    LLVMValueRef xi = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, e->r, cg_i64(c, i), ""),
                                                             cg_i64(c, e->in), ""), k, "");
    LLVMValueRef xb = cg_splat(c, cg_load_scalar(c, c->x, xi));
    for (int j = 0; j < e->cols; j++) {
      LLVMValueRef acc = LLVMBuildLoad2(c->b, c->vf, e->acc[i][j], "acc");
      LLVMValueRef args[] = {xb, wv[j], acc};
      LLVMBuildStore(c->b, cg_intrinsic(c, "llvm.fmuladd", &c->vf, 1, args, 3), e->acc[i][j]);
    }
  }
}

/* Lanes of vector o..o+width that are outputs: all, or for the masked last
 * vector those below `out`. */
static LLVMValueRef out_mask(cg *c, linear_env *e, LLVMValueRef o, int j) {
  if (!e->masked || j != e->cols - 1) return NULL;
  return cg_first_lanes(c, LLVMBuildNSWSub(c->b, cg_i64(c, e->out), o, ""));
}

/* softmax over the row's vectors v[0..cols), masked lanes excluded, as
 * PyTorch computes it: exp(v - max) times 1/sum. */
static void row_softmax(cg *c, LLVMValueRef *v, LLVMValueRef *mask, int cols) {
  LLVMValueRef neg_inf = vm_splat(c->vf, -INFINITY), m = neg_inf;
  for (int j = 0; j < cols; j++) {
    if (mask[j]) v[j] = LLVMBuildSelect(c->b, mask[j], v[j], neg_inf, "");
    m = cg_max(c, v[j], m);
  }
  m = cg_splat(c, cg_reduce_max(c, m));
  LLVMValueRef sum = LLVMConstNull(c->vf);
  for (int j = 0; j < cols; j++) {
    v[j] = vm_exp(c->b, LLVMBuildFSub(c->b, v[j], m, ""));
    sum = LLVMBuildFAdd(c->b, sum, mask[j] ? LLVMBuildSelect(c->b, mask[j], v[j], LLVMConstNull(c->vf), "") : v[j], "");
  }
  LLVMValueRef rsum = LLVMBuildFDiv(c->b, vm_splat(c->vf, 1.0f), cg_splat(c, cg_reduce_add(c, sum)), "rsum");
  for (int j = 0; j < cols; j++) v[j] = LLVMBuildFMul(c->b, v[j], rsum, "y");
}

static void block(cg *c, linear_env *e) {
  for (int i = 0; i < e->rows; i++)
    for (int j = 0; j < e->cols; j++) LLVMBuildStore(c->b, LLVMConstNull(c->vf), e->acc[i][j]);
  cg_for(c, cg_i64(c, 0), cg_i64(c, e->in), 1, k_step, e);
  LLVMValueRef o[MAX_COLS], mask[MAX_COLS], bias[MAX_COLS];
  for (int j = 0; j < e->cols; j++) {
    o[j] = LLVMBuildNSWAdd(c->b, e->o, cg_i64(c, j * c->width), "o");
    mask[j] = out_mask(c, e, o[j], j);
    bias[j] = e->bias ? cg_load(c, e->bias, o[j], mask[j], 0.0f) : NULL;
  }
  for (int i = 0; i < e->rows; i++) {
    LLVMValueRef row = LLVMBuildNSWAdd(c->b, e->r, cg_i64(c, i), "");
    LLVMValueRef v[MAX_COLS], at[MAX_COLS];
    for (int j = 0; j < e->cols; j++) {
      v[j] = LLVMBuildLoad2(c->b, c->vf, e->acc[i][j], "sum");
      if (bias[j]) v[j] = LLVMBuildFAdd(c->b, v[j], bias[j], "biased");
      at[j] = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, row, cg_i64(c, e->out), ""), o[j], "at");
      /* Output feature o is the channel (dim 1 of a rank-2 output). */
      v[j] = cg_chain_apply(c, e->epilogue, v[j],
                            &(cg_pos){.index = at[j], .channel = o[j], .lanes_are_channels = true, .mask = mask[j]});
    }
    if (e->row_softmax) row_softmax(c, v, mask, e->cols);
    for (int j = 0; j < e->cols; j++) cg_store(c, v[j], c->y, at[j], mask[j]);
  }
}

static void o_block(cg *c, LLVMValueRef o, void *envp) {
  linear_env *e = envp;
  e->o = o;
  block(c, e);
}

/* All outputs of rows [r, r + e->rows): full COLS-vector blocks, then single
 * vectors, the last one masked. */
static void r_block(cg *c, LLVMValueRef r, void *envp) {
  linear_env *e = envp;
  e->r = r;
  if (e->row_softmax) { /* one block holds the whole row */
    e->cols = (int)((e->out + c->width - 1) / c->width);
    e->masked = e->out % c->width != 0;
    e->o = cg_i64(c, 0);
    block(c, e);
    return;
  }
  int64_t wide = COLS * c->width, full = e->out / wide * wide;
  e->cols = COLS, e->masked = false;
  cg_for(c, cg_i64(c, 0), cg_i64(c, full), wide, o_block, e);
  int64_t vecs = full + (e->out - full) / c->width * c->width;
  e->cols = 1;
  cg_for(c, cg_i64(c, full), cg_i64(c, vecs), c->width, o_block, e);
  if (vecs < e->out) {
    e->masked = true;
    e->o = cg_i64(c, vecs);
    block(c, e);
  }
}

void cg_linear_kernel(cg *c, const node *nd, const cg_chain *epilogue, bool row_softmax) {
  const shape *ws = &c->g->nodes[nd->args[1]].shape;
  linear_env e = {.epilogue = epilogue, .out = ws->d[0], .in = ws->d[1], .row_softmax = row_softmax};
  e.stride = cg_packed_stride(e.out, c->width);
  e.w = cg_param(c, nd->args[1]);
  e.bias = nd->nargs == 3 ? cg_param(c, nd->args[2]) : NULL;
  int cols = row_softmax ? (int)((e.out + c->width - 1) / c->width) : COLS;
  for (int i = 0; i < ROWS; i++)
    for (int j = 0; j < cols; j++) e.acc[i][j] = cg_var(c, c->vf, LLVMConstNull(c->vf));
  /* Wide rows of a fused softmax take fewer rows a block, to stay in registers. */
  int block_rows = cols <= COLS ? ROWS : 1;
  LLVMValueRef rows = cg_extent(c, shape_span(&nd->shape, 0, nd->shape.rank - 1));
  LLVMValueRef full = LLVMBuildNSWSub(c->b, rows, LLVMBuildSRem(c->b, rows, cg_i64(c, block_rows), ""), "full");
  e.rows = block_rows;
  cg_for(c, cg_i64(c, 0), full, block_rows, r_block, &e);
  e.rows = 1;
  cg_for(c, full, rows, 1, r_block, &e);
}
