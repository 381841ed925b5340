/* The safetensors reader: each input, as a file, is either opened, its
 * tensors listed and each one's shape and data checked against the header
 * (read here with cJSON: data_offsets index the bytes after it), or refused
 * with a one-line message naming the file.  A name that is not in the file
 * (or that has a newline) is refused with a one-line message too. */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "io/npy.h"
#include "io/safetensors.h"

static void check_st_error(const char *err, const char *path, const char *what) {
  fuzz_check_message(err, what);
  FUZZ_CHECK(!strncmp(err, path, strlen(path)), "%s: the message does not start with the path %s: '%s'", what, path,
             err);
}

/* Tensor `name` as st_get gave it, against its header entry and the data
 * area (the area_len bytes after the header). */
static void check_tensor(const uint8_t *area, uint64_t area_len, const cJSON *root, const char *name, int rank,
                         const int64_t *dims, const float *values) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, name);
  FUZZ_CHECK(cJSON_IsObject(e), "tensor '%s' has no entry in the header", name);
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  FUZZ_CHECK(rank >= 0 && rank <= ST_MAX_RANK && cJSON_GetArraySize(shape) == rank, "tensor '%s': rank %d", name,
             rank);
  for (int i = 0; i < ST_MAX_RANK; i++)
    FUZZ_CHECK(dims[i] == (i < rank ? (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble : 0),
               "tensor '%s': dims[%d] = %lld", name, i, (long long)dims[i]);
  size_t count;
  FUZZ_CHECK(!npy_shape_count(rank, dims, &count), "tensor '%s': shape overflows", name);
  uint64_t begin = (uint64_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
  uint64_t end = (uint64_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
  FUZZ_CHECK(end - begin == count * sizeof(float) && end <= area_len, "tensor '%s': offsets [%llu, %llu]", name,
             (unsigned long long)begin, (unsigned long long)end);
  FUZZ_CHECK(values && (uintptr_t)values % _Alignof(float) == 0, "tensor '%s': data %p", name, (const void *)values);
  FUZZ_CHECK(!count || !memcmp(values, area + begin, count * sizeof(float)),
             "tensor '%s': data differs from the file's bytes [%llu, %llu)", name, (unsigned long long)begin,
             (unsigned long long)end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_path("in.safetensors");
  fuzz_write_file(path, data, size);
  st_file *f = NULL;
  char err[512] = "";
  if (st_open(path, &f, err, sizeof err)) {
    check_st_error(err, path, "st_open");
    FUZZ_CHECK(!f, "a failed open returned a file");
    return 0;
  }
  /* It opened, so the header is a JSON object of that length. */
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
  char *header = malloc((size_t)hlen + 1);
  FUZZ_CHECK(header, "out of memory");
  memcpy(header, data + 8, (size_t)hlen);
  header[hlen] = 0;
  cJSON *root = cJSON_ParseWithLength(header, (size_t)hlen);
  free(header);
  FUZZ_CHECK(cJSON_IsObject(root), "st_open accepted a header that is not a JSON object");
  int n = st_count(f);
  FUZZ_CHECK(n >= 0 && n <= cJSON_GetArraySize(root), "%d tensors from %d header entries", n,
             cJSON_GetArraySize(root));
  FUZZ_CHECK(!st_name(f, -1) && !st_name(f, n), "st_name out of range gave a name");
  for (int i = 0; i < n; i++) {
    const char *name = st_name(f, i);
    FUZZ_CHECK(name && strcmp(name, "__metadata__"), "tensor %d: name %s", i, name ? name : "NULL");
    int rank;
    int64_t dims[ST_MAX_RANK];
    const float *values;
    if (st_get(f, name, &rank, dims, &values, err, sizeof err)) FUZZ_CHECK(0, "st_get of listed '%s': %s", name, err);
    check_tensor(data + 8 + hlen, size - 8 - hlen, root, name, rank, dims, values);
  }
  int rank;
  int64_t dims[ST_MAX_RANK];
  const float *values;
  FUZZ_CHECK(st_get(f, "__metadata__", &rank, dims, &values, err, sizeof err), "st_get found __metadata__");
  check_st_error(err, path, "st_get");
  if (st_get(f, "a\nname", &rank, dims, &values, err, sizeof err)) check_st_error(err, path, "st_get");
  cJSON_Delete(root);
  st_close(f);
  return 0;
}
