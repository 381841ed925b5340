/* Ahead-of-time objects: the compile's front half (kernel_lower), the
 * plan's module with the weights as constant data, or a bind call that
 * packs them at run time when the graph has none, and exported entry
 * points (cg_build_aot), LLVM's object file for it, and a C header
 * declaring what the object exports.  Both files are written beside their
 * paths and renamed into place only when both are complete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "jit/jit.h"
#include "runtime/lower.h"

enum { PREFIX_MAX = 128 };

static bool c_identifier(const char *s) {
  size_t n = strlen(s);
  if (!n || n > PREFIX_MAX || (*s >= '0' && *s <= '9')) return false;
  for (; *s; s++)
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))) return false;
  return true;
}

/* The parameters as the kernels read them, from the values the graph
 * holds, or, when none holds any, only their sizes: the object binds them
 * (PREFIX_bind).  Some with values and some without is refused, naming one
 * of each. */
static actjit_status pack_params(const actjit_graph *g, const plan *p, const target_desc *t, cg_aot *a) {
  int n = actjit_graph_param_count(g);
  const node *with = NULL, *without = NULL;
  for (int v = 0; v < g->n; v++)
    if (g->nodes[v].op == OP_PARAM) {
      if (g->nodes[v].data && !with) with = &g->nodes[v];
      if (!g->nodes[v].data && !without) without = &g->nodes[v];
    }
  if (with && without)
    return aj_error(g->ctx, ACTJIT_ERR_WEIGHTS,
                    "parameter @%s has no values but @%s has: an ahead-of-time object holds the values of every "
                    "parameter or of none (then its bind call packs them at run time)",
                    without->name, with->name);
  float **params = without ? NULL : calloc((size_t)n + 1, sizeof *params);
  int64_t *floats = calloc((size_t)n + 1, sizeof *floats);
  a->nparams = n;
  a->params = (const float *const *)params;
  a->param_floats = floats;
  if ((!without && !params) || !floats) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  for (int v = 0, j = 0; v < g->n; v++) {
    const node *nd = &g->nodes[v];
    if (nd->op != OP_PARAM) continue;
    int layout = cg_param_layout(g, p, v);
    floats[j] = cg_param_floats(t, &nd->shape, layout);
    if (params && !(params[j] = malloc((size_t)(floats[j] ? floats[j] : 1) * sizeof(float))))
      return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    if (params) cg_param_pack(t, &nd->shape, layout, nd->data, params[j]);
    j++;
  }
  return ACTJIT_OK;
}

static void free_params(cg_aot *a) {
  for (int j = 0; a->params && j < a->nparams; j++) free((void *)a->params[j]);
  free((void *)a->params);
  free((void *)a->param_floats);
}

/* text inside a C comment: printable ASCII, a star then a slash split apart,
 * one line. */
static void comment_text(strbuf *sb, const char *text) {
  for (const char *c = text; *c; c++)
    sb_printf(sb, "%s%c", *c == '/' && c > text && c[-1] == '*' ? " " : "", *c >= ' ' && *c <= '~' ? *c : '?');
}

/* The features a feature string turns on ("+avx2,-xop,+fma": "+avx2,+fma"),
 * or the CPU's own. */
static void enabled_features(strbuf *sb, const char *features) {
  bool any = false;
  for (const char *f = features; *f;) {
    size_t n = strcspn(f, ",");
    if (*f == '+') {
      sb_printf(sb, "%s%.*s", any ? "," : "", (int)n, f);
      any = true;
    }
    f += n + (f[n] == ',');
  }
  if (!any) sb_printf(sb, "its own features");
}

