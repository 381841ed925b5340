/* Graph storage and the builder half of the public API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/suggest.h"

actjit_status actjit_graph_create(actjit_context *ctx, actjit_graph **out) {
  if (!ctx || !out) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_create: NULL argument");
  actjit_graph *g = calloc(1, sizeof *g);
  if (!g) return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  g->ctx = ctx;
  g->input = g->output = -1;
  *out = g;
  return ACTJIT_OK;
}

void actjit_graph_destroy(actjit_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n; i++) free(g->nodes[i].name), free(g->nodes[i].data);
  free(g->nodes);
  free(g->names);
  free(g->file);
  free(g);
}

bool ir_name_char(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'; }

bool ir_plain_name(const char *name) {
  if (!*name) return false;
  for (; *name; name++)
    if (!ir_name_char((unsigned char)*name)) return false;
  return true;
}

/* FNV-1a */
static unsigned name_hash(const char *name, size_t len) {
  unsigned h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
  return h;
}

/* The slot of name in the index: its node's, or the empty one it would
 * take. */
static int name_slot(const actjit_graph *g, const char *name, size_t len) {
  unsigned mask = (unsigned)g->names_cap - 1, h = name_hash(name, len) & mask;
  for (;; h = (h + 1) & mask) {
    int v = g->names[h] - 1;
    if (v < 0 || (strlen(g->nodes[v].name) == len && !memcmp(g->nodes[v].name, name, len))) return (int)h;
  }
}

/* The index emptied, then every named node entered (anonymous constants
 * are never looked up); nothing while there is none. */
static void names_fill(actjit_graph *g) {
  if (!g->names_cap) return;
  memset(g->names, 0, (size_t)g->names_cap * sizeof *g->names);
  for (int i = 0; i < g->n; i++)
    if (*g->nodes[i].name) g->names[name_slot(g, g->nodes[i].name, strlen(g->nodes[i].name))] = i + 1;
}

/* Room in the index for one more name. */
static bool names_reserve(actjit_graph *g) {
  if (2 * (g->n + 1) < g->names_cap) return true;
  int cap = g->names_cap ? 2 * g->names_cap : 64;
  int *names = malloc((size_t)cap * sizeof *names);
  if (!names) return false;
  free(g->names);
  g->names = names, g->names_cap = cap;
  names_fill(g);
  return true;
}

node *ir_find(const actjit_graph *g, const char *name, size_t len) {
  if (!len || !g->names_cap) return NULL;
  int v = g->names[name_slot(g, name, len)] - 1;
  return v < 0 ? NULL : &g->nodes[v];
}

/* A name of the form tK not yet in use. */
static char *fresh_name(const actjit_graph *g) {
  char buf[24];
  for (int k = g->n;; k++) {
    snprintf(buf, sizeof buf, "t%d", k);
    if (!ir_find(g, buf, strlen(buf))) return aj_strndup(buf, strlen(buf));
  }
}

actjit_status ir_add(actjit_graph *g, op_id op, const char *name,
                     const int *args, int nargs, const double *attr, const attr_list *list,
                     const shape *declared, int line, int col, int *index) {
  if (name && ir_find(g, name, strlen(name))) {
    char where[160] = "";
    if (line) snprintf(where, sizeof where, "%s:%d:%d: ", g->file ? g->file : "<input>", line, col);
    return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s'%c%s' is defined twice (values and parameters share one namespace)",
                    where, op == OP_PARAM ? '@' : '%', name);
  }
  if (!names_reserve(g)) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  if (g->n == g->cap) {
    int cap = g->cap ? 2 * g->cap : 16;
    node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
    if (!nodes) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    g->nodes = nodes;
    g->cap = cap;
  }
  node nd = {.op = op, .nargs = nargs, .line = line, .col = col, .range = (interval){-INFINITY, INFINITY}};
  for (int i = 0; i < nargs; i++) nd.args[i] = args[i];
  for (int i = 0; i < OP_MAX_ATTRS; i++)
    nd.attr[i] = attr ? attr[i] : op_table[op].attr_default[i];
  if (list) nd.list = *list;
  if (declared) nd.shape = *declared;
  nd.name = name ? aj_strndup(name, strlen(name)) : fresh_name(g);
  if (!nd.name) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  shape inferred;
  actjit_status st = verify_node(g, &nd, &inferred);
  if (st) {
    free(nd.name);
    return st;
  }
  nd.shape = inferred;
  if (op == OP_INPUT) g->input = g->n;
  g->nodes[g->n] = nd;
  if (*nd.name) g->names[name_slot(g, nd.name, strlen(nd.name))] = g->n + 1;
  *index = g->n++;
  return ACTJIT_OK;
}

