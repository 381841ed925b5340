/* Conformance with ONNX's own backend tests (Debian's libonnx-testdata):
 * every test under node/, pytorch-converted/, pytorch-operator/ and simple/
 * whose ops are all ones the reader supports and whose inputs and outputs
 * are float32 is read, compiled and run on each of its data sets, and its
 * output compared with ONNX's at the backend's tolerance (rtol 1e-3, atol
 * 1e-7).  A node test passes its weights as graph inputs (Gemm's B and C,
 * PRelu's slope): the inputs after the first become initializers holding
 * the test's own data before the model is read.  The only skips are the
 * ones issue 16 allows: a graph with more than one output, or with no
 * run-time input.  Anything else that does not pass fails the test: a
 * wrong result, a model the reader refuses (ACTJIT_ERR_UNSUPPORTED), an
 * input of rank above ACTJIT_MAX_RANK.  Prints each test's line, then a
 * table: passed, failed, skipped with the reason.
 * Usage: onnx_conformance DATA_DIR (…/libonnx-testdata/data) [NAME_FILTER] */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actjit.h"
#include "frontend/onnx.h"
#include "onnx.pb-c.h"

#define RTOL 1e-3
#define ATOL 1e-7

static const char *const suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *buf = NULL;
  size_t n = 0, cap = 0, k;
  do {
    if (n == cap) {
      unsigned char *nb = realloc(buf, cap = cap ? 2 * cap : 65536);
      if (!nb) break;
      buf = nb;
    }
    k = fread(buf + n, 1, cap - n, f);
    n += k;
  } while (k);
  fclose(f);
  *len = n;
  return buf;
}

static Onnx__TensorProto *read_pb(const char *path) {
  size_t len;
  unsigned char *b = slurp(path, &len);
  Onnx__TensorProto *t = b ? onnx__tensor_proto__unpack(NULL, len, b) : NULL;
  free(b);
  return t;
}

/* The floats of a float32 TensorProto (raw_data or float_data), or NULL. */
static float *floats_of(const Onnx__TensorProto *t, size_t *count) {
  size_t n = 1;
  for (size_t i = 0; i < t->n_dims; i++) n *= (size_t)t->dims[i];
  float *f = malloc(n * sizeof *f + 1);
  if (!f) return NULL;
  if (t->has_raw_data && t->raw_data.len == n * 4) memcpy(f, t->raw_data.data, n * 4);
  else if (t->n_float_data == n) memcpy(f, t->float_data, n * 4);
  else {
    free(f);
    return NULL;
  }
  *count = n;
  return f;
}

static bool is_init(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_initializer; i++)
    if (!strcmp(g->initializer[i]->name, name)) return true;
  return false;
}

static bool float_tensor(const Onnx__ValueInfoProto *vi) {
  const Onnx__TypeProto *t = vi->type;
  return t && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && t->tensor_type &&
         t->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
}

static bool supported_op(const char *op) {
  for (int i = 0; i < onnx_op_count(); i++)
    if (!strcmp(onnx_op_name(i), op)) return true;
  return false;
}

typedef enum { SELECT_NO, SELECT_RUN, SELECT_SKIP } selection;
static const char *const skip_reasons[] = {"more than one output", "no run-time input"};
enum { NREASONS = sizeof skip_reasons / sizeof *skip_reasons };

/* Whether the model is in the suite, and if skipped why. */
static selection select_model(const Onnx__ModelProto *m, const char **why) {
  const Onnx__GraphProto *g = m->graph;
  if (!g) return SELECT_NO;
  for (size_t i = 0; i < g->n_node; i++)
    if ((g->node[i]->domain && *g->node[i]->domain) || !supported_op(g->node[i]->op_type)) return SELECT_NO;
  int real = 0;
  for (size_t i = 0; i < g->n_input; i++) {
    if (!float_tensor(g->input[i])) return SELECT_NO;
    real += !is_init(g, g->input[i]->name);
  }
  for (size_t i = 0; i < g->n_output; i++)
    if (!float_tensor(g->output[i])) return SELECT_NO;
  if (g->n_output > 1) return *why = skip_reasons[0], SELECT_SKIP;
  if (!real) return *why = skip_reasons[1], SELECT_SKIP;
  return SELECT_RUN;
}

/* Runs data set `set` of the model: 0 if it agrees, else 1; *why says why
 * (a refusal: the reader's message).  *worst: the largest error seen, as a
 * fraction of the tolerance. */