/* The header's list of the parameters bound at run time. */
static void print_params(strbuf *sb, const actjit_graph *g, const char *prefix) {
  sb_printf(sb, " * parameters, bound at run time (%s_bind), each row-major in the shape the\n"
                " * model declares (PyTorch's: a Linear's weight is [out_features, in_features]):\n", prefix);
  for (int v = 0, j = 0; v < g->n; v++) {
    const node *nd = &g->nodes[v];
    if (nd->op != OP_PARAM) continue;
    strbuf name = {0};
    char dims[96];
    print_name(&name, '@', nd->name);
    sb_printf(sb, " *   %d: ", j++);
    if (name.failed) sb->failed = true;
    else comment_text(sb, name.buf);
    sb_printf(sb, " %s\n", shape_str(&nd->shape, dims, sizeof dims));
    free(name.buf);
  }
}

/* The bind call's declarations. */
static void print_bind(strbuf *sb, const char *prefix, const char *upper, const cg_aot *a) {
  sb_printf(sb,
            "/* The parameters, in the order above, and the bytes %s_bind packs them into. */\n"
            "#define %s_PARAMS %d\n#define %s_PARAMS_BYTES %lld\n"
            "size_t %s_params_bytes(void);\n\n",
            prefix, upper, a->nparams, upper, (long long)cg_bound_offset(a, a->nparams), prefix);
  sb_printf(sb,
            "/* Packs the parameters as the kernels read them into packed: %s_PARAMS_BYTES\n"
            " * bytes of the caller's, 64-byte aligned (aligned_alloc(64, %s_PARAMS_BYTES)).\n"
            " * params[i] points at parameter i's floats (above).  Writes every byte of\n"
            " * packed and keeps no pointer: the params may be freed after, and packed,\n"
            " * which holds no address, may be copied, or saved and read back on a CPU\n"
            " * of this target.  Returns 0, or -1 having written nothing for a NULL\n"
            " * params, packed or params[i], or a packed not 64-byte aligned. */\n"
            "int %s_bind(const float *const *params, void *packed);\n\n",
            upper, upper, prefix);
}

