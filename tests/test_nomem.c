/* Allocation-failure injection, after Lua's ltests.c.  The library's own
 * allocations reach __wrap_malloc and friends (the test links with
 * -Wl,--wrap=..., see CMakeLists.txt), which fail the n-th call once armed.
 * For every n up to the number of allocations a whole workflow makes
 * (parse, build, print, compile fused and unfused, bind, run, dump; an
 * ahead-of-time object written; an ONNX model read and printed), the
 * workflow must end in ACTJIT_OK with the outputs of an undisturbed run or
 * in ACTJIT_ERR_NOMEM with a message, and every allocation of ours must be
 * freed once its handles are destroyed.  LLVM's and cJSON's allocations
 * happen inside shared libraries and are not failed here.
 */
#define _DEFAULT_SOURCE /* mkstemps */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actjit.h"
#include "frontend/torch_seq.h"
#include "io/npy.h"
#include "io/safetensors.h"

/* ------------------------------------------------------------ injector */

void *__real_malloc(size_t n);
void *__real_calloc(size_t m, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void __real_free(void *p);

static struct {
  long countdown; /* > 0: armed; the call that takes it to 0 fails */
  long calls;     /* allocation calls seen while counting */
  bool counting, failed;
} inj;

/* Live allocations of ours: an open-addressing set of pointers, so that
 * frees of memory another allocator handed out are told apart. */
enum { LIVE_SLOTS = 1 << 16 };
static void *live[LIVE_SLOTS];
static long nlive;
static void *const TOMBSTONE = (void *)&nlive;

static size_t slot_of(void *p) { return ((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15u >> 48; }

static void track(void *p) {
  size_t i = slot_of(p), t = SIZE_MAX;
  for (;; i = (i + 1) % LIVE_SLOTS) {
    if (live[i] == p) return;
    if (live[i] == TOMBSTONE && t == SIZE_MAX) t = i;
    if (!live[i]) break;
  }
  live[t != SIZE_MAX ? t : i] = p;
  nlive++;
}

static void untrack(void *p) {
  for (size_t i = slot_of(p); live[i]; i = (i + 1) % LIVE_SLOTS)
    if (live[i] == p) {
      live[i] = TOMBSTONE;
      nlive--;
      return;
    }
}

/* Whether this allocation call is the one to fail. */
static bool fail_now(void) {
  if (inj.counting) inj.calls++;
  if (inj.countdown > 0 && --inj.countdown == 0) {
    inj.failed = true;
    return true;
  }
  return false;
}

static void *tracked(void *p) {
  if (p) track(p);
  return p;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : tracked(__real_malloc(n)); }
void *__wrap_calloc(size_t m, size_t n) { return fail_now() ? NULL : tracked(__real_calloc(m, n)); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return fail_now() ? NULL : tracked(__real_aligned_alloc(a, n)); }

void *__wrap_realloc(void *p, size_t n) {
  if (fail_now()) return NULL;
  void *q = __real_realloc(p, n);
  if (q && p) untrack(p);
  return tracked(q);
}

void __wrap_free(void *p) {
  if (p) untrack(p);
  __real_free(p);
}

char *__wrap_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = __wrap_malloc(n);
  return d ? memcpy(d, s, n) : NULL;
}

/* ------------------------------------------------------------ workflow */

/* The seed model's shape, smaller, with every pass having work to do:
 * dropout (eval: eliminated), chains fused into a linear's epilogue and
 * into softmax, in-place buffers. */
static const char MODEL[] =
    "input %x : f32[N, 24]\n"
    "param @w1 : f32[16, 24]\n"
    "param @b1 : f32[16]\n"
    "param @w2 : f32[10, 16]\n"
    "param @b2 : f32[10]\n"
    "%h = linear %x, @w1, @b1 : f32[N, 16]\n"
    "%a = leaky_relu %h {negative_slope = 0.1} : f32[N, 16]\n"
    "%s = sigmoid %a : f32[N, 16]\n"
    "%d = dropout %s {p = 0.2} : f32[N, 16]\n"
    "%o = linear %d, @w2, @b2 : f32[N, 10]\n"
    "%t = tanh %o : f32[N, 10]\n"
    "%y = softmax %t {dim = 1} : f32[N, 10]\n"
    "output %y\n";

enum { BATCH = 5, IN = 24, OUT = 10 };

typedef struct params {
  float w1[16 * IN], b1[16], w2[OUT * 16], b2[OUT], x[BATCH * IN];
} params;

static void fill(params *p) {
  uint32_t s = 12345;
  float *all = (float *)p;
  for (size_t i = 0; i < sizeof *p / sizeof(float); i++) {
    s = s * 1664525u + 1013904223u;
    all[i] = (float)(s >> 8) / (float)(1u << 24) - 0.5f;
  }
}

/* One compile-bind-run-dump round; y gets the output.  The unfused round
 * runs in training mode (dropout live), profiled. */
static actjit_status compile_and_run(actjit_graph *g, int fuse, const params *p, float *y) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.fuse = fuse;
  o.training = !fuse;
  actjit_kernel *k = NULL;
  actjit_status s = actjit_compile(g, &o, &k);
  if (!s) s = actjit_kernel_bind(k, "w1", p->w1, 16 * IN);
  if (!s) s = actjit_kernel_bind(k, "b1", p->b1, 16);
  if (!s) s = actjit_kernel_bind(k, "w2", p->w2, OUT * 16);
  if (!s) s = actjit_kernel_bind(k, "b2", p->b2, OUT);
  if (!s && fuse) {
    s = actjit_kernel_run(k, p->x, BATCH, y);
  } else if (!s) {
    double seconds[16]; /* the unfused plan has a step per op: 7 */
    assert_true(actjit_kernel_step_count(k) <= 16);
    s = actjit_kernel_set_seed(k, 7);
    if (!s) s = actjit_kernel_run_profiled(k, p->x, BATCH, y, seconds);
  }
  for (int kind = ACTJIT_DUMP_IR; !s && kind <= ACTJIT_DUMP_ASM; kind++) {
    char *text = NULL;
    s = actjit_kernel_dump(k, (actjit_dump_kind)kind, &text);
    actjit_free(text);
  }
  actjit_kernel_destroy(k);
  return s;
}

/* What a workflow is run with and how its failures must look. */
typedef struct workflow {
  /* Runs it, writing ny floats to y; on failure msg gets the message. */
  actjit_status (*run)(const struct workflow *w, float *y, char *msg, size_t msglen);
  size_t ny;
  actjit_status nomem; /* the status an allocation failure gives */
  const char *says;    /* and what its message must contain */
  const params *p;
  const char *text, *tmp; /* the io workflow's print-out and output path */
  size_t len;
  actjit_graph *g; /* the aot workflow's */
} workflow;

/* Parse, print, build, compile fused and unfused, run and dump. */
static actjit_status api_workflow(const workflow *w, float *y, char *msg, size_t msglen) {
  actjit_context *ctx = NULL;
  actjit_status s = actjit_context_create(&ctx);
  if (s) {
    snprintf(msg, msglen, "actjit_context_create: %s", actjit_status_name(s));
    return s;
  }
  actjit_graph *g = NULL, *built = NULL;
  char *text = NULL;
  s = actjit_graph_parse(ctx, MODEL, sizeof MODEL - 1, "nomem.air", &g);
  if (!s) s = actjit_graph_print(g, &text);
  /* A pipeline through the builder: relu -> softmax. */
  if (!s) s = actjit_graph_create(ctx, &built);
  actjit_value v;
  if (!s) s = actjit_graph_input(built, "x", 2, (int64_t[]){ACTJIT_DYN, 8}, &v);
  if (!s) s = actjit_graph_op(built, "relu", &v, 1, NULL, 0, &v);
  if (!s) s = actjit_graph_op(built, "softmax", &v, 1, (actjit_attr[]){{"dim", -1}}, 1, &v);
  if (!s) s = actjit_graph_output(built, v);
  if (!s) s = actjit_graph_verify(built);
  if (!s) s = compile_and_run(g, 1, w->p, y);
  if (!s) s = compile_and_run(g, 0, w->p, y + BATCH * OUT);
  if (s) snprintf(msg, msglen, "%s", actjit_context_error(ctx));
  actjit_free(text);
  actjit_graph_destroy(built);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  return s;
}

/* An ahead-of-time object of w->g (the files removed after). */
static actjit_status aot_workflow(const workflow *w, float *y, char *msg, size_t msglen) {
  (void)y;
  char obj[64], header[64];
  snprintf(obj, sizeof obj, "/tmp/actjit_nomem_%d.o", (int)getpid());
  snprintf(header, sizeof header, "/tmp/actjit_nomem_%d.h", (int)getpid());
  actjit_status s = actjit_aot_write(w->g, NULL, "nomem", obj, header);
  if (s) snprintf(msg, msglen, "%s", actjit_context_error(actjit_graph_context(w->g)));
  unlink(obj), unlink(header);
  return s;
}

/* The command's inputs: a PyTorch print-out, its safetensors weights, an
 * .npy input read and written back.  The io functions report through their
 * err buffer and -1, given here as ACTJIT_ERR_IO. */
static actjit_status io_workflow(const workflow *w, float *y, char *msg, size_t msglen) {
  (void)y;
  actjit_context *ctx = NULL;
  actjit_status s = actjit_context_create(&ctx);
  if (s) {
    snprintf(msg, msglen, "out of memory: actjit_context_create: %s", actjit_status_name(s));
    return ACTJIT_ERR_IO;
  }
  actjit_graph *g = NULL;
  st_file *f = NULL;
  npy_array a = {0};
  s = torch_seq_parse(ctx, w->text, w->len, "mlp.txt", 0, NULL, &g);
  if (s) snprintf(msg, msglen, "%s: %s", actjit_status_name(s), actjit_context_error(ctx));
  if (s == ACTJIT_ERR_NOMEM) s = ACTJIT_ERR_IO;
  if (!s && st_open(ACTJIT_SOURCE_DIR "/tests/golden/mlp.safetensors", &f, msg, msglen)) s = ACTJIT_ERR_IO;
  for (int i = 0; !s && i < st_count(f); i++) {
    int rank;
    int64_t dims[ST_MAX_RANK];
    const float *data;
    if (st_get(f, st_name(f, i), &rank, dims, &data, msg, msglen)) s = ACTJIT_ERR_IO;
  }
  if (!s && npy_read(ACTJIT_SOURCE_DIR "/tests/golden/mlp_x_3.npy", &a, msg, msglen)) s = ACTJIT_ERR_IO;
  if (!s && npy_write(w->tmp, a.rank, a.dims, a.data, msg, msglen)) s = ACTJIT_ERR_IO;
  npy_free(&a);
  st_close(f);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  return s;
}

/* ONNX models read (constants, Gemm weights, a Split read as GLU, a PRelu)
 * and printed. */
static actjit_status onnx_workflow(const workflow *w, float *y, char *msg, size_t msglen) {
  (void)w, (void)y;
  static const char *const models[] = {ACTJIT_SOURCE_DIR "/tests/onnx/cases/mlp_gelu_op13.onnx",
                                       ACTJIT_SOURCE_DIR "/tests/onnx/cases/glu_op13.onnx",
                                       ACTJIT_SOURCE_DIR "/tests/onnx/cases/mlp_prelu24_op11.onnx"};
  actjit_context *ctx = NULL;
  actjit_status s = actjit_context_create(&ctx);
  for (size_t i = 0; !s && i < sizeof models / sizeof *models; i++) {
    actjit_graph *g = NULL;
    char *text = NULL;
    s = actjit_graph_from_onnx_file(ctx, models[i], 0, &g);
    if (!s) s = actjit_graph_print(g, &text);
    actjit_free(text);
    actjit_graph_destroy(g);
  }
  if (s) snprintf(msg, msglen, "%s", ctx ? actjit_context_error(ctx) : "actjit_context_create");
  actjit_context_destroy(ctx);
  return s;
}

/* Runs w once counting its allocations, then once for each of them with
 * that one failing: it must succeed with the same outputs, or fail with
 * w->nomem and a (non-empty) message containing w->says, and leave nothing
 * live. */
static void check_every_allocation(const workflow *w) {
  enum { MAX_Y = 2 * BATCH * OUT };
  float want[MAX_Y], got[MAX_Y];
  char msg[1024] = "";
  assert_true(w->ny <= MAX_Y);

  long before = nlive;
  inj.calls = 0;
  inj.counting = true;
  actjit_status s0 = w->run(w, want, msg, sizeof msg);
  inj.counting = false;
  if (s0) fail_msg("undisturbed run: %s (%s)", actjit_status_name(s0), msg);
  assert_int_equal(nlive, before);
  long total = inj.calls, bad = 0;
  assert_true(total > 10); /* the wrappers see the library's allocations */

  for (long n = 1; n <= total; n++) {
    inj.countdown = n;
    inj.failed = false;
    msg[0] = 0;
    memset(got, 0, sizeof got);
    actjit_status s = w->run(w, got, msg, sizeof msg);
    inj.countdown = 0;
    if (!inj.failed) bad++, print_error("allocation %ld of %ld was never made\n", n, total);
    if (s == ACTJIT_OK ? memcmp(got, want, w->ny * sizeof *got) != 0 : s != w->nomem || !msg[0] || !strstr(msg, w->says))
      bad++, print_error("allocation %ld of %ld failed: %s (%s)\n", n, total, actjit_status_name(s), msg);
    if (nlive != before) {
      bad++, print_error("allocation %ld failed: %ld allocations left live\n", n, nlive - before);
      before = nlive; /* report each leak once */
    }
  }
  print_message("%ld allocation points\n", total);
  assert_int_equal(bad, 0);
}

/* ---------------------------------------------------------------- tests */

static void test_api_allocations_fail_cleanly(void **state) {
  (void)state;
  static params p;
  fill(&p);
  check_every_allocation(&(workflow){.run = api_workflow, .ny = 2 * BATCH * OUT, .nomem = ACTJIT_ERR_NOMEM, .says = "", .p = &p});
}

static void test_aot_allocations_fail_cleanly(void **state) {
  (void)state;
  static params p;
  fill(&p);
  actjit_context *ctx;
  actjit_graph *g;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  assert_int_equal(actjit_graph_parse(ctx, MODEL, sizeof MODEL - 1, "nomem.air", &g), ACTJIT_OK);
  assert_int_equal(actjit_graph_param_set_data(g, "w1", p.w1, 16 * IN), ACTJIT_OK);
  assert_int_equal(actjit_graph_param_set_data(g, "b1", p.b1, 16), ACTJIT_OK);
  assert_int_equal(actjit_graph_param_set_data(g, "w2", p.w2, OUT * 16), ACTJIT_OK);
  assert_int_equal(actjit_graph_param_set_data(g, "b2", p.b2, OUT), ACTJIT_OK);
  check_every_allocation(&(workflow){.run = aot_workflow, .nomem = ACTJIT_ERR_NOMEM, .says = "", .g = g});
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
}

static void test_io_allocations_fail_cleanly(void **state) {
  (void)state;
  static char text[4096];
  FILE *fp = fopen(ACTJIT_SOURCE_DIR "/tests/golden/mlp.txt", "rb");
  assert_non_null(fp);
  size_t len = fread(text, 1, sizeof text, fp);
  fclose(fp);
  assert_true(len > 0 && len < sizeof text);
  char tmp[] = "/tmp/actjit_nomem_XXXXXX.npy";
  int fd = mkstemps(tmp, 4);
  assert_true(fd >= 0);
  close(fd);
  check_every_allocation(&(workflow){.run = io_workflow, .nomem = ACTJIT_ERR_IO, .says = "out of memory", .text = text, .len = len, .tmp = tmp});
  unlink(tmp);
}

static void test_onnx_allocations_fail_cleanly(void **state) {
  (void)state;
  check_every_allocation(&(workflow){.run = onnx_workflow, .nomem = ACTJIT_ERR_NOMEM, .says = ""});
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_api_allocations_fail_cleanly),
                                     cmocka_unit_test(test_aot_allocations_fail_cleanly),
                                     cmocka_unit_test(test_io_allocations_fail_cleanly),
                                     cmocka_unit_test(test_onnx_allocations_fail_cleanly)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
