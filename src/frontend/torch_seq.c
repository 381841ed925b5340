/* The PyTorch reader: the text print(nn.Sequential) produces, turned into
 * an actjit graph through the public builder API.
 *
 * PyTorch prints a module as `Name(extra_repr)` when it has no children and
 * as `Name(` newline, one `(key): child` line each, `)` otherwise; the
 * children of a Sequential are keyed by index (or by the names given in an
 * OrderedDict).  The reader parses that into a flat list of layers in
 * execution order, each carrying its state_dict path and its arguments
 * converted as its table row says, then builds the graph from the list.
 *
 * Adding a module is adding a row to `modules` below: its PyTorch name, the
 * actjit op, how it is built (a plain op on the running value, or one that
 * also takes parameters), and its printed arguments with the op attribute
 * each one sets.  Arguments without an attribute are accepted and checked
 * but do not reach the op (`inplace`, Linear's sizes, ...). */
#include "frontend/torch_seq.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"  /* aj_error */
#include "ir/ops.h" /* which ops are views */
#include "ir/suggest.h"

/* ------------------------------------------------------------------ table */

typedef enum arg_kind {
  A_FLOAT, /* any Python number, inf, nan */
  A_INT,   /* a Python int */
  A_BOOL,  /* True / False (passed on as 1 / 0) */
  A_DIM,   /* an int, or None: PyTorch's legacy implicit softmax dim */
  A_ENUM,  /* a quoted string from `choices` ("none|tanh"), passed as index */
} arg_kind;

typedef struct arg_spec {
  const char *name;    /* keyword as printed */
  arg_kind kind;
  const char *attr;    /* op attribute it sets; NULL: none */
  int positional;      /* 1-based position accepted without the keyword; 0: keyword only */
  bool required;
  const char *choices; /* A_ENUM only */
} arg_spec;

typedef enum build_kind {
  B_OP,     /* op(x) {attrs} */
  B_LINEAR, /* linear(x, <path>.weight [out, in] [, <path>.bias [out]]) */
  B_PRELU,  /* prelu(x, <path>.weight [num_parameters]) */
} build_kind;

#define MAX_MARGS 6

typedef struct module_row {
  const char *module; /* PyTorch class name */
  const char *op;     /* actjit op */
  build_kind build;
  arg_spec args[MAX_MARGS];
} module_row;

#define INPLACE {"inplace", A_BOOL, NULL, 0, false, NULL}

