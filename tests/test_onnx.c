/* The ONNX reader: models torch.onnx.export wrote (tests/onnx/cases, made by
 * gen_cases.py) against torch's outputs, their kernels after canonicalize,
 * and each class of bad model refused in one line naming the file and the
 * node or tensor, with no output file from the CLI. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "actjit.h"
#include "frontend/onnx.h"
#include "io/npy.h"
#include "onnx.pb-c.h"

#define CASES ACTJIT_SOURCE_DIR "/tests/onnx"

/* The generator's input: element i is ((i * 7919) % 2003) / 1001.5 - 1. */
static float *input_of(size_t n) {
  float *x = malloc(n * sizeof *x + 1);
  assert_non_null(x);
  for (size_t i = 0; i < n; i++) x[i] = (float)((double)((int64_t)i * 7919 % 2003) / 1001.5 - 1.0);
  return x;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

/* The ops of a plan's kernels, names dropped: "linear|relu linear|softmax". */
static void kernel_ops(const actjit_kernel *k, char *buf, size_t len) {
  size_t o = 0;
  buf[0] = '\0';
  for (int i = 0; i < actjit_kernel_step_count(k); i++) {
    const char *s = actjit_kernel_step_name(k, i);
    if (i && o + 1 < len) buf[o++] = ' ';
    /* "linear %a | relu %b": the word before each name. */
    for (const char *p = s; *p && o + 1 < len;) {
      const char *sp = strchr(p, ' ');
      size_t n = sp ? (size_t)(sp - p) : strlen(p);
      if (p == s || (p[-2] == '|' && p[-1] == ' ')) {
        if (p != s && o + 1 < len) buf[o++] = '|';
        for (size_t j = 0; j < n && o + 1 < len; j++) buf[o++] = p[j];
      }
      p += n;
      while (*p == ' ') p++;
    }
    buf[o] = '\0';
  }
}

static actjit_kernel *compile(actjit_graph *g, int fuse) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.fuse = fuse;
  actjit_kernel *k = NULL;
  if (actjit_compile(g, &o, &k)) fail_msg("compile: %s", actjit_context_error(actjit_graph_context(g)));
  return k;
}

/* Every case of cases.txt: fused kernels (and unfused at opset 13) within
 * 1e-5 + 1e-5·|y| of torch at each batch, the expected ops in the fused kernels' names, and
 * the fused kernel count where the case gives it. */
static void test_torch_cases(void **state) {
  (void)state;
  FILE *f = fopen(CASES "/cases.txt", "r");
  assert_non_null(f);
  char line[1024];
  int ncases = 0, bad = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    char name[128], dims_s[64], batches_s[64], ops[256], kernels_s[16];
    assert_int_equal(sscanf(line, "%127s %63s %63s %255s %15s", name, dims_s, batches_s, ops, kernels_s), 5);
    char path[512];
    snprintf(path, sizeof path, CASES "/cases/%s.onnx", name);
    actjit_context *ctx;
    actjit_graph *g;
    assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
    /* The first dim is the batch, also in static_batch, which gives it a size. */
    if (actjit_graph_from_onnx_file(ctx, path, ACTJIT_ONNX_BATCH, &g)) fail_msg("%s", actjit_context_error(ctx));
    /* Unfused too at one opset: the same ops, and half the compile time. */
    actjit_kernel *kf = compile(g, 1), *ku = strstr(name, "_op13") ? compile(g, 0) : NULL;
    char got[512];
    kernel_ops(kf, got, sizeof got);
    for (char *op = strtok(ops, ","); op; op = strtok(NULL, ","))
      if (!strstr(got, op)) bad++, print_message("%s: the fused kernels '%s' do not show %s\n", name, got, op);
    if (strcmp(kernels_s, "-") && actjit_kernel_step_count(kf) != atoi(kernels_s))
      bad++, print_message("%s: %d fused kernels (%s), expected %s\n", name, actjit_kernel_step_count(kf), got, kernels_s);
    for (char *b = strtok(batches_s, ","); b; b = strtok(NULL, ",")) {
      int64_t batch = atoll(b);
      char gpath[600], err[1024];
      snprintf(gpath, sizeof gpath, CASES "/cases/%s.b%lld.npy", name, (long long)batch);
      npy_array y;
      if (npy_read(gpath, &y, err, sizeof err)) fail_msg("%s", err);
      size_t nin, nout;
      assert_int_equal(actjit_kernel_io_sizes(kf, batch, &nin, &nout), ACTJIT_OK);
      assert_int_equal(nout, y.count);
      float *x = input_of(nin), *of = malloc(nout * sizeof *of + 1), *ou = malloc(nout * sizeof *ou + 1);
      assert_int_equal(actjit_kernel_run(kf, x, batch, of), ACTJIT_OK);
      if (ku) assert_int_equal(actjit_kernel_run(ku, x, batch, ou), ACTJIT_OK);
      else memcpy(ou, of, nout * sizeof *ou);
      for (size_t i = 0; i < nout; i++) {
        double tol = 1e-5 + 1e-5 * fabs(y.data[i]);
        if (!(fabs(of[i] - y.data[i]) <= tol) || !(fabs(ou[i] - y.data[i]) <= tol)) {
          print_message("%s batch %lld element %zu: fused %.9g, unfused %.9g, torch %.9g\n", name, (long long)batch, i,
                        of[i], ou[i], y.data[i]);
          bad++;
          break;
        }
      }
      free(x), free(of), free(ou);
      npy_free(&y);
    }
    actjit_kernel_destroy(kf);
    actjit_kernel_destroy(ku);
    actjit_graph_destroy(g);
    actjit_context_destroy(ctx);
    ncases++;
  }
  fclose(f);
  assert_int_equal(bad, 0);
  assert_true(ncases >= 80);
}

