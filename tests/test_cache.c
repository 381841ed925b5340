/* The kernel cache (README, "Kernel cache").  In memory: a graph that
 * prints the same, for the same target and options, compiled while a kernel
 * of it is alive, shares that kernel's code, whatever the context; any
 * change of IR, target or option compiles anew, and so does a compile once
 * every kernel of it is gone.  A kernel that shares code has its own
 * parameters, seed and context.  On disk: a compile writes its entry, the
 * next one in a process without the kernel loads it (no code generation)
 * and has the same plan and dumps; an entry of several object files (a
 * compile on several threads) links them all, one of one object loads
 * that; an entry truncated, with a byte flipped (in its second object
 * too), a second object LLVM refuses, of another version or for another
 * CPU is rebuilt, never used, and replaced; two processes filling one entry at once both work and leave one
 * valid entry.  Results are always bitwise those of a kernel compiled
 * without the cache.
 */
#define _GNU_SOURCE /* memmem, mkdtemp */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actjit.h"
#include "testutil.h"
#include "testpipe.h"

#define MLP ACTJIT_SOURCE_DIR "/ir/mlp.air"

/* A pipeline's kernel's output for an input of `batch` rows (seeded). */
static float *run_out(actjit_kernel *k, int64_t batch, size_t *nout) {
  size_t nin;
  assert_int_equal(actjit_kernel_io_sizes(k, batch, &nin, nout), ACTJIT_OK);
  float *x = tu_alloc_unaligned(nin), *y = tu_alloc_unaligned(*nout);
  uint64_t rng = 17 + (uint64_t)batch;
  for (size_t i = 0; i < nin; i++) x[i] = tu_uniform(&rng, -3, 3);
  assert_int_equal(actjit_kernel_run(k, x, batch, y), ACTJIT_OK);
  tu_free_unaligned(x);
  return y;
}

/* a and b give the same bits on a few batches. */
static void assert_same_results(actjit_kernel *a, actjit_kernel *b, const char *what) {
  static const int64_t batches[] = {1, 7, 300};
  for (size_t i = 0; i < sizeof batches / sizeof *batches; i++) {
    size_t na, nb;
    float *ya = run_out(a, batches[i], &na), *yb = run_out(b, batches[i], &nb);
    assert_int_equal(na, nb);
    for (size_t j = 0; j < na; j++)
      if (!same_value(ya[j], yb[j]))
        fail_msg("%s: batch %d, element %zu: %.9g against %.9g", what, (int)batches[i], j, ya[j], yb[j]);
    tu_free_unaligned(ya), tu_free_unaligned(yb);
  }
}

/* Compiled on two threads: an entry of the seed model holds two objects,
 * whatever the CPUs. */
static actjit_compile_options options(void) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.compile_threads = 2;
  return o;
}

static actjit_kernel *compile_uncached(pipeline *p) {
  actjit_compile_options o = options();
  o.cache = 0;
  actjit_kernel *k = compile_pipeline_with(p, &o);
  assert_int_equal(actjit_kernel_cache_outcome(k, NULL), ACTJIT_CACHE_BYPASSED);
  return k;
}

/* ------------------------------------------------------------- in memory */

/* The same file parsed in two contexts: the second compile shares the
 * first's code (no phase took time), gives the same bits as a kernel
 * compiled without the cache, and the same plan and dumps. */
