/* Regression tests of the defects the hardening issue lists, one test each,
 * named by the defect; each failed before its fix (on the gcc build, or for
 * the undefined-behaviour ones under clang's -fsanitize=undefined, which
 * checks float-to-integer casts).  The inputs are the issue's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "codegen/codegen.h"
#include "frontend/torch_seq.h"
#include "ir/print.h"
#include "reference/reference.h"
#include "testutil.h"
#include "testpipe.h"

/* --------------------------------------------------------------- helpers */

static actjit_graph *parse_ok(actjit_context *ctx, const char *text) {
  actjit_graph *g = NULL;
  if (actjit_graph_parse(ctx, text, strlen(text), "regress.air", &g))
    fail_msg("%s\n%s", actjit_context_error(ctx), text);
  return g;
}

static actjit_graph *torch_ok(actjit_context *ctx, const char *text, int rank, const int64_t *dims) {
  actjit_graph *g = NULL;
  if (torch_seq_parse(ctx, text, strlen(text), "seq.txt", rank, dims, &g)) fail_msg("%s\n%s", actjit_context_error(ctx), text);
  return g;
}

static char *print(const actjit_graph *g) {
  char *text;
  assert_int_equal(actjit_graph_print(g, &text), ACTJIT_OK);
  return text;
}

/* print(parse(print(g))) == print(g); returns the reparsed graph. */
static actjit_graph *fixed_point(actjit_context *ctx, const actjit_graph *g) {
  char *p1 = print(g);
  actjit_graph *g2 = parse_ok(ctx, p1);
  char *p2 = print(g2);
  assert_string_equal(p1, p2);
  actjit_free(p1), actjit_free(p2);
  return g2;
}

static void expect_one_line(const char *msg) {
  assert_true(*msg);
  for (const char *c = msg; *c; c++)
    if ((unsigned char)*c < 0x20) fail_msg("message has control byte 0x%02x: \"%s\"", (unsigned char)*c, msg);
}

static actjit_kernel *compile_for(actjit_graph *g, const test_target *t, int fuse) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu, o.features = t->features, o.fuse = fuse;
  actjit_kernel *k = NULL;
  if (actjit_compile(g, &o, &k)) fail_msg("%s", actjit_context_error(actjit_graph_context(g)));
  return k;
}

/* Runs g (parameters params, in declaration order) fused and unfused on
 * every test target at `batch`, on 1 and 3 tasks, and checks both bitwise
 * against the scalar reference where exact, else within tol relative;
 * returns the number of kernels of the fused plan on the host. */
static void serial_pfor(void *user, int64_t n, actjit_task_fn task, void *arg) {
  for (int64_t i = n - 1; i >= 0; i--) task(arg, i); /* reverse: no order is assumed */
}

static int check_against_reference(actjit_graph *g, const float *const *params, const float *x, int64_t batch,
                                   double tol) {
  size_t nout = 0;
  int kernels = -1;
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (int fuse = 0; fuse <= 1; fuse++)
      for (int tasks = 1; tasks <= 3; tasks += 2) {
        actjit_kernel *k = compile_for(g, &test_targets[t], fuse);
        if (!t && fuse) kernels = actjit_kernel_step_count(k);
        for (int i = 0; i < actjit_graph_param_count(g); i++) {
          const char *name;
          int rank;
          int64_t dims[ACTJIT_MAX_RANK];
          assert_int_equal(actjit_graph_param_info(g, i, &name, &rank, dims), ACTJIT_OK);
          size_t n = 1;
          for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
          assert_int_equal(actjit_kernel_bind(k, name, params[i], n), ACTJIT_OK);
        }
        assert_int_equal(actjit_kernel_set_parallel_for(k, serial_pfor, NULL, tasks), ACTJIT_OK);
        assert_int_equal(actjit_kernel_io_sizes(k, batch, NULL, &nout), ACTJIT_OK);
        float *y = calloc(nout + 1, sizeof *y), *r = calloc(nout + 1, sizeof *r);
        for (size_t i = 0; i < nout; i++) y[i] = -12345.0f; /* what a kernel forgot to write */
        if (actjit_kernel_run(k, x, batch, y)) fail_msg("%s", actjit_context_error(actjit_graph_context(g)));
        assert_int_equal(ref_run(g, params, x, batch, r), ACTJIT_OK);
        for (size_t i = 0; i < nout; i++) {
          bool ok = tol == 0 ? same_value(y[i], r[i]) : isnan(r[i]) ? isnan(y[i]) : fabs(y[i] - r[i]) <= tol * fabs(r[i]) + 1e-30;
          if (!ok)
            fail_msg("[%s fuse %d tasks %d] batch %lld element %zu: %.9g, reference %.9g", actjit_kernel_cpu(k), fuse,
                     tasks, (long long)batch, i, y[i], r[i]);
        }
        free(y), free(r);
        actjit_kernel_destroy(k);
      }
  return kernels;
}

