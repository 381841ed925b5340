/* The kernel cache's keys and the process's table of compiled pipelines.
 * The key is what a compile's result depends on, hashed: the canonical IR,
 * the target, the options, and actjit's and LLVM's versions, actjit's down
 * to its build (the linked binary's GNU build ID: the version number stays
 * the same while the code generator changes). */
#define _GNU_SOURCE /* dl_iterate_phdr */
/* libcrypto's SHA-256 through its low-level interface, deprecated since
 * OpenSSL 3.0 but in every 3.x: EVP's first digest in a process fetches
 * the algorithm from the provider store, 2-7 ms on the project's machine,
 * most of what a disk cache hit may take; SHA256_Init's first takes 0.3. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "runtime/cache.h"

#include <elf.h>
#include <link.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/print.h"

bool cache_sha256(const void *data, size_t len, unsigned char out[CACHE_KEY_BYTES]) {
  SHA256_CTX c;
  return SHA256_Init(&c) && SHA256_Update(&c, data, len) && SHA256_Final(out, &c);
}

/* ---------------------------------------------------------------- build ID */

static pthread_once_t build_once = PTHREAD_ONCE_INIT;
static char build_id[2 * 64 + 1] = "none";

/* The GNU build ID among the notes [p, end) of a segment aligned to align. */
static void find_build_note(const unsigned char *p, const unsigned char *end, size_t align) {
  while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
    ElfW(Nhdr) nh;
    memcpy(&nh, p, sizeof nh);
    size_t name = (nh.n_namesz + align - 1) / align * align, desc = (nh.n_descsz + align - 1) / align * align;
    const unsigned char *n = p + sizeof nh, *d = n + name;
    if (name > (size_t)(end - n) || desc > (size_t)(end - d)) return;
    if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && !memcmp(n, "GNU", 4) && nh.n_descsz <= 64) {
      for (size_t i = 0; i < nh.n_descsz; i++) {
        static const char hex[] = "0123456789abcdef";
        build_id[2 * i] = hex[d[i] >> 4];
        build_id[2 * i + 1] = hex[d[i] & 15];
      }
      build_id[2 * nh.n_descsz] = 0;
      return;
    }
    p = d + desc;
  }
}

/* The module whose segments hold this file's code and data: libactjit.so,
 * or the program libactjit.a was linked into. */
static int module_build_id(struct dl_phdr_info *info, size_t size, void *self) {
  (void)size;
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    mine |= ph->p_type == PT_LOAD && (uintptr_t)self >= lo && (uintptr_t)self - lo < ph->p_memsz;
  }
  for (int i = 0; mine && i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
    if (ph->p_type == PT_NOTE) find_build_note(p, p + ph->p_memsz, ph->p_align >= 8 ? 8 : 4);
  }
  return mine;
}

static void read_build_id(void) { dl_iterate_phdr(module_build_id, build_id); }

/* --------------------------------------------------------------------- key */

static char *take(strbuf *sb) {
  if (!sb->failed && sb_printf(sb, "%s", "")) return sb->buf;
  free(sb->buf);
  return NULL;
}

actjit_status cache_id_make(actjit_context *ctx, const char *source, const target_desc *t, const compiled_options *o,
                            cache_id *id) {
  *id = (cache_id){0};
  pthread_once(&build_once, read_build_id);
  char llvm[32];
  jit_llvm_version(llvm, sizeof llvm);
  strbuf v = {0}, tg = {0}, op = {0}, all = {0};
  sb_printf(&v, "format %d, %s, build %s, LLVM library %s", (int)CACHE_FORMAT, actjit_version(), build_id, llvm);
  sb_printf(&tg, "%s %s %s host %d, %d floats x %d registers, fma %d, %d ports, latency %d, L1 %lld, L2 %lld, L3 %lld",
            t->triple, t->cpu, t->features, t->host, t->width, t->vregs, t->fma, t->fma_ports, t->fma_latency,
            (long long)t->l1d, (long long)t->l2, (long long)t->l3);
  sb_printf(&op, "opt %d, fuse %d, training %d, donate_input %d, canonicalize %d, depth_first %d", o->opt_level,
            o->fuse, o->training, o->donate_input, o->canonicalize, o->depth_first);
  id->versions = take(&v);
  id->target = take(&tg);
  id->options = take(&op);
  if (id->versions && id->target && id->options)
    sb_printf(&all, "%s\n%s\n%s\n%s", id->versions, id->target, id->options, source);
  bool ok = id->versions && id->target && id->options && !all.failed;
  /* (libcrypto fails only when its allocations do) */
  ok = ok && cache_sha256(all.buf, all.len, id->key);
  free(all.buf);
  if (ok) return ACTJIT_OK;
  cache_id_free(id);
  return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
}

void cache_id_free(cache_id *id) {
  free(id->versions);
  free(id->target);
  free(id->options);
  *id = (cache_id){0};
}

/* ------------------------------------------------------------------- table */

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static compiled *table; /* a list through compiled.next */

compiled *cache_find(const unsigned char key[CACHE_KEY_BYTES]) {
  pthread_mutex_lock(&table_lock);
  compiled *c = table;
  while (c && memcmp(c->key, key, CACHE_KEY_BYTES)) c = c->next;
  if (c) c->refs++;
  pthread_mutex_unlock(&table_lock);
  return c;
}

compiled *cache_add(compiled *c) {
  pthread_mutex_lock(&table_lock);
  compiled *had = table;
  while (had && memcmp(had->key, c->key, CACHE_KEY_BYTES)) had = had->next;
  if (had) had->refs++;
  else {
    c->next = table;
    c->in_table = true;
    table = c;
  }
  pthread_mutex_unlock(&table_lock);
  if (!had) return c;
  cache_release(c);
  return had;
}

void cache_release(compiled *c) {
  if (!c) return;
  pthread_mutex_lock(&table_lock);
  bool last = --c->refs == 0;
  if (last && c->in_table) {
    compiled **p = &table;
    while (*p != c) p = &(*p)->next;
    *p = c->next;
  }
  pthread_mutex_unlock(&table_lock);
  if (last) compiled_free(c);
}