static void test_memory_hit(void **state) {
  (void)state;
  uint64_t rng = 1;
  pipeline a, b;
  load_pipeline(&a, NULL, MLP, &rng);
  rng = 1;
  load_pipeline(&b, NULL, MLP, &rng);
  actjit_compile_options o = options();
  actjit_kernel *ka = compile_pipeline_with(&a, &o);
  assert_int_equal(actjit_kernel_cache_outcome(ka, NULL), ACTJIT_CACHE_MISS);
  actjit_kernel *kb = compile_pipeline_with(&b, &o);
  assert_int_equal(actjit_kernel_cache_outcome(kb, NULL), ACTJIT_CACHE_MEMORY);
  actjit_compile_phases ph;
  assert_int_equal(actjit_kernel_compile_phases(kb, &ph), ACTJIT_OK);
  assert_true(ph.passes == 0 && ph.emit == 0 && ph.optimize == 0 && ph.codegen == 0 && ph.total > 0);
  actjit_kernel *ku = compile_uncached(&b);
  assert_same_results(ka, ku, "first kernel vs uncached");
  assert_same_results(kb, ku, "shared kernel vs uncached");
  assert_int_equal(actjit_kernel_step_count(kb), actjit_kernel_step_count(ku));
  for (int i = 0; i < actjit_kernel_step_count(kb); i++)
    assert_string_equal(actjit_kernel_step_name(kb, i), actjit_kernel_step_name(ku, i));
  for (int kind = ACTJIT_DUMP_IR; kind <= ACTJIT_DUMP_ASM; kind++) {
    char *tb, *tu;
    assert_int_equal(actjit_kernel_dump(kb, kind, &tb), ACTJIT_OK);
    assert_int_equal(actjit_kernel_dump(ku, kind, &tu), ACTJIT_OK);
    assert_string_equal(tb, tu);
    actjit_free(tb), actjit_free(tu);
  }
  actjit_kernel_destroy(ka), actjit_kernel_destroy(kb), actjit_kernel_destroy(ku);
  unload_pipeline(&a), unload_pipeline(&b);
}

/* Every change of IR, target or option compiles anew while the first
 * kernel is alive; the cache option off compiles anew too. */
static void test_memory_keys(void **state) {
  (void)state;
  uint64_t rng = 2;
  pipeline p, q;
  load_pipeline(&p, NULL, MLP, &rng);
  actjit_compile_options o = options();
  actjit_kernel *k0 = compile_pipeline_with(&p, &o);
  assert_int_equal(actjit_kernel_cache_outcome(k0, NULL), ACTJIT_CACHE_MISS);
  actjit_compile_options changed[8];
  int n = 0;
  changed[n] = o, changed[n++].fuse = 0;
  changed[n] = o, changed[n++].cpu = tu_other_cpu();
  changed[n] = o, changed[n++].features = "-avx512f";
  changed[n] = o, changed[n++].tuning = "l2=196608"; /* (no CPU's own L2: a change on any host) */
  changed[n] = o, changed[n++].opt_level = 2;
  changed[n] = o, changed[n++].training = 1;
  changed[n] = o, changed[n++].donate_input = 1;
  changed[n] = o, changed[n++].depth_first = 0;
  for (int i = 0; i < n; i++) {
    actjit_kernel *k = compile_pipeline_with(&p, &changed[i]);
    if (actjit_kernel_cache_outcome(k, NULL) != ACTJIT_CACHE_MISS) fail_msg("option set %d shared the code", i);
    actjit_kernel_destroy(k);
  }
  /* canonicalize off: a graph with nothing to canonicalize compiles alike, but anew */
  actjit_compile_options nc = o;
  nc.canonicalize = 0;
  actjit_kernel *k = compile_pipeline_with(&p, &nc);
  assert_int_equal(actjit_kernel_cache_outcome(k, NULL), ACTJIT_CACHE_MISS);
  actjit_kernel_destroy(k);
  /* the IR: one attribute, or one name, differs */
  static const char *const texts[] = {
      "input %x : f32[N, 8]\nparam @w : f32[4, 8]\n%h = linear %x, @w\n%y = leaky_relu %h {negative_slope = 0.01}\noutput %y\n",
      "input %x : f32[N, 8]\nparam @w : f32[4, 8]\n%h = linear %x, @w\n%y = leaky_relu %h {negative_slope = 0.02}\noutput %y\n",
      "input %x : f32[N, 8]\nparam @w : f32[4, 8]\n%h = linear %x, @w\n%z = leaky_relu %h {negative_slope = 0.02}\noutput %z\n",
  };
  actjit_kernel *ks[3];
  for (int i = 0; i < 3; i++) {
    rng = 3;
    load_pipeline(&q, texts[i], NULL, &rng);
    ks[i] = compile_pipeline_with(&q, &o);
    if (actjit_kernel_cache_outcome(ks[i], NULL) != ACTJIT_CACHE_MISS) fail_msg("text %d shared the code", i);
    unload_pipeline(&q);
  }
  for (int i = 0; i < 3; i++) actjit_kernel_destroy(ks[i]);
  actjit_kernel *kb = compile_uncached(&p);
  actjit_kernel_destroy(kb);
  actjit_kernel_destroy(k0);
  /* every kernel of it gone: compiled anew */
  k0 = compile_pipeline_with(&p, &o);
  assert_int_equal(actjit_kernel_cache_outcome(k0, NULL), ACTJIT_CACHE_MISS);
  actjit_kernel_destroy(k0);
  unload_pipeline(&p);
}

