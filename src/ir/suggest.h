/* "Did you mean" for unknown names, as clang and rustc give: the closest
 * known name by edit distance (insertions, deletions, substitutions and
 * swaps of neighbouring characters), letters compared without case, within
 * max(1, len/3) edits of the word typed; among equally close names the one
 * closest with case counted, then the first offered.  Nothing allocates. */
#ifndef ACTJIT_SUGGEST_H
#define ACTJIT_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ops.h"

/* Room for a hint naming a candidate of up to SUGGEST_MAX_LEN bytes. */
#define SUGGEST_MAX_LEN 64
#define SUGGEST_HINT_SIZE (SUGGEST_MAX_LEN + 24)

typedef struct suggest {
  const char *word; /* what was typed, not NUL-terminated */
  size_t len;
  const char *best; /* closest candidate so far within the threshold, or NULL */
  int dist, case_dist;
} suggest;

void suggest_init(suggest *s, const char *word, size_t len);
/* Offers one known name (NULL is ignored). */
void suggest_offer(suggest *s, const char *candidate);
/* " (did you mean 'x'?)" for the closest name offered, or "" if none is
 * close enough; written into buf, which is returned. */
const char *suggest_hint(const suggest *s, char buf[SUGGEST_HINT_SIZE]);

/* The hint for an unknown op name, among the ops of the table. */
const char *suggest_op(const char *word, size_t len, char buf[SUGGEST_HINT_SIZE]);
/* The hint for an unknown attribute of op; `inplace` offers inplace too. */
const char *suggest_attr(op_id op, bool inplace, const char *word, size_t len, char buf[SUGGEST_HINT_SIZE]);

#endif
