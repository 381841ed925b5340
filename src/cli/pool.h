/* A small thread pool with an actjit_parallel_for_fn, for the benchmark and
 * the actjit command's --threads (a kernel run starts no threads of its own). */
#ifndef ACTJIT_BENCH_POOL_H
#define ACTJIT_BENCH_POOL_H

#include <actjit.h>

typedef struct pool pool;

/* threads - 1 workers; the caller of pool_parallel_for is the last one.
 * NULL if threads < 2 or on failure. */
pool *pool_create(int threads);
void pool_destroy(pool *p);
/* An actjit_parallel_for_fn: user is the pool.  One call at a time. */
void pool_parallel_for(void *user, int64_t n, actjit_task_fn task, void *arg);

#endif
