/* .safetensors reader.  Format: https://github.com/huggingface/safetensors */
#define _POSIX_C_SOURCE 200809L /* strdup, O_CLOEXEC, mmap */

#include "io/safetensors.h"

#include "io/io_error.h"

#include "io/npy.h" /* npy_shape_count */

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c hands out F32 (little-endian) bytes as floats"
#endif

/* The reference implementation refuses larger headers too. */
#define HEADER_MAX_BYTES 100000000u

typedef struct st_tensor {
  char *name;
  int rank;
  int64_t dims[ST_MAX_RANK];
  const float *data; /* into the mapping, or `copy` */
  float *copy;       /* aligned copy of misaligned bytes, else NULL */
} st_tensor;

struct st_file {
  char *path;
  void *map;
  size_t size;
  int count;
  st_tensor *tensors;
};


/* A name or dtype from the file, made fit for a one-line message: control
 * characters become '?' and long strings are cut. */
enum { SHOW_MAX = 64 };
static const char *show(char buf[SHOW_MAX], const char *s)
{
  size_t i = 0;
  for (; s[i] && i < SHOW_MAX - 4; i++)
    buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
  strcpy(buf + i, s[i] ? "..." : "");
  return buf;
}

static const st_tensor *find(const st_file *f, const char *name)
{
  for (int i = 0; i < f->count; i++)
    if (!strcmp(f->tensors[i].name, name))
      return &f->tensors[i];
  return NULL;
}

/* Reads a JSON array of non-negative integers into v[0..max).  Returns the
 * array's length (which may exceed max), or -1 if it is not such an array. */
static int read_ints(const cJSON *a, int64_t *v, int max)
{
  if (!cJSON_IsArray(a))
    return -1;
  int n = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, a) {
    double d = it->valuedouble;
    /* 2^53 bounds the doubles that are exact integers. */
    if (!cJSON_IsNumber(it) || !(d >= 0 && d <= 0x1p53) ||
        d != (double)(int64_t)d)
      return -1;
    if (n < max)
      v[n] = (int64_t)d;
    n++;
  }
  return n;
}

/* Validates one header entry and points t at its data in the data area
 * [base, base + len). */
static int parse_entry(const io_ctx *x, const cJSON *e, st_tensor *t,
                       const unsigned char *base, uint64_t len)
{
  char name[SHOW_MAX], dtype[SHOW_MAX];
  show(name, e->string);
  if (!cJSON_IsObject(e))
    return io_fail(x, "tensor '%s': entry is not a JSON object", name);
  const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  if (!cJSON_IsString(jd))
    return io_fail(x, "tensor '%s': \"dtype\" missing or not a string", name);
  if (strcmp(jd->valuestring, "F32"))
    return io_fail(x, "tensor '%s' has dtype %s (expected F32)", name,
                show(dtype, jd->valuestring));

  t->rank = read_ints(cJSON_GetObjectItemCaseSensitive(e, "shape"), t->dims,
                      ST_MAX_RANK);
  if (t->rank < 0)
    return io_fail(x, "tensor '%s': \"shape\" missing or not an array of "
                   "non-negative integers", name);
  if (t->rank > ST_MAX_RANK)
    return io_fail(x, "tensor '%s' has rank %d (at most %d supported)", name,
                t->rank, ST_MAX_RANK);
  size_t count;
  if (npy_shape_count(t->rank, t->dims, &count))
    return io_fail(x, "tensor '%s': shape has too many elements", name);

  int64_t off[2];
  if (read_ints(cJSON_GetObjectItemCaseSensitive(e, "data_offsets"), off,
                2) != 2)
    return io_fail(x, "tensor '%s': \"data_offsets\" missing or not [begin, "
                   "end] non-negative integers", name);
  uint64_t begin = (uint64_t)off[0], end = (uint64_t)off[1];
  if (begin > end || end > len)
    return io_fail(x, "tensor '%s': data_offsets [%llu, %llu] are not a range "
                   "within the %llu-byte data area", name,
                (unsigned long long)begin, (unsigned long long)end,
                (unsigned long long)len);
  size_t bytes = count * sizeof(float);
  if (end - begin != bytes)
    return io_fail(x, "tensor '%s': data_offsets span %llu bytes but its F32 "
                   "shape needs %zu (%zu elements)", name,
                (unsigned long long)(end - begin), bytes, count);

  if (!(t->name = strdup(e->string)))
    return io_fail_as(x, IO_NOMEM, "out of memory");
  /* Empty tensors get a pointer that is aligned even if their offset isn't. */
  static const float no_data[1];
  const unsigned char *p = base + begin;
  if (!bytes) {
    t->data = no_data;
  } else if ((uintptr_t)p % _Alignof(float) == 0) {
    t->data = (const float *)(const void *)p; /* alignment checked */
  } else {
    if (!(t->copy = malloc(bytes)))
      return io_fail_as(x, IO_NOMEM, "tensor '%s': out of memory for an aligned copy", name);
    memcpy(t->copy, p, bytes);
    t->data = t->copy;
  }
  return 0;
}