/* The header declaring the object's exports (cg_build_aot). */
static void print_header(strbuf *sb, const actjit_graph *g, const plan *p, const target_desc *t,
                         const actjit_compile_options *o, const cg_aot *a, const char *model) {
  const char *prefix = a->prefix;
  bool bound = !a->params;
  char upper[PREFIX_MAX + 1], in[96], out[96];
  size_t n = strlen(prefix);
  for (size_t i = 0; i <= n; i++) upper[i] = prefix[i] >= 'a' && prefix[i] <= 'z' ? (char)(prefix[i] - 'a' + 'A') : prefix[i];
  const node *x = &g->nodes[g->input], *y = &g->nodes[g->output];
  sb_printf(sb, "/* %s: generated by %s, ahead of time", prefix, actjit_version());
  if (model) {
    sb_printf(sb, " from ");
    comment_text(sb, model);
  }
  /* pow's exponents other than -2, -1, 2 and 3 call libm's powf (codegen/eltwise.c) */
  bool pow = false;
  for (int i = 0; i < g->n; i++) pow |= g->nodes[i].op == OP_POW;
  sb_printf(sb, ".\n *\n * Link %s's object into the program (cc app.c %s.o%s): it needs only libc%s.\n"
                " * The code is for %s, with ",
            prefix, prefix, pow ? " -lm" : "", pow ? " and, for pow, libm" : "", t->cpu);
  enabled_features(sb, t->features);
  sb_printf(sb, ": it runs only on CPUs that have them.\n *\n");
  sb_printf(sb, " * input  x: %s floats, row-major%s\n", shape_str(&x->shape, in, sizeof in),
            x->shape.dyn ? " (N: the batch)" : "");
  sb_printf(sb, " * output y: %s floats\n * kernels:\n", shape_str(&y->shape, out, sizeof out));
  for (int i = 0; i < p->n; i++) {
    strbuf step = {0};
    kernel_print_step(&step, g, &p->steps[i]);
    sb_printf(sb, " *   ");
    if (step.failed) sb->failed = true;
    else if (step.buf) comment_text(sb, step.buf);
    sb_printf(sb, "\n");
    free(step.buf);
  }
  if (bound) print_params(sb, g, prefix);
  sb_printf(sb, " */\n#ifndef ACTJIT_AOT_%s_H\n#define ACTJIT_AOT_%s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n"
                "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n",
            upper, upper);
  sb_printf(sb, "/* Floats of x and of y %s. */\n#define %s_IN_FLOATS %lld\n#define %s_OUT_FLOATS %lld\n\n",
            x->shape.dyn ? "per unit of batch" : "(the input has no batch: a run's batch is taken as 1)", upper,
            (long long)shape_numel(&x->shape).mul, upper, (long long)shape_numel(&y->shape).mul);
  if (bound) print_bind(sb, prefix, upper, a);
  /* (bound: the runs take the packed parameters first) */
  char xt[64];
  snprintf(xt, sizeof xt, "%s%s *x", bound ? "const void *packed, " : "", o->donate_input ? "float" : "const float");
  sb_printf(sb,
            "/* Bytes of scratch memory a run of this batch needs: 0 for a negative\n"
            " * batch, SIZE_MAX past the largest.  Any 4-byte aligned memory; 64-byte\n"
            " * aligned is fastest. */\n"
            "size_t %s_scratch_bytes(int64_t batch);\n\n",
            prefix);
  if (bound)
    sb_printf(sb,
              "/* Runs the pipeline with the parameters %s_bind packed into packed on x,\n"
              " * batch rows, into y (x and y must not overlap%s).  Reentrant: a run keeps\n"
              " * all its state in scratch (%s_scratch_bytes(batch) bytes, for this run\n"
              " * alone) and only reads packed, which runs at once may share.  Returns 0,\n"
              " * or -1 having done nothing for a negative or too large batch, a NULL\n"
              " * buffer or a packed not 64-byte aligned. */\n",
              prefix, o->donate_input ? "; x is overwritten" : "", prefix);
  else
    sb_printf(sb,
              "/* Runs the pipeline on x, batch rows, into y (x and y must not overlap%s).\n"
              " * Reentrant: a run keeps all its state in scratch (%s_scratch_bytes(batch)\n"
              " * bytes, for this run alone), the weights are constant data of the\n"
              " * object.  Returns 0, or -1 having done nothing for a negative or too large\n"
              " * batch or a NULL buffer. */\n",
              o->donate_input ? "; x is overwritten" : "", prefix);
  sb_printf(sb, "int %s_run(%s, int64_t batch, float *y, void *scratch);\n\n", prefix, xt);
  sb_printf(sb,
            "/* Threads come from the application (the types of actjit.h's\n"
            " * actjit_parallel_for_fn): a parallel-for runs task(arg, i) for every i\n"
            " * in [0, n), in any order and possibly at once, and returns when all have\n"
            " * finished. */\n"
            "typedef void (*%s_task_fn)(void *arg, int64_t i);\n"
            "typedef void (*%s_parallel_for_fn)(void *user, int64_t n, %s_task_fn task, void *arg);\n\n"
            "/* Scratch bytes for %s_run_parallel with up to `tasks` tasks. */\n"
            "size_t %s_parallel_scratch_bytes(int64_t batch, int tasks);\n\n"
            "/* As %s_run, with each kernel as up to `tasks` slices of the batch (or of\n"
            " * a linear's weights, for few rows) through pfor, one call of it a kernel;\n"
            " * the result is bitwise %s_run's.  pfor NULL or tasks <= 1: %s_run. */\n"
            "int %s_run_parallel(%s, int64_t batch, float *y, void *scratch, %s_parallel_for_fn pfor,\n"
            "    void *user, int tasks);\n\n",
            prefix, prefix, prefix, prefix, prefix, prefix, prefix, prefix, prefix, xt, prefix);
  sb_printf(sb, "#ifdef __cplusplus\n}\n#endif\n#endif\n");
}

