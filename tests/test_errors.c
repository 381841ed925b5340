/* Error paths: one test per class of bad input.  Each asserts the exact
 * status, that the context message names the place at fault (file:line:col
 * for textual IR) and says what is wrong, that it is one line, and that the
 * error callback got the same status and message.
 *
 * Every text is parsed from an exactly sized heap copy with no terminating
 * NUL, so that an ASan build catches a parser reading past `len`.
 */
#define _POSIX_C_SOURCE 200809L /* fork, pipe */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actjit.h"

/* ------------------------------------------------------------- fixture */

typedef struct fixture {
  actjit_context *ctx;
  int calls;              /* error callback invocations since reset() */
  actjit_status cb_status;
  char cb_msg[2048];
  /* Handles a test made, freed at teardown even when the test fails. */
  actjit_graph *graphs[8];
  int ngraphs;
  actjit_kernel *kernels[4];
  int nkernels;
} fixture;

static void on_error(void *user, actjit_status s, const char *msg) {
  fixture *f = user;
  f->calls++;
  f->cb_status = s;
  snprintf(f->cb_msg, sizeof f->cb_msg, "%s", msg ? msg : "(null)");
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f || actjit_context_create(&f->ctx) != ACTJIT_OK) return -1;
  actjit_context_set_error_callback(f->ctx, on_error, f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  for (int i = 0; i < f->nkernels; i++) actjit_kernel_destroy(f->kernels[i]);
  for (int i = 0; i < f->ngraphs; i++) actjit_graph_destroy(f->graphs[i]);
  actjit_context_destroy(f->ctx);
  free(f);
  return 0;
}

static actjit_graph *keep_graph(fixture *f, actjit_graph *g) {
  assert_true(f->ngraphs < 8);
  return f->graphs[f->ngraphs++] = g;
}

static actjit_kernel *keep_kernel(fixture *f, actjit_kernel *k) {
  assert_true(f->nkernels < 4);
  return f->kernels[f->nkernels++] = k;
}

static void reset(fixture *f) {
  f->calls = 0;
  f->cb_status = ACTJIT_OK;
  f->cb_msg[0] = 0;
}

#define FAILF(file, line, ...)      \
  do {                              \
    print_error(__VA_ARGS__);       \
    _fail(file, line);              \
  } while (0)

/* Checks a failed call: status `want`, a one-line message that starts with
 * `loc` ": " (when loc is not NULL; and names it only once), contains each
 * of `words`, and reached the callback unchanged. */
static void check_error(fixture *f, actjit_status want, actjit_status got, const char *what,
                        const char *loc, const char *const *words, const char *file, int line) {
  const char *msg = actjit_context_error(f->ctx);
  if (got != want)
    FAILF(file, line, "%s: status %s, expected %s (message: \"%s\")\n", what,
          actjit_status_name(got), actjit_status_name(want), msg);
  if (!msg || !*msg) FAILF(file, line, "%s: %s with an empty message\n", what, actjit_status_name(got));
  if (strchr(msg, '\n')) FAILF(file, line, "%s: message is not one line: \"%s\"\n", what, msg);
  if (loc) {
    size_t n = strlen(loc);
    if (strncmp(msg, loc, n) || strncmp(msg + n, ": ", 2))
      FAILF(file, line, "%s: message \"%s\" does not start with \"%s: \"\n", what, msg, loc);
    if (strstr(msg + n, loc))
      FAILF(file, line, "%s: message \"%s\" names \"%s\" twice\n", what, msg, loc);
  }
  for (; *words; words++)
    if (!strstr(msg, *words))
      FAILF(file, line, "%s: message \"%s\" does not contain \"%s\"\n", what, msg, *words);
  if (f->calls < 1) FAILF(file, line, "%s: the error callback was not called (message \"%s\")\n", what, msg);
  if (f->cb_status != got || strcmp(f->cb_msg, msg))
    FAILF(file, line, "%s: the callback got %s \"%s\", the context has %s \"%s\"\n", what,
          actjit_status_name(f->cb_status), f->cb_msg, actjit_status_name(got), msg);
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* EXPECT_ERR(f, ACTJIT_ERR_X, call, "word", ...): an API call without a
 * source location in its message. */
#define EXPECT_ERR(f, want, call, ...)                                                     \
  do {                                                                                     \
    reset(f);                                                                              \
    actjit_status got_ = (call);                                                           \
    check_error(f, want, got_, #call, NULL, WORDS(__VA_ARGS__), __FILE__, __LINE__);       \
  } while (0)

/* A call that fails on a NULL handle: no context to carry a message. */
#define EXPECT_STATUS(want, call)                                                          \
  do {                                                                                     \
    actjit_status got_ = (call);                                                           \
    if (got_ != (want))                                                                    \
      FAILF(__FILE__, __LINE__, "%s: status %s, expected %s\n", #call,                     \
            actjit_status_name(got_), actjit_status_name(want));                           \
  } while (0)

#define EXPECT_OK(f, call)                                                                 \
  do {                                                                                     \
    actjit_status got_ = (call);                                                           \
    if (got_ != ACTJIT_OK)                                                                 \
      FAILF(__FILE__, __LINE__, "%s: %s: %s\n", #call, actjit_status_name(got_),           \
            actjit_context_error((f)->ctx));                                               \
  } while (0)

/* Parses `len` bytes of `text` from an exact-size heap copy as "bad.air". */
static actjit_status parse_n(fixture *f, const char *text, size_t len, actjit_graph **g) {
  char *copy = malloc(len ? len : 1);
  if (len) memcpy(copy, text, len);
  *g = (actjit_graph *)(uintptr_t)1; /* must be reset to NULL on failure */
  actjit_status st = actjit_graph_parse(f->ctx, copy, len, "bad.air", g);
  free(copy);
  return st;
}

static void parse_err_(fixture *f, const char *text, size_t len, actjit_status want, const char *loc,
                       const char *const *words, const char *file, int line) {
  actjit_graph *g;
  reset(f);
  actjit_status st = parse_n(f, text, len, &g);
  if (st == ACTJIT_OK) {
    actjit_graph_destroy(g);
    FAILF(file, line, "parsing was accepted, expected %s:\n%.*s\n", actjit_status_name(want), (int)len, text);
  }
  if (g) FAILF(file, line, "a failed parse left *out = %p, expected NULL\n", (void *)g);
  char what[256];
  snprintf(what, sizeof what, "parse of \"%.*s\"", (int)(len > 200 ? 200 : len), text);
  check_error(f, want, st, what, loc, words, file, line);
}

/* PARSE_ERR(f, text, ACTJIT_ERR_X, "bad.air:L:C", "word", ...) */
#define PARSE_ERR(f, text, want, loc, ...) \
  parse_err_(f, text, strlen(text), want, loc, WORDS(__VA_ARGS__), __FILE__, __LINE__)
#define PARSE_ERR_N(f, text, len, want, loc, ...) \
  parse_err_(f, text, len, want, loc, WORDS(__VA_ARGS__), __FILE__, __LINE__)

static actjit_graph *parse_ok_(fixture *f, const char *text, const char *file, int line) {
  actjit_graph *g;
  actjit_status st = parse_n(f, text, strlen(text), &g);
  if (st) FAILF(file, line, "parse failed: %s: %s\n%s\n", actjit_status_name(st), actjit_context_error(f->ctx), text);
  return g;
}
#define PARSE_OK(f, text) actjit_graph_destroy(parse_ok_(f, text, __FILE__, __LINE__))
/* A parsed graph freed at teardown. */
#define PARSE_KEEP(f, text) keep_graph(f, parse_ok_(f, text, __FILE__, __LINE__))

/* An empty graph freed at teardown. */
static actjit_graph *new_graph(fixture *f) {
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_create(f->ctx, &g);
  if (st) fail_msg("actjit_graph_create: %s", actjit_status_name(st));
  return keep_graph(f, g);
}

/* Runs a parse in a child process, so that a crash (or a sanitizer abort)
 * fails this test only.  Returns false if the child crashed. */
static bool parse_isolated(fixture *f, const char *text, actjit_status *st, char *msg, size_t msglen) {
  int fd[2];
  if (pipe(fd)) return false;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    actjit_graph *g;
    actjit_status s = parse_n(f, text, strlen(text), &g);
    if (!s) actjit_graph_destroy(g);
    char buf[1100];
    int n = snprintf(buf, sizeof buf, "%d %s", (int)s, s ? actjit_context_error(f->ctx) : "");
    if (write(fd[1], buf, (size_t)n) != n) _exit(3);
    _exit(0);
  }
  close(fd[1]);
  char buf[1100] = "";
  size_t n = 0;
  for (ssize_t k; n < sizeof buf - 1 && (k = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0;) n += (size_t)k;
  close(fd[0]);
  int ws = 0;
  waitpid(pid, &ws, 0);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) return false;
  int s = 0, off = 0;
  sscanf(buf, "%d %n", &s, &off);
  *st = (actjit_status)s;
  snprintf(msg, msglen, "%s", buf + off);
  return true;
}

#define X784 "input %x : f32[N, 784]\n"

/* ------------------------------------------------------- malformed IR */

static void test_parse_bad_token(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = relu $x\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:11", "expected an operand", "'$'");
  PARSE_ERR(f, "$x\n", ACTJIT_ERR_PARSE, "bad.air:1:1", "expected a statement", "'$'");
  PARSE_ERR(f, X784 "%y = relu %x ;\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:14", "expected end of line", "';'");
  /* A sigil with no name. */
  PARSE_ERR(f, X784 "%y = relu %\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:11", "expected an operand", "'%'");
  /* A number that does not parse. */
  PARSE_ERR(f, X784 "%y = dropout %x {p = 0.2.3}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:22",
            "expected a finite number", "'0.2.3'");
  PARSE_ERR(f, X784 "%y = dropout %x {p = 1e999}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:22",
            "expected a finite number", "'1e999'");
  /* An attribute value that is a word. */
  PARSE_ERR(f, X784 "%y = softmax %x {dim = one}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:24",
            "expected a finite number", "'one'");
  /* Two statements on a line. */
  PARSE_ERR(f, X784 "%y = relu %x output %y\n", ACTJIT_ERR_PARSE, "bad.air:2:14", "expected end of line", "'output'");
  /* A trailing comma in the operands. */
  PARSE_ERR(f, X784 "%y = relu %x,\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:14", "expected an operand", "end of line");
  /* Too many operands. */
  PARSE_ERR(f, X784 "%y = relu %x, %x\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:15", "no more operands", "'%x'");
}

static void test_parse_missing_equals(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y relu %x\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:4", "expected '='", "'relu'");
  PARSE_ERR(f, X784 "%y softmax %x {dim 1}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:4", "expected '='", "'softmax'");
  /* ... and inside an attribute list. */
  PARSE_ERR(f, X784 "%y = softmax %x {dim 1}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:22", "expected '='", "'1'");
  /* ':' missing before a type. */
  PARSE_ERR(f, "input %x f32[N, 4]\n", ACTJIT_ERR_PARSE, "bad.air:1:10", "expected ':'", "'f32'");
}

static void test_parse_missing_type_bracket(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, "input %x : f32 N, 784]\n", ACTJIT_ERR_PARSE, "bad.air:1:16", "expected '['", "'N'");
  PARSE_ERR(f, X784 "%y = relu %x : f32 N, 784]\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:20", "expected '['", "'N'");
  PARSE_ERR(f, "input %x : [N, 784]\n", ACTJIT_ERR_PARSE, "bad.air:1:12", "tensor type", "'['");
  PARSE_ERR(f, "input %x : f16[N, 784]\n", ACTJIT_ERR_PARSE, "bad.air:1:12", "tensor type", "'f16'");
}

