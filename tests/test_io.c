/* Tests for src/io: .npy and .safetensors round trips and one test per class
 * of bad input.  Every file is generated here, in a fresh mkdtemp directory
 * removed at the end. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, truncate */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "io/safetensors.h"

static char tmpdir[256];
static char err[512];

/* ---------------------------------------------------------------- helpers */

static int setup_dir(void **state)
{
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/actjit_test_io.XXXXXX",
           base && *base ? base : "/tmp");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
  (void)state;
  DIR *d = opendir(tmpdir);
  if (!d)
    return -1;
  char path[512];
  for (struct dirent *e; (e = readdir(d));) {
    snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      if (unlink(path))
        rmdir(path);
  }
  closedir(d);
  return rmdir(tmpdir);
}

/* Path of `name` in the test directory (a rotating static buffer, so two
 * paths can be live at once). */
static const char *tmp(const char *name)
{
  static char bufs[2][512];
  static int next;
  char *b = bufs[next++ % 2];
  snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
  return b;
}

static void write_file(const char *path, const void *data, size_t n)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* Fails unless every string in the NULL-terminated list occurs in err. */
static void expect_err(const char *first, ...)
{
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *))
    if (!strstr(err, s))
      fail_msg("error \"%s\" lacks \"%s\"", err, s);
  va_end(ap);
}

static float pattern(size_t i)
{
  return (float)i * 0.5f - 3.0f;
}

/* Appends n bytes of pattern() floats (the last one cut if n % 4). */
static void fill_pattern(unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i += 4) {
    float v = pattern(i / 4);
    memcpy(p + i, &v, n - i < 4 ? n - i : 4);
  }
}

/* A .npy file with the given version and header dict (padded to 64 bytes
 * as numpy does) followed by nfloats pattern() floats. */
static void write_npy_raw(const char *name, int major, const char *dict,
                          size_t nfloats)
{
  size_t pre = major == 1 ? 10 : 12, dlen = strlen(dict);
  size_t hlen = (pre + dlen + 1 + 63) / 64 * 64 - pre;
  size_t total = pre + hlen + 4 * nfloats;
  unsigned char *b = malloc(total);
  assert_non_null(b);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)major;
  b[7] = 0;
  for (size_t i = 8; i < pre; i++)
    b[i] = (unsigned char)(hlen >> 8 * (i - 8));
  memcpy(b + pre, dict, dlen);
  memset(b + pre + dlen, ' ', hlen - dlen - 1);
  b[pre + hlen - 1] = '\n';
  fill_pattern(b + pre + hlen, 4 * nfloats);
  write_file(tmp(name), b, total);
  free(b);
}

static const char f4_3x4[] =
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";

/* Reads tmp(name) expecting failure `code`; leaves the message in err. */
static void expect_npy_fails_as(const char *name, int code)
{
  npy_array a;
  assert_int_equal(npy_read(tmp(name), &a, err, sizeof err), code);
  assert_null(a.data);
  assert_non_null(strstr(err, name));
}

/* The same for a file that is not a valid .npy. */
static void expect_npy_fails(const char *name)
{
  expect_npy_fails_as(name, IO_BAD_FILE);
}

/* ------------------------------------------------------------------- npy */

static void check_npy_roundtrip(int rank, const int64_t *dims, size_t count)
{
  float *data = malloc(count ? count * sizeof(float) : 1);
  assert_non_null(data);
  for (size_t i = 0; i < count; i++)
    data[i] = pattern(i);
  const char *path = tmp("roundtrip.npy");
  assert_int_equal(npy_write(path, rank, dims, data, err, sizeof err), 0);

  npy_array a;
  assert_int_equal(npy_read(path, &a, err, sizeof err), 0);
  assert_int_equal(a.rank, rank);
  assert_int_equal(a.count, count);
  assert_memory_equal(a.dims, dims, rank * sizeof *dims);
  if (count)
    assert_memory_equal(a.data, data, count * sizeof(float));
  npy_free(&a);
  free(data);
}

static void test_npy_roundtrip(void **state)
{
  (void)state;
  static const int64_t d0[1], d1[] = {7}, d3[] = {2, 3, 5},
                       empty[] = {2, 0, 3},
                       d8[] = {1, 2, 1, 2, 1, 2, 1, 3};
  check_npy_roundtrip(0, d0, 1);
  check_npy_roundtrip(1, d1, 7);
  check_npy_roundtrip(3, d3, 30);
  check_npy_roundtrip(3, empty, 0);
  check_npy_roundtrip(8, d8, 24);
}

