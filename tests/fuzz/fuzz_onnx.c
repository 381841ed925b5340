/* The ONNX reader.  The input is a model file; it is also written beside
 * the model as data.bin, so that a `location` of external data can name a
 * file that exists (and "../", absolute and missing locations are tried by
 * mutation); an odd size reads the first dim as the batch (ACTJIT_ONNX_BATCH).  Every input either builds a verified graph whose parameters
 * all hold their values and whose print-out is a print -> parse fixed
 * point, or fails with a one-line error naming the model file. */
#include "fuzz_common.h"

#include "frontend/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_path("model.onnx");
  fuzz_write_file(fuzz_path("data.bin"), data, size);
  fuzz_errors e;
  actjit_context *ctx = fuzz_context(&e);
  (void)onnx_detect(data, size);
  actjit_graph *g = NULL;
  actjit_status st = actjit_graph_from_onnx(ctx, data, size, path, size % 2 ? ACTJIT_ONNX_BATCH : 0, &g);
  if (st) {
    fuzz_check_failure(ctx, &e, st, path);
    FUZZ_CHECK(!g, "a failed read returned a graph");
  } else {
    FUZZ_CHECK(actjit_graph_verify(g) == ACTJIT_OK, "the graph read does not verify: %s", actjit_context_error(ctx));
    for (int i = 0; i < actjit_graph_param_count(g); i++)
      FUZZ_CHECK(actjit_graph_param_data(g, i), "parameter %d holds no values", i);
    fuzz_check_fixed_point(ctx, &e, g);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
  return 0;
}
