/*
 * actjit — a JIT code generator for fused activation pipelines.
 *
 * A pipeline is a small SSA graph of f32 tensors (rank 1–6, the leading
 * dimension optionally dynamic: the batch, bound at run time) built op by op
 * through this API or parsed from the textual IR.  actjit verifies it, runs
 * its passes, emits vectorized code for the target CPU through LLVM and
 * JIT-compiles it in process.
 *
 * Conventions
 *   - Every public name starts with actjit_ / ACTJIT_.
 *   - Handles are opaque.  Whoever calls *_create / *_parse / actjit_compile
 *     owns the result and frees it with the matching *_destroy.  Strings the
 *     library returns through `char **` belong to the caller and are freed
 *     with actjit_free().  Strings returned as `const char *` are borrowed
 *     and stay valid until the next call on the same context.
 *   - Every fallible call returns an actjit_status; on failure the context
 *     keeps a one-line message (actjit_context_error) naming the file,
 *     line:column or op at fault, and the error callback, if set, gets it too.
 *   - The library never prints, never exits, never aborts.
 *   - Threads: a context and the objects made from it are used by one
 *     thread at a time; separate contexts are independent, and may compile
 *     at once (kernels compiled alike share their code through a
 *     process-wide cache under a lock: actjit_compile_options.cache).  The
 *     exception: actjit_kernel_run_scratch may run on one kernel from any
 *     number of threads at once, each with its own scratch, while nothing
 *     else uses that kernel.  One run may itself use the application's
 *     threads: actjit_kernel_set_parallel_for.
 */
#ifndef ACTJIT_H
#define ACTJIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define ACTJIT_VERSION_MAJOR 0
#define ACTJIT_VERSION_MINOR 1
#define ACTJIT_VERSION_PATCH 0
#define ACTJIT_VERSION_STRING "0.1.0"

/* Largest tensor rank. */
#define ACTJIT_MAX_RANK 6
/* A dims[0] of ACTJIT_DYN marks the leading dimension as the batch, bound at
 * run time (written `N` in the textual IR). */
#define ACTJIT_DYN (-1)

typedef enum actjit_status {
  ACTJIT_OK = 0,
  ACTJIT_ERR_ARGUMENT,    /* a NULL or out-of-range argument to the API */
  ACTJIT_ERR_PARSE,       /* malformed textual IR */
  ACTJIT_ERR_VERIFY,      /* ill-formed graph: unknown op, shape, attribute */
  ACTJIT_ERR_WEIGHTS,     /* missing or wrongly shaped parameter */
  ACTJIT_ERR_IO,          /* a file could not be read or written */
  ACTJIT_ERR_NOMEM,       /* allocation failed */
  ACTJIT_ERR_TARGET,      /* unknown CPU / features for this LLVM */
  ACTJIT_ERR_LLVM,        /* LLVM rejected the module or failed to compile */
  ACTJIT_ERR_UNSUPPORTED, /* well formed, but not something actjit can compile */
} actjit_status;

/* A short constant name for a status ("ACTJIT_ERR_PARSE", ...). */
const char *actjit_status_name(actjit_status s);

/* ---------------------------------------------------------------- context */

typedef struct actjit_context actjit_context;
typedef void (*actjit_error_fn)(void *user, actjit_status s, const char *msg);

actjit_status actjit_context_create(actjit_context **out);
void actjit_context_destroy(actjit_context *ctx);
/* Message of the most recent failed call on this context ("" if none). */
const char *actjit_context_error(const actjit_context *ctx);
/* Called with every error message as it is raised; NULL to unset. */
void actjit_context_set_error_callback(actjit_context *ctx, actjit_error_fn fn,
                                       void *user);

/* Frees a string the library handed over through `char **`. */
void actjit_free(void *p);

/* ------------------------------------------------------------------ graph */

typedef struct actjit_graph actjit_graph;
/* Index of an SSA value in its graph. */
typedef int32_t actjit_value;
#define ACTJIT_NO_VALUE ((actjit_value)-1)

/* A named numeric attribute of an op, as in the textual IR `{p = 0.2}`.  A
 * list attribute (transpose's `perm = [0, 2, 1]`) is given once per value,
 * in order: {"perm", 0}, {"perm", 2}, {"perm", 1}. */
typedef struct actjit_attr {
  const char *name;
  double value;
} actjit_attr;