/* Versions 2.0 and 3.0, keys in any order, either quote, odd spacing. */
static void test_npy_versions_and_dict_syntax(void **state)
{
  (void)state;
  static const struct {
    int major;
    const char *dict;
  } cases[] = {
      {2, "{\"shape\": (2, 3), 'fortran_order': False, 'descr': '<f4'}"},
      {3, "{'fortran_order':False,'descr':'<f4','shape':(6,),}"},
      {1, "{ 'descr' : '<f4' ,\n'shape' : ( 6L , ) , 'fortran_order' : "
          "False }"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    write_npy_raw("syntax.npy", cases[i].major, cases[i].dict, 6);
    npy_array a;
    if (npy_read(tmp("syntax.npy"), &a, err, sizeof err))
      fail_msg("case %zu: %s", i, err);
    assert_int_equal(a.count, 6);
    assert_true(a.data[5] == pattern(5));
    npy_free(&a);
  }
}

static void test_npy_truncated(void **state)
{
  (void)state;
  write_npy_raw("trunc.npy", 1, f4_3x4, 12);
  assert_int_equal(truncate(tmp("trunc.npy"), 20), 0);
  expect_npy_fails("trunc.npy");
  expect_err("truncated header", "118 bytes", "only 10", NULL);

  assert_int_equal(truncate(tmp("trunc.npy"), 5), 0);
  expect_npy_fails("trunc.npy");
  expect_err("truncated", "5 bytes", NULL);
}

static void test_npy_lying_shape(void **state)
{
  (void)state;
  write_npy_raw("short.npy", 1, f4_3x4, 10);
  expect_npy_fails("short.npy");
  expect_err("truncated data", "40", "(3, 4)", "48", NULL);

  write_npy_raw("long.npy", 1, f4_3x4, 14);
  expect_npy_fails("long.npy");
  expect_err("trailing bytes", "56", "(3, 4)", "48", NULL);
}

static void test_npy_wrong_dtype(void **state)
{
  (void)state;
  write_npy_raw("f8.npy", 1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                6);
  expect_npy_fails("f8.npy");
  expect_err("dtype '<f8'", "expected '<f4'", NULL);

  write_npy_raw("be.npy", 1,
                "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }",
                3);
  expect_npy_fails("be.npy");
  expect_err("dtype '>f4'", "expected '<f4'", NULL);
}

static void test_npy_fortran_order(void **state)
{
  (void)state;
  write_npy_raw("fortran.npy", 1,
                "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }",
                12);
  expect_npy_fails("fortran.npy");
  expect_err("fortran_order is True", NULL);
}

static void test_npy_bad_magic(void **state)
{
  (void)state;
  static const char png[] = "\x89PNG\r\n\x1a\n and then some more bytes";
  write_file(tmp("magic.npy"), png, sizeof png);
  expect_npy_fails("magic.npy");
  expect_err("magic.npy: not a .npy file", "\\x89", "\\x93NUMPY", NULL);
}

/* np.savez writes a zip of .npy files: said first, with what to do. */
static void test_npy_zip(void **state)
{
  (void)state;
  static const char zip[] = "PK\x03\x04\x14\x00\x00\x00\x00\x00 a local file header";
  write_file(tmp("savez.npy"), zip, sizeof zip);
  expect_npy_fails("savez.npy");
  expect_err("savez.npy: not a .npy file but a zip archive", "np.savez", "np.save", NULL);
}

static void test_npy_bad_version(void **state)
{
  (void)state;
  write_npy_raw("v4.npy", 1, f4_3x4, 12);
  FILE *f = fopen(tmp("v4.npy"), "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, 6, SEEK_SET), 0);
  assert_int_equal(fputc(4, f), 4);
  assert_int_equal(fclose(f), 0);
  expect_npy_fails("v4.npy");
  expect_err("version 4.0", "expected 1.0, 2.0 or 3.0", NULL);
}

static void test_npy_missing_file(void **state)
{
  (void)state;
  expect_npy_fails_as("absent.npy", IO_SYSTEM);
  expect_err("cannot open", "No such file", NULL);
  assert_int_equal(mkdir(tmp("dir.npy"), 0755), 0);
  expect_npy_fails_as("dir.npy", IO_SYSTEM);
  expect_err("not a regular file", NULL);
}

static void test_npy_shape_overflow(void **state)
{
  (void)state;
  write_npy_raw("overflow.npy", 1,
                "{'descr': '<f4', 'fortran_order': False, "
                "'shape': (4294967296, 4294967296, 16), }", 0);
  expect_npy_fails("overflow.npy");
  expect_err("(4294967296, 4294967296, 16)", "overflows", NULL);

  write_npy_raw("rank9.npy", 1,
                "{'descr': '<f4', 'fortran_order': False, "
                "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", 1);
  expect_npy_fails("rank9.npy");
  expect_err("more than 8 dimensions", NULL);
}

static void test_npy_malformed_dict(void **state)
{
  (void)state;
  static const struct {
    const char *dict, *words;
  } cases[] = {
      {"{'descr': '<f4', 'fortran_order': False}", "lacks key 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",
       "unexpected key 'x'"},
      {"{'descr': '<f4', 'descr': '<f4'}", "repeats key 'descr'"},
      {"{'descr': '<f4' 'fortran_order': False}", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}",
       "expected True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
       "found '-'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [3]}",
       "expected a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} x",
       "expected end of header"},
      {"{'descr': '<f4", "expected a closing quote, found '\\x0a'"},
      {"{'descr': '<\\f4'}", "expected a string without escapes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    write_npy_raw("dict.npy", 1, cases[i].dict, 3);
    expect_npy_fails("dict.npy");
    expect_err(cases[i].words, NULL);
  }
}

/* A failed write must leave neither the target nor a temporary file. */
static void test_npy_write_failures(void **state)
{
  (void)state;
  static const float one = 1.0f;
  static const int64_t d1[] = {1}, neg[] = {-2};
  assert_int_equal(mkdir(tmp("isdir"), 0755), 0);
  assert_int_equal(npy_write(tmp("isdir"), 1, d1, &one, err, sizeof err), IO_SYSTEM);
  expect_err("isdir: cannot write: Is a directory", NULL);

  /* The message names the user's path and the reason, never the temporary
   * file the write goes through. */
  assert_int_equal(
      npy_write(tmp("nodir/x.npy"), 1, d1, &one, err, sizeof err), IO_SYSTEM);
  char want[600];
  snprintf(want, sizeof want, "%s: cannot write: no such directory '%s'", tmp("nodir/x.npy"), tmp("nodir"));
  assert_string_equal(err, want);
  write_file(tmp("file"), "x", 1);
  assert_int_equal(npy_write(tmp("file/x.npy"), 1, d1, &one, err, sizeof err), IO_SYSTEM);
  snprintf(want, sizeof want, "%s: cannot write: '%s' is not a directory", tmp("file/x.npy"), tmp("file"));
  assert_string_equal(err, want);

  assert_int_equal(npy_write(tmp("neg.npy"), 1, neg, &one, err, sizeof err),
                   IO_BAD_FILE);
  expect_err("neg.npy", "(-2,)", NULL);
  assert_int_equal(npy_write(tmp("r9.npy"), 9, d1, &one, err, sizeof err), IO_BAD_FILE);
  expect_err("rank 9", NULL);

  DIR *d = opendir(tmpdir);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d));)
    if (strstr(e->d_name, "isdir.") || strstr(e->d_name, "neg.npy") ||
        strstr(e->d_name, "r9.npy"))
      fail_msg("leftover file %s", e->d_name);
  closedir(d);
}

