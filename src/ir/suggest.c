#include "ir/suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool same(char x, char y, bool fold) {
  return fold ? tolower((unsigned char)x) == tolower((unsigned char)y) : x == y;
}

/* Optimal string alignment distance between a[0..n) and b[0..m), both at
 * most SUGGEST_MAX_LEN long; `fold` compares letters without case. */
static int distance(const char *a, size_t n, const char *b, size_t m, bool fold) {
  int rows[3][SUGGEST_MAX_LEN + 1];
  int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= m; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int d = prev[j - 1] + !same(a[i - 1], b[j - 1], fold);
      if (prev[j] + 1 < d) d = prev[j] + 1;
      if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2], fold) && same(a[i - 2], b[j - 1], fold) && prev2[j - 2] + 1 < d)
        d = prev2[j - 2] + 1;
      cur[j] = d;
    }
    int *t = prev2;
    prev2 = prev, prev = cur, cur = t;
  }
  return prev[m];
}

void suggest_init(suggest *s, const char *word, size_t len) { *s = (suggest){.word = word, .len = len}; }

void suggest_offer(suggest *s, const char *candidate) {
  if (!candidate || s->len > SUGGEST_MAX_LEN) return;
  size_t m = strlen(candidate);
  if (m > SUGGEST_MAX_LEN || (m == s->len && !memcmp(candidate, s->word, m))) return;
  int limit = s->len / 3 > 1 ? (int)(s->len / 3) : 1;
  int d = distance(s->word, s->len, candidate, m, true);
  if (d > limit) return;
  int cd = distance(s->word, s->len, candidate, m, false);
  if (!s->best || d < s->dist || (d == s->dist && cd < s->case_dist)) {
    s->best = candidate;
    s->dist = d;
    s->case_dist = cd;
  }
}

const char *suggest_hint(const suggest *s, char buf[SUGGEST_HINT_SIZE]) {
  if (s->best) snprintf(buf, SUGGEST_HINT_SIZE, " (did you mean '%s'?)", s->best);
  else buf[0] = '\0';
  return buf;
}

const char *suggest_op(const char *word, size_t len, char buf[SUGGEST_HINT_SIZE]) {
  suggest s;
  suggest_init(&s, word, len);
  for (int i = 0; i < OP_COUNT; i++)
    if (op_table[i].kind != K_SOURCE) suggest_offer(&s, op_table[i].name);
  return suggest_hint(&s, buf);
}

const char *suggest_attr(op_id op, bool inplace, const char *word, size_t len, char buf[SUGGEST_HINT_SIZE]) {
  suggest s;
  suggest_init(&s, word, len);
  for (int i = 0; i < OP_MAX_ATTRS; i++) suggest_offer(&s, op_table[op].attr_name[i]);
  suggest_offer(&s, op_table[op].list_name);
  if (inplace) suggest_offer(&s, "inplace");
  return suggest_hint(&s, buf);
}
