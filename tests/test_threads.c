/* Kernels run through an application's parallel-for
 * (actjit_kernel_set_parallel_for): for every pipeline in ir/ and a few
 * more, fused and unfused, inference and training (dropout live), on the
 * host and the narrower targets, the outputs are bitwise those of the
 * single-threaded run for several task counts and batch sizes, with the
 * slices run in reverse order on one thread and at once on real threads.
 * Kernels that mix batch rows are never split; kernels that may be split
 * are: along the batch, or, when the rows are few, a linear along its
 * weight panels (then a batch of one splits too).
 */
#define _DEFAULT_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

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

static void threads_for(void *user, int64_t n, actjit_task_fn task, void *arg) {
  (void)user;
  pthread_t th[MAX_THREADS];
  thread_arg ta[MAX_THREADS];
  assert_true(n <= MAX_THREADS);
  for (int64_t i = 0; i < n; i++) {
    ta[i] = (thread_arg){task, arg, i};
    assert_int_equal(pthread_create(&th[i], NULL, thread_main, &ta[i]), 0);
  }
  for (int64_t i = 0; i < n; i++) pthread_join(th[i], NULL);
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

/* A linear of 256 outputs has at least 4 weight panels on every target (64
 * outputs a panel at most): fewer than 16 rows a task split along them,
 * into as many tasks as asked (batch 1 included), and from 16 rows a task
 * along the batch; the same bits either way (check_pipeline). */
static void test_panel_split(void **state) {
  (void)state;
  const char *text = "input %x : f32[N, 40]\nparam @w : f32[256, 40]\nparam @b : f32[256]\n"
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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_ir_files), cmocka_unit_test(test_batch_reductions_stay_whole),
                                     cmocka_unit_test(test_dropout_after_linear), cmocka_unit_test(test_panel_split)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
