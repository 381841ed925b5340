/* The ONNX reader.  protobuf-c decodes the ModelProto; the graph is then
 * built node by node through the public builder API, with ONNX's semantics
 * at every opset from 1 to 17 mapped onto actjit's ops (PyTorch's): where
 * they differ (HardSigmoid's general alpha and beta, Shrink's bias, Gemm's
 * alpha, beta and transB, Softmax's 2-D coercion before opset 13) the node
 * becomes the op with the right attributes or a few primitives.
 *
 * ONNX values are looked up by name.  A value is either in the graph (the
 * input, an op's result) or a constant tensor (an initializer, a Constant
 * node's value), read when a node first uses it: as a linear's weight it
 * becomes a parameter in the layout linear takes ([out, in]), as an operand
 * of an elementwise op a parameter holding its values, or with one element
 * a constant (so that canonicalize sees the 0.5 of GELU's primitive form).
 *
 * A few ops are read as the patterns exporters write: a Transpose around a
 * Softmax over the last axis and back is a softmax over the moved axis
 * (torch 1.13 writes softmax over another axis that way at opset 11), any
 * other a transpose; Split only as the halves of a GLU (Split → Sigmoid →
 * Mul); an Unsqueeze of a constant folded; Greater only as the start of
 * softshrink as torch exports it (read_greater), LessOrEqual of threshold
 * (read_less_or_equal). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "frontend/onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"
#include "onnx.pb-c.h"

#define OPSET_MAX 17
/* Largest tensor a model may hold, in elements (16 GiB of floats). */
#define MAX_TENSOR ((int64_t)1 << 32)

enum {
  T_FLOAT = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
  T_INT32 = ONNX__TENSOR_PROTO__DATA_TYPE__INT32,
  T_INT64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
  T_BOOL = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL,
};

/* A constant tensor, read: floats, or integers for int64, int32 and bool. */
typedef struct tensor {
  int type;
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  size_t count;
  float *f;
  int64_t *i;
} tensor;

/* An ONNX value by name (the name is the model's). */
typedef struct entry {
  const char *name;
  actjit_value v;                /* in the graph, else ACTJIT_NO_VALUE */
  const Onnx__TensorProto *init; /* an initializer not read yet */
  tensor t;                      /* a constant, once read */
  bool is_const;
} entry;

typedef struct reader {
  actjit_context *ctx;
  actjit_graph *g;
  const char *file;              /* labels messages */
  const char *path;              /* locates external data; NULL: none */
  unsigned flags;                /* ACTJIT_ONNX_BATCH */
  const Onnx__GraphProto *gp;
  int64_t opset;
  entry *e;
  size_t n, cap;
  size_t node;                   /* the node being read, for messages */
  const Onnx__NodeProto *np;     /* NULL outside nodes */
  bool *done;                    /* nodes read already as part of a pattern */
} reader;

/* ---------------------------------------------------------------- errors */

/* One line: "FILE: node I 'NAME' (OP, opset N): what", or "FILE: what". */
__attribute__((format(printf, 3, 4))) static actjit_status fail(reader *r, actjit_status s, const char *fmt, ...) {
  char msg[768], name[96], op[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!r->np) return aj_error(r->ctx, s, "%s: %s", r->file, msg);
  const char *nm = r->np->name ? r->np->name : "", *ot = r->np->op_type ? r->np->op_type : "";
  aj_printable(nm, strlen(nm), name, sizeof name);
  aj_printable(ot, strlen(ot), op, sizeof op);
  return aj_error(r->ctx, s, "%s: node %zu%s%s%s (%s, opset %lld): %s", r->file, r->node, *nm ? " '" : "", name,
                  *nm ? "'" : "", op, (long long)r->opset, msg);
}

/* The status of a builder call; on failure its message, prefixed with the node. */
static actjit_status built(reader *r, actjit_status s) {
  char why[512];
  if (!s) return ACTJIT_OK;
  snprintf(why, sizeof why, "%s", actjit_context_error(r->ctx));
  return fail(r, s, "%s", why);
}

static const char *quote(const char *s, char *buf, size_t len) { return aj_printable(s ? s : "", s ? strlen(s) : 0, buf, len); }

/* ---------------------------------------------------------------- tensors */

static void tensor_free(tensor *t) {
  free(t->f);
  free(t->i);
  *t = (tensor){0};
}

static const char *type_name(int type) {
  static const char *const names[] = {"undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64",
                                      "string", "bool", "float16", "float64", "uint32", "uint64", "complex64",
                                      "complex128", "bfloat16"};
  return type >= 0 && type < (int)(sizeof names / sizeof *names) ? names[type] : "unknown";
}

static size_t type_size(int type) { return type == T_FLOAT || type == T_INT32 ? 4 : type == T_INT64 ? 8 : 1; }

/* Reads `len` bytes at `offset` of the external data file `location`,
 * which must lie inside the model's folder, into *dst (malloc'd once the
 * file is known to hold them). */
static actjit_status read_external(reader *r, const char *tname, const char *location, int64_t offset, int64_t length,
                                   size_t len, void **dst) {
  char q[256], ql[256];
  quote(tname, q, sizeof q);
  quote(location, ql, sizeof ql);
  if (!r->path) return fail(r, ACTJIT_ERR_IO, "tensor '%s': external data '%s' but no model path to find it from", q, ql);
  if (!*location || location[0] == '/')
    return fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data location '%s' must be a path relative to the model's folder", q, ql);
  for (const char *p = location; *p; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
    if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
      return fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data location '%s' leads outside the model's folder", q, ql);
  if (offset < 0 || length < -1)
    return fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data offset %lld / length %lld is negative", q,
                (long long)offset, (long long)length);
  if (length >= 0 && (uint64_t)length != len)
    return fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data length %lld, but its shape needs %zu bytes", q,
                (long long)length, len);
  const char *slash = strrchr(r->path, '/');
  size_t dlen = slash ? (size_t)(slash - r->path) : 1;
  char *dir = aj_strndup(slash ? r->path : ".", slash ? (dlen ? dlen : 1) : 1);
  char *full = dir ? malloc(strlen(dir) + strlen(location) + 2) : NULL;
  if (!full) {
    free(dir);
    return fail(r, ACTJIT_ERR_NOMEM, "out of memory");
  }
  sprintf(full, "%s/%s", dir, location);
  /* The real paths: a symlink leading out of the folder is refused too. */
  char *rdir = realpath(dir, NULL), *rfull = rdir ? realpath(full, NULL) : NULL;
  int err = errno;
  actjit_status st = ACTJIT_OK;
  if (!rdir) st = fail(r, ACTJIT_ERR_IO, "tensor '%s': cannot resolve the model's folder: %s", q, strerror(err));
  else if (!rfull) st = fail(r, ACTJIT_ERR_IO, "tensor '%s': external data file '%s' (%s): %s", q, ql, full, strerror(err));
  else if (strncmp(rfull, rdir, strlen(rdir)) || (rfull[strlen(rdir)] != '/' && strcmp(rdir, "/")))
    st = fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data location '%s' leads outside the model's folder", q, ql);
  int fd = st ? -1 : open(rfull, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (!st && fd < 0) st = fail(r, ACTJIT_ERR_IO, "tensor '%s': cannot open external data file %s: %s", q, full, strerror(errno));
  else if (!st && (fstat(fd, &sb) || !S_ISREG(sb.st_mode)))
    st = fail(r, ACTJIT_ERR_IO, "tensor '%s': external data %s is not a regular file", q, full);
  else if (!st && ((uint64_t)offset > (uint64_t)sb.st_size || (uint64_t)sb.st_size - (uint64_t)offset < len))
    st = fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data file %s has %lld bytes, too few for %zu at offset %lld",
              q, full, (long long)sb.st_size, len, (long long)offset);
  char *buf = st ? NULL : malloc(len ? len : 1);
  if (!st && !buf) st = fail(r, ACTJIT_ERR_NOMEM, "out of memory for tensor '%s' (%zu bytes)", q, len);
  for (size_t got = 0; !st && got < len;) {
    ssize_t k = pread(fd, buf + got, len - got, (off_t)(offset + (int64_t)got));
    if (k <= 0) st = fail(r, ACTJIT_ERR_IO, "tensor '%s': cannot read external data file %s", q, full);
    else got += (size_t)k;
  }
  if (st) free(buf);
  else *dst = buf;
  if (fd >= 0) close(fd);
  free(rdir);
  free(rfull);
  free(full);
  free(dir);
  return st;
}

/* The data of an external tensor, `len` bytes into *dst (malloc'd): its
 * external_data entries read. */
static actjit_status load_external(reader *r, const Onnx__TensorProto *tp, size_t len, void **dst) {
  const char *location = NULL;
  int64_t offset = 0, length = -1;
  char q[256];
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *kv = tp->external_data[i];
    const char *k = kv->key ? kv->key : "", *v = kv->value ? kv->value : "";
    if (!strcmp(k, "location")) {
      location = v;
    } else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
      char *end;
      errno = 0;
      long long x = strtoll(v, &end, 10);
      if (!*v || *end || errno || x < 0)
        return fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data %s '%s' is not a byte count",
                    quote(tp->name, q, sizeof q), k, v);
      *(k[0] == 'o' ? &offset : &length) = x;
    }
  }
  if (!location) return fail(r, ACTJIT_ERR_VERIFY, "tensor '%s': external data without a location", quote(tp->name, q, sizeof q));
  return read_external(r, tp->name, location, offset, length, len, dst);
}

