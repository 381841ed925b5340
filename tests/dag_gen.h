/* Random graphs for differential tests: a DAG of elementwise ops (every
 * unary and binary op of the op table, random attributes in sane ranges),
 * linears, flatten and unsqueeze views, transposes, batched matmuls, glu
 * and softmax-like ops over one batched input,
 * written as textual IR.  Header-only and deterministic: the same seed (or
 * the same fuzz bytes) gives the same text on every machine.
 *
 *   char text[DAG_GEN_MAX_TEXT];
 *   size_t n = dag_gen(seed, text, sizeof text);          // 0 if it did not fit
 *   size_t m = dag_gen_bytes(data, size, text, sizeof text);  // a fuzzer's bytes
 *
 * What the graphs hold: values of rank 1..6 led by the batch N; binary ops
 * between two values that broadcast (`[N, 1]` against `[N, 5]`), or a value
 * and a parameter, a constant (`f32[C]`, `[1, C]`, `[C, 1]`, `f32[]`, some
 * holding NaN, ±Inf, ±0) or a literal scalar, on either side, some making
 * the result larger than the value; values used several times; prelu with
 * one weight or one per channel; linears whose outputs an elementwise chain
 * adds back to a value (the residual `x + relu(linear(x))`); two linears of
 * one input meeting in a binary op (SwiGLU); dropout and identity (removed
 * in inference); flatten views, some folding the batch (N*k), and
 * unsqueezes; transposes of the dims after the batch; matmuls by a
 * batched weight whose batch dims are 1, equal to the value's, or larger
 * against its 1s; sometimes a softmax, softmin or log_softmax at the end or
 * in the middle.  Every graph
 * verifies; a graph that would not is never written. */
#ifndef ACTJIT_DAG_GEN_H
#define ACTJIT_DAG_GEN_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum {
  DAG_GEN_MAX_TEXT = 1 << 16, /* room for any graph dag_gen writes */
  DAG_MAX_VALUES = 96,
  DAG_ROW_MAX = 1024, /* largest value, in floats a batch row */
  DAG_MAX_RANK = 6,   /* ACTJIT_MAX_RANK */
};

/* Where the choices come from: xorshift from a seed, or a fuzzer's bytes
 * (four at a time; once they run out, xorshift seeded by a hash of them). */
typedef struct dag_src {
  uint64_t state;
  const uint8_t *data;
  size_t size, pos;
} dag_src;

static inline uint64_t dag_next(dag_src *s) {
  if (s->data && s->pos < s->size) {
    uint64_t v = 0;
    for (int i = 0; i < 4 && s->pos < s->size; i++) v = v << 8 | s->data[s->pos++];
    return v;
  }
  if (s->data) { /* FNV-1a of the bytes */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < s->size; i++) h = (h ^ s->data[i]) * 0x100000001b3ull;
    *s = (dag_src){.state = h ? h : 1};
  }
  /* xorshift64*, seeded through splitmix64 so that nearby seeds differ */
  s->state ^= s->state >> 12, s->state ^= s->state << 25, s->state ^= s->state >> 27;
  return s->state * 0x2545F4914F6CDD1Dull;
}
static inline uint64_t dag_splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
static inline dag_src dag_seeded(uint64_t seed) {
  uint64_t s = dag_splitmix(seed);
  return (dag_src){.state = s ? s : 1};
}
/* Uniform in [0, n), n > 0. */
static inline int dag_below(dag_src *s, int n) { return (int)(dag_next(s) % (uint64_t)n); }
/* True with probability pct/100. */
static inline bool dag_chance(dag_src *s, int pct) { return dag_below(s, 100) < pct; }
#define DAG_PICK(s, arr) ((arr)[dag_below((s), (int)(sizeof(arr) / sizeof *(arr)))])

/* ---- data: ordinary values and the special ones (±0, ±Inf, NaN, ±1e30,
 * denormals, exact small integers) */

static const float dag_specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 1e-40f, -1e-40f,
                                     1e-45f, -3e-39f, 88.75f, -88.75f, 1.0f, -1.0f, 2.0f, 0.5f, -3.0f, 1e10f, -1e-20f};

/* n floats: uniform in [-scale, scale), one in `special_every` (0: none) a
 * special value. */
