/* The compile's front half, shared by the JIT (kernel.c) and ahead-of-time
 * objects (aot.c). */
#ifndef ACTJIT_LOWER_H
#define ACTJIT_LOWER_H

#include "ir/print.h"
#include "plan/plan.h"
#include "target/target.h"

/* Verifies g, resolves o's target into t, runs the passes on g (in place)
 * and plans its memory into p; dump gets the IR after each pass, then the
 * plan.  On error t and p may hold what was made: the caller frees them. */
actjit_status kernel_lower(actjit_graph *g, const actjit_compile_options *o, target_desc *t, plan *p, strbuf *dump);
/* What kernel s of g runs: "linear %fc1 | relu %act". */
void kernel_print_step(strbuf *sb, const actjit_graph *g, const step *s);

#endif