/* Reads a TensorProto: its shape, type and data, checked against each other. */
static actjit_status load_tensor(reader *r, const Onnx__TensorProto *tp, tensor *t) {
  char q[256];
  quote(tp->name, q, sizeof q);
  *t = (tensor){.type = tp->data_type};
  if (t->type != T_FLOAT && t->type != T_INT64 && t->type != T_INT32 && t->type != T_BOOL)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "tensor '%s' has element type %s; actjit reads float32 tensors", q,
                type_name(t->type));
  if (tp->n_dims > ACTJIT_MAX_RANK)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "tensor '%s' has rank %zu; actjit's largest is %d", q, tp->n_dims, ACTJIT_MAX_RANK);
  if (tp->segment) return fail(r, ACTJIT_ERR_UNSUPPORTED, "tensor '%s' is segmented", q);
  int64_t count = 1;
  t->rank = (int)tp->n_dims;
  for (int i = 0; i < t->rank; i++) {
    int64_t d = tp->dims[i];
    if (d < 0 || (d && count > MAX_TENSOR / d) || d > MAX_TENSOR)
      return fail(r, ACTJIT_ERR_VERIFY, "tensor '%s' has dimension %d of %lld, out of range", q, i, (long long)d);
    t->dims[i] = d;
    count *= d;
  }
  t->count = (size_t)count;
  size_t esize = type_size(t->type), bytes = t->count * esize;
  /* The data's size is checked before its bytes are allocated: a shape
   * may claim gigabytes that the file does not hold. */
  void *raw = NULL;
  actjit_status st = ACTJIT_OK;
  size_t n_typed = t->type == T_FLOAT ? tp->n_float_data : t->type == T_INT64 ? tp->n_int64_data : tp->n_int32_data;
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    st = load_external(r, tp, bytes, &raw);
  else if (tp->has_raw_data && tp->raw_data.len != bytes)
    st = fail(r, ACTJIT_ERR_VERIFY, "tensor '%s' holds %zu bytes of raw_data, but its shape and type need %zu", q,
              tp->raw_data.len, bytes);
  else if (!tp->has_raw_data && n_typed != t->count)
    st = fail(r, ACTJIT_ERR_VERIFY, "tensor '%s' holds %zu values, but its shape needs %zu", q, n_typed, t->count);
  else if (!(raw = malloc(bytes ? bytes : 1)))
    st = fail(r, ACTJIT_ERR_NOMEM, "out of memory for tensor '%s' (%zu bytes)", q, bytes);
  else if (bytes && tp->has_raw_data) memcpy(raw, tp->raw_data.data, bytes); /* little-endian, as the host */
  else if (bytes && t->type == T_FLOAT) memcpy(raw, tp->float_data, bytes);
  else if (bytes && t->type == T_INT64) memcpy(raw, tp->int64_data, bytes);
  if (st) return st;
  /* Integers are widened to int64 (int32_data holds int32 and bool alike). */
  if (t->type == T_FLOAT) {
    t->f = raw;
    return ACTJIT_OK;
  }
  if (!(t->i = malloc(t->count ? t->count * sizeof *t->i : 1))) {
    free(raw);
    return fail(r, ACTJIT_ERR_NOMEM, "out of memory");
  }
  bool typed = !(tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) &&
               !tp->has_raw_data;
  for (size_t k = 0; k < t->count; k++) {
    if (t->type == T_INT64) memcpy(&t->i[k], (char *)raw + 8 * k, 8);
    else if (typed) t->i[k] = tp->int32_data[k];
    else if (t->type == T_INT32) {
      int32_t x;
      memcpy(&x, (char *)raw + 4 * k, 4);
      t->i[k] = x;
    } else t->i[k] = ((unsigned char *)raw)[k];
  }
  free(raw);
  return ACTJIT_OK;
}

/* ----------------------------------------------------------------- values */

static entry *find(reader *r, const char *name) {
  for (size_t i = r->n; i-- > 0;)
    if (!strcmp(r->e[i].name, name)) return &r->e[i];
  return NULL;
}

static actjit_status add_entry(reader *r, const char *name, entry **out) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    entry *e = realloc(r->e, cap * sizeof *e);
    if (!e) return fail(r, ACTJIT_ERR_NOMEM, "out of memory");
    r->e = e, r->cap = cap;
  }
  *out = &r->e[r->n++];
  **out = (entry){.name = name, .v = ACTJIT_NO_VALUE};
  return ACTJIT_OK;
}

/* Records that ONNX value `name` is graph value v, and names v after it. */
static actjit_status define(reader *r, const char *name, actjit_value v) {
  char q[256];
  if (!name || !*name) return fail(r, ACTJIT_ERR_VERIFY, "an output has no name");
  if (find(r, name)) return fail(r, ACTJIT_ERR_VERIFY, "value '%s' is defined twice", quote(name, q, sizeof q));
  entry *e = NULL;
  actjit_status st = add_entry(r, name, &e);
  if (st) return st;
  e->v = v;
  return built(r, actjit_graph_set_name(r->g, v, name));
}

/* The entry of input i of the current node; NULL (and an error) if absent. */
static entry *operand(reader *r, size_t i, actjit_status *st) {
  char q[256];
  const Onnx__NodeProto *np = r->np;
  if (i >= np->n_input || !*np->input[i]) {
    *st = fail(r, ACTJIT_ERR_VERIFY, "missing input %zu", i);
    return NULL;
  }
  entry *e = find(r, np->input[i]);
  if (!e) *st = fail(r, ACTJIT_ERR_VERIFY, "input '%s' is not defined before the node", quote(np->input[i], q, sizeof q));
  return e;
}

/* An initializer or a Constant's value (not in the graph as such yet). */
static bool is_constant(const entry *e) { return e->init || e->is_const; }

static bool has_input(const reader *r, size_t i) { return i < r->np->n_input && *r->np->input[i]; }

/* The constant of entry e, read now if it is an initializer; NULL (and an
 * error) if e is a graph value. */
static const tensor *constant(reader *r, entry *e, const char *what, actjit_status *st) {
  char q[256];
  if (e->init && !e->is_const) {
    if ((*st = load_tensor(r, e->init, &e->t))) return NULL;
    e->is_const = true;
  }
  if (!e->is_const) {
    *st = fail(r, ACTJIT_ERR_UNSUPPORTED, "%s '%s' must be a constant (an initializer or a Constant)", what,
               quote(e->name, q, sizeof q));
    return NULL;
  }
  return &e->t;
}

static const tensor *float_constant(reader *r, entry *e, const char *what, actjit_status *st) {
  const tensor *t = constant(r, e, what, st);
  char q[256];
  if (t && t->type != T_FLOAT) {
    *st = fail(r, ACTJIT_ERR_UNSUPPORTED, "%s '%s' has element type %s; actjit reads float32 tensors", what,
               quote(e->name, q, sizeof q), type_name(t->type));
    return NULL;
  }
  return t;
}

/* A one-element constant's value. */
static actjit_status scalar_of(reader *r, entry *e, const char *what, double *x) {
  actjit_status st = ACTJIT_OK;
  const tensor *t = constant(r, e, what, &st);
  if (!t) return st;
  if (t->count != 1) return fail(r, ACTJIT_ERR_UNSUPPORTED, "%s must hold one value, it holds %zu", what, t->count);
  *x = t->type == T_FLOAT ? (double)t->f[0] : (double)t->i[0];
  return ACTJIT_OK;
}

/* `base`, or base#2, base#3, ... if the graph has that name already (base
 * cut short to fit buf, the suffix never). */
static const char *fresh_name(reader *r, const char *base, char *buf, size_t len) {
  snprintf(buf, len, "%s", base);
  for (int k = 2; ir_find(r->g, buf, strlen(buf)); k++) snprintf(buf, len, "%.*s#%d", (int)len - 16, base, k);
  return buf;
}

/* A parameter named after `base` holding `data` (shape rank/dims). */
static actjit_status new_param(reader *r, const char *base, int rank, const int64_t *dims, const float *data,
                               actjit_value *v) {
  char name[512];
  fresh_name(r, base, name, sizeof name);
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= dims[i];
  actjit_status st = actjit_graph_param(r->g, name, rank, dims, v);
  return built(r, st ? st : actjit_graph_param_set_data(r->g, name, data, (size_t)n));
}

/* The graph value of entry e: a constant goes into the graph on first use,
 * a constant of one element as itself, any other as a parameter. */
static actjit_status value_of(reader *r, entry *e, actjit_value *v) {
  actjit_status st = ACTJIT_OK;
  if (e->v == ACTJIT_NO_VALUE) {
    const tensor *t = float_constant(r, e, "operand", &st);
    if (!t) return st;
    if (t->count == 1) st = built(r, actjit_graph_const(r->g, NULL, t->rank, t->dims, t->f, &e->v));
    else if (t->rank == 0 || !t->count)
      st = fail(r, ACTJIT_ERR_UNSUPPORTED, "an empty constant operand");
    else st = new_param(r, e->name, t->rank, t->dims, t->f, &e->v);
  }
  *v = e->v;
  return st;
}

static actjit_status input_value(reader *r, size_t i, actjit_value *v) {
  actjit_status st = ACTJIT_OK;
  entry *e = operand(r, i, &st);
  return e ? value_of(r, e, v) : st;
}

static actjit_status shape_of(reader *r, actjit_value v, int *rank, int64_t dims[ACTJIT_MAX_RANK]) {
  return built(r, actjit_graph_value_shape(r->g, v, rank, dims));
}

/* ------------------------------------------------------------- attributes */

static const Onnx__AttributeProto *attr(const reader *r, const char *name) {
  for (size_t i = 0; i < r->np->n_attribute; i++)
    if (r->np->attribute[i]->name && !strcmp(r->np->attribute[i]->name, name)) return r->np->attribute[i];
  return NULL;
}

