/* The textual-IR parser: every input either parses into a graph whose
 * print-out parses back and prints the same (the print -> parse fixed
 * point), or fails with a one-line parse/verify error naming the file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_errors e;
  actjit_context *ctx = fuzz_context(&e);
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_parse(ctx, (const char *)data, size, "fuzz.air", &g);
  if (st) {
    fuzz_check_failure(ctx, &e, st, "fuzz.air");
    FUZZ_CHECK(st == ACTJIT_ERR_PARSE || st == ACTJIT_ERR_VERIFY, "status %s: %s", actjit_status_name(st),
               actjit_context_error(ctx));
    FUZZ_CHECK(!g, "a failed parse returned a graph");
  } else {
    fuzz_check_fixed_point(ctx, &e, g);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
  return 0;
}
