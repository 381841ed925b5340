/* Workers sleep on a condition variable between jobs; a job's tasks are
 * taken from a shared counter by the workers and the caller, and the job
 * ends when every task is done and no worker is still inside it (so the
 * next job's fields are never read by a late worker of this one). */
#include "cli/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct pool {
  pthread_mutex_t mu;
  pthread_cond_t start, done;
  pthread_t *workers;
  int nworkers;
  /* The current job; generation counts jobs so a worker joins each once. */
  actjit_task_fn task;
  void *arg;
  int64_t n;
  atomic_int_fast64_t next;
  int64_t finished; /* tasks done (under mu) */
  int active;       /* workers inside the job (under mu) */
  atomic_ulong generation; /* changed under mu; a waiting worker reads it without */
  bool quit;
};

/* How long a worker that finished a job stays awake, watching for the
 * next, before it sleeps: a model's kernels come back to back, and waking
 * a sleeping worker (a futex, on a virtual machine an idle vCPU) costs more
 * than a small job (the seed model at batch 64 on two threads: 68 us a call
 * when workers sleep at once, 42 us with this wait; 62 us on one thread).
 * OpenMP and ONNX Runtime wait awake in the same way. */
enum { SPIN_NS = 200 * 1000 };

static int64_t ns_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Returns when a job after `seen` is posted or SPIN_NS have passed. */
static void spin_for_job(pool *p, unsigned long seen) {
  for (int64_t end = ns_now() + SPIN_NS; atomic_load(&p->generation) == seen && ns_now() < end;) {
  }
}

/* Takes and runs tasks of the current job until none are left; returns
 * how many it ran. */
static int64_t work(pool *p) {
  int64_t ran = 0;
  for (int64_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n; ran++) p->task(p->arg, i);
  return ran;
}

static void *worker_main(void *arg) {
  pool *p = arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (seen) {
      pthread_mutex_unlock(&p->mu);
      spin_for_job(p, seen);
      pthread_mutex_lock(&p->mu);
    }
    while (!p->quit && p->generation == seen) pthread_cond_wait(&p->start, &p->mu);
    if (p->quit) break;
    seen = p->generation;
    p->active++;
    pthread_mutex_unlock(&p->mu);
    int64_t ran = work(p);
    pthread_mutex_lock(&p->mu);
    p->finished += ran;
    if (--p->active == 0 || p->finished == p->n) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

pool *pool_create(int threads) {
  if (threads < 2) return NULL;
  pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
  if (!p->workers) {
    free(p);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->start, NULL);
  pthread_cond_init(&p->done, NULL);
  for (; p->nworkers < threads - 1; p->nworkers++)
    if (pthread_create(&p->workers[p->nworkers], NULL, worker_main, p)) {
      pool_destroy(p);
      return NULL;
    }
  return p;
}

void pool_destroy(pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->quit = true;
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nworkers; i++) pthread_join(p->workers[i], NULL);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->start);
  pthread_mutex_destroy(&p->mu);
  free(p->workers);
  free(p);
}

void pool_parallel_for(void *user, int64_t n, actjit_task_fn task, void *arg) {
  pool *p = user;
  pthread_mutex_lock(&p->mu);
  /* A worker that woke late for the last job may still be looking at it. */
  while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
  p->task = task, p->arg = arg, p->n = n, p->finished = 0;
  atomic_store(&p->next, 0);
  p->generation++;
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->mu);
  int64_t ran = work(p);
  pthread_mutex_lock(&p->mu);
  p->finished += ran;
  while (p->finished < n || p->active > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
