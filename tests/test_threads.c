/* Kernels run through an application's parallel-for
 * (actjit_kernel_set_parallel_for): for every pipeline in ir/ and a few
 * more, fused and unfused, inference and training (dropout live), on the
 * host and the narrower targets, the outputs are bitwise those of the
 * single-threaded run for several task counts and batch sizes, with the
 * slices run in reverse order on one thread and at once on real threads.
 * Kernels that mix batch rows are never split; kernels that may be split
 * are: along the batch, or, when the rows are few, a linear along its
 * weight panels (then a batch of one splits too).
 *
 * And the application's own threads: several compile at once, each in its
 * context, through one cache (in memory and a disk directory), and get the
 * results of uncached kernels; several run one kernel at once
 * (actjit_kernel_run_scratch), each with its own scratch, with and without
 * a parallel-for, and get the results of runs one at a time; failed runs
 * among them leave their message in the kernel's context.  Run under
 * ThreadSanitizer too (README, "Kernel cache").
 */
#define _DEFAULT_SOURCE /* mkdtemp */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "actjit.h"
#include "testutil.h"
#include "testpipe.h"

/* ---------------------------------------------------- parallel-fors */

/* One thread, tasks last to first: a slice that depended on an earlier one
 * would see it not yet done. */
typedef struct serial {
  long calls;     /* parallel-for calls */
  int64_t max_n;  /* the most tasks asked for at once */
} serial;

static void reverse_for(void *user, int64_t n, actjit_task_fn task, void *arg) {
  serial *s = user;
  s->calls++;
  if (n > s->max_n) s->max_n = n;
  for (int64_t i = n - 1; i >= 0; i--) task(arg, i);
}

/* Real threads: a thread per task, joined before returning. */
enum { MAX_THREADS = 16 };
typedef struct thread_arg {
  actjit_task_fn task;
  void *arg;
  int64_t i;
} thread_arg;

static void *thread_main(void *p) {
  thread_arg *t = p;
  t->task(t->arg, t->i);
  return NULL;
}

/* (no cmocka assertion: it may run on threads of the test's; a task
 * without a thread runs on the caller's) */
static void threads_for(void *user, int64_t n, actjit_task_fn task, void *arg) {
  (void)user;
  pthread_t th[MAX_THREADS];
  thread_arg ta[MAX_THREADS];
  bool started[MAX_THREADS];
  int64_t m = n < MAX_THREADS ? n : MAX_THREADS;
  for (int64_t i = 0; i < m; i++) {
    ta[i] = (thread_arg){task, arg, i};
    started[i] = !pthread_create(&th[i], NULL, thread_main, &ta[i]);
    if (!started[i]) task(arg, i);
  }
  for (int64_t i = m; i < n; i++) task(arg, i);
  for (int64_t i = 0; i < m; i++)
    if (started[i]) pthread_join(th[i], NULL);
}

/* ------------------------------------------------------------- checks */

/* k run with several task counts and batch sizes, against its run on one
 * thread; the parallel-for must have been asked to split (some kernel)
 * exactly when split_expected and the batch has two rows or more. */