/* With the closing ']' missing, both ',' and ']' are offered. */
static void test_parse_missing_close_bracket(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, "input %x : f32[N, 784\n", ACTJIT_ERR_PARSE, "bad.air:1:22", "']'", "end of line");
}

static void test_parse_truncated(void **state) {
  fixture *f = *state;
  const char *text = X784 "param @w : f32[10, 784]\n%y = linear %x, @w : f32[N, 10]\n%z = softmax %y {dim = 1}\noutput %z\n";
  size_t l1 = strlen(X784), l2 = strlen("param @w : f32[10, 784]\n"), l3 = strlen("%y = linear %x, @w : f32[N, 10]\n");
  /* Cut after "input %x : f32[N, 7". */
  PARSE_ERR_N(f, text, strlen("input %x : f32[N, 7"), ACTJIT_ERR_PARSE, "bad.air:1:20", "end of file");
  /* Cut after "param @w : f32". */
  PARSE_ERR_N(f, text, l1 + strlen("param @w : f32"), ACTJIT_ERR_PARSE, "bad.air:2:15", "expected '['", "end of file");
  /* Cut after "%y = linear ". */
  PARSE_ERR_N(f, text, l1 + l2 + strlen("%y = linear "), ACTJIT_ERR_PARSE, "bad.air:3:13", "expected an operand",
              "end of file");
  /* Cut after "%y = linear %x, ". */
  PARSE_ERR_N(f, text, l1 + l2 + strlen("%y = linear %x, "), ACTJIT_ERR_PARSE, "bad.air:3:17", "expected an operand",
              "end of file");
  /* Cut after "%z = softmax %y {dim = ". */
  PARSE_ERR_N(f, text, l1 + l2 + l3 + strlen("%z = softmax %y {dim = "), ACTJIT_ERR_PARSE, "bad.air:4:24",
              "expected a finite number", "end of file");
  /* Cut after "%z = softmax %y {dim = 1". */
  PARSE_ERR_N(f, text, l1 + l2 + l3 + strlen("%z = softmax %y {dim = 1"), ACTJIT_ERR_PARSE, "bad.air:4:25",
              "expected '", "end of file");
  /* Cut after "output": the statement, not the file, is incomplete. */
  size_t all = strlen(text);
  PARSE_ERR_N(f, text, all - strlen(" %z\n"), ACTJIT_ERR_PARSE, "bad.air:5:7", "value name", "end of file");
  /* The whole text, without its final newline, is fine. */
  actjit_graph *g;
  EXPECT_OK(f, parse_n(f, text, all - 1, &g));
  keep_graph(f, g);
}

