#include "ir/ops.h"

#include <string.h>

#define X(id, nm, kd, lo, hi, n0, d0, n1, d1, ln) \
  [OP_##id] = {nm, K_##kd, lo, hi, {n0, n1}, {d0, d1}, ln},
const op_info op_table[OP_COUNT] = {OPS(X)};
#undef X

/* Other names of ops, for Keras users and for PyTorch modules that are an op
 * with fixed attributes: `name` is `op` with attribute `attr` (if any)
 * defaulting to `value`.  Keras names equal to an op's name (gelu, elu,
 * selu, softplus, softsign, relu6, tanh, sigmoid, silu, mish, leaky_relu,
 * log_softmax, threshold, glu) need no row; where Keras's definition or
 * default differs from PyTorch's, the op keeps PyTorch's (see README). */
typedef struct op_alias {
  const char *name;
  op_id op;
  const char *attr;
  double value;
} op_alias;

static const op_alias aliases[] = {
    {"swish", OP_SILU, NULL, 0},              /* Keras swish = silu */
    {"exponential", OP_EXP, NULL, 0},         /* Keras exponential */
    {"hard_sigmoid", OP_HARDSIGMOID, NULL, 0}, /* Keras 3: relu6(x + 3) / 6 */
    {"hard_silu", OP_HARDSWISH, NULL, 0},     /* Keras 3 */
    {"hard_swish", OP_HARDSWISH, NULL, 0},    /* Keras 3 */
    {"hard_tanh", OP_HARDTANH, NULL, 0},      /* Keras 3 */
    {"log_sigmoid", OP_LOGSIGMOID, NULL, 0},  /* Keras 3 */
    {"soft_shrink", OP_SOFTSHRINK, NULL, 0},  /* Keras 3, threshold 0.5 */
    {"hard_shrink", OP_HARDSHRINK, NULL, 0},  /* Keras 3, threshold 0.5 */
    {"tanh_shrink", OP_TANHSHRINK, NULL, 0},  /* Keras 3 */
    {"softmax2d", OP_SOFTMAX, "dim", -3},     /* nn.Softmax2d: over channels */
};

static int name_is(const char *s, const char *name, size_t len) {
  return s && strlen(s) == len && memcmp(s, name, len) == 0;
}

static const op_alias *find_alias(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
    if (name_is(aliases[i].name, name, len)) return &aliases[i];
  return NULL;
}

op_id op_lookup(const char *name, size_t len) {
  for (int i = 0; i < OP_COUNT; i++)
    if (op_table[i].kind != K_SOURCE && name_is(op_table[i].name, name, len))
      return (op_id)i;
  const op_alias *a = find_alias(name, len);
  return a ? a->op : OP_COUNT;
}

void op_init_attrs(const char *name, size_t len, op_id op, double attr[OP_MAX_ATTRS]) {
  for (int i = 0; i < OP_MAX_ATTRS; i++) attr[i] = op_table[op].attr_default[i];
  const op_alias *a = name_is(op_table[op].name, name, len) ? NULL : find_alias(name, len);
  if (a && a->op == op && a->attr) {
    int k = op_attr_index(op, a->attr, strlen(a->attr));
    if (k >= 0) attr[k] = a->value;
  }
}

int op_attr_index(op_id op, const char *name, size_t len) {
  for (int i = 0; i < OP_MAX_ATTRS; i++)
    if (name_is(op_table[op].attr_name[i], name, len)) return i;
  return -1;
}