/* ----------------------------------------------------------- safetensors */

/* A safetensors file: length, JSON header, then `data` bytes of pattern(). */
static void write_st_raw(const char *name, const char *json, size_t data)
{
  size_t n = strlen(json), total = 8 + n + data;
  unsigned char *b = malloc(total);
  assert_non_null(b);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)n >> 8 * i);
  memcpy(b + 8, json, n);
  fill_pattern(b + 8 + n, data);
  write_file(tmp(name), b, total);
  free(b);
}

static void expect_st_fails_as(const char *name, int code)
{
  st_file *f = (st_file *)&f; /* any non-NULL value: st_open must reset it */
  assert_int_equal(st_open(tmp(name), &f, err, sizeof err), code);
  assert_null(f);
  assert_non_null(strstr(err, name));
}

static void expect_st_fails(const char *name)
{
  expect_st_fails_as(name, IO_BAD_FILE);
}

static void expect_tensor(const st_file *f, const char *name, int rank,
                          const int64_t *dims, size_t first)
{
  int r;
  int64_t d[ST_MAX_RANK];
  const float *data;
  if (st_get(f, name, &r, d, &data, err, sizeof err))
    fail_msg("%s", err);
  assert_int_equal(r, rank);
  assert_memory_equal(d, dims, rank * sizeof *dims);
  assert_int_equal((uintptr_t)data % _Alignof(float), 0);
  size_t count = 1;
  for (int i = 0; i < rank; i++)
    count *= (size_t)dims[i];
  for (size_t i = 0; i < count; i++)
    assert_true(data[i] == pattern(first + i));
}

