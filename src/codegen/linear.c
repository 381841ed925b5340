/* Linear layers: y[r, o] = Σ_k x[r, k] · W[o, k] + b[o], as a GEMM whose
 * shapes come from the target description.
 *
 * The weight is bound packed (cg_pack_weight) in panels of NR = nvp vectors
 * of outputs: panel p holds W[p·NR .. p·NR + NR)[k] for k = 0..K, each k's
 * NR floats contiguous, zero past the last output.  A tile is MR rows × a
 * panel of outputs; per k it loads the panel's nvp vectors of weights and
 * broadcasts MR elements of x into MR·nvp accumulators.  The register file
 * bounds the tile: MR·nvp accumulators, nvp weight vectors and a broadcast.
 * Two linears in one kernel (SwiGLU's gate and up) take panels half as wide,
 * a tile of each side by side: every tile reads whole cache lines of weights
 * from one contiguous run a linear, as a single linear's tile does.  Two
 * tiles serve every block of rows: MR rows, skipping those past the batch,
 * and one row (a batch of 1, or the last row) spanning more panels, to
 * have enough independent sums to keep every FMA unit busy through the FMA
 * latency: never more sums along k, so that every output is summed in the
 * same order whatever tile computes it (results do not depend on the batch
 * or the thread count).
 *
 * K runs in blocks of K_BLOCK: each block sums into fresh accumulators and
 * the block sums add up (in a stack tile when there are several), so an
 * output's rounding error grows like a blocked sum's, not like one chain of
 * K multiply-adds.  Panels go in groups that fit half of L2, the outer
 * loop: every row block reuses the group's panels from L2, and the MR rows
 * of x from L1.
 *
 * After the last block the bias and the group's elementwise members (the
 * epilogue, a dag that may read other tensors at (row, output)) apply to
 * the tile in registers, then it is stored, the last vector masked at N.
 * Two linears of one input (KF_DUAL_LINEAR) run one k loop with a tile of
 * each: x is read once for both and only the epilogue's value is stored.
 * A linear ending in a softmax (KF_LINEAR_SOFTMAX) takes a whole row of
 * outputs a tile and normalizes it in registers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/vmath.h"

enum {
  K_BLOCK = 256,     /* multiply-adds summed before a block's sum joins the total */
  MAX_MR = 8,        /* rows of a tile: x rows streamed at once (more cost code, no speed) */
  MAX_NV = 16,       /* vectors of a tile: a softmax row of 64 floats at 4 a vector */
  MAX_LINEARS = 2,
};

int64_t cg_panel_floats(const target_desc *t, int64_t out, int linears) {
  int64_t need = (out + t->width - 1) / t->width, nvp = (t->vregs >= 32 ? 4 : 2) / linears;
  return (need < nvp ? (need ? need : 1) : nvp) * t->width;
}

int64_t cg_packed_floats(const target_desc *t, int64_t out, int64_t in, int linears) {
  int64_t nr = cg_panel_floats(t, out, linears);
  return (out + nr - 1) / nr * nr * in;
}

void cg_pack_weight(const target_desc *t, const float *w, int64_t out, int64_t in, int linears, float *dst) {
  int64_t nr = cg_panel_floats(t, out, linears);
  for (int64_t p = 0; p * nr < out; p++)
    for (int64_t k = 0; k < in; k++)
      for (int64_t j = 0; j < nr; j++) {
        int64_t o = p * nr + j;
        dst[(p * in + k) * nr + j] = o < out ? w[o * in + k] : 0.0f;
      }
}