static actjit_status attr_float(reader *r, const char *name, double def, double *x) {
  const Onnx__AttributeProto *a = attr(r, name);
  *x = def;
  if (!a) return ACTJIT_OK;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && (a->has_type || !a->has_f))
    return fail(r, ACTJIT_ERR_VERIFY, "attribute %s must be a float", name);
  *x = a->f;
  return ACTJIT_OK;
}

static actjit_status attr_int(reader *r, const char *name, int64_t def, int64_t *x) {
  const Onnx__AttributeProto *a = attr(r, name);
  *x = def;
  if (!a) return ACTJIT_OK;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && (a->has_type || !a->has_i))
    return fail(r, ACTJIT_ERR_VERIFY, "attribute %s must be an int", name);
  *x = a->i;
  return ACTJIT_OK;
}

/* An axis attribute (negative from the end) as an index into rank dims. */
static actjit_status attr_axis(reader *r, const char *name, int64_t def, int rank, int *axis) {
  int64_t a;
  actjit_status st = attr_int(r, name, def, &a);
  if (st) return st;
  if (a < -rank || a >= rank) return fail(r, ACTJIT_ERR_VERIFY, "%s %lld out of range for rank %d", name, (long long)a, rank);
  *axis = (int)(a < 0 ? a + rank : a);
  return ACTJIT_OK;
}

/* ------------------------------------------------------------------- ops */

/* Appends op(args) {attrs}; *v its value. */
static actjit_status op(reader *r, const char *name, const actjit_value *args, int nargs, const actjit_attr *attrs,
                        int nattrs, actjit_value *v) {
  return built(r, actjit_graph_op(r->g, name, args, nargs, attrs, nattrs, v));
}

static actjit_status op1(reader *r, const char *name, actjit_value x, const actjit_attr *attrs, int nattrs,
                         actjit_value *v) {
  return op(r, name, &x, 1, attrs, nattrs, v);
}

static actjit_status op2(reader *r, const char *name, actjit_value a, actjit_value b, actjit_value *v) {
  actjit_value args[2] = {a, b};
  return op(r, name, args, 2, NULL, 0, v);
}

static actjit_status scalar(reader *r, double c, actjit_value *v) {
  float f = (float)c;
  return built(r, actjit_graph_const(r->g, NULL, 0, NULL, &f, v));
}

/* x * a + b, leaving out what is the identity. */
static actjit_status affine(reader *r, actjit_value x, double a, double b, actjit_value *v) {
  actjit_value c;
  actjit_status st = ACTJIT_OK;
  *v = x;
  if (a != 1 && !(st = scalar(r, a, &c))) st = op2(r, "mul", *v, c, v);
  if (!st && b != 0 && !(st = scalar(r, b, &c))) st = op2(r, "add", *v, c, v);
  return st;
}

/* A node's result: the op's value named after its (single) output. */
typedef actjit_status (*handler)(reader *r, actjit_value *out);

typedef struct unary_row {
  const char *onnx, *op;
  const char *attr, *onnx_attr; /* one float attribute and its ONNX name */
  double def;
} unary_row;

/* Ops whose ONNX and PyTorch definitions agree, with ONNX's attribute
 * defaults.  Softplus: PyTorch's returns x above 20 (threshold), within
 * 2e-9 relative of log(1 + e^x). */
static const unary_row unary_ops[] = {
  {"Relu", "relu", NULL, NULL, 0},          {"Sigmoid", "sigmoid", NULL, NULL, 0},
  {"Tanh", "tanh", NULL, NULL, 0},          {"Softsign", "softsign", NULL, NULL, 0},
  {"Softplus", "softplus", NULL, NULL, 0},  {"HardSwish", "hardswish", NULL, NULL, 0},
  {"Neg", "neg", NULL, NULL, 0},            {"Abs", "abs", NULL, NULL, 0},
  {"Sqrt", "sqrt", NULL, NULL, 0},          {"Reciprocal", "reciprocal", NULL, NULL, 0},
  {"Erf", "erf", NULL, NULL, 0},            {"Exp", "exp", NULL, NULL, 0},
  {"Log", "log", NULL, NULL, 0},            {"Identity", "identity", NULL, NULL, 0},
  {"LeakyRelu", "leaky_relu", "negative_slope", "alpha", 0.01},
  {"Elu", "elu", "alpha", "alpha", 1.0},    {"Celu", "celu", "alpha", "alpha", 1.0},
};
#define NUNARY (sizeof unary_ops / sizeof *unary_ops)

static const unary_row *find_unary(const char *op_type) {
  for (size_t i = 0; i < NUNARY; i++)
    if (!strcmp(unary_ops[i].onnx, op_type)) return &unary_ops[i];
  return NULL;
}

static actjit_status read_unary(reader *r, actjit_value *out) {
  const unary_row *u = find_unary(r->np->op_type);
  actjit_value x = -1;
  actjit_status st = input_value(r, 0, &x);
  if (st) return st;
  actjit_attr a = {u->attr, 0};
  if (u->attr && (st = attr_float(r, u->onnx_attr, u->def, &a.value))) return st;
  return op1(r, u->op, x, &a, u->attr ? 1 : 0, out);
}

/* Selu: gamma·elu(x, alpha); PyTorch's selu where both are its constants. */
static actjit_status read_selu(reader *r, actjit_value *out) {
  actjit_value x = -1;
  double alpha, gamma;
  actjit_status st = input_value(r, 0, &x);
  if (!st) st = attr_float(r, "alpha", (float)SELU_ALPHA, &alpha);
  if (!st) st = attr_float(r, "gamma", (float)SELU_SCALE, &gamma);
  if (st) return st;
  if (alpha == (float)SELU_ALPHA && gamma == (float)SELU_SCALE) return op1(r, "selu", x, NULL, 0, out);
  actjit_attr a = {"alpha", alpha};
  return (st = op1(r, "elu", x, &a, 1, &x)) ? st : affine(r, x, gamma, 0, out);
}

/* HardSigmoid: max(0, min(1, alpha·x + beta)); PyTorch's hardsigmoid is
 * alpha 1/6, beta 1/2. */
static actjit_status read_hardsigmoid(reader *r, actjit_value *out) {
  actjit_value x = -1;
  double alpha, beta;
  actjit_status st = input_value(r, 0, &x);
  if (!st) st = attr_float(r, "alpha", 0.2, &alpha);
  if (!st) st = attr_float(r, "beta", 0.5, &beta);
  if (st) return st;
  if (alpha == (float)(1.0 / 6) && beta == 0.5) return op1(r, "hardsigmoid", x, NULL, 0, out);
  actjit_attr a[2] = {{"min", 0}, {"max", 1}};
  return (st = affine(r, x, alpha, beta, &x)) ? st : op1(r, "clip", x, a, 2, out);
}

/* ThresholdedRelu: x where x > alpha, else 0. */
static actjit_status read_thresholded_relu(reader *r, actjit_value *out) {
  actjit_value x = -1;
  actjit_attr a[2] = {{"threshold", 1.0}, {"value", 0}};
  actjit_status st = input_value(r, 0, &x);
  return st ? st : (st = attr_float(r, "alpha", 1.0, &a[0].value)) ? st : op1(r, "threshold", x, a, 2, out);
}

/* Shrink: x - bias above lambd, x + bias below -lambd, else 0: hardshrink
 * for bias 0, softshrink for bias lambd, and between them
 * softshrink + (hardshrink - softshrink)·(1 - bias/lambd). */
static actjit_status read_shrink(reader *r, actjit_value *out) {
  actjit_value x, hard, soft, d;
  double lambd, bias;
  actjit_status st = input_value(r, 0, &x);
  if (!st) st = attr_float(r, "lambd", 0.5, &lambd);
  if (!st) st = attr_float(r, "bias", 0.0, &bias);
  if (st) return st;
  if (!(lambd >= 0)) return fail(r, ACTJIT_ERR_UNSUPPORTED, "lambd %g must be at least 0", lambd);
  actjit_attr a = {"lambd", lambd};
  if (bias == 0) return op1(r, "hardshrink", x, &a, 1, out);
  if (bias == lambd) return op1(r, "softshrink", x, &a, 1, out);
  if (lambd == 0) return fail(r, ACTJIT_ERR_UNSUPPORTED, "lambd 0 with bias %g", bias);
  if ((st = op1(r, "hardshrink", x, &a, 1, &hard)) || (st = op1(r, "softshrink", x, &a, 1, &soft)) ||
      (st = op2(r, "sub", hard, soft, &d)) || (st = affine(r, d, 1 - bias / lambd, 0, &d)))
    return st;
  return op2(r, "add", soft, d, out);
}

/* Clip: bounds as attributes before opset 11, optional inputs after;
 * ONNX's defaults are the float range's ends. */
static actjit_status read_clip(reader *r, actjit_value *out) {
  actjit_value x = -1;
  actjit_attr a[2] = {{"min", -FLT_MAX}, {"max", FLT_MAX}};
  actjit_status st = input_value(r, 0, &x);
  if (st) return st;
  for (int i = 0; i < 2; i++) {
    if (r->opset < 11) {
      if ((st = attr_float(r, a[i].name, a[i].value, &a[i].value))) return st;
    } else if (has_input(r, (size_t)i + 1)) {
      entry *e = operand(r, (size_t)i + 1, &st);
      if (!e || (st = scalar_of(r, e, i ? "max" : "min", &a[i].value))) return st;
    }
  }
  return op1(r, "clip", x, a, 2, out);
}

/* Dropout: ratio an attribute before opset 12, an optional input after.
 * actjit runs inference, as ONNX Runtime does whatever is_test (before
 * opset 7) says; training_mode true (opset 12+) is refused. */
