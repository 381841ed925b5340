/* Target resolution: the CPU and features (given, from the environment, or
 * the host's), validated, then described by the ISA's file. */
#include "target/target.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h" /* aj_error, aj_strndup */

/* Takes an LLVM-owned message, returns a malloc'ed copy, disposes it. */
static char *take_llvm_message(char *msg) {
  char *s = aj_strndup(msg ? msg : "", strlen(msg ? msg : ""));
  LLVMDisposeMessage(msg);
  return s;
}

static char *dup_str(const char *s) { return aj_strndup(s, strlen(s)); }

/* "key=value,..." over the description; unknown keys and bad values are errors. */
static actjit_status apply_tuning(actjit_context *ctx, const char *tuning, target_desc *t) {
  static const struct {
    const char *key;
    size_t offset;
    bool bytes;
  } keys[] = {
      {"vregs", offsetof(target_desc, vregs), false},       {"fma-ports", offsetof(target_desc, fma_ports), false},
      {"fma-latency", offsetof(target_desc, fma_latency), false}, {"l1", offsetof(target_desc, l1d), true},
      {"l2", offsetof(target_desc, l2), true},              {"l3", offsetof(target_desc, l3), true},
  };
  for (const char *p = tuning; p && *p;) {
    size_t len = strcspn(p, ","), klen = strcspn(p, "=");
    size_t k = 0, nkeys = sizeof keys / sizeof *keys;
    while (k < nkeys && !(strlen(keys[k].key) == klen && !memcmp(keys[k].key, p, klen))) k++;
    char *end;
    long long v = klen < len ? strtoll(p + klen + 1, &end, 10) : 0;
    if (k == nkeys || klen >= len || end != p + len || v < 1 || v > ((long long)1 << 40))
      return aj_error(ctx, ACTJIT_ERR_TARGET,
                      "tuning '%.*s': expected key=positive integer, keys vregs, fma-ports, fma-latency, l1, l2, l3",
                      (int)len, p);
    char *field = (char *)t + keys[k].offset;
    if (keys[k].bytes) *(int64_t *)field = v;
    else *(int *)field = (int)(v > 1024 ? 1024 : v);
    p += len + (p[len] == ',');
  }
  return ACTJIT_OK;
}

actjit_status target_resolve(actjit_context *ctx, const char *cpu, const char *features, const char *tuning,
                             target_desc *t) {
  *t = (target_desc){0};
  /* Like oneDNN's ONEDNN_MAX_CPU_ISA: the environment may narrow the host
   * target (tools such as valgrind lack AVX-512). */
  if (!cpu && getenv("ACTJIT_CPU") && *getenv("ACTJIT_CPU")) {
    cpu = getenv("ACTJIT_CPU");
    features = features ? features : getenv("ACTJIT_FEATURES");
  }
  actjit_status st = x86_check_names(ctx, cpu, features);
  if (st) return st;
  t->host = !cpu;
  t->triple = take_llvm_message(LLVMGetDefaultTargetTriple());
  t->cpu = cpu ? dup_str(cpu) : take_llvm_message(LLVMGetHostCPUName());
  t->features = features ? dup_str(features) : cpu ? dup_str("") : take_llvm_message(LLVMGetHostCPUFeatures());
  if (!t->triple || !t->cpu || !t->features) {
    target_free(t);
    return aj_error(ctx, ACTJIT_ERR_NOMEM, "out of memory");
  }
  x86_isa(t);
  x86_microarch(t);
  if ((st = apply_tuning(ctx, tuning, t))) target_free(t);
  return st;
}

void target_free(target_desc *t) {
  free(t->triple);
  free(t->cpu);
  free(t->features);
  *t = (target_desc){0};
}

static const char *kib(int64_t bytes, char *buf, size_t len) {
  if (bytes % (1 << 20) == 0) snprintf(buf, len, "%lld MiB", (long long)(bytes >> 20));
  else snprintf(buf, len, "%lld KiB", (long long)(bytes >> 10));
  return buf;
}

void target_describe(const target_desc *t, char *buf, size_t len) {
  char l1[32], l2[32], l3[32];
  snprintf(buf, len, "%s: %d floats x %d registers, %s%d FMA/cycle (latency %d), L1 %s, L2 %s, L3 %s", t->cpu,
           t->width, t->vregs, t->fma ? "" : "no FMA: as ", t->fma_ports, t->fma_latency, kib(t->l1d, l1, sizeof l1),
           kib(t->l2, l2, sizeof l2), kib(t->l3, l3, sizeof l3));
}