/* ------------------------------------------------------------ the defects */

/* 1. A fuse { } block of more than 16 ops was verified only up to member 16
 * and miscompiled (the glu at member 17 ran as the identity).  Now a block
 * verifies as a whole: that one is rejected for its glu, one longer than a
 * kernel takes for its length, and a long legal one runs as one kernel. */
static char *relu_block(int n, const char *tail) {
  char *text = malloc(64 * (size_t)n + 256);
  size_t k = (size_t)sprintf(text, "input %%x : f32[N, 4]\nfuse {\n  %%a1 = relu %%x\n");
  for (int i = 2; i <= n; i++) k += (size_t)sprintf(text + k, "  %%a%d = relu %%a%d\n", i, i - 1);
  sprintf(text + k, "%s", tail);
  return text;
}

static void test_defect01_long_fuse_block(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  char *issue = relu_block(16, "  %g = glu %a16 {dim = -1}\n  %r = relu %g\n}\noutput %r\n");
  char *too_long = relu_block(GROUP_MAX + 1, "}\noutput %a33\n");
  char *long_ok = relu_block(20, "  %s = sigmoid %a20\n}\noutput %s\n");
  actjit_graph *g = NULL;
  assert_int_equal(actjit_graph_parse(ctx, issue, strlen(issue), "long.air", &g), ACTJIT_ERR_VERIFY);
  assert_non_null(strstr(actjit_context_error(ctx), "long.air:3:9: relu: cannot fuse this group"));
  assert_int_equal(actjit_graph_parse(ctx, too_long, strlen(too_long), "long.air", &g), ACTJIT_ERR_VERIFY);
  assert_non_null(strstr(actjit_context_error(ctx), "long.air:3:9: relu: cannot fuse this group: a kernel runs at most 32"));
  g = parse_ok(ctx, long_ok);
  actjit_kernel *k = compile_for(g, &test_targets[0], 1);
  assert_int_equal(actjit_kernel_step_count(k), 1);
  actjit_kernel_destroy(k);
  float x[3 * 4];
  for (int i = 0; i < 12; i++) x[i] = (float)i - 5.5f;
  check_against_reference(g, NULL, x, 3, 1e-6);
  actjit_graph_destroy(g);
  free(issue), free(too_long), free(long_ok);
  actjit_context_destroy(ctx);
}

/* 1. The unfused baseline ignores the text's groups (one kernel per op), so
 * that comparing it with a fused compile checks the groups. */
