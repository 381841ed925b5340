/* oneDNN as the benchmark's peer: a pipeline expressed as oneDNN primitives,
 * the way a user of oneDNN would write it.  Each linear is an inner product
 * with the elementwise ops after it as eltwise post-ops, its weights
 * reordered once into the layout the primitive prefers; a softmax or
 * log_softmax over the last dim is oneDNN's softmax; elementwise ops not
 * after a linear are eltwise primitives.  Built without oneDNN (Debian's
 * libdnnl-dev), every pipeline is refused with "no oneDNN in this build". */
#ifndef ACTJIT_CLI_PEER_ONEDNN_H
#define ACTJIT_CLI_PEER_ONEDNN_H

#include <actjit.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct onednn_run onednn_run;

/* "oneDNN 2.6.3", or NULL when built without it. */
const char *onednn_version(void);

/* Primitives computing g (params[i]: parameter i's data, declaration order)
 * from in to out at this batch size on `threads` OpenMP threads (dropout in
 * eval mode, or refused with `training`).  Returns NULL with the reason in
 * why[len] ("oneDNN has no prelu (%p)", "no oneDNN in this build") when it cannot. */
onednn_run *onednn_create(const actjit_graph *g, const float *const *params, int64_t batch, int threads, bool training,
                          const float *in, float *out, char *why, size_t len);
/* Runs the primitives once. */
void onednn_execute(onednn_run *r);
void onednn_destroy(onednn_run *r);

#endif