static void test_parse_empty(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, "", ACTJIT_ERR_PARSE, "bad.air:1:1", "output", "end of file");
  PARSE_ERR(f, "\n\n   \n", ACTJIT_ERR_PARSE, "bad.air:4:1", "output", "end of file");
  PARSE_ERR(f, "# only a comment\n\n", ACTJIT_ERR_PARSE, "bad.air:3:1", "output", "end of file");
  /* NULL text with length 0 is an empty file too. */
  actjit_graph *g = NULL;
  reset(f);
  actjit_status st = actjit_graph_parse(f->ctx, NULL, 0, "bad.air", &g);
  check_error(f, ACTJIT_ERR_PARSE, st, "parse(NULL, 0)", "bad.air:1:1", WORDS("output"), __FILE__, __LINE__);
  assert_null(g);
}

static void test_parse_number_for_name(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, "input 5 : f32[N, 4]\n", ACTJIT_ERR_PARSE, "bad.air:1:7", "value name", "'5'");
  /* The @ forgotten: a state_dict key starts with a digit. */
  PARSE_ERR(f, X784 "param 0.weight : f32[4]\n", ACTJIT_ERR_PARSE, "bad.air:2:7", "parameter name", "'0.weight'");
  PARSE_ERR(f, X784 "%y = 5 %x\n", ACTJIT_ERR_PARSE, "bad.air:2:6", "an op name", "'5'");
  /* (a number is a constant operand: `mul %x, 5`) */
  PARSE_ERR(f, X784 "%y = relu 5\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "relu: operand must be a tensor value, not a constant");
  PARSE_ERR(f, X784 "%y = relu %x\noutput 5\n", ACTJIT_ERR_PARSE, "bad.air:3:8", "value name", "'5'");
  PARSE_ERR(f, X784 "%y = softmax %x {1 = 1}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:18", "attribute name", "'1'");
  PARSE_ERR(f, "5 = relu %x\n", ACTJIT_ERR_PARSE, "bad.air:1:1", "expected a statement", "'5'");
  /* N only leads. */
  PARSE_ERR(f, "input %x : f32[784, N]\n", ACTJIT_ERR_PARSE, "bad.air:1:21", "integer dimension", "'N'");
  PARSE_ERR(f, "input %x : f32[N, -3]\n", ACTJIT_ERR_PARSE, "bad.air:1:19", "integer dimension", "'-3'");
  PARSE_ERR(f, "input %x : f32[N, 2.5]\n", ACTJIT_ERR_PARSE, "bad.air:1:19", "integer dimension", "'2.5'");
}

/* ----------------------------------------------------- names and values */

static void test_parse_unknown_op(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = gelu2 %x\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:6", "unknown op", "'gelu2'");
  /* Source keywords are not ops. */
  PARSE_ERR(f, X784 "%y = input %x\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:6", "unknown op", "'input'");
  PARSE_ERR(f, "\n\n  %y   =   Relu %x\n", ACTJIT_ERR_PARSE, "bad.air:3:12", "unknown op", "'Relu'");
}

static void test_parse_unknown_attribute(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = softmax %x {axis = 1}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:18", "softmax",
            "'axis'");
  PARSE_ERR(f, X784 "%y = relu %x {p = 1}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:15", "relu", "'p'");
  PARSE_ERR(f, X784 "%y = flatten %x {start_dim = 1, end = 1}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:33",
            "flatten", "'end'");
}

/* A repeated attribute is almost certainly a typo: rejected at the repeat. */
static void test_parse_duplicate_attribute(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = softmax %x {dim = 1, dim = 0}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:27", "dim");
}

static void test_parse_undefined_value(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = relu %z\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:11", "'%z'", "not defined");
  /* Used before its definition. */
  PARSE_ERR(f, X784 "%y = relu %h\n%h = relu %x\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:11", "'%h'",
            "not defined");
  PARSE_ERR(f, X784 "%y = linear %x, @nope\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:17", "'@nope'", "not defined");
  PARSE_ERR(f, X784 "%y = relu %x\noutput %q\n", ACTJIT_ERR_PARSE, "bad.air:3:8", "'%q'", "not defined");
}

static void test_parse_param_as_value(void **state) {
  fixture *f = *state;
  /* A parameter named with % ... */
  PARSE_ERR(f, X784 "param @w : f32[4]\n%y = relu %w\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:3:11", "'%w'",
            "parameters take @");
  /* ... or named rightly but used as the data operand. */
  PARSE_ERR(f, X784 "param @w : f32[4]\n%y = relu @w\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:3:6", "relu",
            "not parameter @w");
  PARSE_ERR(f, X784 "param @w : f32[4]\n%y = relu %x\noutput @w\n", ACTJIT_ERR_PARSE, "bad.air:4:8", "value name",
            "'@w'");
}

static void test_parse_value_as_param(void **state) {
  fixture *f = *state;
  /* A value named with @ ... */
  PARSE_ERR(f, X784 "%h = relu %x\n%y = linear %x, @h\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:3:17", "'@h'",
            "values take %");
  /* ... or named rightly where a parameter must be. */
  PARSE_ERR(f, X784 "%h = relu %x\n%y = linear %x, %h\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:3:6", "linear",
            "weight must be a parameter", "%h");
  PARSE_ERR(f, "input %x : f32[N, 4]\nparam @w : f32[4, 4]\n%h = relu %x\n%y = linear %x, @w, %h\noutput %y\n",
            ACTJIT_ERR_VERIFY, "bad.air:4:6", "linear", "bias must be a parameter", "%h");
  PARSE_ERR(f, "input %x : f32[N, 4]\n%h = relu %x\n%y = prelu %x, %h\noutput %y\n", ACTJIT_ERR_VERIFY,
            "bad.air:3:6", "prelu", "weight must be a parameter", "%h");
}

static void test_parse_redefinition(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%x = relu %x\noutput %x\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "'%x'", "defined twice");
  PARSE_ERR(f, X784 "%y = relu %x\n%y = relu %y\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:3:6", "'%y'",
            "defined twice");
  PARSE_ERR(f, X784 "param @w : f32[4]\nparam @w : f32[4]\n", ACTJIT_ERR_VERIFY, "bad.air:3:1", "'@w'", "defined twice");
  PARSE_ERR(f, X784 "input %x : f32[N, 784]\n", ACTJIT_ERR_VERIFY, "bad.air:2:1", "'%x'", "defined twice");
}

/* ------------------------------------------------------- shape checking */

static void test_linear_shape_mismatch(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "param @0.weight : f32[128, 700]\n%h = linear %x, @0.weight\noutput %h\n", ACTJIT_ERR_VERIFY,
            "bad.air:3:6", "linear", "[N, 784]", "@0.weight [128, 700]", "in_features 784 != 700");
  /* Over the last axis of a rank-3 input. */
  PARSE_ERR(f, "input %x : f32[N, 7, 5]\nparam @w : f32[3, 7]\n%h = linear %x, @w\noutput %h\n", ACTJIT_ERR_VERIFY,
            "bad.air:3:6", "linear", "[N, 7, 5]", "@w [3, 7]", "in_features 5 != 7");
  /* The batch cannot be the contracted axis. */
  PARSE_ERR(f, "input %x : f32[N]\nparam @w : f32[3, 1]\n%h = linear %x, @w\noutput %h\n", ACTJIT_ERR_VERIFY,
            "bad.air:3:6", "linear", "[N]", "batch");
}