static void test_defect01_unfused_drops_groups(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = parse_ok(ctx, "input %x : f32[N, 4]\nfuse {\n  %a = relu %x\n  %b = tanh %a\n  %c = sigmoid %b\n}\n"
                                  "output %c\n");
  actjit_kernel *fused = compile_for(g, &test_targets[0], 1), *unfused = compile_for(g, &test_targets[0], 0);
  assert_int_equal(actjit_kernel_step_count(fused), 1);
  assert_int_equal(actjit_kernel_step_count(unfused), 3);
  actjit_kernel_destroy(fused), actjit_kernel_destroy(unfused);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* 1. Neither the planner nor codegen runs a group no kernel has: glu and
 * relu forced into one group (past the verifier) is refused by the planner,
 * and a step of that group handed to codegen by codegen. */
static void test_defect01_codegen_refuses(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = parse_ok(ctx, "input %x : f32[N, 4]\n%g = glu %x\n%r = relu %g\noutput %r\n");
  g->nodes[1].group = g->nodes[2].group = 1; /* what the verifier rejects */
  plan p;
  assert_int_equal(plan_memory(g, &(plan_options){.reuse = true}, &p), ACTJIT_ERR_UNSUPPORTED);
  step s = {0};
  int *uses = ir_use_counts(g);
  assert_non_null(uses);
  assert_true(group_of(g, uses, 2, &s.grp));
  free(uses);
  assert_int_equal(s.grp.form, KF_INVALID);
  p = (plan){.steps = &s, .n = 1};
  LLVMContextRef lc = LLVMContextCreate();
  LLVMModuleRef mod = NULL;
  target_desc t;
  assert_int_equal(target_resolve(ctx, "haswell", NULL, NULL, &t), ACTJIT_OK);
  assert_int_equal(cg_build(g, &p, lc, &t, false, &mod), ACTJIT_ERR_UNSUPPORTED);
  target_free(&t);
  assert_null(mod);
  assert_non_null(strstr(actjit_context_error(ctx), "regress.air:2:6: glu: codegen has no kernel"));
  LLVMContextDispose(lc);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* 2. Printing an attribute of 1e300, or a relu's [0, inf] range in the
 * passes dump, converted an out-of-range double to int64_t. */
static void test_defect02_print_huge_numbers(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = parse_ok(ctx, "input %x : f32[N, 4]\n%l = leaky_relu %x {negative_slope = 1e300}\n"
                                  "%r = relu %l\noutput %r\n");
  actjit_graph *g2 = fixed_point(ctx, g);
  char *text = print(g2);
  assert_non_null(strstr(text, "{negative_slope = 1e+300}"));
  actjit_free(text);
  actjit_kernel *k = compile_for(g, &test_targets[0], 1);
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_PASSES, &text), ACTJIT_OK);
  assert_non_null(strstr(text, "# in [0, inf]"));
  actjit_free(text);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g), actjit_graph_destroy(g2);
  actjit_context_destroy(ctx);
}

/* 3. A dimension such as 1e30 was cast to int64_t before its bound check. */
static void test_defect03_huge_dimension(void **state) {
  static const char *const texts[] = {"input %x : f32[N, 1e30]\n", "input %x : f32[N*1e30, 4]\n",
                                      "input %x : f32[N, 1e15]\n", "input %x : f32[N*-1e300, 4]\n"};
  static const char *const where[] = {"bad.air:1:19: expected an integer dimension >= 0, found '1e30'",
                                      "bad.air:1:18: expected a positive integer after 'N*', found '1e30'",
                                      "bad.air:1:19: expected an integer dimension >= 0, found '1e15'",
                                      "bad.air:1:18: expected a positive integer after 'N*', found '-1e300'"};
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    actjit_graph *g = NULL;
    assert_int_equal(actjit_graph_parse(ctx, texts[i], strlen(texts[i]), "bad.air", &g), ACTJIT_ERR_PARSE);
    assert_string_equal(actjit_context_error(ctx), where[i]);
  }
  actjit_context_destroy(ctx);
}

/* 4. The PyTorch reader quoted a value with its newline into the message;
 * control bytes in strings likewise. */
static void test_defect04_one_line_messages(void **state) {
  static const char *const texts[] = {
      "Sequential(\n  (0): Linear(in_features=(\n  1))\n)\n",
      "Sequential(\n  (0): GELU(approximate='\r\x01')\n)\n",
      "Sequential(\n  (0): Linear(in_features=4, out_features=[1,\n\r 2], bias=True)\n)\n",
  };
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    actjit_graph *g = NULL;
    assert_int_equal(torch_seq_parse(ctx, texts[i], strlen(texts[i]), "seq.txt", 0, NULL, &g), ACTJIT_ERR_PARSE);
    expect_one_line(actjit_context_error(ctx));
    assert_non_null(strstr(actjit_context_error(ctx), "seq.txt:2: "));
  }
  assert_non_null(strstr(actjit_context_error(ctx), "\\x0A"));
  actjit_context_destroy(ctx);
}

/* 5. flatten of [N, 0] over the batch printed f32[N*0], which the parser
 * refuses: the batch times 0 is a static 0. */