static inline void dag_fill(dag_src *s, float *p, size_t n, float scale, int special_every) {
  for (size_t i = 0; i < n; i++) {
    float u = (float)((dag_next(s) >> 40) * 0x1p-24) * 2 - 1;
    p[i] = scale * u;
    if (special_every && dag_below(s, special_every) == 0) p[i] = DAG_PICK(s, dag_specials);
  }
}

/* ---- the generator */

typedef struct dag_shape {
  int rank;
  bool dyn;      /* d[0] is a multiple of the batch: N*d[0] */
  int64_t d[DAG_MAX_RANK];
} dag_shape;

typedef struct dag_value {
  char name[16];
  dag_shape s;
  int uses;
} dag_value;

/* The text comes in sections, the input and parameters first, then the
 * constants, then the ops: the graph is generated once per section from
 * the same choices, each time writing only the lines of that section. */
enum { DAG_DECLS, DAG_CONSTS, DAG_OPS };

typedef struct dag_gen_state {
  dag_src *src;
  char *buf;
  size_t len, pos;
  bool full;
  int writing, section; /* the section being written, and that of the line at hand */
  dag_value v[DAG_MAX_VALUES];
  int nv, nparams, nconsts;
} dag_gen_state;

static inline void dag_emit(dag_gen_state *g, const char *fmt, ...) {
  if (g->section != g->writing) return;
  va_list ap;
  va_start(ap, fmt);
  int k = g->full ? -1 : vsnprintf(g->buf + g->pos, g->len - g->pos, fmt, ap);
  va_end(ap);
  if (k < 0 || (size_t)k >= g->len - g->pos) g->full = true;
  else g->pos += (size_t)k;
}

static inline void dag_emit_shape(dag_gen_state *g, const dag_shape *s) {
  dag_emit(g, "f32[");
  for (int i = 0; i < s->rank; i++) {
    if (i == 0 && s->dyn) dag_emit(g, s->d[0] == 1 ? "N" : "N*%lld", (long long)s->d[0]);
    else dag_emit(g, "%s%lld", i ? ", " : "", (long long)s->d[i]);
  }
  dag_emit(g, "]");
}

/* A float as the IR reads it back exactly. */
static inline void dag_emit_float(dag_gen_state *g, float v) {
  if (isnan(v)) dag_emit(g, "nan");
  else if (isinf(v)) dag_emit(g, v < 0 ? "-inf" : "inf");
  else dag_emit(g, "%.9g", (double)v);
}

static inline int64_t dag_row(const dag_shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++) n *= s->d[i];
  return n;
}

/* NumPy broadcasting with the batch leading (ir.c's shape_broadcast). */
static inline bool dag_broadcast(const dag_shape *a, const dag_shape *b, dag_shape *out) {
  const dag_shape *big = a->rank >= b->rank ? a : b, *small = big == a ? b : a;
  if (small->dyn && small->rank < big->rank) return false;
  *out = *big;
  for (int i = 1; i <= small->rank; i++) {
    int64_t *d = &out->d[big->rank - i], e = small->d[small->rank - i];
    bool bdyn = big->dyn && i == big->rank, sdyn = small->dyn && i == small->rank;
    if (bdyn || sdyn) {
      if (bdyn && sdyn ? *d != e : bdyn ? e != 1 : *d != 1) return false;
      *d = bdyn ? *d : e;
      out->dyn = true;
    } else if (*d == 1) {
      *d = e;
    } else if (e != 1 && e != *d) {
      return false;
    }
  }
  return true;
}

/* A value's index after the op that defined it is written. */
static inline int dag_new_value(dag_gen_state *g, const dag_shape *s) {
  dag_value *v = &g->v[g->nv];
  snprintf(v->name, sizeof v->name, "v%d", g->nv);
  v->s = *s;
  v->uses = 0;
  return g->nv++;
}

/* An operand: the newest value most often, else any earlier one (values
 * with several uses). */
static inline int dag_pick_value(dag_gen_state *g) {
  return dag_chance(g->src, 55) ? g->nv - 1 : dag_below(g->src, g->nv);
}

static inline void dag_use(dag_gen_state *g, int v) {
  g->v[v].uses++;
  dag_emit(g, "%%%s", g->v[v].name);
}

