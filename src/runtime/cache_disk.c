/* The disk cache: an entry a key, DIR/<key in hex>.actjit, holding a
 * header (magic, format, the file's length, the SHA-256 of the body) and
 * the body: the lines of the key (versions, target, options), the key, the
 * manifest (manifest.c) and the object files LLVM emitted (their count, then
 * each one's length and bytes; one a module of the compile).  An entry is
 * written to a temporary file in DIR and renamed over its name, so that a
 * reader, or another process filling the same entry, sees a whole entry or
 * none; whatever fails a check is not used, and the compile that follows
 * replaces it. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cache.h"

/* An entry larger than this is not one (kernels' objects are KBs to MBs). */
#define ENTRY_MAX ((size_t)1 << 30)

enum { PATH_MAX_ = 4096 };

/* DIR/<key in hex><suffix>; false if too long. */
static bool entry_path(char *buf, const char *dir, const unsigned char *key, const char *suffix) {
  char hex[2 * CACHE_KEY_BYTES + 1];
  for (int i = 0; i < CACHE_KEY_BYTES; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
  int n = snprintf(buf, PATH_MAX_, "%s/%s.actjit%s", dir, hex, suffix);
  return n > 0 && n < PATH_MAX_;
}

static uint64_t get_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << 8 * i;
  return v;
}

static void set_le(unsigned char *p, int n, uint64_t v) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> 8 * i);
}

/* The whole file, or NULL (errno set; EFBIG past ENTRY_MAX). */
static unsigned char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  unsigned char *p = NULL;
  if (fstat(fd, &st) == 0) {
    size_t size = st.st_size > 0 ? (size_t)st.st_size : 0;
    if (size > ENTRY_MAX) errno = EFBIG;
    else if ((p = malloc(size + 1))) {
      *len = 0;
      for (ssize_t n = 1; n > 0 && *len < size; *len += n > 0 ? (size_t)n : 0) n = read(fd, p + *len, size - *len);
    }
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return p;
}

/* The message of errno e (strerror is not thread-safe). */
static const char *error_text(int e, char buf[128]) {
  if (strerror_r(e, buf, 128)) snprintf(buf, 128, "error %d", e);
  return buf;
}

/* note, formatted: why an entry is not used. */
__attribute__((format(printf, 2, 3))) static const char *say(char *note, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(note, CACHE_NOTE_MAX, fmt, ap);
  va_end(ap);
  return note;
}

/* The checks an entry passes before its body is read: NULL when it
 * passes, else why not. */
static const char *check_entry(const unsigned char *p, size_t len, char *note) {
  if (len < CACHE_HEADER_BYTES) return say(note, "entry truncated: %zu bytes, less than a header", len);
  if (memcmp(p, CACHE_MAGIC, 8)) return "not an actjit cache entry";
  uint32_t format = (uint32_t)get_le(p + CACHE_OFF_FORMAT, 4);
  if (format != CACHE_FORMAT) return say(note, "entry of another version: format %u, not %d", format, (int)CACHE_FORMAT);
  uint64_t want = get_le(p + CACHE_OFF_LENGTH, 8);
  if (want != len)
    return say(note, "entry %s: %zu bytes, its header says %llu", len < want ? "truncated" : "corrupt", len,
               (unsigned long long)want);
  unsigned char sum[CACHE_KEY_BYTES];
  if (!cache_sha256(p + CACHE_HEADER_BYTES, len - CACHE_HEADER_BYTES, sum)) return "entry not checked: SHA-256 failed";
  if (memcmp(sum, p + CACHE_OFF_CHECKSUM, CACHE_KEY_BYTES)) return "entry corrupt: its checksum does not match";
  return NULL;
}

void cache_objects_free(cache_objects *o) {
  for (int i = 0; o->p && i < o->n; i++) free(o->p[i]);
  free(o->p), free(o->len);
  *o = (cache_objects){0};
}

/* o with room for n objects, none yet; false when out of memory. */
static bool objects_alloc(cache_objects *o, int n) {
  *o = (cache_objects){.p = calloc((size_t)n + 1, sizeof *o->p), .len = calloc((size_t)n + 1, sizeof *o->len)};
  if (o->p && o->len) return true;
  cache_objects_free(o);
  return false;
}

void cache_objects_copy(cache_objects *o, int n, LLVMMemoryBufferRef *obj) {
  bool ok = objects_alloc(o, n);
  for (; ok && o->n < n; o->n++) ok = (o->p[o->n] = jit_object_copy(obj[o->n], &o->len[o->n])) != NULL;
  if (!ok) cache_objects_free(o);
}

/* The object files at r (the rest of the entry), copied into objs: NULL,
 * or why not (objs then holds what was read, for cache_objects_free). */
