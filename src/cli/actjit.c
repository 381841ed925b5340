/* actjit: the command-line driver.
 *
 *   actjit run MODEL --weights W.safetensors --input X.npy --output Y.npy
 *   actjit dump MODEL --emit ir|passes|llvm|llvm-opt|asm [-o FILE]
 *   actjit check MODEL
 *   actjit bench MODEL
 *   actjit aot MODEL [--weights W.safetensors] -o NAME.o [--header NAME.h] [--prefix NAME]
 *   actjit --version [--verbose] | --help
 *
 * MODEL is textual IR or the print-out of a PyTorch nn.Sequential (told apart
 * by content: a print-out starts with `Sequential(`).  Errors are one line on
 * stderr, `actjit: <message>`; the exit status says the class of failure
 * (exit_codes.h, the table below). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actjit.h"
#include "cli/bench.h"
#include "cli/exit_codes.h"
#include "cli/pool.h"
#include "frontend/onnx.h"
#include "frontend/torch_seq.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "ir/suggest.h"

/* What --help and the README say of each exit status. */
static const struct {
  int code;
  const char *what;
} exit_table[] = {
    {EXIT_OK, "success"},
    {EXIT_INTERNAL, "internal error (LLVM failed) or another failure"},
    {EXIT_USAGE, "command-line error"},
    {EXIT_INVALID, "invalid model or input: syntax, shapes, weights, a file of the wrong format"},
    {EXIT_IO, "I/O: a file that cannot be opened, read or written"},
    {EXIT_NOMEM, "out of memory"},
    {EXIT_UNSUPPORTED, "unsupported CPU or CPU feature, or a model actjit cannot compile"},
    {EXIT_MISMATCH, "bench: a kernel's result disagrees with the scalar reference"},
};

/* ------------------------------------------------------------------ usage */

static const char usage_run[] =
    "usage: actjit run MODEL --input X.npy --output Y.npy [--weights W.safetensors]\n"
    "                  [--input-shape DIMS] [--no-fuse] [--no-canonicalize] [--no-depth-first]\n"
    "                  [--cpu NAME] [--features STR] [--tuning STR] [--threads N] [--verbose]\n"
    "  Compiles MODEL and runs it on X.npy (float32), writing Y.npy atomically.\n"
    "  The input's leading dim is the batch when the model's input is N-led; the\n"
    "  other dims must match the model's.  Every parameter of the model must be in\n"
    "  W.safetensors under its name (a state_dict key such as 0.weight) with its\n"
    "  shape, and W.safetensors may hold nothing else; an ONNX model (told apart by\n"
    "  content) holds its own weights and takes no --weights.  For a PyTorch\n"
    "  print-out the model's input is X.npy's shape with dim 0 as N (a 1-D X is one\n"
    "  sample), unless --input-shape is given; an ONNX model's first dim is the\n"
    "  batch.  --threads N runs each kernel's batch slices on N threads.  --verbose\n"
    "  (-v) says what was done: the model's shapes, the\n"
    "  target, the kernels, the threads and the times.  --no-fuse: one kernel per\n"
    "  op; --no-canonicalize: activations written in primitives (x * sigmoid(x),\n"
    "  GELU as torch.onnx.export writes it) are compiled as written instead of as\n"
    "  the high-level ops; --no-depth-first: layer by layer, not blocks of rows\n"
    "  through consecutive linear layers.  --tuning overrides what the target is\n"
    "  known to have (keys vregs, fma-ports, fma-latency, l1, l2, l3; bytes), e.g.\n"
    "  fma-ports=1,l2=262144.  With ACTJIT_CACHE_DIR set, the compiled kernel is\n"
    "  kept in that directory and the next run loads it instead of compiling.\n";

static const char usage_dump[] =
    "usage: actjit dump MODEL [--emit ir|passes|llvm|llvm-opt|asm] [-o FILE]\n"
    "                   [--weights W.safetensors] [--input-shape DIMS] [--no-fuse]\n"
    "                   [--no-canonicalize] [--no-depth-first] [--cpu NAME] [--features STR]\n"
    "                   [--tuning STR]\n"
    "  Compiles MODEL and prints one stage of it (default: ir): the IR the code\n"
    "  is generated from, the IR after each pass, LLVM IR before and after\n"
    "  optimization, or assembly.  -o writes FILE atomically instead of stdout.\n"
    "  --no-fuse, --no-canonicalize, --no-depth-first and --tuning as for run.\n"
    "  --weights checks the weights against the model's parameters.\n";

static const char usage_check[] =
    "usage: actjit check MODEL [--input-shape DIMS] [--weights W.safetensors]\n"
    "  Parses and verifies MODEL and prints its IR.  --weights also checks the\n"
    "  weights against the model's parameters.\n";

static const char usage_bench[] =
    "usage: actjit bench MODEL [--weights W.safetensors] [--input-shape DIMS] [--shape DIMS]\n"
    "                    [--batch B,...] [--threads N] [--json] [--breakdown] [--reps R]\n"
    "                    [--training] [--no-canonicalize] [--no-depth-first] [--cpu NAME]\n"
    "                    [--features STR] [--tuning STR] [--plot FILE.svg]\n"
    "  Times MODEL fused, unfused and through the scalar reference beside a memcpy of\n"
    "  the input's bytes, oneDNN, ONNX Runtime and the machine's ceilings (README,\n"
    "  Benchmark), after checking the kernels and the peers against the reference.\n"
    "  Weights come from W.safetensors or are random (PyTorch's default init); an ONNX\n"
    "  model's are its own, and ONNX Runtime runs that same file.  --shape such as\n"
    "  16384x1024 fixes the input (its first dim the batch); otherwise batch sizes\n"
    "  are swept.  Flags:\n";

