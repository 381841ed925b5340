/* .npy reader and writer for '<f4' arrays.  Format reference:
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html */
#define _POSIX_C_SOURCE 200809L /* fileno */

#include "io/npy.h"

#include "io/io_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c copies '<f4' bytes straight into floats: little-endian only"
#endif

static const char magic[] = "\x93NUMPY";
#define MAGIC_LEN (sizeof magic - 1)

/* Longest shape repr: "(" + 8 x "-9223372036854775808, " + ")". */
#define SHAPE_STR_MAX (2 + NPY_MAX_RANK * 22)


/* Python's tuple repr, as numpy writes it: "()", "(3,)", "(3, 4)". */
static const char *shape_str(char buf[SHAPE_STR_MAX], int rank,
                             const int64_t *dims)
{
  int n = snprintf(buf, SHAPE_STR_MAX, "(");
  for (int i = 0; i < rank; i++)
    n += snprintf(buf + n, SHAPE_STR_MAX - (size_t)n, i ? ", %lld" : "%lld",
                  (long long)dims[i]);
  snprintf(buf + n, SHAPE_STR_MAX - (size_t)n, rank == 1 ? ",)" : ")");
  return buf;
}

int npy_shape_count(int rank, const int64_t *dims, size_t *count)
{
  if (rank < 0 || rank > NPY_MAX_RANK)
    return -1;
  bool zero = false;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0)
      return -1;
    zero |= dims[i] == 0;
  }
  /* A zero dim makes the array empty however large the others are. */
  size_t n = zero ? 0 : 1;
  for (int i = 0; i < rank && !zero; i++) {
    if ((uint64_t)dims[i] > SIZE_MAX / sizeof(float) / n)
      return -1;
    n *= (size_t)dims[i];
  }
  *count = n;
  return 0;
}