typedef struct linear_env {
  cg_dag dag;                    /* (emitted in the epilogue's function) */
  int nlin, member[MAX_LINEARS]; /* the linears: their members in the dag */
  int bias[MAX_LINEARS];         /* their bias parameters' nodes, or -1 */
  int softmax_src;               /* KF_LINEAR_SOFTMAX: the member the softmax normalizes, else -1 */
  int64_t in, out, nr;           /* K, N, panel floats */
  int nvp;                       /* vectors a panel */
  LLVMValueRef x, w[MAX_LINEARS];
  int mr, nv;                    /* the full tile: rows, vectors (a panel, or a softmax's row) */
  int max_cols;                  /* vectors of the widest tile (few rows spanning panels) */
  int64_t panels;                /* of the weight */
  int64_t per_group;             /* panels a group has (see panel_group), */
  int64_t group_panels;          /* at most as many as there are */
  int parts;                     /* output vectors the epilogue evaluates at once */
  LLVMValueRef epilogue;         /* its function */
  LLVMValueRef rows;             /* of the batch */
  /* the tile being emitted */
  int tile_rows, cols;           /* rows, vectors: at most (see rows_on, panels_on) */
  LLVMValueRef r, p;             /* its first row and panel */
  LLVMValueRef rows_on;          /* rows of it that are in the batch (NULL: all) */
  LLVMValueRef panels_on;        /* panels of it that are in the group (NULL: all) */
  LLVMValueRef skip;             /* panels it reads before its first (see tile), or NULL */
  LLVMValueRef x_row, w_first;   /* x's row r, the first panel it reads in a packed weight (float indices) */
  LLVMValueRef x_k, w_k[MAX_LINEARS]; /* variables: x's row r and the weights at the k being summed */
  LLVMValueRef acc[MAX_LINEARS][MAX_MR][MAX_NV];
  LLVMValueRef total;            /* stack tile of the sums, which the epilogue reads */
} linear_env;

/* At every 16th k (a 64-byte line of floats), prefetches x at k into L2 for
 * each row of the next row block: streamed from memory, a row block's first
 * pass otherwise waits for x (the seed model at batch 16384: 5% faster).  A
 * hint: past the last row it is harmless.  The branch costs a fused
 * test-and-jump a k; the rows' prefetches then take a load slot each. */
static void prefetch_next_rows(cg *c, const linear_env *e, LLVMValueRef k, LLVMValueRef xk) {
  enum { LINE_FLOATS = 16 };
  LLVMBuilderRef b = c->b;
  LLVMValueRef line = LLVMBuildICmp(b, LLVMIntEQ, LLVMBuildAnd(b, k, cg_i64(c, LINE_FLOATS - 1), ""), cg_i64(c, 0), "");
  LLVMBasicBlockRef done = cg_if(c, line, "prefetch");
  for (int i = 0; i < e->tile_rows; i++) {
    LLVMValueRef args[] = {cg_gep(c, xk, cg_i64(c, (e->tile_rows + i) * e->in)), LLVMConstInt(c->i32, 0, 0),
                           LLVMConstInt(c->i32, 2, 0), LLVMConstInt(c->i32, 1, 0)}; /* read, L2, data */
    cg_intrinsic(c, "llvm.prefetch", &c->ptr, 1, args, 4);
  }
  cg_end_if(c, done);
}

/* Row i's multiply-adds at k (x's row r there: xk). */
static void row_step(cg *c, linear_env *e, LLVMValueRef xk, int i, LLVMValueRef wv[MAX_LINEARS][MAX_NV]) {
  LLVMValueRef xb = cg_splat(c, cg_load_scalar(c, xk, cg_i64(c, i * e->in)));
  for (int l = 0; l < e->nlin; l++)
    for (int j = 0; j < e->cols; j++) {
      LLVMValueRef *acc = &e->acc[l][i][j];
      LLVMValueRef args[] = {xb, wv[l][j], LLVMBuildLoad2(c->b, c->vf, *acc, "acc")};
      LLVMBuildStore(c->b, cg_intrinsic(c, "llvm.fmuladd", &c->vf, 1, args, 3), *acc);
    }
}

/* The multiply-adds of k.  Rows past the batch's are skipped, a test a
 * row from row 2 (a tile with rows_on has two at least), each inside the
 * one before: a batch of 2 takes one branch a k, which the predictor
 * learns (it goes one way for the whole loop).  So one tile of MR rows
 * serves what is left of the batch at the cost of its rows. */
static void k_step(cg *c, LLVMValueRef k, void *envp) {
  linear_env *e = envp;
  LLVMBuilderRef b = c->b;
  /* x and the weights through pointers that step with k, every load at an
   * offset known from one: less for loop strength reduction to weigh */
  LLVMValueRef wv[MAX_LINEARS][MAX_NV], xk = LLVMBuildLoad2(b, c->ptr, e->x_k, "x_k");
  for (int l = 0; l < e->nlin; l++) {
    /* a tile wider than a panel (few rows, a softmax row) spans panels */
    LLVMValueRef wk = LLVMBuildLoad2(b, c->ptr, e->w_k[l], "w_k");
    for (int j = 0; j < e->cols; j++)
      wv[l][j] = cg_load(c, wk, cg_i64(c, j / e->nvp * e->in * e->nr + j % e->nvp * c->width), NULL, 0);
    LLVMBuildStore(b, cg_gep(c, wk, cg_i64(c, e->nr)), e->w_k[l]);
  }
  LLVMBuildStore(b, cg_gep(c, xk, cg_i64(c, 1)), e->x_k);
  prefetch_next_rows(c, e, k, xk);
  LLVMBasicBlockRef done[MAX_MR];
  int guarded = 0;
  for (int i = 0; i < e->tile_rows; i++) {
    if (e->rows_on && i >= 2)
      done[guarded++] = cg_if(c, LLVMBuildICmp(c->b, LLVMIntSLT, cg_i64(c, i), e->rows_on, ""), "row_on");
    row_step(c, e, xk, i, wv);
  }
  while (guarded) cg_end_if(c, done[--guarded]);
}