static const char usage_aot[] =
    "usage: actjit aot MODEL -o NAME.o [--header NAME.h] [--prefix NAME] [--weights W.safetensors]\n"
    "                  [--input-shape DIMS] [--no-fuse] [--no-canonicalize] [--no-depth-first]\n"
    "                  [--cpu NAME] [--features STR] [--tuning STR]\n"
    "  Compiles MODEL ahead of time into an ELF object NAME.o and a C header NAME.h\n"
    "  (default: -o's path, .h for .o) declaring NAME_scratch_bytes, NAME_run,\n"
    "  NAME_parallel_scratch_bytes and NAME_run_parallel (NAME: --prefix, default\n"
    "  -o's file name up to its first dot).  The weights, from W.safetensors as for\n"
    "  run or an ONNX model's own, are packed into the object; without them the\n"
    "  object packs them at run time (NAME_params_bytes, NAME_bind, and the runs\n"
    "  take the packed buffer first).  It needs only libc:\n"
    "  cc app.c NAME.o.  The code is for the host CPU unless --cpu/--features say\n"
    "  otherwise.  Both files are written atomically.  Other flags as for run.\n";

static const char usage_common[] =
    "MODEL is textual IR, a PyTorch nn.Sequential print-out (print(model)) or an\n"
    "ONNX model (torch.onnx.export), told apart by content.\n"
    "A print-out does not give the input shape: dump, check and aot take\n"
    "[N, in_features] from its first Linear unless --input-shape DIMS is given, e.g.\n"
    "N,784 or N,3,32 (N: the batch).  Supported modules: ";

static void print_usage(FILE *f, const char *cmd) {
  if (!cmd || !strcmp(cmd, "run")) fputs(usage_run, f);
  if (!cmd || !strcmp(cmd, "dump")) fputs(usage_dump, f);
  if (!cmd || !strcmp(cmd, "check")) fputs(usage_check, f);
  if (!cmd || !strcmp(cmd, "aot")) fputs(usage_aot, f);
  if (!cmd || !strcmp(cmd, "bench")) {
    fputs(usage_bench, f);
    bench_usage_flags(f);
  }
  if (!cmd)
    fputs("usage: actjit --version [--verbose]\n"
          "  Prints the versions of actjit and LLVM and the host CPU's name; --verbose\n"
          "  adds the CPU features LLVM sees.\n"
          "usage: actjit --help | actjit COMMAND --help\n",
          f);
  fputs(usage_common, f);
  for (int i = 0; i < torch_seq_module_count(); i++)
    fprintf(f, "%s%s", i ? ", " : "", torch_seq_module_name(i));
  fputs(".\nErrors: one line on stderr.  Exit status:\n", f);
  for (size_t i = 0; i < sizeof exit_table / sizeof *exit_table; i++)
    fprintf(f, "  %d  %s\n", exit_table[i].code, exit_table[i].what);
}

/* One line on stderr, newlines flattened.  Returns `code`. */
__attribute__((format(printf, 2, 3))) static int complain(int code, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *c = msg; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  fprintf(stderr, "actjit: %s\n", msg);
  return code;
}

/* ---------------------------------------------------------------- options */

typedef enum cmd_id { CMD_RUN, CMD_DUMP, CMD_CHECK, CMD_AOT } cmd_id;

typedef struct options {
  cmd_id cmd;
  const char *cmd_name;
  const char *model, *weights, *input, *output, *cpu, *features, *tuning;
  const char *header, *prefix; /* aot */
  actjit_dump_kind emit;
  bool no_fuse, no_canonicalize, no_depth_first, help, verbose;
  int threads;
  int in_rank; /* 0: no --input-shape */
  int64_t in_dims[ACTJIT_MAX_RANK];
} options;

/* "N,784", "N, 3, 32", "[N, 784]", "1,784" */
static bool parse_dims(const char *s, int *rank, int64_t dims[ACTJIT_MAX_RANK]) {
  int r = 0;
  while (*s == ' ') s++;
  bool bracket = *s == '[';
  if (bracket) s++;
  for (;;) {
    while (*s == ' ') s++;
    if (r == ACTJIT_MAX_RANK) return false;
    if (*s == 'N' && r == 0) {
      dims[r++] = ACTJIT_DYN;
      s++;
    } else {
      if (*s < '0' || *s > '9') return false;
      char *e;
      errno = 0;
      long long v = strtoll(s, &e, 10);
      if (errno || v < 0) return false;
      dims[r++] = v;
      s = e;
    }
    while (*s == ' ') s++;
    if (*s != ',') break;
    s++;
  }
  if (bracket && *s++ != ']') return false;
  while (*s == ' ') s++;
  if (*s) return false;
  *rank = r;
  return true;
}

static const struct {
  const char *name;
  actjit_dump_kind kind;
} emit_kinds[] = {{"ir", ACTJIT_DUMP_IR},
                  {"passes", ACTJIT_DUMP_PASSES},
                  {"llvm", ACTJIT_DUMP_LLVM},
                  {"llvm-opt", ACTJIT_DUMP_LLVM_OPT},
                  {"asm", ACTJIT_DUMP_ASM}};

/* Which options each command takes: a flag set per command. */
enum {
  O_WEIGHTS = 1 << 0, O_INPUT = 1 << 1, O_OUTPUT = 1 << 2, O_FUSE = 1 << 3, O_CPU = 1 << 4,
  O_FEATURES = 1 << 5, O_THREADS = 1 << 6, O_SHAPE = 1 << 7, O_EMIT = 1 << 8, O_OFILE = 1 << 9,
  O_VERBOSE = 1 << 10, O_CANONICALIZE = 1 << 11, O_DEPTH_FIRST = 1 << 12, O_TUNING = 1 << 13,
  O_HEADER = 1 << 14, O_PREFIX = 1 << 15,
};

