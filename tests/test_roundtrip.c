/* Printer/parser round trips.
 *
 * For every .air file in ir/ (one cmocka test each): parse → print → parse →
 * print gives the same text twice, and the first print equals the file with
 * its comment lines and blank lines removed, i.e. the files in ir/ are kept
 * in canonical form (every attribute spelled out, every result typed).
 *
 * And the builder: the seed model built op by op through actjit_graph_input/
 * param/op/output prints as ir/mlp.air does.  The builder cannot name op
 * results (they get fresh names tK), so that comparison renames the %values
 * of both texts in order of first appearance. */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actjit.h"

#define IR_DIR ACTJIT_SOURCE_DIR "/ir"

/* ------------------------------------------------------------- helpers */

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 1 >= cap) {
      char *nb = realloc(buf, cap = cap ? 2 * cap : 4096);
      if (!nb) { free(buf); fclose(f); return NULL; }
      buf = nb;
    }
    size_t k = fread(buf + len, 1, cap - 1 - len, f);
    len += k;
    if (!k) break;
  }
  fclose(f);
  buf[len] = 0;
  return buf;
}

/* The file's statements: lines that are blank or start with '#' (after
 * blanks) dropped, every kept line ended with '\n'. */
static char *strip_comments(const char *text) {
  char *out = malloc(strlen(text) + 2), *o = out;
  for (const char *p = text; *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    const char *q = p;
    while (q < p + n && isspace((unsigned char)*q)) q++;
    if (q < p + n && *q != '#') {
      memcpy(o, p, n);
      o += n;
      *o++ = '\n';
    }
    p += n + (e != NULL);
  }
  *o = 0;
  return out;
}

/* Fails with the first differing line of two texts. */
static void assert_same_text(const char *what, const char *a, const char *an, const char *b, const char *bn) {
  if (!strcmp(a, b)) return;
  int line = 1;
  const char *pa = a, *pb = b;
  for (;;) {
    const char *ea = strchr(pa, '\n'), *eb = strchr(pb, '\n');
    size_t la = ea ? (size_t)(ea - pa) : strlen(pa), lb = eb ? (size_t)(eb - pb) : strlen(pb);
    if (la != lb || memcmp(pa, pb, la) || !ea != !eb) {
      fail_msg("%s: line %d differs\n  %s: %.*s\n  %s: %.*s\n--- %s ---\n%s--- %s ---\n%s", what, line, an,
               (int)la, pa, bn, (int)lb, pb, an, a, bn, b);
    }
    if (!ea) break;
    pa = ea + 1;
    pb = eb + 1;
    line++;
  }
  fail_msg("%s: texts differ", what);
}

static char *print_graph(actjit_context *ctx, const actjit_graph *g) {
  char *text[1] = {NULL}; /* an array: with &text gcc 12 wrongly warns that what it returns points here */
  actjit_status st = actjit_graph_print(g, text);
  if (st) fail_msg("print: %s: %s", actjit_status_name(st), actjit_context_error(ctx));
  assert_non_null(text[0]);
  return text[0];
}

static actjit_graph *parse_text(actjit_context *ctx, const char *text, const char *name) {
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_parse(ctx, text, strlen(text), name, &g);
  if (st) fail_msg("parsing %s: %s: %s\n%s", name, actjit_status_name(st), actjit_context_error(ctx), text);
  return g;
}

/* Renames every %value to %vK, K counting first appearances. */
static char *rename_values(const char *text) {
  size_t cap = strlen(text) * 2 + 64, n = 0;
  char *out = malloc(cap);
  char *names[256];
  int nnames = 0;
  for (const char *p = text; *p;) {
    if (*p != '%') {
      out[n++] = *p++;
      continue;
    }
    const char *s = ++p;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == '.') p++;
    size_t len = (size_t)(p - s);
    int k = 0;
    while (k < nnames && !(strlen(names[k]) == len && !memcmp(names[k], s, len))) k++;
    if (k == nnames) {
      assert_true(nnames < 256);
      names[nnames] = strndup(s, len);
      nnames++;
    }
    n += (size_t)snprintf(out + n, cap - n, "%%v%d", k);
  }
  out[n] = 0;
  for (int k = 0; k < nnames; k++) free(names[k]);
  return out;
}

/* ------------------------------------------------------------ ir files */

