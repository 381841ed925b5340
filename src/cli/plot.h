/* --plot FILE.svg: the benchmark's times per batch size, one line per
 * engine and plan, log-log, one panel per model, drawn by gnuplot. */
#ifndef ACTJIT_CLI_PLOT_H
#define ACTJIT_CLI_PLOT_H

#include <stddef.h>
#include <stdint.h>

enum plot_series {
  PLOT_FUSED,
  PLOT_UNFUSED,
  PLOT_ONEDNN,
  PLOT_ORT,     /* net of the per-call overhead */
  PLOT_ORT_RUN, /* ORT's own model_run */
  PLOT_FMA,     /* the time of the FLOPs at the measured FMA peak */
  PLOT_NSERIES
};

typedef struct bench_plot bench_plot;

bench_plot *plot_create(void);
/* One batch size of `model`: microseconds of each series (NaN: none).
 * Returns 0, or -1 out of memory. */
int plot_add(bench_plot *p, const char *model, int64_t batch, const double us[PLOT_NSERIES]);
/* Draws the rows so far into `path` (written under a temporary name, then
 * renamed: never a partial file), titled with `title`.  Returns 0, or -1
 * with the reason in err[len]. */
int plot_write(const bench_plot *p, const char *path, const char *title, char *err, size_t len);
void plot_free(bench_plot *p);

#endif