static const struct {
  const char *name; /* "--weights" */
  int flag;
  bool takes_value;
} option_table[] = {
    {"--weights", O_WEIGHTS, true}, {"--input", O_INPUT, true},     {"--output", O_OUTPUT, true},
    {"--no-fuse", O_FUSE, false},   {"--cpu", O_CPU, true},         {"--features", O_FEATURES, true},
    {"--threads", O_THREADS, true}, {"--input-shape", O_SHAPE, true}, {"--emit", O_EMIT, true},
    {"-o", O_OFILE, true},          {"--verbose", O_VERBOSE, false}, {"-v", O_VERBOSE, false},
    {"--no-canonicalize", O_CANONICALIZE, false}, {"--no-depth-first", O_DEPTH_FIRST, false},
    {"--tuning", O_TUNING, true}, {"--header", O_HEADER, true}, {"--prefix", O_PREFIX, true},
};

/* Parses argv[2..] for command o->cmd.  Returns 0 or EXIT_USAGE (reported). */
static int parse_options(int argc, char **argv, int allowed, options *o) {
  const char *c = o->cmd_name;
  bool only_positional = false;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (only_positional || a[0] != '-' || !a[1]) {
      if (o->model) return complain(EXIT_USAGE, "%s: unexpected argument '%s' (one MODEL only)", c, a);
      o->model = a;
      continue;
    }
    if (!strcmp(a, "--")) { only_positional = true; continue; }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { o->help = true; continue; }
    const char *eq = strchr(a, '=');
    size_t n = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
    int k = -1;
    for (size_t j = 0; j < sizeof option_table / sizeof *option_table; j++)
      if (strlen(option_table[j].name) == n && !strncmp(option_table[j].name, a, n)) k = (int)j;
    if (k < 0 || !(option_table[k].flag & allowed)) {
      suggest sg;
      char hint[SUGGEST_HINT_SIZE];
      suggest_init(&sg, a, n);
      for (size_t j = 0; j < sizeof option_table / sizeof *option_table; j++)
        if (option_table[j].flag & allowed) suggest_offer(&sg, option_table[j].name);
      return complain(EXIT_USAGE, "%s: unknown option '%.*s'%s; see actjit %s --help", c, (int)n, a,
                      suggest_hint(&sg, hint), c);
    }
    const char *v = NULL;
    if (option_table[k].takes_value) {
      if (n < strlen(a)) v = a + n + 1;
      else if (i + 1 < argc) v = argv[++i];
      else return complain(EXIT_USAGE, "%s: option %s needs a value", c, option_table[k].name);
    } else if (n < strlen(a)) {
      return complain(EXIT_USAGE, "%s: option %s takes no value", c, option_table[k].name);
    }
    switch (option_table[k].flag) {
    case O_WEIGHTS: o->weights = v; break;
    case O_INPUT: o->input = v; break;
    case O_OUTPUT: case O_OFILE: o->output = v; break;
    case O_FUSE: o->no_fuse = true; break;
    case O_CANONICALIZE: o->no_canonicalize = true; break;
    case O_DEPTH_FIRST: o->no_depth_first = true; break;
    case O_VERBOSE: o->verbose = true; break;
    case O_CPU: o->cpu = v; break;
    case O_FEATURES: o->features = v; break;
    case O_TUNING: o->tuning = v; break;
    case O_HEADER: o->header = v; break;
    case O_PREFIX: o->prefix = v; break;
    case O_THREADS: {
      char *e;
      errno = 0;
      long t = strtol(v, &e, 10);
      if (errno || e == v || *e || t < 1 || t > 256)
        return complain(EXIT_USAGE, "%s: --threads needs an integer from 1 to 256, got '%s'", c, v);
      o->threads = (int)t;
      break;
    }
    case O_SHAPE:
      if (!parse_dims(v, &o->in_rank, o->in_dims))
        return complain(EXIT_USAGE,
                        "%s: --input-shape '%s': expected 1 to %d comma-separated dims, the first "
                        "possibly N, e.g. N,784",
                        c, v, ACTJIT_MAX_RANK);
      break;
    case O_EMIT: {
      size_t j = 0, m = sizeof emit_kinds / sizeof *emit_kinds;
      while (j < m && strcmp(emit_kinds[j].name, v)) j++;
      if (j == m) {
        suggest sg;
        char hint[SUGGEST_HINT_SIZE];
        suggest_init(&sg, v, strlen(v));
        for (j = 0; j < m; j++) suggest_offer(&sg, emit_kinds[j].name);
        return complain(EXIT_USAGE, "%s: --emit '%s'%s: expected ir, passes, llvm, llvm-opt or asm", c, v,
                        suggest_hint(&sg, hint));
      }
      o->emit = emit_kinds[j].kind;
      break;
    }
    }
  }
  if (o->help) return 0;
  if (!o->model) return complain(EXIT_USAGE, "%s: missing MODEL (see actjit %s --help)", c, c);
  if (o->cmd == CMD_RUN && !o->input) return complain(EXIT_USAGE, "run: missing --input X.npy");
  if (o->cmd == CMD_RUN && !o->output) return complain(EXIT_USAGE, "run: missing --output Y.npy");
  if (o->cmd == CMD_AOT && !o->output) return complain(EXIT_USAGE, "aot: missing -o NAME.o");
  return 0;
}

/* -------------------------------------------------------------- resources */