static void test_ir_file(void **state) {
  const char *path = *state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);

  char *source = read_text(path);
  if (!source) fail_msg("cannot read %s", path);
  /* The files open with a comment saying what they are. */
  if (source[0] != '#') fail_msg("%s does not start with a '#' comment", path);

  actjit_graph *g1 = NULL;
  actjit_status st = actjit_graph_parse_file(ctx, path, &g1);
  if (st) fail_msg("%s: %s", actjit_status_name(st), actjit_context_error(ctx));
  char *p1 = print_graph(ctx, g1);

  actjit_graph *g2 = parse_text(ctx, p1, "printed");
  char *p2 = print_graph(ctx, g2);
  assert_same_text("print → parse → print", p1, "first print", p2, "second print");

  /* The file is canonical: its statements are what the printer writes. */
  char *stmts = strip_comments(source);
  assert_same_text(path, stmts, "file", p1, "print");

  /* The two graphs agree on their parameters too. */
  assert_int_equal(actjit_graph_param_count(g1), actjit_graph_param_count(g2));
  for (int i = 0; i < actjit_graph_param_count(g1); i++) {
    const char *n1, *n2;
    int r1, r2;
    int64_t d1[ACTJIT_MAX_RANK], d2[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_param_info(g1, i, &n1, &r1, d1), ACTJIT_OK);
    assert_int_equal(actjit_graph_param_info(g2, i, &n2, &r2, d2), ACTJIT_OK);
    assert_string_equal(n1, n2);
    assert_int_equal(r1, r2);
    assert_memory_equal(d1, d2, (size_t)r1 * sizeof *d1);
  }

  free(stmts);
  actjit_free(p2);
  actjit_free(p1);
  actjit_graph_destroy(g2);
  actjit_graph_destroy(g1);
  free(source);
  actjit_context_destroy(ctx);
}

/* The files the benchmarks and examples rely on are there (so the per-file
 * tests cannot pass by finding nothing). */
static void test_ir_files_present(void **state) {
  (void)state;
  const char *names[] = {"mlp.air", "eltwise_transcendental.air", "eltwise_cheap.air", "softmax1000.air",
                         "prelu_channels.air", "all_ops.air"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", IR_DIR, names[i]);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("missing %s", path);
    fclose(f);
  }
}

/* ir/all_ops.air uses every op of the table. */
static void test_all_ops_covers_table(void **state) {
  (void)state;
  static const char *const ops[] = {"linear", "relu", "sigmoid", "tanh", "leaky_relu", "prelu",
                                    "dropout", "identity", "softmax", "flatten"};
  char *text = read_text(IR_DIR "/all_ops.air");
  assert_non_null(text);
  char *stmts = strip_comments(text);
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
    char pat[64];
    snprintf(pat, sizeof pat, "= %s ", ops[i]);
    if (!strstr(stmts, pat)) fail_msg("ir/all_ops.air does not use %s", ops[i]);
  }
  /* Linear both with and without a bias. */
  int with = 0, without = 0;
  for (const char *p = stmts; (p = strstr(p, "= linear ")); p++) {
    const char *e = strchr(p, ':'); /* operands end at the result type */
    int commas = 0;
    for (const char *q = p; q < e; q++) commas += *q == ',';
    with += commas == 2;
    without += commas == 1;
  }
  assert_true(with > 0);
  assert_true(without > 0);
  free(stmts);
  free(text);
}

/* -------------------------------------------------------------- builder */

static void check(actjit_context *ctx, actjit_status st, const char *what) {
  if (st) fail_msg("%s: %s: %s", what, actjit_status_name(st), actjit_context_error(ctx));
}

/* Linear(784,128) → ReLU → Dropout(0.2) → Linear(128,10) → Softmax(dim=1). */
static actjit_graph *build_mlp(actjit_context *ctx) {
  actjit_graph *g;
  check(ctx, actjit_graph_create(ctx, &g), "create");
  actjit_value x, w0, b0, w3, b3, fc1, act, drop, fc2, y;
  check(ctx, actjit_graph_input(g, "x", 2, (int64_t[]){ACTJIT_DYN, 784}, &x), "input");
  check(ctx, actjit_graph_param(g, "0.weight", 2, (int64_t[]){128, 784}, &w0), "param 0.weight");
  check(ctx, actjit_graph_param(g, "0.bias", 1, (int64_t[]){128}, &b0), "param 0.bias");
  check(ctx, actjit_graph_param(g, "3.weight", 2, (int64_t[]){10, 128}, &w3), "param 3.weight");
  check(ctx, actjit_graph_param(g, "3.bias", 1, (int64_t[]){10}, &b3), "param 3.bias");
  check(ctx, actjit_graph_op(g, "linear", (actjit_value[]){x, w0, b0}, 3, NULL, 0, &fc1), "linear");
  check(ctx, actjit_graph_op(g, "relu", &fc1, 1, NULL, 0, &act), "relu");
  check(ctx, actjit_graph_op(g, "dropout", &act, 1, &(actjit_attr){"p", 0.2}, 1, &drop), "dropout");
  check(ctx, actjit_graph_op(g, "linear", (actjit_value[]){drop, w3, b3}, 3, NULL, 0, &fc2), "linear");
  check(ctx, actjit_graph_op(g, "softmax", &fc2, 1, &(actjit_attr){"dim", 1}, 1, &y), "softmax");
  check(ctx, actjit_graph_output(g, y), "output");
  check(ctx, actjit_graph_verify(g), "verify");

  /* Shapes as inferred. */
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  check(ctx, actjit_graph_value_shape(g, fc1, &rank, dims), "shape");
  assert_int_equal(rank, 2);
  assert_int_equal(dims[0], ACTJIT_DYN);
  assert_int_equal(dims[1], 128);
  check(ctx, actjit_graph_value_shape(g, y, &rank, dims), "shape");
  assert_int_equal(rank, 2);
  assert_int_equal(dims[0], ACTJIT_DYN);
  assert_int_equal(dims[1], 10);
  return g;
}