static void test_defect05_zero_extent_batch(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = parse_ok(ctx, "input %x : f32[N, 0]\n%f = flatten %x {start_dim = 0, end_dim = 1}\n"
                                  "%r = relu %f\noutput %r\n");
  actjit_graph *g2 = fixed_point(ctx, g);
  char *text = print(g2);
  assert_non_null(strstr(text, "%r = relu %f : f32[0]"));
  actjit_free(text);
  static const float x[1];
  for (int64_t batch = 0; batch <= 3; batch += 3) check_against_reference(g2, NULL, x, batch, 0);
  actjit_graph_destroy(g), actjit_graph_destroy(g2);
  actjit_context_destroy(ctx);
}

/* 6. A group split by a param printed as two fuse { } blocks, which parse
 * back as two kernels: one block, where its last member stands. */
static void test_defect06_group_printed_whole(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = parse_ok(ctx, "input %x : f32[N, 4]\n%r = relu %x\nparam @w : f32[4]\n%p = prelu %r, @w\noutput %p\n");
  actjit_kernel *k = compile_for(g, &test_targets[0], 1);
  assert_int_equal(actjit_kernel_step_count(k), 1);
  char *ir;
  assert_int_equal(actjit_kernel_dump(k, ACTJIT_DUMP_IR, &ir), ACTJIT_OK);
  assert_string_equal(ir, "input %x : f32[N, 4]\nparam @w : f32[4]\nfuse {\n  %r = relu %x : f32[N, 4]\n"
                          "  %p = prelu %r, @w : f32[N, 4]\n}\noutput %p\n");
  actjit_graph *back = parse_ok(ctx, ir);
  actjit_graph_destroy(fixed_point(ctx, back));
  actjit_free(ir);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g), actjit_graph_destroy(back);
  actjit_context_destroy(ctx);
}

/* 8. Identity or Dropout then Flatten: the passes removed the op that
 * carried the copy, leaving a plan of no kernel and the output unwritten. */
static void test_defect08_output_is_a_view(void **state) {
  static const char *const models[] = {
      "Sequential(\n  (0): Identity()\n  (1): Flatten(start_dim=1, end_dim=-1)\n)\n",
      "Sequential(\n  (0): Dropout(p=0.5, inplace=False)\n  (1): Flatten(start_dim=1, end_dim=-1)\n)\n",
      "Sequential(\n  (0): Flatten(start_dim=0, end_dim=-1)\n  (1): Dropout(p=0.1, inplace=True)\n)\n",
      "Sequential(\n  (0): Identity()\n)\n",
  };
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t m = 0; m < sizeof models / sizeof *models; m++) {
    actjit_graph *g = torch_ok(ctx, models[m], 3, (int64_t[]){ACTJIT_DYN, 2, 3});
    float x[3 * 2 * 3];
    for (int i = 0; i < 18; i++) x[i] = (float)i - 4.5f;
    for (int64_t batch = 0; batch <= 3; batch++) check_against_reference(g, NULL, x, batch, 0);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
}