/* Sum (l, i, j) of the tile in its stack tile (i, j may be run-time). */
static LLVMValueRef total_slot(cg *c, const linear_env *e, LLVMValueRef total, int l, LLVMValueRef i, LLVMValueRef j) {
  LLVMBuilderRef b = c->b;
  LLVMValueRef row = LLVMBuildNSWAdd(b, cg_i64(c, (int64_t)l * e->mr), i, "");
  LLVMValueRef idx = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, row, cg_i64(c, e->max_cols), ""), j, "");
  return LLVMBuildInBoundsGEP2(b, c->vf, total, &idx, 1, "total");
}

/* One K block of the tile: fresh sums over [kb, kb + K_BLOCK) (the last
 * block what is left of K), then into the stack tile: stored when there is
 * one block, else added to the tile's zeros (a block's sum is never -0, so
 * 0 + sum is the sum).  Volatile, so that the sums of the blocks to come
 * stay in memory rather than competing for the registers. */
static void k_block(cg *c, LLVMValueRef kb, void *envp) {
  linear_env *e = envp;
  LLVMBuilderRef b = c->b;
  for (int l = 0; l < e->nlin; l++)
    for (int i = 0; i < e->tile_rows; i++)
      for (int j = 0; j < e->cols; j++) LLVMBuildStore(b, LLVMConstNull(c->vf), e->acc[l][i][j]);
  LLVMValueRef next = LLVMBuildNSWAdd(b, kb, cg_i64(c, K_BLOCK), "");
  LLVMValueRef end = cg_smin(c, next, cg_i64(c, e->in));
  LLVMBuildStore(b, cg_gep(c, e->x, LLVMBuildNSWAdd(b, e->x_row, kb, "")), e->x_k);
  for (int l = 0; l < e->nlin; l++)
    LLVMBuildStore(b, cg_gep(c, e->w[l], LLVMBuildNSWAdd(b, e->w_first, LLVMBuildNSWMul(b, kb, cg_i64(c, e->nr), ""), "")),
                   e->w_k[l]);
  cg_for_rolled(c, kb, end, 1, k_step, e);
  bool several = e->in > K_BLOCK;
  for (int l = 0; l < e->nlin; l++)
    for (int i = 0; i < e->tile_rows; i++)
      for (int j = 0; j < e->cols; j++) {
        LLVMValueRef slot = total_slot(c, e, e->total, l, cg_i64(c, i), cg_i64(c, j));
        LLVMValueRef s = LLVMBuildLoad2(b, c->vf, e->acc[l][i][j], "part");
        if (several) {
          LLVMValueRef old = LLVMBuildLoad2(b, c->vf, slot, "");
          LLVMSetVolatile(old, 1);
          s = LLVMBuildFAdd(b, old, s, "");
        }
        LLVMSetVolatile(LLVMBuildStore(b, s, slot), 1);
      }
}

/* ---- The epilogue: one function a kernel, which every tile calls
 *   void epilogue(i64 rows, i64 cols, i64 r, i64 col0, ptr total, the kernel's ins, y, params, batch, seed, row0)
 * with its sums in total: the bias and the dag applied to rows [r, r + rows)
 * and `cols` vectors of outputs from col0, stored to y. */
enum { EP_ROWS, EP_COLS, EP_R, EP_COL0, EP_TOTAL, EP_INS, EP_Y, EP_PARAMS, EP_BATCH, EP_SEED, EP_ROW0, EP_NARGS };

typedef struct epi_env {
  linear_env *e;
  LLVMValueRef rows, cols, r, col0, total; /* the function's arguments */
  LLVMValueRef bias[MAX_LINEARS];          /* the linears' biases' data, or NULL */
  LLVMValueRef i, j;                       /* variables: the next output vector's row and vector in the tile */
} epi_env;