static void test_linear_weight_rank(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "param @w : f32[128]\n%h = linear %x, @w\noutput %h\n", ACTJIT_ERR_VERIFY, "bad.air:3:6", "linear",
            "@w", "[128]", "[out_features, in_features]");
  PARSE_ERR(f, X784 "param @w : f32[2, 128, 784]\n%h = linear %x, @w\noutput %h\n", ACTJIT_ERR_VERIFY, "bad.air:3:6",
            "linear", "@w", "[2, 128, 784]", "[out_features, in_features]");
}

static void test_linear_bias_size(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "param @w : f32[128, 784]\nparam @b : f32[10]\n%h = linear %x, @w, @b\noutput %h\n",
            ACTJIT_ERR_VERIFY, "bad.air:4:6", "linear", "bias @b", "[10]", "expected [128]");
  PARSE_ERR(f, X784 "param @w : f32[128, 784]\nparam @b : f32[1, 128]\n%h = linear %x, @w, @b\noutput %h\n",
            ACTJIT_ERR_VERIFY, "bad.air:4:6", "linear", "bias @b", "[1, 128]", "expected [128]");
}

static void test_softmax_dim(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = softmax %x {dim = 2}\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "softmax", "dim 2",
            "rank 2", "[-2, 1]");
  PARSE_ERR(f, X784 "%y = softmax %x {dim = -3}\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "softmax",
            "dim -3", "rank 2");
  PARSE_ERR(f, X784 "%y = softmax %x {dim = 0.5}\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "softmax",
            "dim 0.5", "integer");
  PARSE_ERR(f, X784 "%y = softmax %x\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "softmax",
            "missing attribute dim");
  PARSE_OK(f, X784 "%y = softmax %x {dim = -2}\noutput %y\n");
  PARSE_OK(f, X784 "%y = softmax %x {dim = 0}\noutput %y\n");
}

static void test_dropout_p(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = dropout %x {p = -0.1}\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "dropout",
            "p must be in [0, 1]", "-0.1");
  PARSE_ERR(f, X784 "%y = dropout %x {p = 1.5}\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "dropout",
            "p must be in [0, 1]", "1.5");
  /* As in PyTorch, p = 0 and p = 1 are both accepted; p defaults to 0.5. */
  PARSE_OK(f, X784 "%y = dropout %x {p = 1}\noutput %y\n");
  PARSE_OK(f, X784 "%y = dropout %x {p = 0}\noutput %y\n");
  PARSE_OK(f, X784 "%y = dropout %x\noutput %y\n");
}

/* Non-finite numbers ("+nan", "+inf") are not numbers in the IR: the
 * parser rejects them where they stand, naming them. */
static void test_nan_attribute(void **state) {
  fixture *f = *state;
  const char *texts[] = {X784 "%y = dropout %x {p = +nan}\noutput %y\n", X784 "%y = softmax %x {dim = +nan}\noutput %y\n"};
  for (int i = 0; i < 2; i++) {
    actjit_graph *g;
    reset(f);
    actjit_status st = parse_n(f, texts[i], strlen(texts[i]), &g);
    if (st == ACTJIT_OK) actjit_graph_destroy(g);
    const char *msg = actjit_context_error(f->ctx);
    if (st != ACTJIT_ERR_PARSE && st != ACTJIT_ERR_VERIFY)
      fail_msg("%s: status %s, expected ACTJIT_ERR_PARSE or _VERIFY", texts[i], actjit_status_name(st));
    if (strncmp(msg, "bad.air:2:", 10) || strstr(msg, "missing") || !strstr(msg, "nan"))
      fail_msg("%s: message \"%s\" should locate line 2 and name the NaN, not call it missing", texts[i], msg);
  }
  PARSE_ERR(f, X784 "%y = leaky_relu %x {negative_slope = +inf}\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:38",
            "expected a finite number", "'+inf'");
}

static void test_flatten_start_after_end(void **state) {
  fixture *f = *state;
  const char *x3 = "input %x : f32[N, 4, 5]\n";
  char buf[256];
  snprintf(buf, sizeof buf, "%s%%y = flatten %%x {start_dim = 2, end_dim = 1}\noutput %%y\n", x3);
  PARSE_ERR(f, buf, ACTJIT_ERR_VERIFY, "bad.air:2:6", "flatten", "start_dim 2", "end_dim 1");
  /* The same after normalizing a negative start_dim (-1 is 2). */
  snprintf(buf, sizeof buf, "%s%%y = flatten %%x {start_dim = -1, end_dim = 1}\noutput %%y\n", x3);
  PARSE_ERR(f, buf, ACTJIT_ERR_VERIFY, "bad.air:2:6", "flatten", "start_dim 2", "end_dim 1");
  snprintf(buf, sizeof buf, "%s%%y = flatten %%x {start_dim = 3}\noutput %%y\n", x3);
  PARSE_ERR(f, buf, ACTJIT_ERR_VERIFY, "bad.air:2:6", "flatten", "start_dim 3", "out of range", "rank 3");
  snprintf(buf, sizeof buf, "%s%%y = flatten %%x {start_dim = 1, end_dim = 1}\noutput %%y\n", x3);
  PARSE_OK(f, buf);
}

static void test_prelu_weight_count(void **state) {
  fixture *f = *state;
  const char *x = "input %x : f32[N, 16, 33]\n";
  char buf[256];
  snprintf(buf, sizeof buf, "%sparam @w : f32[8]\n%%y = prelu %%x, @w\noutput %%y\n", x);
  PARSE_ERR(f, buf, ACTJIT_ERR_VERIFY, "bad.air:3:6", "prelu", "@w", "[8]", "[16]");
  /* The channel dim is dim 1, not the last. */
  snprintf(buf, sizeof buf, "%sparam @w : f32[33]\n%%y = prelu %%x, @w\noutput %%y\n", x);
  PARSE_ERR(f, buf, ACTJIT_ERR_VERIFY, "bad.air:3:6", "prelu", "@w", "[33]", "[16]");
  PARSE_ERR(f, "input %x : f32[N, 16, 33]\nparam @w : f32[16]\n%y = prelu %x\noutput %y\n", ACTJIT_ERR_PARSE,
            "bad.air:3:14", "expected an operand");
  snprintf(buf, sizeof buf, "%sparam @w : f32[1]\n%%y = prelu %%x, @w\noutput %%y\n", x);
  PARSE_OK(f, buf);
  snprintf(buf, sizeof buf, "%sparam @w : f32[16]\n%%y = prelu %%x, @w\noutput %%y\n", x);
  PARSE_OK(f, buf);
}

/* A [1, 16] weight for 16 channels: the message names both accepted
 * shapes, [1] and [16]. */
static void test_prelu_weight_rank2(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, "input %x : f32[N, 16, 33]\nparam @w : f32[1, 16]\n%y = prelu %x, @w\noutput %y\n", ACTJIT_ERR_VERIFY,
            "bad.air:3:6", "prelu", "@w", "[1, 16]", "[16]");
}

