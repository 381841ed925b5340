/* x86: CPU and feature names, what they imply, and the microarchitecture
 * facts codegen derives its tiles from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"      /* aj_error */
#include "ir/suggest.h"
#include "target/target.h"
#include "target_names.h" /* generated from this LLVM: known_cpus (with width, fma), known_features */

enum { NCPUS = sizeof known_cpus / sizeof *known_cpus, NFEATURES = sizeof known_features / sizeof *known_features };

/* CPUs without 64-bit mode: LLVM aborts when asked to target x86-64 code
 * for them (tests/test_targets.c compiles for every other known CPU). */
static const char *const cpus_32bit[] = {
    "athlon", "athlon-4", "athlon-mp", "athlon-tbird", "athlon-xp", "c3", "c3-2", "geode", "i386", "i486", "i586",
    "i686", "k6", "k6-2", "k6-3", "lakemont", "pentium", "pentium-m", "pentium-mmx", "pentium2", "pentium3",
    "pentium3m", "pentium4", "pentium4m", "pentium_4", "pentium_4_sse3", "pentium_ii", "pentium_iii",
    "pentium_iii_no_xmm_regs", "pentium_m", "pentium_mmx", "pentium_pro", "pentiumpro", "prescott", "winchip-c6",
    "winchip2", "yonah",
};

static const known_cpu *find_cpu(const char *name, size_t len) {
  for (size_t i = 0; i < NCPUS; i++)
    if (strlen(known_cpus[i].name) == len && !memcmp(known_cpus[i].name, name, len)) return &known_cpus[i];
  return NULL;
}

static bool known_feature(const char *s, size_t len) {
  for (size_t i = 0; i < NFEATURES; i++)
    if (strlen(known_features[i]) == len && !memcmp(known_features[i], s, len)) return true;
  return false;
}

/* " (did you mean 'x'?)" for the CPU (cpus) or feature name closest to
 * s[0..len), written with `sign` before it, or "". */
static const char *hint_for(bool cpus, const char *sign, const char *s, size_t len, char hint[SUGGEST_HINT_SIZE + 1]) {
  suggest sg;
  suggest_init(&sg, s, len);
  for (size_t i = 0; i < (cpus ? NCPUS : NFEATURES); i++) suggest_offer(&sg, cpus ? known_cpus[i].name : known_features[i]);
  hint[0] = '\0';
  if (sg.best) snprintf(hint, SUGGEST_HINT_SIZE + 1, " (did you mean '%s%s'?)", sign, sg.best);
  return hint;
}

actjit_status x86_check_names(actjit_context *ctx, const char *cpu, const char *features) {
  char hint[SUGGEST_HINT_SIZE + 1];
  if (cpu && !find_cpu(cpu, strlen(cpu)))
    return aj_error(ctx, ACTJIT_ERR_TARGET, "unknown CPU '%s'%s; names as in llc -mcpu=help", cpu,
                    hint_for(true, "", cpu, strlen(cpu), hint));
  for (size_t i = 0; cpu && i < sizeof cpus_32bit / sizeof *cpus_32bit; i++)
    if (!strcmp(cpu, cpus_32bit[i]))
      return aj_error(ctx, ACTJIT_ERR_TARGET, "CPU '%s' has no 64-bit mode: actjit generates x86-64 code", cpu);
  /* Each entry of "+a,-b" must be a feature LLVM knows: LLVM would only warn
   * on stderr and ignore it. */
  for (const char *p = features ? features : ""; *p;) {
    size_t len = strcspn(p, ",");
    bool sign = *p == '+' || *p == '-';
    if (len && (!sign || !known_feature(p + 1, len - 1)))
      return aj_error(ctx, ACTJIT_ERR_TARGET,
                      "unknown CPU feature '%.*s'%s; expected +name or -name, names as in llc -mattr=help", (int)len,
                      p, sign ? hint_for(false, *p == '+' ? "+" : "-", p + 1, len - 1, hint) : "");
    p += len + (p[len] == ',');
  }
  return ACTJIT_OK;
}

/* Is +name (on) or -name (off) in the feature string?  The last one wins. */
static int feature_state(const char *features, const char *name) {
  int state = 0;
  size_t n = strlen(name);
  for (const char *p = features; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n + 1 && !memcmp(p + 1, name, n)) state = *p == '+' ? 1 : -1;
    p += len + (p[len] == ',');
  }
  return state;
}