/* A first dim the model gives a size is the batch only with ACTJIT_ONNX_BATCH. */
static void test_static_batch(void **state) {
  (void)state;
  actjit_context *ctx;
  actjit_graph *g;
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (unsigned flags = 0; flags <= ACTJIT_ONNX_BATCH; flags += ACTJIT_ONNX_BATCH) {
    if (actjit_graph_from_onnx_file(ctx, CASES "/cases/static_batch_op13.onnx", flags, &g))
      fail_msg("%s", actjit_context_error(ctx));
    assert_int_equal(actjit_graph_value_shape(g, actjit_graph_get_input(g), &rank, dims), ACTJIT_OK);
    assert_int_equal(rank, 2);
    assert_int_equal(dims[0], flags ? ACTJIT_DYN : 2);
    assert_int_equal(dims[1], 16);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
}

/* The tutorial module, exported: the same kernels as ir/mlp.air. */
static void test_tutorial_kernels(void **state) {
  (void)state;
  actjit_context *ctx;
  actjit_graph *g, *air;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  assert_int_equal(actjit_graph_parse_file(ctx, ACTJIT_SOURCE_DIR "/ir/mlp.air", &air), ACTJIT_OK);
  actjit_kernel *ka = compile(air, 1);
  char want[256], got[256];
  kernel_ops(ka, want, sizeof want);
  assert_string_equal(want, "linear|relu linear|softmax");
  for (int opset = 11; opset <= 17; opset += 2) {
    char path[256];
    snprintf(path, sizeof path, CASES "/cases/tutorial_op%d.onnx", opset == 15 ? 17 : opset);
    if (actjit_graph_from_onnx_file(ctx, path, 0, &g)) fail_msg("%s", actjit_context_error(ctx));
    actjit_kernel *k = compile(g, 1);
    kernel_ops(k, got, sizeof got);
    assert_string_equal(got, want);
    /* The weights travel with the graph: no parameter is left unbound. */
    assert_int_equal(actjit_graph_param_count(g), 4);
    for (int i = 0; i < 4; i++) assert_non_null(actjit_graph_param_data(g, i));
    actjit_kernel_destroy(k);
    actjit_graph_destroy(g);
  }
  actjit_kernel_destroy(ka);
  actjit_graph_destroy(air);
  actjit_context_destroy(ctx);
}

/* ------------------------------------------------------------ refusals */

static char tmpdir[256];

static int setup_tmp(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/actjit_onnx_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) ? -1 : 0;
}