static void test_declared_type_mismatch(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = relu %x : f32[N, 10]\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "relu",
            "declared type f32[N, 10]", "inferred f32[N, 784]");
  /* Static where the batch was inferred. */
  PARSE_ERR(f, X784 "%y = relu %x : f32[1, 784]\noutput %y\n", ACTJIT_ERR_VERIFY, "bad.air:2:6", "relu",
            "declared type f32[1, 784]", "inferred f32[N, 784]");
  PARSE_ERR(f, X784 "param @w : f32[10, 784]\n%y = linear %x, @w : f32[N, 784]\noutput %y\n", ACTJIT_ERR_VERIFY,
            "bad.air:3:6", "linear", "declared type f32[N, 784]", "inferred f32[N, 10]");
  PARSE_ERR(f, "input %x : f32[N, 4, 5]\n%y = flatten %x {start_dim = 0, end_dim = -1} : f32[N, 20]\noutput %y\n",
            ACTJIT_ERR_VERIFY, "bad.air:2:6", "flatten", "declared type f32[N, 20]", "inferred f32[N*20]");
}

/* ------------------------------------------------------- graph structure */

static void test_no_output(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = relu %x\n", ACTJIT_ERR_PARSE, "bad.air:3:1", "output", "end of file");
  PARSE_ERR(f, X784 "%y = relu %x", ACTJIT_ERR_PARSE, "bad.air:2:13", "output", "end of file");
  /* Through the builder, the verifier catches it. */
  actjit_graph *g;
  actjit_value x, y;
  int64_t d[2] = {ACTJIT_DYN, 4};
  g = new_graph(f);
  EXPECT_OK(f, actjit_graph_input(g, "x", 2, d, &x));
  EXPECT_OK(f, actjit_graph_op(g, "relu", &x, 1, NULL, 0, &y));
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_verify(g), "no output");
  actjit_kernel *k = (actjit_kernel *)(uintptr_t)1;
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_compile(g, NULL, &k), "no output");
  assert_null(k);
}

static void test_no_input(void **state) {
  fixture *f = *state;
  actjit_graph *g;
  g = new_graph(f);
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_verify(g), "no input");
}

static void test_two_inputs(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, "input %a : f32[N, 4]\ninput %b : f32[N, 4]\n%y = relu %a\noutput %y\n", ACTJIT_ERR_VERIFY,
            "bad.air:2:1", "one input", "%b");
  actjit_graph *g;
  actjit_value a, b;
  int64_t d[2] = {ACTJIT_DYN, 4};
  g = new_graph(f);
  EXPECT_OK(f, actjit_graph_input(g, "a", 2, d, &a));
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_input(g, "b", 2, d, &b), "one input", "%b");
}

static void test_two_outputs(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "%y = relu %x\n%z = relu %y\noutput %y\noutput %z\n", ACTJIT_ERR_PARSE, "bad.air:5:8",
            "second output");
}

/* `output %x` on the input: one clean message (no re-wrapping of the
 * context's own buffer). */
static void test_output_is_input(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, X784 "output %x\n", ACTJIT_ERR_VERIFY, "bad.air:2:8", "output %x", "computed by an op");
}

static void test_bad_rank(void **state) {
  fixture *f = *state;
  PARSE_ERR(f, "input %x : f32[]\n", ACTJIT_ERR_PARSE, "bad.air:1:16", "dimension", "']'");
  PARSE_ERR(f, "input %x : f32[N, 1, 2, 3, 4, 5, 6]\n", ACTJIT_ERR_PARSE, "bad.air:1:34", "at most 6", "'6'");
  PARSE_ERR(f, X784 "param @w : f32[]\n", ACTJIT_ERR_PARSE, "bad.air:2:16", "dimension", "']'");
  PARSE_ERR(f, X784 "param @w : f32[1, 2, 3, 4, 5, 6, 7]\n", ACTJIT_ERR_PARSE, "bad.air:2:34", "at most 6", "'7'");
  PARSE_ERR(f, X784 "%y = relu %x : f32[]\noutput %y\n", ACTJIT_ERR_PARSE, "bad.air:2:20", "dimension", "']'");
  /* A parameter has a static shape. */
  PARSE_ERR(f, X784 "param @w : f32[N, 4]\n", ACTJIT_ERR_VERIFY, "bad.air:2:1", "@w", "batch");
  /* Rank 6 is the most. */
  PARSE_OK(f, "input %x : f32[N, 2, 3, 4, 5, 6]\n%y = relu %x\noutput %y\n");
  /* Through the builder. */
  actjit_graph *g;
  actjit_value v;
  int64_t d[7] = {ACTJIT_DYN, 1, 2, 3, 4, 5, 6};
  g = new_graph(f);
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_input(g, "x", 0, d, &v), "rank must be 1..6");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_input(g, "x", 7, d, &v), "rank must be 1..6");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_param(g, "w", 7, d + 1, &v), "rank must be 1..6");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_param(g, "w", -1, d + 1, &v), "rank must be 1..6");
  int64_t neg[2] = {4, -5};
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_param(g, "w", 2, neg, &v), "dimension 1", "-5");
}

/* A type whose element count would overflow (more than 2^48 elements a
 * batch row) is rejected with a message naming the place, before any shape
 * arithmetic can overflow.  Run in a child process so UB cannot take the
 * test runner down. */
static void test_huge_shape(void **state) {
  fixture *f = *state;
  const char *texts[] = {
      "input %x : f32[N, 100000000000000, 100000000000000]\n%y = flatten %x {start_dim = 1, end_dim = -1}\n"
      "%z = relu %y\noutput %z\n",
      "input %x : f32[N, 100000000000000, 100000000000000]\n%y = relu %x\noutput %y\n",
      "input %x : f32[N, 4]\nparam @w : f32[100000000000000, 100000000000000]\n%y = relu %x\noutput %y\n",
  };
  for (int i = 0; i < 3; i++) {
    actjit_status st;
    char msg[1100];
    if (!parse_isolated(f, texts[i], &st, msg, sizeof msg)) fail_msg("crashed parsing:\n%s", texts[i]);
    if (st != ACTJIT_ERR_PARSE && st != ACTJIT_ERR_VERIFY)
      fail_msg("status %s, expected ACTJIT_ERR_PARSE or _VERIFY for:\n%s", actjit_status_name(st), texts[i]);
    if (strncmp(msg, "bad.air:", 8)) fail_msg("message \"%s\" names no place", msg);
  }
}

static void test_missing_file(void **state) {
  fixture *f = *state;
  const char *path = ACTJIT_SOURCE_DIR "/ir/does_not_exist.air";
  actjit_graph *g = (actjit_graph *)(uintptr_t)1;
  EXPECT_ERR(f, ACTJIT_ERR_IO, actjit_graph_parse_file(f->ctx, path, &g), path, "cannot open");
  /* A directory cannot be read either. */
  EXPECT_ERR(f, ACTJIT_ERR_IO, actjit_graph_parse_file(f->ctx, ACTJIT_SOURCE_DIR "/ir", &g), ACTJIT_SOURCE_DIR "/ir");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_parse_file(f->ctx, NULL, &g), "actjit_graph_parse_file");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_parse_file(f->ctx, path, NULL), "actjit_graph_parse_file");
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_parse_file(NULL, path, &g));
  /* A parse error in a real file names that file. */
  char tmpl[] = "/tmp/actjit_test_errors_XXXXXX";
  int fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  const char *text = "input %x : f32[N, 4]\n%y = gelu2 %x\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  char loc[64];
  snprintf(loc, sizeof loc, "%s:2:6", tmpl);
  reset(f);
  actjit_status st = actjit_graph_parse_file(f->ctx, tmpl, &g);
  unlink(tmpl);
  check_error(f, ACTJIT_ERR_PARSE, st, "parse_file", loc, WORDS("'gelu2'"), __FILE__, __LINE__);
}