static void test_st_roundtrip(void **state)
{
  (void)state;
  write_st_raw("ok.safetensors",
               "{\"__metadata__\":{\"format\":\"pt\"},"
               "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
               "\"data_offsets\":[0,24]},"
               "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],"
               "\"data_offsets\":[24,32]},"
               "\"scale\":{\"dtype\":\"F32\",\"shape\":[],"
               "\"data_offsets\":[32,36]},"
               "\"none\":{\"dtype\":\"F32\",\"shape\":[0,4],"
               "\"data_offsets\":[36,36]},"
               "\"alias\":{\"dtype\":\"F32\",\"shape\":[2,1,1,1,1,1,1,1],"
               "\"data_offsets\":[24,32]}}    ",
               36);
  st_file *f;
  if (st_open(tmp("ok.safetensors"), &f, err, sizeof err))
    fail_msg("%s", err);
  assert_int_equal(st_count(f), 5);
  assert_string_equal(st_name(f, 0), "0.weight");
  assert_string_equal(st_name(f, 4), "alias");
  assert_null(st_name(f, 5));
  assert_null(st_name(f, -1));
  expect_tensor(f, "0.weight", 2, (int64_t[]){2, 3}, 0);
  expect_tensor(f, "0.bias", 1, (int64_t[]){2}, 6);
  expect_tensor(f, "scale", 0, (int64_t[]){0}, 8);
  expect_tensor(f, "none", 2, (int64_t[]){0, 4}, 0);
  expect_tensor(f, "alias", 8, (int64_t[]){2, 1, 1, 1, 1, 1, 1, 1}, 6);
  st_close(f);
}

/* Data at an odd file offset: st_get still hands out aligned floats. */
static void test_st_misaligned(void **state)
{
  (void)state;
  /* 8 + 57-byte header puts the data area at file offset 65. */
  static const char json[] =
      "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}  ";
  _Static_assert(sizeof json - 1 == 57, "header length");
  write_st_raw("odd.safetensors", json, 12);
  st_file *f;
  if (st_open(tmp("odd.safetensors"), &f, err, sizeof err))
    fail_msg("%s", err);
  expect_tensor(f, "t", 1, (int64_t[]){3}, 0);
  st_close(f);
}

static void test_st_truncated(void **state)
{
  (void)state;
  write_file(tmp("tiny.safetensors"), "\x10\0\0", 3);
  expect_st_fails("tiny.safetensors");
  expect_err("truncated", "3 bytes", NULL);
}

