/* Codegen: lowers a plan to an LLVM module.  Split by what it emits:
 *   loops.c    loop nests, vector loads/stores with masked tails
 *   vmath.c    vector exp / tanh / sigmoid / expm1 / log / log1p / erf / erfc
 *   eltwise.c  elementwise ops and their kernels
 *   linear.c   linear layers
 *   softmax.c  softmax, softmin, log_softmax along any dim
 *   glu.c      glu (halves a dim)
 *   transpose.c  transpose (permutes the dims)
 *   matmul.c   matmul (batched matrix products)
 *   params.c   parameters as the kernels read them (packed weights)
 *   pack.c     that packing generated into an ahead-of-time object
 *   module.c   one function per kernel plus the entry that sequences them
 */
#ifndef ACTJIT_CODEGEN_H
#define ACTJIT_CODEGEN_H

#include <llvm-c/Core.h>

#include "plan/plan.h"
#include "target/target.h"

/* Name of the entry point:
 *   void actjit_entry(const float *in, float *out, const float *const *params,
 *                     float *scratch, int64_t batch, uint64_t seed);
 * params[i] is the i-th parameter in declaration order; seed keys the
 * training-mode dropout masks. */
#define CG_ENTRY "actjit_entry"
typedef void (*cg_entry_fn)(const float *in, float *out,
                            const float *const *params, float *scratch,
                            int64_t batch, uint64_t seed);
/* Each kernel of the plan is also a function of its own, so that it can be
 * timed alone and run on a slice of the batch or of a linear's outputs:
 *   void actjit_k<i>(const float *const *in, float *y, const float *const *params,
 *                    i64 batch, u64 seed, i64 row0, i64 panel0, i64 panel1)
 * in[j] is the data of the step's j-th input (step.grp.ins[j]); in[j] and y
 * point at batch row row0 of batched tensors (the entry passes 0): dropout
 * keys its masks by the element's index in the whole tensor.  A linear
 * kernel computes only the outputs of its weight panels [panel0, panel1),
 * counted in the blocks of panels cg_linear_panels gives (the entry passes
 * them all); other kernels ignore them. */
#define CG_KERNEL_PREFIX "actjit_k"
#define CG_KERNEL_FMT CG_KERNEL_PREFIX "%d"
typedef void (*cg_kernel_fn)(const float *const *in, float *y, const float *const *params,
                             int64_t batch, uint64_t seed, int64_t row0, int64_t panel0, int64_t panel1);

typedef struct cg {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  const actjit_graph *g;
  const target_desc *target;
  int width;                    /* floats per vector (times the unroll, see cg_widen) */
  int reg_width;                /* floats per vector register of the target */
  LLVMTypeRef f32, i32, i64, ptr, vf, vi, vmask, voidt;
  /* The kernel being emitted: its parameters, and the data of its inputs. */
  LLVMValueRef fn, y, params, batch, seed, row0, panel0, panel1;
  LLVMValueRef in[GROUP_MAX_INS];
  /* Where this i1 holds (NULL: never), unmasked stores are non-temporal,
   * to addresses aligned to a register. */
  LLVMValueRef stream;
  bool training;                /* dropout is live (else the identity) */
  bool rolled;                  /* the next cg_for keeps LLVM from unrolling it */
  const node *unsupported;      /* the first op codegen could not emit, or NULL */
} cg;

/* Kernels whose output has at least this many floats store it with
 * non-temporal (streaming) stores where they are bound by memory: with the
 * input, 24 MB or more pass through a 32 MB L3, too much to stay there, and
 * streaming spares the read for ownership of every written line (measured
 * on Zen 4: relu breaks even near 2.5M floats, 15% faster at 4M). */
enum { CG_STREAM_MIN = 3 << 20 };

/* Vectors of `factor` registers: width becomes reg_width * factor. */
void cg_widen(cg *c, int factor);
enum { ELTWISE_UNROLL = 4 };

