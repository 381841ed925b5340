/* Ahead-of-time objects: `actjit aot` and actjit_aot_write.
 *
 *   - the seed model ir/mlp.air with its weights (tests/golden, PyTorch's
 *     seeded init) as seed.o + seed.h, linked into the README's example
 *     program (tests/aot/example.c, which the README must hold verbatim)
 *     with plain `cc example.c seed.o`: its output at batches 1, 7 and 1000
 *     bitwise that of `actjit run` (the JIT) on the same input;
 *   - two objects of other prefixes, written through the C API (a
 *     SwiGLU-like pipeline for the host, the seed model for haswell), linked
 *     into one program (tests/aot/two.c): on one thread, through parallel-fors
 *     of 3 and 4 tasks, and two runs at once, bitwise the JIT's
 *     (actjit_kernel_run, same options) at batches 0, 1, 7, 1000 and 1500;
 *     bad arguments refused;
 *   - objects without their weights (the seed model through the command,
 *     ir/swiglu.air and a SwiGLU-like pipeline for haswell through the C
 *     API) in a program (tests/aot/bound.c) that packs them with its bind
 *     call: the bytes the JIT packs, outputs bitwise the JIT's, bad
 *     arguments refused;
 *   - errors: one line, and no file written or changed.
 *
 * Every file goes to a fresh mkdtemp directory removed at the end. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "runtime/lower.h"
#include "testutil.h"

#if !defined(ACTJIT_CLI) || !defined(ACTJIT_CC)
#error "ACTJIT_CLI must be the actjit binary's path and ACTJIT_CC the C compiler's"
#endif

#define MLP ACTJIT_SOURCE_DIR "/ir/mlp.air"
#define MLP_WEIGHTS ACTJIT_SOURCE_DIR "/tests/golden/mlp.safetensors"

static char tmpdir[256];

/* Path of `name` in the test directory (rotating static buffers). */
static const char *tmp(const char *name) {
  static char bufs[16][512];
  static int next;
  char *b = bufs[next++ % 16];
  snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
  return b;
}

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* Runs argv in the test directory, stdin from `in` (or /dev/null), stdout
 * to `out` and stderr to err.txt there; returns the exit status (128 +
 * signal if killed). */
