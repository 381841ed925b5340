/* Linear layers: y[r, o] = Σ_k x[r, k] · W[o, k] + b[o].  The weight is
 * bound packed as Wᵀ, [in][out rounded up to the vector width] with zero
 * padding (kernel.c), so a vector of consecutive outputs is one load.  A
 * register block of ROWS rows × COLS vectors of outputs accumulates over k
 * with one weight load per vector and one broadcast per row; the bias and
 * the group's elementwise members (the epilogue, a dag that may read other
 * tensors at the same outputs) are applied to the block in registers before
 * the store.  Two linears of one input (KF_DUAL_LINEAR) accumulate side by
 * side in one k loop, each block of x read once for both, and only the
 * epilogue's value is stored.  Rows and outputs that do not fill a block
 * take narrower blocks, the last vector of outputs masked.  With a fused
 * softmax the block spans the whole row of outputs, which is normalized in
 * registers. */
#include <math.h>

#include "codegen/codegen.h"
#include "codegen/vmath.h"

/* MAX_COLS: a row of ROW_SOFTMAX_MAX outputs at the narrowest width. */
enum { ROWS = 4, COLS = 2, MAX_COLS = ROW_SOFTMAX_MAX / 4, MAX_LINEARS = 2 };

/* Floats per row of the packed weight. */
int64_t cg_packed_stride(int64_t out, int width) { return (out + width - 1) / width * width; }

typedef struct linear_env {
  cg_dag dag;
  int nlin, member[MAX_LINEARS]; /* the linears: their members in the dag */
  int softmax_src;               /* KF_LINEAR_SOFTMAX: the member the softmax normalizes, else -1 */
  int64_t in, out, stride;
  LLVMValueRef x, w[MAX_LINEARS], bias[MAX_LINEARS];
  int cols_max;       /* vectors a block may span */
  int rows, cols;     /* the block being emitted */
  bool masked;        /* its last vector may run past `out` */
  LLVMValueRef r, o;  /* its first row and first output */
  LLVMValueRef acc[MAX_LINEARS][ROWS][MAX_COLS];
} linear_env;

static void k_step(cg *c, LLVMValueRef k, void *envp) {
  linear_env *e = envp;
  LLVMValueRef wv[MAX_LINEARS][MAX_COLS];
  LLVMValueRef wrow = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, k, cg_i64(c, e->stride), ""), e->o, "");
  for (int l = 0; l < e->nlin; l++)
    for (int j = 0; j < e->cols; j++)
      wv[l][j] = cg_load(c, e->w[l], LLVMBuildNSWAdd(c->b, wrow, cg_i64(c, j * c->width), ""), NULL, 0);
  for (int i = 0; i < e->rows; i++) {
    LLVMValueRef xi = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, e->r, cg_i64(c, i), ""),
                                                             cg_i64(c, e->in), ""), k, "");
    LLVMValueRef xb = cg_splat(c, cg_load_scalar(c, e->x, xi));
    for (int l = 0; l < e->nlin; l++)
      for (int j = 0; j < e->cols; j++) {
        LLVMValueRef acc = LLVMBuildLoad2(c->b, c->vf, e->acc[l][i][j], "acc");
        LLVMValueRef args[] = {xb, wv[l][j], acc};
        LLVMBuildStore(c->b, cg_intrinsic(c, "llvm.fmuladd", &c->vf, 1, args, 3), e->acc[l][i][j]);
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

/* The epilogue of output vector (row, o): the linears' sums and biases,
 * then the dag, each use of it read at (row, o) by its strides. */
static LLVMValueRef epilogue(cg *c, linear_env *e, int i, int j, LLVMValueRef row, LLVMValueRef o, LLVMValueRef *bias,
                             LLVMValueRef mask) {
  cg_dag *d = &e->dag;
  for (int l = 0; l < e->nlin; l++) {
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->vf, e->acc[l][i][j], "sum");
    d->val[e->member[l]] = bias[l] ? LLVMBuildFAdd(c->b, v, bias[l], "biased") : v;
  }
  const loop_space *sp = &d->space;
  LLVMValueRef off[SPACE_MAX_OPERANDS];
  for (int u = 0; u < sp->nops; u++) {
    int64_t rs = sp->rank > 1 ? sp->stride[u][0] : 0, cs = sp->stride[u][sp->rank - 1];
    off[u] = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, row, cg_i64(c, rs), ""),
                             LLVMBuildNSWMul(c->b, o, cg_i64(c, cs), ""), "off");
  }
  LLVMValueRef at = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, row, cg_i64(c, e->out), ""), o, "at");
  cg_pos pos = {.index = at, .mask = mask, .off = off};
  cg_dag_eval(c, d, 0, d->n, &pos);
  return d->val[e->softmax_src >= 0 ? e->softmax_src : d->n - 1];
}