/* Output vector (i, j) of the tile: where it sits, and the linears' sums
 * and biases there into sum[]. */
typedef struct out_vector {
  cg_pos pos;
  LLVMValueRef off[SPACE_MAX_OPERANDS]; /* the uses', each read at (row, o) by its strides */
} out_vector;

static void out_vector_at(cg *c, epi_env *ee, LLVMValueRef i, LLVMValueRef j, out_vector *ov, LLVMValueRef *sum) {
  linear_env *e = ee->e;
  LLVMBuilderRef b = c->b;
  LLVMValueRef row = LLVMBuildNSWAdd(b, ee->r, i, "row");
  LLVMValueRef o = LLVMBuildNSWAdd(b, ee->col0, LLVMBuildNSWMul(b, j, cg_i64(c, c->width), ""), "o");
  const loop_space *sp = &e->dag.space;
  for (int u = 0; u < sp->nops; u++) {
    int64_t rs = sp->rank > 1 ? sp->stride[u][0] : 0, cs = sp->stride[u][sp->rank - 1];
    ov->off[u] = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, row, cg_i64(c, rs), ""), LLVMBuildNSWMul(b, o, cg_i64(c, cs), ""),
                                 "off");
  }
  /* Where N does not fill the panels, lanes past it (the last panel's zero
   * padding) are computed but masked in every load and store. */
  bool ragged = e->out % (e->softmax_src >= 0 ? c->width : e->nr) != 0;
  ov->pos = (cg_pos){.index = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, row, cg_i64(c, e->out), ""), o, "at"),
                     .mask = ragged ? cg_first_lanes(c, LLVMBuildNSWSub(b, cg_i64(c, e->out), o, "")) : NULL,
                     .off = ov->off};
  for (int l = 0; l < e->nlin; l++) {
    sum[l] = LLVMBuildLoad2(b, c->vf, total_slot(c, e, ee->total, l, i, j), "sum");
    if (ee->bias[l]) sum[l] = LLVMBuildFAdd(b, sum[l], cg_load(c, ee->bias[l], o, ov->pos.mask, 0.0f), "biased");
  }
}

/* The next e->parts output vectors of the tile, evaluated side by side
 * (a long dag's latencies overlap), then stored.  The group that passes
 * the tile's last vector repeats it: the same value to the same place. */
static void epilogue_group(cg *c, LLVMValueRef q, void *envp) {
  (void)q; /* (the variables i, j count the vectors) */
  epi_env *ee = envp;
  linear_env *e = ee->e;
  LLVMBuilderRef b = c->b;
  int n = e->parts;
  LLVMValueRef v[MAX_LINEARS][ELTWISE_UNROLL], sum[MAX_LINEARS];
  out_vector ov[ELTWISE_UNROLL];
  cg_pos pos[ELTWISE_UNROLL];
  for (int k = 0; k < n; k++) {
    LLVMValueRef i = LLVMBuildLoad2(b, c->i64, ee->i, "i"), j = LLVMBuildLoad2(b, c->i64, ee->j, "j");
    LLVMValueRef next = LLVMBuildNSWAdd(b, j, cg_i64(c, 1), ""), wrap = LLVMBuildICmp(b, LLVMIntEQ, next, ee->cols, "");
    LLVMBuildStore(b, LLVMBuildSelect(b, wrap, cg_i64(c, 0), next, ""), ee->j);
    LLVMBuildStore(b, LLVMBuildNSWAdd(b, i, LLVMBuildZExt(b, wrap, c->i64, ""), ""), ee->i);
    if (n > 1) {
      LLVMValueRef past = LLVMBuildICmp(b, LLVMIntSGE, i, ee->rows, "past");
      i = LLVMBuildSelect(b, past, LLVMBuildNSWSub(b, ee->rows, cg_i64(c, 1), ""), i, "");
      j = LLVMBuildSelect(b, past, LLVMBuildNSWSub(b, ee->cols, cg_i64(c, 1), ""), j, "");
    }
    out_vector_at(c, ee, i, j, &ov[k], sum);
    pos[k] = ov[k].pos;
    for (int l = 0; l < e->nlin; l++) v[l][k] = sum[l];
  }
  cg_dag *d = &e->dag;
  for (int l = 0; l < e->nlin; l++) d->val[e->member[l]] = cg_concat(c, v[l], n);
  cg_widen(c, n);
  cg_dag_eval(c, d, 0, d->n, n > 1 ? &(cg_pos){.nparts = n, .parts = pos} : &pos[0]);
  cg_widen(c, 1);
  for (int k = 0; k < n; k++) cg_store(c, cg_part(c, d->val[d->n - 1], k, n), c->y, pos[k].index, pos[k].mask);
}