static int run(const char *const *argv, const char *in, const char *out) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int fi = open(in ? in : "/dev/null", O_RDONLY), fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644),
        fe = open(tmp("err.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fi < 0 || fo < 0 || fe < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || chdir(tmpdir)) _exit(126);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  assert_true(pid > 0);
  int ws;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The last command's stderr: empty, or exactly one line holding each
 * NULL-terminated fragment. */
static void expect_stderr(const char *frag, ...) {
  char *err = tu_slurp(tmp("err.txt"), NULL);
  assert_non_null(err);
  if (!frag) {
    if (*err) fail_msg("unexpected stderr: %s", err);
  } else {
    size_t n = strlen(err);
    if (!n || err[n - 1] != '\n' || strchr(err, '\n') != err + n - 1) fail_msg("not one line: %s", err);
    va_list ap;
    va_start(ap, frag);
    for (const char *f = frag; f; f = va_arg(ap, const char *))
      if (!strstr(err, f)) fail_msg("stderr lacks '%s': %s", f, err);
    va_end(ap);
  }
  free(err);
}

/* rows x cols floats in [-3, 3) from a fixed seed. */
static float *random_floats(size_t n, uint64_t seed) {
  float *x = malloc(n * sizeof *x + 4);
  assert_non_null(x);
  for (size_t i = 0; i < n; i++) x[i] = tu_uniform(&seed, -3, 3);
  return x;
}

/* The README's code block after `marker`, which must be tests/aot/NAME. */
static void expect_readme_block(const char *marker, const char *name) {
  char *readme = tu_slurp(ACTJIT_SOURCE_DIR "/README.md", NULL), path[512];
  assert_non_null(readme);
  snprintf(path, sizeof path, ACTJIT_SOURCE_DIR "/tests/aot/%s", name);
  char *file = tu_slurp(path, NULL);
  assert_non_null(file);
  char *at = strstr(readme, marker);
  if (!at) fail_msg("README has no %s", marker);
  at = strstr(at, "```c\n");
  assert_non_null(at);
  at += 5;
  char *end = strstr(at, "```\n");
  assert_non_null(end);
  if ((size_t)(end - at) != strlen(file) || memcmp(at, file, strlen(file)))
    fail_msg("the README's block after %s is not tests/aot/%s", marker, name);
  free(readme), free(file);
}

static void copy_file(const char *from, const char *to) {
  size_t n = 0;
  char *text = tu_slurp(from, &n);
  assert_non_null(text);
  write_bytes(to, text, n);
  free(text);
}

/* ------------------------------------------------------- the seed model */

static void test_seed_model_cli(void **state) {
  (void)state;
  /* the README's commands, run below from the test directory */
  char *readme = tu_slurp(ACTJIT_SOURCE_DIR "/README.md", NULL);
  assert_non_null(strstr(readme, "build/actjit aot ir/mlp.air --weights tests/golden/mlp.safetensors -o seed.o "));
  assert_non_null(strstr(readme, "cc example.c seed.o -o example\n"));
  free(readme);
  expect_readme_block("<!-- aot-example -->", "example.c");
  const char *aot[] = {ACTJIT_CLI, "aot", MLP, "--weights", MLP_WEIGHTS, "-o", "seed.o", NULL};
  assert_int_equal(run(aot, NULL, NULL), 0);
  expect_stderr(NULL);
  copy_file(ACTJIT_SOURCE_DIR "/tests/aot/example.c", tmp("example.c"));
  /* as the README says: the object and the program, nothing else */
  const char *cc[] = {ACTJIT_CC, "example.c", "seed.o", "-o", "example", NULL};
  assert_int_equal(run(cc, NULL, NULL), 0);
  expect_stderr(NULL);
  struct stat sb;
  assert_int_equal(stat(tmp("example"), &sb), 0);
  print_message("example program linked with seed.o: %lld bytes\n", (long long)sb.st_size);

  static const int64_t batches[] = {1, 7, 1000};
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    int64_t batch = batches[b], dims[] = {batch, 784};
    char arg[32], err[512];
    snprintf(arg, sizeof arg, "%lld", (long long)batch);
    float *x = random_floats((size_t)batch * 784, 1000 + (uint64_t)batch);
    if (npy_write(tmp("x.npy"), 2, dims, x, err, sizeof err)) fail_msg("%s", err);
    write_bytes(tmp("x.bin"), x, (size_t)batch * 784 * sizeof *x);
    const char *jit[] = {ACTJIT_CLI, "run", MLP, "--weights", MLP_WEIGHTS, "--input", "x.npy", "--output", "y.npy", NULL};
    assert_int_equal(run(jit, NULL, NULL), 0);
    const char *example[] = {tmp("example"), arg, NULL};
    assert_int_equal(run(example, tmp("x.bin"), tmp("y.bin")), 0);
    npy_array want = {0};
    if (npy_read(tmp("y.npy"), &want, err, sizeof err)) fail_msg("%s", err);
    size_t len;
    float *got = (float *)tu_slurp(tmp("y.bin"), &len);
    assert_int_equal(want.count, (size_t)batch * 10);
    assert_int_equal(len, want.count * sizeof(float));
    for (size_t i = 0; i < want.count; i++)
      if (memcmp(&got[i], &want.data[i], sizeof(float)))
        fail_msg("batch %lld, output %zu: %a ahead of time, %a from the JIT", (long long)batch, i, got[i], want.data[i]);
    /* (and a real result: each row a distribution) */
    for (int64_t r = 0; r < batch; r++) {
      double sum = 0;
      for (int j = 0; j < 10; j++) sum += got[r * 10 + j];
      if (!(sum > 0.9999 && sum < 1.0001)) fail_msg("batch %lld row %lld sums to %g", (long long)batch, (long long)r, sum);
    }
    free(x), free(got);
    npy_free(&want);
  }
}

/* -------------------------------------- two objects through the C API */

/* SwiGLU's gate and up in one kernel (their weights packed for it), a
 * depth-first run of three kernels, a softmax over the batch. */
static const char act_model[] = "input %x : f32[N, 64]\n"
                                "param @gate.weight : f32[96, 64]\n"
                                "param @up.weight : f32[96, 64]\n"
                                "param @down.weight : f32[40, 96]\n"
                                "param @down.bias : f32[40]\n"
                                "%gate = linear %x, @gate.weight\n"
                                "%up = linear %x, @up.weight\n"
                                "%act = silu %gate\n"
                                "%prod = mul %act, %up\n"
                                "%h = linear %prod, @down.weight, @down.bias\n"
                                "%s = log_softmax %h {dim = 1}\n"
                                "%z = softmax %s {dim = 0}\n"
                                "output %z\n";

typedef struct aot_case {
  const char *prefix, *cpu;
  actjit_graph *g;
  actjit_kernel *k;
  int64_t in, out; /* floats a row */
} aot_case;

/* c's graph with every parameter holding values: the seed model's from
 * its safetensors, the other's random. */
static void build_case(actjit_context *ctx, aot_case *c) {
  if (!strcmp(c->prefix, "mlp")) {
    assert_int_equal(actjit_graph_parse_file(ctx, MLP, &c->g), ACTJIT_OK);
    st_file *w;
    char err[512];
    if (st_open(MLP_WEIGHTS, &w, err, sizeof err)) fail_msg("%s", err);
    for (int i = 0; i < actjit_graph_param_count(c->g); i++) {
      const char *name;
      int rank;
      int64_t dims[ST_MAX_RANK];
      const float *data;
      size_t n;
      actjit_graph_param_info(c->g, i, &name, NULL, NULL);
      assert_int_equal(st_get(w, name, &rank, dims, &data, NULL, 0), 0);
      assert_int_equal(npy_shape_count(rank, dims, &n), 0);
      assert_int_equal(actjit_graph_param_set_data(c->g, name, data, n), ACTJIT_OK);
    }
    st_close(w);
  } else {
    assert_int_equal(actjit_graph_parse(ctx, act_model, sizeof act_model - 1, "act.air", &c->g), ACTJIT_OK);
    for (int i = 0; i < actjit_graph_param_count(c->g); i++) {
      const char *name;
      int rank;
      int64_t dims[ACTJIT_MAX_RANK], n = 1;
      actjit_graph_param_info(c->g, i, &name, &rank, dims);
      for (int d = 0; d < rank; d++) n *= dims[d];
      float *data = random_floats((size_t)n, 77 + (uint64_t)i);
      assert_int_equal(actjit_graph_param_set_data(c->g, name, data, (size_t)n), ACTJIT_OK);
      free(data);
    }
  }
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = c->cpu;
  char *before, *after;
  assert_int_equal(actjit_graph_print(c->g, &before), ACTJIT_OK);
  char obj[64], header[64];
  snprintf(obj, sizeof obj, "%s.o", c->prefix);
  snprintf(header, sizeof header, "%s.h", c->prefix);
  if (actjit_aot_write(c->g, &o, c->prefix, tmp(obj), tmp(header))) fail_msg("%s", actjit_context_error(ctx));
  /* the graph is the caller's, unchanged; the JIT's kernel of it */
  assert_int_equal(actjit_graph_print(c->g, &after), ACTJIT_OK);
  assert_string_equal(before, after);
  actjit_free(before), actjit_free(after);
  if (actjit_compile(c->g, &o, &c->k)) fail_msg("%s", actjit_context_error(ctx));
  size_t in, out;
  assert_int_equal(actjit_kernel_io_sizes(c->k, 1, &in, &out), ACTJIT_OK);
  c->in = (int64_t)in, c->out = (int64_t)out;
}

static void test_two_objects_api(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  /* (the program's order: mlp then act) */
  aot_case cases[] = {{.prefix = "mlp", .cpu = "haswell"}, {.prefix = "act"}};
  for (int i = 0; i < 2; i++) build_case(ctx, &cases[i]);
  const char *cc[] = {ACTJIT_CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I.", ACTJIT_SOURCE_DIR "/tests/aot/two.c",
                      "mlp.o", "act.o", "-pthread", "-o", "two", NULL};
  if (run(cc, NULL, NULL)) {
    char *err = tu_slurp(tmp("err.txt"), NULL);
    fail_msg("cc two.c mlp.o act.o: %s", err);
  }

  static const int64_t batches[] = {0, 1, 7, 1000, 1500};
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    int64_t batch = batches[b];
    FILE *f = fopen(tmp("xs.bin"), "wb");
    assert_non_null(f);
    float *x[2], *want[2];
    for (int i = 0; i < 2; i++) {
      size_t n = (size_t)(batch * cases[i].in);
      x[i] = random_floats(n, 5000 + (uint64_t)(batch * 2 + i));
      want[i] = malloc((size_t)(batch * cases[i].out) * sizeof(float) + 4);
      assert_int_equal(actjit_kernel_run(cases[i].k, x[i], batch, want[i]), ACTJIT_OK);
      assert_int_equal(fwrite(x[i], sizeof(float), n, f), n);
    }
    assert_int_equal(fclose(f), 0);
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)batch);
    const char *two[] = {tmp("two"), arg, NULL};
    int rc = run(two, tmp("xs.bin"), tmp("ys.bin"));
    if (rc) fail_msg("two %lld: exit status %d%s", (long long)batch, rc, rc == 3 ? " (bad arguments accepted)" : "");
    size_t len;
    float *got = (float *)tu_slurp(tmp("ys.bin"), &len), *at = got;
    assert_int_equal(len, 4 * (size_t)(batch * (cases[0].out + cases[1].out)) * sizeof(float));
    static const char *const how[] = {"a run", "3 tasks in reverse", "4 tasks on threads", "a run beside another"};
    for (int i = 0; i < 2; i++)
      for (int v = 0; v < 4; v++)
        for (int64_t j = 0; j < batch * cases[i].out; j++, at++)
          if (memcmp(at, &want[i][j], sizeof(float)))
            fail_msg("%s, batch %lld, %s: output %lld is %a ahead of time, %a from the JIT", cases[i].prefix,
                     (long long)batch, how[v], (long long)j, *at, want[i][j]);
    free(got);
    for (int i = 0; i < 2; i++) free(x[i]), free(want[i]);
  }
  for (int i = 0; i < 2; i++) {
    actjit_kernel_destroy(cases[i].k);
    actjit_graph_destroy(cases[i].g);
  }
  actjit_context_destroy(ctx);
}