actjit_status ir_add_const(actjit_graph *g, const char *name, const shape *s, const float *data, int line, int col,
                           int *index) {
  /* An anonymous scalar has the empty name, which no text can refer to
   * (it prints as a literal); another anonymous constant gets a fresh name.
   * The node first: verifying it bounds the size of the copy. */
  int v = -1;
  actjit_status st = ir_add(g, OP_CONST, name ? name : s->rank ? NULL : "", NULL, 0, NULL, NULL, s, line, col, &v);
  if (st) return st;
  size_t n = (size_t)shape_static_numel(s);
  float *copy = malloc(n ? n * sizeof *copy : 1);
  if (!copy) {
    ir_remove(g, v);
    return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  if (n) memcpy(copy, data, n * sizeof *copy);
  g->nodes[v].data = copy;
  *index = v;
  return ACTJIT_OK;
}

actjit_graph *ir_clone(const actjit_graph *g) {
  actjit_graph *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  *c = *g;
  c->file = g->file ? aj_strndup(g->file, strlen(g->file)) : NULL;
  c->nodes = calloc((size_t)(g->cap ? g->cap : 1), sizeof *c->nodes);
  c->names = g->names_cap ? malloc((size_t)g->names_cap * sizeof *c->names) : NULL;
  if (!c->nodes || (g->names_cap && !c->names) || (g->file && !c->file)) {
    free(c->nodes), free(c->names), free(c->file), free(c);
    return NULL;
  }
  if (g->names_cap) memcpy(c->names, g->names, (size_t)g->names_cap * sizeof *c->names);
  for (c->n = 0; c->n < g->n; c->n++) {
    const node *from = &g->nodes[c->n];
    node *to = &c->nodes[c->n];
    *to = *from;
    to->data = NULL;
    to->name = aj_strndup(from->name, strlen(from->name));
    size_t bytes = from->data ? (size_t)shape_static_numel(&from->shape) * sizeof(float) : 0;
    if (from->data) to->data = malloc(bytes ? bytes : 1);
    if (!to->name || (from->data && !to->data)) {
      c->n++;
      actjit_graph_destroy(c);
      return NULL;
    }
    if (bytes) memcpy(to->data, from->data, bytes);
  }
  return c;
}

int ir_view_root(const actjit_graph *g, int v) {
  while (op_table[g->nodes[v].op].kind == K_VIEW) v = g->nodes[v].args[0];
  return v;
}

bool ir_is_source(const actjit_graph *g, int v) { return op_table[g->nodes[v].op].kind == K_SOURCE; }

bool ir_is_scalar_const(const actjit_graph *g, int v) {
  return g->nodes[v].op == OP_CONST && !*g->nodes[v].name && g->nodes[v].shape.rank == 0;
}

int ir_uses(const actjit_graph *g, int v) {
  int n = g->output == v;
  for (int i = 0; i < g->n; i++)
    for (int a = 0; a < g->nodes[i].nargs; a++) n += g->nodes[i].args[a] == v;
  return n;
}

int *ir_use_counts(const actjit_graph *g) {
  int *n = calloc((size_t)g->n + 1, sizeof *n);
  if (!n) return NULL;
  for (int i = 0; i < g->n; i++)
    for (int a = 0; a < g->nodes[i].nargs; a++) n[g->nodes[i].args[a]]++;
  if (g->output >= 0) n[g->output]++;
  return n;
}

void ir_mark_live(const actjit_graph *g, bool *live) {
  for (int i = 0; i < g->n; i++) live[i] = i == g->output;
  /* Operands come before their uses: one backward sweep marks them all. */
  for (int i = g->n - 1; i >= 0; i--)
    for (int k = 0; live[i] && k < g->nodes[i].nargs; k++) live[g->nodes[i].args[k]] = true;
}

void ir_replace_uses(actjit_graph *g, int v, int w) {
  for (int i = 0; i < g->n; i++)
    for (int a = 0; a < g->nodes[i].nargs; a++)
      if (g->nodes[i].args[a] == v) g->nodes[i].args[a] = w;
  if (g->output == v) g->output = w;
}

void ir_remove(actjit_graph *g, int v) {
  free(g->nodes[v].name);
  free(g->nodes[v].data);
  memmove(&g->nodes[v], &g->nodes[v + 1], (size_t)(g->n - v - 1) * sizeof *g->nodes);
  g->n--;
  for (int i = 0; i < g->n; i++)
    for (int a = 0; a < g->nodes[i].nargs; a++)
      if (g->nodes[i].args[a] > v) g->nodes[i].args[a]--;
  if (g->output > v) g->output--;
  if (g->input > v) g->input--;
  names_fill(g);
}

/* ---------------------------------------------------------------- shapes */

int64_t shape_static_numel(const shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++) n *= s->d[i];
  return n;
}