/* ------------------------------------------------------------- builder */

static void test_builder_null_args(void **state) {
  fixture *f = *state;
  actjit_graph *g;
  actjit_value x, y;
  int64_t d[2] = {ACTJIT_DYN, 4};
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_context_create(NULL));
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_create(NULL, &g));
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_create(f->ctx, NULL), "actjit_graph_create");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_parse(f->ctx, NULL, 3, "bad.air", &g), "actjit_graph_parse");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_parse(f->ctx, "abc", 3, "bad.air", NULL), "actjit_graph_parse");
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_parse(NULL, "abc", 3, "bad.air", &g));
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_input(NULL, "x", 2, d, &x));
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_param(NULL, "w", 2, d, &x));
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_op(NULL, "relu", &x, 1, NULL, 0, &y));
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_output(NULL, 0));
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_verify(NULL));
  char *text;
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_graph_print(NULL, &text));
  assert_int_equal(actjit_graph_param_count(NULL), 0);
  actjit_graph_destroy(NULL);
  actjit_context_destroy(NULL);
  actjit_context_set_error_callback(NULL, on_error, f);
  assert_non_null(actjit_context_error(NULL));

  g = new_graph(f);
  EXPECT_OK(f, actjit_graph_input(g, "x", 2, d, &x));
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, NULL, &x, 1, NULL, 0, &y), "actjit_graph_op");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "relu", NULL, 1, NULL, 0, &y), "actjit_graph_op");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "relu", &x, 1, NULL, 1, &y), "actjit_graph_op");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "relu", &x, 1, NULL, 0, NULL), "actjit_graph_op");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "relu", &x, -1, NULL, 0, &y), "actjit_graph_op");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "relu", &x, 1, NULL, -1, &y), "actjit_graph_op");
  /* Nothing was added by the failed calls. */
  EXPECT_OK(f, actjit_graph_op(g, "relu", &x, 1, NULL, 0, &y));
  assert_int_equal(y, 1);
}

/* actjit_graph_input/param name themselves on NULL arguments, and say
 * which argument (dims) is NULL. */
static void test_builder_source_null_args(void **state) {
  fixture *f = *state;
  actjit_graph *g;
  actjit_value v;
  int64_t d[2] = {ACTJIT_DYN, 4};
  g = new_graph(f);
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_input(g, NULL, 2, d, &v), "actjit_graph_input");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_input(g, "x", 2, d, NULL), "actjit_graph_input");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_param(g, NULL, 1, d + 1, &v), "actjit_graph_param");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_input(g, "x", 2, NULL, &v), "actjit_graph_input", "dims");
}

/* ACTJIT_DYN in a parameter's shape: "cannot have a batch dimension". */
static void test_builder_param_batch(void **state) {
  fixture *f = *state;
  actjit_graph *g;
  actjit_value v;
  int64_t d[2] = {ACTJIT_DYN, 4};
  g = new_graph(f);
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_param(g, "w", 2, d, &v), "@w", "batch");
}

/* Query calls that fail with a context at hand leave a message naming
 * themselves, as every fallible call does. */
static void test_query_errors_set_message(void **state) {
  fixture *f = *state;
  actjit_graph *g = PARSE_KEEP(f, "input %x : f32[N, 4]\nparam @w : f32[4]\n%y = relu %x\noutput %y\n");
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  const char *name;
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_print(g, NULL), "actjit_graph_print");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_value_shape(g, 99, &rank, dims), "actjit_graph_value_shape", "99");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_param_info(g, 5, &name, &rank, dims), "actjit_graph_param_info", "5");
  actjit_kernel *k;
  EXPECT_OK(f, actjit_compile(g, NULL, &k));
  keep_kernel(f, k);
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_dump(k, ACTJIT_DUMP_IR, NULL), "actjit_kernel_dump");
}

static void test_builder_unknown_op(void **state) {
  fixture *f = *state;
  actjit_graph *g;
  actjit_value x, y = 77;
  int64_t d[2] = {ACTJIT_DYN, 4};
  g = new_graph(f);
  EXPECT_OK(f, actjit_graph_input(g, "x", 2, d, &x));
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "gelu2", &x, 1, NULL, 0, &y), "unknown op", "'gelu2'");
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "", &x, 1, NULL, 0, &y), "unknown op", "''");
  /* The source pseudo-ops are not ops. */
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "param", &x, 1, NULL, 0, &y), "unknown op", "'param'");
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "input", NULL, 0, NULL, 0, &y), "unknown op", "'input'");
  assert_int_equal(y, 77);
}

static void test_builder_unknown_attribute(void **state) {
  fixture *f = *state;
  actjit_graph *g;
  actjit_value x, y;
  int64_t d[2] = {ACTJIT_DYN, 4};
  g = new_graph(f);
  EXPECT_OK(f, actjit_graph_input(g, "x", 2, d, &x));
  actjit_attr axis = {"axis", 1};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "softmax", &x, 1, &axis, 1, &y), "softmax", "'axis'");
  actjit_attr p = {"p", 0.1};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "relu", &x, 1, &p, 1, &y), "relu", "'p'");
  actjit_attr unnamed = {NULL, 1};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "softmax", &x, 1, &unnamed, 1, &y), "softmax");
  /* A bad attribute after a good one. */
  actjit_attr two[2] = {{"start_dim", 1}, {"stop_dim", 2}};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "flatten", &x, 1, two, 2, &y), "flatten", "'stop_dim'");
  /* Values are still checked. */
  actjit_attr dim = {"dim", 5};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "softmax", &x, 1, &dim, 1, &y), "softmax", "dim 5", "rank 2");
  actjit_attr bigp = {"p", 1.5};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "dropout", &x, 1, &bigp, 1, &y), "dropout", "1.5");
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "softmax", &x, 1, NULL, 0, &y), "softmax", "missing attribute dim");
}

static void test_builder_operand_out_of_range(void **state) {
  fixture *f = *state;
  actjit_graph *g;
  actjit_value x, w, y = 77;
  int64_t d[2] = {ACTJIT_DYN, 4}, wd[2] = {3, 4};
  g = new_graph(f);
  EXPECT_OK(f, actjit_graph_input(g, "x", 2, d, &x));
  EXPECT_OK(f, actjit_graph_param(g, "w", 2, wd, &w));
  actjit_value bad = 99;
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "relu", &bad, 1, NULL, 0, &y), "relu", "operand 0");
  bad = ACTJIT_NO_VALUE;
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "relu", &bad, 1, NULL, 0, &y), "relu", "operand 0");
  actjit_value lin[3] = {x, w, 2}; /* 2 is not yet a value */
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_op(g, "linear", lin, 3, NULL, 0, &y), "linear", "operand 2");
  /* Operand count. */
  actjit_value xx[2] = {x, x};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "relu", xx, 2, NULL, 0, &y), "relu", "1..1", "got 2");
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "linear", &x, 1, NULL, 0, &y), "linear", "2..3", "got 1");
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "relu", NULL, 0, NULL, 0, &y), "relu", "got 0");
  /* Operand kinds. */
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "relu", &w, 1, NULL, 0, &y), "relu", "not parameter @w");
  actjit_value wx[2] = {x, x};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "linear", wx, 2, NULL, 0, &y), "linear",
             "weight must be a parameter", "%x");
  /* Shapes. */
  int64_t wd5[2] = {3, 5};
  actjit_value w5;
  EXPECT_OK(f, actjit_graph_param(g, "w5", 2, wd5, &w5));
  actjit_value xw5[2] = {x, w5};
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_op(g, "linear", xw5, 2, NULL, 0, &y), "linear", "[N, 4]",
             "@w5 [3, 5]", "in_features 4 != 5");
  assert_int_equal(y, 77);
  /* Outputs. */
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_output(g, 99), "output");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_graph_output(g, ACTJIT_NO_VALUE), "output");
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_output(g, x), "output %x", "computed by an op");
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_output(g, w), "w", "computed by an op");
  /* Names. */
  actjit_value v;
  EXPECT_ERR(f, ACTJIT_ERR_VERIFY, actjit_graph_param(g, "w", 1, wd, &v), "'@w'", "defined twice");
  /* The graph is still whole and usable. */
  EXPECT_OK(f, actjit_graph_op(g, "relu", &x, 1, NULL, 0, &y));
  EXPECT_OK(f, actjit_graph_output(g, y));
  EXPECT_OK(f, actjit_graph_verify(g));
}

