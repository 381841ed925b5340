/* The op table.  One row per op; parser, printer, verifier, reference
 * evaluator and codegen are all driven from it (each expands OPS() with its
 * own X), so an op added here is added everywhere or the build fails.
 *
 * Columns:
 *   ID      enum suffix (OP_ID)
 *   name    textual-IR mnemonic, also the name accepted by actjit_graph_op
 *   kind    how the op moves data, which decides its loop structure:
 *             SOURCE   input / param declarations, no code
 *             ELTWISE  y[i] = f(x[i]) (PRELU also reads a per-channel weight)
 *             LINEAR   y = x·Wᵀ + b over the last axis
 *             SOFTMAX  normalizes along one dim
 *             VIEW     same bytes, new shape (flatten)
 *   nargs   min..max tensor operands
 *   a0 d0   first attribute name and default (NAN: required)
 *   a1 d1   second attribute
 */
#ifndef ACTJIT_OPS_H
#define ACTJIT_OPS_H

#include <math.h>
#include <stddef.h>

#define OPS(X)                                                                 \
  X(INPUT,      "input",      SOURCE,  0, 0, NULL, 0, NULL, 0)                   \
  X(PARAM,      "param",      SOURCE,  0, 0, NULL, 0, NULL, 0)                   \
  X(LINEAR,     "linear",     LINEAR,  2, 3, NULL, 0, NULL, 0)                   \
  X(RELU,       "relu",       ELTWISE, 1, 1, NULL, 0, NULL, 0)                   \
  X(SIGMOID,    "sigmoid",    ELTWISE, 1, 1, NULL, 0, NULL, 0)                   \
  X(TANH,       "tanh",       ELTWISE, 1, 1, NULL, 0, NULL, 0)                   \
  X(LEAKY_RELU, "leaky_relu", ELTWISE, 1, 1, "negative_slope", 0.01, NULL, 0)   \
  X(PRELU,      "prelu",      ELTWISE, 2, 2, NULL, 0, NULL, 0)                   \
  X(DROPOUT,    "dropout",    ELTWISE, 1, 1, "p", 0.5, NULL, 0)                 \
  X(IDENTITY,   "identity",   ELTWISE, 1, 1, NULL, 0, NULL, 0)                   \
  X(SOFTMAX,    "softmax",    SOFTMAX, 1, 1, "dim", NAN, NULL, 0)               \
  X(FLATTEN,    "flatten",    VIEW,    1, 1, "start_dim", 1, "end_dim", -1)

typedef enum op_id {
#define X(id, ...) OP_##id,
  OPS(X)
#undef X
  OP_COUNT
} op_id;

typedef enum op_kind { K_SOURCE, K_ELTWISE, K_LINEAR, K_SOFTMAX, K_VIEW } op_kind;

#define OP_MAX_ARGS 3
#define OP_MAX_ATTRS 2

typedef struct op_info {
  const char *name;
  op_kind kind;
  int min_args, max_args;
  const char *attr_name[OP_MAX_ATTRS];
  double attr_default[OP_MAX_ATTRS];
} op_info;

extern const op_info op_table[OP_COUNT];

/* OP_COUNT if `name` is not an op. */
op_id op_lookup(const char *name, size_t len);
/* Index of attribute `name` of op, or -1. */
int op_attr_index(op_id op, const char *name, size_t len);

#endif