static void check_kernel(actjit_kernel *k, const char *what, bool training, bool split_expected) {
  static const int batches[] = {1, 2, 7, 37};
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    int64_t batch = batches[b];
    size_t nin, nout;
    assert_int_equal(actjit_kernel_io_sizes(k, batch, &nin, &nout), ACTJIT_OK);
    float *x = tu_alloc_unaligned(nin), *want = tu_alloc_unaligned(nout), *got = tu_alloc_unaligned(nout);
    uint64_t rng = 99 + (uint64_t)batch;
    for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -4, 4);
    assert_int_equal(actjit_kernel_set_parallel_for(k, NULL, NULL, 1), ACTJIT_OK);
    assert_int_equal(actjit_kernel_set_seed(k, 5), ACTJIT_OK);
    assert_int_equal(actjit_kernel_run(k, x, batch, want), ACTJIT_OK);

    static const int tasks[] = {2, 3, 8};
    for (size_t t = 0; t <= sizeof tasks / sizeof *tasks; t++) {
      serial s = {0};
      bool real = t == sizeof tasks / sizeof *tasks; /* last: 4 real threads */
      int n = real ? 4 : tasks[t];
      assert_int_equal(actjit_kernel_set_parallel_for(k, real ? threads_for : reverse_for, &s, n), ACTJIT_OK);
      memset(got, 0xff, nout * sizeof *got);
      assert_int_equal(actjit_kernel_run(k, x, batch, got), ACTJIT_OK);
      for (size_t i = 0; i < nout; i++)
        if (!same_value(got[i], want[i]))
          fail_msg("%s [%s%s] batch %d, %d tasks%s: element %zu: %.9g, one thread %.9g", what, actjit_kernel_cpu(k),
                   training ? ", training" : "", (int)batch, n, real ? " (threads)" : "", i, got[i], want[i]);
      if (!real && split_expected && batch > 1) {
        /* at most one task a row, or a weight panel */
        assert_true(s.calls > 0);
        assert_true(s.max_n >= 2 && s.max_n <= n);
      }
      if (!real && !split_expected) assert_int_equal(s.calls, 0);
    }
    assert_int_equal(actjit_kernel_set_parallel_for(k, NULL, NULL, 1), ACTJIT_OK);
    tu_free_unaligned(x), tu_free_unaligned(want), tu_free_unaligned(got);
  }
}

static void check_pipeline(const char *text, const char *path, bool split_expected) {
  uint64_t rng = 4321;
  pipeline p;
  load_pipeline(&p, text, path, &rng);
  for (size_t t = 0; t < N_TEST_TARGETS; t++)
    for (int fuse = 0; fuse <= 1; fuse++)
      for (int training = 0; training <= 1; training++) {
        actjit_kernel *k = compile_pipeline(&p, &test_targets[t], fuse, 0, training);
        check_kernel(k, path ? path : text, training, split_expected);
        actjit_kernel_destroy(k);
      }
  unload_pipeline(&p);
}

/* --------------------------------------------------------------- tests */

static void test_ir_files(void **state) {
  (void)state;
  static char paths[64][TU_PATH_MAX];
  int n = tu_ir_files(paths, 64);
  assert_true(n >= 5);
  /* Every pipeline in ir/ has a batch and a kernel along it. */
  for (int i = 0; i < n; i++) check_pipeline(NULL, paths[i], true);
}

/* Softmax and GLU over the batch dim mix rows: never split; with a relu
 * fused into its prologue, neither is the relu. */
static void test_batch_reductions_stay_whole(void **state) {
  (void)state;
  check_pipeline("input %x : f32[N, 6]\n%y = softmax %x {dim = 0}\noutput %y\n", NULL, false);
  check_pipeline("input %x : f32[N, 3, 5]\n%y = log_softmax %x {dim = -3}\noutput %y\n", NULL, false);
  /* GLU halves a dim: along the batch only after a flatten folds it. */
  check_pipeline("input %x : f32[N, 4]\n%f = flatten %x {start_dim = 0}\n%y = glu %f {dim = 0}\noutput %y\n", NULL, false);
}

/* Dropout in training keys its mask by the element's index in the whole
 * tensor: a slice starting at row r must use r's indices (checked above
 * bitwise); here also after a linear whose rows are 3 wide. */
static void test_dropout_after_linear(void **state) {
  (void)state;
  check_pipeline("input %x : f32[N, 5]\nparam @w : f32[3, 5]\n%h = linear %x, @w\n"
                 "%d = dropout %h {p = 0.4}\n%y = sigmoid %d\noutput %y\n",
                 NULL, true);
}

/* A linear of 512 outputs has at least 4 blocks of weight panels on every
 * target (8 panels of 64 outputs at most, a block as many as a tile of one
 * row spans: 2 here on AVX-512): fewer than 16 rows a task split along the
 * blocks, into as many tasks as asked (batch 1 included), and from 16 rows
 * a task along the batch; the same bits either way (check_pipeline). */