extent shape_span(const shape *s, int lo, int hi) {
  extent e = {1, false};
  for (int i = lo; i < hi; i++) e.mul *= s->d[i];
  e.dyn = s->dyn && lo == 0 && hi > 0;
  return e;
}

extent shape_numel(const shape *s) { return shape_span(s, 0, s->rank); }

int dim_index(double dim, int rank) {
  if (!isfinite(dim) || dim != floor(dim) || dim < -rank || dim >= rank) return -1;
  return (int)(dim < 0 ? dim + rank : dim);
}

bool shape_broadcast(const shape *a, const shape *b, shape *out) {
  const shape *big = a->rank >= b->rank ? a : b, *small = big == a ? b : a;
  /* The batch leads the result: a batched operand has the larger rank. */
  if (small->dyn && small->rank < big->rank) return false;
  *out = *big;
  for (int i = 1; i <= small->rank; i++) {
    int64_t *d = &out->d[big->rank - i], e = small->d[small->rank - i];
    bool bdyn = big->dyn && i == big->rank, sdyn = small->dyn && i == small->rank;
    if (bdyn || sdyn) { /* the batch dim: N*k against N*k, or against a static 1 */
      if (bdyn && sdyn ? *d != e : bdyn ? e != 1 : *d != 1) return false;
      *d = bdyn ? *d : e;
      out->dyn = true;
    } else if (*d == 1) {
      *d = e;
    } else if (e != 1 && e != *d) {
      return false;
    }
  }
  return true;
}

bool shape_eq(const shape *a, const shape *b) {
  if (a->rank != b->rank || a->dyn != b->dyn) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->d[i] != b->d[i]) return false;
  return true;
}

const char *shape_str(const shape *s, char *buf, size_t len) {
  size_t k = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < s->rank && k < len; i++) {
    const char *sep = i ? ", " : "";
    if (i == 0 && s->dyn && s->d[0] == 1)
      k += (size_t)snprintf(buf + k, len - k, "%sN", sep);
    else if (i == 0 && s->dyn)
      k += (size_t)snprintf(buf + k, len - k, "%sN*%lld", sep, (long long)s->d[0]);
    else
      k += (size_t)snprintf(buf + k, len - k, "%s%lld", sep, (long long)s->d[i]);
  }
  if (k < len) snprintf(buf + k, len - k, "]");
  return buf;
}

/* ------------------------------------------------------------ public API */

static actjit_status api_shape(actjit_graph *g, const char *fn, const char *name, int rank,
                               const int64_t *dims, bool allow_dyn, int lowest, shape *s) {
  if (!dims && rank) return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "%s: dims is NULL", fn);
  if (rank < lowest || rank > ACTJIT_MAX_RANK)
    return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "%s: rank must be %d..%d, got %d", fn, lowest, ACTJIT_MAX_RANK, rank);
  *s = (shape){.rank = rank};
  for (int i = 0; i < rank; i++) {
    if (i == 0 && dims[0] == ACTJIT_DYN && allow_dyn) {
      s->dyn = true;
      s->d[0] = 1;
    } else if (i == 0 && dims[0] == ACTJIT_DYN) {
      return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "%s: %s cannot have a batch dimension", fn, name);
    } else if (dims[i] < 0) {
      return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "%s: dimension %d is %lld", fn, i, (long long)dims[i]);
    } else {
      s->d[i] = dims[i];
    }
  }
  return ACTJIT_OK;
}