static const module_row modules[] = {
  {"Linear", "linear", B_LINEAR,
   {{"in_features", A_INT, NULL, 0, true, NULL},
    {"out_features", A_INT, NULL, 0, true, NULL},
    {"bias", A_BOOL, NULL, 0, false, NULL}}},
  {"ReLU", "relu", B_OP, {INPLACE}},
  {"Sigmoid", "sigmoid", B_OP, {{0}}},
  {"Tanh", "tanh", B_OP, {{0}}},
  {"LeakyReLU", "leaky_relu", B_OP,
   {{"negative_slope", A_FLOAT, "negative_slope", 1, false, NULL}, INPLACE}},
  {"PReLU", "prelu", B_PRELU, {{"num_parameters", A_INT, NULL, 1, false, NULL}}},
  {"Dropout", "dropout", B_OP, {{"p", A_FLOAT, "p", 1, false, NULL}, INPLACE}},
  {"Identity", "identity", B_OP, {{0}}},
  {"Softmax", "softmax", B_OP, {{"dim", A_DIM, "dim", 1, false, NULL}}},
  {"Softmin", "softmin", B_OP, {{"dim", A_DIM, "dim", 1, false, NULL}}},
  {"LogSoftmax", "log_softmax", B_OP, {{"dim", A_DIM, "dim", 1, false, NULL}}},
  {"Softmax2d", "softmax2d", B_OP, {{0}}},
  {"GLU", "glu", B_OP, {{"dim", A_INT, "dim", 1, false, NULL}}},
  {"ELU", "elu", B_OP, {{"alpha", A_FLOAT, "alpha", 1, false, NULL}, INPLACE}},
  {"CELU", "celu", B_OP, {{"alpha", A_FLOAT, "alpha", 1, false, NULL}, INPLACE}},
  {"SELU", "selu", B_OP, {INPLACE}},
  {"GELU", "gelu", B_OP, {{"approximate", A_ENUM, "approximate", 1, false, "none|tanh"}}},
  {"SiLU", "silu", B_OP, {INPLACE}},
  {"Mish", "mish", B_OP, {INPLACE}},
  /* Hardsigmoid and Hardswish take inplace but do not print it */
  {"Hardsigmoid", "hardsigmoid", B_OP, {INPLACE}},
  {"Hardswish", "hardswish", B_OP, {INPLACE}},
  {"Hardtanh", "hardtanh", B_OP,
   {{"min_val", A_FLOAT, "min_val", 1, false, NULL}, {"max_val", A_FLOAT, "max_val", 2, false, NULL}, INPLACE}},
  {"ReLU6", "relu6", B_OP, {INPLACE}},
  {"Softplus", "softplus", B_OP,
   {{"beta", A_FLOAT, "beta", 1, false, NULL}, {"threshold", A_FLOAT, "threshold", 2, false, NULL}}},
  {"Softsign", "softsign", B_OP, {{0}}},
  {"Tanhshrink", "tanhshrink", B_OP, {{0}}},
  {"Threshold", "threshold", B_OP,
   {{"threshold", A_FLOAT, "threshold", 1, true, NULL}, {"value", A_FLOAT, "value", 2, true, NULL}, INPLACE}},
  {"LogSigmoid", "logsigmoid", B_OP, {{0}}},
  /* printed positionally: Hardshrink(0.5) */
  {"Hardshrink", "hardshrink", B_OP, {{"lambd", A_FLOAT, "lambd", 1, false, NULL}}},
  {"Softshrink", "softshrink", B_OP, {{"lambd", A_FLOAT, "lambd", 1, false, NULL}}},
  /* eval mode: leaky_relu with slope (lower + upper)/2 */
  {"RReLU", "rrelu", B_OP,
   {{"lower", A_FLOAT, "lower", 1, false, NULL}, {"upper", A_FLOAT, "upper", 2, false, NULL}, INPLACE}},
  {"Flatten", "flatten", B_OP,
   {{"start_dim", A_INT, "start_dim", 1, false, NULL},
    {"end_dim", A_INT, "end_dim", 2, false, NULL}}},
};
#define NMODULES ((int)(sizeof modules / sizeof *modules))

int torch_seq_module_count(void) { return NMODULES + 1; }

const char *torch_seq_module_name(int i) {
  if (i == 0) return "Sequential";
  return i > 0 && i <= NMODULES ? modules[i - 1].module : NULL;
}

static const module_row *find_module(const char *name, size_t len) {
  for (int i = 0; i < NMODULES; i++)
    if (strlen(modules[i].module) == len && !memcmp(modules[i].module, name, len))
      return &modules[i];
  return NULL;
}

/* ----------------------------------------------------------------- layers */

enum { HAS_NONE = 0, HAS_VALUE = 1, HAS_PY_NONE = 2 };

typedef struct layer {
  const module_row *row;
  char *path; /* state_dict prefix: "3.0"; "" for a lone root module */
  int line;
  double v[MAX_MARGS];
  unsigned char has[MAX_MARGS];
  actjit_value param[2];
} layer;

typedef struct reader {
  actjit_context *ctx;
  const char *file;
  const char *p, *end;
  int line;
  layer *layers;
  int n, cap;
} reader;

#define MAX_DEPTH 64

static actjit_status fail(reader *r, int line, actjit_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static actjit_status fail(reader *r, int line, actjit_status s, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return aj_error(r->ctx, s, "%s:%d: %s", r->file, line, msg);
}

static void skip_ws(reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) {
    if (*r->p == '\n') r->line++;
    r->p++;
  }
}

