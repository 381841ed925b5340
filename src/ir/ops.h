/* The op table.  One row per op; parser, printer, verifier, reference
 * evaluator and codegen are all driven from it (each expands OPS() with its
 * own X), so an op added here is added everywhere or the build fails.
 *
 * Columns:
 *   ID      enum suffix (OP_ID)
 *   name    textual-IR mnemonic, also the name accepted by actjit_graph_op
 *   kind    how the op moves data, which decides its loop structure:
 *             SOURCE   input, param and const declarations, no code
 *             ELTWISE  y[i] = f(x[i]), or f(a[i], b[i]) for two operands
 *                      broadcast as in NumPy (trailing dims aligned; PRELU's
 *                      weight is per channel of dim 1 instead)
 *             LINEAR   y = x·Wᵀ + b over the last axis
 *             SOFTMAX  normalizes along one dim (softmax, softmin = softmax
 *                      of -x, log_softmax = x - max - log Σ exp(x - max))
 *             GLU      halves one dim: a·sigmoid(b), a and b its two halves
 *             VIEW     same bytes, new shape (flatten, unsqueeze)
 *             TRANSPOSE  permutes the dims: a copy
 *             MATMUL   y = a·W over the last two axes, the axes before
 *                      them broadcast as in NumPy (W batched: rank >= 3)
 *   nargs   min..max tensor operands
 *   a0 d0   first attribute name and default (NAN: required)
 *   a1 d1   second attribute
 *   list    name of a list attribute (`perm = [0, 2, 1]`, held in
 *           node.list; required), or NULL
 */