/* A new parameter or constant of shape s declared; its operand text in
 * `ref`.  Constants hold ordinary values and some special ones; exponents
 * of pow (`for_pow`) are the ones pow treats specially and a few others. */
static inline void dag_declare(dag_gen_state *g, const dag_shape *s, bool constant, bool for_pow, char ref[16]) {
  if (!constant) {
    snprintf(ref, 16, "@p%d", g->nparams++);
    g->section = DAG_DECLS;
    dag_emit(g, "param %s : ", ref);
    dag_emit_shape(g, s);
    dag_emit(g, "\n");
    g->section = DAG_OPS;
    return;
  }
  snprintf(ref, 16, "%%k%d", g->nconsts++);
  g->section = DAG_CONSTS;
  dag_emit(g, "const %s : ", ref);
  dag_emit_shape(g, s);
  dag_emit(g, " = [");
  static const float exponents[] = {2, 3, -1, -2, 0.5f, 1.5f, 0, 1, -0.5f, 4, -3, 2.5f};
  for (int64_t i = 0, n = dag_row(s); i < n; i++) {
    float v;
    if (for_pow) v = DAG_PICK(g->src, exponents);
    else if (dag_chance(g->src, 15)) v = DAG_PICK(g->src, dag_specials);
    else dag_fill(g->src, &v, 1, 4, 0);
    dag_emit(g, i ? ", " : "");
    dag_emit_float(g, v);
  }
  dag_emit(g, "]\n");
  g->section = DAG_OPS;
}

/* The other operand of a binary op on a value of shape s: written to
 * `ref`, its shape to *os (rank 0 for a scalar). */
static inline bool dag_other_operand(dag_gen_state *g, const dag_shape *s, bool pow_exponent, char ref[16],
                                     dag_shape *os, int *value) {
  dag_src *r = g->src;
  *value = -1;
  int kind = dag_below(r, 100);
  if (kind < 30) { /* another value that broadcasts against this one */
    int cand[DAG_MAX_VALUES], n = 0;
    dag_shape out;
    for (int i = 0; i < g->nv; i++)
      if (dag_broadcast(s, &g->v[i].s, &out) && dag_row(&out) <= DAG_ROW_MAX) cand[n++] = i;
    if (n) {
      *value = cand[dag_below(r, n)];
      *os = g->v[*value].s;
      snprintf(ref, 16, "%%%s", g->v[*value].name);
      return true;
    }
  }
  if (kind < 55) { /* a literal scalar */
    static const float literals[] = {0.5f, 2, -1, 3, 0, -0.0f, 1e30f, INFINITY, -2.5f, 1e-40f, NAN, 0.25f};
    static const float exponents[] = {2, 3, -1, -2, 0.5f, 1.5f, 0, 1, -0.5f};
    float v = pow_exponent ? DAG_PICK(r, exponents) : DAG_PICK(r, literals);
    *os = (dag_shape){0};
    if (isnan(v)) snprintf(ref, 16, "nan");
    else if (isinf(v)) snprintf(ref, 16, v < 0 ? "-inf" : "inf");
    else snprintf(ref, 16, "%.9g", (double)v);
    return true;
  }
  /* A parameter or constant: the trailing dims of s, each the same, 1, or
   * where s has 1, larger (the result grows); the batch's place is 1. */
  dag_shape p = {0};
  int k = dag_below(r, s->rank + 1);
  bool constant = dag_chance(r, 50);
  if (k == 0 && !constant) k = 1;
  p.rank = k;
  for (int i = 1; i <= k; i++) {
    int sd = s->rank - i;
    int64_t e = s->d[sd];
    if (sd == 0 && s->dyn) e = 1;
    else if (e == 1 && dag_chance(r, 40)) e = DAG_PICK(r, ((const int64_t[]){2, 3, 5, 8, 17}));
    else if (dag_chance(r, 25)) e = 1;
    p.d[k - i] = e;
  }
  dag_shape out;
  if (!dag_broadcast(s, &p, &out) || dag_row(&out) > DAG_ROW_MAX) p = (dag_shape){.rank = constant ? 0 : 1, .d = {1}};
  if (constant && dag_row(&p) > 64) constant = false; /* the text stays short */
  if (p.rank == 0 && !constant) p = (dag_shape){.rank = 1, .d = {1}};
  dag_declare(g, &p, constant, pow_exponent, ref);
  *os = p;
  return true;
}

