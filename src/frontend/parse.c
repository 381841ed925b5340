/* The textual-IR parser.  One statement a line:
 *
 *   input %x : f32[N, 784]
 *   param @0.weight : f32[128, 784]
 *   %h = linear %x, @0.weight, @0.bias : f32[N, 128]
 *   %y = softmax %h {dim = 1}
 *   output %y
 *   fuse {            # a fusion group: one kernel (the passes make these)
 *     %a = relu %x
 *     %b = tanh %a
 *   }
 *
 * `#` starts a comment; a result type is optional and, when given, must match
 * the inferred one.  Errors name file:line:col and what was expected. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/torch_seq.h"
#include "ir/ir.h"
#include "ir/suggest.h"

typedef enum tok_kind {
  T_EOF, T_NEWLINE, T_WORD, T_VALUE, T_PARAM, T_NUMBER, T_PUNCT, T_BAD
} tok_kind;

typedef struct token {
  tok_kind kind;
  const char *s; /* for T_VALUE/T_PARAM: the name after the sigil, quotes included */
  size_t len;
  bool quoted;   /* T_VALUE/T_PARAM: a quoted name, escapes not yet decoded */
  int line, col;
  double num;
} token;

typedef struct parser {
  actjit_graph *g;
  int group;        /* inside `fuse { }`: the group being read, else 0 */
  int groups;       /* groups read so far */
  const char *p, *end;
  int line, col;
  token tok;
} parser;


static void advance(parser *ps, size_t n) {
  for (; n; n--, ps->p++) {
    if (*ps->p == '\n') { ps->line++; ps->col = 1; }
    else ps->col++;
  }
}

static size_t span(const char *p, const char *end, bool (*ok)(int)) {
  size_t n = 0;
  while (p + n < end && ok((unsigned char)p[n])) n++;
  return n;
}

static bool is_number_char(int c) { return isalnum(c) || c == '.' || c == '+' || c == '-'; }
static bool is_name_char(int c) { return ir_name_char(c); }

static int hex_digit(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A quoted name at p: `"` ... `"` on one line, non-empty, with the escapes
 * \" \\ and \XX (two hex digits, not 00).  Its length with the quotes, or 0
 * if malformed. */
static size_t quoted_span(const char *p, const char *end) {
  size_t n = 1;
  while (p + n < end && p[n] != '"' && p[n] != '\n') {
    if (p[n] != '\\') n++;
    else if (p + n + 1 < end && (p[n + 1] == '"' || p[n + 1] == '\\')) n += 2;
    else if (p + n + 2 < end && hex_digit(p[n + 1]) >= 0 && hex_digit(p[n + 2]) >= 0 && (p[n + 1] != '0' || p[n + 2] != '0'))
      n += 3;
    else return 0;
  }
  return p + n < end && p[n] == '"' && n > 1 ? n + 1 : 0;
}

/* The name a T_VALUE/T_PARAM token spells, unescaped; malloc'ed (NULL: out
 * of memory, reported). */
static char *token_name(parser *ps, const token *t) {
  char *name = t->quoted ? malloc(t->len) : aj_strndup(t->s, t->len);
  if (name && t->quoted) {
    size_t k = 0;
    for (size_t i = 1; i + 1 < t->len; i++) {
      if (t->s[i] != '\\') name[k++] = t->s[i];
      else if (t->s[i + 1] == '"' || t->s[i + 1] == '\\') name[k++] = t->s[++i];
      else name[k++] = (char)(hex_digit(t->s[i + 1]) * 16 + hex_digit(t->s[i + 2])), i += 2;
    }
    name[k] = 0;
  }
  if (!name) aj_error(ps->g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  return name;
}

static void next(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '#')) {
    if (*ps->p == '#')
      while (ps->p < ps->end && *ps->p != '\n') advance(ps, 1);
    else
      advance(ps, 1);
  }
  token *t = &ps->tok;
  *t = (token){.s = ps->p, .len = 1, .line = ps->line, .col = ps->col};
  if (ps->p >= ps->end) { t->kind = T_EOF; t->len = 0; return; }
  char c = *ps->p;
  if (c == '\n') { t->kind = T_NEWLINE; }
  else if (c == '%' || c == '@') {
    t->kind = c == '%' ? T_VALUE : T_PARAM;
    t->s = ps->p + 1;
    t->quoted = t->s < ps->end && *t->s == '"';
    t->len = t->quoted ? quoted_span(t->s, ps->end) : span(t->s, ps->end, is_name_char);
    advance(ps, 1);
    if (!t->len) { t->kind = T_BAD; t->s = ps->p - 1; t->len = 1; return; }
  } else if (isdigit((unsigned char)c) || c == '-' || c == '+' || c == '.') {
    t->kind = T_NUMBER;
    t->len = span(ps->p, ps->end, is_number_char);
    /* strtod needs a terminated copy: the input need not be. */
    char buf[64] = "";
    if (t->len < sizeof buf) memcpy(buf, ps->p, t->len);
    char *e;
    t->num = strtod(buf, &e);
    /* -inf and nan are numbers (constants may hold them), and so are values
     * out of range, which strtod rounds to Inf, a denormal or 0 as the
     * printer wrote them (1e-309); attributes and dimensions check theirs. */
    if (t->len >= sizeof buf || (size_t)(e - buf) != t->len) t->kind = T_BAD;
  } else if (isalpha((unsigned char)c) || c == '_') {
    t->kind = T_WORD;
    t->len = span(ps->p, ps->end, is_name_char);
  } else if (strchr("=,:[]{}*", c)) {
    t->kind = T_PUNCT;
  } else {
    t->kind = T_BAD;
  }
  advance(ps, t->len);
}

