/* The ops that move data between dims: transpose (a permutation of the
 * dims, its list attribute `perm = [...]`), unsqueeze (a view adding a dim
 * of 1) and matmul (products of matrices over broadcast batch dims).
 *
 *   - the textual IR round-trips (print → parse → print is a fixed point,
 *     the list attribute included) and the C API builds the same graph;
 *   - every malformed use is one line naming the op and what is wrong;
 *   - the scalar reference agrees with the definitions written out here
 *     independently (nested loops over explicit indices, float64 sums);
 *   - compiled kernels, fused and unfused, on the three test targets, at
 *     batches 0, 1 and 7, on 3 tasks run in reverse order, agree with the
 *     reference: transpose and unsqueeze bitwise, matmul within the
 *     rounding of its float sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "reference/reference.h"
#include "testutil.h"
#include "testpipe.h"

static actjit_graph *parse(actjit_context *ctx, const char *text) {
  actjit_graph *g;
  if (actjit_graph_parse(ctx, text, strlen(text), "t.air", &g)) fail_msg("%s\n%s", actjit_context_error(ctx), text);
  return g;
}

static char *print(actjit_graph *g) {
  char *s;
  assert_int_equal(actjit_graph_print(g, &s), ACTJIT_OK);
  return s;
}

/* Printed text parses back to a graph that prints the same. */
static void assert_reprints(actjit_context *ctx, const char *text) {
  actjit_graph *h = parse(ctx, text);
  char *again = print(h);
  assert_string_equal(text, again);
  actjit_free(again);
  actjit_graph_destroy(h);
}

/* ------------------------------------------------------------ round trip */

static const char *const roundtrip_cases[] = {
    "input %x : f32[N, 3, 4]\n"
    "%t = transpose %x {perm = [0, 2, 1]} : f32[N, 4, 3]\n"
    "%u = unsqueeze %t {dim = 1} : f32[N, 1, 4, 3]\n"
    "%y = relu %u : f32[N, 1, 4, 3]\n"
    "output %y\n",
    /* negative dims as written; rank 6 */
    "input %x : f32[2, 1, 3, 1, 4, 5]\n"
    "%y = transpose %x {perm = [-1, 0, 4, 2, -3, 1]} : f32[5, 2, 4, 3, 1, 1]\n"
    "output %y\n",
    "input %x : f32[N, 2, 3, 4]\n"
    "param @w : f32[2, 4, 5]\n"
    "%y = matmul %x, @w : f32[N, 2, 3, 5]\n"
    "output %y\n",
};

static void test_roundtrip(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t i = 0; i < sizeof roundtrip_cases / sizeof *roundtrip_cases; i++) {
    actjit_graph *g = parse(ctx, roundtrip_cases[i]);
    char *a = print(g);
    assert_string_equal(a, roundtrip_cases[i]); /* the cases are canonical */
    assert_reprints(ctx, a);
    actjit_free(a);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
}

