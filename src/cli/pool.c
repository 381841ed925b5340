/* Workers sleep on a condition variable between jobs; a job's tasks are
 * taken from a shared counter by the workers and the caller, and the job
 * ends when every task is done and no worker is still inside it (so the
 * next job's fields are never read by a late worker of this one). */
#define _GNU_SOURCE /* sched_getaffinity, pthread_setaffinity_np */
#include "cli/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct worker {
  pool *p;
  pthread_t thread;
  int cpu; /* the CPU it is pinned to, or -1 */
} worker;

struct pool {
  pthread_mutex_t mu;
  pthread_cond_t start, done;
  worker *workers;
  int nworkers;
  /* The current job; generation counts jobs so a worker joins each once. */
  actjit_task_fn task;
  void *arg;
  int64_t n;
  atomic_int_fast64_t next;
  /* changed under mu; the caller waiting for the job's end reads them without */
  atomic_int_fast64_t finished; /* tasks done */
  atomic_int active;            /* workers inside the job */
  atomic_ulong generation; /* changed under mu; a waiting worker reads it without */
  bool quit;
  cpu_set_t allowed; /* the caller's CPUs when the pool was made */
  int caller_cpu;    /* -1: fewer CPUs than threads, nothing pinned */
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

/* Whether every task of a job of n is done and no worker is still in it. */
static bool job_over(pool *p, int64_t n) { return atomic_load(&p->finished) >= n && atomic_load(&p->active) == 0; }

/* Takes and runs tasks of the current job until none are left; returns
 * how many it ran. */
static int64_t work(pool *p) {
  int64_t ran = 0;
  for (int64_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n; ran++) p->task(p->arg, i);
  return ran;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  pool *p = w->p;
  if (w->cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(w->cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one); /* a failure leaves it unpinned: slower, still right */
  }
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

/* Worker k is pinned to the (k + 1)-th CPU the process may use, so that no
 * two workers share one, and the caller is kept on the first (see
 * keep_caller_home).  Unpinned, a worker woken by the caller was put on the
 * caller's CPU (wake-affine) often enough that two threads ran as one (the
 * seed model at batch 1024: 930 us on two threads, 535 us pinned). */
static int nth_cpu(const cpu_set_t *allowed, int n) {
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, allowed) && seen++ == n) return cpu;
  return -1;
}

/* A caller found on a worker's CPU is moved to its own, and its mask given
 * back at once: pinned, it would pass its one CPU on to every thread it
 * starts later (OpenMP's, in the benchmark's oneDNN peer).  Beside a pinned
 * worker it stayed, the other CPU idle, since the two alternate and the
 * scheduler keeps a task that ran recently where its cache is. */
static void keep_caller_home(const pool *p) {
  if (p->caller_cpu < 0 || sched_getcpu() == p->caller_cpu) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(p->caller_cpu, &one);
  if (!sched_setaffinity(0, sizeof one, &one)) sched_setaffinity(0, sizeof p->allowed, &p->allowed);
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
  bool pin = !sched_getaffinity(0, sizeof p->allowed, &p->allowed) && CPU_COUNT(&p->allowed) >= threads;
  p->caller_cpu = pin ? nth_cpu(&p->allowed, 0) : -1;
  for (; p->nworkers < threads - 1; p->nworkers++) {
    worker *w = &p->workers[p->nworkers];
    *w = (worker){.p = p, .cpu = pin ? nth_cpu(&p->allowed, p->nworkers + 1) : -1};
    if (pthread_create(&w->thread, NULL, worker_main, w)) {
      pool_destroy(p);
      return NULL;
    }
  }
  return p;
}

void pool_destroy(pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->quit = true;
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nworkers; i++) pthread_join(p->workers[i].thread, NULL);
  pthread_cond_destroy(&p->done);
  pthread_cond_destroy(&p->start);
  pthread_mutex_destroy(&p->mu);
  free(p->workers);
  free(p);
}

void pool_parallel_for(void *user, int64_t n, actjit_task_fn task, void *arg) {
  pool *p = user;
  keep_caller_home(p);
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
  pthread_mutex_unlock(&p->mu);
  /* The caller waits awake too: asleep, it was woken by the last worker and
   * placed on that worker's CPU, and when the other CPU was busy it stayed
   * there, so the next job ran its tasks one after the other. */
  for (int64_t end = ns_now() + SPIN_NS; !job_over(p, n) && ns_now() < end;) {
  }
  pthread_mutex_lock(&p->mu);
  while (!job_over(p, n)) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}