static actjit_status read_dropout(reader *r, actjit_value *out) {
  actjit_value x = -1;
  actjit_attr p = {"p", 0.5};
  actjit_status st = input_value(r, 0, &x);
  if (!st && r->opset < 12) st = attr_float(r, "ratio", 0.5, &p.value);
  if (st) return st;
  entry *e = NULL;
  if (r->opset >= 12 && has_input(r, 1) && (!(e = operand(r, 1, &st)) || (st = scalar_of(r, e, "ratio", &p.value))))
    return st;
  double training = 0;
  if (r->opset >= 12 && has_input(r, 2) && (!(e = operand(r, 2, &st)) || (st = scalar_of(r, e, "training_mode", &training))))
    return st;
  if (training) return fail(r, ACTJIT_ERR_UNSUPPORTED, "training_mode true is not supported; actjit runs inference");
  return op1(r, "dropout", x, &p, 1, out);
}

/* Add, Sub, Mul, Div, Pow; and the variadic Max, Min, Sum as a chain. */
static actjit_status read_binary(reader *r, actjit_value *out) {
  static const char *const names[][2] = {{"Add", "add"},     {"Sub", "sub"},     {"Mul", "mul"},
                                         {"Div", "div"},     {"Pow", "pow"},     {"Max", "maximum"},
                                         {"Min", "minimum"}, {"Sum", "add"}};
  const char *name = NULL;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strcmp(names[i][0], r->np->op_type)) name = names[i][1];
  bool variadic = !strcmp(name, "maximum") || !strcmp(name, "minimum") || !strcmp(r->np->op_type, "Sum");
  size_t n = r->np->n_input;
  if (!variadic && n != 2) return fail(r, ACTJIT_ERR_VERIFY, "takes 2 inputs, got %zu", n);
  if (!n) return fail(r, ACTJIT_ERR_VERIFY, "takes at least one input");
  /* Before opset 7 a second operand broadcast only with broadcast=1, and
   * `axis` aligned it elsewhere than the trailing dims. */
  if (r->opset < 7 && attr(r, "axis")) return fail(r, ACTJIT_ERR_UNSUPPORTED, "legacy broadcasting along an axis");
  actjit_value acc;
  actjit_status st = input_value(r, 0, &acc);
  for (size_t i = 1; !st && i < n; i++) {
    actjit_value b;
    if (!(st = input_value(r, i, &b))) st = op2(r, name, acc, b, &acc);
  }
  if (!st && n == 1) st = op1(r, "identity", acc, NULL, 0, &acc);
  *out = acc;
  return st;
}

/* PRelu: PyTorch's prelu where the slope is one value or one per channel of
 * dim 1 ([C, 1, ...] as torch writes it, [C] before opset 7); otherwise, broadcast as
 * ONNX does, relu(x) + slope·min(x, 0). */
static actjit_status read_prelu(reader *r, actjit_value *out) {
  actjit_value x, w, zero, neg;
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_status st = input_value(r, 0, &x);
  entry *e = st ? NULL : operand(r, 1, &st);
  if (!e || (st = shape_of(r, x, &rank, dims))) return st;
  if (is_constant(e)) {
    const tensor *t = float_constant(r, e, "slope", &st);
    if (!t) return st;
    /* Aligned to x's trailing dims, the slope is 1 but at x's dim 1. */
    int64_t c = rank >= 2 ? dims[1] : 1;
    bool channel = t->rank <= rank && (t->count == (size_t)c || rank >= 2);
    for (int j = 0; channel && j < t->rank; j++) channel = t->dims[j] == (rank - t->rank + j == 1 ? c : 1);
    /* Before opset 7 a 1-D slope was one per channel. */
    if (r->opset < 7 && t->rank == 1 && t->dims[0] == c) channel = true;
    if (t->count == 1 || channel) {
      int64_t n = (int64_t)t->count;
      if ((st = new_param(r, e->name, 1, &n, t->f, &w))) return st;
      actjit_value args[2] = {x, w};
      return op(r, "prelu", args, 2, NULL, 0, out);
    }
  }
  if ((st = value_of(r, e, &w)) || (st = scalar(r, 0, &zero)) || (st = op2(r, "minimum", x, zero, &neg)) ||
      (st = op2(r, "mul", neg, w, &neg)) || (st = op1(r, "relu", x, NULL, 0, &x)))
    return st;
  return op2(r, "add", x, neg, out);
}

/* W = alpha·B as linear's [out, in] weight: B [in, out] transposed, or B
 * as it is when it is [out, in] already. */
static actjit_status weight(reader *r, entry *e, bool transposed, double alpha, actjit_value *w) {
  actjit_status st = ACTJIT_OK;
  const tensor *t = float_constant(r, e, "weight", &st);
  if (!t) return st;
  if (t->rank != 2) return fail(r, ACTJIT_ERR_UNSUPPORTED, "the weight must have rank 2, it has rank %d", t->rank);
  int64_t out = transposed ? t->dims[0] : t->dims[1], in = transposed ? t->dims[1] : t->dims[0];
  float *d = malloc(t->count ? t->count * sizeof *d : 1);
  if (!d) return fail(r, ACTJIT_ERR_NOMEM, "out of memory");
  for (int64_t o = 0; o < out; o++)
    for (int64_t i = 0; i < in; i++)
      d[o * in + i] = (float)(alpha * (transposed ? t->f[o * in + i] : t->f[i * out + o]));
  int64_t dims[2] = {out, in};
  st = new_param(r, e->name, 2, dims, d, w);
  free(d);
  return st;
}

/* MatMul of a value and a constant: a matrix [in, out] is a linear's
 * weight (the Add after it becomes linear's bias in canonicalize), a batch
 * of them [..., in, out] matmul's, broadcast as NumPy's matmul. */
static actjit_status read_matmul(reader *r, actjit_value *out) {
  actjit_value x = -1, w;
  actjit_status st = input_value(r, 0, &x);
  entry *e = st ? NULL : operand(r, 1, &st);
  if (!e) return st;
  if (!is_constant(e)) return fail(r, ACTJIT_ERR_UNSUPPORTED, "the second operand must be a constant");
  const tensor *t = float_constant(r, e, "weight", &st);
  if (!t) return st;
  if (t->rank >= 3 && !(st = new_param(r, e->name, t->rank, t->dims, t->f, &w))) return op2(r, "matmul", x, w, out);
  if (st || (st = weight(r, e, false, 1, &w))) return st;
  actjit_value args[2] = {x, w};
  return op(r, "linear", args, 2, NULL, 0, out);
}

/* Gemm: alpha·A'·B' + beta·C, A' = A or Aᵀ (transA: a transpose of the
 * value), B' = B or Bᵀ (transB), B a constant; C, broadcast, becomes
 * linear's bias when it is one value or one per output, else an add. */
static actjit_status read_gemm(reader *r, actjit_value *out) {
  double alpha, beta;
  int64_t trans_a, trans_b;
  actjit_value x, w;
  actjit_status st = input_value(r, 0, &x);
  if (!st) st = attr_float(r, "alpha", 1, &alpha);
  if (!st) st = attr_float(r, "beta", 1, &beta);
  if (!st) st = attr_int(r, "transA", 0, &trans_a);
  if (!st) st = attr_int(r, "transB", 0, &trans_b);
  if (st) return st;
  int rank;
  int64_t ad[ACTJIT_MAX_RANK], wd[ACTJIT_MAX_RANK];
  if ((st = shape_of(r, x, &rank, ad))) return st;
  if (trans_a && ad[0] < 0) return fail(r, ACTJIT_ERR_UNSUPPORTED, "transA 1 moves the batch, A's dim 0, which actjit keeps first");
  actjit_attr swap[2] = {{"perm", 1}, {"perm", 0}};
  if (trans_a && (st = op1(r, "transpose", x, swap, 2, &x))) return st;
  entry *e = operand(r, 1, &st);
  if (!e) return st;
  if (!is_constant(e)) return fail(r, ACTJIT_ERR_UNSUPPORTED, "B must be a constant matrix");
  if ((st = weight(r, e, trans_b != 0, alpha, &w)) || (st = shape_of(r, w, &rank, wd))) return st;
  actjit_value args[3] = {x, w, ACTJIT_NO_VALUE};
  int nargs = 2;
  entry *c = has_input(r, 2) ? operand(r, 2, &st) : NULL;
  if (st) return st;
  const tensor *ct = NULL;
  if (c && is_constant(c) && beta != 0 && !(ct = float_constant(r, c, "C", &st))) return st;
  bool bias = ct && (ct->count == 1 || (ct->count == (size_t)wd[0] && (ct->rank == 1 || ct->dims[0] == 1)));
  if (bias) {
    float *b = malloc((size_t)wd[0] * sizeof *b + 1);
    if (!b) return fail(r, ACTJIT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < wd[0]; i++) b[i] = (float)(beta * ct->f[ct->count == 1 ? 0 : i]);
    st = new_param(r, c->name, 1, wd, b, &args[2]);
    free(b);
    if (st) return st;
    nargs = 3;
  }
  if ((st = op(r, "linear", args, nargs, NULL, 0, out)) || !c || bias || beta == 0) return st;
  actjit_value cv;
  if ((st = value_of(r, c, &cv)) || (st = affine(r, cv, beta, 0, &cv))) return st;
  return op2(r, "add", *out, cv, out);
}

/* Flatten: ONNX's 2-D [d0·...·d(axis-1), d(axis)·...]: actjit's flatten of
 * the trailing dims, then of the leading ones; at axis 0 or rank, all of
 * them and a dim of 1 before or after (unsqueeze). */