static bool at(reader *r, char c) {
  skip_ws(r);
  return r->p < r->end && *r->p == c;
}

/* What the reader is looking at, for messages: a quoted snippet of the rest
 * of the line, or "end of file". */
static const char *found(reader *r, char buf[48]) {
  skip_ws(r);
  if (r->p >= r->end) return "end of file";
  size_t n = 0;
  while (r->p + n < r->end && r->p[n] != '\n' && r->p[n] != '\r' && n < 30) n++;
  char tmp[40];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) tmp[k++] = isprint((unsigned char)r->p[i]) ? r->p[i] : '?';
  tmp[k] = 0;
  snprintf(buf, 48, "'%s'", tmp);
  return buf;
}

static actjit_status expect(reader *r, char c, const char *what) {
  if (at(r, c)) {
    r->p++;
    return ACTJIT_OK;
  }
  char buf[48];
  return fail(r, r->line, ACTJIT_ERR_PARSE, "expected %s, found %s", what, found(r, buf));
}

static bool is_word_char(int c) { return isalnum(c) || c == '_'; }

/* An identifier or an index (a child key, a module name, a keyword). */
static size_t word(reader *r) {
  skip_ws(r);
  size_t n = 0;
  while (r->p + n < r->end && is_word_char((unsigned char)r->p[n])) n++;
  return n;
}

/* ----------------------------------------------------------------- values */

typedef enum vkind { V_NUMBER, V_BOOL, V_NONE, V_STRING, V_TUPLE, V_WORD } vkind;

typedef struct value {
  vkind kind;
  double num;
  bool is_int;
  const char *s; /* the text, for messages and strings (without quotes) */
  size_t len;
} value;

/* Python's int / float literal syntax, as repr() writes it, plus inf/nan. */
static bool python_number(const char *s, size_t n, double *out, bool *is_int) {
  char buf[64];
  if (n == 0 || n >= sizeof buf) return false;
  memcpy(buf, s, n);
  buf[n] = 0;
  const char *q = buf + (buf[0] == '-' || buf[0] == '+');
  if (!strcmp(q, "inf") || !strcmp(q, "nan")) {
    *out = !strcmp(q, "nan") ? NAN : buf[0] == '-' ? -INFINITY : INFINITY;
    *is_int = false;
    return true;
  }
  size_t digits = 0;
  bool dot = false, exp = false;
  while (isdigit((unsigned char)*q)) q++, digits++;
  if (*q == '.') {
    dot = true;
    q++;
    while (isdigit((unsigned char)*q)) q++, digits++;
  }
  if (!digits) return false;
  if (*q == 'e' || *q == 'E') {
    exp = true;
    q++;
    if (*q == '+' || *q == '-') q++;
    if (!isdigit((unsigned char)*q)) return false;
    while (isdigit((unsigned char)*q)) q++;
  }
  if (*q) return false;
  *out = strtod(buf, NULL);
  *is_int = !dot && !exp;
  return true;
}

static actjit_status parse_value(reader *r, value *v, int depth);

/* `(a, b)` or `[a, b]`: contents checked for syntax, not kept. */
static actjit_status parse_tuple(reader *r, value *v, int depth) {
  char close = *r->p == '(' ? ')' : ']';
  v->kind = V_TUPLE;
  v->s = r->p++;
  if (depth > MAX_DEPTH) return fail(r, r->line, ACTJIT_ERR_PARSE, "values nested too deeply");
  while (!at(r, close)) {
    value item;
    actjit_status st = parse_value(r, &item, depth + 1);
    if (st) return st;
    if (at(r, close)) break;
    if ((st = expect(r, ',', close == ')' ? "',' or ')'" : "',' or ']'"))) return st;
  }
  r->p++;
  v->len = (size_t)(r->p - v->s);
  return ACTJIT_OK;
}