static const char *describe(const token *t, char *buf, size_t len) {
  char text[48];
  aj_printable(t->s, t->len, text, sizeof text);
  switch (t->kind) {
  case T_EOF: return "end of file";
  case T_NEWLINE: return "end of line";
  case T_VALUE: snprintf(buf, len, "'%%%s'", text); return buf;
  case T_PARAM: snprintf(buf, len, "'@%s'", text); return buf;
  default: snprintf(buf, len, "'%s'", text); return buf;
  }
}

static actjit_status error_at(parser *ps, const token *t, const char *expected) {
  char buf[64];
  return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: expected %s, found %s",
                  ps->g->file, t->line, t->col, expected, describe(t, buf, sizeof buf));
}

static bool is_punct(const token *t, char c) { return t->kind == T_PUNCT && *t->s == c; }
static bool is_word(const token *t, const char *w) {
  return t->kind == T_WORD && strlen(w) == t->len && !memcmp(t->s, w, t->len);
}

/* A constant's element: a number, inf or nan, read as a float directly
 * (strtof: no double rounding), so that what the printer wrote reads back. */
static bool float_token(const token *t, float *v) {
  if (t->kind != T_NUMBER && !is_word(t, "inf") && !is_word(t, "nan")) return false;
  char buf[64] = "";
  memcpy(buf, t->s, t->len < sizeof buf ? t->len : sizeof buf - 1);
  *v = strtof(buf, NULL);
  return true;
}

static actjit_status expect_punct(parser *ps, char c) {
  char what[8] = {'\'', c, '\'', 0};
  if (!is_punct(&ps->tok, c)) return error_at(ps, &ps->tok, what);
  next(ps);
  return ACTJIT_OK;
}

#define RANK_TEXT_(r) #r
#define RANK_TEXT(r) RANK_TEXT_(r)

