/* What the kernel cache saves (README, "Kernel cache"), on one model:
 *   cache_latency MODEL [RUNS]
 * a compile in this process (writing the entry to a new cache directory),
 * then the median of RUNS (default 11) in-memory hits (the first kernel
 * alive), and of RUNS disk hits, each the first actjit_compile of a fresh
 * process (this program run again), from the call to the runnable kernel;
 * the disk hit's phases too, and LLVM's floor under a disk hit: a fresh
 * process that only resolves the host and loads the entry's object files
 * into an LLJIT through the C API, as a hit must, with no actjit code
 * (interleaved with the disk hits).  Times are wall-clock milliseconds. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <actjit.h>
#include <dirent.h>
#include <llvm-c/Core.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static actjit_kernel *compile(actjit_graph *g, const char *dir, double *ms, actjit_cache_outcome want) {
  actjit_compile_options o;
  actjit_compile_options_init(&o);
  o.cache_dir = dir;
  actjit_kernel *k;
  double t0 = now();
  if (actjit_compile(g, &o, &k)) {
    fprintf(stderr, "cache_latency: %s\n", actjit_context_error(actjit_graph_context(g)));
    exit(1);
  }
  *ms = (now() - t0) * 1e3;
  const char *note;
  actjit_cache_outcome got = actjit_kernel_cache_outcome(k, &note);
  if (got != want) {
    fprintf(stderr, "cache_latency: cache outcome %d, not %d %s\n", (int)got, (int)want, note);
    exit(1);
  }
  return k;
}

/* The object files of the one entry in dir: each follows its length (8
 * bytes, little-endian) at the end of the entry (runtime/cache_disk.c). */
static int entry_objects(const char *dir, unsigned char **file, size_t *off, size_t *len, int max) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4096] = "";
  while (d && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n > 7 && !strcmp(e->d_name + n - 7, ".actjit")) snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
  }
  if (d) closedir(d);
  FILE *f = fopen(path, "rb");
  long size = f && !fseek(f, 0, SEEK_END) ? ftell(f) : -1;
  *file = size > 0 ? malloc((size_t)size) : NULL;
  bool ok = *file && !fseek(f, 0, SEEK_SET) && fread(*file, 1, (size_t)size, f) == (size_t)size;
  if (f) fclose(f);
  int n = 0;
  for (size_t i = 8; ok && i + 4 <= (size_t)size && n < max; i++) {
    uint64_t l = 0;
    for (int b = 0; b < 8; b++) l |= (uint64_t)(*file)[i - 8 + b] << 8 * b;
    if (!memcmp(*file + i, "\x7f" "ELF", 4) && l && l <= (uint64_t)size - i) off[n] = i, len[n++] = (size_t)l, i += l - 1;
  }
  return n;
}

/* LLVM's part of a disk hit, in this fresh process: the host's name and
 * features (the key needs them), the native target, an LLJIT, the entry's
 * objects added and linked by looking up the entry point.  (Reading the
 * entry is not timed: the hit's own part.) */
