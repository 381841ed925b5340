/* The target description: what the code is generated for, known before the
 * passes run.  The CPU name and feature string LLVM gets, and what codegen
 * derives its strategies from: the vector width and register file, the FMA
 * units, the caches.  Everything specific to one ISA lives behind it
 * (x86.c); another ISA is another such file. */
#ifndef ACTJIT_TARGET_H
#define ACTJIT_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "actjit.h"

typedef struct target_desc {
  char *triple, *cpu, *features; /* given to LLVM; malloc'ed */
  bool host;                     /* the CPU this process runs on */
  int width;                     /* floats per vector register */
  int vregs;                     /* vector registers */
  bool fma;                      /* fused multiply-add instructions */
  int fma_ports;                 /* vector FMAs issued per cycle at this width */
  int fma_latency;               /* cycles from an FMA to its result */
  int64_t l1d, l2, l3;           /* data cache bytes: L1 and L2 of a core, L3 shared */
} target_desc;

/* Resolves cpu/features (NULL: the host's, or $ACTJIT_CPU/$ACTJIT_FEATURES),
 * rejecting names this LLVM does not know and CPUs it cannot target, and
 * fills in the description.  `tuning` ("fma-ports=1,l2=262144", NULL for
 * none) overrides what was derived: keys vregs, fma-ports, fma-latency, l1,
 * l2, l3. */
actjit_status target_resolve(actjit_context *ctx, const char *cpu, const char *features, const char *tuning,
                             target_desc *t);
void target_free(target_desc *t);
/* One line describing t: "znver5: 16 floats x 32 registers, 2 FMA/cycle
 * (latency 4), L1 48 KiB, L2 1 MiB, L3 32 MiB". */
void target_describe(const target_desc *t, char *buf, size_t len);

/* ---- x86.c: what the CPU name and features say on x86 */
/* Rejects a CPU or feature name this LLVM does not know (with a suggestion),
 * and CPUs without 64-bit mode (LLVM would abort on them). */
actjit_status x86_check_names(actjit_context *ctx, const char *cpu, const char *features);
/* t->width and t->fma from the features t->cpu implies (from t->features
 * alone for the host, whose list is complete), adjusted by t->features. */
void x86_isa(target_desc *t);
/* t->vregs, the FMA units and the cache sizes of t->cpu's family (the
 * host's caches as the OS reports them). */
void x86_microarch(target_desc *t);

#endif