static void test_panel_split(void **state) {
  (void)state;
  const char *text = "input %x : f32[N, 40]\nparam @w : f32[512, 40]\nparam @b : f32[512]\n"
                     "%h = linear %x, @w, @b\n%y = tanh %h\noutput %y\n";
  check_pipeline(text, NULL, true);
  uint64_t rng = 7;
  pipeline p;
  load_pipeline(&p, text, NULL, &rng);
  static const int64_t batches[] = {1, 5, 47, 48};
  actjit_kernel *k = compile_pipeline(&p, &test_targets[0], 1, 0, 0);
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    size_t nin, nout;
    assert_int_equal(actjit_kernel_io_sizes(k, batches[b], &nin, &nout), ACTJIT_OK);
    float *x = tu_alloc_unaligned(nin), *y = tu_alloc_unaligned(nout);
    for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -1, 1);
    serial s = {0};
    assert_int_equal(actjit_kernel_set_parallel_for(k, reverse_for, &s, 3), ACTJIT_OK);
    assert_int_equal(actjit_kernel_run(k, x, batches[b], y), ACTJIT_OK);
    /* one kernel, asked for 3 tasks: of panels below 48 rows, of rows from 48 */
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.max_n, 3);
    tu_free_unaligned(x), tu_free_unaligned(y);
  }
  actjit_kernel_destroy(k);
  unload_pipeline(&p);
}

/* ------------------------------------- the application's threads at once */

enum { APP_THREADS = 4, MODELS = 3, BATCH = 9 };

/* The models the threads compile, fused and unfused, their weights and an
 * input, and the outputs of uncached kernels. */
typedef struct models {
  pipeline p[MODELS];
  char *text[MODELS];
  float *x[MODELS], *want[MODELS][2];
  size_t nout[MODELS];
  const char *dir; /* the shared disk cache */
} models;

typedef struct compile_job {
  const models *m;
  pthread_barrier_t *meet;
  int memory_hits;
  char failure[256]; /* "" if none */
} compile_job;

static actjit_status bind_all(actjit_kernel *k, const pipeline *p, const actjit_graph *g) {
  actjit_status st = ACTJIT_OK;
  for (int i = 0; !st && i < p->np; i++) {
    const char *name;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    actjit_graph_param_info(g, i, &name, &rank, dims);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    st = actjit_kernel_bind(k, name, p->params[i], n);
  }
  return st;
}

/* Compiles model i (fused or not) in ctx, runs it and compares; a kernel
 * that agrees, or NULL with j->failure said. */
static actjit_kernel *compile_check(compile_job *j, actjit_context *ctx, int i, int fuse) {
  const models *m = j->m;
  actjit_graph *g;
  actjit_kernel *k = NULL;
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.fuse = fuse;
  o.cache_dir = m->dir;
  float *y = malloc(m->nout[i] * sizeof *y);
  actjit_status st = actjit_graph_parse(ctx, m->text[i], strlen(m->text[i]), "threads.air", &g);
  if (!st) st = actjit_compile(g, &o, &k);
  if (!st) st = bind_all(k, &m->p[i], g);
  if (!st) st = actjit_kernel_run(k, m->x[i], BATCH, y);
  if (st) snprintf(j->failure, sizeof j->failure, "model %d fuse %d: %s", i, fuse, actjit_context_error(ctx));
  else if (memcmp(y, m->want[i][fuse], m->nout[i] * sizeof *y))
    snprintf(j->failure, sizeof j->failure, "model %d fuse %d: results differ from the uncached kernel's", i, fuse);
  if (!st && actjit_kernel_cache_outcome(k, NULL) == ACTJIT_CACHE_MEMORY) j->memory_hits++;
  free(y);
  actjit_graph_destroy(g);
  if (*j->failure) actjit_kernel_destroy(k);
  return *j->failure ? NULL : k;
}

/* Every model fused and unfused, then, once every thread has its kernels,
 * again: each one shared now. */