/* Builds the module for plan p in ctx; fails (the error set on g's
 * context) rather than emit anything else for an op or group it has no
 * code for. */
actjit_status cg_build(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t, bool training,
                       LLVMModuleRef *out);
/* The same code in CG_PARTS(p) modules, which LLVM compiles at once on
 * several threads and links back together: part i is kernel i's function,
 * the last part with the entry, which calls the others' (declared). */
#define CG_PARTS(p) ((p)->n > 1 ? (p)->n : 1)
actjit_status cg_build_part(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t,
                            bool training, int part, LLVMModuleRef *out);
/* An ahead-of-time object's module: cg_build's in eval mode, its functions
 * and data internal, the parameters constant data (each as bound:
 * cg_param_pack), and these exported (runtime/aot.c writes their header):
 *   size_t PREFIX_scratch_bytes(int64_t batch);
 *   size_t PREFIX_parallel_scratch_bytes(int64_t batch, int tasks);
 *   int PREFIX_run(const float *x, int64_t batch, float *y, void *scratch);
 *   int PREFIX_run_parallel(const float *x, int64_t batch, float *y, void *scratch,
 *                           actjit_parallel_for_fn pfor, void *user, int tasks);
 * Without the parameters' data (params NULL) the object binds them at run
 * time (pack.c): it exports as well
 *   size_t PREFIX_params_bytes(void);
 *   int PREFIX_bind(const float *const *params, void *packed);
 * and the runs take the buffer PREFIX_bind packed as a first argument,
 * `const void *packed`.  The runs return 0, or -1 (having done nothing)
 * for a negative or too large batch or a NULL buffer (or a packed one not
 * 64-byte aligned). */
typedef struct cg_aot {
  const char *prefix;           /* a C identifier */
  int nparams;                  /* the graph's parameters in declaration order: */
  const float *const *params;   /* each one's data as bound, or NULL: bound at run time */
  const int64_t *param_floats;  /* each one's floats as bound (cg_param_floats) */
} cg_aot;
actjit_status cg_build_aot(const actjit_graph *g, const plan *p, LLVMContextRef ctx, const target_desc *t,
                           const cg_aot *a, LLVMModuleRef *out);

/* ---- loops.c */
LLVMValueRef cg_i64(cg *c, int64_t v);
/* The smaller of two i64s (signed). */
LLVMValueRef cg_smin(cg *c, LLVMValueRef a, LLVMValueRef b);
/* The runtime value of an extent: mul * batch or mul. */
LLVMValueRef cg_extent(cg *c, extent e);
typedef void (*cg_body)(cg *c, LLVMValueRef i, void *env);
/* for (i = lo; i < hi; i += step) body(i) */
void cg_for(cg *c, LLVMValueRef lo, LLVMValueRef hi, int64_t step, cg_body body, void *env);
/* The same, a loop LLVM must not unroll (its body is unrolled enough). */
void cg_for_rolled(cg *c, LLVMValueRef lo, LLVMValueRef hi, int64_t step, cg_body body, void *env);
typedef void (*cg_vbody)(cg *c, LLVMValueRef i, LLVMValueRef mask, void *env);
/* Calls body(i, NULL) for each full vector in [0, n), then body(i, mask) once
 * for the partial vector at the end, if any. */
void cg_vector_loop(cg *c, LLVMValueRef n, cg_vbody body, void *env);
/* The same over [lo, n). */
void cg_vector_loop_from(cg *c, LLVMValueRef lo, LLVMValueRef n, cg_vbody body, void *env);
/* Its parts, for loops of other shapes: the end of the full vectors from
 * lo (n - rem, with *rem = (n - lo) mod width), and body(full, mask) for
 * the rem lanes left, if any. */