/* As test_huge_shape, through the builder (in a child process). */
static void test_builder_huge_shape(void **state) {
  fixture *f = *state;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    actjit_graph *g;
    actjit_value x, y;
    int64_t d[3] = {ACTJIT_DYN, 100000000000000, 100000000000000};
    actjit_attr a[2] = {{"start_dim", 1}, {"end_dim", -1}};
    if (actjit_graph_create(f->ctx, &g)) _exit(10);
    actjit_status st = actjit_graph_input(g, "x", 3, d, &x);
    if (!st) st = actjit_graph_op(g, "flatten", &x, 1, a, 2, &y);
    actjit_graph_destroy(g);
    _exit(st == ACTJIT_ERR_ARGUMENT || st == ACTJIT_ERR_VERIFY ? 0 : 11);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  if (!WIFEXITED(ws)) fail_msg("crashed building an input [N, 1e14, 1e14] and flattening it");
  if (WEXITSTATUS(ws)) fail_msg("input [N, 1e14, 1e14] + flatten was accepted (child status %d)", WEXITSTATUS(ws));
}

/* ------------------------------------------------------ compile options */

static const char *SMALL =
    "input %x : f32[N, 4]\n"
    "param @0.weight : f32[3, 4]\n"
    "param @0.bias : f32[3]\n"
    "%h = linear %x, @0.weight, @0.bias : f32[N, 3]\n"
    "%y = relu %h : f32[N, 3]\n"
    "output %y\n";

static void test_compile_unknown_cpu(void **state) {
  fixture *f = *state;
  actjit_graph *g = PARSE_KEEP(f, SMALL);
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = "foo";
  actjit_kernel *k = (actjit_kernel *)(uintptr_t)1;
  EXPECT_ERR(f, ACTJIT_ERR_TARGET, actjit_compile(g, &o, &k), "unknown CPU", "'foo'");
  assert_null(k);
  o.cpu = "";
  EXPECT_ERR(f, ACTJIT_ERR_TARGET, actjit_compile(g, &o, &k), "unknown CPU", "''");
  o.cpu = "skylake-avx512 ";
  EXPECT_ERR(f, ACTJIT_ERR_TARGET, actjit_compile(g, &o, &k), "unknown CPU", "'skylake-avx512 '");
}

static void test_compile_unknown_feature(void **state) {
  fixture *f = *state;
  actjit_graph *g = PARSE_KEEP(f, SMALL);
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  actjit_kernel *k = (actjit_kernel *)(uintptr_t)1;
  o.features = "+avx9";
  EXPECT_ERR(f, ACTJIT_ERR_TARGET, actjit_compile(g, &o, &k), "unknown CPU feature", "'+avx9'");
  assert_null(k);
  o.features = "+avx2,+avx9,+fma";
  EXPECT_ERR(f, ACTJIT_ERR_TARGET, actjit_compile(g, &o, &k), "unknown CPU feature", "'+avx9'");
  o.features = "avx2";
  EXPECT_ERR(f, ACTJIT_ERR_TARGET, actjit_compile(g, &o, &k), "unknown CPU feature", "'avx2'", "+name or -name");
  o.cpu = "x86-64";
  o.features = "-sse9";
  EXPECT_ERR(f, ACTJIT_ERR_TARGET, actjit_compile(g, &o, &k), "unknown CPU feature", "'-sse9'");
}

static void test_compile_opt_level(void **state) {
  fixture *f = *state;
  actjit_graph *g = PARSE_KEEP(f, SMALL);
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  actjit_kernel *k = (actjit_kernel *)(uintptr_t)1;
  o.opt_level = 7;
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_compile(g, &o, &k), "optimization level 7", "0..3");
  assert_null(k);
  o.opt_level = -1;
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_compile(g, &o, &k), "optimization level -1", "0..3");
  /* NULL handles. */
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_compile(NULL, &o, &k));
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_compile(g, NULL, NULL), "actjit_compile");
}

/* --------------------------------------------------------------- kernel */

static actjit_kernel *compile_small(fixture *f) {
  actjit_graph *g = parse_ok_(f, SMALL, __FILE__, __LINE__);
  actjit_kernel *k = NULL;
  actjit_status st = actjit_compile(g, NULL, &k);
  actjit_graph_destroy(g); /* the kernel keeps its own copy */
  if (st) fail_msg("actjit_compile: %s: %s", actjit_status_name(st), actjit_context_error(f->ctx));
  return keep_kernel(f, k);
}

static const float W[12] = {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1};
static const float B[3] = {0.5f, -10, 0};

static void test_run_unbound_param(void **state) {
  fixture *f = *state;
  actjit_kernel *k = compile_small(f);
  float in[8] = {1, 2, 3, 4, -1, -2, -3, -4}, out[6] = {0};
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_run(k, in, 2, out), "@0.weight", "not bound");
  EXPECT_OK(f, actjit_kernel_bind(k, "0.weight", W, 12));
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_run(k, in, 2, out), "@0.bias", "not bound");
  EXPECT_OK(f, actjit_kernel_bind(k, "0.bias", B, 3));
  EXPECT_OK(f, actjit_kernel_run(k, in, 2, out));
  const float want[6] = {1.5f, 0, 10, 0, 0, 0};
  for (int i = 0; i < 6; i++) assert_float_equal(out[i], want[i], 1e-6);
}

static void test_bind_wrong_count(void **state) {
  fixture *f = *state;
  actjit_kernel *k = compile_small(f);
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_bind(k, "0.weight", W, 5), "@0.weight", "[3, 4]", "12", "got 5");
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_bind(k, "0.bias", W, 12), "@0.bias", "[3]", "got 12");
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_bind(k, "0.bias", NULL, 0), "@0.bias", "[3]", "got 0");
  /* A failed bind leaves the parameter unbound. */
  EXPECT_OK(f, actjit_kernel_bind(k, "0.bias", B, 3));
  float in[4] = {0}, out[3];
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_run(k, in, 1, out), "@0.weight", "not bound");
}