static actjit_status parse_value(reader *r, value *v, int depth) {
  skip_ws(r);
  *v = (value){.s = r->p};
  char buf[48];
  if (r->p >= r->end) return fail(r, r->line, ACTJIT_ERR_PARSE, "expected a value, found end of file");
  char c = *r->p;
  if (c == '(' || c == '[') return parse_tuple(r, v, depth);
  if (c == '\'' || c == '"') {
    const char *q = r->p + 1;
    while (q < r->end && *q != c && *q != '\n') q += *q == '\\' && q + 1 < r->end ? 2 : 1;
    if (q >= r->end || *q != c) return fail(r, r->line, ACTJIT_ERR_PARSE, "unterminated string");
    v->kind = V_STRING;
    v->s = r->p + 1;
    v->len = (size_t)(q - v->s);
    r->p = q + 1;
    return ACTJIT_OK;
  }
  size_t n = 0;
  while (r->p + n < r->end && (is_word_char((unsigned char)r->p[n]) || strchr(".+-", r->p[n]))) n++;
  if (!n) return fail(r, r->line, ACTJIT_ERR_PARSE, "expected a value, found %s", found(r, buf));
  v->len = n;
  r->p += n;
  if (n == 4 && !memcmp(v->s, "True", 4)) v->kind = V_BOOL, v->num = 1;
  else if (n == 5 && !memcmp(v->s, "False", 5)) v->kind = V_BOOL, v->num = 0;
  else if (n == 4 && !memcmp(v->s, "None", 4)) v->kind = V_NONE;
  else if (python_number(v->s, n, &v->num, &v->is_int)) v->kind = V_NUMBER;
  else v->kind = V_WORD;
  return ACTJIT_OK;
}

/* Converts v as spec says into *out; *has gets HAS_VALUE or HAS_PY_NONE. */
static actjit_status convert(reader *r, int line, const module_row *row, const arg_spec *spec,
                             const value *v, double *out, unsigned char *has) {
  char shown[64]; /* the value as written, made one printable line */
  aj_printable(v->s, v->len, shown, sizeof shown);
  const char *want = NULL;
  *has = HAS_VALUE;
  switch (spec->kind) {
  case A_FLOAT:
    if (v->kind == V_NUMBER) { *out = v->num; return ACTJIT_OK; }
    want = "a number";
    break;
  case A_DIM:
    if (v->kind == V_NONE) { *has = HAS_PY_NONE; *out = NAN; return ACTJIT_OK; }
    /* fall through */
  case A_INT:
    if (v->kind == V_NUMBER && v->is_int && fabs(v->num) < 9007199254740992.0) {
      *out = v->num;
      return ACTJIT_OK;
    }
    want = spec->kind == A_DIM ? "an integer or None" : "an integer";
    break;
  case A_BOOL:
    if (v->kind == V_BOOL) { *out = v->num; return ACTJIT_OK; }
    want = "True or False";
    break;
  case A_ENUM:
    if (v->kind == V_STRING) {
      int k = 0;
      for (const char *c = spec->choices; c && *c; k++) {
        size_t n = strcspn(c, "|");
        if (n == v->len && !memcmp(c, v->s, n)) { *out = k; return ACTJIT_OK; }
        c += n + (c[n] == '|');
      }
    }
    return fail(r, line, ACTJIT_ERR_PARSE, "%s: %s must be one of '%s', got %s%s%s", row->module,
                spec->name, spec->choices, v->kind == V_STRING ? "'" : "", shown, v->kind == V_STRING ? "'" : "");
  }
  return fail(r, line, ACTJIT_ERR_PARSE, "%s: %s must be %s, got %s%s%s", row->module, spec->name,
              want, v->kind == V_STRING ? "'" : "", shown, v->kind == V_STRING ? "'" : "");
}

/* ---------------------------------------------------------------- modules */

static actjit_status add_layer(reader *r, layer *l) {
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 16;
    layer *nl = realloc(r->layers, (size_t)cap * sizeof *nl);
    if (!nl) return aj_error(r->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    r->layers = nl;
    r->cap = cap;
  }
  r->layers[r->n++] = *l;
  return ACTJIT_OK;
}