/* Case file `from`, changed by `mutate`, written to tmpdir/NAME;
 * mutate(m, 1) undoes the change before the model is freed. */
static void write_case(const char *from, const char *name, void (*mutate)(Onnx__ModelProto *m, int undo)) {
  size_t len;
  unsigned char *b = slurp(from, &len);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, b);
  assert_non_null(m);
  if (mutate) mutate(m, 0);
  size_t n = onnx__model_proto__get_packed_size(m);
  unsigned char *out = malloc(n + 1);
  onnx__model_proto__pack(m, out);
  if (mutate) mutate(m, 1);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(out, 1, n, f), n);
  fclose(f);
  free(out);
  free(b);
  onnx__model_proto__free_unpacked(m, NULL);
}

/* An exported MLP (Gemm, Relu, Gemm), changed by `mutate`. */
static void write_model(const char *name, void (*mutate)(Onnx__ModelProto *m, int undo)) {
  write_case(CASES "/cases/mlp_relu_op13.onnx", name, mutate);
}

/* Reading tmpdir/NAME fails with status st in one line naming the file and
 * containing `what`; and `actjit run` on it exits non-zero and writes no
 * output file. */
static void refused(const char *name, actjit_status st, const char *what) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  actjit_context *ctx;
  actjit_graph *g = NULL;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  actjit_status got = actjit_graph_from_onnx_file(ctx, path, 0, &g);
  const char *msg = actjit_context_error(ctx);
  if (got != st || !strstr(msg, path) || !strstr(msg, what) || strchr(msg, '\n'))
    fail_msg("%s: got %s '%s', expected %s naming the file and '%s'", name, actjit_status_name(got), msg,
             actjit_status_name(st), what);
  assert_null(g);
  actjit_context_destroy(ctx);

  char cmd[2048], xpath[512], ypath[512];
  snprintf(xpath, sizeof xpath, "%s/x.npy", tmpdir);
  snprintf(ypath, sizeof ypath, "%s/y.npy", tmpdir);
  float x[16] = {0};
  int64_t dims[2] = {1, 16};
  char err[256];
  assert_int_equal(npy_write(xpath, 2, dims, x, err, sizeof err), 0);
  snprintf(cmd, sizeof cmd, "'%s' run '%s' --input '%s' --output '%s' 2>'%s/err.txt'", ACTJIT_CLI, path, xpath, ypath,
           tmpdir);
  int rc = system(cmd);
  assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) != 0);
  assert_int_equal(access(ypath, F_OK), -1);
  char epath[512];
  snprintf(epath, sizeof epath, "%s/err.txt", tmpdir);
  size_t elen;
  unsigned char *e = slurp(epath, &elen);
  int lines = 0;
  for (size_t i = 0; i < elen; i++) lines += e[i] == '\n';
  if (lines != 1 || !strstr((char *)e, what)) fail_msg("actjit run: '%.*s'", (int)elen, (char *)e);
  free(e);
}

static char *saved_str;
static size_t saved_n;
static void *saved_ptr;

/* The Relu (node 1) given op type relu_as. */
static char *relu_as;
static void retype_relu(Onnx__ModelProto *m, int undo) {
  if (!undo) saved_str = m->graph->node[1]->op_type, m->graph->node[1]->op_type = relu_as;
  else m->graph->node[1]->op_type = saved_str;
}

/* mlp_threshold_op13's threshold a [1, 1, 1] tensor: broadcast, it would
 * make the Where's result [1, N, 24], not threshold's [N, 24]. */
static size_t saved_n_dims;
static int64_t *saved_dims;
static void threshold_rank3(Onnx__ModelProto *m, int undo) {
  static int64_t ones[3] = {1, 1, 1};
  Onnx__TensorProto *t = m->graph->node[1]->attribute[0]->t;
  if (!undo) saved_n_dims = t->n_dims, saved_dims = t->dims, t->n_dims = 3, t->dims = ones;
  else t->n_dims = saved_n_dims, t->dims = saved_dims;
}