/* The C API: a list attribute is the attribute given once per value, in order. */
static void test_builder(void **state) {
  (void)state;
  actjit_context *ctx;
  actjit_graph *g;
  actjit_value x, t, u;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  assert_int_equal(actjit_graph_create(ctx, &g), ACTJIT_OK);
  assert_int_equal(actjit_graph_input(g, "x", 3, (int64_t[]){ACTJIT_DYN, 3, 4}, &x), ACTJIT_OK);
  actjit_attr perm[] = {{"perm", 0}, {"perm", 2}, {"perm", 1}};
  assert_int_equal(actjit_graph_op(g, "transpose", &x, 1, perm, 3, &t), ACTJIT_OK);
  assert_int_equal(actjit_graph_set_name(g, t, "t"), ACTJIT_OK);
  assert_int_equal(actjit_graph_op(g, "unsqueeze", &t, 1, (actjit_attr[]){{"dim", 1}}, 1, &u), ACTJIT_OK);
  assert_int_equal(actjit_graph_set_name(g, u, "u"), ACTJIT_OK);
  assert_int_equal(actjit_graph_op(g, "relu", &u, 1, NULL, 0, &u), ACTJIT_OK);
  assert_int_equal(actjit_graph_set_name(g, u, "y"), ACTJIT_OK);
  assert_int_equal(actjit_graph_output(g, u), ACTJIT_OK);
  char *text = print(g);
  assert_string_equal(text, roundtrip_cases[0]);
  actjit_free(text);
  /* seven values for a list of at most ACTJIT_MAX_RANK */
  actjit_attr seven[7];
  for (int i = 0; i < 7; i++) seven[i] = (actjit_attr){"perm", i};
  assert_int_equal(actjit_graph_op(g, "transpose", &x, 1, seven, 7, &t), ACTJIT_ERR_VERIFY);
  assert_non_null(strstr(actjit_context_error(ctx), "transpose: attribute perm has more than 6 values"));
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* Names through the builder, past the first sizes of the graph's name
 * index: each is found, renamed away it is free again, a second use of one
 * is refused, and the text parses back to the same graph. */
static void test_builder_names(void **state) {
  (void)state;
  enum { N = 300 };
  actjit_context *ctx;
  actjit_graph *g;
  actjit_value v[N + 1], w;
  char name[32];
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  assert_int_equal(actjit_graph_create(ctx, &g), ACTJIT_OK);
  assert_int_equal(actjit_graph_input(g, "x", 2, (int64_t[]){ACTJIT_DYN, 4}, &v[0]), ACTJIT_OK);
  for (int i = 1; i <= N; i++) {
    assert_int_equal(actjit_graph_op(g, "relu", &v[i - 1], 1, NULL, 0, &v[i]), ACTJIT_OK);
    snprintf(name, sizeof name, "v%d", i);
    assert_int_equal(actjit_graph_set_name(g, v[i], name), ACTJIT_OK);
  }
  assert_int_equal(actjit_graph_set_name(g, v[5], "v7"), ACTJIT_ERR_VERIFY);
  assert_non_null(strstr(actjit_context_error(ctx), "'%v7' is defined twice"));
  assert_int_equal(actjit_graph_set_name(g, v[5], "w5"), ACTJIT_OK);
  assert_int_equal(actjit_graph_set_name(g, v[6], "v5"), ACTJIT_OK);
  assert_int_equal(actjit_graph_set_name(g, v[6], "v5"), ACTJIT_OK); /* its own name */
  assert_int_equal(actjit_graph_param(g, "w5", 1, (int64_t[]){4}, &w), ACTJIT_ERR_VERIFY);
  assert_int_equal(actjit_graph_param(g, "v6", 1, (int64_t[]){4}, &w), ACTJIT_OK);
  assert_int_equal(actjit_graph_param_set_data(g, "v6", (const float[]){1, 2, 3, 4}, 4), ACTJIT_OK);
  assert_int_equal(actjit_graph_param_set_data(g, "v7", (const float[]){1, 2, 3, 4}, 4), ACTJIT_ERR_WEIGHTS);
  assert_non_null(strstr(actjit_context_error(ctx), "no parameter @v7"));
  assert_int_equal(actjit_graph_op(g, "add", (actjit_value[]){v[N], w}, 2, NULL, 0, &v[0]), ACTJIT_OK);
  assert_int_equal(actjit_graph_output(g, v[0]), ACTJIT_OK);
  char *a = print(g);
  assert_non_null(strstr(a, "%v5 = relu %w5"));
  assert_reprints(ctx, a);
  actjit_free(a);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* ---------------------------------------------------------------- errors */

typedef struct bad_case {
  const char *text;
  actjit_status status;
  const char *words[3]; /* each in the message */
} bad_case;

#define X3 "input %x : f32[N, 3, 4]\n"
#define S3 "input %x : f32[2, 3, 4]\n"
static const bad_case bad_cases[] = {
    {X3 "%y = transpose %x\noutput %y\n", ACTJIT_ERR_VERIFY, {"t.air:2:6: transpose", "missing attribute perm"}},
    {X3 "%y = transpose %x {perm = [0, 1]}\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"t.air:2:6: transpose", "perm has 2 values for an operand of rank 3"}},
    {X3 "%y = transpose %x {perm = [0, 1, 1]}\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"transpose", "not a permutation of 3 dims", "value 2 is 1"}},
    {X3 "%y = transpose %x {perm = [0, 3, 1]}\noutput %y\n", ACTJIT_ERR_VERIFY, {"transpose", "value 1 is 3"}},
    {X3 "%y = transpose %x {perm = [0, 1.5, 1]}\noutput %y\n", ACTJIT_ERR_VERIFY, {"transpose", "value 1 is 1.5"}},
    {X3 "%y = transpose %x {perm = [1, 0, 2]}\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"transpose", "moves the batch dim of [N, 3, 4]", "perm[0] must be 0"}},
    {X3 "%y = transpose %x {perm = [0, 1, 2, 3, 4, 5, 6]}\noutput %y\n", ACTJIT_ERR_PARSE,
     {"t.air:2:46", "at most 6 values", "'6'"}},
    {X3 "%y = transpose %x {perm = 0}\noutput %y\n", ACTJIT_ERR_PARSE, {"t.air:2:27", "expected '['", "'0'"}},
    {X3 "%y = transpose %x {perm = []}\noutput %y\n", ACTJIT_ERR_PARSE, {"t.air:2:28", "a finite number", "']'"}},
    {X3 "%y = transpose %x {perm = [0, 2 1]}\noutput %y\n", ACTJIT_ERR_PARSE, {"t.air:2:33", "',' or ']'"}},
    {X3 "%y = transpose %x {perm = [0, 2, 1], perm = [0, 1, 2]}\noutput %y\n", ACTJIT_ERR_PARSE,
     {"t.air:2:38", "attribute 'perm' given twice"}},
    {X3 "%y = transpose %x {prem = [0, 2, 1]}\noutput %y\n", ACTJIT_ERR_PARSE,
     {"transpose has no attribute 'prem'", "did you mean 'perm'?"}},
    {X3 "%y = relu %x {perm = [0, 2, 1]}\noutput %y\n", ACTJIT_ERR_PARSE, {"relu has no attribute 'perm'"}},
    {X3 "%y = unsqueeze %x\noutput %y\n", ACTJIT_ERR_VERIFY, {"t.air:2:6: unsqueeze", "missing attribute dim"}},
    {X3 "%y = unsqueeze %x {dim = 4}\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"unsqueeze", "dim 4 out of range for rank 3", "[-4, 3]"}},
    {X3 "%y = unsqueeze %x {dim = -4}\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"unsqueeze", "dim 0 of [N, 3, 4] would come before the batch N"}},
    {"input %x : f32[1, 2, 3, 4, 5, 6]\n%y = unsqueeze %x {dim = 1}\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"unsqueeze", "the result would have rank 7; the largest is 6"}},
    {X3 "param @w : f32[4, 5]\n%y = matmul %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"t.air:3:6: matmul", "weight @w has shape [4, 5], expected a batch of matrices"}},
    {X3 "const %w : f32[1, 4, 1] = [1, 2, 3, 4]\n%y = matmul %x, %w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "weight must be a parameter (@name), got %w"}},
    {X3 "param @w : f32[1, 5, 2]\n%y = matmul %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "operand [N, 3, 4] does not match weight @w [1, 5, 2]: K 4 != 5"}},
    {S3 "param @w : f32[3, 4, 2]\n%y = matmul %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "the batch dims of [2, 3, 4] and of weight @w [3, 4, 2] do not broadcast"}},
    {X3 "param @w : f32[2, 4, 2]\n%y = matmul %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "the batch dims of [N, 3, 4] and of weight @w [2, 4, 2] do not broadcast"}},
    {X3 "param @w : f32[2, 1, 4, 2]\n%y = matmul %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "do not broadcast", "the batch leading"}},
    {"input %x : f32[N, 4]\nparam @w : f32[1, 4, 2]\n%y = matmul %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "the batch N of [N, 4], its rows, would not lead the result"}},
    {"input %x : f32[4]\nparam @w : f32[1, 4, 2]\n%y = matmul %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "operand [4] must have rank 2 or more"}},
    {X3 "param @w : f32[1, 4, 2]\n%y = matmul @w, %x\noutput %y\n", ACTJIT_ERR_VERIFY,
     {"matmul", "operand must be a tensor value, not parameter @w"}},
};

static void test_errors(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
    const bad_case *c = &bad_cases[i];
    actjit_graph *g = NULL;
    actjit_status st = actjit_graph_parse(ctx, c->text, strlen(c->text), "t.air", &g);
    const char *msg = actjit_context_error(ctx);
    if (st != c->status) fail_msg("case %zu: status %s, expected %s: %s", i, actjit_status_name(st),
                                  actjit_status_name(c->status), msg);
    assert_null(g);
    assert_null(strchr(msg, '\n'));
    for (int w = 0; w < 3 && c->words[w]; w++)
      if (!strstr(msg, c->words[w])) fail_msg("case %zu: '%s' is not in: %s", i, c->words[w], msg);
  }
  actjit_context_destroy(ctx);
}

/* ------------------------------------------------------------- reference */

/* x[i] for a tensor of `n` elements: distinct values, exact in float. */
static void iota(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 1000) - 499.5f;
}

/* transpose of [2, 3, 1, 4] by each permutation written out as loops. */
static void test_reference_transpose(void **state) {
  (void)state;
  enum { A = 2, B = 3, C = 1, D = 4 };
  static const int perms[][4] = {{3, 2, 1, 0}, {0, 2, 1, 3}, {1, 3, 0, 2}, {2, 0, 3, 1}};
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  float x[A][B][C][D], y[A * B * C * D];
  iota(&x[0][0][0][0], A * B * C * D);
  for (size_t p = 0; p < sizeof perms / sizeof *perms; p++) {
    const int *pm = perms[p];
    const int dims[4] = {A, B, C, D};
    char text[256];
    snprintf(text, sizeof text, "input %%x : f32[%d, %d, %d, %d]\n%%y = transpose %%x {perm = [%d, %d, %d, %d]}\noutput %%y\n",
             A, B, C, D, pm[0], pm[1], pm[2], pm[3]);
    actjit_graph *g = parse(ctx, text);
    assert_int_equal(ref_run(g, NULL, &x[0][0][0][0], 1, y), ACTJIT_OK);
    /* y[i0][i1][i2][i3] = x at index j with j[pm[k]] = i_k */
    int64_t at = 0;
    int i[4], j[4];
    for (i[0] = 0; i[0] < dims[pm[0]]; i[0]++)
      for (i[1] = 0; i[1] < dims[pm[1]]; i[1]++)
        for (i[2] = 0; i[2] < dims[pm[2]]; i[2]++)
          for (i[3] = 0; i[3] < dims[pm[3]]; i[3]++, at++) {
            for (int k = 0; k < 4; k++) j[pm[k]] = i[k];
            assert_true(y[at] == x[j[0]][j[1]][j[2]][j[3]]);
          }
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
}

/* matmul of a [N=2, 3, 1, 4] by w [2, 4, 5] (broadcast to [2, 3, 2, 1, 5]
 * is not it: the batch dims [3, 1] against [2] give [3, 2]) against
 * float64 loops with the broadcast written out. */
static void test_reference_matmul(void **state) {
  (void)state;
  enum { N = 2, B0 = 3, M = 2, K = 4, P = 5 };
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = parse(ctx, "input %x : f32[N, 3, 1, 2, 4]\nparam @w : f32[2, 4, 5]\n"
                               "%y = matmul %x, @w : f32[N, 3, 2, 2, 5]\noutput %y\n");
  static float a[N][B0][1][M][K], w[2][K][P], y[N][B0][2][M][P];
  uint64_t rng = 7;
  for (float *p = &a[0][0][0][0][0]; p < &a[0][0][0][0][0] + sizeof a / sizeof(float); p++) *p = tu_uniform(&rng, -1, 1);
  for (float *p = &w[0][0][0]; p < &w[0][0][0] + sizeof w / sizeof(float); p++) *p = tu_uniform(&rng, -1, 1);
  const float *params[] = {&w[0][0][0]};
  assert_int_equal(ref_run(g, params, &a[0][0][0][0][0], N, &y[0][0][0][0][0]), ACTJIT_OK);
  for (int n = 0; n < N; n++)
    for (int b0 = 0; b0 < B0; b0++)
      for (int b1 = 0; b1 < 2; b1++)
        for (int m = 0; m < M; m++)
          for (int p = 0; p < P; p++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)a[n][b0][0][m][k] * w[b1][k][p];
            assert_true(y[n][b0][b1][m][p] == (float)s);
          }
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* --------------------------------------------------------------- kernels */

/* A parallel-for running the tasks one after another, last first. */
static void reverse_pfor(void *user, int64_t n, actjit_task_fn task, void *arg) {
  (void)user;
  for (int64_t i = n - 1; i >= 0; i--) task(arg, i);
}

typedef struct kernel_case {
  const char *text;
  int64_t k; /* the longest sum of a matmul in it (0: none: bitwise) */
} kernel_case;

static const kernel_case kernel_cases[] = {
    /* the innermost dim moves (gathers), or stays (runs of it copied) */
    {"input %x : f32[N, 5, 19]\n%y = transpose %x {perm = [0, 2, 1]}\noutput %y\n", 0},
    {"input %x : f32[N, 3, 4, 37]\n%y = transpose %x {perm = [0, 2, 1, 3]}\noutput %y\n", 0},
    {"input %x : f32[N, 2, 3, 4, 1, 5]\n%y = transpose %x {perm = [0, 4, 2, 5, 1, 3]}\noutput %y\n", 0},
    {"input %x : f32[6, 1, 17]\n%y = transpose %x {perm = [2, 1, 0]}\noutput %y\n", 0},
    {"input %x : f32[N, 0, 3]\n%y = transpose %x {perm = [0, 2, 1]}\noutput %y\n", 0},
    /* the identity permutation, the batch folded (N*3) */
    {"input %x : f32[N, 3, 4]\n%f = flatten %x {start_dim = 0, end_dim = 1}\n"
     "%y = transpose %f {perm = [0, 1]}\noutput %y\n", 0},
    /* between elementwise ops (exact ones), which fuse on either side but not across */
    {"input %x : f32[N, 7, 9]\n%a = abs %x\n%b = mul %a, 2\n%t = transpose %b {perm = [0, 2, 1]}\n"
     "%c = neg %t\n%d = add %c, %t\n%y = maximum %d, %t\noutput %y\n", 0},
    /* unsqueeze: a view in the middle and as the output (copied out) */
    {"input %x : f32[N, 6]\n%u = unsqueeze %x {dim = -1}\n%y = relu %u\noutput %y\n", 0},
    {"input %x : f32[N, 6]\n%a = neg %x\n%y = unsqueeze %a {dim = 1}\noutput %y\n", 0},
    {"input %x : f32[N, 6]\n%y = unsqueeze %x {dim = 2}\noutput %y\n", 0},
    /* matmul: a's batch dims against w's, broadcast either way, P around the vector widths */
    {"input %x : f32[N, 3, 4]\nparam @w : f32[1, 4, 17]\n%y = matmul %x, @w\noutput %y\n", 4},
    {"input %x : f32[N, 2, 3, 5]\nparam @w : f32[2, 5, 8]\n%y = matmul %x, @w\noutput %y\n", 5},
    {"input %x : f32[N, 1, 3, 5]\nparam @w : f32[4, 5, 3]\n%y = matmul %x, @w\noutput %y\n", 5},
    {"input %x : f32[2, 3, 4]\nparam @w : f32[2, 4, 33]\n%y = matmul %x, @w\noutput %y\n", 4},
    {"input %x : f32[3, 4]\nparam @w : f32[2, 1, 4, 16]\n%y = matmul %x, @w\noutput %y\n", 4},
    {"input %x : f32[N, 3, 0]\nparam @w : f32[1, 0, 5]\n%y = matmul %x, @w\noutput %y\n", 0},
    /* Gemm's transA as the ONNX reader writes it, an epilogue after */
    {"input %x : f32[6, 3]\nparam @w : f32[4, 6]\n%t = transpose %x {perm = [1, 0]}\n"
     "%l = linear %t, @w\n%y = relu %l\noutput %y\n", 6},
};

/* The kernel's output against the reference's: bitwise, or for a matmul of
 * sums of k products of values in [-1, 1] by weights in [-0.5, 0.5) within
 * (k + 2)·2^-24·k/2 (the float sums' rounding). */
static void check_against(const float *y, const float *ref, size_t n, int64_t k, const char *what) {
  double tol = (double)(k + 2) * 0x1p-24 * (double)k / 2;
  for (size_t i = 0; i < n; i++) {
    bool ok = k ? fabs((double)y[i] - ref[i]) <= tol : same_value(y[i], ref[i]);
    if (!ok) fail_msg("%s: element %zu is %.9g, the reference's %.9g", what, i, y[i], ref[i]);
  }
}

static void test_kernels(void **state) {
  (void)state;
  uint64_t rng = 42;
  for (size_t c = 0; c < sizeof kernel_cases / sizeof *kernel_cases; c++) {
    pipeline p;
    load_pipeline(&p, kernel_cases[c].text, NULL, &rng);
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_value_shape(p.g, actjit_graph_get_input(p.g), &rank, dims), ACTJIT_OK);
    static const int64_t batches[] = {0, 1, 7};
    for (size_t b = 0; b < 3; b++) {
      int64_t batch = dims[0] < 0 ? batches[b] : 1;
      size_t nin = 1, nout;
      for (int d = 0; d < rank; d++) nin *= (size_t)(d || dims[0] >= 0 ? dims[d] : batch * -dims[0]);
      float *x = tu_alloc_unaligned(nin), *ref = NULL, *y = NULL;
      for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -1, 1);
      for (size_t t = 0; t < N_TEST_TARGETS; t++)
        for (int fuse = 0; fuse < 2; fuse++) {
          actjit_kernel *k = compile_pipeline(&p, &test_targets[t], fuse, 0, 0);
          assert_int_equal(actjit_kernel_io_sizes(k, batch, NULL, &nout), ACTJIT_OK);
          if (!ref) {
            ref = tu_alloc_unaligned(nout), y = tu_alloc_unaligned(nout);
            assert_int_equal(ref_run(p.g, (const float *const *)p.params, x, batch, ref), ACTJIT_OK);
          }
          char what[512];
          snprintf(what, sizeof what, "case %zu, target %s, fuse %d, batch %lld", c,
                   test_targets[t].cpu ? test_targets[t].cpu : "host", fuse, (long long)batch);
          assert_int_equal(actjit_kernel_run(k, x, batch, y), ACTJIT_OK);
          check_against(y, ref, nout, kernel_cases[c].k, what);
          /* the same bits on 3 tasks, run in any order */
          float *z = tu_alloc_unaligned(nout);
          assert_int_equal(actjit_kernel_set_parallel_for(k, reverse_pfor, NULL, 3), ACTJIT_OK);
          assert_int_equal(actjit_kernel_run(k, x, batch, z), ACTJIT_OK);
          for (size_t i = 0; i < nout; i++)
            if (!same_value(z[i], y[i])) fail_msg("%s, 3 tasks: element %zu is %.9g, not %.9g", what, i, z[i], y[i]);
          tu_free_unaligned(z);
          actjit_kernel_destroy(k);
        }
      tu_free_unaligned(x), tu_free_unaligned(ref), tu_free_unaligned(y);
      if (dims[0] >= 0) break;
    }
    unload_pipeline(&p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),           cmocka_unit_test(test_builder),
      cmocka_unit_test(test_builder_names),
      cmocka_unit_test(test_errors),              cmocka_unit_test(test_reference_transpose),
      cmocka_unit_test(test_reference_matmul),    cmocka_unit_test(test_kernels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
