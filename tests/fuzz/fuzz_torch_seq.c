/* The PyTorch print-out reader.  An input that starts with a byte below
 * 0x10 gives the model's input shape first: byte 0 % 5 is the rank, then
 * one byte a dim (0xff is the batch, N); any other input is the print-out
 * alone, read with the shape derived from its first Linear (in_rank 0).
 * Every input either builds a graph whose print-out is a print -> parse
 * fixed point, or fails with a one-line error naming the file. */
#include "fuzz_common.h"

#include "frontend/torch_seq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int rank = 0;
  int64_t dims[ACTJIT_MAX_RANK] = {0};
  if (size && data[0] < 0x10) {
    rank = data[0] % 5;
    if (size < 1 + (size_t)rank) return -1;
    for (int i = 0; i < rank; i++) dims[i] = data[1 + i] == 0xff ? ACTJIT_DYN : data[1 + i];
    data += 1 + rank, size -= 1 + (size_t)rank;
  }
  fuzz_errors e;
  actjit_context *ctx = fuzz_context(&e);
  (void)torch_seq_detect((const char *)data, size);
  actjit_graph *g = NULL;
  actjit_status st = torch_seq_parse(ctx, (const char *)data, size, "model.txt", rank, dims, &g);
  if (st) {
    fuzz_check_failure(ctx, &e, st, "model.txt");
    FUZZ_CHECK(!g, "a failed parse returned a graph");
  } else {
    fuzz_check_fixed_point(ctx, &e, g);
    actjit_graph_destroy(g);
  }
  actjit_context_destroy(ctx);
  return 0;
}