/* prelu_channels_op13's Unsqueeze of the slope [6] at axis 5, not 1. */
static uint8_t saved_axis;
static void unsqueeze_axis(Onnx__ModelProto *m, int undo) {
  ProtobufCBinaryData *raw = &m->graph->node[0]->attribute[0]->t->raw_data;
  assert_true(raw->len == 8);
  if (!undo) saved_axis = raw->data[0], raw->data[0] = 5;
  else raw->data[0] = saved_axis;
}

static void int64_input(Onnx__ModelProto *m, int undo) {
  m->graph->input[0]->type->tensor_type->elem_type = undo ? ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
                                                          : ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
}

static void two_outputs(Onnx__ModelProto *m, int undo) {
  static Onnx__ValueInfoProto *outs[2];
  if (!undo) {
    outs[0] = outs[1] = m->graph->output[0];
    saved_ptr = m->graph->output, m->graph->output = outs, m->graph->n_output = 2;
  } else {
    m->graph->output = saved_ptr, m->graph->n_output = 1;
  }
}

/* Node 1, the Relu on [N, 24], made op_type with one attribute a: the
 * batch, a dim_param, would leave dim 0. */
static Onnx__AttributeProto batch_attr;
static int64_t batch_ints[2];

static void node1_as(Onnx__ModelProto *m, int undo, const char *op_type) {
  Onnx__NodeProto *nd = m->graph->node[1];
  static Onnx__AttributeProto *attrs[1] = {&batch_attr};
  if (undo) {
    nd->op_type = saved_str, nd->n_attribute = 0, nd->attribute = NULL;
    return;
  }
  saved_str = nd->op_type, nd->op_type = (char *)op_type;
  nd->n_attribute = 1, nd->attribute = attrs;
}

static void transpose_batch(Onnx__ModelProto *m, int undo) {
  onnx__attribute_proto__init(&batch_attr);
  batch_attr.name = "perm", batch_attr.has_type = 1, batch_attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  batch_ints[0] = 1, batch_ints[1] = 0;
  batch_attr.n_ints = 2, batch_attr.ints = batch_ints;
  node1_as(m, undo, "Transpose");
}

static void flatten_axis0_batch(Onnx__ModelProto *m, int undo) {
  onnx__attribute_proto__init(&batch_attr);
  batch_attr.name = "axis", batch_attr.has_type = 1, batch_attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  batch_attr.has_i = 1, batch_attr.i = 0;
  node1_as(m, undo, "Flatten");
}

/* The first Gemm with transA 1 (its A [N, 16]: the batch would leave dim 0). */
static void trans_a_batch(Onnx__ModelProto *m, int undo) {
  Onnx__NodeProto *nd = m->graph->node[0];
  static Onnx__AttributeProto *attrs[8];
  if (undo) {
    nd->n_attribute--, nd->attribute = saved_ptr;
    return;
  }
  assert_true(nd->n_attribute < 8);
  memcpy(attrs, nd->attribute, nd->n_attribute * sizeof *attrs);
  onnx__attribute_proto__init(&batch_attr);
  batch_attr.name = "transA", batch_attr.has_type = 1, batch_attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  batch_attr.has_i = 1, batch_attr.i = 1;
  attrs[nd->n_attribute++] = &batch_attr;
  saved_ptr = nd->attribute, nd->attribute = attrs;
}

static Onnx__TensorProto *first_weight(Onnx__ModelProto *m) {
  for (size_t i = 0; i < m->graph->n_initializer; i++)
    if (m->graph->initializer[i]->n_dims == 2) return m->graph->initializer[i];
  fail_msg("no 2-D initializer");
  return NULL;
}

static void lying_size(Onnx__ModelProto *m, int undo) {
  Onnx__TensorProto *w = first_weight(m);
  w->dims[0] += undo ? -1 : 1; /* one row more than its raw_data holds */
}

/* The first weight's data moved to external data at `location`, offset 16. */
static const char *ext_location;
static Onnx__StringStringEntryProto ext_kv[3];
static Onnx__StringStringEntryProto *ext_list[3];
static char ext_len[32];

