/* Mutated inputs for both front ends: every pipeline in ir/ (textual IR)
 * and every print-out in tests/torch_seq (PyTorch nn.Sequential), each
 * mutated many times by a seeded generator (bytes flipped, spans cut,
 * repeated or swapped, tokens of the language spliced in, the text
 * truncated).  Each mutant is parsed from an exactly sized heap copy with
 * no terminating NUL (so an ASan build catches reads past the end) and must
 * give either a graph that prints and parses back to the same text, or a
 * parse/verify error with a one-line message that names the file.  No
 * crash, no abort, no leak (the sanitizer build and valgrind check those).
 */
#define _DEFAULT_SOURCE /* access */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actjit.h"
#include "frontend/torch_seq.h"
#include "io/npy.h"
#include "testutil.h"

enum { MUTANTS_PER_FILE = 4000, MAX_TEXT = 1 << 16 };

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Du;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Pieces of both languages, and values that stress number parsing. */
static const char *const TOKENS[] = {
    "%",     "@",      "{",   "}",    "=",        ":",        ",",        "[",      "]",       "(",
    ")",     "\n",     " ",   "#",    "f32",      "N",        "-1",       "0",      "1e309",   "nan",
    "inf",   "-0.0",   "1.5", "9999999999999999999", "dim", "p",   "output", "input",  "param",  "linear",
    "relu",  "softmax", "dropout", "Linear(", "in_features=", "out_features=", "bias=True", "ReLU()", "Sequential(",
    "inplace=True", "\xef\xbb\xbf", "\t", "\"", "\\", "\x80", ">", "...", "0x10", "1e-45"};

/* One mutation of text[0..*len) in place (capacity MAX_TEXT). */
static void mutate(char *text, size_t *len) {
  size_t n = *len, at = below(n + 1), span = 1 + below(16);
  if (span > n - at) span = n - at;
  switch (below(6)) {
  case 0: /* flip bits of one byte */
    if (n) text[below(n)] ^= (char)(1u << below(8));
    break;
  case 1: /* cut a span */
    memmove(text + at, text + at + span, n - at - span);
    *len = n - span;
    break;
  case 2: /* repeat a span */
    if (n + span <= MAX_TEXT) {
      memmove(text + at + span, text + at, n - at);
      *len = n + span;
    }
    break;
  case 3: { /* splice in a token */
    const char *t = TOKENS[below(sizeof TOKENS / sizeof *TOKENS)];
    size_t tl = strlen(t);
    if (n + tl <= MAX_TEXT) {
      memmove(text + at + tl, text + at, n - at);
      memcpy(text + at, t, tl);
      *len = n + tl;
    }
    break;
  }
  case 4: { /* swap two bytes */
    if (n) {
      size_t i = below(n), j = below(n);
      char c = text[i];
      text[i] = text[j];
      text[j] = c;
    }
    break;
  }
  default: /* truncate */
    *len = at;
    break;
  }
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(MAX_TEXT);
  *len = buf ? fread(buf, 1, MAX_TEXT, f) : 0;
  fclose(f);
  return buf;
}

typedef struct stats {
  long parsed, rejected;
} stats;

/* The input shape a print-out is read with (rank 0: the textual IR). */
typedef struct in_shape {
  int rank;
  int64_t dims[NPY_MAX_RANK];
} in_shape;

