/* Workers sleep on a condition variable between jobs; a job's tasks are
 * taken from a shared counter by the workers and the caller, and the job
 * ends when every task is done and no worker is still inside it (so the
 * next job's fields are never read by a late worker of this one). */
#include "cli/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

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
  unsigned long generation;
  bool quit;
};

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