static const char *read_objects(reader *r, cache_objects *objs) {
  static const char corrupt[] = "entry corrupt: its object files do not read";
  uint64_t n = read_u64(r);
  /* each takes 8 bytes at least */
  if (r->bad || !n || n > (uint64_t)(r->end - r->p) / 8) return corrupt;
  if (!objects_alloc(objs, (int)n)) return "entry not read: out of memory";
  for (; objs->n < (int)n; objs->n++) {
    size_t len = (size_t)read_u64(r);
    const void *o = read_bytes(r, len);
    if (!o) return corrupt;
    if (!(objs->p[objs->n] = malloc(len ? len : 1))) return "entry not read: out of memory";
    memcpy(objs->p[objs->n], o, len);
    objs->len[objs->n] = len;
  }
  return r->p == r->end ? NULL : corrupt;
}

cache_read cache_disk_read(const char *dir, const cache_id *id, compiled *c, cache_objects *objs,
                           char note[CACHE_NOTE_MAX]) {
  char path[PATH_MAX_], err[128];
  size_t len = 0;
  if (!entry_path(path, dir, id->key, "")) return CACHE_NONE; /* and none written */
  unsigned char *p = read_file(path, &len);
  if (!p) {
    if (errno == ENOENT) return CACHE_NONE;
    snprintf(note, CACHE_NOTE_MAX, "entry not read: %s", error_text(errno, err));
    return CACHE_INVALID;
  }
  const char *why = check_entry(p, len, note);
  reader r = {p + CACHE_HEADER_BYTES, p + len, false};
  char *versions = NULL, *target = NULL, *options = NULL;
  const unsigned char *key = NULL;
  if (!why) {
    versions = read_str(&r), target = read_str(&r), options = read_str(&r);
    key = read_bytes(&r, CACHE_KEY_BYTES);
  }
  if (why) {
  } else if (r.bad) why = "entry corrupt: no key";
  else if (strcmp(versions, id->versions)) why = say(note, "entry of another version: %s", versions);
  else if (strcmp(target, id->target)) why = say(note, "entry for another target: %s", target);
  else if (strcmp(options, id->options) || memcmp(key, id->key, CACHE_KEY_BYTES))
    why = "entry of another pipeline or options";
  else if (!manifest_read(&r, c)) why = "entry corrupt: its manifest does not read";
  else if ((why = read_objects(&r, objs))) cache_objects_free(objs);
  free(versions), free(target), free(options);
  free(p);
  if (!why) return CACHE_HIT;
  if (why != note) snprintf(note, CACHE_NOTE_MAX, "%s", why);
  return CACHE_INVALID;
}

bool cache_disk_write(const char *dir, const cache_id *id, const compiled *c, const cache_objects *objs,
                      char note[CACHE_NOTE_MAX]) {
  static const unsigned char header[CACHE_HEADER_BYTES];
  bytes b = {0};
  bytes_put(&b, header, sizeof header);
  bytes_put_str(&b, id->versions);
  bytes_put_str(&b, id->target);
  bytes_put_str(&b, id->options);
  bytes_put(&b, id->key, CACHE_KEY_BYTES);
  manifest_write(&b, c);
  bytes_put_u64(&b, (uint64_t)objs->n);
  for (int i = 0; i < objs->n; i++) {
    bytes_put_u64(&b, objs->len[i]);
    bytes_put(&b, objs->p[i], objs->len[i]);
  }
  const char *why = NULL;
  if (b.failed) why = "out of memory";
  else {
    memcpy(b.p, CACHE_MAGIC, 8);
    set_le(b.p + CACHE_OFF_FORMAT, 4, CACHE_FORMAT);
    set_le(b.p + CACHE_OFF_LENGTH, 8, b.len);
    if (!cache_sha256(b.p + CACHE_HEADER_BYTES, b.len - CACHE_HEADER_BYTES, b.p + CACHE_OFF_CHECKSUM))
      why = "SHA-256 failed";
  }
  char path[PATH_MAX_], tmp[PATH_MAX_], err[128];
  if (!why && (!entry_path(path, dir, id->key, "") || !entry_path(tmp, dir, id->key, ".tmp.XXXXXX")))
    why = "the directory's name is too long";
  /* The directory, if missing (not its parents). */
  if (!why && mkdir(dir, 0777) && errno != EEXIST) why = error_text(errno, err);
  int fd = why ? -1 : mkstemp(tmp);
  if (!why && fd < 0) why = error_text(errno, err);
  for (size_t done = 0; !why && done < b.len;) {
    ssize_t n = write(fd, b.p + done, b.len - done);
    if (n < 0 && errno != EINTR) why = error_text(errno, err);
    done += n > 0 ? (size_t)n : 0;
  }
  if (fd >= 0 && close(fd) && !why) why = error_text(errno, err);
  if (fd >= 0 && !why && rename(tmp, path)) why = error_text(errno, err);
  if (fd >= 0 && why) unlink(tmp);
  free(b.p);
  if (why) snprintf(note, CACHE_NOTE_MAX, "entry not written to %s: %s", dir, why);
  return !why;
}