static int floor_child(const char *dir) {
  unsigned char *file;
  size_t off[16], len[16];
  int n = entry_objects(dir, &file, off, len, 16);
  if (!n) return fprintf(stderr, "cache_latency: no object in %s\n", dir), 1;
  double t0 = now();
  char *triple = LLVMGetDefaultTargetTriple(), *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
  LLVMTargetRef target;
  char *err = NULL;
  if (LLVMInitializeNativeTarget() || LLVMGetTargetFromTriple(triple, &target, &err)) return 1;
  LLVMTargetMachineRef tm =
      LLVMCreateTargetMachine(target, triple, "", "", LLVMCodeGenLevelNone, LLVMRelocPIC, LLVMCodeModelSmall);
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMOrcLLJITRef jit;
  if (LLVMOrcCreateLLJIT(&jit, builder)) return 1;
  for (int i = 0; i < n; i++) {
    LLVMMemoryBufferRef buf =
        LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)file + off[i], len[i], "object");
    if (LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), buf)) return 1;
  }
  LLVMOrcExecutorAddress entry;
  if (LLVMOrcLLJITLookup(jit, &entry, "actjit_entry")) return 1;
  printf("%.4f\n", (now() - t0) * 1e3);
  LLVMOrcDisposeLLJIT(jit);
  LLVMDisposeMessage(triple), LLVMDisposeMessage(cpu), LLVMDisposeMessage(features);
  free(file);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--floor")) return floor_child(argv[2]);
  bool child = argc == 4 && !strcmp(argv[1], "--disk-hit");
  if (!child && (argc < 2 || argc > 3)) {
    fprintf(stderr, "usage: cache_latency MODEL [RUNS]\n");
    return 2;
  }
  const char *model = child ? argv[3] : argv[1];
  int runs = argc == 3 ? atoi(argv[2]) : 11;
  actjit_context *ctx;
  actjit_graph *g;
  if (actjit_context_create(&ctx) || actjit_graph_parse_file(ctx, model, &g)) {
    fprintf(stderr, "cache_latency: %s\n", ctx ? actjit_context_error(ctx) : "out of memory");
    return 1;
  }
  double ms;
  if (child) {
    /* one line: the compile, then its phases */
    actjit_kernel *k = compile(g, argv[2], &ms, ACTJIT_CACHE_DISK);
    actjit_compile_phases ph;
    actjit_kernel_compile_phases(k, &ph);
    printf("%.4f %.4f %.4f\n", ms, ph.passes * 1e3, ph.codegen * 1e3);
    actjit_kernel_destroy(k);
    actjit_graph_destroy(g);
    actjit_context_destroy(ctx);
    return 0;
  }
  if (runs < 1 || runs > 1000) runs = 11;
  char dir[] = "/tmp/actjit-latency-XXXXXX";
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  actjit_kernel *first = compile(g, dir, &ms, ACTJIT_CACHE_MISS);
  printf("%s: compile %.2f ms (entry written)\n", model, ms);
  double *t = calloc((size_t)runs, sizeof *t), *passes = calloc((size_t)runs, sizeof *t),
         *link = calloc((size_t)runs, sizeof *t);
  for (int i = 0; i < runs; i++) actjit_kernel_destroy(compile(g, dir, &t[i], ACTJIT_CACHE_MEMORY));
  printf("in-memory hit: median %.4f ms of %d\n", median(t, runs), runs);
  actjit_kernel_destroy(first);
  double *floor = calloc((size_t)runs, sizeof *floor);
  if (!t || !passes || !link || !floor) return fprintf(stderr, "cache_latency: out of memory\n"), 1;
  for (int i = 0; i < runs; i++) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --disk-hit '%s' '%s'", argv[0], dir, model);
    FILE *p = popen(cmd, "r");
    if (!p || fscanf(p, "%lf %lf %lf", &t[i], &passes[i], &link[i]) != 3 || pclose(p)) {
      fprintf(stderr, "cache_latency: %s failed\n", cmd);
      return 1;
    }
    snprintf(cmd, sizeof cmd, "'%s' --floor '%s'", argv[0], dir);
    if (!(p = popen(cmd, "r")) || fscanf(p, "%lf", &floor[i]) != 1 || pclose(p)) {
      fprintf(stderr, "cache_latency: %s failed\n", cmd);
      return 1;
    }
  }
  printf("disk hit, first compile of a fresh process: median %.3f ms of %d (of which verifying, the target, the key "
         "and reading the entry %.3f ms, loading the object %.3f ms)\n",
         median(t, runs), runs, median(passes, runs), median(link, runs));
  printf("LLVM's floor under it, a fresh process: the host, the native target, an LLJIT, the entry's objects "
         "loaded and linked through the C API: median %.3f ms of %d, interleaved\n",
         median(floor, runs), runs);
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
  if (system(rm)) return 1;
  free(t), free(passes), free(link), free(floor);
  actjit_graph_destroy(g);
  actjit_context_destroy(ctx);
  return 0;
}
