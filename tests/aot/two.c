/* Two ahead-of-time objects in one program (test_aot): mlp.o and act.o,
 * prefixes mlp and act.  Reads a batch size (argv[1]), then each model's
 * input, raw float32, from stdin; writes each model's output four times,
 * raw float32, to stdout: from a run on this thread, from run_parallel
 * through a parallel-for of 3 tasks run in reverse order, through one of 4
 * tasks on threads, and from a run beside another on a second thread.
 * Exits 3 if a run accepts bad arguments or a size is wrong. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "mlp.h"

typedef void (*task_fn)(void *arg, int64_t i);
typedef void (*pfor_fn)(void *user, int64_t n, task_fn task, void *arg);

typedef struct model {
  size_t in, out; /* floats a row */
  size_t (*scratch_bytes)(int64_t batch);
  size_t (*parallel_scratch_bytes)(int64_t batch, int tasks);
  int (*run)(const float *x, int64_t batch, float *y, void *scratch);
  int (*run_parallel)(const float *x, int64_t batch, float *y, void *scratch, pfor_fn pfor, void *user, int tasks);
} model;

static const model models[] = {
    {MLP_IN_FLOATS, MLP_OUT_FLOATS, mlp_scratch_bytes, mlp_parallel_scratch_bytes, mlp_run, mlp_run_parallel},
    {ACT_IN_FLOATS, ACT_OUT_FLOATS, act_scratch_bytes, act_parallel_scratch_bytes, act_run, act_run_parallel},
};

static void reverse_for(void *user, int64_t n, task_fn task, void *arg) {
  (void)user;
  for (int64_t i = n; i-- > 0;) task(arg, i);
}

typedef struct task_call {
  task_fn task;
  void *arg;
  int64_t i;
} task_call;

static void *call_task(void *p) {
  task_call *t = p;
  t->task(t->arg, t->i);
  return NULL;
}

/* A thread a task (task 0 on this one). */
static void thread_for(void *user, int64_t n, task_fn task, void *arg) {
  (void)user;
  pthread_t th[16];
  task_call calls[16];
  if (n > 16) exit(4);
  for (int64_t i = 1; i < n; i++) {
    calls[i] = (task_call){task, arg, i};
    if (pthread_create(&th[i], NULL, call_task, &calls[i])) exit(4);
  }
  task(arg, 0);
  for (int64_t i = 1; i < n; i++) pthread_join(th[i], NULL);
}

typedef struct run_args {
  const model *m;
  const float *x;
  int64_t batch;
  float *y;
  void *scratch;
  int rc;
} run_args;

static void *run_thread(void *p) {
  run_args *a = p;
  a->rc = a->m->run(a->x, a->batch, a->y, a->scratch);
  return NULL;
}

/* A run with NaN in every byte of scratch before it. */
static int poisoned_run(const model *m, const float *x, int64_t batch, float *y, void *scratch, size_t bytes,
                        pfor_fn pfor, int tasks) {
  memset(scratch, 0xff, bytes);
  return pfor ? m->run_parallel(x, batch, y, scratch, pfor, NULL, tasks) : m->run(x, batch, y, scratch);
}

/* Bad arguments are refused, y left alone. */
static int check_refusals(const model *m, const float *x, float *y, void *scratch) {
  y[0] = 42;
  int refused = m->run(x, -1, y, scratch) == -1 && m->run(NULL, 1, y, scratch) == -1 &&
                m->run(x, 1, NULL, scratch) == -1 && m->run(x, INT64_MAX, y, scratch) == -1 &&
                (m->scratch_bytes(1) == 0 || m->run(x, 1, y, NULL) == -1) &&
                m->run_parallel(x, -1, y, scratch, reverse_for, NULL, 3) == -1;
  return refused && y[0] == 42 && m->scratch_bytes(-1) == 0 && m->scratch_bytes(INT64_MAX) == SIZE_MAX &&
         m->parallel_scratch_bytes(1000, 4) >= m->scratch_bytes(1000);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int64_t batch = atoll(argv[1]);
  for (size_t k = 0; k < sizeof models / sizeof *models; k++) {
    const model *m = &models[k];
    size_t in = (size_t)batch * m->in, out = (size_t)batch * m->out;
    size_t bytes = m->parallel_scratch_bytes(batch, 4);
    float *x = malloc(in * sizeof *x + 4), *y = malloc(4 * out * sizeof *y + 4);
    void *scratch = malloc(bytes + 4), *scratch2 = malloc(bytes + 4);
    if (!x || !y || !scratch || !scratch2 || fread(x, sizeof *x, in, stdin) != in) return 1;
    if (!check_refusals(m, x, y, scratch)) return 3;
    /* NaN in every output and scratch byte: what a run does not write shows */
    memset(y, 0xff, 4 * out * sizeof *y);
    memset(scratch2, 0xff, bytes);
    run_args beside = {m, x, batch, y + 3 * out, scratch2, -1};
    pthread_t th;
    if (poisoned_run(m, x, batch, y, scratch, bytes, NULL, 1) ||
        poisoned_run(m, x, batch, y + out, scratch, bytes, reverse_for, 3) ||
        poisoned_run(m, x, batch, y + 2 * out, scratch, bytes, thread_for, 4) ||
        pthread_create(&th, NULL, run_thread, &beside) || m->run(x, batch, y, scratch) || pthread_join(th, NULL) ||
        beside.rc)
      return 1;
    if (fwrite(y, sizeof *y, 4 * out, stdout) != 4 * out) return 1;
    free(x), free(y), free(scratch), free(scratch2);
  }
  return 0;
}