/* `(k=v, v, ...)` after a leaf module's name, converted into l. */
static actjit_status parse_args(reader *r, layer *l) {
  const module_row *row = l->row;
  actjit_status st = expect(r, '(', "'('");
  if (st) return st;
  int npos = 0;
  while (!at(r, ')')) {
    int line = r->line;
    const char *save = r->p;
    int save_line = r->line;
    size_t n = word(r);
    const char *key = r->p;
    const arg_spec *spec = NULL;
    bool keyword = false;
    if (n && !isdigit((unsigned char)*key)) {
      r->p += n;
      keyword = at(r, '=');
      if (keyword) r->p++;
      else r->p = save, r->line = save_line;
    }
    if (keyword) {
      for (int i = 0; i < MAX_MARGS && row->args[i].name; i++)
        if (strlen(row->args[i].name) == n && !memcmp(row->args[i].name, key, n)) spec = &row->args[i];
      if (!spec) {
        suggest sg;
        char hint[SUGGEST_HINT_SIZE];
        suggest_init(&sg, key, n);
        for (int i = 0; i < MAX_MARGS && row->args[i].name; i++) suggest_offer(&sg, row->args[i].name);
        return fail(r, line, ACTJIT_ERR_PARSE, "%s has no argument '%.*s'%s", row->module,
                    (int)(n > 40 ? 40 : n), key, suggest_hint(&sg, hint));
      }
    } else {
      npos++;
      for (int i = 0; i < MAX_MARGS && row->args[i].name; i++)
        if (row->args[i].positional == npos) spec = &row->args[i];
      if (!spec)
        return fail(r, line, ACTJIT_ERR_PARSE, "%s takes no positional argument %d", row->module, npos);
    }
    int k = (int)(spec - row->args);
    value v;
    if ((st = parse_value(r, &v, 0))) return st;
    if (l->has[k]) return fail(r, line, ACTJIT_ERR_PARSE, "%s: argument '%s' given twice", row->module, spec->name);
    if ((st = convert(r, line, row, spec, &v, &l->v[k], &l->has[k]))) return st;
    if (at(r, ')')) break;
    if ((st = expect(r, ',', "',' or ')'"))) return st;
  }
  r->p++;
  for (int i = 0; i < MAX_MARGS && row->args[i].name; i++)
    if (row->args[i].required && !l->has[i])
      return fail(r, l->line, ACTJIT_ERR_PARSE, "%s: missing argument '%s'", row->module, row->args[i].name);
  return ACTJIT_OK;
}

static char *join_path(reader *r, const char *parent, const char *key, size_t klen) {
  size_t pl = strlen(parent);
  char *p = malloc(pl + klen + 2);
  if (!p) {
    aj_error(r->ctx, ACTJIT_ERR_NOMEM, "out of memory");
    return NULL;
  }
  memcpy(p, parent, pl);
  if (pl) p[pl++] = '.';
  memcpy(p + pl, key, klen);
  p[pl + klen] = 0;
  return p;
}

/* The length of the child key at r->p: PyTorch prints a child as
 * `(key): Module`, and a key is any text without '.' (an OrderedDict may
 * name children `fc-1`, `fc(1)`, `головa`), so it runs to the first `):`
 * followed by a blank on its line.  0 if there is none or the key is empty. */
static size_t child_key(reader *r) {
  for (const char *q = r->p; q + 2 < r->end && *q != '\n'; q++)
    if (q[0] == ')' && q[1] == ':' && (q[2] == ' ' || q[2] == '\t')) return (size_t)(q - r->p);
  return 0;
}