/* `f32[N, 784]`, `f32[N*4, 3]`, `f32[10]`, or for a constant `f32[]`. */
static actjit_status parse_type(parser *ps, shape *s, bool scalar_ok) {
  if (!is_word(&ps->tok, "f32")) return error_at(ps, &ps->tok, "a tensor type such as f32[N, 784]");
  next(ps);
  actjit_status st = expect_punct(ps, '[');
  if (st) return st;
  *s = (shape){0};
  for (bool first = true;; first = false) {
    token t = ps->tok;
    if (first && scalar_ok && is_punct(&t, ']')) break; /* f32[]: a scalar */
    if (s->rank == ACTJIT_MAX_RANK) return error_at(ps, &t, "']' (at most " RANK_TEXT(ACTJIT_MAX_RANK) " dimensions)");
    if (s->rank == 0 && is_word(&t, "N")) {
      s->dyn = true;
      s->d[0] = 1;
      next(ps);
      if (is_punct(&ps->tok, '*')) {
        next(ps);
        t = ps->tok;
        if (t.kind != T_NUMBER || !(t.num >= 1 && t.num < 1e15) || t.num != (double)(int64_t)t.num)
          return error_at(ps, &t, "a positive integer after 'N*'");
        s->d[0] = (int64_t)t.num;
        next(ps);
      }
    } else if (t.kind == T_NUMBER && t.num >= 0 && t.num < 1e15 && t.num == (double)(int64_t)t.num) {
      s->d[s->rank] = (int64_t)t.num;
      next(ps);
    } else {
      return error_at(ps, &t, s->rank == 0 ? "a dimension (N or an integer >= 0)" : "an integer dimension >= 0");
    }
    s->rank++;
    if (is_punct(&ps->tok, ']')) break;
    if (!is_punct(&ps->tok, ',')) return error_at(ps, &ps->tok, "',' or ']'");
    next(ps);
  }
  next(ps);
  return ACTJIT_OK;
}

static actjit_status expect_eol(parser *ps) {
  if (ps->tok.kind != T_NEWLINE && ps->tok.kind != T_EOF) return error_at(ps, &ps->tok, "end of line");
  return ACTJIT_OK;
}

/* `input %x : T` or `param @k : T` */
static actjit_status parse_decl(parser *ps, op_id op) {
  token kw = ps->tok;
  next(ps);
  token name = ps->tok;
  if (name.kind != (op == OP_INPUT ? T_VALUE : T_PARAM))
    return error_at(ps, &name, op == OP_INPUT ? "a value name such as %x" : "a parameter name such as @0.weight");
  next(ps);
  actjit_status st = expect_punct(ps, ':');
  shape s;
  if (st || (st = parse_type(ps, &s, false)) || (st = expect_eol(ps))) return st;
  char *nm = token_name(ps, &name);
  if (!nm) return ACTJIT_ERR_NOMEM;
  int v = -1;
  st = ir_add(ps->g, op, nm, NULL, 0, NULL, NULL, &s, kw.line, kw.col, &v);
  free(nm);
  return st;
}

/* Does s hold exactly n elements?  (No product is formed that could
 * overflow: the shape is not verified yet.) */
static bool holds(const shape *s, size_t n) {
  for (int i = 0; i < s->rank; i++)
    if (s->d[i] == 0) return n == 0;
  uint64_t p = 1;
  for (int i = 0; i < s->rank; i++) {
    if ((uint64_t)s->d[i] > n / p) return false;
    p *= (uint64_t)s->d[i];
  }
  return p == n;
}

/* `[v, ...]` into a malloc'ed array. */
static actjit_status parse_floats(parser *ps, float **out, size_t *count) {
  actjit_status st = expect_punct(ps, '[');
  float *data = NULL, v;
  size_t n = 0, cap = 0;
  while (!st && float_token(&ps->tok, &v)) {
    if (n == cap) {
      float *grown = realloc(data, (cap = cap ? 2 * cap : 16) * sizeof *grown);
      if (!grown) {
        st = aj_error(ps->g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
        break;
      }
      data = grown;
    }
    data[n++] = v;
    next(ps);
    if (!is_punct(&ps->tok, ',')) break;
    next(ps);
  }
  if (!st && !is_punct(&ps->tok, ']')) st = error_at(ps, &ps->tok, n ? "',' or ']'" : "a number or ']'");
  if (!st) next(ps);
  if (st) free(data);
  *out = st ? NULL : data;
  *count = n;
  return st;
}

/* `const %c : T = [v, ...]`: as many elements as T holds, row-major. */
static actjit_status parse_const(parser *ps) {
  token kw = ps->tok;
  next(ps);
  token name = ps->tok;
  if (name.kind != T_VALUE) return error_at(ps, &name, "a value name such as %c");
  next(ps);
  shape s;
  float *data = NULL;
  size_t n = 0;
  actjit_status st = expect_punct(ps, ':');
  if (st || (st = parse_type(ps, &s, true)) || (st = expect_punct(ps, '=')) || (st = parse_floats(ps, &data, &n)) ||
      (st = expect_eol(ps))) {
    free(data);
    return st;
  }
  if (!holds(&s, n)) {
    char buf[96];
    free(data);
    return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: const: %zu values do not fill f32%s", ps->g->file,
                    kw.line, kw.col, n, shape_str(&s, buf, sizeof buf));
  }
  char *nm = token_name(ps, &name);
  int v = -1;
  st = nm ? ir_add_const(ps->g, nm, &s, data, kw.line, kw.col, &v) : ACTJIT_ERR_NOMEM;
  free(nm);
  free(data);
  return st;
}