/* ------------------------------------------------- every pipeline */

/* A pipeline without a batch whose pow calls libm's powf. */
static const char pow_model[] = "input %x : f32[3, 5]\n"
                                "%a = abs %x\n"
                                "%p = pow %a, 1.5\n"
                                "%y = softmax %p {dim = 0}\n"
                                "output %y\n";

/* y.bin, a program's output: a run's then the same on 3 tasks, each
 * bitwise the JIT's (want, out floats). */
static void check_outputs(const char *name, int64_t batch, const char *how, const float *want, size_t out) {
  size_t len;
  float *got = (float *)tu_slurp(tmp("y.bin"), &len);
  assert_int_equal(len, 2 * out * sizeof(float));
  for (size_t j = 0; j < 2 * out; j++)
    if (memcmp(&got[j], &want[j % out], sizeof(float)))
      fail_msg("%s, batch %lld, %s: output %zu is %a %s, %a from the JIT", name, (long long)batch,
               j < out ? "a run" : "3 tasks", j % out, got[j], how, want[j % out]);
  free(got);
}

/* The object of g (every parameter random) in a program (tests/aot/one.c)
 * against the JIT, bitwise, at batches 1 and 37 (1 alone without a batch). */
static void check_pipeline(actjit_context *ctx, actjit_graph *g, const char *name, bool libm) {
  for (int i = 0; i < actjit_graph_param_count(g); i++) {
    const char *param;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK], n = 1;
    actjit_graph_param_info(g, i, &param, &rank, dims);
    for (int d = 0; d < rank; d++) n *= dims[d];
    float *data = random_floats((size_t)n, 300 + (uint64_t)i);
    assert_int_equal(actjit_graph_param_set_data(g, param, data, (size_t)n), ACTJIT_OK);
    free(data);
  }
  if (actjit_aot_write(g, NULL, "m", tmp("m.o"), tmp("m.h"))) fail_msg("%s: %s", name, actjit_context_error(ctx));
  char *header = tu_slurp(tmp("m.h"), NULL);
  if (!strstr(header, libm ? "(cc app.c m.o -lm)" : "(cc app.c m.o)")) fail_msg("%s: m.h: %s", name, header);
  free(header);
  /* only libc, unless the code calls powf */
  const char *cc[] = {ACTJIT_CC, "-I.", ACTJIT_SOURCE_DIR "/tests/aot/one.c", "m.o", "-o", "one", libm ? "-lm" : NULL, NULL};
  if (run(cc, NULL, NULL)) fail_msg("%s: cc one.c m.o: %s", name, tu_slurp(tmp("err.txt"), NULL));
  actjit_kernel *k;
  if (actjit_compile(g, NULL, &k)) fail_msg("%s: %s", name, actjit_context_error(ctx));
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  assert_int_equal(actjit_graph_value_shape(g, actjit_graph_get_input(g), &rank, dims), ACTJIT_OK);
  for (int64_t batch = 1; batch <= (dims[0] < 0 ? 37 : 1); batch += 36) {
    size_t in, out;
    assert_int_equal(actjit_kernel_io_sizes(k, batch, &in, &out), ACTJIT_OK);
    float *x = random_floats(in, 900 + (uint64_t)batch), *want = malloc(out * sizeof *want + 4);
    assert_int_equal(actjit_kernel_run(k, x, batch, want), ACTJIT_OK);
    write_bytes(tmp("x.bin"), x, in * sizeof *x);
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)batch);
    const char *one[] = {tmp("one"), arg, NULL};
    int rc = run(one, tmp("x.bin"), tmp("y.bin"));
    if (rc) fail_msg("%s, batch %lld: exit status %d", name, (long long)batch, rc);
    check_outputs(name, batch, "ahead of time", want, out);
    free(x), free(want);
  }
  actjit_kernel_destroy(k);
}