/* A module, its name next.  `path` is its state_dict prefix. */
static actjit_status parse_module(reader *r, const char *path, int depth) {
  char buf[48];
  size_t n = word(r);
  const char *name = r->p;
  int line = r->line;
  if (!n || isdigit((unsigned char)*name))
    return fail(r, line, ACTJIT_ERR_PARSE, "expected a module such as 'ReLU()', found %s", found(r, buf));
  r->p += n;
  if (depth > MAX_DEPTH) return fail(r, line, ACTJIT_ERR_PARSE, "Sequential nested too deeply");

  if (n == 10 && !memcmp(name, "Sequential", 10)) {
    actjit_status st = expect(r, '(', "'(' after Sequential");
    if (st) return st;
    while (!at(r, ')')) {
      if (!at(r, '('))
        return fail(r, r->line, ACTJIT_ERR_PARSE, "expected a child such as '(0): ReLU()' or ')', found %s",
                    found(r, buf));
      r->p++;
      const char *key = r->p;
      size_t kn = child_key(r);
      if (!kn)
        return fail(r, r->line, ACTJIT_ERR_PARSE, "expected a child key such as (0) or (fc1) and '): ', found %s",
                    found(r, buf));
      if (memchr(key, '.', kn))
        return fail(r, r->line, ACTJIT_ERR_PARSE, "child key '%s' contains '.' (PyTorch forbids it in module names)",
                    aj_printable(key, kn, buf, sizeof buf));
      r->p += kn + 2; /* the key and "):" */
      char *child = join_path(r, path, key, kn);
      if (!child) return ACTJIT_ERR_NOMEM;
      st = parse_module(r, child, depth + 1);
      free(child);
      if (st) return st;
    }
    r->p++;
    return ACTJIT_OK;
  }

  const module_row *row = find_module(name, n);
  if (!row) {
    suggest sg;
    char hint[SUGGEST_HINT_SIZE];
    suggest_init(&sg, name, n);
    for (int i = 0; i < torch_seq_module_count(); i++) suggest_offer(&sg, torch_seq_module_name(i));
    return fail(r, line, ACTJIT_ERR_PARSE, "unsupported module '%.*s'%s", (int)(n > 60 ? 60 : n), name,
                suggest_hint(&sg, hint));
  }
  layer l = {.row = row, .line = line, .param = {ACTJIT_NO_VALUE, ACTJIT_NO_VALUE}};
  actjit_status st = parse_args(r, &l);
  if (st) return st;
  if (!(l.path = strdup(path))) return aj_error(r->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  if ((st = add_layer(r, &l))) free(l.path);
  return st;
}

/* ------------------------------------------------------------------ build */

static double arg_or(const layer *l, const char *name, double dflt) {
  for (int i = 0; i < MAX_MARGS && l->row->args[i].name; i++)
    if (!strcmp(l->row->args[i].name, name)) return l->has[i] == HAS_VALUE ? l->v[i] : dflt;
  return dflt;
}

/* Re-raises the context's message prefixed with the layer's file:line. */
static actjit_status layer_fail(reader *r, const layer *l, actjit_status st) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", actjit_context_error(r->ctx));
  return fail(r, l->line, st, "%s: %s", l->row->module, msg);
}

static actjit_status declare(reader *r, actjit_graph *g, layer *l, int k, const char *leaf, int rank,
                             const int64_t *dims) {
  char *name = join_path(r, l->path, leaf, strlen(leaf));
  if (!name) return ACTJIT_ERR_NOMEM;
  actjit_status st = actjit_graph_param(g, name, rank, dims, &l->param[k]);
  free(name);
  return st ? layer_fail(r, l, st) : ACTJIT_OK;
}

static actjit_status declare_params(reader *r, actjit_graph *g, layer *l) {
  actjit_status st = ACTJIT_OK;
  switch (l->row->build) {
  case B_LINEAR: {
    int64_t in = (int64_t)arg_or(l, "in_features", 0), out = (int64_t)arg_or(l, "out_features", 0);
    if (in < 0 || out < 0)
      return fail(r, l->line, ACTJIT_ERR_VERIFY, "Linear: in_features %lld / out_features %lld is negative",
                  (long long)in, (long long)out);
    int64_t w[2] = {out, in};
    st = declare(r, g, l, 0, "weight", 2, w);
    if (!st && arg_or(l, "bias", 1)) st = declare(r, g, l, 1, "bias", 1, &out);
    break;
  }
  case B_PRELU: {
    int64_t c = (int64_t)arg_or(l, "num_parameters", 1);
    if (c < 1) return fail(r, l->line, ACTJIT_ERR_VERIFY, "PReLU: num_parameters %lld is not positive", (long long)c);
    st = declare(r, g, l, 0, "weight", 1, &c);
    break;
  }
  case B_OP:
    break;
  }
  return st;
}

