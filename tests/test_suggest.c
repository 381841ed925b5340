/* The "did you mean" helper (src/suggest.c): which candidate it picks, the
 * edit-distance threshold, case handling, and the hint's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ir/suggest.h"

/* The hint for `word` among the NULL-terminated candidates. */
static const char *hint_among(const char *word, const char *const *cands, char buf[SUGGEST_HINT_SIZE]) {
  suggest s;
  suggest_init(&s, word, strlen(word));
  for (; *cands; cands++) suggest_offer(&s, *cands);
  return suggest_hint(&s, buf);
}

static void test_picks_closest(void **state) {
  (void)state;
  char b[SUGGEST_HINT_SIZE];
  static const char *const ops[] = {"relu", "relu6", "elu", "selu", "gelu", NULL};
  /* A swap of neighbours is one edit, so relu (1) beats elu (2). */
  assert_string_equal(hint_among("rleu", ops, b), " (did you mean 'relu'?)");
  assert_string_equal(hint_among("relu66", ops, b), " (did you mean 'relu6'?)");
  static const char *const cpus[] = {"skylake", "skylake-avx512", "cascadelake", NULL};
  assert_string_equal(hint_among("skylake-avx51", cpus, b), " (did you mean 'skylake-avx512'?)");
  static const char *const attrs[] = {"dim", NULL};
  assert_string_equal(hint_among("dims", attrs, b), " (did you mean 'dim'?)");
}

static void test_case(void **state) {
  (void)state;
  char b[SUGGEST_HINT_SIZE];
  /* Case does not count as an edit: Relu is ReLU, not ReLU6 or Tanh. */
  static const char *const mods[] = {"ReLU6", "Tanh", "ReLU", NULL};
  assert_string_equal(hint_among("Relu", mods, b), " (did you mean 'ReLU'?)");
  /* Equally close without case: the one closer with case wins, in either order. */
  static const char *const ab[] = {"gelu", "GELU", NULL}, *const ba[] = {"GELU", "gelu", NULL};
  assert_string_equal(hint_among("GELu", ab, b), " (did you mean 'GELU'?)");
  assert_string_equal(hint_among("GELu", ba, b), " (did you mean 'GELU'?)");
  assert_string_equal(hint_among("geLu", ba, b), " (did you mean 'gelu'?)");
}

static void test_threshold(void **state) {
  (void)state;
  char b[SUGGEST_HINT_SIZE];
  /* max(1, len/3) edits: 1 for a 5-letter word, 2 for a 6-letter one. */
  static const char *const c6[] = {"abcdef", NULL}, *const c7[] = {"abcdefg", NULL}, *const c8[] = {"abcdefgh", NULL},
                           *const c9[] = {"abcdefghi", NULL};
  assert_string_equal(hint_among("abcde", c6, b), " (did you mean 'abcdef'?)");
  assert_string_equal(hint_among("abcde", c7, b), "");
  assert_string_equal(hint_among("abcdef", c8, b), " (did you mean 'abcdefgh'?)");
  assert_string_equal(hint_among("abcdef", c9, b), "");
  static const char *const far[] = {"Linear", "ReLU", "Softmax", "Dropout", NULL};
  assert_string_equal(hint_among("BatchNorm1d", far, b), "");
  /* One letter off a one-letter name is within reach. */
  static const char *const p[] = {"p", NULL};
  assert_string_equal(hint_among("q", p, b), " (did you mean 'p'?)");
  /* The word itself is not a suggestion, nor is anything for an empty list. */
  static const char *const same[] = {"relu", NULL}, *const none[] = {NULL};
  assert_string_equal(hint_among("relu", same, b), "");
  assert_string_equal(hint_among("relu", none, b), "");
  /* Names longer than SUGGEST_MAX_LEN are never compared. */
  char longw[SUGGEST_MAX_LEN + 2];
  memset(longw, 'a', sizeof longw - 1);
  longw[sizeof longw - 1] = '\0';
  const char *const shorter[] = {longw + 1, NULL};
  assert_string_equal(hint_among(longw, shorter, b), "");
}

static void test_op_table(void **state) {
  (void)state;
  char b[SUGGEST_HINT_SIZE];
  assert_string_equal(suggest_op("softmx", 6, b), " (did you mean 'softmax'?)");
  assert_string_equal(suggest_op("Tanh", 4, b), " (did you mean 'tanh'?)");
  assert_string_equal(suggest_op("input", 5, b), ""); /* declarations are not ops */
  assert_string_equal(suggest_op("frobnicate", 10, b), "");
  assert_string_equal(suggest_attr(OP_SOFTMAX, false, "dims", 4, b), " (did you mean 'dim'?)");
  assert_string_equal(suggest_attr(OP_HARDTANH, false, "max_vale", 8, b), " (did you mean 'max_val'?)");
  assert_string_equal(suggest_attr(OP_RELU, true, "inplce", 6, b), " (did you mean 'inplace'?)");
  assert_string_equal(suggest_attr(OP_RELU, false, "inplce", 6, b), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_picks_closest),
      cmocka_unit_test(test_case),
      cmocka_unit_test(test_threshold),
      cmocka_unit_test(test_op_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
