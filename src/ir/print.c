/* The printer: a graph as textual IR.  Its output parses back to the same
 * graph, and printing that gives the same text. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/print.h"

bool sb_printf(strbuf *sb, const char *fmt, ...) {
  if (sb->failed) return false;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = sb->cap - sb->len;
    int k = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, room, fmt, ap);
    va_end(ap);
    if (k < 0) return !(sb->failed = true);
    if ((size_t)k < room) {
      sb->len += (size_t)k;
      return true;
    }
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap - sb->len <= (size_t)k) cap *= 2;
    char *buf = realloc(sb->buf, cap);
    if (!buf) return !(sb->failed = true);
    sb->buf = buf;
    sb->cap = cap;
  }
}

/* Integers as such (20, not 2e+01), infinities and NaN by name; true if
 * v was one of those. */
static bool fmt_special(double v, char buf[32]) {
  /* The range test comes first: converting a double outside int64_t's range is undefined. */
  if (v > -1e6 && v < 1e6 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) snprintf(buf, 32, "%.0f", v);
  else if (isnan(v)) snprintf(buf, 32, "nan");
  else if (isinf(v)) snprintf(buf, 32, "%sinf", v < 0 ? "-" : "");
  else return false;
  return true;
}

/* Shortest decimal that reads back as the same double. */
void fmt_number(double v, char buf[32]) {
  for (int prec = 1; !fmt_special(v, buf) && prec <= 17; prec++) {
    snprintf(buf, 32, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

void fmt_float(float v, char buf[32]) {
  for (int prec = 1; !fmt_special(v, buf) && prec <= 9; prec++) {
    snprintf(buf, 32, "%.*g", prec, (double)v);
    if (strtof(buf, NULL) == v) return;
  }
}

void print_name(strbuf *sb, char sigil, const char *name) {
  if (ir_plain_name(name)) {
    sb_printf(sb, "%c%s", sigil, name);
    return;
  }
  sb_printf(sb, "%c\"", sigil);
  for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
    if (*c == '"' || *c == '\\') sb_printf(sb, "\\%c", *c);
    else if (*c < 0x20 || *c >= 0x7f) sb_printf(sb, "\\%02X", *c);
    else sb_printf(sb, "%c", *c);
  }
  sb_printf(sb, "\"");
}

static void print_type(strbuf *sb, const shape *s) {
  char buf[96];
  sb_printf(sb, " : f32%s", shape_str(s, buf, sizeof buf));
}

/* `const %c : f32[2] = [0.5, -1]` */
static void print_const(strbuf *sb, const node *nd) {
  sb_printf(sb, "const ");
  print_name(sb, '%', nd->name);
  print_type(sb, &nd->shape);
  int64_t n = shape_static_numel(&nd->shape);
  for (int64_t i = 0; i < n; i++) {
    char num[32];
    fmt_float(nd->data[i], num);
    sb_printf(sb, "%s%s", i ? ", " : " = [", num);
  }
  sb_printf(sb, "%s", n ? "]" : " = []");
}

void print_node(strbuf *sb, const actjit_graph *g, const node *nd) {
  const op_info *oi = &op_table[nd->op];
  if (nd->op == OP_CONST) {
    print_const(sb, nd);
    return;
  }
  if (oi->kind == K_SOURCE) {
    sb_printf(sb, "%s ", oi->name);
    print_name(sb, nd->op == OP_PARAM ? '@' : '%', nd->name);
  } else {
    print_name(sb, '%', nd->name);
    sb_printf(sb, " = %s", oi->name);
    for (int i = 0; i < nd->nargs; i++) {
      const node *a = &g->nodes[nd->args[i]];
      sb_printf(sb, "%s ", i ? "," : "");
      if (ir_is_scalar_const(g, nd->args[i])) {
        char num[32];
        fmt_float(a->data[0], num);
        sb_printf(sb, "%s", num);
      } else {
        print_name(sb, a->op == OP_PARAM ? '@' : '%', a->name);
      }
    }
    int nattr = 0;
    for (int i = 0; i < OP_MAX_ATTRS && oi->attr_name[i]; i++, nattr++) {
      char num[32];
      fmt_number(nd->attr[i], num);
      sb_printf(sb, "%s%s = %s", i ? ", " : " {", oi->attr_name[i], num);
    }
    for (int i = 0; i < nd->list.n; i++) {
      char num[32];
      fmt_number(nd->list.v[i], num);
      if (!i) sb_printf(sb, "%s%s = [", nattr++ ? ", " : " {", oi->list_name);
      sb_printf(sb, "%s%s%s", i ? ", " : "", num, i == nd->list.n - 1 ? "]" : "");
    }
    if (nd->inplace) sb_printf(sb, "%sinplace = 1", nattr++ ? ", " : " {");
    if (nattr) sb_printf(sb, "}");
  }
  print_type(sb, &nd->shape);
}

static void print_range(strbuf *sb, const node *nd) {
  if (nd->range.lo == -INFINITY && nd->range.hi == INFINITY) return;
  char lo[32], hi[32];
  fmt_number(nd->range.lo, lo);
  fmt_number(nd->range.hi, hi);
  sb_printf(sb, "  # in [%s, %s]", lo, hi);
}

static void print_line(strbuf *sb, const actjit_graph *g, const node *nd, bool ranges) {
  sb_printf(sb, "%s", nd->group ? "  " : "");
  print_node(sb, g, nd);
  if (ranges) print_range(sb, nd);
  sb_printf(sb, "\n");
}

/* Nodes in order, except that a fusion group is printed as one block where
 * its last member stands: its members need not be adjacent (a param may sit
 * between them), and every operand of a member is defined before that. */
static void print_graph_with(strbuf *sb, const actjit_graph *g, bool ranges) {
  for (int i = 0; i < g->n; i++) {
    if (ir_is_scalar_const(g, i)) continue; /* written where it is used */
    int group = g->nodes[i].group;
    bool last = true;
    for (int j = i + 1; group && last && j < g->n; j++) last = g->nodes[j].group != group;
    if (!group) print_line(sb, g, &g->nodes[i], ranges);
    if (!group || !last) continue;
    sb_printf(sb, "fuse {\n");
    for (int j = 0; j <= i; j++)
      if (g->nodes[j].group == group) print_line(sb, g, &g->nodes[j], ranges);
    sb_printf(sb, "}\n");
  }
  if (g->output >= 0) {
    sb_printf(sb, "output ");
    print_name(sb, '%', g->nodes[g->output].name);
    sb_printf(sb, "\n");
  }
}

void print_graph(strbuf *sb, const actjit_graph *g) { print_graph_with(sb, g, false); }
void print_graph_ranges(strbuf *sb, const actjit_graph *g) { print_graph_with(sb, g, true); }

actjit_status actjit_graph_print(const actjit_graph *g, char **text) {
  if (!g) return ACTJIT_ERR_ARGUMENT;
  if (!text) return aj_error(g->ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_print: text is NULL");
  strbuf sb = {0};
  print_graph(&sb, g);
  if (sb.failed || !sb_printf(&sb, "%s", "")) {
    free(sb.buf);
    return aj_error(g->ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  *text = sb.buf;
  return ACTJIT_OK;
}