static actjit_status add_source(actjit_graph *g, op_id op, const char *name,
                                int rank, const int64_t *dims, actjit_value *out) {
  const char *fn = op == OP_INPUT ? "actjit_graph_input" : "actjit_graph_param";
  if (!g || !name || !out) return aj_error(g ? g->ctx : NULL, ACTJIT_ERR_ARGUMENT, "%s: NULL argument", fn);
  shape s;
  char what[160];
  snprintf(what, sizeof what, "parameter @%s", name);
  actjit_status st = api_shape(g, fn, what, rank, dims, op == OP_INPUT, 1, &s);
  if (st) return st;
  int v = -1;
  if ((st = ir_add(g, op, name, NULL, 0, NULL, NULL, &s, 0, 0, &v))) return st;
  *out = v;
  return ACTJIT_OK;
}

actjit_status actjit_graph_input(actjit_graph *g, const char *name, int rank,
                                 const int64_t *dims, actjit_value *out) {
  return add_source(g, OP_INPUT, name, rank, dims, out);
}

actjit_status actjit_graph_param(actjit_graph *g, const char *name, int rank,
                                 const int64_t *dims, actjit_value *out) {
  return add_source(g, OP_PARAM, name, rank, dims, out);
}

actjit_status actjit_graph_const(actjit_graph *g, const char *name, int rank, const int64_t *dims, const float *data,
                                actjit_value *out) {
  static const char fn[] = "actjit_graph_const";
  if (!g || !data || !out) return aj_error(g ? g->ctx : NULL, ACTJIT_ERR_ARGUMENT, "%s: NULL argument", fn);
  shape s;
  actjit_status st = api_shape(g, fn, name ? name : "a constant", rank, dims, false, 0, &s);
  if (st) return st;
  int v = -1;
  if (name && !*name) return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "%s: empty name (NULL for none)", fn);
  if ((st = ir_add_const(g, name, &s, data, 0, 0, &v))) return st;
  *out = v;
  return ACTJIT_OK;
}

actjit_status actjit_graph_op(actjit_graph *g, const char *opname,
                              const actjit_value *args, int nargs,
                              const actjit_attr *attrs, int nattrs,
                              actjit_value *out) {
  if (!g || !opname || !out || (nargs && !args) || (nattrs && !attrs) ||
      nargs < 0 || nattrs < 0)
    return aj_error(g ? g->ctx : NULL, ACTJIT_ERR_ARGUMENT, "actjit_graph_op: NULL argument");
  op_id op = op_lookup(opname, strlen(opname));
  char hint[SUGGEST_HINT_SIZE];
  if (op == OP_COUNT)
    return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "unknown op '%s'%s", opname, suggest_op(opname, strlen(opname), hint));
  const op_info *oi = &op_table[op];
  if (nargs < oi->min_args || nargs > oi->max_args)
    return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s takes %d..%d operands, got %d", opname,
                    oi->min_args, oi->max_args, nargs);
  for (int i = 0; i < nargs; i++)
    if (args[i] < 0 || args[i] >= g->n)
      return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "%s: operand %d is not a value of this graph", opname, i);
  double attr[OP_MAX_ATTRS];
  attr_list list = {0};
  op_init_attrs(opname, strlen(opname), op, attr);
  for (int i = 0; i < nattrs; i++) {
    int k = attrs[i].name ? op_attr_index(op, attrs[i].name, strlen(attrs[i].name)) : -1;
    bool in_list = attrs[i].name && oi->list_name && !strcmp(attrs[i].name, oi->list_name);
    if (k < 0 && !in_list)
      return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s has no attribute '%s'%s", opname,
                      attrs[i].name ? attrs[i].name : "(null)",
                      attrs[i].name ? suggest_attr(op, false, attrs[i].name, strlen(attrs[i].name), hint) : "");
    if (!isfinite(attrs[i].value))
      return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s: attribute %s must be a finite number, got %g", opname,
                      attrs[i].name, attrs[i].value);
    if (in_list && list.n == ACTJIT_MAX_RANK)
      return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "%s: attribute %s has more than %d values", opname, attrs[i].name,
                      ACTJIT_MAX_RANK);
    if (in_list) list.v[list.n++] = attrs[i].value;
    else attr[k] = attrs[i].value;
  }
  int v = -1;
  actjit_status st = ir_add(g, op, NULL, args, nargs, attr, &list, NULL, 0, 0, &v);
  if (st) return st;
  *out = v;
  return ACTJIT_OK;
}