static void external(Onnx__ModelProto *m, int undo) {
  Onnx__TensorProto *w = first_weight(m);
  if (undo) {
    w->has_raw_data = 1, w->n_external_data = 0, w->external_data = NULL, w->has_data_location = 0;
    w->data_location = 0;
    return;
  }
  for (int i = 0; i < 3; i++) onnx__string_string_entry_proto__init(&ext_kv[i]), ext_list[i] = &ext_kv[i];
  snprintf(ext_len, sizeof ext_len, "%zu", w->raw_data.len);
  ext_kv[0].key = "location", ext_kv[0].value = (char *)ext_location;
  ext_kv[1].key = "offset", ext_kv[1].value = "16";
  ext_kv[2].key = "length", ext_kv[2].value = ext_len;
  w->has_raw_data = 0, w->n_external_data = 3, w->external_data = ext_list;
  w->has_data_location = 1, w->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  /* The data file: 16 bytes of padding, then the weight. */
  char path[512];
  snprintf(path, sizeof path, "%s/weights.bin", tmpdir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite("0123456789abcdef", 1, 16, f), 16);
  assert_int_equal(fwrite(w->raw_data.data, 1, w->raw_data.len, f), w->raw_data.len);
  fclose(f);
  saved_n = w->raw_data.len;
}

/* y of the MLP written as tmpdir/NAME at batch 3. */
static void run_model(const char *name, float *y, size_t ny) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  actjit_context *ctx;
  actjit_graph *g;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  if (actjit_graph_from_onnx_file(ctx, path, 0, &g)) fail_msg("%s", actjit_context_error(ctx));
  actjit_kernel *k = compile(g, 1);
  size_t nin, nout;
  assert_int_equal(actjit_kernel_io_sizes(k, 3, &nin, &nout), ACTJIT_OK);
  assert_int_equal(nout, ny);
  float *x = input_of(nin);
  assert_int_equal(actjit_kernel_run(k, x, 3, y), ACTJIT_OK);
  free(x);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

static void test_external_data(void **state) {
  (void)state;
  float want[24], got[24];
  write_model("inline.onnx", NULL);
  run_model("inline.onnx", want, 24);
  ext_location = "weights.bin";
  write_model("external.onnx", external);
  run_model("external.onnx", got, 24);
  assert_memory_equal(want, got, sizeof want);
  /* a subfolder is inside the folder */
  char sub[300], cmd[700];
  snprintf(sub, sizeof sub, "%s/sub", tmpdir);
  mkdir(sub, 0700);
  snprintf(cmd, sizeof cmd, "cp '%s/weights.bin' '%s/w2.bin'", tmpdir, sub);
  assert_int_equal(system(cmd), 0);
  ext_location = "sub/w2.bin";
  write_model("external_sub.onnx", external);
  run_model("external_sub.onnx", got, 24);
  assert_memory_equal(want, got, sizeof want);
}

/* Both Gemm weights renamed to 600-byte names that differ only at the end. */
static char long_names[2][601];
static char *saved_names[2][2];

static void long_weight_names(Onnx__ModelProto *m, int undo) {
  Onnx__GraphProto *g = m->graph;
  for (int k = 0, n = 0; n < 2 && k < (int)g->n_node; k++) {
    Onnx__NodeProto *nd = g->node[k];
    if (strcmp(nd->op_type, "Gemm")) continue;
    Onnx__TensorProto *w = NULL;
    for (size_t i = 0; i < g->n_initializer; i++)
      if (!strcmp(g->initializer[i]->name, undo ? long_names[n] : nd->input[1])) w = g->initializer[i];
    assert_non_null(w);
    if (undo) {
      w->name = saved_names[n][0], nd->input[1] = saved_names[n][1];
    } else {
      memset(long_names[n], 'w', 600);
      long_names[n][599] = (char)('0' + n);
      saved_names[n][0] = w->name, saved_names[n][1] = nd->input[1];
      w->name = nd->input[1] = long_names[n];
    }
    n++;
  }
}

/* Names too long for a parameter's are cut short, and stay apart. */
static void test_long_names(void **state) {
  (void)state;
  float want[24], got[24];
  write_model("inline.onnx", NULL);
  run_model("inline.onnx", want, 24);
  write_model("long_names.onnx", long_weight_names);
  run_model("long_names.onnx", got, 24);
  assert_memory_equal(want, got, sizeof want);
}