actjit_status actjit_graph_create(actjit_context *ctx, actjit_graph **out);
void actjit_graph_destroy(actjit_graph *g);

/* Parses the textual IR.  `filename` only labels error messages. */
actjit_status actjit_graph_parse(actjit_context *ctx, const char *text,
                                 size_t len, const char *filename,
                                 actjit_graph **out);
actjit_status actjit_graph_parse_file(actjit_context *ctx, const char *path,
                                      actjit_graph **out);

/* The pipeline's single input.  dims[0] may be ACTJIT_DYN. */
actjit_status actjit_graph_input(actjit_graph *g, const char *name, int rank,
                                 const int64_t *dims, actjit_value *out);
/* A named parameter (a state_dict key such as "0.weight"); static shape. */
actjit_status actjit_graph_param(actjit_graph *g, const char *name, int rank,
                                 const int64_t *dims, actjit_value *out);
/* A constant tensor: rank 0 (a scalar; dims may be NULL) to ACTJIT_MAX_RANK, a copy of
 * data taken (row-major, the product of dims floats; Inf and NaN allowed).
 * name NULL: anonymous (a scalar then prints as a literal where it is used,
 * `mul %x, 0.5`), else a value name. */
actjit_status actjit_graph_const(actjit_graph *g, const char *name, int rank, const int64_t *dims,
                                 const float *data, actjit_value *out);
/* Appends op `op` (its textual-IR name: "linear", "relu", "add", ...)
 * applied to `args`, with attributes; omitted attributes take PyTorch's
 * defaults.  For linear, args are {x, weight} or {x, weight, bias}; for
 * prelu {x, weight}; for matmul {x, weight} (a batch of matrices); the
 * binary ops (add, sub, mul, div, maximum, minimum, pow) take any two
 * values, parameters or constants, at least one a value, broadcast as in
 * NumPy.  A value may have any number of uses.  The
 * result's shape is inferred and checked. */
actjit_status actjit_graph_op(actjit_graph *g, const char *op,
                              const actjit_value *args, int nargs,
                              const actjit_attr *attrs, int nattrs,
                              actjit_value *out);
/* Names value v (an input or an op's result): its %name in the printed IR,
 * the dumps and messages, in place of the fresh tK the builder gives.  Any
 * non-empty text not already naming another value or parameter. */
actjit_status actjit_graph_set_name(actjit_graph *g, actjit_value v, const char *name);
/* Marks the pipeline's single output. */
actjit_status actjit_graph_output(actjit_graph *g, actjit_value v);

/* The pipeline's input and output values (ACTJIT_NO_VALUE until set), and
 * the context the graph reports errors to. */
actjit_value actjit_graph_get_input(const actjit_graph *g);
actjit_value actjit_graph_get_output(const actjit_graph *g);
actjit_context *actjit_graph_context(const actjit_graph *g);

/* Checks the whole graph (one input, one output, every op well formed). */
actjit_status actjit_graph_verify(actjit_graph *g);

/* Shape of a value; dims[0] is ACTJIT_DYN for a batch-led value, or -k
 * when the leading dim is k times the batch (after a flatten folds it). */
actjit_status actjit_graph_value_shape(const actjit_graph *g, actjit_value v,
                                       int *rank, int64_t dims[ACTJIT_MAX_RANK]);

/* Parameters in declaration order. */
int actjit_graph_param_count(const actjit_graph *g);
actjit_status actjit_graph_param_info(const actjit_graph *g, int i,
                                      const char **name, int *rank,
                                      int64_t dims[ACTJIT_MAX_RANK]);

/* Gives parameter `name` its values (a copy: `count` floats, row-major, its
 * declared shape's count).  A kernel compiled from the graph starts with
 * every parameter that holds values bound to them (actjit_kernel_bind may
 * still replace them); the ONNX reader sets them from the initializers. */
actjit_status actjit_graph_param_set_data(actjit_graph *g, const char *name, const float *data, size_t count);
/* The values parameter i holds, NULL if none (borrowed from the graph). */
const float *actjit_graph_param_data(const actjit_graph *g, int i);