void npy_free(npy_array *a)
{
  if (!a)
    return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ header dict */

/* The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * parsed here with just enough of Python's grammar: quoted strings without
 * escapes, True/False, and tuples of non-negative integers. */
typedef struct cursor {
  const char *p, *end, *start;
} cursor;

static void skip_ws(cursor *c)
{
  while (c->p < c->end &&
         (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
    c->p++;
}

static bool eat(cursor *c, char ch)
{
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return true;
  }
  return false;
}

static int syntax(const io_ctx *x, const cursor *c, const char *expected)
{
  if (c->p >= c->end)
    return io_fail(x, "malformed header: expected %s, found end of header",
                expected);
  unsigned char ch = (unsigned char)*c->p;
  char found[5] = {(char)ch};
  if (ch < 0x20 || ch >= 0x7f)
    snprintf(found, sizeof found, "\\x%02x", ch);
  return io_fail(x, "malformed header at byte %d: expected %s, found '%s'",
              (int)(c->p - c->start), expected, found);
}

static int parse_str(const io_ctx *x, cursor *c, const char **s, size_t *len)
{
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    return syntax(x, c, "a quoted string");
  char quote = *c->p++;
  const char *begin = c->p;
  for (; c->p < c->end && *c->p != quote; c->p++) {
    if ((unsigned char)*c->p < 0x20)
      return syntax(x, c, "a closing quote");
    if (*c->p == '\\')
      return syntax(x, c, "a string without escapes");
  }
  if (c->p >= c->end)
    return syntax(x, c, "a closing quote");
  *s = begin;
  *len = (size_t)(c->p++ - begin);
  return 0;
}

static int parse_bool(const io_ctx *x, cursor *c, bool *v)
{
  skip_ws(c);
  size_t left = (size_t)(c->end - c->p);
  *v = left >= 4 && !memcmp(c->p, "True", 4);
  if (*v || (left >= 5 && !memcmp(c->p, "False", 5))) {
    c->p += *v ? 4 : 5;
    return 0;
  }
  return syntax(x, c, "True or False");
}

static int parse_dim(const io_ctx *x, cursor *c, int64_t *d)
{
  skip_ws(c);
  if (c->p >= c->end || *c->p < '0' || *c->p > '9')
    return syntax(x, c, "a non-negative integer");
  int64_t v = 0;
  for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
    int digit = *c->p - '0';
    if (v > (INT64_MAX - digit) / 10)
      return io_fail(x, "a dimension in 'shape' overflows int64");
    v = v * 10 + digit;
  }
  if (c->p < c->end && *c->p == 'L') /* Python 2 long suffix (old files) */
    c->p++;
  *d = v;
  return 0;
}

static int parse_shape(const io_ctx *x, cursor *c, npy_array *a)
{
  if (!eat(c, '('))
    return syntax(x, c, "a tuple '(' for 'shape'");
  while (!eat(c, ')')) {
    if (a->rank == NPY_MAX_RANK)
      return io_fail(x, "'shape' has more than %d dimensions (the maximum rank)",
                  NPY_MAX_RANK);
    if (parse_dim(x, c, &a->dims[a->rank++]))
      return -1;
    if (!eat(c, ',')) {
      if (!eat(c, ')'))
        return syntax(x, c, "',' or ')' in 'shape'");
      break;
    }
  }
  return 0;
}

enum { KEY_DESCR, KEY_FORTRAN, KEY_SHAPE, NKEYS };
static const char *const key_names[NKEYS] = {"descr", "fortran_order",
                                             "shape"};

typedef struct header {
  const char *descr;
  size_t descr_len;
  bool fortran;
  unsigned seen; /* bit k: key_names[k] was present */
} header;

static int key_index(const char *s, size_t len)
{
  for (int k = 0; k < NKEYS; k++)
    if (strlen(key_names[k]) == len && !memcmp(key_names[k], s, len))
      return k;
  return -1;
}

static int parse_entry(const io_ctx *x, cursor *c, header *h, npy_array *a)
{
  const char *key;
  size_t len;
  if (parse_str(x, c, &key, &len))
    return -1;
  int k = key_index(key, len);
  if (k < 0)
    return io_fail(x, "header has unexpected key '%.*s' (expected 'descr', "
                   "'fortran_order' and 'shape')", (int)len, key);
  if (h->seen & 1u << k)
    return io_fail(x, "header repeats key '%s'", key_names[k]);
  h->seen |= 1u << k;
  if (!eat(c, ':'))
    return syntax(x, c, "':'");
  switch (k) {
  case KEY_DESCR:
    return parse_str(x, c, &h->descr, &h->descr_len);
  case KEY_FORTRAN:
    return parse_bool(x, c, &h->fortran);
  default:
    return parse_shape(x, c, a);
  }
}

static int parse_dict(const io_ctx *x, const char *text, size_t len,
                      header *h, npy_array *a)
{
  cursor c = {text, text + len, text};
  if (!eat(&c, '{'))
    return syntax(x, &c, "'{'");
  while (!eat(&c, '}')) {
    if (parse_entry(x, &c, h, a))
      return -1;
    if (!eat(&c, ',')) {
      if (!eat(&c, '}'))
        return syntax(x, &c, "',' or '}'");
      break;
    }
  }
  skip_ws(&c);
  if (c.p != c.end)
    return syntax(x, &c, "end of header after '}'");
  for (int k = 0; k < NKEYS; k++)
    if (!(h->seen & 1u << k))
      return io_fail(x, "header lacks key '%s'", key_names[k]);
  return 0;
}

/* Parses the header and checks it describes an array we can load. */
static int check_header(const io_ctx *x, const char *text, size_t len,
                        npy_array *a)
{
  header h = {0};
  if (parse_dict(x, text, len, &h, a))
    return -1;
  if (h.descr_len != 3 || memcmp(h.descr, "<f4", 3))
    return io_fail(x, "unsupported dtype '%.*s' (expected '<f4', little-endian "
                   "float32)", (int)h.descr_len, h.descr);
  if (h.fortran)
    return io_fail(x, "fortran_order is True (expected False: only C-order "
                   "arrays are supported)");
  return 0;
}

/* ------------------------------------------------------------------- read */

static int read_exact(const io_ctx *x, FILE *f, void *buf, size_t n,
                      const char *what)
{
  /* The sizes were checked against the file's: an early end is the file
   * changing under us, a system failure as much as a read error. */
  if (n && fread(buf, 1, n, f) != n)
    return io_fail_as(x, IO_SYSTEM, "cannot read %s: %s", what,
                      ferror(f) ? strerror(errno) : "unexpected end of file");
  return 0;
}

static int read_header(const io_ctx *x, FILE *f, size_t len, npy_array *a)
{
  char *text = malloc(len ? len : 1);
  if (!text)
    return io_fail_as(x, IO_NOMEM, "out of memory for a %zu-byte header", len);
  int rc = read_exact(x, f, text, len, "header");
  if (!rc)
    rc = check_header(x, text, len, a);
  free(text);
  return rc;
}

static uint64_t le_uint(const unsigned char *p, int n)
{
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* Reads the preamble (magic, version, header length).  Sizes are checked
 * against the file size up front so a lying length never drives a read. */
static int read_preamble(const io_ctx *x, FILE *f, uint64_t size,
                         uint64_t *pre_len, uint64_t *hlen)
{
  unsigned char pre[12];
  if (size < 8)
    return io_fail(x, "truncated: file is %llu bytes, too short for the .npy "
                   "magic and version", (unsigned long long)size);
  int rc = read_exact(x, f, pre, 8, "preamble");
  if (rc)
    return rc;
  if (!memcmp(pre, "PK\x03\x04", 4))
    return io_fail(x, "not a .npy file but a zip archive (what np.savez "
                   "writes); save one float32 array with np.save");
  if (memcmp(pre, magic, MAGIC_LEN)) {
    char found[MAGIC_LEN * 4 + 1];
    for (size_t i = 0; i < MAGIC_LEN; i++)
      snprintf(found + 4 * i, 5, "\\x%02x", pre[i]);
    return io_fail(x, "not a .npy file: it starts with %s, not the magic "
                   "\\x93NUMPY", found);
  }
  if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
    return io_fail(x, "unsupported .npy format version %d.%d (expected 1.0, "
                   "2.0 or 3.0)", pre[6], pre[7]);
  int len_bytes = pre[6] == 1 ? 2 : 4;
  *pre_len = 8 + (uint64_t)len_bytes;
  if (size < *pre_len)
    return io_fail(x, "truncated: file is %llu bytes, too short for the "
                   "%llu-byte version %d.0 preamble",
                (unsigned long long)size, (unsigned long long)*pre_len,
                pre[6]);
  if ((rc = read_exact(x, f, pre + 8, (size_t)len_bytes, "preamble")))
    return rc;
  *hlen = le_uint(pre + 8, len_bytes);
  if (*hlen > size - *pre_len)
    return io_fail(x, "truncated header: its length field says %llu bytes but "
                   "only %llu follow", (unsigned long long)*hlen,
                (unsigned long long)(size - *pre_len));
  return 0;
}

static int read_stream(const io_ctx *x, FILE *f, npy_array *a)
{
  struct stat st;
  if (fstat(fileno(f), &st))
    return io_fail_as(x, IO_SYSTEM, "cannot stat: %s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    return io_fail_as(x, IO_SYSTEM, "not a regular file");
  uint64_t size = (uint64_t)st.st_size, pre_len = 0, hlen = 0;
  int rc = read_preamble(x, f, size, &pre_len, &hlen);
  if (rc || (rc = read_header(x, f, (size_t)hlen, a)))
    return rc;

  char shape[SHAPE_STR_MAX];
  if (npy_shape_count(a->rank, a->dims, &a->count))
    return io_fail(x, "shape %s overflows: too many elements",
                shape_str(shape, a->rank, a->dims));
  uint64_t have = size - pre_len - hlen, want = a->count * sizeof(float);
  if (have != want)
    return io_fail(x, "%s: %llu data bytes, but float32 shape %s needs %llu",
                have < want ? "truncated data" : "trailing bytes",
                (unsigned long long)have, shape_str(shape, a->rank, a->dims),
                (unsigned long long)want);
  if (!want)
    return 0;
  if (!(a->data = malloc(want)))
    return io_fail_as(x, IO_NOMEM, "out of memory for %llu bytes of data",
                      (unsigned long long)want);
  return read_exact(x, f, a->data, want, "data");
}

int npy_read(const char *path, npy_array *out, char *err, size_t errlen)
{
  io_ctx x = {path, err, errlen};
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f)
    return io_fail_as(&x, IO_SYSTEM, "cannot open: %s", strerror(errno));
  int rc = read_stream(&x, f, out);
  fclose(f);
  if (rc)
    npy_free(out);
  return rc;
}

/* ------------------------------------------------------------------ write */

/* Longest version 1.0 header: preamble, dict, padding to 64 bytes. */
#define HEADER_MAX 384

/* A version 1.0 header exactly as numpy writes it: the dict padded with
 * spaces and ended by '\n' so that the data starts 64-byte aligned. */
static size_t make_header(char buf[HEADER_MAX], int rank, const int64_t *dims)
{
  char shape[SHAPE_STR_MAX];
  memcpy(buf, magic, MAGIC_LEN);
  buf[6] = 1;
  buf[7] = 0;
  int dict = snprintf(buf + 10, HEADER_MAX - 10,
                      "{'descr': '<f4', 'fortran_order': False, "
                      "'shape': %s, }", shape_str(shape, rank, dims));
  size_t total = (10 + (size_t)dict + 1 + 63) / 64 * 64;
  memset(buf + 10 + dict, ' ', total - 11 - (size_t)dict);
  buf[total - 1] = '\n';
  buf[8] = (char)((total - 10) & 0xff);
  buf[9] = (char)((total - 10) >> 8);
  return total;
}

int npy_write(const char *path, int rank, const int64_t *dims,
              const float *data, char *err, size_t errlen)
{
  io_ctx x = {path, err, errlen};
  size_t count;
  if (rank < 0 || rank > NPY_MAX_RANK)
    return io_fail(&x, "cannot write rank %d (expected 0..%d)", rank,
                NPY_MAX_RANK);
  char shape[SHAPE_STR_MAX];
  if (npy_shape_count(rank, dims, &count))
    return io_fail(&x, "cannot write shape %s: negative dimension or too many "
                    "elements", shape_str(shape, rank, dims));
  if (count && !data)
    return io_fail(&x, "cannot write shape %s: data is NULL",
                shape_str(shape, rank, dims));

  char hdr[HEADER_MAX];
  const void *bufs[2] = {hdr, data};
  size_t lens[2] = {make_header(hdr, rank, dims), count * sizeof *data};
  return io_write_atomic(path, bufs, lens, 2, err, errlen);
}