static actjit_status lookup_operand(parser *ps, const token *t, int *out) {
  char *name = token_name(ps, t);
  if (!name) return ACTJIT_ERR_NOMEM;
  node *nd = ir_find(ps->g, name, strlen(name));
  free(name);
  char buf[64];
  if (!nd || (nd->op == OP_PARAM) != (t->kind == T_PARAM))
    return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: %s is not defined%s", ps->g->file,
                    t->line, t->col, describe(t, buf, sizeof buf),
                    nd ? (nd->op == OP_PARAM ? " as a value (parameters take @)" : " as a parameter (values take %)") : "");
  *out = (int)(nd - ps->g->nodes);
  return ACTJIT_OK;
}

/* `[number, ...]`: a list attribute's values, at most ACTJIT_MAX_RANK. */
static actjit_status parse_list(parser *ps, attr_list *list) {
  actjit_status st = expect_punct(ps, '[');
  if (st) return st;
  for (;;) {
    if (ps->tok.kind != T_NUMBER || !isfinite(ps->tok.num)) return error_at(ps, &ps->tok, "a finite number");
    if (list->n == ACTJIT_MAX_RANK) return error_at(ps, &ps->tok, "']' (at most " RANK_TEXT(ACTJIT_MAX_RANK) " values)");
    list->v[list->n++] = ps->tok.num;
    next(ps);
    if (is_punct(&ps->tok, ']')) break;
    if (!is_punct(&ps->tok, ',')) return error_at(ps, &ps->tok, "',' or ']'");
    next(ps);
  }
  next(ps);
  return ACTJIT_OK;
}

/* `{name = number, ...}`, a list attribute `name = [number, ...]`;
 * `inplace = 1` is PyTorch's inplace=True. */
static actjit_status parse_attrs(parser *ps, op_id op, double attr[OP_MAX_ATTRS], attr_list *list, bool *inplace) {
  next(ps);
  actjit_status st;
  bool seen[OP_MAX_ATTRS + 2] = {0};
  for (;;) {
    token nm = ps->tok;
    if (nm.kind != T_WORD) return error_at(ps, &nm, "an attribute name");
    int k = op_attr_index(op, nm.s, nm.len);
    bool is_inplace = op_table[op].kind == K_ELTWISE && is_word(&nm, "inplace");
    bool is_list = op_table[op].list_name && is_word(&nm, op_table[op].list_name);
    int slot = is_inplace ? OP_MAX_ATTRS : is_list ? OP_MAX_ATTRS + 1 : k;
    if (slot >= 0 && seen[slot])
      return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: attribute '%.*s' given twice", ps->g->file, nm.line,
                      nm.col, (int)nm.len, nm.s);
    if (slot >= 0) seen[slot] = true;
    char hint[SUGGEST_HINT_SIZE];
    if (k < 0 && !is_inplace && !is_list)
      return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: %s has no attribute '%.*s'%s", ps->g->file,
                      nm.line, nm.col, op_table[op].name, (int)nm.len, nm.s,
                      suggest_attr(op, op_table[op].kind == K_ELTWISE, nm.s, nm.len, hint));
    next(ps);
    if ((st = expect_punct(ps, '='))) return st;
    if (is_list) {
      if ((st = parse_list(ps, list))) return st;
    } else {
      if (ps->tok.kind != T_NUMBER || !isfinite(ps->tok.num)) return error_at(ps, &ps->tok, "a finite number");
      if (is_inplace && ps->tok.num != 0 && ps->tok.num != 1) return error_at(ps, &ps->tok, "0 or 1");
      if (is_inplace) *inplace = ps->tok.num == 1;
      else attr[k] = ps->tok.num;
      next(ps);
    }
    if (is_punct(&ps->tok, '}')) break;
    if (!is_punct(&ps->tok, ',')) return error_at(ps, &ps->tok, "',' or '}'");
    next(ps);
  }
  next(ps);
  return ACTJIT_OK;
}

