/* glu: y = a * sigmoid(b), a and b the two halves of one dim.  Viewed as
 * outer × (2 · half) floats, each outer row is a flat vector loop over its
 * half: a at row offset i, b at half + i, y at i of the output row. */
#include "codegen/codegen.h"
#include "codegen/vmath.h"

typedef struct glu_env {
  LLVMValueRef half;          /* floats per half row */
  LLVMValueRef in_row, out_row;
} glu_env;

static void glu_vector(cg *c, LLVMValueRef i, LLVMValueRef mask, void *envp) {
  glu_env *e = envp;
  LLVMValueRef ai = LLVMBuildNSWAdd(c->b, e->in_row, i, "a_at");
  LLVMValueRef bi = LLVMBuildNSWAdd(c->b, ai, e->half, "b_at");
  LLVMValueRef a = cg_load(c, c->in[0], ai, mask, 0.0f), b = cg_load(c, c->in[0], bi, mask, 0.0f);
  cg_store(c, LLVMBuildFMul(c->b, a, vm_sigmoid(c->b, b), "glu"), c->y, LLVMBuildNSWAdd(c->b, e->out_row, i, "at"),
           mask);
}

static void glu_row(cg *c, LLVMValueRef o, void *envp) {
  glu_env *e = envp;
  e->out_row = LLVMBuildNSWMul(c->b, o, e->half, "out_row");
  e->in_row = LLVMBuildNSWAdd(c->b, e->out_row, e->out_row, "in_row");
  cg_vector_loop(c, e->half, glu_vector, e);
}

void cg_glu_kernel(cg *c, const node *nd) {
  const shape *s = &nd->shape;
  int axis = dim_index(nd->attr[0], s->rank);
  glu_env e = {.half = cg_extent(c, shape_span(s, axis, s->rank))};
  cg_for(c, cg_i64(c, 0), cg_extent(c, shape_span(s, 0, axis)), 1, glu_row, &e);
}