static int parse_entries(const io_ctx *x, st_file *f, const cJSON *root,
                         const unsigned char *base, uint64_t len)
{
  int n = cJSON_GetArraySize(root);
  if (n && !(f->tensors = calloc((size_t)n, sizeof *f->tensors)))
    return io_fail_as(x, IO_NOMEM, "out of memory");
  const cJSON *e;
  cJSON_ArrayForEach(e, root) {
    char name[SHOW_MAX];
    if (!strcmp(e->string, "__metadata__"))
      continue;
    if (find(f, e->string))
      return io_fail(x, "tensor '%s' appears twice", show(name, e->string));
    /* Counted before parsing so st_close frees a half-filled entry. */
    if (parse_entry(x, e, &f->tensors[f->count++], base, len))
      return -1;
  }
  return 0;
}

static int is_json_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses a NUL-terminated copy of the header: cJSON then never reads past
 * our buffer, whatever the file holds. */
static int parse_header(const io_ctx *x, st_file *f)
{
  const unsigned char *map = f->map;
  /* What PyTorch users have instead: torch.save writes a zip (a pickle
   * before PyTorch 1.6). */
  const char *other = !memcmp(map, "PK\x03\x04", 4) ? "a zip archive"
                      : map[0] == 0x80 && map[1] >= 2 && map[1] <= 5 ? "a Python pickle"
                      : NULL;
  if (other)
    return io_fail(x, "not a safetensors file but %s (what torch.save writes); actjit reads "
                   "safetensors: save the weights with safetensors.torch.save_file("
                   "model.state_dict(), \"weights.safetensors\")", other);
  if (!memcmp(map, "\x93NUMPY", 6))
    return io_fail(x, "not a safetensors file but a .npy array");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | map[i];
  if (hlen > f->size - 8)
    return io_fail(x, "header length %llu exceeds the %zu bytes that follow it "
                   "(truncated or not a safetensors file)",
                (unsigned long long)hlen, f->size - 8);
  if (hlen > HEADER_MAX_BYTES)
    return io_fail(x, "header length %llu exceeds the %u-byte limit",
                (unsigned long long)hlen, HEADER_MAX_BYTES);

  char *text = malloc((size_t)hlen + 1);
  if (!text)
    return io_fail_as(x, IO_NOMEM, "out of memory for a %llu-byte header",
                (unsigned long long)hlen);
  memcpy(text, map + 8, (size_t)hlen);
  text[hlen] = '\0';
  const char *end = text;
  cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0);
  int rc = 0;
  if (!root) {
    rc = io_fail(x, "header is not valid JSON (error at byte %td of %llu)",
              end - text, (unsigned long long)hlen);
  } else {
    /* The spec pads the header with spaces; anything else is corruption. */
    while (end < text + hlen && is_json_space(*end))
      end++;
    if (end != text + hlen)
      rc = io_fail(x, "header has data after its JSON value (at byte %td of "
                   "%llu)", end - text, (unsigned long long)hlen);
    else if (!cJSON_IsObject(root))
      rc = io_fail(x, "header is not a JSON object");
    else
      rc = parse_entries(x, f, root, map + 8 + hlen, f->size - 8 - hlen);
  }
  cJSON_Delete(root);
  free(text);
  return rc;
}

static int map_fd(const io_ctx *x, int fd, st_file *f)
{
  struct stat st;
  if (fstat(fd, &st))
    return io_fail_as(x, IO_SYSTEM, "cannot stat: %s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    return io_fail_as(x, IO_SYSTEM, "not a regular file");
  if (st.st_size < 8)
    return io_fail(x, "truncated: file is %lld bytes, too short for the 8-byte "
                   "header length", (long long)st.st_size);
  if ((uint64_t)st.st_size > SIZE_MAX)
    return io_fail_as(x, IO_SYSTEM, "file of %lld bytes is too large to map",
                (long long)st.st_size);
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED)
    return io_fail_as(x, IO_SYSTEM, "cannot mmap: %s", strerror(errno));
  f->map = m;
  f->size = (size_t)st.st_size;
  return 0;
}

int st_open(const char *path, st_file **out, char *err, size_t errlen)
{
  io_ctx x = {path, err, errlen};
  *out = NULL;
  st_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return io_fail_as(&x, IO_NOMEM, "out of memory");
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int rc = fd < 0 ? io_fail_as(&x, IO_SYSTEM, "cannot open: %s", strerror(errno))
                  : map_fd(&x, fd, f);
  if (fd >= 0)
    close(fd); /* the mapping outlives the descriptor */
  if (!rc)
    rc = parse_header(&x, f);
  if (rc) {
    st_close(f);
    return rc;
  }
  *out = f;
  return 0;
}

int st_count(const st_file *f)
{
  return f->count;
}

const char *st_name(const st_file *f, int i)
{
  return i >= 0 && i < f->count ? f->tensors[i].name : NULL;
}

int st_get(const st_file *f, const char *name, int *rank,
           int64_t dims[ST_MAX_RANK], const float **data, char *err,
           size_t errlen)
{
  const st_tensor *t = find(f, name);
  if (!t) {
    io_ctx x = {f->path, err, errlen};
    char shown[SHOW_MAX];
    return io_fail(&x, "no tensor named '%s'", show(shown, name));
  }
  *rank = t->rank;
  memcpy(dims, t->dims, sizeof t->dims);
  *data = t->data;
  return 0;
}

void st_close(st_file *f)
{
  if (!f)
    return;
  for (int i = 0; i < f->count; i++) {
    free(f->tensors[i].name);
    free(f->tensors[i].copy);
  }
  free(f->tensors);
  if (f->map)
    munmap(f->map, f->size);
  free(f->path);
  free(f);
}