/* Kernels sharing code keep their own parameters, seed and context: each
 * one's results are those of an uncached kernel bound alike, and an error
 * on one is reported to its own context only. */
static void test_memory_own_state(void **state) {
  (void)state;
  const char *text = "input %x : f32[N, 20]\nparam @w : f32[24, 20]\nparam @b : f32[24]\n%h = linear %x, @w, @b\n"
                     "%d = dropout %h {p = 0.3}\n%y = gelu %d\noutput %y\n";
  uint64_t rng = 4;
  pipeline a, b;
  load_pipeline(&a, text, NULL, &rng);
  load_pipeline(&b, text, NULL, &rng); /* other weights */
  actjit_compile_options o = options();
  o.training = 1;
  actjit_kernel *ka = compile_pipeline_with(&a, &o), *kb = compile_pipeline_with(&b, &o);
  assert_int_equal(actjit_kernel_cache_outcome(kb, NULL), ACTJIT_CACHE_MEMORY);
  o.cache = 0;
  actjit_kernel *ua = compile_pipeline_with(&a, &o), *ub = compile_pipeline_with(&b, &o);
  assert_int_equal(actjit_kernel_set_seed(kb, 9), ACTJIT_OK);
  assert_int_equal(actjit_kernel_set_seed(ub, 9), ACTJIT_OK);
  assert_same_results(ka, ua, "kernel a");
  assert_same_results(kb, ub, "kernel b, other weights and seed");
  size_t na, nb;
  float *ya = run_out(ka, 5, &na), *yb = run_out(kb, 5, &nb);
  assert_true(memcmp(ya, yb, na * sizeof *ya) != 0);
  tu_free_unaligned(ya), tu_free_unaligned(yb);
  /* a wrong count for b's bias: b's context says so, a's says nothing */
  float w[3] = {0};
  assert_int_equal(actjit_kernel_bind(kb, "b", w, 3), ACTJIT_ERR_WEIGHTS);
  assert_non_null(strstr(actjit_context_error(b.ctx), "@b"));
  assert_string_equal(actjit_context_error(a.ctx), "");
  actjit_kernel_destroy(ka), actjit_kernel_destroy(kb), actjit_kernel_destroy(ua), actjit_kernel_destroy(ub);
  unload_pipeline(&a), unload_pipeline(&b);
}

/* A graph's parameters that hold values (as an ONNX model's) start bound
 * in a kernel that shares code too. */
static void test_memory_held_params(void **state) {
  (void)state;
  const char *text = "input %x : f32[N, 3]\nparam @w : f32[2, 3]\n%y = linear %x, @w\noutput %y\n";
  actjit_context *ctx;
  actjit_graph *g[2];
  actjit_kernel *k[2];
  assert_int_equal(actjit_context_create(&ctx), ACTJIT_OK);
  const float w[2][6] = {{1, 2, 3, 4, 5, 6}, {-1, 0, 1, 0.5f, 0.25f, 2}};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(actjit_graph_parse(ctx, text, strlen(text), "held.air", &g[i]), ACTJIT_OK);
    assert_int_equal(actjit_graph_param_set_data(g[i], "w", w[i], 6), ACTJIT_OK);
    assert_int_equal(actjit_compile(g[i], NULL, &k[i]), ACTJIT_OK);
  }
  assert_int_equal(actjit_kernel_cache_outcome(k[1], NULL), ACTJIT_CACHE_MEMORY);
  const float x[3] = {1, -2, 0.5f};
  for (int i = 0; i < 2; i++) {
    float y[2];
    assert_int_equal(actjit_kernel_run(k[i], x, 1, y), ACTJIT_OK);
    /* (every product and sum exact in float) */
    for (int r = 0; r < 2; r++)
      assert_true(y[r] == w[i][3 * r] * x[0] + w[i][3 * r + 1] * x[1] + w[i][3 * r + 2] * x[2]);
    actjit_kernel_destroy(k[i]);
    actjit_graph_destroy(g[i]);
  }
  actjit_context_destroy(ctx);
}