/* Reads an ONNX model: `bytes` is the content of a .onnx file (protobuf
 * ModelProto), `path` its file, which labels messages and locates external
 * data (`location` relative to the model's folder; NULL: external data is
 * refused).  The graph's input is the model's first graph input (a
 * symbolic first dim, `dim_param`, is the batch; with ACTJIT_ONNX_BATCH in
 * flags a first dim the model gives a size is the batch too), its output
 * the model's single output; initializers become parameters holding their values (one
 * element: constants), bound at compile.  Ops and opsets: README, "From
 * ONNX"; anything else fails with one line naming the node (index, name,
 * op_type) and the opset. */
#define ACTJIT_ONNX_BATCH 1u
actjit_status actjit_graph_from_onnx(actjit_context *ctx, const void *bytes, size_t len, const char *path,
                                     unsigned flags, actjit_graph **out);
actjit_status actjit_graph_from_onnx_file(actjit_context *ctx, const char *path, unsigned flags, actjit_graph **out);

/* The textual IR of the graph; free with actjit_free. */
actjit_status actjit_graph_print(const actjit_graph *g, char **text);

/* ----------------------------------------------------------------- kernel */

typedef struct actjit_kernel actjit_kernel;

typedef struct actjit_compile_options {
  const char *cpu;      /* LLVM CPU name ("skylake-avx512", "x86-64"); NULL: the
                           host's, or $ACTJIT_CPU (and $ACTJIT_FEATURES) if set */
  const char *features; /* LLVM feature string ("+avx2,+fma"); NULL: host's
                           when cpu is NULL, else the CPU's own */
  const char *tuning;   /* NULL, or overrides of what the target is known to
                           have: "fma-ports=1,l2=262144" (keys vregs,
                           fma-ports, fma-latency, l1, l2, l3; bytes) */
  int opt_level;        /* 0..3; default 3 */
  int fuse;             /* 1: run the fusion passes and plan buffers in place;
                           0: one kernel and one buffer per op (the baseline) */
  int training;         /* 1: dropout is live (PyTorch train mode) */
  int donate_input;     /* 1: actjit_kernel_run may overwrite the input buffer */
  int canonicalize;     /* 1: activations written in primitives (x * sigmoid(x),
                           GELU as torch.onnx.export writes it, ...) become the
                           high-level ops (the canonicalize pass; README);
                           0: compiled as written */
  int depth_first;      /* 1: where a linear layer feeds another through
                           elementwise ops, a fused plan runs blocks of rows
                           through both while the block is in cache, the
                           intermediate taking a block's memory, not the
                           batch's; 0: layer by layer */
  int cache;            /* 1: a graph that prints the same (actjit_graph_print),
                           compiled for the same target with the same options
                           as a kernel still alive in this process, shares
                           that kernel's code instead of compiling it again
                           (any context, any thread; README, "Kernel cache");
                           0: compile anew, bypassing cache_dir too */
  const char *cache_dir; /* NULL: none; else a directory (created if missing)
                           where compiled kernels are kept across processes:
                           a compile it holds an entry for loads the code
                           instead of compiling it, one it does not writes
                           its entry (README, "Kernel cache") */
  int compile_threads;  /* threads LLVM's code generation may run on: each
                           kernel of the plan is a module of its own (the
                           entry that runs them in the last one's), compiled
                           at once, then linked (README, "Compile threads");
                           0: one a CPU this process may run on, as XLA sizes
                           its compile pool; 1: the calling thread alone, one
                           module.  The code, and every result, is the same
                           for any count.  The threads end before
                           actjit_compile returns. */
} actjit_compile_options;

/* Fills in the defaults: host CPU, O3, fused, canonicalized, depth-first,
 * cached, compiled on every CPU. */
void actjit_compile_options_init(actjit_compile_options *o);

/* Verifies, lowers and JIT-compiles `g`.  The kernel keeps its own copy of
 * what it needs: `g` may be destroyed or changed afterwards. */
actjit_status actjit_compile(actjit_graph *g, const actjit_compile_options *o,
                             actjit_kernel **out);
void actjit_kernel_destroy(actjit_kernel *k);

/* Where actjit_compile spent its time, in seconds.  The phases do not
 * overlap and sum to at most total (the rest: copying the graph, looking up
 * the kernels, planning the threads' slices).  When code generation ran on
 * several threads, optimize and codegen split its wall time as the threads
 * spent theirs. */