actjit_status actjit_graph_set_name(actjit_graph *g, actjit_value v, const char *name) {
  if (!g) return ACTJIT_ERR_ARGUMENT;
  if (!name || !*name) return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_set_name: empty name");
  if (v < 0 || v >= g->n) return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_set_name: no value %d", v);
  node *nd = &g->nodes[v];
  if (nd->op == OP_PARAM)
    return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_set_name: parameter @%s is named by its key", nd->name);
  const node *other = ir_find(g, name, strlen(name));
  if (other && other != nd)
    return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "'%c%s' is defined twice (values and parameters share one namespace)",
                    other->op == OP_PARAM ? '@' : '%', name);
  char *copy = aj_strndup(name, strlen(name));
  if (!copy) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  free(nd->name);
  nd->name = copy;
  names_fill(g);
  return ACTJIT_OK;
}

actjit_status actjit_graph_output(actjit_graph *g, actjit_value v) {
  if (!g) return ACTJIT_ERR_ARGUMENT;
  if (v < 0 || v >= g->n) return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "output: no such value");
  if (g->nodes[v].op == OP_PARAM || g->nodes[v].op == OP_INPUT)
    return aj_error(g->ctx, ACTJIT_ERR_VERIFY, "output %%%s must be computed by an op", g->nodes[v].name);
  g->output = v;
  return ACTJIT_OK;
}

actjit_status actjit_graph_value_shape(const actjit_graph *g, actjit_value v,
                                       int *rank, int64_t dims[ACTJIT_MAX_RANK]) {
  if (!g) return ACTJIT_ERR_ARGUMENT;
  if (!rank || !dims) return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_value_shape: NULL argument");
  if (v < 0 || v >= g->n)
    return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_value_shape: no value %d (the graph has %d)", v, g->n);
  const shape *s = &g->nodes[v].shape;
  *rank = s->rank;
  for (int i = 0; i < s->rank; i++) dims[i] = s->d[i];
  if (s->dyn) dims[0] = s->d[0] == 1 ? ACTJIT_DYN : ACTJIT_DYN * s->d[0];
  return ACTJIT_OK;
}

actjit_value actjit_graph_get_input(const actjit_graph *g) { return g ? g->input : ACTJIT_NO_VALUE; }
actjit_value actjit_graph_get_output(const actjit_graph *g) { return g ? g->output : ACTJIT_NO_VALUE; }
actjit_context *actjit_graph_context(const actjit_graph *g) { return g ? g->ctx : NULL; }

int actjit_graph_param_count(const actjit_graph *g) {
  int n = 0;
  for (int i = 0; g && i < g->n; i++) n += g->nodes[i].op == OP_PARAM;
  return n;
}

actjit_status actjit_graph_param_info(const actjit_graph *g, int k,
                                      const char **name, int *rank,
                                      int64_t dims[ACTJIT_MAX_RANK]) {
  int k0 = k;
  for (int i = 0; g && i < g->n; i++) {
    if (g->nodes[i].op != OP_PARAM || k--) continue;
    if (name) *name = g->nodes[i].name;
    return rank && dims ? actjit_graph_value_shape(g, i, rank, dims) : ACTJIT_OK;
  }
  return g ? aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_param_info: no parameter %d (the graph has %d)", k0,
                      actjit_graph_param_count(g))
           : ACTJIT_ERR_ARGUMENT;
}

actjit_status actjit_graph_param_set_data(actjit_graph *g, const char *name, const float *data, size_t count) {
  if (!g || !name || (!data && count))
    return aj_error(g ? g->ctx : NULL, ACTJIT_ERR_ARGUMENT, "actjit_graph_param_set_data: NULL argument");
  node *p = ir_find(g, name, strlen(name));
  if (!p || p->op != OP_PARAM) return aj_error(g->ctx, ACTJIT_ERR_WEIGHTS, "the graph has no parameter @%s", name);
  size_t want = (size_t)shape_static_numel(&p->shape);
  char buf[96];
  if (count != want)
    return aj_error(g->ctx, ACTJIT_ERR_WEIGHTS, "parameter @%s has shape %s (%zu floats), got %zu floats", name,
                    shape_str(&p->shape, buf, sizeof buf), want, count);
  float *copy = malloc(count ? count * sizeof *copy : 1);
  if (!copy) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  if (count) memcpy(copy, data, count * sizeof *copy);
  free(p->data);
  p->data = copy;
  return ACTJIT_OK;
}

const float *actjit_graph_param_data(const actjit_graph *g, int k) {
  for (int i = 0; g && i < g->n; i++)
    if (g->nodes[i].op == OP_PARAM && !k--) return g->nodes[i].data;
  return NULL;
}