/* Parses one mutant; checks the outcome as the header comment says. */
static void check_mutant(actjit_context *ctx, const char *text, size_t len, const in_shape *in, const char *label,
                         const char *origin, stats *st) {
  char *copy = malloc(len ? len : 1); /* exactly sized, no NUL */
  assert_non_null(copy);
  memcpy(copy, text, len);
  actjit_graph *g = NULL;
  actjit_status s = in->rank ? torch_seq_parse(ctx, copy, len, label, in->rank, in->dims, &g)
                             : actjit_graph_parse(ctx, copy, len, label, &g);
  free(copy);
  if (s == ACTJIT_OK) {
    assert_non_null(g);
    char *printed = NULL, *again = NULL;
    assert_int_equal(actjit_graph_print(g, &printed), ACTJIT_OK);
    actjit_graph *g2 = NULL;
    if (actjit_graph_parse(ctx, printed, strlen(printed), "printed.air", &g2))
      fail_msg("mutant of %s parsed, but its print-out does not: %s\n%s", origin, actjit_context_error(ctx), printed);
    assert_int_equal(actjit_graph_print(g2, &again), ACTJIT_OK);
    if (strcmp(printed, again)) fail_msg("mutant of %s: print-out changes on reparse:\n%s\n---\n%s", origin, printed, again);
    actjit_free(printed);
    actjit_free(again);
    actjit_graph_destroy(g2);
    actjit_graph_destroy(g);
    st->parsed++;
    return;
  }
  assert_null(g);
  const char *msg = actjit_context_error(ctx);
  if (s != ACTJIT_ERR_PARSE && s != ACTJIT_ERR_VERIFY)
    fail_msg("mutant of %s: status %s (%s)", origin, actjit_status_name(s), msg);
  if (!msg[0] || strchr(msg, '\n')) fail_msg("mutant of %s: message not one line: '%s'", origin, msg);
  if (!strstr(msg, label)) fail_msg("mutant of %s: message does not name the file: '%s'", origin, msg);
  st->rejected++;
}

/* Mutants of one file, each built on the last few (so mutations stack up)
 * and restarted from the original now and then. */
static void mutate_file(const char *path, const in_shape *in, stats *st) {
  size_t orig_len;
  char *orig = read_file(path, &orig_len);
  if (!orig) fail_msg("cannot read %s", path);
  char *text = malloc(MAX_TEXT);
  assert_non_null(text);
  actjit_context *ctx;
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  stats first = {0};
  check_mutant(ctx, orig, orig_len, in, "mutant.txt", path, &first);
  if (!first.parsed) fail_msg("%s itself does not parse: %s", path, actjit_context_error(ctx));
  size_t len = 0;
  for (int i = 0; i < MUTANTS_PER_FILE; i++) {
    if (i % 4 == 0) {
      memcpy(text, orig, orig_len);
      len = orig_len;
    }
    mutate(text, &len);
    check_mutant(ctx, text, len, in, "mutant.txt", path, st);
  }
  actjit_context_destroy(ctx);
  free(text);
  free(orig);
}

static void test_ir_mutants(void **state) {
  (void)state;
  static char paths[64][TU_PATH_MAX];
  int files = tu_ir_files(paths, 64);
  assert_true(files >= 5);
  stats st = {0};
  for (int i = 0; i < files; i++) mutate_file(paths[i], &(in_shape){0}, &st);
  /* Both outcomes must occur, or the mutations test nothing. */
  assert_true(st.parsed > 0 && st.rejected > 0);
  print_message("%d files: %ld mutants parsed, %ld rejected\n", files, st.parsed, st.rejected);
}

static void test_torch_mutants(void **state) {
  (void)state;
  DIR *d = opendir(ACTJIT_SOURCE_DIR "/tests/torch_seq");
  assert_non_null(d);
  stats st = {0};
  int files = 0;
  for (struct dirent *e; (e = readdir(d));) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/tests/torch_seq/%s/model.txt", ACTJIT_SOURCE_DIR, e->d_name);
    if (e->d_name[0] == '.' || access(path, R_OK)) continue; /* not a case */
    /* The case's input gives the shape, its batch made dynamic. */
    snprintf(path, sizeof path, "%s/tests/torch_seq/%s/x.npy", ACTJIT_SOURCE_DIR, e->d_name);
    npy_array x;
    if (npy_read(path, &x, err, sizeof err)) {
      snprintf(path, sizeof path, "%s/tests/torch_seq/%s/x_b1.npy", ACTJIT_SOURCE_DIR, e->d_name);
      if (npy_read(path, &x, err, sizeof err)) fail_msg("%s", err);
    }
    in_shape in = {.rank = x.rank};
    memcpy(in.dims, x.dims, sizeof in.dims);
    in.dims[0] = ACTJIT_DYN;
    npy_free(&x);
    snprintf(path, sizeof path, "%s/tests/torch_seq/%s/model.txt", ACTJIT_SOURCE_DIR, e->d_name);
    mutate_file(path, &in, &st);
    files++;
  }
  closedir(d);
  assert_true(files >= 10);
  assert_true(st.parsed > 0 && st.rejected > 0);
  print_message("%d files: %ld mutants parsed, %ld rejected\n", files, st.parsed, st.rejected);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_ir_mutants), cmocka_unit_test(test_torch_mutants)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