void x86_isa(target_desc *t) {
  /* A named CPU implies its features (known_cpus, probed from this LLVM at
   * build time); the host's list names every feature, so it starts bare. */
  const known_cpu *k = t->host ? NULL : find_cpu(t->cpu, strlen(t->cpu));
  int w = k ? k->width : 4;
  /* +avx512f gives 16 floats, +avx or +avx2 8; taking one away narrows, as
   * in LLVM, where AVX-512 needs AVX2 and AVX2 needs AVX. */
  if (feature_state(t->features, "avx512f") > 0) w = 16;
  else if ((feature_state(t->features, "avx") > 0 || feature_state(t->features, "avx2") > 0) && w < 8) w = 8;
  if ((feature_state(t->features, "avx512f") < 0 || feature_state(t->features, "avx2") < 0) && w > 8) w = 8;
  if (feature_state(t->features, "avx") < 0) w = 4;
  t->width = w;
  int fma = feature_state(t->features, "fma");
  t->fma = fma ? fma > 0 : k && k->fma;
}

/* Families by CPU name: how many FMAs of full vectors (16 floats with
 * AVX-512, else 8) issue per cycle, their latency, and cache sizes.  Where
 * the name does not tell (a Skylake-SP Xeon has one or two 512-bit FMA
 * units), the common case; `tuning` overrides it. */
static const struct family {
  const char *names; /* space-separated CPU names */
  int ports512, ports256, latency;
  int l1_kib, l2_kib, l3_mib;
} families[] = {
    {"znver5", 2, 2, 4, 48, 1024, 32},
    {"znver4", 1, 2, 4, 32, 1024, 32}, /* 512-bit FMAs take the two 256-bit units in turn */
    {"znver3", 0, 2, 4, 32, 512, 32},
    {"znver2", 0, 2, 5, 32, 512, 16},
    {"znver1", 0, 1, 5, 32, 512, 8}, /* two 128-bit FMA units */
    {"sapphirerapids emeraldrapids graniterapids graniterapids-d diamondrapids", 2, 2, 4, 48, 2048, 64},
    {"icelake-server", 2, 2, 4, 48, 1280, 48},
    {"skylake-avx512 cascadelake cooperlake", 2, 2, 4, 32, 1024, 32},
    {"icelake-client tigerlake rocketlake cannonlake", 1, 2, 4, 48, 512, 8}, /* one 512-bit FMA (ports 0+1) */
    {"alderlake raptorlake meteorlake arrowlake arrowlake-s arrowlake_s lunarlake pantherlake gracemont", 0, 2, 4,
     48, 1280, 24},
    {"skylake kabylake coffeelake", 0, 2, 4, 32, 256, 8},
    {"haswell broadwell core-avx2", 0, 2, 5, 32, 256, 8},
    {"knl knm", 2, 2, 6, 32, 512, 0},
};

static bool in_names(const char *names, const char *cpu) {
  size_t n = strlen(cpu);
  for (const char *p = names; *p;) {
    size_t len = strcspn(p, " ");
    if (len == n && !memcmp(p, cpu, n)) return true;
    p += len + (p[len] == ' ');
  }
  return false;
}

/* The host's cache of `level` and type ("Data", "Unified"), in bytes, as
 * Linux reports it; 0 if it does not. */
static int64_t host_cache(int level, const char *type) {
  for (int i = 0; i < 8; i++) {
    char path[96], buf[64];
    int lv = 0;
    int64_t size = 0;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    bool ok = fscanf(f, "%d", &lv) == 1;
    fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    if (!ok || lv != level || !(f = fopen(path, "r"))) continue;
    ok = fgets(buf, sizeof buf, f) && !strncmp(buf, type, strlen(type));
    fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    if (!ok || !(f = fopen(path, "r"))) continue;
    char unit = 'K';
    ok = fscanf(f, "%lld%c", (long long *)&size, &unit) >= 1;
    fclose(f);
    if (ok) return size << (unit == 'M' ? 20 : unit == 'K' ? 10 : 0);
  }
  return 0;
}

void x86_microarch(target_desc *t) {
  const struct family *fam = NULL;
  for (size_t i = 0; !fam && i < sizeof families / sizeof *families; i++)
    if (in_names(families[i].names, t->cpu)) fam = &families[i];
  /* 64-bit mode has 32 vector registers with AVX-512, 16 without. */
  t->vregs = t->width == 16 ? 32 : 16;
  int ports = fam ? (t->width == 16 ? fam->ports512 : fam->ports256) : 1;
  t->fma_ports = ports ? ports : 1;
  t->fma_latency = fam ? fam->latency : 4;
  t->l1d = (int64_t)(fam ? fam->l1_kib : 32) << 10;
  t->l2 = (int64_t)(fam ? fam->l2_kib : 256) << 10;
  t->l3 = (int64_t)(fam && fam->l3_mib ? fam->l3_mib : 8) << 20;
  if (t->host) { /* what the OS says of this machine's caches */
    int64_t l1 = host_cache(1, "Data"), l2 = host_cache(2, "Unified"), l3 = host_cache(3, "Unified");
    t->l1d = l1 ? l1 : t->l1d;
    t->l2 = l2 ? l2 : t->l2;
    t->l3 = l3 ? l3 : t->l3;
  }
}