static void test_every_pipeline(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  char paths[64][TU_PATH_MAX];
  int n = tu_ir_files(paths, 64);
  assert_true(n > 10);
  for (int i = 0; i < n; i++) {
    /* (SwiGLU's 34 MB of weights: the pair is act's, above) */
    if (strstr(paths[i], "/swiglu.air")) continue;
    actjit_graph *g;
    assert_int_equal(actjit_graph_parse_file(ctx, paths[i], &g), ACTJIT_OK);
    check_pipeline(ctx, g, paths[i], false);
    actjit_graph_destroy(g);
  }
  actjit_graph *g;
  assert_int_equal(actjit_graph_parse(ctx, pow_model, sizeof pow_model - 1, "pow.air", &g), ACTJIT_OK);
  check_pipeline(ctx, g, "pow.air", true);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* --------------------------------- parameters bound at run time */

/* The bytes m_bind must write for g's values, compiled for cpu: each
 * parameter as the JIT binds it (cg_param_pack) at its offset, zeros
 * between. */
static unsigned char *jit_packing(const actjit_graph *g, const char *cpu, size_t *len) {
  actjit_graph *lowered = ir_clone(g);
  assert_non_null(lowered);
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = cpu;
  target_desc t = {0};
  plan p = {0};
  strbuf dump = {0};
  assert_int_equal(kernel_lower(lowered, &o, &t, &p, &dump), ACTJIT_OK);
  int64_t floats[16];
  cg_aot a = {.nparams = actjit_graph_param_count(lowered), .param_floats = floats};
  assert_true(a.nparams <= 16);
  for (int v = 0, j = 0; v < lowered->n; v++)
    if (lowered->nodes[v].op == OP_PARAM)
      floats[j++] = cg_param_floats(&t, &lowered->nodes[v].shape, cg_param_layout(lowered, &p, v));
  *len = (size_t)cg_bound_offset(&a, a.nparams);
  unsigned char *bytes = calloc(1, *len + 1);
  assert_non_null(bytes);
  for (int v = 0, j = 0; v < lowered->n; v++) {
    const node *nd = &lowered->nodes[v];
    if (nd->op == OP_PARAM)
      cg_param_pack(&t, &nd->shape, cg_param_layout(lowered, &p, v), nd->data, (float *)(bytes + cg_bound_offset(&a, j++)));
  }
  free(dump.buf);
  plan_free(&p);
  target_free(&t);
  actjit_graph_destroy(lowered);
  return bytes;
}

/* m.o and m.h of g written without the parameters' values, in a program
 * (tests/aot/bound.c) that packs them with m_bind, from random values, and
 * runs on them: the packed bytes the JIT's packing of those values, each
 * run bitwise the JIT's (compiled for cpu, NULL: the host) with them bound,
 * at batches 1 and 37.  The program links with the object and libc alone;
 * its refusals of bad arguments (a NULL parameter pointer among them) are
 * checked inside. */
static void check_bound(actjit_context *ctx, actjit_graph *g, const char *name, const char *cpu) {
  char *header = tu_slurp(tmp("m.h"), NULL);
  assert_non_null(header);
  if (!strstr(header, "(cc app.c m.o)") || !strstr(header, "int m_bind(const float *const *params, void *packed);") ||
      !strstr(header, "int m_run(const void *packed, const float *x, int64_t batch, float *y, void *scratch);"))
    fail_msg("%s: m.h: %s", name, header);
  const char *cc[] = {ACTJIT_CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I.", ACTJIT_SOURCE_DIR "/tests/aot/bound.c",
                      "m.o", "-o", "bound", NULL};
  if (run(cc, NULL, NULL)) fail_msg("%s: cc bound.c m.o: %s", name, tu_slurp(tmp("err.txt"), NULL));
  /* the parameters: bound.c's file, the graph's values; the header lists each */
  FILE *f = fopen(tmp("params.bin"), "wb");
  assert_non_null(f);
  for (int i = 0; i < actjit_graph_param_count(g); i++) {
    const char *param;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK], n = 1;
    char line[256] = "";
    actjit_graph_param_info(g, i, &param, &rank, dims);
    snprintf(line, sizeof line, " *   %d: @%s [", i, param);
    for (int d = 0; d < rank; d++) {
      n *= dims[d];
      snprintf(line + strlen(line), sizeof line - strlen(line), "%s%lld", d ? ", " : "", (long long)dims[d]);
    }
    strcat(line, "]\n");
    if (!strstr(header, line)) fail_msg("%s: m.h lacks '%s': %s", name, line, header);
    float *data = random_floats((size_t)n, 600 + (uint64_t)i);
    assert_int_equal(fwrite(&n, sizeof n, 1, f), 1);
    assert_int_equal(fwrite(data, sizeof *data, (size_t)n, f), (size_t)n);
    assert_int_equal(actjit_graph_param_set_data(g, param, data, (size_t)n), ACTJIT_OK);
    free(data);
  }
  assert_int_equal(fclose(f), 0);
  free(header);
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = cpu;
  actjit_kernel *k;
  if (actjit_compile(g, &o, &k)) fail_msg("%s: %s", name, actjit_context_error(ctx));
  size_t want_len;
  unsigned char *want_packed = jit_packing(g, cpu, &want_len);
  for (int64_t batch = 1; batch <= 37; batch += 36) {
    size_t in, out, len = 0;
    assert_int_equal(actjit_kernel_io_sizes(k, batch, &in, &out), ACTJIT_OK);
    float *x = random_floats(in, 700 + (uint64_t)batch), *want = malloc(out * sizeof *want + 4);
    assert_int_equal(actjit_kernel_run(k, x, batch, want), ACTJIT_OK);
    write_bytes(tmp("x.bin"), x, in * sizeof *x);
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)batch);
    const char *prog[] = {tmp("bound"), arg, tmp("params.bin"), tmp("packed.bin"), NULL};
    int rc = run(prog, tmp("x.bin"), tmp("y.bin"));
    if (rc)
      fail_msg("%s, batch %lld: exit status %d%s", name, (long long)batch, rc,
               rc == 3 ? " (bad arguments accepted)" : rc == 4 ? " (a refused call wrote, or m_bind's bytes vary)" : "");
    unsigned char *packed = (unsigned char *)tu_slurp(tmp("packed.bin"), &len);
    assert_int_equal(len, want_len);
    for (size_t j = 0; j < len; j++)
      if (packed[j] != want_packed[j])
        fail_msg("%s: byte %zu of m_bind's %zu is %#x, the JIT packs %#x", name, j, len, packed[j], want_packed[j]);
    free(packed);
    check_outputs(name, batch, "bound ahead of time", want, out);
    free(x), free(want);
  }
  free(want_packed);
  actjit_kernel_destroy(k);
}