/* Everything a command holds, freed in one place whatever the outcome. */
typedef struct session {
  actjit_context *ctx;
  actjit_graph *g;
  actjit_kernel *k;
  st_file *weights;
  npy_array x;
  float *y;
  char *text; /* the model file */
  size_t text_len;
  bool is_onnx;
  char *dump;
  pool *threads; /* run --threads N > 1 */
} session;

static void session_free(session *s) {
  actjit_kernel_destroy(s->k);
  pool_destroy(s->threads);
  actjit_graph_destroy(s->g);
  actjit_context_destroy(s->ctx);
  st_close(s->weights);
  npy_free(&s->x);
  free(s->y);
  free(s->text);
  actjit_free(s->dump);
}

static int lib_error(session *s, actjit_status st) {
  return complain(exit_for_status(st), "%s", actjit_context_error(s->ctx));
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int read_file(const char *path, char **text, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return complain(EXIT_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
    fclose(f);
    return complain(EXIT_IO, "%s: not a regular file", path);
  }
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      char *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap = cap ? 2 * cap : 4096) : NULL;
      if (!nb) {
        free(buf);
        fclose(f);
        return cap < ((size_t)1 << 30) ? complain(EXIT_NOMEM, "%s: out of memory", path)
                                       : complain(EXIT_INVALID, "%s: too large for a model (over 1 GiB)", path);
      }
      buf = nb;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return complain(EXIT_IO, "%s: read error", path);
  }
  *text = buf;
  *len = n;
  return 0;
}

static const char *dims_str(char *buf, size_t len, int rank, const int64_t *dims) {
  size_t k = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < rank && k < len; i++)
    k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
  if (k < len) snprintf(buf + k, len - k, "]");
  return buf;
}

static const char *model_shape_str(char *buf, size_t len, int rank, const int64_t *dims) {
  size_t k = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < rank && k < len; i++) {
    if (dims[i] == ACTJIT_DYN) k += (size_t)snprintf(buf + k, len - k, "%sN", i ? ", " : "");
    else if (dims[i] < 0) k += (size_t)snprintf(buf + k, len - k, "%sN*%lld", i ? ", " : "", -(long long)dims[i]);
    else k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
  }
  if (k < len) snprintf(buf + k, len - k, "]");
  return buf;
}

/* The shape of value v of the graph, as model_shape_str writes it. */
static const char *value_shape_str(char *buf, size_t len, const actjit_graph *g, actjit_value v) {
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(g, v, &rank, dims);
  return model_shape_str(buf, len, rank, dims);
}

/* Reports a print-out that failed to build (status st) for `run`, whose
 * input shape came from X (xpath).  When the model builds with the input
 * its first Linear implies, the problem is X: the message names X, its
 * shape and the model's input (and, when X's last dim fits, its rank). */
static int torch_input_error(session *s, actjit_status st, const char *path, const char *xpath) {
  char why[1024], a[128], b[128];
  snprintf(why, sizeof why, "%s", actjit_context_error(s->ctx));
  actjit_graph *g;
  if (st != ACTJIT_ERR_VERIFY || torch_seq_parse(s->ctx, s->text, s->text_len, path, 0, NULL, &g))
    return complain(exit_for_status(st), "%s", why);
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(g, actjit_graph_get_input(g), &rank, dims);
  actjit_graph_destroy(g);
  const npy_array *x = &s->x;
  model_shape_str(b, sizeof b, rank, dims);
  if (x->dims[x->rank - 1] != dims[rank - 1])
    return complain(EXIT_INVALID, "%s has shape %s, but the model's input is %s (in_features of its first Linear, %s:%d)",
                    xpath, dims_str(a, sizeof a, x->rank, x->dims), b, path,
                    torch_seq_first_linear_line(s->text, s->text_len));
  return complain(EXIT_INVALID, "%s has rank %d (shape %s), but the model's input has rank %d, %s: %s", xpath, x->rank,
                  dims_str(a, sizeof a, x->rank, x->dims), rank, b, why);
}

/* Reads and builds the model.  For a print-out the input shape is in_dims
 * (in_rank 0: derived from its first Linear); xpath names the file the
 * shape came from (run's X), or is NULL. */
static int load_model(session *s, const char *path, int in_rank, const int64_t *in_dims, bool shape_given,
                      const char *xpath, bool *is_torch) {
  int rc = read_file(path, &s->text, &s->text_len);
  if (rc) return rc;
  *is_torch = torch_seq_detect(s->text, s->text_len);
  s->is_onnx = onnx_detect(s->text, s->text_len);
  actjit_status st;
  if (s->is_onnx) {
    if (shape_given)
      return complain(EXIT_USAGE, "%s: --input-shape is only for PyTorch print-outs; an ONNX model declares its input",
                      path);
    /* A first dim the model gives a size is the batch where the caller has
     * one (run's X, bench's --shape), unless the graph then does not build. */
    bool batch = in_rank > 0 && in_dims[0] == ACTJIT_DYN;
    st = actjit_graph_from_onnx(s->ctx, s->text, s->text_len, path, batch ? ACTJIT_ONNX_BATCH : 0, &s->g);
    if (st && batch) st = actjit_graph_from_onnx(s->ctx, s->text, s->text_len, path, 0, &s->g);
  } else if (*is_torch) {
    st = torch_seq_parse(s->ctx, s->text, s->text_len, path, in_rank, in_dims, &s->g);
    if (st == ACTJIT_ERR_ARGUMENT && in_rank == 0)
      return complain(EXIT_INVALID, "%s; pass --input-shape", actjit_context_error(s->ctx));
    if (st && xpath && !shape_given) return torch_input_error(s, st, path, xpath);
  } else {
    if (shape_given)
      return complain(EXIT_USAGE, "%s: --input-shape is only for PyTorch print-outs; textual IR declares its input",
                      path);
    st = actjit_graph_parse(s->ctx, s->text, s->text_len, path, &s->g);
  }
  return st ? lib_error(s, st) : 0;
}

