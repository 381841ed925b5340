/* Build a two-op pipeline with the C API, compile it for this CPU, run it. */
#include <actjit.h>
#include <stdio.h>

int main(void) {
  actjit_context *ctx;
  actjit_graph *g;
  actjit_kernel *k;
  actjit_value x, w, b, h, y;
  if (actjit_context_create(&ctx)) return 1;
  if (actjit_graph_create(ctx, &g) ||
      actjit_graph_input(g, "x", 2, (int64_t[]){ACTJIT_DYN, 3}, &x) ||
      actjit_graph_param(g, "0.weight", 2, (int64_t[]){2, 3}, &w) ||
      actjit_graph_param(g, "0.bias", 1, (int64_t[]){2}, &b) ||
      actjit_graph_op(g, "linear", (actjit_value[]){x, w, b}, 3, NULL, 0, &h) ||
      actjit_graph_op(g, "softmax", &h, 1, (actjit_attr[]){{"dim", -1}}, 1, &y) ||
      actjit_graph_output(g, y) || actjit_compile(g, NULL, &k)) {
    fprintf(stderr, "actjit: %s\n", actjit_context_error(ctx));
    return 1;
  }
  const float W[] = {1, 0, 0, 0, 1, 0}, B[] = {0, 1};
  const float in[2][3] = {{1, 2, 3}, {4, 5, 6}};
  float out[2][2];
  if (actjit_kernel_bind(k, "0.weight", W, 6) || actjit_kernel_bind(k, "0.bias", B, 2) ||
      actjit_kernel_run(k, &in[0][0], 2, &out[0][0])) {
    fprintf(stderr, "actjit: %s\n", actjit_context_error(ctx));
    return 1;
  }
  for (int r = 0; r < 2; r++) printf("%.6f %.6f\n", out[r][0], out[r][1]);
  actjit_kernel_destroy(k);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  return 0;
}