static void test_bound_params(void **state) {
  (void)state;
  actjit_context *ctx;
  actjit_graph *g;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  /* the seed model through the command, without --weights */
  const char *aot[] = {ACTJIT_CLI, "aot", MLP, "-o", "m.o", "--header", "m.h", NULL};
  assert_int_equal(run(aot, NULL, NULL), 0);
  expect_stderr(NULL);
  assert_int_equal(actjit_graph_parse_file(ctx, MLP, &g), ACTJIT_OK);
  check_bound(ctx, g, "mlp.air", NULL);
  actjit_graph_destroy(g);
  /* SwiGLU's pair in one kernel (weights packed for two linears), on the
   * host; act's (outputs that do not fill the panels) for haswell */
  static const struct {
    const char *name, *cpu;
  } api[] = {{"swiglu.air", NULL}, {"act.air", "haswell"}};
  for (size_t i = 0; i < sizeof api / sizeof *api; i++) {
    if (!strcmp(api[i].name, "act.air"))
      assert_int_equal(actjit_graph_parse(ctx, act_model, sizeof act_model - 1, "act.air", &g), ACTJIT_OK);
    else
      assert_int_equal(actjit_graph_parse_file(ctx, ACTJIT_SOURCE_DIR "/ir/swiglu.air", &g), ACTJIT_OK);
    actjit_compile_options o;
    actjit_compile_options_init(&o);
    o.cpu = api[i].cpu;
    if (actjit_aot_write(g, &o, "m", tmp("m.o"), tmp("m.h"))) fail_msg("%s: %s", api[i].name, actjit_context_error(ctx));
    check_bound(ctx, g, api[i].name, api[i].cpu);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
}

/* --------------------------------------------------------------- errors */

/* The files of the test directory but err.txt, sorted, one a line. */
static char *listing(void) {
  char names[64][256];
  int n = 0;
  DIR *d = opendir(tmpdir);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d)) && n < 64;)
    if (e->d_name[0] != '.' && strcmp(e->d_name, "err.txt")) snprintf(names[n++], sizeof names[0], "%s", e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], tu_path_cmp);
  char *out = calloc(1, 64 * 257);
  for (int i = 0; i < n; i++) strcat(strcat(out, names[i]), "\n");
  return out;
}