LLVMValueRef cg_full_vectors(cg *c, LLVMValueRef lo, LLVMValueRef n, LLVMValueRef *rem);
/* body(i, NULL) for the full vectors of [lo, full). */
void cg_vector_loop_full(cg *c, LLVMValueRef lo, LLVMValueRef full, cg_vbody body, void *env);
void cg_vector_tail(cg *c, LLVMValueRef full, LLVMValueRef rem, cg_vbody body, void *env);
/* A loop nest over dims [0, n) of sp: body(offs) at each point, where
 * offs[u] (i64) is operand u's offset, the sum of index·sp->stride[u][d]
 * over the dims. */
typedef void (*cg_nest_body)(cg *c, const LLVMValueRef *offs, void *env);
void cg_nest(cg *c, const loop_space *sp, int n, cg_nest_body body, void *env);
/* Code emitted between cg_if and cg_end_if runs only when cond (i1) holds. */
LLVMBasicBlockRef cg_if(cg *c, LLVMValueRef cond, const char *name);
void cg_end_if(cg *c, LLVMBasicBlockRef done);
/* The function being emitted returns i32 -1 when bad (i1) holds; the
 * builder goes on where it does not. */
void cg_fail_if(cg *c, LLVMValueRef bad);
/* Vector at p[i] (float index); masked lanes read `fill`. */
LLVMValueRef cg_load(cg *c, LLVMValueRef p, LLVMValueRef i, LLVMValueRef mask, float fill);
void cg_store(cg *c, LLVMValueRef v, LLVMValueRef p, LLVMValueRef i, LLVMValueRef mask);
/* Scalar float p[i]. */
LLVMValueRef cg_load_scalar(cg *c, LLVMValueRef p, LLVMValueRef i);
LLVMValueRef cg_gep(cg *c, LLVMValueRef p, LLVMValueRef i);
/* A local variable (promoted to a register by the optimizer). */
LLVMValueRef cg_var(cg *c, LLVMTypeRef t, LLVMValueRef init);
/* Stack space for a t, allocated once at the kernel's entry. */
LLVMValueRef cg_alloca(cg *c, LLVMTypeRef t);
/* Orders streaming stores before whatever reads their memory next. */
void cg_sfence(cg *c);
/* Horizontal reductions: the sum in tree order; the max (a NaN lane
 * skipped or kept, as by cg_max). */