static void test_refusals(void **state) {
  (void)state;
  relu_as = "Frobnicate";
  write_model("unknown_op.onnx", retype_relu);
  refused("unknown_op.onnx", ACTJIT_ERR_UNSUPPORTED, "node 1 '/1/Relu' (Frobnicate, opset 13): unsupported op");
  relu_as = "Unsqueeze"; /* with no axes (an input since opset 13) */
  write_model("unsqueeze_no_axes.onnx", retype_relu);
  refused("unsqueeze_no_axes.onnx", ACTJIT_ERR_VERIFY, "node 1 '/1/Relu' (Unsqueeze, opset 13): has no axes");
  write_case(CASES "/cases/prelu_channels_op13.onnx", "unsqueeze_axis.onnx", unsqueeze_axis);
  refused("unsqueeze_axis.onnx", ACTJIT_ERR_VERIFY, "(Unsqueeze, opset 13): axis 5 is out of range for rank 2");
  relu_as = "Greater"; /* not softshrink's */
  write_model("lone_greater.onnx", retype_relu);
  refused("lone_greater.onnx", ACTJIT_ERR_UNSUPPORTED,
          "(Greater, opset 13): a Greater is read only as the start of softshrink as torch exports it");
  relu_as = "LessOrEqual"; /* not threshold's */
  write_model("lone_less_or_equal.onnx", retype_relu);
  refused("lone_less_or_equal.onnx", ACTJIT_ERR_UNSUPPORTED,
          "(LessOrEqual, opset 13): a LessOrEqual is read only as threshold");
  write_case(CASES "/cases/mlp_threshold_op13.onnx", "threshold_rank3.onnx", threshold_rank3);
  refused("threshold_rank3.onnx", ACTJIT_ERR_UNSUPPORTED, "(LessOrEqual, opset 13): a LessOrEqual is read only as threshold");
  /* threshold at opset 11, Where(Not(Greater(x, t)), v, x): v for NaN */
  write_case(CASES "/cases/mlp_threshold_op11.onnx", "threshold_op11.onnx", NULL);
  refused("threshold_op11.onnx", ACTJIT_ERR_UNSUPPORTED, "(Greater, opset 11): a Greater is read only as the start of softshrink");
  write_model("int64_input.onnx", int64_input);
  refused("int64_input.onnx", ACTJIT_ERR_UNSUPPORTED, "input 'x' has element type int64");
  write_model("two_outputs.onnx", two_outputs);
  refused("two_outputs.onnx", ACTJIT_ERR_UNSUPPORTED, "the graph has 2 outputs");
  /* The batch (dim_param N) moved from dim 0: a shape actjit cannot represent. */
  write_model("transpose_batch.onnx", transpose_batch);
  refused("transpose_batch.onnx", ACTJIT_ERR_UNSUPPORTED,
          "node 1 '/1/Relu' (Transpose, opset 13): perm [1, ...] moves the batch, dim 0, which actjit keeps first");
  write_model("flatten_axis0_batch.onnx", flatten_axis0_batch);
  refused("flatten_axis0_batch.onnx", ACTJIT_ERR_UNSUPPORTED,
          "(Flatten, opset 13): axis 0 puts a dim of 1 before the batch, which actjit keeps first");
  write_model("trans_a_batch.onnx", trans_a_batch);
  refused("trans_a_batch.onnx", ACTJIT_ERR_UNSUPPORTED,
          "node 0 '/0/Gemm' (Gemm, opset 13): transA 1 moves the batch, A's dim 0, which actjit keeps first");
  write_model("lying_size.onnx", lying_size);
  refused("lying_size.onnx", ACTJIT_ERR_VERIFY, "bytes of raw_data, but its shape and type need");

  /* Truncated: every proper prefix of a model fails cleanly; the CLI on one. */
  size_t len;
  unsigned char *b = slurp(CASES "/cases/mlp_relu_op13.onnx", &len);
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  for (size_t n = 0; n < len; n += 1 + n / 64) {
    actjit_graph *g = NULL;
    if (!actjit_graph_from_onnx(ctx, b, n, "cut.onnx", 0, &g)) fail_msg("a prefix of %zu bytes read as a model", n);
    assert_null(g);
    assert_null(strchr(actjit_context_error(ctx), '\n'));
  }
  actjit_context_destroy(ctx);
  char path[512];
  snprintf(path, sizeof path, "%s/truncated.onnx", tmpdir);
  FILE *f = fopen(path, "wb");
  assert_int_equal(fwrite(b, 1, len / 2, f), len / 2);
  fclose(f);
  free(b);
  refused("truncated.onnx", ACTJIT_ERR_PARSE, "the protobuf does not decode");

  ext_location = "missing.bin";
  write_model("ext_missing.onnx", external);
  refused("ext_missing.onnx", ACTJIT_ERR_IO, "external data file 'missing.bin'");
  ext_location = "../weights.bin";
  write_model("ext_dotdot.onnx", external);
  refused("ext_dotdot.onnx", ACTJIT_ERR_VERIFY, "'../weights.bin' leads outside the model's folder");
  ext_location = "sub/../../weights.bin";
  write_model("ext_dotdot2.onnx", external);
  refused("ext_dotdot2.onnx", ACTJIT_ERR_VERIFY, "leads outside the model's folder");
  ext_location = "/etc/passwd";
  write_model("ext_absolute.onnx", external);
  refused("ext_absolute.onnx", ACTJIT_ERR_VERIFY, "'/etc/passwd' must be a path relative to the model's folder");
  /* A symlink inside the folder that leads out of it. */
  char inner[300], link[400], cmd[900];
  snprintf(inner, sizeof inner, "%s/model", tmpdir);
  mkdir(inner, 0700);
  snprintf(link, sizeof link, "%s/escape.bin", inner);
  snprintf(cmd, sizeof cmd, "ln -sf ../weights.bin '%s'", link);
  assert_int_equal(system(cmd), 0);
  ext_location = "escape.bin";
  write_model("model/ext_symlink.onnx", external);
  refused("model/ext_symlink.onnx", ACTJIT_ERR_VERIFY, "'escape.bin' leads outside the model's folder");
  /* Data shorter than its offset and length say. */
  ext_location = "weights.bin";
  write_model("ext_short.onnx", external);
  snprintf(path, sizeof path, "%s/weights.bin", tmpdir);
  assert_int_equal(truncate(path, 16 + (off_t)saved_n - 4), 0);
  refused("ext_short.onnx", ACTJIT_ERR_VERIFY, "too few for");
}