/* Row i of a softmax's tile (the whole row of outputs): through the dag,
 * normalized in registers, stored. */
static void softmax_row(cg *c, LLVMValueRef i, void *envp) {
  epi_env *ee = envp;
  linear_env *e = ee->e;
  cg_dag *d = &e->dag;
  LLVMValueRef v[MAX_NV], mask[MAX_NV], sum[MAX_LINEARS];
  out_vector ov[MAX_NV];
  for (int j = 0; j < e->nv; j++) {
    out_vector_at(c, ee, i, cg_i64(c, j), &ov[j], sum);
    for (int l = 0; l < e->nlin; l++) d->val[e->member[l]] = sum[l];
    cg_dag_eval(c, d, 0, d->n, &ov[j].pos);
    v[j] = d->val[e->softmax_src], mask[j] = ov[j].pos.mask;
  }
  cg_softmax_rows(c, false, 1, e->nv, v, mask);
  for (int j = 0; j < e->nv; j++) cg_store(c, v[j], c->y, ov[j].pos.index, mask[j]);
}

/* The kernel's epilogue function (e->epilogue), named after c->fn:
 * EPILOGUE_HERE defined internal, EPILOGUE_DECLARED only declared (another
 * module defines it), EPILOGUE_EXPORTED defined for other modules.  The
 * builder and c's kernel fields are the kernel's again after. */
static void emit_epilogue(cg *c, linear_env *e, const group *gr, cg_epilogue where) {
  LLVMTypeRef args[EP_NARGS] = {c->i64, c->i64, c->i64, c->i64, c->ptr, c->ptr, c->ptr, c->ptr, c->i64, c->i64, c->i64};
  size_t len;
  const char *kernel = LLVMGetValueName2(c->fn, &len);
  char name[64];
  snprintf(name, sizeof name, "%.*s.epilogue", (int)len, kernel);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->voidt, args, EP_NARGS, 0));
  if (where == EPILOGUE_HERE) LLVMSetLinkage(fn, LLVMInternalLinkage);
  /* the kernel's attributes: not inlined (one copy), no unwinding, vmath's register width */
  LLVMAttributeRef attrs[] = {
      LLVMGetEnumAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex, LLVMGetEnumAttributeKindForName("noinline", 8)),
      LLVMGetEnumAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex, LLVMGetEnumAttributeKindForName("nounwind", 8)),
      LLVMGetStringAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex, VM_REG_LANES_ATTR, strlen(VM_REG_LANES_ATTR))};
  for (size_t a = 0; a < sizeof attrs / sizeof *attrs; a++)
    if (attrs[a]) LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, attrs[a]);
  e->epilogue = fn;
  if (where == EPILOGUE_DECLARED) return;
  cg saved = *c;
  c->fn = fn;
  c->y = LLVMGetParam(fn, EP_Y), c->params = LLVMGetParam(fn, EP_PARAMS), c->batch = LLVMGetParam(fn, EP_BATCH);
  c->seed = LLVMGetParam(fn, EP_SEED), c->row0 = LLVMGetParam(fn, EP_ROW0);
  LLVMBasicBlockRef kernel_at = LLVMGetInsertBlock(c->b);
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  for (int j = 0; j < gr->nins; j++) {
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(c->b, c->ptr, LLVMGetParam(fn, EP_INS), (LLVMValueRef[]){cg_i64(c, j)}, 1, "");
    c->in[j] = LLVMBuildLoad2(c->b, c->ptr, slot, "in");
  }
  cg_dag_init(c, &e->dag, gr);
  /* The epilogue reads each use at (row, output): merge the rows into one dim. */
  const node *last = e->dag.m[gr->n - 1];
  if (last->shape.rank > 1) space_merge(&e->dag.space, 0, last->shape.rank - 1);
  epi_env ee = {.e = e, .rows = LLVMGetParam(fn, EP_ROWS), .cols = LLVMGetParam(fn, EP_COLS), .r = LLVMGetParam(fn, EP_R),
                .col0 = LLVMGetParam(fn, EP_COL0), .total = LLVMGetParam(fn, EP_TOTAL)};
  for (int l = 0; l < e->nlin; l++) ee.bias[l] = e->bias[l] >= 0 ? cg_param(c, e->bias[l]) : NULL;
  if (e->softmax_src >= 0) {
    cg_for_rolled(c, cg_i64(c, 0), ee.rows, 1, softmax_row, &ee);
  } else {
    ee.i = cg_var(c, c->i64, cg_i64(c, 0)), ee.j = cg_var(c, c->i64, cg_i64(c, 0));
    LLVMValueRef vectors = LLVMBuildNSWMul(c->b, ee.rows, ee.cols, "vectors");
    cg_for_rolled(c, cg_i64(c, 0), vectors, e->parts, epilogue_group, &ee);
  }
  LLVMBuildRetVoid(c->b);
  const node *unsupported = c->unsupported;
  *c = saved;
  c->unsupported = unsupported;
  if (kernel_at) LLVMPositionBuilderAtEnd(c->b, kernel_at);
}