/* An API call that fails with st and a message holding frag, the
 * directory as it was. */
#define EXPECT_API_ERROR(call, st, frag)                                      \
  do {                                                                        \
    char *before_ = listing();                                                \
    assert_int_equal((call), (st));                                           \
    const char *msg_ = actjit_context_error(ctx);                             \
    if (!strstr(msg_, (frag)) || strchr(msg_, '\n')) fail_msg("message: %s", msg_); \
    char *after_ = listing();                                                 \
    assert_string_equal(before_, after_);                                     \
    free(before_), free(after_);                                              \
  } while (0)

static void test_errors(void **state) {
  (void)state;
  actjit_context *ctx;
  actjit_graph *g;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  assert_int_equal(actjit_graph_parse_file(ctx, MLP, &g), ACTJIT_OK);
  /* an earlier object and header stay as they were */
  write_bytes(tmp("old.o"), "old object", 10);
  write_bytes(tmp("old.h"), "old header", 10);
  /* some parameters with values, some without */
  float *w = random_floats(128 * 784, 1);
  assert_int_equal(actjit_graph_param_set_data(g, "0.weight", w, 128 * 784), ACTJIT_OK);
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "mlp", tmp("old.o"), tmp("old.h")), ACTJIT_ERR_WEIGHTS,
                   "parameter @0.bias has no values but @0.weight has");
  assert_int_equal(actjit_graph_param_set_data(g, "0.bias", w, 128), ACTJIT_OK);
  assert_int_equal(actjit_graph_param_set_data(g, "3.weight", w, 10 * 128), ACTJIT_OK);
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "mlp", tmp("old.o"), tmp("old.h")), ACTJIT_ERR_WEIGHTS,
                   "parameter @3.bias has no values but @0.weight has: an ahead-of-time object holds the values of "
                   "every parameter or of none");
  assert_int_equal(actjit_graph_param_set_data(g, "3.bias", w, 10), ACTJIT_OK);
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "9lives", tmp("old.o"), tmp("old.h")), ACTJIT_ERR_ARGUMENT,
                   "prefix '9lives' is not a C identifier");
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "my-model", tmp("old.o"), tmp("old.h")), ACTJIT_ERR_ARGUMENT,
                   "prefix 'my-model' is not a C identifier");
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, NULL, tmp("old.o"), tmp("old.h")), ACTJIT_ERR_ARGUMENT, "NULL argument");
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "mlp", tmp("old.o"), tmp("old.o")), ACTJIT_ERR_ARGUMENT,
                   "the object and the header are both");
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.training = 1;
  EXPECT_API_ERROR(actjit_aot_write(g, &o, "mlp", tmp("old.o"), tmp("old.h")), ACTJIT_ERR_UNSUPPORTED, "inference");
  actjit_compile_options_init(&o);
  o.cpu = "skylake-avx51";
  EXPECT_API_ERROR(actjit_aot_write(g, &o, "mlp", tmp("old.o"), tmp("old.h")), ACTJIT_ERR_TARGET, "skylake-avx512");
  /* either file unwritable: neither written */
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "mlp", tmp("nodir/new.o"), tmp("old.h")), ACTJIT_ERR_IO, "nodir/new.o");
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "mlp", tmp("old.o"), tmp("nodir/new.h")), ACTJIT_ERR_IO, "nodir/new.h");
  EXPECT_API_ERROR(actjit_aot_write(g, NULL, "mlp", tmp("new.o"), tmp("nodir/new.h")), ACTJIT_ERR_IO, "nodir/new.h");
  char *old = tu_slurp(tmp("old.o"), NULL);
  assert_string_equal(old, "old object");
  free(old);
  free(w);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);

  /* the command: a usage error for a prefix -o's name does not make, or
   * for a missing -o or MODEL */
  const char *no_prefix[] = {ACTJIT_CLI, "aot", MLP, "--weights", MLP_WEIGHTS, "-o", "my-model.o", NULL};
  char *before = listing();
  assert_int_equal(run(no_prefix, NULL, NULL), 2);
  expect_stderr("actjit: aot: prefix 'my-model' is not a C identifier", "pass --prefix NAME", NULL);
  /* (without --weights too) */
  const char *no_prefix_bound[] = {ACTJIT_CLI, "aot", MLP, "-o", "my-model.o", NULL};
  assert_int_equal(run(no_prefix_bound, NULL, NULL), 2);
  expect_stderr("actjit: aot: prefix 'my-model' is not a C identifier", "pass --prefix NAME", NULL);
  const char *no_o[] = {ACTJIT_CLI, "aot", MLP, "--weights", MLP_WEIGHTS, NULL};
  assert_int_equal(run(no_o, NULL, NULL), 2);
  expect_stderr("aot: missing -o NAME.o", NULL);
  const char *same[] = {ACTJIT_CLI, "aot", MLP, "--weights", MLP_WEIGHTS, "-o", "mlp.o", "--header", "mlp.o", NULL};
  assert_int_equal(run(same, NULL, NULL), 2);
  expect_stderr("aot: -o and --header are both mlp.o", NULL);
  const char *typo[] = {ACTJIT_CLI, "aot", MLP, "--weights", MLP_WEIGHTS, "-o", "mlp.o", "--prefx", "m", NULL};
  assert_int_equal(run(typo, NULL, NULL), 2);
  expect_stderr("unknown option '--prefx' (did you mean '--prefix'?)", NULL);
  /* a failure after the model is read, with and without weights */
  const char *cpu[] = {ACTJIT_CLI, "aot", MLP, "-o", "mlp.o", "--cpu", "skylake-avx51", NULL};
  assert_int_equal(run(cpu, NULL, NULL), 6);
  expect_stderr("skylake-avx512", NULL);
  const char *cpu_weights[] = {ACTJIT_CLI, "aot", MLP, "--weights", MLP_WEIGHTS, "-o", "mlp.o", "--cpu", "skylake-avx51", NULL};
  assert_int_equal(run(cpu_weights, NULL, NULL), 6);
  expect_stderr("skylake-avx512", NULL);
  char *after = listing();
  assert_string_equal(before, after);
  free(before), free(after);
  /* --prefix and --header as given */
  const char *named[] = {ACTJIT_CLI, "aot", MLP, "--weights", MLP_WEIGHTS, "-o", "my-model.o", "--prefix", "my_model",
                         "--header", "mm.h", NULL};
  assert_int_equal(run(named, NULL, NULL), 0);
  expect_stderr(NULL);
  char *h = tu_slurp(tmp("mm.h"), NULL);
  assert_non_null(h);
  assert_non_null(strstr(h, "int my_model_run(const float *x, int64_t batch, float *y, void *scratch);"));
  free(h);
}

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/actjit_aot_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  DIR *d = opendir(tmpdir);
  if (d) {
    for (struct dirent *e; (e = readdir(d));)
      if (e->d_name[0] != '.') unlink(tmp(e->d_name));
    closedir(d);
  }
  return rmdir(tmpdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_seed_model_cli, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_objects_api, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_pipeline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bound_params, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