/* data written to a temporary file beside path; *tmp its name. */
static actjit_status write_temp(actjit_context *ctx, const char *path, const void *data, size_t len, char **tmp) {
  size_t plen = strlen(path);
  *tmp = malloc(plen + sizeof ".XXXXXX");
  if (!*tmp) return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  memcpy(*tmp, path, plen);
  memcpy(*tmp + plen, ".XXXXXX", sizeof ".XXXXXX");
  int fd = mkstemp(*tmp);
  if (fd < 0) {
    int e = errno;
    free(*tmp);
    *tmp = NULL;
    return aj_error(ctx, ACTJIT_ERR_IO, "%s: cannot write: %s", path, strerror(e));
  }
  /* mkstemp creates 0600; the result gets a normal file's mode. */
  FILE *f = fchmod(fd, 0644) ? NULL : fdopen(fd, "wb");
  bool ok = f && (!len || fwrite(data, 1, len, f) == len);
  int e = errno;
  if (f && fclose(f) && ok) { /* buffered writes surface here (ENOSPC) */
    ok = false;
    e = errno;
  }
  if (!f) close(fd);
  return ok ? ACTJIT_OK : aj_error(ctx, ACTJIT_ERR_IO, "%s: cannot write: %s", path, strerror(e));
}

actjit_status actjit_aot_write(actjit_graph *g, const actjit_compile_options *o, const char *prefix,
                               const char *object_path, const char *header_path) {
  if (!g || !prefix || !object_path || !header_path)
    return aj_error(g ? g->ctx : NULL, ACTJIT_ERR_ARGUMENT, "actjit_aot_write: NULL argument");
  actjit_context *ctx = g->ctx;
  char buf[64];
  if (!c_identifier(prefix))
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "prefix '%s' is not a C identifier of at most %d characters",
                    aj_printable(prefix, strlen(prefix), buf, sizeof buf), PREFIX_MAX);
  if (!strcmp(object_path, header_path))
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "the object and the header are both %s", object_path);
  actjit_compile_options defaults;
  actjit_compile_options_init(&defaults);
  if (!o) o = &defaults;
  if (o->training)
    return aj_error(ctx, ACTJIT_ERR_UNSUPPORTED, "an ahead-of-time object runs in inference mode only (training = 0)");
  actjit_graph *lowered = ir_clone(g);
  if (!lowered) return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  target_desc t = {0};
  plan p = {0};
  strbuf dump = {0}, header = {0};
  cg_aot a = {.prefix = prefix};
  jit_session s = {0};
  LLVMMemoryBufferRef obj = NULL;
  char *obj_tmp = NULL, *header_tmp = NULL;
  actjit_status st = kernel_lower(lowered, o, &t, &p, &dump);
  if (!st) st = pack_params(lowered, &p, &t, &a);
  if (!st) st = jit_session_init(ctx, &s, o->opt_level);
  LLVMModuleRef mod;
  if (!st) st = cg_build_aot(lowered, &p, jit_session_context(&s), &t, &a, &mod);
  if (!st) st = jit_session_emit(ctx, &s, &t, mod, &obj);
  if (!st) {
    print_header(&header, lowered, &p, &t, o, &a, g->file);
    if (header.failed) st = aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  if (!st) st = write_temp(ctx, object_path, LLVMGetBufferStart(obj), LLVMGetBufferSize(obj), &obj_tmp);
  if (!st) st = write_temp(ctx, header_path, header.buf, strlen(header.buf), &header_tmp);
  if (!st && rename(obj_tmp, object_path))
    st = aj_error(ctx, ACTJIT_ERR_IO, "%s: cannot write: %s", object_path, strerror(errno));
  else if (!st && rename(header_tmp, header_path)) {
    st = aj_error(ctx, ACTJIT_ERR_IO, "%s: cannot write: %s", header_path, strerror(errno));
    unlink(object_path); /* (no object without its header) */
  }
  if (st && obj_tmp) unlink(obj_tmp);
  if (st && header_tmp) unlink(header_tmp);
  free(obj_tmp), free(header_tmp);
  if (obj) LLVMDisposeMemoryBuffer(obj);
  jit_session_free(&s);
  free_params(&a);
  free(dump.buf), free(header.buf);
  plan_free(&p);
  target_free(&t);
  actjit_graph_destroy(lowered);
  return st;
}