LLVMValueRef cg_reduce_add(cg *c, LLVMValueRef v);
LLVMValueRef cg_reduce_max(cg *c, LLVMValueRef v);
/* max(a, b) as `a > b ? a : b`: one maxps; a NaN in a yields b. */
LLVMValueRef cg_max(cg *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_splat(cg *c, LLVMValueRef scalar);
/* The n vectors v[0..n) side by side in one vector (n a power of two), and
 * part k of n of vector v: its lanes [k·m, k·m + m), m = its lanes / n. */
LLVMValueRef cg_concat(cg *c, const LLVMValueRef *v, int n);
LLVMValueRef cg_part(cg *c, LLVMValueRef v, int k, int n);
/* Mask of the first `count` lanes (an i64 in [0, width]). */
LLVMValueRef cg_first_lanes(cg *c, LLVMValueRef count);
/* Call of intrinsic `name` overloaded on tys. */
LLVMValueRef cg_intrinsic(cg *c, const char *name, LLVMTypeRef *tys, unsigned ntys,
                          LLVMValueRef *args, unsigned nargs);
/* Data pointer of parameter node v. */
LLVMValueRef cg_param(cg *c, int v);

/* Data pointer of a constant tensor: a global of the module. */
LLVMValueRef cg_const_data(cg *c, const node *nd);

/* ---- eltwise.c */
/* Where a vector of an elementwise op's results sits: its lanes consecutive
 * from one position, or (nparts > 1) nparts vectors of width / nparts lanes
 * side by side, each at its own position parts[k] (a GEMM's epilogue works
 * on several output vectors of its tile at once). */
typedef struct cg_pos {
  LLVMValueRef index;      /* i64 flat index of lane 0 in the result; lanes are consecutive */
  LLVMValueRef mask;       /* tail mask, or NULL */
  const LLVMValueRef *off; /* per use of the dag (cg_dag.use): the element offset of lane 0 in its data */
  int nparts;              /* 0 or 1: one position (the fields above); else the parts' */
  const struct cg_pos *parts;
} cg_pos;
/* y = op(operand[0], operand[1]) for one vector of each (operand[1]: a binary
 * op's b, prelu's weight).  For an op that is not elementwise it sets
 * c->unsupported. */
LLVMValueRef cg_eltwise_op(cg *c, const node *nd, LLVMValueRef *operand, const cg_pos *pos);

/* The elementwise members of a kernel's group, computed in registers: a
 * whole elementwise kernel, a linear's epilogue or a softmax's prologue.
 * Each value is computed once however many members use it.  The operands
 * from outside the group are its uses: the kernel's inputs, parameters and
 * constants, each with its strides in the loop over the group's value. */
typedef struct cg_use {
  LLVMValueRef base; /* its data; NULL for a scalar constant */
  bool is_scalar;
  float scalar;
} cg_use;
typedef struct cg_dag {
  int n;
  const node *m[GROUP_MAX];
  int src[GROUP_MAX][OP_MAX_ARGS]; /* an operand's source: a member, or -1 - u for use u */
  cg_use use[SPACE_MAX_OPERANDS];
  loop_space space;                /* the uses' strides; a kernel merges its dims as its loops need */
  LLVMValueRef val[GROUP_MAX];     /* member values at the position being emitted */
} cg_dag;
/* Collects the group's elementwise members and the uses of their outside
 * operands; loads the uses' data pointers (emits at the builder). */
void cg_dag_init(cg *c, cg_dag *d, const group *gr);
/* Computes the elementwise members in [from, to) at pos into d->val: the
 * values of the others (a linear's accumulators) and of members before
 * `from` are the caller's.  A use whose innermost loop stride is 1 loads a
 * vector, others an element splat. */
void cg_dag_eval(cg *c, cg_dag *d, int from, int to, const cg_pos *pos);
/* Ops whose code is a long dependency chain (vector math, live dropout's
 * Philox rounds): a dag of them is evaluated on several vectors at once. */
bool cg_long_latency(const cg *c, const node *nd);
/* The kernel of a KF_ELTWISE group. */
void cg_eltwise_kernel(cg *c, const group *gr);
/* ---- philox.c: training-mode dropout (definition: src/philox.h) */
/* out = Philox4x32-10(ctr, key), lane by lane: ctr and out are i32 or
 * <W x i32>, key is two i32 scalars (the same key for every lane). */
void cg_philox4x32_10(cg *c, LLVMValueRef ctr[4], LLVMValueRef key[2], LLVMValueRef out[4]);
/* Dropout node nd on x (float or vector) at pos: with c->training,
 * x · (keep ? 1/(1-p) : 0), the mask keyed by (c->seed, nd's name,
 * element index in the whole tensor: c->row0 rows before pos->index + lane);
 * else x. */
LLVMValueRef cg_dropout(cg *c, const node *nd, LLVMValueRef x, const cg_pos *pos);
/* ---- linear.c: one linear (or two of one input) and the group's
 * elementwise members as the epilogue, then, for KF_LINEAR_SOFTMAX, a
 * softmax of each row of outputs.  The epilogue is a function, which every
 * tile calls: defined beside the kernel (EPILOGUE_HERE, internal), or only
 * declared (EPILOGUE_DECLARED) and defined, exported, in another module by
 * cg_linear_epilogue (EPILOGUE_EXPORTED), which another thread compiles. */
typedef enum cg_epilogue { EPILOGUE_HERE, EPILOGUE_DECLARED, EPILOGUE_EXPORTED } cg_epilogue;
void cg_linear_kernel(cg *c, const group *gr, cg_epilogue where);
/* The epilogue of the kernel c->fn (declared) alone. */
void cg_linear_epilogue(cg *c, const group *gr);
/* The blocks of weight panels of a linear kernel, which may run in parts
 * [panel0, panel1) side by side: each block as many panels as its tile of
 * one row spans (the last block what is left), so that a part's tiles read
 * no other part's weights; 1 for any other kernel, whose outputs do not
 * split so (a linear normalizing its rows in registers included). */
int64_t cg_linear_panels(const actjit_graph *g, const group *gr, const target_desc *t);
/* Rows a task needs to take its share of the batch rather than of the
 * weight panels: fewer, and each task would read every weight for them. */
enum { CG_SPLIT_ROWS_MIN = 16 };
/* A linear's weight [out, in] is bound packed for the target and the kernel
 * that reads it (`linears`: 2 for one of a KF_DUAL_LINEAR pair, else 1):
 * panels of cg_panel_floats outputs, each [in][panel floats], zero padded
 * (linear.c); cg_packed_floats floats in all. */
int64_t cg_panel_floats(const target_desc *t, int64_t out, int linears);
int64_t cg_packed_floats(const target_desc *t, int64_t out, int64_t in, int linears);
void cg_pack_weight(const target_desc *t, const float *w, int64_t out, int64_t in, int linears, float *dst);
/* ---- params.c: parameters as plan p's kernels read them for target t.
 * cg_param_layout: how parameter v of g is laid out, 0 as given, or 1 or
 * 2 for a linear's weight packed (cg_pack_weight) for that many linears in
 * its kernel; the runtime keeps the layout beside the shape (a kernel read
 * from the disk cache has no graph).  cg_param_floats floats, which
 * cg_param_pack writes at dst from data (shape s, row-major). */
int cg_param_layout(const actjit_graph *g, const plan *p, int v);
int64_t cg_param_floats(const target_desc *t, const shape *s, int layout);
void cg_param_pack(const target_desc *t, const shape *s, int layout, const float *data, float *dst);
/* ---- pack.c: an ahead-of-time object's parameters bound at run time.
 * cg_bound_offset: where parameter j of a starts in the packed buffer,
 * bytes (a multiple of 64; j = a->nparams: the buffer's size).
 * cg_bad_packed: i1, packed is NULL or not 64-byte aligned.
 * cg_bound_params: the pointer table the kernels take (params[j] at its
 * offset in packed), on the stack of the function being emitted.
 * cg_emit_bind: the body of c->fn, int PREFIX_bind(const float *const *params,
 * void *packed), begun with the builder at its entry: -1 having written
 * nothing for a NULL pointer or a bad packed, else each parameter written
 * as cg_param_pack writes it, every byte of packed, and 0. */
int64_t cg_bound_offset(const cg_aot *a, int j);
LLVMValueRef cg_bad_packed(cg *c, LLVMValueRef packed);
LLVMValueRef cg_bound_params(cg *c, LLVMValueRef packed, const cg_aot *a);
void cg_emit_bind(cg *c, const plan *p, const cg_aot *a);
/* ---- softmax.c: the group's softmax with its elementwise members as the
 * prologue; in_place when the plan has it write over its input */
void cg_softmax_kernel(cg *c, const group *gr, bool in_place);
/* softmax (log: log_softmax) of `rows` rows of n vectors in registers,
 * v[r·n + j], in place; lanes off in mask[j] (NULL: none) are left out.
 * PyTorch's order: exp(x - M) times 1/S, or (x - M) - log S, M the row's
 * max.  Each step runs on every row before the next, so that the rows'
 * chains of dependent steps overlap. */
void cg_softmax_rows(cg *c, bool log, int rows, int n, LLVMValueRef *v, const LLVMValueRef *mask);
/* ---- glu.c: glu (its own kernel: it halves a dim) */
void cg_glu_kernel(cg *c, const node *nd);
/* ---- transpose.c: transpose, a copy in the result's order */
void cg_transpose_kernel(cg *c, const node *nd);
/* ---- matmul.c: matmul, a product of matrices for each matrix of the result */
void cg_matmul_kernel(cg *c, const node *nd);

#endif
