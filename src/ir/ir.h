/* The pipeline IR: an SSA graph held as an array of nodes in definition
 * order (operands before their uses).  A value is the index of the node that
 * defines it and may have any number of uses. */
#ifndef ACTJIT_IR_H
#define ACTJIT_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "actjit.h"
#include "ir/ops.h"

/* A tensor shape.  With `dyn`, the leading extent is d[0] times the batch
 * (d[0] is 1 for a plain `N`, more after a flatten that folds it).  Rank 0
 * (a scalar) only for constants. */
typedef struct shape {
  int rank;
  bool dyn;
  int64_t d[ACTJIT_MAX_RANK];
} shape;

/* An extent known up to the batch: mul * (dyn ? batch : 1). */
typedef struct extent {
  int64_t mul;
  bool dyn;
} extent;

/* A closed interval of values. */
typedef struct interval {
  double lo, hi;
} interval;

/* The values of an op's list attribute (transpose's perm), as written;
 * n is 0 until it is given. */
typedef struct attr_list {
  int n;
  double v[ACTJIT_MAX_RANK];
} attr_list;

typedef struct node {
  op_id op;
  char *name;                 /* SSA name without sigil; param key for params */
  int args[OP_MAX_ARGS];
  int nargs;
  double attr[OP_MAX_ATTRS];
  attr_list list;             /* of op_table[op].list_name */
  shape shape;
  int line, col;              /* source position, 0 when built through the API */
  /* Fusion group: nodes with the same nonzero group run as one kernel, and
   * only the group's last value is stored (`fuse { ... }` in the text). */
  int group;
  bool inplace;               /* PyTorch inplace=True: may overwrite its operand */
  float *data;                /* OP_CONST: its values; OP_PARAM: the values it holds, or NULL
                                 (actjit_graph_param_set_data); row-major, owned */
  /* Every non-NaN element of the value lies in [lo, hi] (value_range.c);
   * [-Inf, Inf] until that pass has run. */
  interval range;
} node;

struct actjit_graph {
  actjit_context *ctx;
  char *file;                 /* source file naming errors; NULL if built */
  node *nodes;
  int n, cap;
  int input, output;          /* node indices, -1 until set */
  /* ir_find's index: open addressing over names_cap slots (a power of two
   * above twice the named nodes), each a named node's index + 1 or 0. */
  int *names, names_cap;
};

/* Appends a node, inferring and checking its shape, and sets *index to it;
 * on failure (a bad node or no memory) returns the status with the context
 * error set.  Takes a copy of `name` (may be NULL: a fresh name is made).
 * attr NULL: the op's defaults; list NULL: none given. */
actjit_status ir_add(actjit_graph *g, op_id op, const char *name,
                     const int *args, int nargs, const double *attr, const attr_list *list,
                     const shape *declared, int line, int col, int *index);
/* A constant with a copy of data (shape_static_numel floats); name NULL
 * makes it anonymous: a literal where used if rank 0, else a fresh name. */
actjit_status ir_add_const(actjit_graph *g, const char *name, const shape *s, const float *data, int line, int col,
                           int *index);
actjit_graph *ir_clone(const actjit_graph *g);
node *ir_find(const actjit_graph *g, const char *name, size_t len);

/* Shapes. */
int64_t shape_static_numel(const shape *s); /* with the batch taken as 1 */
extent shape_numel(const shape *s);
extent shape_span(const shape *s, int lo, int hi); /* product of d[lo..hi) */
/* A dim attribute (negative counts from the end) as an index in [0, rank);
 * -1 if out of range or not an integer. */
int dim_index(double dim, int rank);
bool shape_eq(const shape *a, const shape *b);
/* NumPy broadcasting, trailing dims aligned: the shape of a op b, or false
 * if the two do not broadcast or the batch would not stay the leading dim. */
bool shape_broadcast(const shape *a, const shape *b, shape *out);
/* "[N, 784]"; buf of at least 96 bytes. */
const char *shape_str(const shape *s, char *buf, size_t len);

/* Verifier / shape inference for one op (verify.c).  Fills `out`. */
actjit_status verify_node(actjit_graph *g, const node *nd, shape *out);
/* Prefix for messages about node nd: "file:line:col: linear %h1" */
const char *node_where(const actjit_graph *g, const node *nd, char *buf,
                       size_t len);

/* What v's data is: v itself, or for a view (flatten) the value it views. */
int ir_view_root(const actjit_graph *g, int v);
/* Is v declared rather than computed: the input, a param or a const? */
bool ir_is_source(const actjit_graph *g, int v);
/* An anonymous rank-0 constant (a literal operand such as the 0.5 of
 * `mul %x, 0.5`)? */
bool ir_is_scalar_const(const actjit_graph *g, int v);
/* The uses of v: one per operand slot that holds it, plus one if it is the
 * output. */
int ir_uses(const actjit_graph *g, int v);
/* ir_uses of every node at once (g->n entries, malloc'ed), or NULL when out
 * of memory: for a pass that asks of many nodes while it changes no
 * operand. */
int *ir_use_counts(const actjit_graph *g);
/* live[v] for each node: whether its value reaches the output (live has
 * g->n entries). */
void ir_mark_live(const actjit_graph *g, bool *live);
/* Removes node v, whose value must be unused or forwarded first: operands
 * and the output are renumbered. */
void ir_remove(actjit_graph *g, int v);
/* Makes every use of v (any operand, or the output) use w instead. */
void ir_replace_uses(actjit_graph *g, int v, int w);

/* Names: a plain name is [A-Za-z0-9_.]+ and prints as is (%fc1, @0.weight);
 * any other (a state_dict key such as "fc-1.weight") prints quoted,
 * @"fc-1.weight", with \" \\ and \XX (hex) escapes. */
bool ir_name_char(int c);
bool ir_plain_name(const char *name);

/* Errors (context.c).  Records the message on the context and returns s. */
actjit_status aj_error(actjit_context *ctx, actjit_status s, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));
char *aj_strndup(const char *s, size_t n);
/* s[0..n) made safe to quote in a one-line message: as much of it as fits
 * in buf, control and non-ASCII bytes as \xHH, "..." when cut. */
const char *aj_printable(const char *s, size_t n, char *buf, size_t len);

#endif