static void test_st_header_beyond_file(void **state)
{
  (void)state;
  unsigned char b[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
  write_file(tmp("long.safetensors"), b, sizeof b);
  expect_st_fails("long.safetensors");
  expect_err("header length 65535", "exceeds", "8 bytes", NULL);
}

static void test_st_bad_json(void **state)
{
  (void)state;
  write_st_raw("json.safetensors", "{\"t\": {\"dtype\": \"F32\",", 0);
  expect_st_fails("json.safetensors");
  expect_err("not valid JSON", NULL);

  write_st_raw("array.safetensors", "[1, 2]", 0);
  expect_st_fails("array.safetensors");
  expect_err("not a JSON object", NULL);

  write_st_raw("trail.safetensors", "{} x", 0);
  expect_st_fails("trail.safetensors");
  expect_err("data after its JSON value", NULL);
}

static void test_st_wrong_dtype(void **state)
{
  (void)state;
  write_st_raw("f16.safetensors",
               "{\"w\":{\"dtype\":\"F16\",\"shape\":[2],"
               "\"data_offsets\":[0,4]}}", 4);
  expect_st_fails("f16.safetensors");
  expect_err("tensor 'w'", "dtype F16", "expected F32", NULL);
}

static void test_st_offsets_out_of_range(void **state)
{
  (void)state;
  write_st_raw("range.safetensors",
               "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
               "\"data_offsets\":[4,12]}}", 8);
  expect_st_fails("range.safetensors");
  expect_err("tensor 'w'", "[4, 12]", "8-byte data area", NULL);

  write_st_raw("reversed.safetensors",
               "{\"w\":{\"dtype\":\"F32\",\"shape\":[],"
               "\"data_offsets\":[8,4]}}", 8);
  expect_st_fails("reversed.safetensors");
  expect_err("tensor 'w'", "[8, 4]", NULL);
}

static void test_st_size_mismatch(void **state)
{
  (void)state;
  write_st_raw("size.safetensors",
               "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],"
               "\"data_offsets\":[0,8]}}", 8);
  expect_st_fails("size.safetensors");
  expect_err("tensor 'w'", "span 8 bytes", "needs 12", NULL);
}

static void test_st_malformed_entry(void **state)
{
  (void)state;
  static const struct {
    const char *json, *words;
  } cases[] = {
      {"{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "\"dtype\" missing"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
       "\"shape\" missing or not"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
       "\"data_offsets\" missing or not"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
       "\"data_offsets\":[0,4]}}", "rank 9"},
      {"{\"w\":3}", "not a JSON object"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
       "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
       "appears twice"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    write_st_raw("entry.safetensors", cases[i].json, 4);
    expect_st_fails("entry.safetensors");
    expect_err("tensor 'w'", cases[i].words, NULL);
  }
}

static void test_st_missing_key(void **state)
{
  (void)state;
  write_st_raw("key.safetensors",
               "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
               "\"data_offsets\":[0,4]}}", 4);
  st_file *f;
  if (st_open(tmp("key.safetensors"), &f, err, sizeof err))
    fail_msg("%s", err);
  int rank;
  int64_t dims[ST_MAX_RANK];
  const float *data;
  assert_int_equal(st_get(f, "nope", &rank, dims, &data, err, sizeof err),
                   -1);
  expect_err("key.safetensors", "no tensor named 'nope'", NULL);
  st_close(f);
}

static void test_st_missing_file(void **state)
{
  (void)state;
  expect_st_fails_as("absent.safetensors", IO_SYSTEM);
  expect_err("cannot open", "No such file", NULL);
}

/* What torch.save writes, and a .npy, said first for what they are; the
 * zip's first bytes read as a header length would exceed the file. */
static void test_st_other_formats(void **state)
{
  (void)state;
  static const char zip[] = "PK\x03\x04\x00\x00\x08\x08\x00\x00 archive/data.pkl";
  write_file(tmp("model.pt"), zip, sizeof zip);
  expect_st_fails("model.pt");
  expect_err("model.pt: not a safetensors file but a zip archive (what torch.save writes)",
             "safetensors.torch.save_file(model.state_dict(), ", NULL);
  static const char pickle[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
  write_file(tmp("legacy.pt"), pickle, sizeof pickle);
  expect_st_fails("legacy.pt");
  expect_err("legacy.pt: not a safetensors file but a Python pickle", "save_file", NULL);
  write_npy_raw("weights.npy", 1, f4_3x4, 12);
  expect_st_fails("weights.npy");
  expect_err("weights.npy: not a safetensors file but a .npy array", NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_npy_roundtrip),
      cmocka_unit_test(test_npy_versions_and_dict_syntax),
      cmocka_unit_test(test_npy_truncated),
      cmocka_unit_test(test_npy_lying_shape),
      cmocka_unit_test(test_npy_wrong_dtype),
      cmocka_unit_test(test_npy_fortran_order),
      cmocka_unit_test(test_npy_bad_magic),
      cmocka_unit_test(test_npy_zip),
      cmocka_unit_test(test_npy_bad_version),
      cmocka_unit_test(test_npy_missing_file),
      cmocka_unit_test(test_npy_shape_overflow),
      cmocka_unit_test(test_npy_malformed_dict),
      cmocka_unit_test(test_npy_write_failures),
      cmocka_unit_test(test_st_roundtrip),
      cmocka_unit_test(test_st_misaligned),
      cmocka_unit_test(test_st_truncated),
      cmocka_unit_test(test_st_header_beyond_file),
      cmocka_unit_test(test_st_bad_json),
      cmocka_unit_test(test_st_wrong_dtype),
      cmocka_unit_test(test_st_offsets_out_of_range),
      cmocka_unit_test(test_st_size_mismatch),
      cmocka_unit_test(test_st_malformed_entry),
      cmocka_unit_test(test_st_missing_key),
      cmocka_unit_test(test_st_missing_file),
      cmocka_unit_test(test_st_other_formats),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
