/* The kernel cache: compiled pipelines (compiled.h) shared by key among
 * the kernels of this process (cache.c), and kept on disk across processes
 * (cache_disk.c, the entry's manifest: manifest.c). */
#ifndef ACTJIT_CACHE_H
#define ACTJIT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/compiled.h"

/* ---- cache.c: keys and the process's table */

/* What compiled code depends on: the IR given (its canonical print), and,
 * one line each, what built it (the entry format, actjit's version and
 * build, the LLVM library), the target and the options.  The key is the
 * SHA-256 of them all. */
typedef struct cache_id {
  char *versions, *target, *options;
  unsigned char key[CACHE_KEY_BYTES];
} cache_id;
actjit_status cache_id_make(actjit_context *ctx, const char *source, const target_desc *t, const compiled_options *o,
                            cache_id *id);
void cache_id_free(cache_id *id);
/* SHA-256 of data[0..len) into out; false if libcrypto fails. */
bool cache_sha256(const void *data, size_t len, unsigned char out[CACHE_KEY_BYTES]);

/* The process's table holds each compiled pipeline while a kernel uses it.
 * cache_find: the one of this key with a reference taken, or NULL.
 * cache_add: c (one reference, the caller's) into the table, or, when
 * another thread added one of its key meanwhile, that one with a reference
 * taken and c freed.  cache_release: drops a reference; the last frees c
 * (out of the table first).  Safe from any thread. */
compiled *cache_find(const unsigned char key[CACHE_KEY_BYTES]);
compiled *cache_add(compiled *c);
void cache_release(compiled *c);

/* ---- cache_disk.c: entries in a directory, one file a key */

/* A note on what the disk cache did, for actjit_kernel_cache_outcome. */
enum { CACHE_NOTE_MAX = 160 };

/* A compile's object files (one a module: jit_parts): the i-th at p[i]
 * (malloc'ed), len[i] bytes. */
typedef struct cache_objects {
  int n;
  void **p;
  size_t *len;
} cache_objects;
/* Copies of obj[0..n), or none (o->n 0) when out of memory. */
void cache_objects_copy(cache_objects *o, int n, LLVMMemoryBufferRef *obj);
void cache_objects_free(cache_objects *o);

/* The entry of id in dir: c's manifest fields filled and objs its object
 * files.  CACHE_NONE when there is none, CACHE_INVALID with note saying why
 * when there is one that must not be used (truncated, corrupt, another
 * version, another target). */
typedef enum cache_read { CACHE_NONE, CACHE_HIT, CACHE_INVALID } cache_read;
cache_read cache_disk_read(const char *dir, const cache_id *id, compiled *c, cache_objects *objs,
                           char note[CACHE_NOTE_MAX]);
/* Writes c's entry (objs: its object files) atomically: a temporary file in
 * dir, then renamed over the entry.  Creates dir if missing.  False with
 * note saying why if it could not. */
bool cache_disk_write(const char *dir, const cache_id *id, const compiled *c, const cache_objects *objs,
                      char note[CACHE_NOTE_MAX]);

/* The entry's layout: a header, then the body its checksum covers. */
#define CACHE_MAGIC "actjit-k"
enum {
  CACHE_FORMAT = 3, /* the layout and the manifest: bump on any change (2: several object files; 3: block
                       buffers' offsets a row) */
  CACHE_OFF_FORMAT = 8,   /* u32 */
  CACHE_OFF_LENGTH = 12,  /* u64: the file's bytes */
  CACHE_OFF_CHECKSUM = 20, /* SHA-256 of the body */
  CACHE_HEADER_BYTES = 52,
};

/* ---- manifest.c: what the runtime needs, as bytes */

/* A growable byte buffer. */
typedef struct bytes {
  unsigned char *p;
  size_t len, cap;
  bool failed; /* an allocation failed */
} bytes;
void bytes_put(bytes *b, const void *data, size_t len);
void bytes_put_u64(bytes *b, uint64_t v);
void bytes_put_str(bytes *b, const char *s);

/* A reader over bytes; bad once a read ran past the end or a value was
 * out of range. */
typedef struct reader {
  const unsigned char *p, *end;
  bool bad;
} reader;
const void *read_bytes(reader *r, size_t len);
uint64_t read_u64(reader *r);
/* A string as bytes_put_str wrote it, malloc'ed; NULL when bad. */
char *read_str(reader *r);

/* c's manifest: the parameters and how each is bound, the io shapes, the
 * plan's steps and buffers, depth-first runs, slicing, panels, the step
 * names and the IR dumps.  manifest_read fills those fields of c; false if
 * the bytes are not a manifest (c then holds what was read, for
 * compiled_free). */
void manifest_write(bytes *b, const compiled *c);
bool manifest_read(reader *r, compiled *c);

#endif
