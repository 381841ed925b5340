/* --plot (plot.h): a gnuplot script with the data inline, run by gnuplot. */
#include "cli/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct row {
  char *model;
  int64_t batch;
  double us[PLOT_NSERIES];
} row;

struct bench_plot {
  row *rows;
  int n, cap;
};

static const struct {
  const char *title, *style;
} series[PLOT_NSERIES] = {
    [PLOT_FUSED] = {"actjit fused", "linespoints lw 2 pt 7 lc rgb '#9400d3'"},
    [PLOT_UNFUSED] = {"actjit unfused", "linespoints pt 6 lc rgb '#009e73'"},
    [PLOT_ONEDNN] = {"oneDNN", "linespoints lw 2 pt 5 lc rgb '#0072b2'"},
    [PLOT_ORT] = {"ONNX Runtime, net of its call overhead", "linespoints lw 2 pt 9 lc rgb '#e69f00'"},
    [PLOT_ORT_RUN] = {"ONNX Runtime, its model\\_run", "linespoints dt 2 pt 8 lc rgb '#d55e00'"},
    [PLOT_FMA] = {"the FLOPs at the FMA peak", "lines dt 2 lc rgb 'black'"},
};

bench_plot *plot_create(void) { return calloc(1, sizeof(bench_plot)); }

int plot_add(bench_plot *p, const char *model, int64_t batch, const double us[PLOT_NSERIES]) {
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 16;
    row *r = realloc(p->rows, (size_t)cap * sizeof *r);
    if (!r) return -1;
    p->rows = r, p->cap = cap;
  }
  row *r = &p->rows[p->n];
  if (!(r->model = malloc(strlen(model) + 1))) return -1;
  strcpy(r->model, model);
  r->batch = batch;
  memcpy(r->us, us, sizeof r->us);
  p->n++;
  return 0;
}

/* s as a gnuplot single-quoted string ('' for a quote). */
static void quoted(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++) *s == '\'' ? fputs("''", f) : fputc(*s, f);
  fputc('\'', f);
}

static bool first_of_model(const bench_plot *p, int i) {
  for (int j = 0; j < i; j++)
    if (!strcmp(p->rows[j].model, p->rows[i].model)) return false;
  return true;
}

/* The script: one panel per model, in the order they came. */
static void write_script(FILE *f, const bench_plot *p, const char *out, const char *title) {
  int models = 0;
  for (int i = 0; i < p->n; i++) models += first_of_model(p, i);
  fprintf(f, "set encoding utf8\nset terminal svg size 960,%d dynamic font 'sans,12' background 'white'\n",
          80 + 440 * models);
  fputs("set output ", f), quoted(f, out), fputs("\n", f);
  fputs("set logscale xy\nset grid\nset key top left\nset xlabel 'batch size'\nset ylabel 'time per call (µs)'\n"
        "set datafile missing '?'\n",
        f);
  fprintf(f, "set multiplot layout %d,1 title ", models), quoted(f, title), fputs(" noenhanced\n", f);
  for (int i = 0, m = 0; i < p->n; i++) {
    if (!first_of_model(p, i)) continue;
    fprintf(f, "$d%d << EOD\n", m);
    bool present[PLOT_NSERIES] = {0};
    for (int j = i; j < p->n; j++) {
      if (strcmp(p->rows[j].model, p->rows[i].model)) continue;
      fprintf(f, "%lld", (long long)p->rows[j].batch);
      for (int s = 0; s < PLOT_NSERIES; s++) {
        double v = p->rows[j].us[s];
        present[s] |= isfinite(v) && v > 0;
        isfinite(v) && v > 0 ? fprintf(f, " %.6g", v) : fputs(" ?", f);
      }
      fputs("\n", f);
    }
    fputs("EOD\nset title ", f), quoted(f, p->rows[i].model), fputs(" noenhanced\nplot", f);
    for (int s = 0, k = 0; s < PLOT_NSERIES; s++)
      if (present[s]) fprintf(f, "%s $d%d using 1:%d with %s title '%s'", k++ ? "," : "", m, s + 2, series[s].style, series[s].title);
    fputs("\n", f);
    m++;
  }
  fputs("unset multiplot\n", f);
}

/* The last non-empty line of a file, or "" (static storage). */
static const char *last_line(const char *path) {
  static char last[256];
  char line[256];
  last[0] = 0;
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    if (line[strspn(line, " \t\r\n")]) snprintf(last, sizeof last, "%.*s", (int)strcspn(line, "\r\n"), line);
  if (f) fclose(f);
  return last;
}

int plot_write(const bench_plot *p, const char *path, const char *title, char *err, size_t len) {
  char script[] = "/tmp/actjit-plot-XXXXXX";
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  int fd = tmp ? mkstemp(script) : -1;
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    snprintf(err, len, "cannot write a gnuplot script: %s", strerror(errno));
    if (fd >= 0) close(fd), unlink(script);
    free(tmp);
    return -1;
  }
  snprintf(tmp, plen + 5, "%s.tmp", path);
  write_script(f, p, tmp, title);
  char errors[sizeof script + 4];
  snprintf(errors, sizeof errors, "%s.err", script);
  /* gnuplot's messages go to a file: the one line of ours names the last. */
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int rc = -1;
  FILE *probe = NULL;
  if (fclose(f)) {
    snprintf(err, len, "cannot write a gnuplot script: %s", strerror(errno));
  } else if (!(probe = fopen(tmp, "w")) || fclose(probe)) {
    snprintf(err, len, "cannot write %s: %s", tmp, strerror(errno));
  } else {
    pid_t pid;
    char *argv[] = {"gnuplot", script, NULL};
    int e = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ), status = 0;
    if (e == ENOENT) snprintf(err, len, "no gnuplot (apt-get install gnuplot-nox)");
    else if (e) snprintf(err, len, "cannot run gnuplot: %s", strerror(e));
    else if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
      snprintf(err, len, "gnuplot failed: %s", last_line(errors));
    else if (rename(tmp, path))
      snprintf(err, len, "%s: %s", path, strerror(errno));
    else
      rc = 0;
  }
  posix_spawn_file_actions_destroy(&fa);
  if (rc) unlink(tmp);
  unlink(script);
  unlink(errors);
  free(tmp);
  return rc;
}

void plot_free(bench_plot *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) free(p->rows[i].model);
  free(p->rows);
  free(p);
}