static void test_builder_mlp(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *built = build_mlp(ctx);
  char *pb = print_graph(ctx, built);

  /* The builder's print is canonical as well. */
  actjit_graph *again = parse_text(ctx, pb, "built");
  char *pa = print_graph(ctx, again);
  assert_same_text("built: print → parse → print", pb, "first print", pa, "second print");

  actjit_graph *file = NULL;
  check(ctx, actjit_graph_parse_file(ctx, IR_DIR "/mlp.air", &file), "parse mlp.air");
  char *pf = print_graph(ctx, file);

  char *rb = rename_values(pb), *rf = rename_values(pf);
  assert_same_text("builder vs ir/mlp.air (values renamed)", rb, "built", rf, "mlp.air");

  /* Same parameters, in the same order. */
  assert_int_equal(actjit_graph_param_count(built), 4);
  assert_int_equal(actjit_graph_param_count(file), 4);
  for (int i = 0; i < 4; i++) {
    const char *n1, *n2;
    int r1, r2;
    int64_t d1[ACTJIT_MAX_RANK], d2[ACTJIT_MAX_RANK];
    check(ctx, actjit_graph_param_info(built, i, &n1, &r1, d1), "param_info");
    check(ctx, actjit_graph_param_info(file, i, &n2, &r2, d2), "param_info");
    assert_string_equal(n1, n2);
    assert_int_equal(r1, r2);
    assert_memory_equal(d1, d2, (size_t)r1 * sizeof *d1);
  }

  free(rb);
  free(rf);
  actjit_free(pf);
  actjit_free(pa);
  actjit_free(pb);
  actjit_graph_destroy(file);
  actjit_graph_destroy(again);
  actjit_graph_destroy(built);
  actjit_context_destroy(ctx);
}

/* Attribute values print as the shortest decimal that reads back exactly:
 * odd doubles survive a round trip bit for bit. */
static void test_attribute_values(void **state) {
  (void)state;
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  const double slopes[] = {0.01, 0.1, 1.0 / 3, 1e-30, -2.5, 123456789.125, 0.30000000000000004, 0};
  for (size_t i = 0; i < sizeof slopes / sizeof *slopes; i++) {
    actjit_graph *g;
    actjit_value x, y;
    check(ctx, actjit_graph_create(ctx, &g), "create");
    check(ctx, actjit_graph_input(g, "x", 2, (int64_t[]){ACTJIT_DYN, 3}, &x), "input");
    check(ctx, actjit_graph_op(g, "leaky_relu", &x, 1, &(actjit_attr){"negative_slope", slopes[i]}, 1, &y), "op");
    check(ctx, actjit_graph_output(g, y), "output");
    char *p1 = print_graph(ctx, g);
    actjit_graph *g2 = parse_text(ctx, p1, "printed");
    char *p2 = print_graph(ctx, g2);
    assert_string_equal(p1, p2);
    const char *s = strstr(p1, "negative_slope = ");
    assert_non_null(s);
    double back = strtod(s + strlen("negative_slope = "), NULL);
    if (back != slopes[i]) fail_msg("%.17g printed as %s", slopes[i], s);
    actjit_free(p2);
    actjit_free(p1);
    actjit_graph_destroy(g2);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
}

/* ----------------------------------------------------------------- main */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
  DIR *d = opendir(IR_DIR);
  if (!d) {
    fprintf(stderr, "cannot open %s\n", IR_DIR);
    return 1;
  }
  char **names = NULL;
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".air")) {
      names = realloc(names, (n + 1) * sizeof *names);
      names[n++] = strdup(e->d_name);
    }
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_name);

  size_t nt = n + 4;
  struct CMUnitTest *tests = calloc(nt, sizeof *tests);
  char **paths = calloc(n + 1, sizeof *paths);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(IR_DIR) + strlen(names[i]) + 2;
    paths[i] = malloc(len);
    snprintf(paths[i], len, "%s/%s", IR_DIR, names[i]);
    tests[i] = (struct CMUnitTest){.name = names[i], .test_func = test_ir_file, .initial_state = paths[i]};
  }
  tests[n] = (struct CMUnitTest)cmocka_unit_test(test_ir_files_present);
  tests[n + 1] = (struct CMUnitTest)cmocka_unit_test(test_all_ops_covers_table);
  tests[n + 2] = (struct CMUnitTest)cmocka_unit_test(test_builder_mlp);
  tests[n + 3] = (struct CMUnitTest)cmocka_unit_test(test_attribute_values);
  int failed = _cmocka_run_group_tests("roundtrip", tests, nt, NULL, NULL);
  for (size_t i = 0; i < n; i++) {
    free(names[i]);
    free(paths[i]);
  }
  free(names);
  free(paths);
  free(tests);
  return failed;
}