static int run_set(Onnx__ModelProto *m, const char *dir, const char *set, const char *label, double *worst, char *why,
                   size_t wlen) {
  Onnx__GraphProto *g = m->graph;
  char path[2700];
  /* The run-time inputs after the first become initializers. */
  size_t nreal = 0, first = 0;
  const Onnx__ValueInfoProto **real = calloc(g->n_input + 1, sizeof *real);
  Onnx__TensorProto **extra = calloc(g->n_input + 1, sizeof *extra);
  char **names = calloc(g->n_input + 1, sizeof *names);
  Onnx__TensorProto **inits = calloc(g->n_initializer + g->n_input + 1, sizeof *inits);
  Onnx__ValueInfoProto **inputs = calloc(g->n_input + 1, sizeof *inputs);
  Onnx__TensorProto *x = NULL, *y = NULL;
  float *xf = NULL, *yf = NULL, *out = NULL;
  unsigned char *buf = NULL;
  actjit_context *ctx = NULL;
  actjit_graph *ag = NULL;
  actjit_kernel *k = NULL;
  int rc = 1;
  for (size_t i = 0; i < g->n_input; i++)
    if (!is_init(g, g->input[i]->name)) real[nreal++] = g->input[i];
  for (size_t i = 0; i < g->n_input; i++)
    if (g->input[i] == real[0]) first = i;
  size_t ninit = g->n_initializer;
  if (ninit) memcpy(inits, g->initializer, ninit * sizeof *inits);
  for (size_t i = 0; i < nreal; i++) {
    snprintf(path, sizeof path, "%s/%s/input_%zu.pb", dir, set, i);
    Onnx__TensorProto *t = read_pb(path);
    if (!t) {
      snprintf(why, wlen, "cannot read %.900s", path);
      goto done;
    }
    if (!i) {
      x = t;
      continue;
    }
    extra[i] = t;
    names[i] = t->name;
    t->name = real[i]->name;
    inits[ninit++] = t;
  }
  /* The model as the reader sees it: one input, the rest initializers. */
  Onnx__TensorProto **old_inits = g->initializer;
  Onnx__ValueInfoProto **old_inputs = g->input;
  size_t old_ninit = g->n_initializer, old_ninput = g->n_input;
  inputs[0] = g->input[first];
  g->initializer = inits, g->n_initializer = ninit;
  g->input = inputs, g->n_input = 1;
  size_t len = onnx__model_proto__get_packed_size(m);
  buf = malloc(len + 1);
  if (buf) onnx__model_proto__pack(m, buf);
  g->initializer = old_inits, g->n_initializer = old_ninit;
  g->input = old_inputs, g->n_input = old_ninput;
  if (!buf) goto done;

  snprintf(path, sizeof path, "%s/%s/output_0.pb", dir, set);
  size_t nx, ny, nout;
  if (!(y = read_pb(path)) || !(xf = floats_of(x, &nx)) || !(yf = floats_of(y, &ny))) {
    snprintf(why, wlen, "cannot read the data set %s", set);
    goto done;
  }
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  actjit_status st = actjit_context_create(&ctx);
  if (!st) st = actjit_graph_from_onnx(ctx, buf, len, label, 0, &ag);
  if (!st) st = actjit_compile(ag, &o, &k);
  if (st) {
    snprintf(why, wlen, "%s", ctx ? actjit_context_error(ctx) : "no context");
    goto done;
  }
  int64_t batch = x->n_dims ? x->dims[0] : 1;
  size_t in_count;
  int irank;
  int64_t idims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(ag, actjit_graph_get_input(ag), &irank, idims);
  if (idims[0] >= 0) batch = 1;
  if (actjit_kernel_io_sizes(k, batch, &in_count, &nout) || in_count != nx || nout != ny) {
    snprintf(why, wlen, "sizes: input %zu floats (the model takes %zu), output %zu (ONNX's %zu)", nx, in_count, nout, ny);
    goto done;
  }
  if (!(out = malloc(nout * sizeof *out + 1)) || actjit_kernel_run(k, xf, batch, out)) {
    snprintf(why, wlen, "run: %s", actjit_context_error(ctx));
    goto done;
  }
  for (size_t i = 0; i < ny; i++) {
    double d = fabs((double)out[i] - yf[i]);
    bool ok = (isnan(out[i]) && isnan(yf[i])) || d <= ATOL + RTOL * fabs((double)yf[i]) ||
              (isinf(yf[i]) && out[i] == yf[i]);
    if (!ok) {
      snprintf(why, wlen, "%s: element %zu is %.9g, ONNX's %.9g", set, i, out[i], yf[i]);
      goto done;
    }
    if (d == d && isfinite(yf[i])) *worst = fmax(*worst, d / (ATOL + RTOL * fabs((double)yf[i])));
  }
  rc = 0;
done:
  for (size_t i = 1; i < nreal; i++)
    if (extra[i]) extra[i]->name = names[i], onnx__tensor_proto__free_unpacked(extra[i], NULL);
  if (x) onnx__tensor_proto__free_unpacked(x, NULL);
  if (y) onnx__tensor_proto__free_unpacked(y, NULL);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(ag);
  actjit_context_destroy(ctx);
  free(real), free(extra), free(names), free(inits), free(inputs), free(xf), free(yf), free(out), free(buf);
  return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* A line of the closing table: a count, then the names it counts. */
typedef struct row {
  int count;
  char names[4096];
} row;

static void row_print(const char *result, const row *r) { printf("| %s | %d | %s |\n", result, r->count, r->names); }

static void row_add(row *r, const char *label) {
  size_t n = strlen(r->names);
  snprintf(r->names + n, sizeof r->names - n, "%s%s", n ? ", " : "", label);
  r->count++;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: onnx_conformance DATA_DIR [NAME_FILTER]\n");
    return 2;
  }
  int passed = 0;
  row failed = {0}, skipped[NREASONS] = {{0}};
  double all_worst = 0;
  for (size_t s = 0; s < sizeof suites / sizeof *suites; s++) {
    char sdir[2048];
    snprintf(sdir, sizeof sdir, "%.2000s/%s", argv[1], suites[s]);
    struct dirent **list;
    int n = scandir(sdir, &list, NULL, by_name);
    if (n < 0) {
      fprintf(stderr, "onnx_conformance: cannot list %s\n", sdir);
      return 1;
    }
    for (int i = 0; i < n; i++) {
      char dir[2400], path[2500], label[2500];
      snprintf(dir, sizeof dir, "%s/%s", sdir, list[i]->d_name);
      snprintf(path, sizeof path, "%s/model.onnx", dir);
      snprintf(label, sizeof label, "%s/%s", suites[s], list[i]->d_name);
      size_t len;
      unsigned char *b = list[i]->d_name[0] != '.' && (argc < 3 || strstr(label, argv[2])) ? slurp(path, &len) : NULL;
      Onnx__ModelProto *m = b ? onnx__model_proto__unpack(NULL, len, b) : NULL;
      free(b);
      const char *skip = NULL;
      selection sel = m ? select_model(m, &skip) : SELECT_NO;
      if (sel == SELECT_SKIP) {
        printf("skipped  %-55s %s\n", label, skip);
        for (int k = 0; k < NREASONS; k++)
          if (skip == skip_reasons[k]) row_add(&skipped[k], label);
      } else if (sel == SELECT_RUN) {
        struct dirent **sets;
        int ns = scandir(dir, &sets, NULL, by_name), nrun = 0;
        char why[1024] = "";
        int bad = 0;
        double worst = 0;
        for (int j = 0; j < ns; j++) {
          if (!bad && !strncmp(sets[j]->d_name, "test_data_set_", 14)) {
            bad = run_set(m, dir, sets[j]->d_name, label, &worst, why, sizeof why);
            nrun++;
          }
          free(sets[j]);
        }
        if (ns >= 0) free(sets);
        if (!nrun) bad = 1, snprintf(why, sizeof why, "no data set");
        if (!bad) snprintf(why, sizeof why, "largest error %.2g of the tolerance", worst), all_worst = fmax(all_worst, worst);
        printf("%s  %-55s %s\n", bad ? "FAILED " : "passed ", label, why);
        if (bad) row_add(&failed, label);
        else passed++;
      }
      if (m) onnx__model_proto__free_unpacked(m, NULL);
      free(list[i]);
    }
    free(list);
  }
  int nskipped = 0;
  for (int k = 0; k < NREASONS; k++) nskipped += skipped[k].count;
  printf("\n%d selected; the largest error of a pass: %.2g of the tolerance (rtol %g, atol %g)\n",
         passed + failed.count + nskipped, all_worst, RTOL, ATOL);
  printf("| result | tests | which |\n| --- | --- | --- |\n");
  printf("| passed | %d | the others |\n", passed);
  row_print("failed", &failed);
  for (int k = 0; k < NREASONS; k++) {
    char result[64];
    snprintf(result, sizeof result, "skipped: %s", skip_reasons[k]);
    row_print(result, &skipped[k]);
  }
  return failed.count ? 1 : 0;
}