/* Checks the weights file against the model's parameters: missing, wrongly
 * shaped and extra tensors are errors. */
static int load_weights(session *s, const char *path) {
  int np = actjit_graph_param_count(s->g);
  if (s->is_onnx && path)
    return complain(EXIT_USAGE, "%s: an ONNX model holds its weights (its initializers); --weights is not taken", path);
  if (s->is_onnx) return 0;
  if (!path) {
    if (!np) return 0;
    const char *first;
    actjit_graph_param_info(s->g, 0, &first, NULL, NULL);
    return complain(EXIT_USAGE, "the model has %d parameter%s (%s%s) but no --weights was given", np,
                    np == 1 ? "" : "s", first, np > 1 ? ", ..." : "");
  }
  char err[1024];
  int rc = st_open(path, &s->weights, err, sizeof err);
  if (rc) return complain(exit_for_io(rc), "%s", err);
  for (int i = 0; i < np; i++) {
    const char *name;
    int rank, wrank;
    int64_t dims[ACTJIT_MAX_RANK], wdims[ST_MAX_RANK];
    const float *data;
    char a[128], b[128];
    actjit_graph_param_info(s->g, i, &name, &rank, dims);
    if (st_get(s->weights, name, &wrank, wdims, &data, NULL, 0))
      return complain(EXIT_INVALID, "%s: missing tensor '%s' (the model's parameter @%s, shape %s)", path, name, name,
                      dims_str(a, sizeof a, rank, dims));
    bool same = wrank == rank;
    for (int d = 0; same && d < rank; d++) same = wdims[d] == dims[d];
    if (!same)
      return complain(EXIT_INVALID, "%s: tensor '%s' has shape %s, but the model's parameter @%s has shape %s", path,
                      name, dims_str(a, sizeof a, wrank, wdims), name, dims_str(b, sizeof b, rank, dims));
  }
  for (int j = 0; j < st_count(s->weights); j++) {
    const char *name = st_name(s->weights, j);
    bool known = false;
    for (int i = 0; i < np && !known; i++) {
      const char *p;
      actjit_graph_param_info(s->g, i, &p, NULL, NULL);
      known = !strcmp(p, name);
    }
    if (!known) {
      int wrank;
      int64_t wdims[ST_MAX_RANK];
      const float *data;
      char a[128];
      st_get(s->weights, name, &wrank, wdims, &data, NULL, 0);
      return complain(EXIT_INVALID, "%s: unexpected tensor '%s' of shape %s: the model has no parameter of that name",
                      path, name, dims_str(a, sizeof a, wrank, wdims));
    }
  }
  return 0;
}

/* Parameter i's checked weights. */
static int weight_of(session *s, int i, const char **name, const float **data, size_t *count) {
  int rank;
  int64_t dims[ST_MAX_RANK];
  actjit_graph_param_info(s->g, i, name, NULL, NULL);
  if (st_get(s->weights, *name, &rank, dims, data, NULL, 0) || npy_shape_count(rank, dims, count))
    return complain(EXIT_INTERNAL, "internal error: tensor '%s' vanished", *name);
  return 0;
}

/* Binds the checked weights into the kernel. */
static int bind_weights(session *s) {
  for (int i = 0; s->weights && i < actjit_graph_param_count(s->g); i++) {
    const char *name;
    const float *data;
    size_t count;
    int rc = weight_of(s, i, &name, &data, &count);
    if (rc) return rc;
    actjit_status st = actjit_kernel_bind(s->k, name, data, count);
    if (st) return lib_error(s, st);
  }
  return 0;
}

static void compile_options(const options *o, actjit_compile_options *co) {
  actjit_compile_options_init(co);
  co->cpu = o->cpu;
  co->features = o->features;
  co->tuning = o->tuning;
  co->fuse = !o->no_fuse;
  co->canonicalize = !o->no_canonicalize;
  co->depth_first = !o->no_depth_first;
}

static int compile(session *s, const options *o) {
  actjit_compile_options co;
  compile_options(o, &co);
  /* the disk kernel cache (README, "Kernel cache") */
  co.cache_dir = getenv("ACTJIT_CACHE_DIR") && *getenv("ACTJIT_CACHE_DIR") ? getenv("ACTJIT_CACHE_DIR") : NULL;
  actjit_status st = actjit_compile(s->g, &co, &s->k);
  return st ? lib_error(s, st) : 0;
}

static int write_stdout(const char *text) {
  size_t n = strlen(text);
  if (fwrite(text, 1, n, stdout) != n || fflush(stdout))
    return complain(EXIT_IO, "cannot write to standard output: %s", strerror(errno));
  return 0;
}

/* --------------------------------------------------------------- commands */