/* The tile at rows [e->r, + rows), `cols` vectors from panel e->p (of
 * which rows_on rows and panels_on panels are there): its sums in K
 * blocks, then the epilogue.  A tile spanning past the weight's last panel
 * starts earlier, within it, and the epilogue skips the panels before
 * e->p: its loads stay at fixed offsets from one pointer (a panel chosen
 * a load at a time made a batch of 1 4% slower). */
static void tile(cg *c, linear_env *e, int rows, int cols) {
  LLVMBuilderRef b = c->b;
  e->tile_rows = rows, e->cols = cols;
  e->x_row = LLVMBuildNSWMul(b, e->r, cg_i64(c, e->in), "x_row");
  LLVMValueRef first = e->p;
  e->skip = NULL;
  if (e->panels_on) {
    first = cg_smin(c, e->p, cg_i64(c, e->panels - cols / e->nvp));
    e->skip = LLVMBuildNSWSub(b, e->p, first, "skip");
  }
  e->w_first = LLVMBuildNSWMul(b, first, cg_i64(c, e->in * e->nr), "w_first");
  if (e->in <= K_BLOCK) {
    k_block(c, cg_i64(c, 0), e);
  } else {
    for (int l = 0; l < e->nlin; l++)
      for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
          LLVMSetVolatile(LLVMBuildStore(b, LLVMConstNull(c->vf), total_slot(c, e, e->total, l, cg_i64(c, i), cg_i64(c, j))), 1);
    cg_for(c, cg_i64(c, 0), cg_i64(c, e->in), K_BLOCK, k_block, e);
  }
  LLVMValueRef args[EP_NARGS] = {
      [EP_ROWS] = e->rows_on ? e->rows_on : cg_i64(c, rows),
      [EP_COLS] = e->panels_on ? LLVMBuildNSWMul(b, e->panels_on, cg_i64(c, e->nvp), "") : cg_i64(c, cols),
      [EP_R] = e->r,
      [EP_COL0] = LLVMBuildNSWMul(b, e->p, cg_i64(c, e->nr), "col0"),
      [EP_TOTAL] = e->skip ? cg_gep(c, e->total, LLVMBuildNSWMul(b, e->skip, cg_i64(c, e->nr), "")) : e->total,
      [EP_INS] = LLVMGetParam(c->fn, 0),
      [EP_Y] = c->y,
      [EP_PARAMS] = c->params,
      [EP_BATCH] = c->batch,
      [EP_SEED] = c->seed,
      [EP_ROW0] = c->row0,
  };
  LLVMBuildCall2(b, LLVMGlobalGetValueType(e->epilogue), e->epilogue, args, EP_NARGS, "");
}

typedef struct loop_env {
  linear_env *e;
  LLVMValueRef end;        /* the panels asked for end here */
  LLVMValueRef g0, g1;     /* the panel group */
  int span;                /* panels a tile spans */
  int tile_rows;           /* of the tiles at this level */
} loop_env;

/* The tile from panel p: `span` panels wide (fewer at the group's end), or
 * the whole row for a softmax. */
static void panel_tiles(cg *c, LLVMValueRef p, void *envp) {
  loop_env *le = envp;
  linear_env *e = le->e;
  e->p = p;
  LLVMValueRef left = LLVMBuildNSWSub(c->b, le->g1, p, "");
  e->panels_on = le->span > 1 ? cg_smin(c, left, cg_i64(c, le->span)) : NULL;
  tile(c, e, le->tile_rows, e->softmax_src >= 0 ? e->nv : e->nvp * le->span);
}

/* Panels a tile of `rows` rows spans: enough accumulators to cover the FMA
 * units through their latency, as the registers allow, and no more panels
 * than there are. */
