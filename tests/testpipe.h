/* A pipeline for the kernel tests: parsed from text or a file, with random
 * parameters, compiled for a test target with its parameters bound.
 * Include after <cmocka.h> and "testutil.h". */
#ifndef ACTJIT_TESTPIPE_H
#define ACTJIT_TESTPIPE_H

typedef struct pipeline {
  actjit_context *ctx;
  actjit_graph *g;
  float *params[8];
  int np;
} pipeline;

/* From `text`, or the file `path` when text is NULL; parameters uniform
 * from rng: a linear's weight [out, in] in [-1/sqrt(in), 1/sqrt(in)), as
 * PyTorch initializes it (so that a deep or wide model's values stay of the
 * order of its inputs), others in [-0.5, 0.5). */
static inline void load_pipeline(pipeline *p, const char *text, const char *path, uint64_t *rng) {
  assert_int_equal(actjit_context_create(&p->ctx), ACTJIT_OK);
  actjit_status st = text ? actjit_graph_parse(p->ctx, text, strlen(text), "pipeline.air", &p->g)
                          : actjit_graph_parse_file(p->ctx, path, &p->g);
  if (st) fail_msg("%s", actjit_context_error(p->ctx));
  p->np = actjit_graph_param_count(p->g);
  assert_true(p->np <= 8);
  for (int i = 0; i < p->np; i++) {
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_param_info(p->g, i, NULL, &rank, dims), ACTJIT_OK);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    p->params[i] = tu_alloc_unaligned(n);
    float bound = rank == 2 ? 1.0f / sqrtf((float)dims[1]) : 0.5f;
    for (size_t j = 0; j < n; j++) p->params[i][j] = tu_uniform(rng, -bound, bound);
  }
}

static inline void unload_pipeline(pipeline *p) {
  for (int i = 0; i < p->np; i++) tu_free_unaligned(p->params[i]);
  actjit_graph_destroy(p->g);
  actjit_context_destroy(p->ctx);
}

/* Compiled with options o, parameters bound. */
static inline actjit_kernel *compile_pipeline_with(pipeline *p, const actjit_compile_options *o) {
  actjit_kernel *k;
  if (actjit_compile(p->g, o, &k)) fail_msg("%s", actjit_context_error(p->ctx));
  for (int i = 0; i < p->np; i++) {
    const char *name;
    int rank;
    int64_t dims[ACTJIT_MAX_RANK];
    assert_int_equal(actjit_graph_param_info(p->g, i, &name, &rank, dims), ACTJIT_OK);
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
    assert_int_equal(actjit_kernel_bind(k, name, p->params[i], n), ACTJIT_OK);
  }
  return k;
}

/* Compiled for target t with the given options, parameters bound. */
static inline actjit_kernel *compile_pipeline(pipeline *p, const test_target *t, int fuse, int donate, int training) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cpu = t->cpu, o.features = t->features, o.fuse = fuse, o.donate_input = donate, o.training = training;
  actjit_kernel *k = compile_pipeline_with(p, &o);
  if (t->width) assert_int_equal(actjit_kernel_vector_width(k), t->width);
  return k;
}

static inline bool same_bits(float a, float b) { return !memcmp(&a, &b, 4); }
/* Bitwise equal, any NaN equal to any NaN. */
static inline bool same_value(float a, float b) { return isnan(a) ? isnan(b) : same_bits(a, b); }

#endif