/* run --verbose: what was read, compiled, run and written. */
static int report_run(const session *s, const options *o, bool is_torch, int64_t batch, const int64_t *odims,
                      double compile_s, double run_s) {
  char a[128], b[128];
  const actjit_graph *g = s->g;
  int np = actjit_graph_param_count(g), nk = actjit_kernel_step_count(s->k), threads = o->threads > 1 ? o->threads : 1;
  printf("model: %s, %s: input %s, output %s, %d parameter%s%s%s\n", o->model,
         s->is_onnx ? "an ONNX model" : is_torch ? "a PyTorch print-out" : "textual IR", value_shape_str(a, sizeof a, g, actjit_graph_get_input(g)),
         value_shape_str(b, sizeof b, g, actjit_graph_get_output(g)), np, np == 1 ? "" : "s",
         o->weights ? " from " : "", o->weights ? o->weights : "");
  static const char *const cached[] = {"", "", " (shared)", " (from the disk cache)", " (disk cache entry rebuilt)"};
  const char *note;
  unsigned how = actjit_kernel_cache_outcome(s->k, &note);
  printf("target: %s, %d floats a vector; %s plan of %d kernel%s, compiled in %.1f ms%s%s%s\n", actjit_kernel_cpu(s->k),
         actjit_kernel_vector_width(s->k), o->no_fuse ? "unfused" : "fused", nk, nk == 1 ? "" : "s", compile_s * 1e3,
         how < 5 ? cached[how] : "", *note ? ": " : "", note);
  for (int i = 0; i < nk; i++) printf("  kernel %d: %s\n", i, actjit_kernel_step_name(s->k, i));
  printf("run: %s %s as batch %lld on %d thread%s in %.3f ms\n", o->input, dims_str(a, sizeof a, s->x.rank, s->x.dims),
         (long long)batch, threads, threads == 1 ? "" : "s", run_s * 1e3);
  int orank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(g, actjit_graph_get_output(g), &orank, dims);
  printf("output: %s %s\n", o->output, dims_str(a, sizeof a, orank, odims));
  return fflush(stdout) ? complain(EXIT_IO, "cannot write to standard output: %s", strerror(errno)) : 0;
}

static int cmd_run(session *s, const options *o) {
  char err[1024], a[128], b[128];
  int rc = npy_read(o->input, &s->x, err, sizeof err);
  if (rc) return complain(exit_for_io(rc), "%s", err);
  if (s->x.rank < 1 || s->x.rank > ACTJIT_MAX_RANK)
    return complain(EXIT_INVALID, "%s: input has rank %d (expected 1 to %d)", o->input, s->x.rank, ACTJIT_MAX_RANK);

  /* A print-out's input shape: X's, dim 0 the batch (a 1-D X is one sample). */
  int in_rank = o->in_rank;
  int64_t in_dims[ACTJIT_MAX_RANK];
  memcpy(in_dims, o->in_dims, sizeof in_dims);
  if (!in_rank) {
    in_rank = s->x.rank;
    for (int i = 0; i < in_rank; i++) in_dims[i] = s->x.dims[i];
    if (in_rank > 1) in_dims[0] = ACTJIT_DYN;
  }
  bool is_torch;
  if ((rc = load_model(s, o->model, in_rank, in_dims, o->in_rank > 0, o->input, &is_torch))) return rc;

  /* X against the model's input: same rank and trailing dims; the leading
   * dim is the batch (times d[0] after a flatten folding it) when N-led. */
  int irank;
  int64_t idims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(s->g, actjit_graph_get_input(s->g), &irank, idims);
  bool dyn = idims[0] < 0; /* N-led: dims[0] is -(the batch's factor) */
  bool ok = s->x.rank == irank;
  for (int i = dyn ? 1 : 0; ok && i < irank; i++) ok = s->x.dims[i] == idims[i];
  int64_t batch = 1;
  if (ok && dyn) {
    ok = s->x.dims[0] % -idims[0] == 0;
    batch = s->x.dims[0] / -idims[0];
  }
  if (!ok)
    return complain(EXIT_INVALID, "%s has shape %s, but the model's input is %s", o->input,
                    dims_str(a, sizeof a, s->x.rank, s->x.dims),
                    value_shape_str(b, sizeof b, s->g, actjit_graph_get_input(s->g)));

  double t0 = now();
  if ((rc = load_weights(s, o->weights)) || (rc = compile(s, o)) || (rc = bind_weights(s))) return rc;
  double compile_s = now() - t0;

  size_t in_count, out_count;
  actjit_status st = actjit_kernel_io_sizes(s->k, batch, &in_count, &out_count);
  if (st) return lib_error(s, st);
  if (in_count != s->x.count)
    return complain(EXIT_INVALID, "%s: %zu elements, but the model's input takes %zu at batch %lld", o->input,
                    s->x.count, in_count, (long long)batch);
  int orank;
  int64_t odims[ACTJIT_MAX_RANK];
  actjit_graph_value_shape(s->g, actjit_graph_get_output(s->g), &orank, odims);
  if (orank && odims[0] < 0) odims[0] = -odims[0] * batch;
  size_t count;
  if (npy_shape_count(orank, odims, &count) || count != out_count)
    return complain(EXIT_INTERNAL, "internal error: output shape %s does not hold %zu elements",
                    dims_str(a, sizeof a, orank, odims), out_count);
  s->y = malloc(out_count ? out_count * sizeof(float) : 1);
  if (!s->y) return complain(EXIT_NOMEM, "out of memory for %zu output floats", out_count);
  if (o->threads > 1) {
    if (!(s->threads = pool_create(o->threads)))
      return complain(EXIT_INTERNAL, "cannot start %d threads", o->threads);
    actjit_kernel_set_parallel_for(s->k, pool_parallel_for, s->threads, o->threads);
  }
  static const float empty[1];
  t0 = now();
  if ((st = actjit_kernel_run(s->k, s->x.data ? s->x.data : empty, batch, s->y))) return lib_error(s, st);
  double run_s = now() - t0;
  if ((rc = npy_write(o->output, orank, odims, s->y, err, sizeof err))) return complain(exit_for_io(rc), "%s", err);
  return o->verbose ? report_run(s, o, is_torch, batch, odims, compile_s, run_s) : 0;
}

