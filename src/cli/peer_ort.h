/* ONNX Runtime as the benchmark's peer: bench/ort_bench.js in a node process
 * that the benchmark asks for timings, one request at a time, so that ONNX
 * Runtime's samples interleave with the other engines' in one run.  The
 * model is the ONNX export of the same pipeline, bench/onnx/STEM.onnx (made
 * by bench/onnx_export.py), given the weights the benchmark binds. */
#ifndef ACTJIT_CLI_PEER_ORT_H
#define ACTJIT_CLI_PEER_ORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ort_peer ort_peer;

/* Starts node on `threads` intra-op threads, on `model` itself when it is
 * an ONNX file (own: its initializers are its weights), else on its export
 * (a path whose stem names bench/onnx/STEM.onnx) with weights[count], every
 * parameter's data in declaration order.  Returns NULL with the reason in
 * why[len] ("no ONNX export ...", "no node ...", "no onnxruntime-node ...")
 * when it cannot. */
ort_peer *ort_open(const char *model, bool own, const float *weights, size_t count, int threads, char *why,
                   size_t len);
/* "ONNX Runtime 1.31.1". */
const char *ort_version(const ort_peer *p);
/* Makes in (shape dims[0..rank)) the input of the timings below and runs the
 * model once on it into out[nout].  Returns 0, or -1 with the reason. */
int ort_prepare(ort_peer *p, int rank, const int64_t *dims, const float *in, size_t nin, float *out, size_t nout,
                char *why, size_t len);
/* Seconds a call over `iters` calls back to back, of the model and of the
 * one-node Identity model; NaN if node failed (then ort_failed says why). */
double ort_time_model(void *p, int iters);
double ort_time_identity(void *p, int iters);
/* The median of ORT's own model_run time (its profiler) over `reps` runs,
 * in seconds; NaN if node failed. */
double ort_profile(ort_peer *p, int reps);
/* Why the last request failed, or NULL. */
const char *ort_failed(const ort_peer *p);
void ort_close(ort_peer *p);

#endif