static int span_for(const target_desc *t, const linear_env *e, int rows) {
  int span = 1, in_flight = t->fma_ports * t->fma_latency, per_panel = e->nvp * e->nlin;
  if (e->softmax_src >= 0) return 1;
  while (rows * per_panel * span < in_flight && (span + 1) * e->nvp <= MAX_NV && span < e->group_panels &&
         (rows + 1) * per_panel * (span + 1) + 2 <= t->vregs)
    span++;
  return span;
}

/* The tile's shape and the panel groups of e (its out, in, nlin and
 * softmax_src known). */
static void layout(const target_desc *t, linear_env *e) {
  e->nr = cg_panel_floats(t, e->out, e->nlin);
  e->nvp = (int)(e->nr / t->width);
  /* The tile: a panel wide (a whole row for a softmax), as many rows as the
   * registers take beside its weight vectors, a broadcast and a spare. */
  e->nv = e->softmax_src >= 0 ? (int)((e->out + t->width - 1) / t->width) : e->nvp;
  int per_row = e->nv * e->nlin, room = t->vregs - per_row - 2;
  e->mr = room / per_row < 1 ? 1 : room / per_row > MAX_MR ? MAX_MR : room / per_row;
  /* Panel groups that fit half of L2 (a softmax's row: one group). */
  int64_t panel_bytes = e->in * e->nr * 4 * e->nlin;
  e->panels = (e->out + e->nr - 1) / e->nr;
  e->per_group = t->l2 / 2 / (panel_bytes ? panel_bytes : 1);
  if (e->per_group < 1) e->per_group = 1;
  if (e->softmax_src >= 0) e->per_group = e->panels;
  e->group_panels = e->per_group < e->panels ? e->per_group : e->panels;
  /* whole blocks of the one-row tile's panels a group (cg_linear_panels) */
  if (e->softmax_src < 0) {
    int step = span_for(t, e, 1);
    e->per_group = e->per_group / step * step;
    e->group_panels = e->per_group < e->panels ? e->per_group : e->panels;
  }
}

/* Tiles of `rows` rows (rows_on of them in the batch) from row r across
 * the group's panels. */
static void row_tiles(cg *c, loop_env *le, int rows, LLVMValueRef rows_on) {
  le->tile_rows = rows;
  le->span = span_for(c->target, le->e, rows);
  le->e->rows_on = rows_on;
  cg_for(c, le->g0, le->g1, le->span, panel_tiles, le);
}

/* The block of at most MR rows from r.  Two tile shapes serve every
 * block: MR rows, of which those past the batch are skipped, and one row
 * spanning more panels (a batch of 1, or one row left), which a tile of MR
 * rows would leave waiting on the FMA latency.  Fewer shapes, less code to
 * compile: a tile of each power of two of rows cost the seed model's
 * compile 11 ms of 27. */
static void row_block(cg *c, LLVMValueRef r, void *envp) {
  loop_env *le = envp;
  linear_env *e = le->e;
  e->r = r;
  LLVMValueRef left = LLVMBuildNSWSub(c->b, e->rows, r, "left");
  if (e->mr == 1) {
    row_tiles(c, le, 1, NULL);
    return;
  }
  LLVMValueRef one = LLVMBuildICmp(c->b, LLVMIntEQ, left, cg_i64(c, 1), "one_row");
  LLVMBasicBlockRef rows_block = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "rows");
  LLVMBasicBlockRef row_one = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "row");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "block_done");
  LLVMBuildCondBr(c->b, one, row_one, rows_block);
  LLVMPositionBuilderAtEnd(c->b, rows_block);
  row_tiles(c, le, e->mr, cg_smin(c, left, cg_i64(c, e->mr)));
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, row_one);
  row_tiles(c, le, 1, NULL);
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, done);
}

/* The panels from g0 (a group that fits half of L2), every block of rows
 * through them: every row block reuses the group's panels from L2. */
static void panel_group(cg *c, LLVMValueRef g0, void *envp) {
  loop_env *le = envp;
  linear_env *e = le->e;
  LLVMValueRef end = LLVMBuildNSWAdd(c->b, g0, cg_i64(c, e->per_group), "");
  le->g0 = g0;
  /* a tile spanning the row of a softmax starts at panel 0 only */
  le->g1 = e->softmax_src >= 0 ? LLVMBuildNSWAdd(c->b, g0, cg_i64(c, 1), "") : cg_smin(c, end, le->end);
  cg_for_rolled(c, cg_i64(c, 0), e->rows, e->mr, row_block, le);
}