/* A layer's value is named after its module's path: `%fc1`, `%2`, `%3.0`,
 * with every character outside the IR's name set made one `_` (`fc-1` gives
 * `%fc_1`; a UTF-8 character is one) and, if that name is taken, the first
 * free `_2`, `_3`, ... */
static actjit_status name_value(actjit_graph *g, actjit_value v, const char *path) {
  char *name = malloc(strlen(path) + 24);
  if (!name) return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  size_t n = 0;
  for (const unsigned char *c = (const unsigned char *)path; *c; c++)
    if ((*c & 0xC0) != 0x80) name[n++] = ir_name_char(*c) ? (char)*c : '_'; /* UTF-8 continuations: skipped */
  name[n] = 0;
  for (int k = 2; ir_find(g, name, strlen(name)); k++) snprintf(name + n, 24, "_%d", k);
  actjit_status st = n ? actjit_graph_set_name(g, v, name) : ACTJIT_OK;
  free(name);
  return st;
}

static actjit_status apply(reader *r, actjit_graph *g, const layer *l, actjit_value *cur) {
  actjit_value args[3] = {*cur, l->param[0], l->param[1]};
  int nargs = 1 + (l->param[0] != ACTJIT_NO_VALUE) + (l->param[1] != ACTJIT_NO_VALUE);
  actjit_attr attrs[MAX_MARGS];
  int nattrs = 0;
  for (int i = 0; i < MAX_MARGS && l->row->args[i].name; i++) {
    const arg_spec *s = &l->row->args[i];
    if (!s->attr || !l->has[i]) continue;
    double v = l->v[i];
    if (l->has[i] == HAS_PY_NONE) {
      /* torch.nn.functional._get_softmax_dim: 0 for rank 0, 1, 3, else 1. */
      int rank;
      int64_t dims[ACTJIT_MAX_RANK];
      if (actjit_graph_value_shape(g, *cur, &rank, dims)) return layer_fail(r, l, ACTJIT_ERR_ARGUMENT);
      v = rank == 0 || rank == 1 || rank == 3 ? 0 : 1;
    }
    attrs[nattrs++] = (actjit_attr){s->attr, v};
  }
  actjit_status st = actjit_graph_op(g, l->row->op, args, nargs, attrs, nattrs, cur);
  if (!st) st = name_value(g, *cur, l->path);
  return st ? layer_fail(r, l, st) : ACTJIT_OK;
}

static actjit_status build(reader *r, int in_rank, const int64_t *in_dims, actjit_graph **out) {
  int64_t derived[2] = {ACTJIT_DYN, 0};
  if (in_rank == 0) {
    int i = 0;
    while (i < r->n && r->layers[i].row->build != B_LINEAR) i++;
    if (i == r->n)
      return aj_error(r->ctx, ACTJIT_ERR_ARGUMENT,
                      "%s: the model's input shape is not given and cannot be inferred: it has no Linear layer",
                      r->file);
    derived[1] = (int64_t)arg_or(&r->layers[i], "in_features", 0);
    in_rank = 2;
    in_dims = derived;
  }
  actjit_graph *g;
  actjit_status st = actjit_graph_create(r->ctx, &g);
  if (st) return st;
  actjit_value cur;
  if ((st = actjit_graph_input(g, "x", in_rank, in_dims, &cur))) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", actjit_context_error(r->ctx));
    st = aj_error(r->ctx, st, "%s: input shape: %s", r->file, msg);
  }
  for (int i = 0; i < r->n && !st; i++) st = declare_params(r, g, &r->layers[i]);
  for (int i = 0; i < r->n && !st; i++) st = apply(r, g, &r->layers[i], &cur);
  /* The output must be computed, not the input or a view of it (an empty
   * Sequential, a lone Flatten): such a model ends in an identity. */
  bool computes = false;
  for (int i = 0; i < r->n; i++) {
    op_id op = op_lookup(r->layers[i].row->op, strlen(r->layers[i].row->op));
    computes |= op == OP_COUNT || op_table[op].kind != K_VIEW;
  }
  if (!st && !computes && (st = actjit_graph_op(g, "identity", &cur, 1, NULL, 0, &cur))) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", actjit_context_error(r->ctx));
    st = aj_error(r->ctx, st, "%s: %s", r->file, msg);
  }
  if (!st) st = actjit_graph_output(g, cur);
  if (!st) st = actjit_graph_verify(g);
  if (st) {
    actjit_graph_destroy(g);
    return st;
  }
  *out = g;
  return ACTJIT_OK;
}

