#include "ops.h"

#include <string.h>

#define X(id, nm, kd, lo, hi, n0, d0, n1, d1) \
  [OP_##id] = {nm, K_##kd, lo, hi, {n0, n1}, {d0, d1}},
const op_info op_table[OP_COUNT] = {OPS(X)};
#undef X

static int name_is(const char *s, const char *name, size_t len) {
  return s && strlen(s) == len && memcmp(s, name, len) == 0;
}

op_id op_lookup(const char *name, size_t len) {
  for (int i = 0; i < OP_COUNT; i++)
    if (op_table[i].kind != K_SOURCE && name_is(op_table[i].name, name, len))
      return (op_id)i;
  return OP_COUNT;
}

int op_attr_index(op_id op, const char *name, size_t len) {
  for (int i = 0; i < OP_MAX_ATTRS; i++)
    if (name_is(op_table[op].attr_name[i], name, len)) return i;
  return -1;
}