static void block(cg *c, linear_env *e) {
  for (int l = 0; l < e->nlin; l++)
    for (int i = 0; i < e->rows; i++)
      for (int j = 0; j < e->cols; j++) LLVMBuildStore(c->b, LLVMConstNull(c->vf), e->acc[l][i][j]);
  cg_for(c, cg_i64(c, 0), cg_i64(c, e->in), 1, k_step, e);
  LLVMValueRef o[MAX_COLS], mask[MAX_COLS], bias[MAX_COLS][MAX_LINEARS];
  for (int j = 0; j < e->cols; j++) {
    o[j] = LLVMBuildNSWAdd(c->b, e->o, cg_i64(c, j * c->width), "o");
    mask[j] = out_mask(c, e, o[j], j);
    for (int l = 0; l < e->nlin; l++) bias[j][l] = e->bias[l] ? cg_load(c, e->bias[l], o[j], mask[j], 0.0f) : NULL;
  }
  for (int i = 0; i < e->rows; i++) {
    LLVMValueRef row = LLVMBuildNSWAdd(c->b, e->r, cg_i64(c, i), "");
    LLVMValueRef v[MAX_COLS];
    for (int j = 0; j < e->cols; j++) v[j] = epilogue(c, e, i, j, row, o[j], bias[j], mask[j]);
    if (e->softmax_src >= 0) row_softmax(c, v, mask, e->cols);
    for (int j = 0; j < e->cols; j++)
      cg_store(c, v[j], c->y, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, row, cg_i64(c, e->out), ""), o[j], "at"),
               mask[j]);
  }
}

static void o_block(cg *c, LLVMValueRef o, void *envp) {
  linear_env *e = envp;
  e->o = o;
  block(c, e);
}

/* All outputs of rows [r, r + e->rows): full blocks of cols_max vectors,
 * then single vectors, the last one masked. */
static void r_block(cg *c, LLVMValueRef r, void *envp) {
  linear_env *e = envp;
  e->r = r;
  if (e->softmax_src >= 0) { /* one block holds the whole row */
    e->cols = (int)((e->out + c->width - 1) / c->width);
    e->masked = e->out % c->width != 0;
    e->o = cg_i64(c, 0);
    block(c, e);
    return;
  }
  int64_t wide = e->cols_max * c->width, full = e->out / wide * wide;
  e->cols = e->cols_max, e->masked = false;
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

void cg_linear_kernel(cg *c, const group *gr) {
  linear_env e = {.softmax_src = -1};
  cg_dag_init(c, &e.dag, gr);
  const node *last = &c->g->nodes[gr->m[gr->n - 1]];
  for (int i = 0; i < gr->n; i++) {
    const node *nd = e.dag.m[i];
    if (op_table[nd->op].kind == K_LINEAR && e.nlin < MAX_LINEARS) {
      int l = e.nlin++;
      e.member[l] = i;
      e.w[l] = cg_param(c, nd->args[1]);
      e.bias[l] = nd->nargs == 3 ? cg_param(c, nd->args[2]) : NULL;
      int in = 0;
      while (gr->ins[in] != nd->args[0]) in++;
      e.x = c->in[in];
      const shape *ws = &c->g->nodes[nd->args[1]].shape;
      e.out = ws->d[0], e.in = ws->d[1];
    }
    if (op_table[nd->op].kind == K_SOFTMAX)
      for (int j = 0; j < i; j++)
        if (gr->m[j] == nd->args[0]) e.softmax_src = j;
  }
  e.stride = cg_packed_stride(e.out, c->width);
  /* The epilogue reads each use at (row, output): merge the rows into one dim. */
  if (last->shape.rank > 1) space_merge(&e.dag.space, 0, last->shape.rank - 1);
  /* Two linears keep both accumulator blocks in registers: one vector wide. */
  e.cols_max = e.nlin == 2 ? 1 : COLS;
  int cols = e.softmax_src >= 0 ? (int)((e.out + c->width - 1) / c->width) : e.cols_max;
  for (int l = 0; l < e.nlin; l++)
    for (int i = 0; i < ROWS; i++)
      for (int j = 0; j < cols; j++) e.acc[l][i][j] = cg_var(c, c->vf, LLVMConstNull(c->vf));
  /* Wide rows of a fused softmax take fewer rows a block, to stay in registers. */
  int block_rows = cols <= COLS ? ROWS : 1;
  LLVMValueRef rows = cg_extent(c, shape_span(&last->shape, 0, last->shape.rank - 1));
  LLVMValueRef full = LLVMBuildNSWSub(c->b, rows, LLVMBuildSRem(c->b, rows, cg_i64(c, block_rows), ""), "full");
  e.rows = block_rows;
  cg_for(c, cg_i64(c, 0), full, block_rows, r_block, &e);
  e.rows = 1;
  cg_for(c, full, rows, 1, r_block, &e);
}
