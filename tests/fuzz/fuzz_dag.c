/* Random graphs of tests/dag_gen.h, chosen by the fuzzer's bytes: DAGs of
 * every elementwise op with broadcasting and several uses, linears (alone,
 * residual, two meeting in a binary op), prelu, flatten views, glu and
 * softmax-like ops.  Each graph parses (the generator writes only graphs
 * that verify) to a print -> parse fixed point, and is compiled and run
 * fused and unfused as fuzz_diff.h says, with the data drawn from the
 * bytes' hash: fused == unfused bit for bit (where a softmax is fused into
 * a linear, within test_dag's bound), every task count the same bits, the
 * input untouched, the IR dumps parse back, every error one line, no crash.
 * Not against the reference: the perturbation tolerance of fuzz_diff.h
 * does not model the absolute errors these graphs reach, so the reference
 * is tests/test_dag.c's, whose intervals bound each op's error. */
#include "fuzz_diff.h"

#include "../dag_gen.h"

/* Larger graphs than fuzz_diff's: chains longer than a fusion group holds,
 * SwiGLU pairs and residuals with their parameters (94% of dag_gen's). */
static const diff_options options = {.target = "fuzz_dag", .reference = false, .max_ops = 48, .max_params = 16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char text[DAG_GEN_MAX_TEXT];
  size_t len = dag_gen_bytes(data, size, text, sizeof text);
  FUZZ_CHECK(len > 0, "the graph of %zu bytes does not fit in %d bytes of text", size, (int)DAG_GEN_MAX_TEXT);
  fuzz_errors e;
  actjit_context *ctx = fuzz_context(&e);
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_parse(ctx, text, len, "dag.air", &g);
  if (st) fuzz_check_failure(ctx, &e, st, "dag.air");
  FUZZ_CHECK(st == ACTJIT_OK, "a generated graph does not parse: %s\n%s", actjit_context_error(ctx), text);
  fuzz_check_fixed_point(ctx, &e, g);
  int kept = diff_graph(&options, ctx, &e, g, text, len, fuzz_hash(data, size));
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  return kept;
}
