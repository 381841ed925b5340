/* Text output: a growable string buffer and the IR printer. */
#ifndef ACTJIT_PRINT_H
#define ACTJIT_PRINT_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"

typedef struct strbuf {
  char *buf;
  size_t len, cap;
  bool failed; /* an allocation failed; the text is incomplete */
} strbuf;

bool sb_printf(strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fmt_number(double v, char buf[32]);
/* Shortest decimal that reads back (strtof) as the same float. */
void fmt_float(float v, char buf[32]);
/* A name with its sigil (% or @), quoted and escaped unless plain. */
void print_name(strbuf *sb, char sigil, const char *name);
void print_node(strbuf *sb, const actjit_graph *g, const node *nd);
void print_graph(strbuf *sb, const actjit_graph *g);
/* print_graph with each bounded value's range as a trailing comment,
 * "# in [0, 1]". */
void print_graph_ranges(strbuf *sb, const actjit_graph *g);

#endif