static void test_bind_unknown_name(void **state) {
  fixture *f = *state;
  actjit_kernel *k = compile_small(f);
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_bind(k, "nope", W, 12), "no parameter", "nope");
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_bind(k, "0.Weight", W, 12), "no parameter", "0.Weight");
  /* Values are not parameters. */
  EXPECT_ERR(f, ACTJIT_ERR_WEIGHTS, actjit_kernel_bind(k, "x", W, 4), "no parameter", "x");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_bind(k, NULL, W, 12), "actjit_kernel_bind");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_bind(k, "0.weight", NULL, 12), "actjit_kernel_bind");
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_kernel_bind(NULL, "0.weight", W, 12));
}

static void test_negative_batch(void **state) {
  fixture *f = *state;
  actjit_kernel *k = compile_small(f);
  EXPECT_OK(f, actjit_kernel_bind(k, "0.weight", W, 12));
  EXPECT_OK(f, actjit_kernel_bind(k, "0.bias", B, 3));
  float in[8] = {0}, out[6];
  size_t ic = 123, oc = 456;
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_run(k, in, -1, out), "batch -1", "negative");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_io_sizes(k, -3, &ic, &oc), "batch -3", "negative");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_run(k, in, INT64_MIN, out), "negative");
  assert_int_equal(ic, 123);
  assert_int_equal(oc, 456);
  /* Too large. */
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_io_sizes(k, INT64_MAX, &ic, &oc), "too large");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_run(k, in, INT64_MAX / 2, out), "too large");
  /* NULL buffers and handles. */
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_run(k, NULL, 2, out), "actjit_kernel_run");
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_run(k, in, 2, NULL), "actjit_kernel_run");
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_kernel_run(NULL, in, 2, out));
  EXPECT_STATUS(ACTJIT_ERR_ARGUMENT, actjit_kernel_io_sizes(NULL, 2, &ic, &oc));
  EXPECT_ERR(f, ACTJIT_ERR_ARGUMENT, actjit_kernel_dump(k, (actjit_dump_kind)42, &(char *){NULL}), "dump kind 42");
  /* Batch 0 is a valid empty run. */
  EXPECT_OK(f, actjit_kernel_io_sizes(k, 0, &ic, &oc));
  assert_int_equal(ic, 0);
  assert_int_equal(oc, 0);
  EXPECT_OK(f, actjit_kernel_run(k, in, 0, out));
}

/* ------------------------------------------------------- error callback */

static void test_error_callback(void **state) {
  fixture *f = *state;
  actjit_context *c2;
  assert_int_equal(actjit_context_create(&c2), ACTJIT_OK);
  assert_string_equal(actjit_context_error(c2), "");
  /* Parse error: the callback sees exactly the context's message. */
  actjit_graph *g;
  reset(f);
  assert_int_equal(parse_n(f, X784 "%y = gelu2 %x\noutput %y\n", strlen(X784 "%y = gelu2 %x\noutput %y\n"), &g),
                   ACTJIT_ERR_PARSE);
  assert_int_equal(f->calls, 1);
  assert_int_equal(f->cb_status, ACTJIT_ERR_PARSE);
  assert_string_equal(f->cb_msg, actjit_context_error(f->ctx));
  assert_string_equal(f->cb_msg, "bad.air:2:6: unknown op 'gelu2' (did you mean 'gelu'?)");
  /* A successful call does not call it. */
  reset(f);
  PARSE_OK(f, X784 "%y = relu %x\noutput %y\n");
  assert_int_equal(f->calls, 0);
  /* Contexts are independent. */
  assert_string_equal(actjit_context_error(c2), "");
  actjit_graph *g2;
  assert_int_equal(actjit_graph_parse(c2, "output %q\n", 10, "other.air", &g2), ACTJIT_ERR_PARSE);
  assert_int_equal(f->calls, 0);
  assert_string_equal(actjit_context_error(f->ctx), "bad.air:2:6: unknown op 'gelu2' (did you mean 'gelu'?)");
  assert_true(strncmp(actjit_context_error(c2), "other.air:1:8: ", 15) == 0);
  actjit_context_destroy(c2);
  /* Unset: no more calls, the message is still kept. */
  actjit_context_set_error_callback(f->ctx, NULL, NULL);
  assert_int_equal(parse_n(f, "%y = gelu3 %x\n", 14, &g), ACTJIT_ERR_PARSE);
  assert_int_equal(f->calls, 0);
  assert_string_equal(actjit_context_error(f->ctx), "bad.air:1:6: unknown op 'gelu3' (did you mean 'gelu'?)");
  /* Reset: called again. */
  actjit_context_set_error_callback(f->ctx, on_error, f);
  EXPECT_ERR(f, ACTJIT_ERR_IO, actjit_graph_parse_file(f->ctx, "/nonexistent/x.air", &g), "/nonexistent/x.air");
  assert_int_equal(f->calls, 1);
}

/* Every error is raised once: the callback is not called a second time for
 * a re-wrapped message. */
static void test_error_callback_once(void **state) {
  fixture *f = *state;
  const char *texts[] = {
      X784 "%y = gelu2 %x\noutput %y\n",
      X784 "param @w : f32[10, 700]\n%y = linear %x, @w\noutput %y\n",
      X784 "%y = relu %x : f32[N, 3]\noutput %y\n",
      X784 "%y = relu %x\n",
      X784 "output %x\n",
  };
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    actjit_graph *g;
    reset(f);
    actjit_status st = parse_n(f, texts[i], strlen(texts[i]), &g);
    assert_int_not_equal(st, ACTJIT_OK);
    if (f->calls != 1) fail_msg("%d callback calls for one error in:\n%s", f->calls, texts[i]);
  }
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_parse_bad_token),
      T(test_parse_missing_equals),
      T(test_parse_missing_type_bracket),
      T(test_parse_missing_close_bracket),
      T(test_parse_truncated),
      T(test_parse_empty),
      T(test_parse_number_for_name),
      T(test_parse_unknown_op),
      T(test_parse_unknown_attribute),
      T(test_parse_duplicate_attribute),
      T(test_parse_undefined_value),
      T(test_parse_param_as_value),
      T(test_parse_value_as_param),
      T(test_parse_redefinition),
      T(test_linear_shape_mismatch),
      T(test_linear_weight_rank),
      T(test_linear_bias_size),
      T(test_softmax_dim),
      T(test_dropout_p),
      T(test_nan_attribute),
      T(test_flatten_start_after_end),
      T(test_prelu_weight_count),
      T(test_prelu_weight_rank2),
      T(test_declared_type_mismatch),
      T(test_no_output),
      T(test_no_input),
      T(test_two_inputs),
      T(test_two_outputs),
      T(test_output_is_input),
      T(test_bad_rank),
      T(test_huge_shape),
      T(test_missing_file),
      T(test_builder_null_args),
      T(test_builder_source_null_args),
      T(test_builder_param_batch),
      T(test_query_errors_set_message),
      T(test_builder_unknown_op),
      T(test_builder_unknown_attribute),
      T(test_builder_operand_out_of_range),
      T(test_builder_huge_shape),
      T(test_compile_unknown_cpu),
      T(test_compile_unknown_feature),
      T(test_compile_opt_level),
      T(test_run_unbound_param),
      T(test_bind_wrong_count),
      T(test_bind_unknown_name),
      T(test_negative_batch),
      T(test_error_callback),
      T(test_error_callback_once),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