/* `%y = op operands {attrs} : T` */
static actjit_status parse_op(parser *ps) {
  token res = ps->tok;
  next(ps);
  actjit_status st = expect_punct(ps, '=');
  if (st) return st;
  token opt = ps->tok;
  op_id op = opt.kind == T_WORD ? op_lookup(opt.s, opt.len) : OP_COUNT;
  char hint[SUGGEST_HINT_SIZE];
  if (opt.kind == T_WORD && op == OP_COUNT)
    return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: unknown op '%.*s'%s", ps->g->file, opt.line,
                    opt.col, (int)opt.len, opt.s, suggest_op(opt.s, opt.len, hint));
  if (op == OP_COUNT) return error_at(ps, &opt, "an op name");
  next(ps);
  int args[OP_MAX_ARGS], nargs = 0;
  float literal;
  while (ps->tok.kind == T_VALUE || ps->tok.kind == T_PARAM || float_token(&ps->tok, &literal)) {
    if (nargs == op_table[op].max_args)
      return error_at(ps, &ps->tok, nargs ? "no more operands" : "no operands");
    if (ps->tok.kind == T_VALUE || ps->tok.kind == T_PARAM) st = lookup_operand(ps, &ps->tok, &args[nargs]);
    else st = ir_add_const(ps->g, NULL, &(shape){0}, &literal, ps->tok.line, ps->tok.col, &args[nargs]);
    if (st) return st;
    nargs++;
    next(ps);
    if (!is_punct(&ps->tok, ',')) break;
    next(ps);
    if (ps->tok.kind != T_VALUE && ps->tok.kind != T_PARAM && !float_token(&ps->tok, &literal))
      return error_at(ps, &ps->tok, "an operand");
  }
  if (nargs < op_table[op].min_args) return error_at(ps, &ps->tok, "an operand");
  double attr[OP_MAX_ATTRS];
  attr_list list = {0};
  op_init_attrs(opt.s, opt.len, op, attr);
  bool inplace = false;
  if (is_punct(&ps->tok, '{') && (st = parse_attrs(ps, op, attr, &list, &inplace))) return st;
  shape declared;
  bool has_type = is_punct(&ps->tok, ':');
  if (has_type) {
    next(ps);
    if ((st = parse_type(ps, &declared, false))) return st;
  }
  if ((st = expect_eol(ps))) return st;
  char *nm = token_name(ps, &res);
  if (!nm) return ACTJIT_ERR_NOMEM;
  int v = -1;
  st = ir_add(ps->g, op, nm, args, nargs, attr, &list, NULL, opt.line, opt.col, &v);
  free(nm);
  if (st) return st;
  ps->g->nodes[v].group = ps->group;
  ps->g->nodes[v].inplace = inplace;
  const shape *inferred = &ps->g->nodes[v].shape;
  if (has_type && !shape_eq(&declared, inferred)) {
    char a[96], b[96];
    return aj_error(ps->g->ctx, ACTJIT_ERR_VERIFY, "%s:%d:%d: %s: declared type f32%s, inferred f32%s",
                    ps->g->file, opt.line, opt.col, op_table[op].name,
                    shape_str(&declared, a, sizeof a), shape_str(inferred, b, sizeof b));
  }
  return ACTJIT_OK;
}

static actjit_status parse_output(parser *ps) {
  next(ps);
  token t = ps->tok;
  if (t.kind != T_VALUE) return error_at(ps, &t, "a value name after output");
  int v = -1;
  actjit_status st = lookup_operand(ps, &t, &v);
  if (st) return st;
  if (ps->g->output >= 0) return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: a second output", ps->g->file, t.line, t.col);
  if (ps->g->nodes[v].op == OP_INPUT)
    return aj_error(ps->g->ctx, ACTJIT_ERR_VERIFY, "%s:%d:%d: output %%%s must be computed by an op", ps->g->file,
                    t.line, t.col, ps->g->nodes[v].name);
  next(ps);
  if ((st = expect_eol(ps))) return st;
  ps->g->output = v;
  return ACTJIT_OK;
}

