/* matmul: for each matrix of the result, y[M, P] = a[M, K]·w[K, P], with a's
 * and w's matrices at the result's index of the batch dims (broadcast: a
 * dim of 1 or a missing one reads the same matrix).  The batch dims are a
 * loop space with three operands, a, w and y, each stride a whole matrix of
 * it.  Each row of y is a vector loop over P: for every k, a[r, k]
 * broadcast times row k of w, accumulated in k's order (fused
 * multiply-adds), then stored. */
#include "codegen/codegen.h"

enum { A, W, Y };

typedef struct matmul_env {
  int64_t m, k, p;
  LLVMValueRef w;                       /* the weight's data */
  LLVMValueRef a_mat, w_mat, y_mat;     /* the matrices being multiplied (offsets) */
  LLVMValueRef a_row, y_row, col, mask; /* the vector of y being computed; mask: a tail's */
  LLVMValueRef acc;                     /* its sum so far */
} matmul_env;

/* acc += a[r, j]·w[j, col..]: masked lanes of a tail read 0 and are not stored. */
static void step_k(cg *c, LLVMValueRef j, void *envp) {
  matmul_env *e = envp;
  LLVMValueRef a = cg_splat(c, cg_load_scalar(c, c->in[0], LLVMBuildNSWAdd(c->b, e->a_row, j, "")));
  LLVMValueRef wrow = LLVMBuildNSWAdd(c->b, e->w_mat, LLVMBuildNSWMul(c->b, j, cg_i64(c, e->p), ""), "w_row");
  LLVMValueRef args[] = {a, cg_load(c, e->w, LLVMBuildNSWAdd(c->b, wrow, e->col, ""), e->mask, 0.0f),
                         LLVMBuildLoad2(c->b, c->vf, e->acc, "acc")};
  LLVMBuildStore(c->b, cg_intrinsic(c, "llvm.fmuladd", &c->vf, 1, args, 3), e->acc);
}

static void row_vector(cg *c, LLVMValueRef col, LLVMValueRef mask, void *envp) {
  matmul_env *e = envp;
  e->col = col, e->mask = mask;
  LLVMBuildStore(c->b, LLVMConstNull(c->vf), e->acc);
  cg_for(c, cg_i64(c, 0), cg_i64(c, e->k), 1, step_k, e);
  cg_store(c, LLVMBuildLoad2(c->b, c->vf, e->acc, "sum"), c->y, LLVMBuildNSWAdd(c->b, e->y_row, col, ""), mask);
}

static void row(cg *c, LLVMValueRef r, void *envp) {
  matmul_env *e = envp;
  e->a_row = LLVMBuildNSWAdd(c->b, e->a_mat, LLVMBuildNSWMul(c->b, r, cg_i64(c, e->k), ""), "a_row");
  e->y_row = LLVMBuildNSWAdd(c->b, e->y_mat, LLVMBuildNSWMul(c->b, r, cg_i64(c, e->p), ""), "y_row");
  cg_vector_loop(c, cg_i64(c, e->p), row_vector, e);
}

static void matrix(cg *c, const LLVMValueRef *offs, void *envp) {
  matmul_env *e = envp;
  e->a_mat = offs[A], e->w_mat = offs[W], e->y_mat = offs[Y];
  cg_for(c, cg_i64(c, 0), cg_i64(c, e->m), 1, row, e);
}

/* Operand u's strides over the result's batch dims (sp), trailing dims
 * aligned: a whole matrix of `mat` floats for each step of a dim it has, 0
 * along a dim it broadcasts or lacks. */
static void batch_strides(loop_space *sp, int u, const shape *s, int64_t mat) {
  int rank = s->rank - 2; /* its batch dims */
  for (int i = 1; i <= rank; i++) {
    int d = rank - i;
    sp->stride[u][sp->rank - i] = s->d[d] != 1 || (d == 0 && s->dyn) ? mat : 0;
    mat *= s->d[d];
  }
}

void cg_matmul_kernel(cg *c, const node *nd) {
  const shape *as = &c->g->nodes[nd->args[0]].shape, *ws = &c->g->nodes[nd->args[1]].shape, *ys = &nd->shape;
  matmul_env e = {.m = ys->d[ys->rank - 2], .k = as->d[as->rank - 1], .p = ys->d[ys->rank - 1],
                  .w = cg_param(c, nd->args[1]), .acc = cg_alloca(c, c->vf)};
  shape batch = *ys;
  batch.rank -= 2;
  loop_space sp;
  space_init(&sp, &batch);
  sp.nops = 3;
  batch_strides(&sp, A, as, e.m * e.k);
  batch_strides(&sp, W, ws, e.k * e.p);
  batch_strides(&sp, Y, ys, e.m * e.p);
  cg_nest(c, &sp, sp.rank ? space_merge(&sp, 0, sp.rank) : 0, matrix, &e);
}