static actjit_status read_flatten(reader *r, actjit_value *out) {
  actjit_value x = -1;
  int rank, axis;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_status st = input_value(r, 0, &x);
  if (st || (st = shape_of(r, x, &rank, dims))) return st;
  int64_t a;
  if ((st = attr_int(r, "axis", 1, &a))) return st;
  if (a < -rank || a > rank) return fail(r, ACTJIT_ERR_VERIFY, "axis %lld out of range for rank %d", (long long)a, rank);
  axis = (int)(a < 0 ? a + rank : a);
  *out = x;
  if (axis == 0 && dims[0] < 0)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "axis 0 puts a dim of 1 before the batch, which actjit keeps first");
  if (axis == 0 || axis == rank) {
    actjit_attr all[2] = {{"start_dim", 0}, {"end_dim", -1}}, unit = {"dim", axis ? 1 : 0};
    if (rank > 1 && (st = op1(r, "flatten", *out, all, 2, out))) return st;
    return op1(r, "unsqueeze", *out, &unit, 1, out);
  }
  actjit_attr tail[2] = {{"start_dim", axis}, {"end_dim", -1}}, head[2] = {{"start_dim", 0}, {"end_dim", axis - 1}};
  if (axis < rank - 1 && (st = op1(r, "flatten", *out, tail, 2, out))) return st;
  if (axis > 1 && (st = op1(r, "flatten", *out, head, 2, out))) return st;
  return *out == x ? op1(r, "identity", x, NULL, 0, out) : ACTJIT_OK;
}

/* How often value `name` is used (a graph output counts), and by which
 * node, *user (SIZE_MAX if a graph output is among the uses). */
static int uses(const reader *r, const char *name, size_t *user) {
  int n = 0;
  *user = SIZE_MAX;
  for (size_t i = 0; i < r->gp->n_node; i++)
    for (size_t j = 0; j < r->gp->node[i]->n_input; j++)
      if (!strcmp(r->gp->node[i]->input[j], name)) n++, *user = i;
  for (size_t i = 0; i < r->gp->n_output; i++)
    if (r->gp->output[i]->name && !strcmp(r->gp->output[i]->name, name)) n++, *user = SIZE_MAX;
  return n;
}

static bool is_op(const Onnx__NodeProto *np, const char *op_type) {
  return np->op_type && !strcmp(np->op_type, op_type) && (!np->domain || !*np->domain || !strcmp(np->domain, "ai.onnx"));
}

/* Softmax and LogSoftmax over `axis`: one axis from opset 13; before, the
 * input coerced to 2-D at axis, one axis when the dims after it are 1. */
static actjit_status softmax_at(reader *r, const char *name, actjit_value x, int64_t axis_attr, bool coerced,
                                actjit_value *out) {
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_status st = shape_of(r, x, &rank, dims);
  if (st) return st;
  if (axis_attr < -rank || axis_attr >= rank)
    return fail(r, ACTJIT_ERR_VERIFY, "axis %lld out of range for rank %d", (long long)axis_attr, rank);
  int axis = (int)(axis_attr < 0 ? axis_attr + rank : axis_attr);
  for (int i = axis + 1; coerced && r->opset < 13 && i < rank; i++)
    if (dims[i] != 1)
      return fail(r, ACTJIT_ERR_UNSUPPORTED,
                  "before opset 13 the input is coerced to 2-D at axis %d, normalizing over several dims", axis);
  actjit_attr a = {"dim", axis};
  return op1(r, name, x, &a, 1, out);
}

static actjit_status read_softmax(reader *r, actjit_value *out) {
  actjit_value x = -1;
  int64_t axis;
  actjit_status st = input_value(r, 0, &x);
  if (!st) st = attr_int(r, "axis", r->opset < 13 ? 1 : -1, &axis);
  return st ? st : softmax_at(r, is_op(r->np, "Softmax") ? "softmax" : "log_softmax", x, axis, true, out);
}

static actjit_status perm_of(reader *r, const Onnx__NodeProto *np, int rank, int perm[ACTJIT_MAX_RANK]) {
  const Onnx__AttributeProto *a = NULL;
  for (size_t i = 0; i < np->n_attribute; i++)
    if (np->attribute[i]->name && !strcmp(np->attribute[i]->name, "perm")) a = np->attribute[i];
  bool seen[ACTJIT_MAX_RANK] = {0};
  if (a && a->n_ints != (size_t)rank) return fail(r, ACTJIT_ERR_VERIFY, "perm has %zu entries for rank %d", a->n_ints, rank);
  for (int i = 0; i < rank; i++) {
    int64_t p = a ? a->ints[i] : rank - 1 - i;
    if (p < 0 || p >= rank || seen[p]) return fail(r, ACTJIT_ERR_VERIFY, "perm is not a permutation of %d dims", rank);
    seen[p] = true;
    perm[i] = (int)p;
  }
  return ACTJIT_OK;
}

static actjit_status tensor_copy(reader *r, const tensor *from, tensor *to) {
  *to = *from;
  to->f = NULL, to->i = NULL;
  size_t n = from->count ? from->count : 1;
  if ((from->f && !(to->f = malloc(n * sizeof *to->f))) || (from->i && !(to->i = malloc(n * sizeof *to->i)))) {
    tensor_free(to);
    return fail(r, ACTJIT_ERR_NOMEM, "out of memory");
  }
  if (from->f && from->count) memcpy(to->f, from->f, from->count * sizeof *to->f);
  if (from->i && from->count) memcpy(to->i, from->i, from->count * sizeof *to->i);
  return ACTJIT_OK;
}

/* Records ONNX value `name` as constant t (taken over). */
static actjit_status define_constant(reader *r, const char *name, tensor *t) {
  char q[256];
  entry *e = NULL;
  actjit_status st = find(r, name) ? fail(r, ACTJIT_ERR_VERIFY, "value '%s' is defined twice", quote(name, q, sizeof q))
                                   : add_entry(r, name, &e);
  if (st) {
    tensor_free(t);
    return st;
  }
  e->t = *t;
  e->is_const = true;
  return ACTJIT_OK;
}

/* Transpose of a constant (a weight, as older torch exports write
 * Linear): the transposed constant. */
static actjit_status fold_transpose(reader *r, entry *e) {
  actjit_status st = ACTJIT_OK;
  const tensor *t = constant(r, e, "operand", &st);
  int perm[ACTJIT_MAX_RANK];
  tensor c;
  if (!t || (st = perm_of(r, r->np, t->rank, perm)) || (st = tensor_copy(r, t, &c))) return st;
  int64_t stride[ACTJIT_MAX_RANK], idx[ACTJIT_MAX_RANK] = {0};
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; s *= t->dims[i], i--) stride[i] = s;
  for (int i = 0; i < t->rank; i++) c.dims[i] = t->dims[perm[i]];
  for (size_t k = 0; k < t->count; k++) {
    int64_t from = 0;
    for (int i = 0; i < t->rank; i++) from += idx[i] * stride[perm[i]];
    if (t->f) c.f[k] = t->f[from];
    else c.i[k] = t->i[from];
    for (int i = t->rank - 1; i >= 0 && ++idx[i] == c.dims[i]; i--) idx[i] = 0;
  }
  return define_constant(r, r->np->output[0], &c);
}

/* Unsqueeze: of a value, an unsqueeze a new dim (in increasing order, so
 * that each lands where the result has it); of a constant (a weight given
 * dims of 1 to broadcast, as torch 1.13 writes PReLU's per-channel slope
 * when the weights are not folded), the constant with those dims.  The
 * axes are an attribute before opset 13, a constant input after. */
static actjit_status read_unsqueeze(reader *r, actjit_value *out) {
  actjit_status st = ACTJIT_OK;
  entry *e = operand(r, 0, &st);
  if (!e) return st;
  const tensor *t = NULL;
  int in_rank;
  int64_t dims[ACTJIT_MAX_RANK];
  if (is_constant(e) ? !(t = constant(r, e, "operand", &st)) : (st = shape_of(r, e->v, &in_rank, dims))) return st;
  if (t) in_rank = t->rank;
  int64_t axes[ACTJIT_MAX_RANK];
  size_t n = 0;
  if (r->opset < 13) {
    const Onnx__AttributeProto *a = attr(r, "axes");
    if (!a || !a->n_ints) return fail(r, ACTJIT_ERR_VERIFY, "has no axes");
    for (size_t k = 0; k < a->n_ints && n < ACTJIT_MAX_RANK + 1; k++) axes[n < ACTJIT_MAX_RANK ? n : 0] = a->ints[k], n++;
  } else {
    entry *ae = has_input(r, 1) ? operand(r, 1, &st) : NULL;
    if (!ae) return st ? st : fail(r, ACTJIT_ERR_VERIFY, "has no axes");
    const tensor *at = is_constant(ae) ? constant(r, ae, "axes", &st) : NULL;
    if (!at) return st ? st : fail(r, ACTJIT_ERR_UNSUPPORTED, "the axes must be a constant");
    if (!at->i || at->rank != 1 || !at->count)
      return fail(r, ACTJIT_ERR_VERIFY, "the axes must be a 1-D tensor of int64, not empty");
    for (size_t k = 0; k < at->count && n < ACTJIT_MAX_RANK + 1; k++) axes[n < ACTJIT_MAX_RANK ? n : 0] = at->i[k], n++;
  }
  int rank = in_rank + (int)n;
  if (rank > ACTJIT_MAX_RANK)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "the result has rank %d; actjit takes at most %d", rank, ACTJIT_MAX_RANK);
  bool one[ACTJIT_MAX_RANK] = {0};
  for (size_t k = 0; k < n; k++) {
    int64_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
    if (a < 0 || a >= rank || one[a])
      return fail(r, ACTJIT_ERR_VERIFY, "axis %lld is out of range for rank %d or repeated", (long long)axes[k], rank);
    one[a] = true;
  }
  if (!t) {
    actjit_value v = e->v;
    for (int a = 0; a < rank && !st; a++)
      if (one[a]) st = op1(r, "unsqueeze", v, &(actjit_attr){"dim", a}, 1, &v);
    *out = v;
    return st;
  }
  tensor c;
  if ((st = tensor_copy(r, t, &c))) return st;
  c.rank = rank;
  for (int i = 0, j = 0; i < rank; i++) c.dims[i] = one[i] ? 1 : t->dims[j++];
  *out = ACTJIT_NO_VALUE;
  return define_constant(r, r->np->output[0], &c);
}