typedef struct actjit_compile_phases {
  double passes;   /* verifying, resolving the target, the passes, the memory plan */
  double emit;     /* emitting LLVM IR from the plan (codegen) */
  double optimize; /* LLVM: verifying the modules and its optimization pipeline */
  double codegen;  /* LLVM: the JIT's instruction selection, object emission and linking */
  double total;    /* the whole actjit_compile call */
  int codegen_threads; /* threads code generation ran on; 0: none ran (a cache hit) */
  int objects;         /* object files the kernel's JIT linked: one, or one a
                          kernel of the plan when compiled on several threads;
                          0: shared in memory */
} actjit_compile_phases;
actjit_status actjit_kernel_compile_phases(const actjit_kernel *k,
                                           actjit_compile_phases *out);

/* How actjit_compile got the kernel's code.  A kernel that shares code has
 * its own parameters, scratch, seed and parallel-for. */
typedef enum actjit_cache_outcome {
  ACTJIT_CACHE_BYPASSED, /* compiled: the options' cache was 0 */
  ACTJIT_CACHE_MISS,     /* compiled: nothing to share; its entry written to
                            cache_dir if one was given */
  ACTJIT_CACHE_MEMORY,   /* shared with a kernel of this process: nothing compiled */
  ACTJIT_CACHE_DISK,     /* loaded from cache_dir: no passes, no code generation */
  ACTJIT_CACHE_REBUILT,  /* cache_dir's entry was not valid (truncated, corrupt,
                            of another version or target): compiled, and the
                            entry replaced */
} actjit_cache_outcome;
/* note (if not NULL) gets what the disk cache did worth saying, borrowed
 * until the kernel is destroyed: why an entry was rebuilt or could not be
 * written ("entry corrupt: its checksum does not match"), else "".  A disk
 * cache failure never fails the compile. */
actjit_cache_outcome actjit_kernel_cache_outcome(const actjit_kernel *k, const char **note);

/* Copies `count` floats (row-major, the parameter's declared shape) into the
 * kernel.  Every parameter must be bound before actjit_kernel_run. */
actjit_status actjit_kernel_bind(actjit_kernel *k, const char *param,
                                 const float *data, size_t count);

/* Element counts of input and output for a batch size. */
actjit_status actjit_kernel_io_sizes(const actjit_kernel *k, int64_t batch,
                                     size_t *in_count, size_t *out_count);

/* Bytes of intermediate buffers the plan needs at this batch size (the
 * scratch area; input and output are the caller's). */
size_t actjit_kernel_scratch_bytes(const actjit_kernel *k, int64_t batch);

/* Sets the seed of training-mode dropout (default 0).  The mask of each
 * element is a function of (seed, dropout op, element index) only: the same
 * for fused and unfused kernels, every vector width and thread count. */
actjit_status actjit_kernel_set_seed(actjit_kernel *k, uint64_t seed);

/* Runs the pipeline on caller buffers (any alignment, must not overlap).
 * `batch` binds the dynamic leading dimension (ignored if there is none).
 * Intermediates live in a scratch area the kernel owns and reuses, so one
 * actjit_kernel_run at a time. */
actjit_status actjit_kernel_run(actjit_kernel *k, const float *input,
                                int64_t batch, float *output);

/* As actjit_kernel_run, with the intermediates in the caller's scratch:
 * actjit_kernel_scratch_bytes(k, batch) bytes (after any
 * actjit_kernel_set_parallel_for; NULL when that is 0), aligned to a float
 * (64 bytes is fastest).  Reentrant: any number of threads may run one
 * kernel at once, each with its own scratch (and buffers), as long as no
 * other call uses the kernel meanwhile (bind, set_seed, set_parallel_for,
 * run, destroy); with a parallel-for, it is called from each of them.  A
 * failed call's message goes to the kernel's context, one at a time: read
 * it once the calls have returned. */
actjit_status actjit_kernel_run_scratch(const actjit_kernel *k, const float *input, int64_t batch, float *output,
                                        void *scratch);

/* Threads come from the application: a parallel-for runs task(arg, i) for
 * every i in [0, n), in any order and possibly at once, and returns when
 * all have finished (OpenMP's `parallel for`, a thread pool, TBB, ...).
 * A run starts no threads of its own (a compile does, while it lasts:
 * actjit_compile_options.compile_threads). */
typedef void (*actjit_task_fn)(void *arg, int64_t i);
typedef void (*actjit_parallel_for_fn)(void *user, int64_t n,
                                       actjit_task_fn task, void *arg);