#ifndef ACTJIT_OPS_H
#define ACTJIT_OPS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#define OPS(X)                                                                         \
  X(INPUT,       "input",       SOURCE,  0, 0, NULL, 0, NULL, 0, NULL)                 \
  X(PARAM,       "param",       SOURCE,  0, 0, NULL, 0, NULL, 0, NULL)                 \
  X(CONST,       "const",       SOURCE,  0, 0, NULL, 0, NULL, 0, NULL)                 \
  X(LINEAR,      "linear",      LINEAR,  2, 3, NULL, 0, NULL, 0, NULL)                 \
  X(RELU,        "relu",        ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(SIGMOID,     "sigmoid",     ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(TANH,        "tanh",        ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(LEAKY_RELU,  "leaky_relu",  ELTWISE, 1, 1, "negative_slope", 0.01, NULL, 0, NULL)  \
  X(PRELU,       "prelu",       ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(DROPOUT,     "dropout",     ELTWISE, 1, 1, "p", 0.5, NULL, 0, NULL)                \
  X(IDENTITY,    "identity",    ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(EXP,         "exp",         ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(ELU,         "elu",         ELTWISE, 1, 1, "alpha", 1.0, NULL, 0, NULL)            \
  X(CELU,        "celu",        ELTWISE, 1, 1, "alpha", 1.0, NULL, 0, NULL)            \
  X(SELU,        "selu",        ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(GELU,        "gelu",        ELTWISE, 1, 1, "approximate", 0, NULL, 0, NULL)        \
  X(SILU,        "silu",        ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(MISH,        "mish",        ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(HARDSIGMOID, "hardsigmoid", ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(HARDSWISH,   "hardswish",   ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(HARDTANH,    "hardtanh",    ELTWISE, 1, 1, "min_val", -1.0, "max_val", 1.0, NULL)  \
  X(RELU6,       "relu6",       ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(SOFTPLUS,    "softplus",    ELTWISE, 1, 1, "beta", 1.0, "threshold", 20.0, NULL)   \
  X(SOFTSIGN,    "softsign",    ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(TANHSHRINK,  "tanhshrink",  ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(THRESHOLD,   "threshold",   ELTWISE, 1, 1, "threshold", NAN, "value", NAN, NULL)   \
  X(LOGSIGMOID,  "logsigmoid",  ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(HARDSHRINK,  "hardshrink",  ELTWISE, 1, 1, "lambd", 0.5, NULL, 0, NULL)            \
  X(SOFTSHRINK,  "softshrink",  ELTWISE, 1, 1, "lambd", 0.5, NULL, 0, NULL)            \
  X(RRELU,       "rrelu",       ELTWISE, 1, 1, "lower", 0.125, "upper", 1.0 / 3, NULL) \
  X(SOFTMAX,     "softmax",     SOFTMAX, 1, 1, "dim", NAN, NULL, 0, NULL)              \
  X(SOFTMIN,     "softmin",     SOFTMAX, 1, 1, "dim", NAN, NULL, 0, NULL)              \
  X(LOG_SOFTMAX, "log_softmax", SOFTMAX, 1, 1, "dim", NAN, NULL, 0, NULL)              \
  X(GLU,         "glu",         GLU,     1, 1, "dim", -1, NULL, 0, NULL)               \
  X(FLATTEN,     "flatten",     VIEW,    1, 1, "start_dim", 1, "end_dim", -1, NULL)    \
  X(UNSQUEEZE,   "unsqueeze",   VIEW,    1, 1, "dim", NAN, NULL, 0, NULL)              \
  X(TRANSPOSE,   "transpose",   TRANSPOSE, 1, 1, NULL, 0, NULL, 0, "perm")             \
  X(MATMUL,      "matmul",      MATMUL,  2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(ADD,         "add",         ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(SUB,         "sub",         ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(MUL,         "mul",         ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(DIV,         "div",         ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(MAXIMUM,     "maximum",     ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(MINIMUM,     "minimum",     ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(POW,         "pow",         ELTWISE, 2, 2, NULL, 0, NULL, 0, NULL)                 \
  X(NEG,         "neg",         ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(ABS,         "abs",         ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(SQRT,        "sqrt",        ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(RECIPROCAL,  "reciprocal",  ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(ERF,         "erf",         ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(LOG,         "log",         ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)                 \
  X(CLIP,        "clip",        ELTWISE, 1, 1, "min", NAN, "max", NAN, NULL)           \
  OPS_UNHANDLED(X)

/* tests/test_op_table.sh builds each source file with one more row, an op
 * that nothing handles (of an existing kind, or of a new kind), and checks
 * that every file deciding per op or per kind fails to compile: the switches
 * that decide have no default (-Werror=switch). */
#if defined ACTJIT_TEST_UNHANDLED_OP
#define OPS_UNHANDLED(X) X(UNHANDLED, "unhandled", ELTWISE, 1, 1, NULL, 0, NULL, 0, NULL)
#elif defined ACTJIT_TEST_UNHANDLED_KIND
#define OPS_UNHANDLED(X) X(UNHANDLED, "unhandled", UNHANDLED, 1, 1, NULL, 0, NULL, 0, NULL)
#else
#define OPS_UNHANDLED(X)
#endif

/* Constants of ops as PyTorch's CPU kernels use them, in float. */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
#define SELU_ALPHA_F ((float)SELU_ALPHA)
#define SELU_SCALE_F ((float)SELU_SCALE)
/* gelu approximate='tanh': beta = sqrt(2/pi), kappa = 0.044715 */
#define GELU_BETA_F ((float)(1.41421356237309504880 * 1.12837916709551257390 * 0.5))
#define GELU_KAPPA_F ((float)0.044715)

typedef enum op_id {
#define X(id, ...) OP_##id,
  OPS(X)
#undef X
  OP_COUNT
} op_id;

typedef enum op_kind {
  K_SOURCE, K_ELTWISE, K_LINEAR, K_SOFTMAX, K_GLU, K_VIEW, K_TRANSPOSE, K_MATMUL,
#ifdef ACTJIT_TEST_UNHANDLED_KIND
  K_UNHANDLED,
#endif
} op_kind;

#define OP_MAX_ARGS 3
#define OP_MAX_ATTRS 2

typedef struct op_info {
  const char *name;
  op_kind kind;
  int min_args, max_args;
  const char *attr_name[OP_MAX_ATTRS];
  double attr_default[OP_MAX_ATTRS];
  const char *list_name;
} op_info;

extern const op_info op_table[OP_COUNT];

/* Elementwise ops of two operands broadcast against each other (prelu's
 * weight is per channel instead). */
static inline bool op_is_binary(op_id op) {
  return op_table[op].kind == K_ELTWISE && op_table[op].max_args == 2 && op != OP_PRELU;
}

/* The op named `name`, or that an alias of the table in ops.c names
 * (`swish` is silu, `softmax2d` is softmax over dim -3, ...); OP_COUNT if
 * neither. */
op_id op_lookup(const char *name, size_t len);
/* attr[] = the defaults of op `op` looked up as `name` (an alias may
 * override them). */
void op_init_attrs(const char *name, size_t len, op_id op, double attr[OP_MAX_ATTRS]);
/* Index of attribute `name` of op, or -1. */
int op_attr_index(op_id op, const char *name, size_t len);

#endif