/* Transpose → (Log)Softmax over the last axis → the inverse Transpose: a
 * softmax over the axis the first one moves last (the pattern's nodes
 * marked done, the last one's result named); an identity permutation:
 * identity; any other: transpose. */
static actjit_status read_transpose(reader *r, actjit_value *out) {
  actjit_value x = -1;
  int rank, perm[ACTJIT_MAX_RANK], back[ACTJIT_MAX_RANK];
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_status st = ACTJIT_OK;
  entry *e = operand(r, 0, &st);
  if (!e) return st;
  if (is_constant(e)) {
    *out = ACTJIT_NO_VALUE;
    return fold_transpose(r, e);
  }
  st = input_value(r, 0, &x);
  if (st || (st = shape_of(r, x, &rank, dims)) || (st = perm_of(r, r->np, rank, perm))) return st;
  bool identity = true;
  for (int i = 0; i < rank; i++) identity &= perm[i] == i;
  if (identity) return op1(r, "identity", x, NULL, 0, out);
  size_t s, t;
  const Onnx__NodeProto *sm = NULL, *tr = NULL;
  if (r->np->n_output == 1 && uses(r, r->np->output[0], &s) == 1 && s != SIZE_MAX && s > r->node) sm = r->gp->node[s];
  if (sm && (is_op(sm, "Softmax") || is_op(sm, "LogSoftmax")) && sm->n_output == 1 && uses(r, sm->output[0], &t) == 1 &&
      t != SIZE_MAX)
    tr = r->gp->node[t];
  int64_t axis = r->opset < 13 ? 1 : -1;
  for (size_t i = 0; sm && i < sm->n_attribute; i++)
    if (sm->attribute[i]->name && !strcmp(sm->attribute[i]->name, "axis")) axis = sm->attribute[i]->i;
  bool inverse = tr && is_op(tr, "Transpose") && tr->n_input == 1 && tr->n_output == 1 && (axis == -1 || axis == rank - 1);
  if (inverse && (st = perm_of(r, tr, rank, back))) return st;
  for (int i = 0; inverse && i < rank; i++) inverse = perm[back[i]] == i;
  if (!inverse) {
    actjit_attr a[ACTJIT_MAX_RANK];
    for (int i = 0; i < rank; i++) a[i] = (actjit_attr){"perm", perm[i]};
    if (dims[0] < 0 && perm[0])
      return fail(r, ACTJIT_ERR_UNSUPPORTED, "perm [%d, ...] moves the batch, dim 0, which actjit keeps first", perm[0]);
    return op1(r, "transpose", x, a, rank, out);
  }
  const Onnx__NodeProto *self = r->np;
  size_t self_i = r->node;
  r->np = sm, r->node = s;
  st = softmax_at(r, is_op(sm, "Softmax") ? "softmax" : "log_softmax", x, perm[rank - 1], false, out);
  r->np = self, r->node = self_i;
  if (st) return st;
  r->done[s] = r->done[t] = true;
  r->np = tr, r->node = t; /* the pattern's value is the last Transpose's */
  return ACTJIT_OK;
}

/* The node whose first output is `name`, and its index; NULL if none. */
static const Onnx__NodeProto *producer(const reader *r, const char *name, size_t *at) {
  for (size_t i = 0; i < r->gp->n_node; i++)
    if (r->gp->node[i]->n_output && !strcmp(r->gp->node[i]->output[0], name)) return *at = i, r->gp->node[i];
  return NULL;
}

static actjit_status read_constant(reader *r);

/* The entry of `name`; a Constant node later in the graph read now (and
 * not again), for a pattern that looks ahead. */
static entry *find_ahead(reader *r, const char *name) {
  entry *e = find(r, name);
  size_t at;
  const Onnx__NodeProto *np = e ? NULL : producer(r, name, &at);
  if (!np || !is_op(np, "Constant") || r->done[at]) return e;
  const Onnx__NodeProto *self = r->np;
  size_t self_at = r->node;
  r->np = np, r->node = at;
  actjit_status st = read_constant(r);
  r->np = self, r->node = self_at;
  r->done[at] = true;
  return st ? NULL : find(r, name);
}

/* Is `name` a constant of one float equal to want (bitwise: 0 is +0), of
 * rank at most `rank` (broadcast, it leaves a value of that rank as it is)? */
static bool float_is(reader *r, const char *name, float want, int rank) {
  entry *e = find_ahead(r, name);
  actjit_status st = ACTJIT_OK;
  const tensor *t = e && is_constant(e) ? constant(r, e, "operand", &st) : NULL;
  return t && t->f && t->count == 1 && t->rank <= rank && !memcmp(&t->f[0], &want, sizeof want);
}

/* Node `np` is op_type of x (of rank `rank`) and the constant c, in either
 * order (first order only unless commutes), its one output used once. */
static bool op_of(reader *r, const Onnx__NodeProto *np, const char *op_type, const char *x, int rank, float c,
                  bool commutes) {
  size_t user;
  if (!np || !is_op(np, op_type) || np->n_input != 2 || np->n_output != 1 || uses(r, np->output[0], &user) != 1) return false;
  return (!strcmp(np->input[0], x) && float_is(r, np->input[1], c, rank)) ||
         (commutes && !strcmp(np->input[1], x) && float_is(r, np->input[0], c, rank));
}

/* The rank of operand i of the node being read, if it is a value (else -1). */
static int value_rank(reader *r, size_t i) {
  actjit_value v;
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  entry *e = has_input(r, i) ? find(r, r->np->input[i]) : NULL;
  return e && !is_constant(e) && !input_value(r, i, &v) && !shape_of(r, v, &rank, dims) ? rank : -1;
}

/* Greater starting softshrink as torch 1.13 exports it (every opset):
 *   Where(Greater(x, l), Sub(x, l), 0) + Where(Less(x, -l), Add(x, l), 0)
 * with l >= 0 and each value used once: softshrink(x, l), exactly (for
 * NaN both give 0 + 0).  Any other Greater is refused: actjit has no
 * booleans. */
static actjit_status read_greater(reader *r, actjit_value *out) {
  const Onnx__NodeProto *gt = r->np, *w1 = NULL, *sum = NULL, *w2 = NULL;
  size_t i_w1 = 0, i_sum = 0, i_w2 = 0, i_sub = 0, i_lt = 0, i_add = 0, user;
  bool two = gt->n_input == 2;
  entry *e = two ? find_ahead(r, gt->input[1]) : NULL;
  const tensor *t = NULL;
  actjit_status st = ACTJIT_OK;
  if (e && is_constant(e) && !(t = constant(r, e, "operand", &st))) return st;
  int rank = value_rank(r, 0);
  float l = t && t->f && t->count == 1 && t->rank <= rank ? t->f[0] : -1.0f;
  const char *x = two ? gt->input[0] : "";
  bool ok = two && l >= 0 && gt->n_output == 1 && uses(r, gt->output[0], &user) == 1 && user != SIZE_MAX;
  if (ok) w1 = r->gp->node[i_w1 = user];
  ok = ok && is_op(w1, "Where") && w1->n_input == 3 && w1->n_output == 1 && !strcmp(w1->input[0], gt->output[0]) &&
       op_of(r, producer(r, w1->input[1], &i_sub), "Sub", x, rank, l, false) && float_is(r, w1->input[2], 0.0f, rank) &&
       uses(r, w1->output[0], &user) == 1 && user != SIZE_MAX;
  if (ok) sum = r->gp->node[i_sum = user];
  ok = ok && is_op(sum, "Add") && sum->n_input == 2 && sum->n_output == 1;
  if (ok) w2 = producer(r, strcmp(sum->input[0], w1->output[0]) ? sum->input[0] : sum->input[1], &i_w2);
  ok = ok && w2 && w2 != w1 && is_op(w2, "Where") && w2->n_input == 3 && w2->n_output == 1 &&
       uses(r, w2->output[0], &user) == 1 && op_of(r, producer(r, w2->input[0], &i_lt), "Less", x, rank, -l, false) &&
       op_of(r, producer(r, w2->input[1], &i_add), "Add", x, rank, l, true) && float_is(r, w2->input[2], 0.0f, rank);
  if (!ok)
    return fail(r, ACTJIT_ERR_UNSUPPORTED,
                "a Greater is read only as the start of softshrink as torch exports it: "
                "Where(Greater(x, l), Sub(x, l), 0) + Where(Less(x, -l), Add(x, l), 0), l >= 0");
  actjit_value v;
  if ((st = input_value(r, 0, &v)) || (st = op1(r, "softshrink", v, &(actjit_attr){"lambd", l}, 1, out))) return st;
  r->done[i_w1] = r->done[i_sub] = r->done[i_sum] = r->done[i_w2] = r->done[i_lt] = r->done[i_add] = true;
  r->np = sum, r->node = i_sum; /* the pattern's value is the last Add's */
  return ACTJIT_OK;
}