/* From now on, actjit_kernel_run and actjit_kernel_run_profiled run each
 * kernel of the plan as up to `tasks` slices of the batch through `pfor`,
 * one call of it a kernel; kernels that mix batch rows (a softmax or GLU
 * over the batch dim) and pipelines without a batch run whole.  Results are
 * bitwise the same for every task count, dropout masks included.  pfor NULL
 * or tasks <= 1: everything on the calling thread (the default).  A kernel
 * still runs one actjit_kernel_run at a time. */
actjit_status actjit_kernel_set_parallel_for(actjit_kernel *k,
                                             actjit_parallel_for_fn pfor,
                                             void *user, int tasks);

/* The kernels of the compiled plan, in execution order, and what each
 * computes ("linear %fc1 | relu %act" for a fused group). */
int actjit_kernel_step_count(const actjit_kernel *k);
const char *actjit_kernel_step_name(const actjit_kernel *k, int i);
/* As actjit_kernel_run, timing each kernel: seconds[i] for kernel i
 * (seconds holds actjit_kernel_step_count(k) doubles). */
actjit_status actjit_kernel_run_profiled(actjit_kernel *k, const float *input,
                                         int64_t batch, float *output,
                                         double *seconds);

typedef enum actjit_dump_kind {
  ACTJIT_DUMP_IR,        /* the textual IR the code was generated from */
  ACTJIT_DUMP_PASSES,    /* the IR after each pass */
  ACTJIT_DUMP_LLVM,      /* LLVM IR before optimization */
  ACTJIT_DUMP_LLVM_OPT,  /* LLVM IR after optimization: what the JIT compiles */
  ACTJIT_DUMP_ASM,       /* host assembly of the optimized module */
} actjit_dump_kind;

/* Text of one dump; free with actjit_free. */
actjit_status actjit_kernel_dump(actjit_kernel *k, actjit_dump_kind kind,
                                 char **text);

/* The target the kernel was compiled for and its vector width in floats. */
const char *actjit_kernel_cpu(const actjit_kernel *k);
int actjit_kernel_vector_width(const actjit_kernel *k);

/* ---------------------------------------------------------- ahead of time */

/* Compiles `g` as actjit_compile would (options o, NULL for the defaults;
 * inference only: o->training must be 0) into an ELF object file at
 * object_path and a C header at header_path that declares what it exports,
 * every name starting with `prefix` (a C identifier):
 *   size_t PREFIX_scratch_bytes(int64_t batch);
 *   int PREFIX_run(const float *x, int64_t batch, float *y, void *scratch);
 *   size_t PREFIX_parallel_scratch_bytes(int64_t batch, int tasks);
 *   int PREFIX_run_parallel(const float *x, int64_t batch, float *y, void *scratch,
 *                           PREFIX_parallel_for_fn pfor, void *user, int tasks);
 * A run computes what actjit_kernel_run computes, bitwise, keeping its state
 * in the caller's scratch (reentrant).  When every parameter holds its values
 * (actjit_graph_param_set_data) they are packed into the object's read-only
 * data.  When none does, the object packs them at run time, and exports
 *   size_t PREFIX_params_bytes(void);
 *   int PREFIX_bind(const float *const *params, void *packed);
 * where params[i] is the i-th parameter's floats in declaration order, as
 * shaped in the graph (the header lists them), and packed is
 * PREFIX_params_bytes() bytes of the caller's, 64-byte aligned; the runs
 * then take `const void *packed` as their first argument.  Some parameters
 * with values and some without: ACTJIT_ERR_WEIGHTS.  The object needs only
 * libc at link and run time (no LLVM, no libactjit), and its other
 * symbols are local, so objects of several prefixes link into one program;
 * it runs on the CPUs of the target o names (default the host's).  Both
 * files are written in full or not at all (temporary files renamed); `g` is
 * not changed. */
actjit_status actjit_aot_write(actjit_graph *g, const actjit_compile_options *o, const char *prefix,
                               const char *object_path, const char *header_path);

/* Host CPU name and feature string as LLVM sees them; free with actjit_free. */
actjit_status actjit_host_cpu(char **name, char **features);
/* "actjit 0.1.0 (LLVM 19.1.7)". */
const char *actjit_version(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
