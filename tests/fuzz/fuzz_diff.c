/* Differential: every input that parses (and so verifies) as textual IR,
 * within the caps below, is compiled fused and unfused and run against the
 * scalar reference and each other (fuzz_diff.h), with choices and data
 * drawn from the input's hash. */
#include "fuzz_diff.h"

static const diff_options options = {.target = "fuzz_diff", .reference = true, .max_ops = 20, .max_params = 8};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_errors e;
  actjit_context *ctx = fuzz_context(&e);
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_parse(ctx, (const char *)data, size, "fuzz.air", &g);
  int kept = 0;
  if (st) {
    fuzz_check_failure(ctx, &e, st, "fuzz.air");
  } else {
    kept = diff_graph(&options, ctx, &e, g, (const char *)data, size, fuzz_hash(data, size));
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
  return kept;
}