/* LessOrEqual starting threshold as ATen defines it (and bench/onnx_export.py
 * writes it: torch 1.13 cannot export it), Where(LessOrEqual(x, t), v, x)
 * with t and v constants and the comparison used once: threshold(x, t, v),
 * exactly (for NaN both give x).  Any other LessOrEqual is refused. */
static actjit_status read_less_or_equal(reader *r, actjit_value *out) {
  const Onnx__NodeProto *le = r->np, *w = NULL;
  size_t i_w = 0;
  entry *te = le->n_input == 2 ? find_ahead(r, le->input[1]) : NULL, *ve = NULL;
  double t = 0, v = 0;
  int rank = value_rank(r, 0);
  bool ok = rank >= 0 && te && is_constant(te) && le->n_output == 1 && uses(r, le->output[0], &i_w) == 1 &&
            i_w != SIZE_MAX;
  if (ok) w = r->gp->node[i_w];
  ok = ok && is_op(w, "Where") && w->n_input == 3 && w->n_output == 1 && !strcmp(w->input[0], le->output[0]) &&
       !strcmp(w->input[2], le->input[0]) && (ve = find_ahead(r, w->input[1])) && is_constant(ve);
  actjit_status st = ACTJIT_OK;
  if (ok && ((st = scalar_of(r, te, "the threshold", &t)) || (st = scalar_of(r, ve, "the value", &v)))) return st;
  /* (broadcast, constants of a higher rank would make the result's rank theirs) */
  ok = ok && te->t.rank <= rank && ve->t.rank <= rank;
  if (!ok)
    return fail(r, ACTJIT_ERR_UNSUPPORTED,
                "a LessOrEqual is read only as threshold, Where(LessOrEqual(x, t), v, x) with t and v constants");
  actjit_value x;
  actjit_attr a[] = {{"threshold", t}, {"value", v}};
  if ((st = input_value(r, 0, &x)) || (st = op1(r, "threshold", x, a, 2, out))) return st;
  r->done[i_w] = true;
  r->np = w, r->node = i_w; /* the pattern's value is the Where's */
  return ACTJIT_OK;
}

/* Split into two equal halves, the second through Sigmoid, multiplied by
 * the first: glu over the split axis (nn.GLU as torch writes it). */
static actjit_status read_split(reader *r, actjit_value *out) {
  actjit_value x = -1;
  int rank, axis = 0;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_status st = input_value(r, 0, &x);
  if (st || (st = shape_of(r, x, &rank, dims)) || (st = attr_axis(r, "axis", 0, rank, &axis))) return st;
  const Onnx__NodeProto *np = r->np;
  size_t u0, u1, u2;
  const Onnx__NodeProto *sig = NULL, *mul = NULL;
  if (np->n_output == 2 && uses(r, np->output[0], &u0) == 1 && uses(r, np->output[1], &u1) == 1 &&
      u0 != SIZE_MAX && u1 != SIZE_MAX && is_op(r->gp->node[u1], "Sigmoid") && r->gp->node[u1]->n_output == 1 && u1 > r->node)
    sig = r->gp->node[u1];
  if (sig && uses(r, sig->output[0], &u2) == 1 && u2 == u0 && u0 > u1 && is_op(r->gp->node[u0], "Mul"))
    mul = r->gp->node[u0];
  if (!mul || mul->n_input != 2 || mul->n_output != 1)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "a Split is read only as the halves of a GLU (Split -> Sigmoid -> Mul)");
  /* The halves must be equal: `split` an attribute before opset 13, an input after. */
  const Onnx__AttributeProto *sa = attr(r, "split");
  int64_t parts[2] = {0, 0};
  size_t nparts = 0;
  if (sa) {
    nparts = sa->n_ints;
    for (size_t i = 0; i < nparts && i < 2; i++) parts[i] = sa->ints[i];
  } else if (has_input(r, 1)) {
    entry *e = operand(r, 1, &st);
    const tensor *t = e ? constant(r, e, "split", &st) : NULL;
    if (!t) return st;
    if (!t->i) return fail(r, ACTJIT_ERR_VERIFY, "split must hold integers");
    nparts = t->count;
    for (size_t i = 0; i < nparts && i < 2; i++) parts[i] = t->i[i];
  }
  bool known = axis > 0 || dims[0] >= 0;
  if ((sa || has_input(r, 1)) && (nparts != 2 || parts[0] != parts[1] || (known && 2 * parts[0] != dims[axis])))
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "a Split into other parts than two equal halves is not a GLU");
  actjit_attr a = {"dim", axis};
  if ((st = op1(r, "glu", x, &a, 1, out))) return st;
  r->done[u1] = r->done[u0] = true;
  r->np = mul, r->node = u0;
  return ACTJIT_OK;
}

/* Constant: a tensor (value), or value_float(s) / value_int(s). */
static actjit_status read_constant(reader *r) {
  const Onnx__NodeProto *np = r->np;
  if (np->n_output != 1) return fail(r, ACTJIT_ERR_VERIFY, "takes one output, got %zu", np->n_output);
  char q[256];
  if (find(r, np->output[0]))
    return fail(r, ACTJIT_ERR_VERIFY, "value '%s' is defined twice", quote(np->output[0], q, sizeof q));
  entry *e = NULL;
  actjit_status st = add_entry(r, np->output[0], &e);
  if (st) return st;
  const Onnx__AttributeProto *a = np->n_attribute == 1 ? np->attribute[0] : NULL;
  const char *an = a && a->name ? a->name : "";
  tensor *t = &e->t;
  if (!strcmp(an, "value") && a->t) {
    st = load_tensor(r, a->t, t);
  } else if (!strcmp(an, "value_float") || !strcmp(an, "value_floats")) {
    bool one = an[11] == '\0';
    *t = (tensor){.type = T_FLOAT, .rank = one ? 0 : 1, .count = one ? 1 : a->n_floats};
    t->dims[0] = (int64_t)a->n_floats;
    if (!(t->f = malloc(t->count * sizeof *t->f + 1))) st = fail(r, ACTJIT_ERR_NOMEM, "out of memory");
    else if (one) t->f[0] = a->f;
    else if (t->count) memcpy(t->f, a->floats, t->count * sizeof *t->f);
  } else if (!strcmp(an, "value_int") || !strcmp(an, "value_ints")) {
    bool one = an[9] == '\0';
    *t = (tensor){.type = T_INT64, .rank = one ? 0 : 1, .count = one ? 1 : a->n_ints};
    t->dims[0] = (int64_t)a->n_ints;
    if (!(t->i = malloc(t->count * sizeof *t->i + 1))) st = fail(r, ACTJIT_ERR_NOMEM, "out of memory");
    else if (one) t->i[0] = a->i;
    else if (t->count) memcpy(t->i, a->ints, t->count * sizeof *t->i);
  } else {
    st = fail(r, ACTJIT_ERR_UNSUPPORTED, "a Constant is read from one attribute: value, value_float(s) or value_int(s)");
  }
  if (st) {
    tensor_free(t);
    r->n--;
    return st;
  }
  e->is_const = true;
  return ACTJIT_OK;
}

/* Identity of a constant is a copy of the constant; of a value, identity. */
static actjit_status read_identity(reader *r, actjit_value *out) {
  actjit_status st = ACTJIT_OK;
  entry *e = operand(r, 0, &st);
  if (!e) return st;
  if (!is_constant(e)) return op1(r, "identity", e->v, NULL, 0, out);
  const tensor *t = constant(r, e, "operand", &st);
  tensor copy;
  if (!t || (st = tensor_copy(r, t, &copy))) return st;
  *out = ACTJIT_NO_VALUE;
  return define_constant(r, r->np->output[0], &copy);
}

typedef struct op_row {
  const char *op_type;
  handler read;
} op_row;

static const op_row op_rows[] = {
  {"Relu", read_unary},       {"Sigmoid", read_unary},     {"Tanh", read_unary},        {"Softsign", read_unary},
  {"Softplus", read_unary},   {"HardSwish", read_unary},   {"Neg", read_unary},         {"Abs", read_unary},
  {"Sqrt", read_unary},       {"Reciprocal", read_unary},  {"Erf", read_unary},         {"Exp", read_unary},
  {"Log", read_unary},        {"LeakyRelu", read_unary},   {"Elu", read_unary},         {"Celu", read_unary},
  {"Identity", read_identity}, {"Selu", read_selu},        {"HardSigmoid", read_hardsigmoid},
  {"ThresholdedRelu", read_thresholded_relu},              {"Shrink", read_shrink},     {"Clip", read_clip},
  {"Dropout", read_dropout},  {"Add", read_binary},        {"Sub", read_binary},        {"Mul", read_binary},
  {"Div", read_binary},       {"Pow", read_binary},        {"Max", read_binary},        {"Min", read_binary},
  {"Sum", read_binary},       {"PRelu", read_prelu},       {"MatMul", read_matmul},     {"Gemm", read_gemm},
  {"Flatten", read_flatten},  {"Softmax", read_softmax},   {"LogSoftmax", read_softmax},
  {"Transpose", read_transpose}, {"Split", read_split},    {"Unsqueeze", read_unsqueeze}, {"Greater", read_greater},
  {"LessOrEqual", read_less_or_equal},
  {"Constant", NULL},
};
#define NOPS ((int)(sizeof op_rows / sizeof *op_rows))

int onnx_op_count(void) { return NOPS; }
const char *onnx_op_name(int i) { return i >= 0 && i < NOPS ? op_rows[i].op_type : NULL; }

