/* The .npy reader: each input, as a file, is either read, then written and
 * read back to the same shape and bits, or refused with a one-line message
 * naming the file. */
#include "fuzz_common.h"

#include "io/npy.h"

static void check_npy_error(const char *err, const char *path, const char *what) {
  fuzz_check_message(err, what);
  FUZZ_CHECK(!strncmp(err, path, strlen(path)), "%s: the message does not start with the path %s: '%s'", what, path,
             err);
}

/* a holds a consistent array: count is the product of dims[0..rank), the
 * rest of dims is 0, and data is present exactly when count is not 0. */
static void check_array(const npy_array *a, const char *what) {
  size_t count;
  FUZZ_CHECK(a->rank >= 0 && a->rank <= NPY_MAX_RANK, "%s: rank %d", what, a->rank);
  FUZZ_CHECK(!npy_shape_count(a->rank, a->dims, &count) && count == a->count, "%s: count %zu does not match the shape",
             what, a->count);
  for (int i = a->rank; i < NPY_MAX_RANK; i++) FUZZ_CHECK(!a->dims[i], "%s: dims[%d] = %lld past the rank", what, i,
                                                        (long long)a->dims[i]);
  FUZZ_CHECK(!a->count == !a->data, "%s: %zu elements, data %p", what, a->count, (void *)a->data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = fuzz_path("in.npy"), *out = fuzz_path("out.npy");
  fuzz_write_file(in, data, size);
  npy_array a, b;
  char err[512] = "";
  if (npy_read(in, &a, err, sizeof err)) {
    check_npy_error(err, in, "npy_read");
    FUZZ_CHECK(!a.data && !a.rank && !a.count, "a failed read left an array behind");
    return 0;
  }
  check_array(&a, "npy_read");
  size_t bytes = a.count * sizeof(float);
  /* The data is the file's last bytes, unchanged. */
  FUZZ_CHECK(bytes <= size && (!bytes || !memcmp(a.data, data + size - bytes, bytes)),
             "the data read is not the file's last %zu bytes", bytes);

  if (npy_write(out, a.rank, a.dims, a.data, err, sizeof err)) {
    check_npy_error(err, out, "npy_write");
    FUZZ_CHECK(0, "npy_write of an array just read failed: %s", err);
  }
  if (npy_read(out, &b, err, sizeof err)) FUZZ_CHECK(0, "the written file does not read back: %s", err);
  check_array(&b, "npy_read of the written file");
  FUZZ_CHECK(b.rank == a.rank && !memcmp(b.dims, a.dims, sizeof a.dims) && b.count == a.count &&
                 (!bytes || !memcmp(b.data, a.data, bytes)),
             "write -> read changed the array (rank %d -> %d, %zu -> %zu elements)", a.rank, b.rank, a.count, b.count);
  /* As numpy writes it: the data starts 64-byte aligned. */
  FILE *f = fopen(out, "rb");
  FUZZ_CHECK(f && !fseek(f, 0, SEEK_END), "cannot reopen %s", out);
  long written = ftell(f);
  fclose(f);
  FUZZ_CHECK(written >= (long)bytes && (written - (long)bytes) % 64 == 0, "written header of %ld bytes is not 64-aligned",
             written - (long)bytes);
  npy_free(&a);
  npy_free(&b);
  return 0;
}