static int cmd_dump(session *s, const options *o) {
  bool is_torch;
  int rc = load_model(s, o->model, o->in_rank, o->in_dims, o->in_rank > 0, NULL, &is_torch);
  if (rc || (o->weights && (rc = load_weights(s, o->weights))) || (rc = compile(s, o))) return rc;
  actjit_status st = actjit_kernel_dump(s->k, o->emit, &s->dump);
  if (st) return lib_error(s, st);
  if (!o->output) return write_stdout(s->dump);
  char err[1024];
  const void *text = s->dump;
  size_t len = strlen(s->dump);
  rc = io_write_atomic(o->output, &text, &len, 1, err, sizeof err);
  return rc ? complain(exit_for_io(rc), "%s", err) : 0;
}

static int cmd_check(session *s, const options *o) {
  bool is_torch;
  int rc = load_model(s, o->model, o->in_rank, o->in_dims, o->in_rank > 0, NULL, &is_torch);
  if (rc || (o->weights && (rc = load_weights(s, o->weights)))) return rc;
  actjit_status st = actjit_graph_verify(s->g);
  if (st || (st = actjit_graph_print(s->g, &s->dump))) return lib_error(s, st);
  return write_stdout(s->dump);
}

/* The object and header of the model, its weights in the object, or
 * without --weights a bind call that packs them at run time. */
static int cmd_aot(session *s, const options *o) {
  if (o->header && !strcmp(o->header, o->output)) return complain(EXIT_USAGE, "aot: -o and --header are both %s", o->output);
  bool is_torch;
  int rc = load_model(s, o->model, o->in_rank, o->in_dims, o->in_rank > 0, NULL, &is_torch);
  if (rc || (o->weights && (rc = load_weights(s, o->weights)))) return rc;
  for (int i = 0; s->weights && i < actjit_graph_param_count(s->g); i++) {
    const char *name;
    const float *data;
    size_t count;
    actjit_status st;
    if ((rc = weight_of(s, i, &name, &data, &count))) return rc;
    if ((st = actjit_graph_param_set_data(s->g, name, data, count))) return lib_error(s, st);
  }
  /* NAME.o: prefix NAME, header NAME.h beside it */
  const char *base = strrchr(o->output, '/') ? strrchr(o->output, '/') + 1 : o->output;
  size_t len = strlen(o->output), stem = strcspn(base, ".");
  bool dot_o = len > 2 && !strcmp(o->output + len - 2, ".o");
  char *prefix = o->prefix ? NULL : strndup(base, stem), *header = o->header ? NULL : malloc(len + 3);
  if ((!o->prefix && !prefix) || (!o->header && !header)) {
    free(prefix), free(header);
    return complain(EXIT_NOMEM, "out of memory");
  }
  if (header) snprintf(header, len + 3, "%.*s.h", (int)(dot_o ? len - 2 : len), o->output);
  actjit_compile_options co;
  compile_options(o, &co);
  actjit_status st = actjit_aot_write(s->g, &co, o->prefix ? o->prefix : prefix, o->output, o->header ? o->header : header);
  free(prefix), free(header);
  /* (the only argument it can refuse here is the prefix) */
  if (st == ACTJIT_ERR_ARGUMENT)
    return complain(EXIT_USAGE, "aot: %s%s", actjit_context_error(s->ctx),
                    o->prefix ? "" : " (from -o's file name; pass --prefix NAME)");
  return st ? lib_error(s, st) : 0;
}

/* actjit bench: its own MODEL, --weights and --input-shape; every other flag
 * is the benchmark's. */
static int cmd_bench(session *s, int argc, char **argv) {
  bench_options bo;
  bench_options_init(&bo);
  bo.prog = "actjit: bench";
  const char *model = NULL, *weights = NULL;
  int in_rank = 0;
  int64_t in_dims[ACTJIT_MAX_RANK];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    int r = bench_parse_flag(argc, argv, &i, &bo);
    if (r < 0) return EXIT_USAGE;
    if (r) continue;
    if (!strcmp(a, "--weights") || !strcmp(a, "--input-shape")) {
      if (i + 1 == argc) return complain(EXIT_USAGE, "bench: option %s needs a value", a);
      const char *v = argv[++i];
      if (a[2] == 'w') weights = v;
      else if (!parse_dims(v, &in_rank, in_dims))
        return complain(EXIT_USAGE, "bench: --input-shape '%s': expected dims such as N,784", v);
    } else if (a[0] == '-') {
      suggest sg;
      char hint[SUGGEST_HINT_SIZE];
      suggest_init(&sg, a, strlen(a));
      bench_offer_flags(&sg);
      suggest_offer(&sg, "--weights");
      suggest_offer(&sg, "--input-shape");
      return complain(EXIT_USAGE, "bench: unknown option '%s'%s; see actjit bench --help", a,
                      suggest_hint(&sg, hint));
    } else if (model) {
      return complain(EXIT_USAGE, "bench: unexpected argument '%s' (one MODEL only)", a);
    } else {
      model = a;
    }
  }
  if (!model) return complain(EXIT_USAGE, "bench: missing MODEL (see actjit bench --help)");
  /* A print-out's input: --input-shape, else --shape with its first dim the
   * batch, else [N, in_features] of its first Linear. */
  if (!in_rank && bo.shape_rank) {
    in_rank = bo.shape_rank;
    for (int d = 0; d < in_rank; d++) in_dims[d] = d ? bo.shape[d] : ACTJIT_DYN;
  }
  bool is_torch;
  int rc = load_model(s, model, in_rank, in_dims, false, NULL, &is_torch);
  if (rc || (weights && (rc = load_weights(s, weights)))) return rc;
  int np = actjit_graph_param_count(s->g);
  const float **w = calloc((size_t)np + 1, sizeof *w);
  if (!w) return complain(EXIT_NOMEM, "out of memory");
  for (int i = 0; i < np; i++) {
    const char *name;
    int rank;
    int64_t dims[ST_MAX_RANK];
    actjit_graph_param_info(s->g, i, &name, NULL, NULL);
    if (weights) st_get(s->weights, name, &rank, dims, &w[i], NULL, 0);
    else w[i] = actjit_graph_param_data(s->g, i); /* an ONNX model's own */
  }
  bench_run run = {0};
  if (s->is_onnx) bo.ort_model = model;
  rc = bench_graph(&bo, model, s->g, weights || s->is_onnx ? w : NULL, &run);
  free(w);
  return bench_finish(&bo, &run, rc);
}