static actjit_status read_node(reader *r) {
  const Onnx__NodeProto *np = r->np;
  const char *domain = np->domain ? np->domain : "";
  char q[128];
  if (*domain && strcmp(domain, "ai.onnx"))
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "domain '%s' is not supported", quote(domain, q, sizeof q));
  const op_row *row = NULL;
  for (int i = 0; i < NOPS && !row; i++)
    if (np->op_type && !strcmp(op_rows[i].op_type, np->op_type)) row = &op_rows[i];
  if (!row) return fail(r, ACTJIT_ERR_UNSUPPORTED, "unsupported op");
  if (!row->read) return read_constant(r);
  /* Only Dropout's mask may be a second output, and only unused. */
  size_t unused;
  for (size_t i = 1; i < np->n_output; i++)
    if (strcmp(np->op_type, "Split") && (strcmp(np->op_type, "Dropout") || (*np->output[i] && uses(r, np->output[i], &unused))))
      return fail(r, ACTJIT_ERR_UNSUPPORTED, "%zu outputs; actjit reads this op with one", np->n_output);
  if (!np->n_output) return fail(r, ACTJIT_ERR_VERIFY, "has no output");
  actjit_value v;
  actjit_status st = row->read(r, &v);
  if (st || v == ACTJIT_NO_VALUE) return st;
  return define(r, r->np->output[0], v); /* r->np: a pattern's last node */
}

/* ------------------------------------------------------------------ graph */

static actjit_status read_input(reader *r, const Onnx__ValueInfoProto *vi) {
  char q[256];
  quote(vi->name, q, sizeof q);
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "input '%s' is not a tensor", q);
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  if (tt->elem_type != T_FLOAT)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "input '%s' has element type %s; actjit reads float32 tensors", q,
                type_name(tt->elem_type));
  if (!tt->shape) return fail(r, ACTJIT_ERR_UNSUPPORTED, "input '%s' has no shape", q);
  size_t rank = tt->shape->n_dim;
  if (rank < 1 || rank > ACTJIT_MAX_RANK)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "input '%s' has rank %zu; actjit reads ranks 1 to %d", q, rank, ACTJIT_MAX_RANK);
  int64_t dims[ACTJIT_MAX_RANK];
  for (size_t i = 0; i < rank; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    if (i == 0 && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && (r->flags & ACTJIT_ONNX_BATCH))
      dims[i] = ACTJIT_DYN;
    else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0) dims[i] = d->dim_value;
    else if (i == 0 && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) dims[i] = ACTJIT_DYN;
    else return fail(r, ACTJIT_ERR_UNSUPPORTED, "input '%s': dim %zu must be a size%s", q, i, i ? "" : " or the batch (dim_param)");
  }
  actjit_value v;
  entry *e = NULL;
  actjit_status st = built(r, actjit_graph_input(r->g, vi->name, (int)rank, dims, &v));
  if (!st) st = add_entry(r, vi->name, &e);
  if (!st) e->v = v;
  return st;
}

/* The output's declared shape, where it gives one, is the graph's. */
static actjit_status check_output(reader *r, const Onnx__ValueInfoProto *vi, actjit_value v) {
  const Onnx__TypeProto *tp = vi->type;
  const Onnx__TensorShapeProto *sp = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type
                                         ? tp->tensor_type->shape
                                         : NULL;
  char q[256];
  quote(vi->name, q, sizeof q);
  if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type &&
      tp->tensor_type->elem_type != T_FLOAT)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "output '%s' has element type %s; actjit computes float32",
                q, type_name(tp->tensor_type->elem_type));
  int rank;
  int64_t dims[ACTJIT_MAX_RANK];
  actjit_status st = shape_of(r, v, &rank, dims);
  if (st || !sp) return st;
  bool same = sp->n_dim == (size_t)rank;
  for (int i = 0; same && i < rank; i++)
    same = sp->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || dims[i] < 0 ||
           sp->dim[i]->dim_value == dims[i];
  if (!same)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "output '%s' is declared with rank %zu and other dims than the %d-D value actjit computes", q,
                sp->n_dim, rank);
  return ACTJIT_OK;
}

static actjit_status read_graph(reader *r, const Onnx__ModelProto *m) {
  const Onnx__GraphProto *gp = r->gp = m->graph;
  if (!gp) return fail(r, ACTJIT_ERR_VERIFY, "the model has no graph");
  bool found = false;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = m->opset_import[i]->domain ? m->opset_import[i]->domain : "";
    if (!*d || !strcmp(d, "ai.onnx")) r->opset = m->opset_import[i]->version, found = true;
  }
  if (!found) return fail(r, ACTJIT_ERR_UNSUPPORTED, "the model imports no opset of the default domain");
  if (r->opset < 1 || r->opset > OPSET_MAX)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "opset %lld of the default domain; actjit reads opsets 1 to %d",
                (long long)r->opset, OPSET_MAX);
  char q[256], q2[256];
  if (gp->n_output != 1)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "the graph has %zu outputs%s%s%s; actjit computes one", gp->n_output,
                gp->n_output ? " ('" : "", gp->n_output ? quote(gp->output[0]->name, q, sizeof q) : "",
                gp->n_output ? "', ...)" : "");
  actjit_status st = ACTJIT_OK;
  for (size_t i = 0; !st && i < gp->n_initializer; i++) {
    entry *e = NULL;
    const char *name = gp->initializer[i]->name;
    if (!name || !*name) st = fail(r, ACTJIT_ERR_VERIFY, "initializer %zu has no name", i);
    else if (find(r, name)) st = fail(r, ACTJIT_ERR_VERIFY, "initializer '%s' is defined twice", quote(name, q, sizeof q));
    else if (!(st = add_entry(r, name, &e))) e->init = gp->initializer[i];
  }
  /* Graph inputs: one is the pipeline's; older models list the initializers too. */
  const Onnx__ValueInfoProto *in = NULL;
  for (size_t i = 0; !st && i < gp->n_input; i++) {
    const char *name = gp->input[i]->name ? gp->input[i]->name : "";
    if (find(r, name) && find(r, name)->init) continue;
    if (in)
      st = fail(r, ACTJIT_ERR_UNSUPPORTED, "graph input '%s' is a second run-time input (after '%s'); actjit takes one",
                quote(name, q, sizeof q), quote(in->name, q2, sizeof q2));
    in = gp->input[i];
  }
  if (!st && !in) st = fail(r, ACTJIT_ERR_UNSUPPORTED, "the graph has no run-time input");
  if (!st) st = read_input(r, in);
  if (!st && !(r->done = calloc(gp->n_node + 1, sizeof *r->done))) st = fail(r, ACTJIT_ERR_NOMEM, "out of memory");
  for (size_t i = 0; !st && i < gp->n_node; i++) {
    if (r->done[i]) continue;
    r->node = i, r->np = gp->node[i];
    st = read_node(r);
    r->np = NULL;
  }
  if (st) return st;
  const char *oname = gp->output[0]->name ? gp->output[0]->name : "";
  entry *e = find(r, oname);
  if (!e || e->v == ACTJIT_NO_VALUE)
    return fail(r, ACTJIT_ERR_UNSUPPORTED, "output '%s' is not computed from the input", quote(oname, q, sizeof q));
  if ((st = built(r, actjit_graph_output(r->g, e->v)))) return st;
  if ((st = check_output(r, gp->output[0], e->v))) return st;
  return built(r, actjit_graph_verify(r->g));
}

bool onnx_detect(const void *bytes, size_t len) { return len >= 1 && ((const unsigned char *)bytes)[0] == 0x08; }

actjit_status actjit_graph_from_onnx(actjit_context *ctx, const void *bytes, size_t len, const char *path,
                                     unsigned flags, actjit_graph **out) {
  if (!ctx || (!bytes && len) || !out) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_from_onnx: NULL argument");
  *out = NULL;
  reader r = {.ctx = ctx, .file = path ? path : "<onnx>", .path = path, .flags = flags};
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, bytes);
  if (!m) return fail(&r, ACTJIT_ERR_PARSE, "not an ONNX model: the protobuf does not decode (truncated or corrupt)");
  actjit_status st = actjit_graph_create(ctx, &r.g);
  if (!st) st = read_graph(&r, m);
  for (size_t i = 0; i < r.n; i++) tensor_free(&r.e[i].t);
  free(r.e);
  free(r.done);
  onnx__model_proto__free_unpacked(m, NULL);
  if (st) {
    actjit_graph_destroy(r.g);
    return st;
  }
  *out = r.g;
  return ACTJIT_OK;
}

actjit_status actjit_graph_from_onnx_file(actjit_context *ctx, const char *path, unsigned flags, actjit_graph **out) {
  if (!ctx || !path || !out) return aj_error(ctx, ACTJIT_ERR_ARGUMENT, "actjit_graph_from_onnx_file: NULL argument");
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return aj_error(ctx, ACTJIT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
    close(fd);
    return aj_error(ctx, ACTJIT_ERR_IO, "%s: not a regular file", path);
  }
  /* protobuf caps a message at 2 GiB; larger weights are external data. */
  if (sb.st_size > INT_MAX) {
    close(fd);
    return aj_error(ctx, ACTJIT_ERR_VERIFY, "%s: %lld bytes, more than protobuf's 2 GiB", path, (long long)sb.st_size);
  }
  size_t len = (size_t)sb.st_size, got = 0;
  char *buf = malloc(len ? len : 1);
  if (!buf) {
    close(fd);
    return aj_error(ctx, ACTJIT_ERR_NOMEM, "%s: out of memory", path);
  }
  while (got < len) {
    ssize_t k = read(fd, buf + got, len - got);
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  actjit_status st = got == len ? actjit_graph_from_onnx(ctx, buf, len, path, flags, out)
                                : aj_error(ctx, ACTJIT_ERR_IO, "%s: read error", path);
  free(buf);
  return st;
}