/* e for group gr: its linears (members, biases, weight sizes), the softmax
 * it ends in, the tiles' layout on c's target and the epilogue's width;
 * nothing emitted. */
static void linear_setup(const cg *c, const group *gr, linear_env *e) {
  *e = (linear_env){.softmax_src = -1};
  bool long_dag = false;
  for (int i = 0; i < gr->n; i++) {
    const node *nd = &c->g->nodes[gr->m[i]];
    long_dag |= cg_long_latency(c, nd);
    if (op_table[nd->op].kind == K_LINEAR && e->nlin < MAX_LINEARS) {
      int l = e->nlin++;
      e->member[l] = i;
      e->bias[l] = nd->nargs == 3 ? nd->args[2] : -1;
      const shape *ws = &c->g->nodes[nd->args[1]].shape;
      e->out = ws->d[0], e->in = ws->d[1];
    }
    if (op_table[nd->op].kind == K_SOFTMAX)
      for (int j = 0; j < i; j++)
        if (gr->m[j] == nd->args[0]) e->softmax_src = j;
  }
  layout(c->target, e);
  e->max_cols = e->softmax_src >= 0 ? e->nv : e->nvp * span_for(c->target, e, 1);
  e->parts = long_dag ? ELTWISE_UNROLL : 1;
}

void cg_linear_epilogue(cg *c, const group *gr) {
  linear_env e;
  linear_setup(c, gr, &e);
  emit_epilogue(c, &e, gr, EPILOGUE_EXPORTED);
}

void cg_linear_kernel(cg *c, const group *gr, cg_epilogue where) {
  const target_desc *t = c->target;
  linear_env e;
  linear_setup(c, gr, &e);
  const node *last = &c->g->nodes[gr->m[gr->n - 1]];
  for (int l = 0; l < e.nlin; l++) {
    const node *nd = &c->g->nodes[gr->m[e.member[l]]];
    e.w[l] = cg_param(c, nd->args[1]);
    int in = 0;
    while (gr->ins[in] != nd->args[0]) in++;
    e.x = c->in[in];
  }
  int64_t panels = e.panels, step = span_for(t, &e, 1);
  emit_epilogue(c, &e, gr, where);
  for (int l = 0; l < e.nlin; l++)
    for (int i = 0; i < e.mr; i++)
      for (int j = 0; j < e.max_cols; j++) e.acc[l][i][j] = cg_var(c, c->vf, LLVMConstNull(c->vf));
  e.x_k = cg_var(c, c->ptr, LLVMConstNull(c->ptr));
  for (int l = 0; l < e.nlin; l++) e.w_k[l] = cg_var(c, c->ptr, LLVMConstNull(c->ptr));
  e.total = cg_alloca(c, LLVMArrayType2(c->vf, (uint64_t)e.nlin * e.mr * e.max_cols));
  LLVMSetValueName2(e.total, "total", 5); /* (tests/test_golden.c tells it from promotable variables) */
  e.rows = cg_extent(c, shape_span(&last->shape, 0, last->shape.rank - 1));
  /* the blocks of panels [panel0, panel1) the caller asks for (a softmax's
   * row: all) */
  LLVMValueRef begin = cg_i64(c, 0);
  loop_env le = {.e = &e, .end = cg_i64(c, panels)};
  if (e.softmax_src < 0) {
    begin = LLVMBuildNSWMul(c->b, c->panel0, cg_i64(c, step), "");
    le.end = cg_smin(c, LLVMBuildNSWMul(c->b, c->panel1, cg_i64(c, step), ""), le.end);
  }
  cg_for(c, begin, le.end, e.per_group, panel_group, &le);
}

int64_t cg_linear_panels(const actjit_graph *g, const group *gr, const target_desc *t) {
  if (gr->form != KF_LINEAR && gr->form != KF_DUAL_LINEAR) return 1;
  linear_env e = {.softmax_src = -1, .nlin = gr->form == KF_DUAL_LINEAR ? 2 : 1};
  for (int i = 0; i < gr->n; i++) {
    const node *nd = &g->nodes[gr->m[i]];
    if (nd->op == OP_LINEAR) e.out = g->nodes[nd->args[1]].shape.d[0], e.in = g->nodes[nd->args[1]].shape.d[1];
  }
  layout(t, &e);
  int64_t step = span_for(t, &e, 1);
  return (e.panels + step - 1) / step;
}