/* ------------------------------------------------------------------- API */

static size_t bom(const char *text, size_t len) {
  return len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
}

bool torch_seq_detect(const char *text, size_t len) {
  if (!text) return false;
  size_t i = bom(text, len);
  while (i < len && isspace((unsigned char)text[i])) i++;
  return len - i >= 11 && !memcmp(text + i, "Sequential(", 11);
}

bool torch_seq_custom_module(const char *text, size_t len, char *name, size_t cap) {
  if (!text) return false;
  size_t i = bom(text, len);
  while (i < len && isspace((unsigned char)text[i])) i++;
  size_t start = i;
  while (i < len && (isalnum((unsigned char)text[i]) || text[i] == '_')) i++;
  size_t n = i - start;
  if (!n || isdigit((unsigned char)text[start]) || i == len || text[i] != '(') return false;
  /* `Name(` then a line break, and the first child's `(key): ` line. */
  for (i++; i < len && (text[i] == ' ' || text[i] == '\r'); i++) {}
  if (i == len || text[i] != '\n') return false;
  while (i < len && isspace((unsigned char)text[i])) i++;
  if (i == len || text[i] != '(' || (n == 10 && !memcmp(text + start, "Sequential", 10))) return false;
  snprintf(name, cap, "%.*s", (int)(n < cap ? n : cap - 1), text + start);
  return true;
}

actjit_status torch_seq_parse(actjit_context *ctx, const char *text, size_t len, const char *filename,
                              int in_rank, const int64_t *in_dims, actjit_graph **out) {
  if (!ctx || !out || (!text && len) || in_rank < 0 || in_rank > ACTJIT_MAX_RANK || (in_rank && !in_dims))
    return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "torch_seq_parse: bad argument");
  *out = NULL;
  if (!text) text = "";
  reader r = {.ctx = ctx, .file = filename ? filename : "<input>", .end = text + len, .line = 1};
  r.p = text + bom(text, len);
  char buf[48];
  actjit_status st = parse_module(&r, "", 0);
  if (!st) {
    skip_ws(&r);
    if (r.p < r.end)
      st = fail(&r, r.line, ACTJIT_ERR_PARSE, "unexpected text after the model: %s", found(&r, buf));
  }
  if (!st) st = build(&r, in_rank, in_dims, out);
  for (int i = 0; i < r.n; i++) free(r.layers[i].path);
  free(r.layers);
  return st;
}

int torch_seq_first_linear_line(const char *text, size_t len) {
  if (!text) return 0;
  reader r = {.file = "", .end = text + len, .line = 1};
  r.p = text + bom(text, len);
  int line = 0;
  if (!parse_module(&r, "", 0))
    for (int i = 0; i < r.n && !line; i++)
      if (r.layers[i].row->build == B_LINEAR) line = r.layers[i].line;
  for (int i = 0; i < r.n; i++) free(r.layers[i].path);
  free(r.layers);
  return line;
}