static const char *const dag_unary_ops[] = {
    "relu", "sigmoid", "tanh", "leaky_relu", "elu", "celu", "selu", "gelu", "silu", "mish",
    "hardsigmoid", "hardswish", "hardtanh", "relu6", "softplus", "softsign", "tanhshrink", "threshold",
    "logsigmoid", "hardshrink", "softshrink", "rrelu", "exp", "neg", "abs", "sqrt", "reciprocal", "erf", "log",
    "clip", "dropout", "identity",
};
static const char *const dag_binary_ops[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow"};

/* The attributes of unary op `op`, " {...}" or "". */
static inline void dag_emit_attrs(dag_gen_state *g, const char *op) {
  dag_src *r = g->src;
#define DAG_IS(name) (!strcmp(op, name))
  if (DAG_IS("leaky_relu")) dag_emit(g, " {negative_slope = %g}", DAG_PICK(r, ((const double[]){0.01, 0.2, 0, -0.5, 1.5, 1})));
  else if (DAG_IS("elu")) dag_emit(g, " {alpha = %g}", DAG_PICK(r, ((const double[]){1, 0.5, 2, -1})));
  else if (DAG_IS("celu")) dag_emit(g, " {alpha = %g}", DAG_PICK(r, ((const double[]){1, 0.5, 3, -2})));
  else if (DAG_IS("gelu")) dag_emit(g, " {approximate = %d}", dag_below(r, 2));
  else if (DAG_IS("hardtanh")) {
    double lo = DAG_PICK(r, ((const double[]){-1, -2, -0.5, 0, 0.25}));
    dag_emit(g, " {min_val = %g, max_val = %g}", lo, lo + DAG_PICK(r, ((const double[]){0.5, 1, 2, 6})));
  } else if (DAG_IS("softplus"))
    dag_emit(g, " {beta = %g, threshold = %g}", DAG_PICK(r, ((const double[]){1, 2, 0.5, 3})),
             DAG_PICK(r, ((const double[]){20, 5, 10, 1})));
  else if (DAG_IS("threshold"))
    dag_emit(g, " {threshold = %g, value = %g}", DAG_PICK(r, ((const double[]){0.5, -1, 0, 2})),
             DAG_PICK(r, ((const double[]){-3, 0, 2, 0.5})));
  else if (DAG_IS("hardshrink") || DAG_IS("softshrink"))
    dag_emit(g, " {lambd = %g}", DAG_PICK(r, ((const double[]){0.5, 0, 1.5, 0.25})));
  else if (DAG_IS("rrelu"))
    dag_emit(g, " {lower = %g, upper = %g}", DAG_PICK(r, ((const double[]){0.125, 0.1, 0})),
             DAG_PICK(r, ((const double[]){0.3333333333333333, 0.3, 0.5})));
  else if (DAG_IS("clip")) /* min > max sometimes: the result is max */
    dag_emit(g, " {min = %g, max = %g}", DAG_PICK(r, ((const double[]){-1, 0, -0.5, 2, -3})),
             DAG_PICK(r, ((const double[]){1, 0.5, 3, -1, 0})));
  else if (DAG_IS("dropout")) dag_emit(g, " {p = %g}", DAG_PICK(r, ((const double[]){0.5, 0.2, 0, 1})));
#undef DAG_IS
}

static inline int dag_unary(dag_gen_state *g, int x) {
  const char *op = DAG_PICK(g->src, dag_unary_ops);
  int y = dag_new_value(g, &g->v[x].s);
  dag_emit(g, "%%%s = %s ", g->v[y].name, op);
  dag_use(g, x);
  dag_emit_attrs(g, op);
  dag_emit(g, "\n");
  return y;
}

/* op(x, other) or op(other, x); -1 if nothing fits. */
static inline int dag_binary(dag_gen_state *g, int x, const char *op) {
  dag_src *r = g->src;
  if (!op) op = DAG_PICK(r, dag_binary_ops);
  bool is_pow = !strcmp(op, "pow");
  char ref[16];
  dag_shape os, out;
  int other;
  bool x_first = !dag_chance(r, is_pow ? 10 : 30);
  /* pow's exponent is mostly a scalar or small tensor of the special ones */
  if (!dag_other_operand(g, &g->v[x].s, is_pow && x_first, ref, &os, &other)) return -1;
  if (!dag_broadcast(&g->v[x].s, &os, &out)) return -1;
  int y = dag_new_value(g, &out);
  dag_emit(g, "%%%s = %s ", g->v[y].name, op);
  if (!x_first) dag_emit(g, "%s, ", ref);
  dag_use(g, x);
  if (x_first) dag_emit(g, ", %s", ref);
  if (other >= 0) g->v[other].uses++;
  dag_emit(g, "\n");
  return y;
}

static inline void dag_emit_linear_params(dag_gen_state *g, int64_t out, int64_t in, bool bias, char w[16],
                                          char b[16]) {
  g->section = DAG_DECLS;
  snprintf(w, 16, "@p%d", g->nparams++);
  dag_emit(g, "param %s : f32[%lld, %lld]\n", w, (long long)out, (long long)in);
  b[0] = 0;
  if (bias) {
    snprintf(b, 16, "@p%d", g->nparams++);
    dag_emit(g, "param %s : f32[%lld]\n", b, (long long)out);
  }
  g->section = DAG_OPS;
}

static inline int dag_linear_of(dag_gen_state *g, int x, int64_t out, bool bias) {
  char w[16], b[16];
  dag_shape s = g->v[x].s;
  dag_emit_linear_params(g, out, s.d[s.rank - 1], bias, w, b);
  s.d[s.rank - 1] = out;
  int y = dag_new_value(g, &s);
  dag_emit(g, "%%%s = linear ", g->v[y].name);
  dag_use(g, x);
  dag_emit(g, ", %s%s%s\n", w, b[0] ? ", " : "", b);
  return y;
}

static inline bool dag_linear_ok(const dag_shape *s) { return s->rank >= 2 && s->d[s->rank - 1] <= 64; }

static const int64_t dag_features[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 24, 33, 64, 65};

static inline bool dag_fits(const dag_shape *s, int64_t last) {
  dag_shape t = *s;
  t.d[t.rank - 1] = last;
  return dag_row(&t) <= DAG_ROW_MAX;
}

/* A linear, alone, with a residual (x + act(linear(x))), or two of one
 * input meeting in a binary op (act(linear(x, Wg)) * linear(x, Wu)). */
static inline int dag_linear(dag_gen_state *g, int x) {
  dag_src *r = g->src;
  const dag_shape *s = &g->v[x].s;
  int64_t k = s->d[s->rank - 1], out = DAG_PICK(r, dag_features);
  if (!dag_fits(s, out)) out = 1;
  int form = dag_below(r, 100);
  if (form < 30 && dag_fits(s, k)) { /* residual */
    int h = dag_linear_of(g, x, k, dag_chance(r, 70));
    if (dag_chance(r, 80)) h = dag_unary(g, h);
    int y = dag_new_value(g, &g->v[h].s);
    bool x_first = dag_chance(r, 50);
    dag_emit(g, "%%%s = %s ", g->v[y].name, dag_chance(r, 75) ? "add" : DAG_PICK(r, dag_binary_ops));
    dag_use(g, x_first ? x : h);
    dag_emit(g, ", ");
    dag_use(g, x_first ? h : x);
    dag_emit(g, "\n");
    return y;
  }
  if (form < 55) { /* two linears of one input */
    bool bias = dag_chance(r, 40);
    int gate = dag_linear_of(g, x, out, bias), up = dag_linear_of(g, x, out, dag_chance(r, 80) ? bias : !bias);
    int act = dag_chance(r, 60) ? gate : -1;
    if (act >= 0) { /* silu mostly (SwiGLU), any unary op else */
      int y = dag_new_value(g, &g->v[gate].s);
      const char *op = dag_chance(r, 60) ? "silu" : DAG_PICK(r, dag_unary_ops);
      dag_emit(g, "%%%s = %s ", g->v[y].name, op);
      dag_use(g, gate);
      dag_emit_attrs(g, op);
      dag_emit(g, "\n");
      act = y;
    } else {
      act = gate;
    }
    int y = dag_new_value(g, &g->v[act].s);
    dag_emit(g, "%%%s = %s ", g->v[y].name, dag_chance(r, 60) ? "mul" : DAG_PICK(r, dag_binary_ops));
    bool gate_first = dag_chance(r, 70);
    dag_use(g, gate_first ? act : up);
    dag_emit(g, ", ");
    dag_use(g, gate_first ? up : act);
    dag_emit(g, "\n");
    return y;
  }
  return dag_linear_of(g, x, out, dag_chance(r, 70));
}

static inline int dag_prelu(dag_gen_state *g, int x) {
  const dag_shape *s = &g->v[x].s;
  int64_t c = s->rank >= 2 && dag_chance(g->src, 70) ? s->d[1] : 1;
  char w[16];
  snprintf(w, sizeof w, "@p%d", g->nparams++);
  g->section = DAG_DECLS;
  dag_emit(g, "param %s : f32[%lld]\n", w, (long long)c);
  g->section = DAG_OPS;
  int y = dag_new_value(g, s);
  dag_emit(g, "%%%s = prelu ", g->v[y].name);
  dag_use(g, x);
  dag_emit(g, ", %s\n", w);
  return y;
}

static inline int dag_flatten(dag_gen_state *g, int x) {
  dag_src *r = g->src;
  const dag_shape *s = &g->v[x].s;
  if (s->rank < 2) return -1;
  /* start_dim 0 folds the batch (N*k) now and then */
  int lo = dag_chance(r, 15) ? 0 : 1 + dag_below(r, s->rank - 1), hi = lo + dag_below(r, s->rank - lo);
  dag_shape t = {.rank = s->rank - (hi - lo), .dyn = s->dyn};
  for (int i = 0, k = 0; i < s->rank; i++) {
    if (i > lo && i <= hi) t.d[k - 1] *= s->d[i];
    else t.d[k++] = s->d[i];
  }
  if (t.dyn && t.d[0] == 0) return -1; /* folded to a static [0]: a corner of its own */
  int y = dag_new_value(g, &t);
  dag_emit(g, "%%%s = flatten ", g->v[y].name);
  dag_use(g, x);
  /* the same dims, counted from the front or the back */
  dag_emit(g, " {start_dim = %d, end_dim = %d}\n", dag_chance(r, 50) ? lo : lo - s->rank,
           dag_chance(r, 50) ? hi : hi - s->rank);
  return y;
}

static inline int dag_softmax(dag_gen_state *g, int x) {
  dag_src *r = g->src;
  static const char *const ops[] = {"softmax", "softmax", "softmin", "log_softmax"};
  const dag_shape *s = &g->v[x].s;
  int dim = dag_chance(r, 60) ? s->rank - 1 : dag_below(r, s->rank);
  int y = dag_new_value(g, s);
  dag_emit(g, "%%%s = %s ", g->v[y].name, DAG_PICK(r, ops));
  dag_use(g, x);
  dag_emit(g, " {dim = %d}\n", dag_chance(r, 50) ? dim : dim - s->rank);
  return y;
}

static inline int dag_glu(dag_gen_state *g, int x) {
  const dag_shape *s = &g->v[x].s;
  int dims[DAG_MAX_RANK], n = 0;
  for (int d = 0; d < s->rank; d++)
    if (s->d[d] % 2 == 0 && s->d[d] > 0) dims[n++] = d;
  if (!n) return -1;
  int d = dims[dag_below(g->src, n)];
  dag_shape t = *s;
  t.d[d] /= 2;
  int y = dag_new_value(g, &t);
  dag_emit(g, "%%%s = glu ", g->v[y].name);
  dag_use(g, x);
  dag_emit(g, " {dim = %d}\n", d);
  return y;
}

/* The dims after the batch in another order, counted from the front or
 * the back. */
static inline int dag_transpose(dag_gen_state *g, int x) {
  dag_src *r = g->src;
  const dag_shape *s = &g->v[x].s;
  int perm[DAG_MAX_RANK];
  for (int i = 0; i < s->rank; i++) perm[i] = i;
  for (int i = s->rank - 1; i > 1; i--) { /* Fisher-Yates over [1, rank) */
    int j = 1 + dag_below(r, i), t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
  dag_shape t = *s;
  for (int i = 0; i < s->rank; i++) t.d[i] = s->d[perm[i]];
  int y = dag_new_value(g, &t);
  dag_emit(g, "%%%s = transpose ", g->v[y].name);
  dag_use(g, x);
  for (int i = 0; i < s->rank; i++)
    dag_emit(g, "%s%d", i ? ", " : " {perm = [", dag_chance(r, 70) ? perm[i] : perm[i] - s->rank);
  dag_emit(g, "]}\n");
  return y;
}

/* A dim of 1 anywhere after the batch. */
static inline int dag_unsqueeze(dag_gen_state *g, int x) {
  const dag_shape *s = &g->v[x].s;
  if (s->rank == DAG_MAX_RANK) return -1;
  int d = 1 + dag_below(g->src, s->rank);
  dag_shape t = {.rank = s->rank + 1, .dyn = s->dyn};
  for (int i = 0, k = 0; i < t.rank; i++) t.d[i] = i == d ? 1 : s->d[k++];
  int y = dag_new_value(g, &t);
  dag_emit(g, "%%%s = unsqueeze ", g->v[y].name);
  dag_use(g, x);
  dag_emit(g, " {dim = %d}\n", dag_chance(g->src, 50) ? d : d - t.rank);
  return y;
}

/* x [N, ..., M, K] times a parameter [..., K, P] of rank 3 up to x's: its
 * batch dims 1, x's, or larger where x's is 1; never the batch's. */
static inline int dag_matmul(dag_gen_state *g, int x) {
  dag_src *r = g->src;
  const dag_shape *s = &g->v[x].s;
  if (s->rank < 3) return -1;
  dag_shape w = {.rank = 3 + dag_below(r, s->rank - 2)}, t = *s;
  for (int i = 1; i <= w.rank - 2; i++) {
    int sd = s->rank - 2 - i;
    int64_t e = s->d[sd];
    if (sd == 0) e = 1;
    else if (e == 1 && dag_chance(r, 40)) e = dag_chance(r, 50) ? 2 : 3;
    else if (dag_chance(r, 40)) e = 1;
    w.d[w.rank - 2 - i] = e;
    if (e != 1) t.d[sd] = e;
  }
  int64_t p = DAG_PICK(r, dag_features);
  t.d[t.rank - 1] = p;
  if (dag_row(&t) > DAG_ROW_MAX) t.d[t.rank - 1] = p = 1;
  if (dag_row(&t) > DAG_ROW_MAX) return -1;
  w.d[w.rank - 2] = s->d[s->rank - 1], w.d[w.rank - 1] = p;
  char ref[16];
  dag_declare(g, &w, false, false, ref);
  int y = dag_new_value(g, &t);
  dag_emit(g, "%%%s = matmul ", g->v[y].name);
  dag_use(g, x);
  dag_emit(g, ", %s\n", ref);
  return y;
}

/* n unary ops in a row: chains longer than a kernel holds. */
static inline int dag_chain(dag_gen_state *g, int x, int n) {
  for (int i = 0; i < n && g->nv < DAG_MAX_VALUES - 8; i++) x = dag_unary(g, x);
  return x;
}

/* x folded with up to n other values by binary ops: kernels reading many
 * tensors. */
static inline int dag_fan_in(dag_gen_state *g, int x, int n) {
  for (int i = 0; i < n && g->nv < DAG_MAX_VALUES - 8; i++) {
    int v = dag_below(g->src, g->nv);
    dag_shape out;
    if (v == x || !dag_broadcast(&g->v[x].s, &g->v[v].s, &out) || dag_row(&out) > DAG_ROW_MAX) continue;
    int y = dag_new_value(g, &out);
    dag_emit(g, "%%%s = %s ", g->v[y].name, DAG_PICK(g->src, dag_binary_ops));
    dag_use(g, x);
    dag_emit(g, ", ");
    dag_use(g, v);
    dag_emit(g, "\n");
    x = y;
  }
  return x;
}

/* The input's shape: [N, ...], the last dim around the vector widths. */
static inline dag_shape dag_input_shape(dag_src *r) {
  static const int64_t last[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 24, 31, 33, 40};
  static const int64_t inner[] = {1, 2, 3, 4, 5, 1, 2, 3};
  dag_shape s = {.rank = 1 + dag_below(r, 4), .dyn = true, .d = {1}};
  if (s.rank == 1 && dag_chance(r, 60)) s.rank = 2; /* [N] alone is rare: no linear takes it */
  for (int i = 1; i < s.rank; i++) s.d[i] = i == s.rank - 1 ? DAG_PICK(r, last) : DAG_PICK(r, inner);
  if (s.rank > 1 && dag_chance(r, 2)) s.d[s.rank - 1] = 0; /* an empty row */
  return s;
}

/* One pass of the generator, writing section g->writing. */
static inline void dag_gen_pass(dag_gen_state *g0) {
  dag_gen_state g = *g0;
  dag_src *r = g.src;
  dag_shape in = dag_input_shape(r);
  dag_value *x = &g.v[g.nv++];
  snprintf(x->name, sizeof x->name, "x");
  x->s = in;
  g.section = DAG_DECLS;
  dag_emit(&g, "input %%x : ");
  dag_emit_shape(&g, &in);
  dag_emit(&g, "\n");
  g.section = DAG_OPS;
  /* Mostly small graphs (one kernel or a few), some longer than a kernel holds. */
  int nops = dag_chance(r, 80) ? 1 + dag_below(r, 12) : 12 + dag_below(r, 30);
  int y = 0;
  for (int i = 0; i < nops && g.nv < DAG_MAX_VALUES - 8 && !g.full; i++) {
    int a = dag_pick_value(&g), kind = dag_below(r, 100), z = -1;
    const dag_shape *s = &g.v[a].s;
    if (kind < 37) z = dag_unary(&g, a);
    else if (kind < 68) z = dag_binary(&g, a, NULL);
    else if (kind < 80 && dag_linear_ok(s)) z = dag_linear(&g, a);
    else if (kind < 85) z = dag_prelu(&g, a);
    else if (kind < 89) z = dag_flatten(&g, a);
    else if (kind < 92) z = dag_transpose(&g, a);
    else if (kind < 93) z = dag_unsqueeze(&g, a);
    else if (kind < 94) z = dag_matmul(&g, a);
    else if (kind < 96) z = dag_glu(&g, a);
    else if (kind < 97) z = dag_softmax(&g, a);
    else if (kind < 98) z = dag_chain(&g, a, 8 + dag_below(r, 33));
    else z = dag_fan_in(&g, a, 3 + dag_below(r, 9));
    if (z >= 0) y = z;
  }
  /* Values nothing uses join the result now and then, so more of the
   * graph stays live. */
  for (int v = 1; v < g.nv && g.nv < DAG_MAX_VALUES - 2 && !g.full; v++) {
    dag_shape out;
    if (v == y || g.v[v].uses || !dag_chance(r, 50)) continue;
    if (!dag_broadcast(&g.v[y].s, &g.v[v].s, &out) || dag_row(&out) > DAG_ROW_MAX) continue;
    int z = dag_new_value(&g, &out);
    dag_emit(&g, "%%%s = %s ", g.v[z].name, DAG_PICK(r, dag_binary_ops));
    dag_use(&g, y);
    dag_emit(&g, ", ");
    dag_use(&g, v);
    dag_emit(&g, "\n");
    y = z;
  }
  if (y == 0) y = dag_unary(&g, 0); /* the output is computed by an op */
  if (dag_chance(r, 25) && g.nv < DAG_MAX_VALUES) y = dag_softmax(&g, y);
  dag_emit(&g, "output %%%s\n", g.v[y].name);
  g0->pos = g.pos, g0->full = g.full;
}

static inline size_t dag_gen_from(dag_src *r, char *buf, size_t len) {
  dag_gen_state g = {.buf = buf, .len = len, .full = !len};
  dag_src start = *r;
  for (g.writing = DAG_DECLS; g.writing <= DAG_OPS; g.writing++) {
    *r = start;
    g.src = r;
    dag_gen_pass(&g);
  }
  return g.full ? 0 : g.pos;
}

/* The graph of a seed. */
static inline size_t dag_gen(uint64_t seed, char *buf, size_t len) {
  dag_src r = dag_seeded(seed);
  return dag_gen_from(&r, buf, len);
}

/* The graph a fuzzer's bytes choose. */
static inline size_t dag_gen_bytes(const uint8_t *data, size_t size, char *buf, size_t len) {
  dag_src r = {.data = data && size ? data : (const uint8_t *)"", .size = data ? size : 0};
  return dag_gen_from(&r, buf, len);
}

#endif