/* 9. --threads N on a batch of 0 rows divided by zero tasks (SIGFPE). */
static void test_defect09_empty_batch_on_threads(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = torch_ok(ctx, "Sequential(\n  (0): ReLU()\n)\n", 2, (int64_t[]){ACTJIT_DYN, 3});
  static const float x[1];
  check_against_reference(g, NULL, x, 0, 0);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* 10. LeakyReLU(negative_slope=1e-50): the slope is 0 in float, and the
 * max(x, x*w) shortcut chosen from the double made +Inf NaN.  PyTorch 1.13,
 * nn.LeakyReLU(1e-50)(torch.tensor([inf, 1, -1, -inf, 0])): [inf, 1, -0, nan, 0]. */
static void test_defect10_slope_rounding_to_zero(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = torch_ok(ctx, "Sequential(\n  (0): LeakyReLU(negative_slope=1e-50)\n)\n", 1, (int64_t[]){5});
  const float x[] = {INFINITY, 1, -1, -INFINITY, 0}, torch[] = {INFINITY, 1, -0.0f, NAN, 0};
  for (int i = 0; i < 5; i++) {
    double attr[OP_MAX_ATTRS] = {1e-50};
    assert_true(same_value(scalar_eltwise(OP_LEAKY_RELU, attr, x[i], 0), torch[i]));
  }
  check_against_reference(g, NULL, x, 1, 0);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* 11. Child keys that are not identifiers (an OrderedDict's "fc-1") were
 * refused.  Parameters keep the state_dict key (quoted in the IR), values
 * are named after their modules, and the print-out parses back. */
static void test_defect11_any_child_key(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = torch_ok(ctx,
                             "Sequential(\n  (fc-1): Linear(in_features=4, out_features=3, bias=True)\n"
                             "  (act): ReLU()\n  (fc 1): Sequential(\n    (fc(1)): Linear(in_features=3, out_features=2, bias=False)\n"
                             "    (x): Tanh()\n    (\xd1\x81\xd0\xbb\xd0\xbe\xd0\xb9\"\\): Sigmoid()\n  )\n  (act_2): Identity()\n"
                             "  (act): Tanh()\n)\n",
                             0, NULL);
  const char *names[3];
  for (int i = 0; i < 3; i++) assert_int_equal(actjit_graph_param_info(g, i, &names[i], NULL, NULL), ACTJIT_OK);
  assert_string_equal(names[0], "fc-1.weight");
  assert_string_equal(names[1], "fc-1.bias");
  assert_string_equal(names[2], "fc 1.fc(1).weight");
  char *text = print(g);
  assert_string_equal(text,
                      "input %x : f32[N, 4]\n"
                      "param @\"fc-1.weight\" : f32[3, 4]\n"
                      "param @\"fc-1.bias\" : f32[3]\n"
                      "param @\"fc 1.fc(1).weight\" : f32[2, 3]\n"
                      "%fc_1 = linear %x, @\"fc-1.weight\", @\"fc-1.bias\" : f32[N, 3]\n"
                      "%act = relu %fc_1 : f32[N, 3]\n"
                      "%fc_1.fc_1_ = linear %act, @\"fc 1.fc(1).weight\" : f32[N, 2]\n"
                      "%fc_1.x = tanh %fc_1.fc_1_ : f32[N, 2]\n"
                      "%fc_1.______ = sigmoid %fc_1.x : f32[N, 2]\n"
                      "%act_2 = identity %fc_1.______ : f32[N, 2]\n"
                      "%act_3 = tanh %act_2 : f32[N, 2]\n"
                      "output %act_3\n");
  actjit_free(text);
  actjit_graph_destroy(fixed_point(ctx, g));
  actjit_graph_destroy(g);
  /* Every byte survives the quoting. */
  g = parse_ok(ctx, "input %\"x y\" : f32[N, 2]\nparam @\"\\22\\\\ \\01\\E2\\82\\AC\\\"\" : f32[2]\n"
                    "%\"a.b\" = prelu %\"x y\", @\"\\\"\\\\ \\01\xe2\x82\xac\\\"\"\noutput %a.b\n");
  assert_int_equal(actjit_graph_param_info(g, 0, &names[0], NULL, NULL), ACTJIT_OK);
  assert_string_equal(names[0], "\"\\ \x01\xe2\x82\xac\"");
  text = print(g);
  assert_string_equal(text, "input %\"x y\" : f32[N, 2]\nparam @\"\\\"\\\\ \\01\\E2\\82\\AC\\\"\" : f32[2]\n"
                            "%a.b = prelu %\"x y\", @\"\\\"\\\\ \\01\\E2\\82\\AC\\\"\" : f32[N, 2]\noutput %a.b\n");
  actjit_free(text);
  actjit_graph_destroy(fixed_point(ctx, g));
  actjit_graph_destroy(g);
  /* A key with '.' is what PyTorch refuses; an empty or unclosed one is malformed. */
  static const char *const bad[] = {"Sequential(\n  (a.b): ReLU()\n)\n", "Sequential(\n  (): ReLU()\n)\n",
                                    "Sequential(\n  (a ReLU()\n)\n", "Sequential(\n  (a):ReLU()\n)\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    g = NULL;
    assert_int_equal(torch_seq_parse(ctx, bad[i], strlen(bad[i]), "seq.txt", 0, NULL, &g), ACTJIT_ERR_PARSE);
    assert_non_null(strstr(actjit_context_error(ctx), "seq.txt:2: "));
  }
  actjit_context_destroy(ctx);
}

/* 12. PReLU(5), Flatten, Softmax(dim=0) on [18, 5]: the fused plan's
 * softmax ran in place, which took another formula (exp(x - M) / S instead of
 * exp(x - m) · exp(m - M) / S): 1e-6 relative differences from unfused. */
static void test_defect12_softmax_in_place_same_bits(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = torch_ok(ctx,
                             "Sequential(\n  (0): Sequential(\n    (0): PReLU(num_parameters=5)\n  )\n"
                             "  (1): Sequential(\n    (0): Flatten(start_dim=1, end_dim=-1)\n    (1): Softmax(dim=0)\n  )\n)\n",
                             2, (int64_t[]){ACTJIT_DYN, 5});
  const float w[5] = {0.25f, -0.5f, 0.1f, 2.0f, 0.0f};
  const float *params[] = {w};
  float x[18 * 5]; /* rising rows: the running max moves chunk after chunk */
  for (int i = 0; i < 18 * 5; i++) x[i] = 0.37f * (float)i - 3.0f * (float)(i % 3);
  for (size_t t = 0; t < N_TEST_TARGETS; t++) {
    float y[2][18 * 5];
    for (int fuse = 0; fuse <= 1; fuse++) {
      actjit_kernel *k = compile_for(g, &test_targets[t], fuse);
      assert_int_equal(actjit_kernel_bind(k, "0.0.weight", w, 5), ACTJIT_OK);
      assert_int_equal(actjit_kernel_run(k, x, 18, y[fuse]), ACTJIT_OK);
      actjit_kernel_destroy(k);
    }
    for (int i = 0; i < 18 * 5; i++)
      if (!same_value(y[0][i], y[1][i]))
        fail_msg("[%s] element %d: unfused %.9g, fused %.9g", test_targets[t].cpu ? test_targets[t].cpu : "host", i,
                 y[0][i], y[1][i]);
  }
  check_against_reference(g, params, x, 18, 1e-5);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

/* ------------------------------------------ found by fuzzing after the fixes */

static void keep_message(void *user, actjit_status s, const char *msg) {
  snprintf(user, 1024, "%s", msg);
}

/* A name holding a control byte went raw into the verifier's message, which
 * then spanned two lines: the child key `a\rb` (PyTorch allows any key
 * without '.') of a PReLU whose weights do not match the channels, found by
 * fuzz_torch_seq_smoke; or a quoted IR name, `@"a\0Ab"`.  Every message
 * escapes its control bytes, whatever it quotes. */
static void test_fuzz_control_byte_in_name(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  char seen[1024] = "";
  actjit_context_set_error_callback(ctx, keep_message, seen);
  static const char seq[] = "Sequential(\n  (a\rb): PReLU(num_parameters=2)\n)\n";
  actjit_graph *g = NULL;
  assert_int_equal(torch_seq_parse(ctx, seq, strlen(seq), "seq.txt", 3, (int64_t[]){ACTJIT_DYN, 4, 5}, &g),
                   ACTJIT_ERR_VERIFY);
  expect_one_line(actjit_context_error(ctx));
  assert_string_equal(seen, actjit_context_error(ctx));
  assert_non_null(strstr(seen, "@a\\x0Db.weight"));
  static const char air[] = "input %x : f32[N, 4]\nparam @\"a\\0Ab\" : f32[2]\n%y = prelu %x, @\"a\\0Ab\"\noutput %y\n";
  assert_int_equal(actjit_graph_parse(ctx, air, strlen(air), "regress.air", &g), ACTJIT_ERR_VERIFY);
  expect_one_line(actjit_context_error(ctx));
  assert_non_null(strstr(seen, "@a\\x0Ab"));
  actjit_context_destroy(ctx);
}

/* Linear(3, 0) then Softmax(dim=1), a valid PyTorch model: the fused plan
 * normalized the linear's rows in registers, and its codegen sized the tile
 * by a row of 0 vectors, then divided by it (SIGFPE in actjit_compile; found
 * by fuzz_dag).  A row of no features is not fused with its linear; a text
 * that fuses them is refused in one line. */
static void test_fuzz_linear_softmax_no_features(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = torch_ok(ctx,
                             "Sequential(\n  (0): Linear(in_features=3, out_features=0, bias=True)\n"
                             "  (1): Softmax(dim=1)\n)\n",
                             0, NULL);
  const float w[1] = {0}, b[1] = {0}, x[2 * 3] = {1, 2, 3, 4, 5, 6};
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (int fuse = 0; fuse <= 1; fuse++) {
      actjit_kernel *k = compile_for(g, &test_targets[t], fuse);
      assert_int_equal(actjit_kernel_bind(k, "0.weight", w, 0), ACTJIT_OK);
      assert_int_equal(actjit_kernel_bind(k, "0.bias", b, 0), ACTJIT_OK);
      size_t nin, nout;
      assert_int_equal(actjit_kernel_io_sizes(k, 2, &nin, &nout), ACTJIT_OK);
      assert_int_equal(nout, 0);
      float y[1] = {-1};
      assert_int_equal(actjit_kernel_run(k, x, 2, y), ACTJIT_OK);
      assert_true(y[0] == -1); /* nothing written */
      actjit_kernel_destroy(k);
    }
  actjit_graph_destroy(g);
  static const char fused[] = "input %x : f32[N, 3]\nparam @w : f32[0, 3]\nfuse {\n  %y = linear %x, @w\n"
                              "  %s = softmax %y {dim = 1}\n}\noutput %s\n";
  g = NULL;
  assert_int_equal(actjit_graph_parse(ctx, fused, strlen(fused), "regress.air", &g), ACTJIT_ERR_VERIFY);
  expect_one_line(actjit_context_error(ctx));
  assert_non_null(strstr(actjit_context_error(ctx), "regress.air:4:"));
  actjit_context_destroy(ctx);
}

/* Nine values of x folded into one by a chain of binary ops: one region
 * of 17 elementwise ops reading x alone, yet two kernels.  Fusion walks
 * backwards; when it came to the first fold, the group after it read eight
 * values not yet in it, and the fold would have made it nine, over the most
 * a kernel reads, so it stayed out, and so did the ops before it (test_dag's
 * long run, seeds 1000151 and 1000727: 9 and 3 kernels). */
static void test_fuzz_fusion_blocked_by_transient_inputs(void **state) {
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_graph *g = parse_ok(ctx, "input %x : f32[N, 4]\n%a1 = relu %x\n%a2 = sigmoid %x\n%a3 = tanh %x\n"
                                  "%a4 = abs %x\n%a5 = neg %x\n%a6 = exp %x\n%a7 = erf %x\n%a8 = silu %x\n"
                                  "%a9 = softsign %x\n%s1 = add %a1, %a2\n%s2 = mul %s1, %a3\n%s3 = sub %s2, %a4\n"
                                  "%s4 = maximum %s3, %a5\n%s5 = minimum %s4, %a6\n%s6 = add %s5, %a7\n"
                                  "%s7 = mul %s6, %a8\n%s8 = sub %s7, %a9\noutput %s8\n");
  float x[5 * 4];
  for (int i = 0; i < 5 * 4; i++) x[i] = 0.7f * (float)i - 6.0f;
  assert_int_equal(check_against_reference(g, NULL, x, 5, 1e-5), 1);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defect01_long_fuse_block),
      cmocka_unit_test(test_defect01_unfused_drops_groups),
      cmocka_unit_test(test_defect01_codegen_refuses),
      cmocka_unit_test(test_defect02_print_huge_numbers),
      cmocka_unit_test(test_defect03_huge_dimension),
      cmocka_unit_test(test_defect04_one_line_messages),
      cmocka_unit_test(test_defect05_zero_extent_batch),
      cmocka_unit_test(test_defect06_group_printed_whole),
      cmocka_unit_test(test_defect08_output_is_a_view),
      cmocka_unit_test(test_defect09_empty_batch_on_threads),
      cmocka_unit_test(test_defect10_slope_rounding_to_zero),
      cmocka_unit_test(test_defect11_any_child_key),
      cmocka_unit_test(test_defect12_softmax_in_place_same_bits),
      cmocka_unit_test(test_fuzz_control_byte_in_name),
      cmocka_unit_test(test_fuzz_linear_softmax_no_features),
      cmocka_unit_test(test_fuzz_fusion_blocked_by_transient_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