/* A print-out of a custom module (not a Sequential) says what to do. */
static void test_custom_module_printout(void **state) {
  (void)state;
  static const char text[] = "Net(\n  (fc1): Linear(in_features=784, out_features=128, bias=True)\n"
                             "  (dropout): Dropout(p=0.2, inplace=False)\n"
                             "  (fc2): Linear(in_features=128, out_features=10, bias=True)\n)\n";
  actjit_context *ctx;
  actjit_graph *g = NULL;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  assert_int_not_equal(actjit_graph_parse(ctx, text, sizeof text - 1, "net.txt", &g), ACTJIT_OK);
  const char *msg = actjit_context_error(ctx);
  if (!strstr(msg, "net.txt:1") || !strstr(msg, "torch.onnx.export") || !strstr(msg, "forward()") || strchr(msg, '\n'))
    fail_msg("'%s'", msg);
  actjit_context_destroy(ctx);
}

static void test_detect(void **state) {
  (void)state;
  size_t len;
  unsigned char *b = slurp(CASES "/cases/mlp_relu_op13.onnx", &len);
  assert_true(onnx_detect(b, len));
  assert_false(onnx_detect("input %x : f32[N, 4]\n", 21));
  assert_false(onnx_detect("Sequential(\n", 12));
  assert_false(onnx_detect("", 0));
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_detect),
    cmocka_unit_test(test_torch_cases),
    cmocka_unit_test(test_tutorial_kernels),
    cmocka_unit_test(test_static_batch),
    cmocka_unit_test_setup_teardown(test_external_data, setup_tmp, teardown_tmp),
    cmocka_unit_test_setup_teardown(test_refusals, setup_tmp, teardown_tmp),
    cmocka_unit_test_setup_teardown(test_long_names, setup_tmp, teardown_tmp),
    cmocka_unit_test(test_custom_module_printout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