/* One line: the versions and the host CPU; --verbose adds its features. */
static int version(int argc, char **argv) {
  bool verbose = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--verbose") && strcmp(argv[i], "-v")) {
      suggest sg;
      char hint[SUGGEST_HINT_SIZE];
      suggest_init(&sg, argv[i], strlen(argv[i]));
      suggest_offer(&sg, "--verbose");
      return complain(EXIT_USAGE, "--version: unknown option '%s'%s; it takes only --verbose", argv[i],
                      suggest_hint(&sg, hint));
    }
    verbose = true;
  }
  char *cpu = NULL, *features = NULL;
  actjit_status st = actjit_host_cpu(&cpu, &features);
  if (st) return complain(exit_for_status(st), "cannot query the host CPU: %s", actjit_status_name(st));
  printf("%s, host CPU %s\n", actjit_version(), cpu);
  if (verbose) printf("host CPU features: %s\n", features);
  actjit_free(cpu);
  actjit_free(features);
  return fflush(stdout) ? complain(EXIT_IO, "cannot write to standard output: %s", strerror(errno)) : 0;
}

static const char *const commands[] = {"run", "dump", "check", "bench", "aot"};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static bool is_command(const char *c) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(c, commands[i])) return true;
  return false;
}

/* "unknown command" with the closest command (or --help, --version). */
static int unknown_command(const char *prefix, const char *c) {
  suggest sg;
  char hint[SUGGEST_HINT_SIZE];
  suggest_init(&sg, c, strlen(c));
  for (size_t i = 0; i < NCOMMANDS; i++) suggest_offer(&sg, commands[i]);
  if (!*prefix) {
    suggest_offer(&sg, "--help");
    suggest_offer(&sg, "--version");
  }
  return complain(EXIT_USAGE, "%sunknown command '%s'%s; commands: run, dump, check, bench, aot (see actjit --help)", prefix,
                  c, suggest_hint(&sg, hint));
}

static int help(FILE *f, const char *cmd) {
  print_usage(f, cmd);
  return fflush(f) ? EXIT_IO : 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return complain(EXIT_USAGE, "missing command: run, dump, check, bench or aot (see actjit --help)");
  const char *c = argv[1];
  if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
    if (argc > 2 && !is_command(argv[2])) return unknown_command("help: ", argv[2]);
    return help(stdout, argc > 2 ? argv[2] : NULL);
  }
  if (!strcmp(c, "--version") || !strcmp(c, "-V") || !strcmp(c, "version")) return version(argc, argv);

  if (!strcmp(c, "bench")) {
    for (int i = 2; i < argc; i++)
      if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return help(stdout, "bench");
    session s = {0};
    if (actjit_context_create(&s.ctx)) return complain(EXIT_NOMEM, "out of memory");
    int rc = cmd_bench(&s, argc, argv);
    session_free(&s);
    return rc;
  }
  options o = {.cmd_name = c, .emit = ACTJIT_DUMP_IR};
  int allowed;
  if (!strcmp(c, "run")) {
    o.cmd = CMD_RUN;
    allowed = O_WEIGHTS | O_INPUT | O_OUTPUT | O_FUSE | O_CANONICALIZE | O_DEPTH_FIRST | O_CPU | O_FEATURES | O_TUNING | O_THREADS | O_SHAPE |
              O_VERBOSE;
  } else if (!strcmp(c, "dump")) {
    o.cmd = CMD_DUMP;
    allowed = O_WEIGHTS | O_EMIT | O_OFILE | O_FUSE | O_CANONICALIZE | O_DEPTH_FIRST | O_CPU | O_FEATURES | O_TUNING | O_SHAPE;
  } else if (!strcmp(c, "check")) {
    o.cmd = CMD_CHECK;
    allowed = O_WEIGHTS | O_SHAPE;
  } else if (!strcmp(c, "aot")) {
    o.cmd = CMD_AOT;
    allowed = O_WEIGHTS | O_OFILE | O_HEADER | O_PREFIX | O_FUSE | O_CANONICALIZE | O_DEPTH_FIRST | O_CPU | O_FEATURES |
              O_TUNING | O_SHAPE;
  } else {
    return unknown_command("", c);
  }
  int rc = parse_options(argc, argv, allowed, &o);
  if (rc) return rc;
  if (o.help) return help(stdout, c);

  session s = {0};
  if (actjit_context_create(&s.ctx)) return complain(EXIT_NOMEM, "out of memory");
  switch (o.cmd) {
  case CMD_RUN: rc = cmd_run(&s, &o); break;
  case CMD_DUMP: rc = cmd_dump(&s, &o); break;
  case CMD_CHECK: rc = cmd_check(&s, &o); break;
  case CMD_AOT: rc = cmd_aot(&s, &o); break;
  }
  session_free(&s);
  return rc;
}