/* ------------------------------------------------------------------ disk */

/* A new empty directory under /tmp. */
static void temp_dir(char dir[64]) {
  snprintf(dir, 64, "/tmp/actjit-cache-XXXXXX");
  assert_non_null(mkdtemp(dir));
}

/* Removes dir and the files in it. */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  char path[600];
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name), unlink(path);
  closedir(d);
  rmdir(dir);
}

/* The files in dir (an entry's name into path, if any); entries are
 * named <64 hex digits>.actjit. */
static int dir_files(const char *dir, char path[600]) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    size_t len = strlen(e->d_name);
    if (len == 64 + 7 && !strcmp(e->d_name + 64, ".actjit") && path) snprintf(path, 600, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  return n;
}

static unsigned char *read_entry(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  unsigned char *p = malloc(*len);
  assert_int_equal(fread(p, 1, *len, f), *len);
  fclose(f);
  return p;
}

static void write_entry(const char *path, const unsigned char *p, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static actjit_kernel *compile_in(pipeline *p, const char *dir, const char *cpu, actjit_cache_outcome want,
                                 const char *note_has) {
  actjit_compile_options o = options();
  o.cache_dir = dir;
  o.cpu = cpu;
  actjit_kernel *k = compile_pipeline_with(p, &o);
  const char *note;
  actjit_cache_outcome got = actjit_kernel_cache_outcome(k, &note);
  if (got != want || !strstr(note, note_has))
    fail_msg("cache outcome %d (note '%s'), expected %d with '%s'", (int)got, note, (int)want, note_has);
  return k;
}

/* Each test target: a compile writes an entry; the next, every kernel of
 * it gone, reads it and runs no code generation, has the plan and the
 * dumps of an uncached compile (LLVM's rebuilt from the entry's source) and
 * its results, and, while alive, is shared in memory. */
static void test_disk_hit(void **state) {
  (void)state;
  char dir[64];
  temp_dir(dir);
  uint64_t rng = 5;
  pipeline p;
  load_pipeline(&p, NULL, MLP, &rng);
  int entries = 0;
  for (size_t t = 0; t < N_TEST_TARGETS; t++) {
    const char *cpu = test_targets[t].cpu;
    if (cpu && tu_narrowed() && !strcmp(cpu, tu_narrowed())) continue; /* the host's entry */
    actjit_kernel *k = compile_in(&p, dir, cpu, ACTJIT_CACHE_MISS, "");
    actjit_kernel_destroy(k);
    assert_int_equal(dir_files(dir, NULL), ++entries);
    k = compile_in(&p, dir, cpu, ACTJIT_CACHE_DISK, "");
    actjit_compile_phases ph;
    assert_int_equal(actjit_kernel_compile_phases(k, &ph), ACTJIT_OK);
    assert_true(ph.emit == 0 && ph.optimize == 0 && ph.codegen > 0);
    actjit_compile_options o = options();
    o.cpu = cpu;
    o.cache = 0;
    actjit_kernel *u = compile_pipeline_with(&p, &o);
    assert_same_results(k, u, "disk hit vs uncached");
    assert_string_equal(actjit_kernel_cpu(k), actjit_kernel_cpu(u));
    assert_int_equal(actjit_kernel_vector_width(k), actjit_kernel_vector_width(u));
    assert_int_equal(actjit_kernel_step_count(k), actjit_kernel_step_count(u));
    for (int i = 0; i < actjit_kernel_step_count(k); i++)
      assert_string_equal(actjit_kernel_step_name(k, i), actjit_kernel_step_name(u, i));
    assert_int_equal(actjit_kernel_scratch_bytes(k, 1000), actjit_kernel_scratch_bytes(u, 1000));
    for (int kind = ACTJIT_DUMP_IR; kind <= ACTJIT_DUMP_ASM; kind++) {
      char *tk, *tu;
      assert_int_equal(actjit_kernel_dump(k, kind, &tk), ACTJIT_OK);
      assert_int_equal(actjit_kernel_dump(u, kind, &tu), ACTJIT_OK);
      assert_string_equal(tk, tu);
      actjit_free(tk), actjit_free(tu);
    }
    actjit_kernel *m = compile_in(&p, dir, cpu, ACTJIT_CACHE_MEMORY, "");
    actjit_kernel_destroy(m), actjit_kernel_destroy(k), actjit_kernel_destroy(u);
  }
  unload_pipeline(&p);
  remove_dir(dir);
}

/* The entry's checksum made the SHA-256 of its body again (after an edit). */
static void reseal(unsigned char *p, size_t len) {
  enum { HEADER = 52, CHECKSUM = 20 };
  unsigned int n;
  assert_true(EVP_Digest(p + HEADER, len - HEADER, p + CHECKSUM, &n, EVP_sha256(), NULL) && n == 32);
}

/* An entry damaged one way: rebuilt (the note says why), with the results
 * of an uncached compile, and replaced by a valid entry. */
typedef void (*damage_fn)(const char *dir, const char *entry, pipeline *p);

static void check_rebuilt(const char *text, damage_fn damage, const char *why) {
  char dir[64], entry[600];
  temp_dir(dir);
  uint64_t rng = 6;
  pipeline p;
  load_pipeline(&p, text, NULL, &rng);
  actjit_kernel *k = compile_in(&p, dir, NULL, ACTJIT_CACHE_MISS, "");
  actjit_kernel_destroy(k);
  assert_int_equal(dir_files(dir, entry), 1);
  damage(dir, entry, &p);
  k = compile_in(&p, dir, NULL, ACTJIT_CACHE_REBUILT, why);
  actjit_kernel *u = compile_uncached(&p);
  assert_same_results(k, u, why);
  actjit_kernel_destroy(k);
  assert_int_equal(dir_files(dir, NULL), 1);
  k = compile_in(&p, dir, NULL, ACTJIT_CACHE_DISK, "");
  assert_same_results(k, u, why);
  actjit_kernel_destroy(k), actjit_kernel_destroy(u);
  unload_pipeline(&p);
  remove_dir(dir);
}

static void truncate_half(const char *dir, const char *entry, pipeline *p) {
  struct stat st;
  assert_int_equal(stat(entry, &st), 0);
  assert_int_equal(truncate(entry, st.st_size / 2), 0);
}

/* A byte of the object file (the entry's last part) flipped. */
static void flip_byte(const char *dir, const char *entry, pipeline *p) {
  size_t len;
  unsigned char *b = read_entry(entry, &len);
  b[len - len / 4] ^= 0x10;
  write_entry(entry, b, len);
  free(b);
}

/* The second object file of the entry: its first byte, and its length
 * (the 8 bytes before it). */
static unsigned char *second_object(unsigned char *b, size_t len, size_t *obj_len) {
  unsigned char *first = memmem(b, len, "\x7f" "ELF", 4);
  assert_non_null(first);
  unsigned char *second = memmem(first + 4, len - (size_t)(first + 4 - b), "\x7f" "ELF", 4);
  assert_non_null(second);
  *obj_len = 0;
  for (int i = 0; i < 8; i++) *obj_len |= (size_t)second[i - 8] << 8 * i;
  assert_true(*obj_len > 64 && *obj_len <= len - (size_t)(second - b));
  return second;
}

/* A byte in the middle of the second object file flipped. */
static void flip_second_object(const char *dir, const char *entry, pipeline *p) {
  size_t len, obj_len;
  unsigned char *b = read_entry(entry, &len);
  second_object(b, len, &obj_len)[obj_len / 2] ^= 0x10;
  write_entry(entry, b, len);
  free(b);
}

/* The second object file's magic broken, the checksum made right: the
 * entry reads, LLVM refuses the object. */
static void break_second_object(const char *dir, const char *entry, pipeline *p) {
  size_t len, obj_len;
  unsigned char *b = read_entry(entry, &len);
  second_object(b, len, &obj_len)[1] = 'X';
  reseal(b, len);
  write_entry(entry, b, len);
  free(b);
}

/* The header's format number of a later version. */
static void other_format(const char *dir, const char *entry, pipeline *p) {
  size_t len;
  unsigned char *b = read_entry(entry, &len);
  b[8]++;
  write_entry(entry, b, len);
  free(b);
}

/* Another actjit build: its version line differs, its checksum is right. */
static void other_build(const char *dir, const char *entry, pipeline *p) {
  size_t len;
  unsigned char *b = read_entry(entry, &len);
  unsigned char *at = memmem(b, len, "build ", 6);
  assert_non_null(at);
  at[6] = at[6] == 'f' ? '0' : 'f';
  reseal(b, len);
  write_entry(entry, b, len);
  free(b);
}

/* The entry of the same pipeline compiled for another CPU, under the
 * host's entry's name. */
static void other_cpu(const char *dir, const char *entry, pipeline *p) {
  char dir2[64], entry2[600];
  temp_dir(dir2);
  actjit_kernel *k = compile_in(p, dir2, tu_other_cpu(), ACTJIT_CACHE_MISS, "");
  actjit_kernel_destroy(k);
  assert_int_equal(dir_files(dir2, entry2), 1);
  size_t len;
  unsigned char *b = read_entry(entry2, &len);
  write_entry(entry, b, len);
  free(b);
  remove_dir(dir2);
}

static void test_disk_rebuilt(void **state) {
  (void)state;
  const char *texts[] = {NULL, "input %x : f32[N, 3, 9]\nparam @w : f32[9]\n%m = mul %x, @w\n"
                               "%s = softmax %m {dim = 1}\n%y = log_softmax %s {dim = -1}\noutput %y\n"};
  char *mlp_text;
  size_t len;
  mlp_text = (char *)read_entry(MLP, &len);
  mlp_text = realloc(mlp_text, len + 1);
  mlp_text[len] = 0;
  texts[0] = mlp_text;
  char other_target[64];
  snprintf(other_target, sizeof other_target, "another target: x86_64-pc-linux-gnu %s", tu_other_cpu());
  for (int i = 0; i < 2; i++) {
    check_rebuilt(texts[i], truncate_half, "truncated");
    check_rebuilt(texts[i], flip_byte, "checksum does not match");
    check_rebuilt(texts[i], flip_second_object, "checksum does not match");
    check_rebuilt(texts[i], break_second_object, "object file refused by LLVM");
    check_rebuilt(texts[i], other_format, "another version: format");
    check_rebuilt(texts[i], other_build, "another version: format 3, actjit");
    check_rebuilt(texts[i], other_cpu, other_target);
  }
  free(mlp_text);
}

/* Processes that compile one pipeline into one directory at once, each
 * deleting the entry before every other compile so that entries are
 * written while others read them: every compile is a miss or a disk hit
 * (never an entry seen half written: rebuilt), with the uncached results,
 * and one valid entry is left, no temporary file. */
enum { PROCESSES = 3, ROUNDS = 8 };

static int child(pipeline *p, const char *dir, int go, const float *want, size_t nout) {
  char byte;
  if (read(go, &byte, 1) != 1) return 2;
  for (int round = 0; round < ROUNDS; round++) {
    char entry[600];
    entry[0] = 0;
    if (round % 2 && dir_files(dir, entry) && entry[0]) unlink(entry);
    actjit_compile_options o = options();
    o.cache_dir = dir;
    actjit_kernel *k;
    if (actjit_compile(p->g, &o, &k)) return 3;
    for (int i = 0; i < p->np; i++) {
      const char *name;
      int rank;
      int64_t dims[ACTJIT_MAX_RANK];
      actjit_graph_param_info(p->g, i, &name, &rank, dims);
      size_t n = 1;
      for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
      if (actjit_kernel_bind(k, name, p->params[i], n)) return 4;
    }
    const char *note;
    actjit_cache_outcome how = actjit_kernel_cache_outcome(k, &note);
    if (how != ACTJIT_CACHE_MISS && how != ACTJIT_CACHE_DISK) {
      fprintf(stderr, "round %d: cache outcome %d: %s\n", round, (int)how, note);
      return 5;
    }
    size_t n;
    float *y = run_out(k, 300, &n);
    bool same = n == nout && !memcmp(y, want, n * sizeof *y);
    tu_free_unaligned(y);
    actjit_kernel_destroy(k);
    if (!same) return 6;
  }
  return 0;
}

static void test_disk_processes(void **state) {
  (void)state;
  uint64_t rng = 7;
  pipeline p;
  load_pipeline(&p, NULL, MLP, &rng);
  actjit_kernel *u = compile_uncached(&p);
  size_t nout;
  float *want = run_out(u, 300, &nout);
  actjit_kernel_destroy(u);
  char dir[64];
  temp_dir(dir);
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t kids[PROCESSES];
  for (int c = 0; c < PROCESSES; c++) {
    kids[c] = fork();
    assert_true(kids[c] >= 0);
    /* (no cmocka in a child: its failures jump back into the parent's stack) */
    if (!kids[c]) close(go[1]), _exit(child(&p, dir, go[0], want, nout));
  }
  close(go[0]);
  for (int c = 0; c < PROCESSES; c++) assert_int_equal(write(go[1], "g", 1), 1);
  close(go[1]);
  for (int c = 0; c < PROCESSES; c++) {
    int status;
    assert_int_equal(waitpid(kids[c], &status, 0), kids[c]);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fail_msg("process %d: status %d", c, status);
  }
  assert_int_equal(dir_files(dir, NULL), 1);
  actjit_kernel *k = compile_in(&p, dir, NULL, ACTJIT_CACHE_DISK, "");
  float *y = run_out(k, 300, &nout);
  assert_memory_equal(y, want, nout * sizeof *y);
  tu_free_unaligned(y), tu_free_unaligned(want);
  actjit_kernel_destroy(k);
  remove_dir(dir);
  unload_pipeline(&p);
}

/* A compile that reads the entry while another writes it, halfway
 * through the write (the library's write() wrapped, linked with
 * -Wl,--wrap=write): it finds no entry, not a part of one. */
ssize_t __real_write(int fd, const void *buf, size_t n);
static pipeline *reader_pipeline; /* set: the next entry's write stops halfway for a reader */
static const char *reader_dir;
static actjit_cache_outcome reader_saw = (actjit_cache_outcome)-1;

ssize_t __wrap_write(int fd, const void *buf, size_t n) {
  if (!reader_pipeline || n < 16 || memcmp(buf, "actjit-k", 8)) return __real_write(fd, buf, n);
  pipeline *p = reader_pipeline;
  reader_pipeline = NULL; /* its own entry is written whole */
  ssize_t done = __real_write(fd, buf, n / 2);
  actjit_compile_options o = options();
  o.cache_dir = reader_dir;
  actjit_kernel *k = compile_pipeline_with(p, &o);
  reader_saw = actjit_kernel_cache_outcome(k, NULL);
  actjit_kernel_destroy(k);
  return done;
}

static void test_disk_write_atomic(void **state) {
  (void)state;
  uint64_t rng = 9;
  pipeline writer, reader;
  load_pipeline(&writer, NULL, MLP, &rng);
  load_pipeline(&reader, NULL, MLP, &rng);
  char dir[64];
  temp_dir(dir);
  reader_pipeline = &reader;
  reader_dir = dir;
  actjit_kernel *k = compile_in(&writer, dir, NULL, ACTJIT_CACHE_MISS, "");
  assert_null(reader_pipeline);
  assert_int_equal(reader_saw, ACTJIT_CACHE_MISS);
  actjit_kernel_destroy(k);
  assert_int_equal(dir_files(dir, NULL), 1);
  k = compile_in(&writer, dir, NULL, ACTJIT_CACHE_DISK, "");
  actjit_kernel_destroy(k);
  remove_dir(dir);
  unload_pipeline(&writer), unload_pipeline(&reader);
}

/* An entry written by a compile on one thread holds one object file, on
 * two threads two (the seed model's two kernels, the second with the
 * entry); a disk hit links as many, generates no code, and has the
 * results and the dumps of an uncached compile alike, whatever threads it
 * was given. */
static void test_disk_objects(void **state) {
  (void)state;
  uint64_t rng = 10;
  pipeline p;
  load_pipeline(&p, NULL, MLP, &rng);
  for (int threads = 1; threads <= 2; threads++) {
    char dir[64];
    temp_dir(dir);
    actjit_compile_options o = options();
    o.cache_dir = dir;
    o.compile_threads = threads;
    actjit_kernel *k = compile_pipeline_with(&p, &o);
    assert_int_equal(actjit_kernel_cache_outcome(k, NULL), ACTJIT_CACHE_MISS);
    actjit_compile_phases ph;
    assert_int_equal(actjit_kernel_compile_phases(k, &ph), ACTJIT_OK);
    assert_true(ph.codegen_threads == threads && ph.objects == threads);
    actjit_kernel_destroy(k);
    o.compile_threads = 3 - threads;
    k = compile_pipeline_with(&p, &o);
    assert_int_equal(actjit_kernel_cache_outcome(k, NULL), ACTJIT_CACHE_DISK);
    assert_int_equal(actjit_kernel_compile_phases(k, &ph), ACTJIT_OK);
    if (ph.codegen_threads != 0 || ph.objects != threads)
      fail_msg("an entry of %d objects: code generation on %d threads, %d objects linked", threads, ph.codegen_threads,
               ph.objects);
    o.cache = 0;
    o.compile_threads = threads;
    actjit_kernel *u = compile_pipeline_with(&p, &o);
    assert_same_results(k, u, "disk hit vs uncached");
    for (int kind = ACTJIT_DUMP_LLVM; kind <= ACTJIT_DUMP_ASM; kind++) {
      char *tk, *tu;
      assert_int_equal(actjit_kernel_dump(k, kind, &tk), ACTJIT_OK);
      assert_int_equal(actjit_kernel_dump(u, kind, &tu), ACTJIT_OK);
      assert_string_equal(tk, tu);
      actjit_free(tk), actjit_free(tu);
    }
    actjit_kernel_destroy(k), actjit_kernel_destroy(u);
    remove_dir(dir);
  }
  unload_pipeline(&p);
}

/* A directory that cannot be made: compiled all the same, the note says
 * why nothing was written; a missing directory whose parent exists is
 * made. */
static void test_disk_directory(void **state) {
  (void)state;
  uint64_t rng = 8;
  pipeline p;
  load_pipeline(&p, NULL, MLP, &rng);
  actjit_kernel *k = compile_in(&p, "/nonexistent-actjit/cache", NULL, ACTJIT_CACHE_MISS,
                                "entry not written to /nonexistent-actjit/cache: No such file or directory");
  actjit_kernel_destroy(k);
  char dir[64], sub[80];
  temp_dir(dir);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  k = compile_in(&p, sub, NULL, ACTJIT_CACHE_MISS, "");
  actjit_kernel_destroy(k);
  assert_int_equal(dir_files(sub, NULL), 1);
  k = compile_in(&p, sub, NULL, ACTJIT_CACHE_DISK, "");
  actjit_kernel_destroy(k);
  remove_dir(sub);
  remove_dir(dir);
  unload_pipeline(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory_hit),
      cmocka_unit_test(test_memory_keys),
      cmocka_unit_test(test_memory_own_state),
      cmocka_unit_test(test_memory_held_params),
      cmocka_unit_test(test_disk_hit),
      cmocka_unit_test(test_disk_objects),
      cmocka_unit_test(test_disk_rebuilt),
      cmocka_unit_test(test_disk_processes),
      cmocka_unit_test(test_disk_write_atomic),
      cmocka_unit_test(test_disk_directory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