static void *compile_thread(void *arg) {
  compile_job *j = arg;
  actjit_context *ctx;
  actjit_kernel *k[2 * MODELS] = {0};
  if (actjit_context_create(&ctx)) return snprintf(j->failure, sizeof j->failure, "no context"), NULL;
  for (int r = 0; r < 2; r++) {
    for (int i = 0; i < 2 * MODELS && !*j->failure; i++) {
      actjit_kernel *again = compile_check(j, ctx, i / 2, i % 2);
      if (r) actjit_kernel_destroy(again);
      else k[i] = again;
    }
    if (!r) pthread_barrier_wait(j->meet);
  }
  for (int i = 0; i < 2 * MODELS; i++) actjit_kernel_destroy(k[i]);
  actjit_context_destroy(ctx);
  return NULL;
}

static void load_models(models *m) {
  static const char *const small[] = {
      "input %x : f32[N, 12]\nparam @w : f32[12]\n%a = mul %x, @w\n%b = tanh %a\n%y = softmax %b {dim = 1}\n"
      "output %y\n",
      "input %x : f32[N, 16]\nparam @g : f32[24, 16]\nparam @u : f32[24, 16]\n%a = linear %x, @g\n%b = linear %x, @u\n"
      "%s = silu %a\n%y = mul %s, %b\noutput %y\n"};
  for (int i = 0; i < MODELS; i++) {
    if (i == 0) {
      FILE *f = fopen(ACTJIT_SOURCE_DIR "/ir/mlp.air", "rb");
      assert_non_null(f);
      m->text[i] = calloc(1, 1 << 16);
      assert_true(fread(m->text[i], 1, (1 << 16) - 1, f) > 0);
      fclose(f);
    } else {
      m->text[i] = strdup(small[i - 1]);
    }
    uint64_t rng = 11 + (uint64_t)i;
    load_pipeline(&m->p[i], m->text[i], NULL, &rng);
    for (int fuse = 0; fuse < 2; fuse++) {
      actjit_compile_options o;
      actjit_compile_options_init(&o);
      o.fuse = fuse;
      o.cache = 0;
      actjit_kernel *k = compile_pipeline_with(&m->p[i], &o);
      size_t nin;
      assert_int_equal(actjit_kernel_io_sizes(k, BATCH, &nin, &m->nout[i]), ACTJIT_OK);
      if (!fuse) {
        m->x[i] = malloc(nin * sizeof(float));
        for (size_t e = 0; e < nin; e++) m->x[i][e] = tu_uniform(&rng, -2, 2);
      }
      m->want[i][fuse] = malloc(m->nout[i] * sizeof(float));
      assert_int_equal(actjit_kernel_run(k, m->x[i], BATCH, m->want[i][fuse]), ACTJIT_OK);
      actjit_kernel_destroy(k);
    }
  }
}

static void unload_models(models *m) {
  for (int i = 0; i < MODELS; i++) {
    unload_pipeline(&m->p[i]);
    free(m->text[i]), free(m->x[i]), free(m->want[i][0]), free(m->want[i][1]);
  }
}

static void test_compile_at_once(void **state) {
  (void)state;
  models m = {0};
  load_models(&m);
  char dir[] = "/tmp/actjit-threads-XXXXXX";
  assert_non_null(mkdtemp(dir));
  m.dir = dir;
  pthread_barrier_t meet;
  pthread_barrier_init(&meet, NULL, APP_THREADS);
  pthread_t th[APP_THREADS];
  compile_job jobs[APP_THREADS];
  for (int t = 0; t < APP_THREADS; t++) {
    jobs[t] = (compile_job){.m = &m, .meet = &meet};
    assert_int_equal(pthread_create(&th[t], NULL, compile_thread, &jobs[t]), 0);
  }
  for (int t = 0; t < APP_THREADS; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&meet);
  for (int t = 0; t < APP_THREADS; t++) {
    if (*jobs[t].failure) fail_msg("thread %d: %s", t, jobs[t].failure);
    /* the second round shares every kernel */
    assert_true(jobs[t].memory_hits >= 2 * MODELS);
  }
  char rm[64];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  assert_int_equal(system(rm), 0);
  unload_models(&m);
}