/* `fuse {` opens a group, `}` closes it; only ops go inside. */
static actjit_status parse_group(parser *ps, bool open) {
  token t = ps->tok;
  if (open && ps->group)
    return aj_error(ps->g->ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: fuse groups do not nest", ps->g->file, t.line, t.col);
  next(ps);
  if (open) {
    actjit_status st = expect_punct(ps, '{');
    if (st) return st;
  }
  ps->group = open ? ++ps->groups : 0;
  return expect_eol(ps);
}

static actjit_status parse_statement(parser *ps) {
  token t = ps->tok;
  if (is_word(&t, "fuse")) return parse_group(ps, true);
  if (is_punct(&t, '}') && ps->group) return parse_group(ps, false);
  if (ps->group && t.kind != T_VALUE) return error_at(ps, &t, "an op or '}' inside fuse { }");
  if (is_word(&t, "input")) return parse_decl(ps, OP_INPUT);
  if (is_word(&t, "param")) return parse_decl(ps, OP_PARAM);
  if (is_word(&t, "const")) return parse_const(ps);
  if (is_word(&t, "output")) return parse_output(ps);
  if (t.kind == T_VALUE) return parse_op(ps);
  return error_at(ps, &t, "a statement (input, param, const, output or %name = op ...)");
}

actjit_status actjit_graph_parse(actjit_context *ctx, const char *text,
                                 size_t len, const char *filename,
                                 actjit_graph **out) {
  if (!ctx || !out || (!text && len)) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_parse: NULL argument");
  *out = NULL;
  /* A custom module's print-out shows its children, not what forward() does with them. */
  char cls[64];
  if (torch_seq_custom_module(text, len, cls, sizeof cls))
    return aj_error(ctx, ACTJIT_ERR_PARSE,
                    "%s:1: the print-out of custom module '%s' does not show forward(), so what it computes is unknown: "
                    "export the model with torch.onnx.export and give actjit the .onnx file",
                    filename ? filename : "<input>", cls);
  actjit_graph *g;
  actjit_status st = actjit_graph_create(ctx, &g);
  if (st) return st;
  g->file = aj_strndup(filename ? filename : "<input>", strlen(filename ? filename : "<input>"));
  if (!g->file) { actjit_graph_destroy(g); return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory"); }
  parser ps = {.g = g, .p = text ? text : "", .end = (text ? text : "") + len, .line = 1, .col = 1};
  for (next(&ps); ps.tok.kind != T_EOF && !st; next(&ps))
    if (ps.tok.kind != T_NEWLINE) st = parse_statement(&ps);
  if (!st && ps.group)
    st = aj_error(ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: expected '}' closing fuse { before end of file", g->file, ps.line, ps.col);
  if (!st && g->output < 0)
    st = aj_error(ctx, ACTJIT_ERR_PARSE, "%s:%d:%d: expected 'output %%name' before end of file", g->file, ps.line, ps.col);
  if (!st) st = actjit_graph_verify(g);
  if (st) { actjit_graph_destroy(g); return st; }
  *out = g;
  return ACTJIT_OK;
}

actjit_status actjit_graph_parse_file(actjit_context *ctx, const char *path,
                                      actjit_graph **out) {
  if (!ctx || !path || !out) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_parse_file: NULL argument");
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return aj_error(ctx, ACTJIT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      char *nb = realloc(buf, cap = cap ? 2 * cap : 4096);
      if (!nb) { free(buf); fclose(f); return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory"); }
      buf = nb;
    }
    errno = 0;
    size_t k = fread(buf + len, 1, cap - len, f);
    len += k;
    if (k == 0) break;
  }
  int bad = ferror(f) ? (errno ? errno : EIO) : 0;
  fclose(f);
  actjit_status st = bad ? aj_error(ctx, ACTJIT_ERR_IO, "%s: cannot read: %s", path, strerror(bad))
                         : actjit_graph_parse(ctx, buf, len, path, out);
  free(buf);
  return st;
}