typedef struct run_job {
  const actjit_kernel *k;
  const float *x;
  const float *const *want;
  const size_t *nout;
  const int64_t *batches;
  int nbatches;
  bool fail_on_purpose; /* no scratch: every call fails */
  int failures;
} run_job;

static void *run_thread(void *arg) {
  run_job *j = arg;
  size_t most = 0;
  for (int b = 0; b < j->nbatches; b++) {
    size_t n = actjit_kernel_scratch_bytes(j->k, j->batches[b]);
    most = n > most ? n : most;
  }
  /* a scratch aligned to a float, not to a vector */
  float *scratch = j->fail_on_purpose ? NULL : tu_alloc_unaligned(most / sizeof(float));
  float *y = tu_alloc_unaligned(j->nout[j->nbatches - 1]);
  for (int r = 0; r < 8; r++)
    for (int b = 0; b < j->nbatches; b++) {
      actjit_status st = actjit_kernel_run_scratch(j->k, j->x, j->batches[b], y, scratch);
      if (j->fail_on_purpose) j->failures += st != ACTJIT_ERR_ARGUMENT;
      else j->failures += st || memcmp(y, j->want[b], j->nout[b] * sizeof *y);
    }
  tu_free_unaligned(scratch), tu_free_unaligned(y);
  return NULL;
}

/* One kernel (the seed model, fused: depth-first over 512 rows and more)
 * run by several threads at once, each with its own scratch, on one
 * thread and on a parallel-for of real threads: the bits of runs one at a
 * time; one more thread's calls, without scratch, fail with the message in
 * the kernel's context. */
static void test_run_at_once(void **state) {
  (void)state;
  static const int64_t batches[] = {1, 7, 1100};
  enum { NB = sizeof batches / sizeof *batches };
  uint64_t rng = 13;
  pipeline p;
  load_pipeline(&p, NULL, ACTJIT_SOURCE_DIR "/ir/mlp.air", &rng);
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  actjit_kernel *k = compile_pipeline_with(&p, &o);
  for (int tasks = 1; tasks <= 3; tasks += 2) {
    assert_int_equal(actjit_kernel_set_parallel_for(k, threads_for, NULL, tasks), ACTJIT_OK);
    size_t nin, nout[NB];
    assert_int_equal(actjit_kernel_io_sizes(k, batches[NB - 1], &nin, NULL), ACTJIT_OK);
    float *x = tu_alloc_unaligned(nin), *want[NB];
    for (size_t e = 0; e < nin; e++) x[e] = tu_uniform(&rng, -3, 3);
    for (int b = 0; b < NB; b++) {
      assert_int_equal(actjit_kernel_io_sizes(k, batches[b], NULL, &nout[b]), ACTJIT_OK);
      want[b] = tu_alloc_unaligned(nout[b]);
      assert_int_equal(actjit_kernel_run(k, x, batches[b], want[b]), ACTJIT_OK);
    }
    pthread_t th[APP_THREADS + 1];
    run_job jobs[APP_THREADS + 1];
    for (int t = 0; t <= APP_THREADS; t++) {
      jobs[t] = (run_job){k, x, (const float *const *)want, nout, batches, NB, t == APP_THREADS, 0};
      assert_int_equal(pthread_create(&th[t], NULL, run_thread, &jobs[t]), 0);
    }
    for (int t = 0; t <= APP_THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t <= APP_THREADS; t++)
      if (jobs[t].failures) fail_msg("%d tasks, thread %d: %d runs failed or differ", tasks, t, jobs[t].failures);
    assert_non_null(strstr(actjit_context_error(p.ctx), "scratch is NULL"));
    for (int b = 0; b < NB; b++) tu_free_unaligned(want[b]);
    tu_free_unaligned(x);
  }
  actjit_kernel_destroy(k);
  unload_pipeline(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_ir_files), cmocka_unit_test(test_batch_reductions_stay_whole),
                                     cmocka_unit_test(test_dropout_after_linear), cmocka_unit_test(test_panel_split),
                                     cmocka_unit_test(test_compile_at_once), cmocka_unit_test(test_run_at_once)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
