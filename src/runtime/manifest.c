/* The manifest of a disk cache entry: what the runtime needs of a compiled
 * pipeline to bind and run it without its graph.  Every integer is 8 bytes
 * little-endian, every string its length then its bytes.  Reading checks
 * each count and kind against what the runtime can index; the entry's
 * checksum (cache_disk.c) is what tells a damaged one apart. */
#include <stdlib.h>
#include <string.h>

#include "runtime/cache.h"

void bytes_put(bytes *b, const void *data, size_t len) {
  if (b->failed || !len) return;
  if (len > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < len) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, len);
  b->len += len;
}

void bytes_put_u64(bytes *b, uint64_t v) {
  unsigned char le[8];
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)(v >> 8 * i);
  bytes_put(b, le, sizeof le);
}

void bytes_put_str(bytes *b, const char *s) {
  bytes_put_u64(b, strlen(s));
  bytes_put(b, s, strlen(s));
}

const void *read_bytes(reader *r, size_t len) {
  if (r->bad || (size_t)(r->end - r->p) < len) {
    r->bad = true;
    return NULL;
  }
  const void *p = r->p;
  r->p += len;
  return p;
}

uint64_t read_u64(reader *r) {
  const unsigned char *p = read_bytes(r, 8);
  uint64_t v = 0;
  for (int i = 0; p && i < 8; i++) v |= (uint64_t)p[i] << 8 * i;
  return v;
}

/* An integer in [lo, hi]. */
static int64_t read_int(reader *r, int64_t lo, int64_t hi) {
  int64_t v = (int64_t)read_u64(r);
  if (v >= lo && v <= hi) return v;
  r->bad = true;
  return lo;
}

char *read_str(reader *r) {
  uint64_t n = read_u64(r);
  const char *p = n <= (uint64_t)(r->end - r->p) ? read_bytes(r, (size_t)n) : NULL;
  char *s = p && !memchr(p, 0, (size_t)n) ? aj_strndup(p, (size_t)n) : NULL;
  if (!s) r->bad = true;
  return s;
}

/* Bounds of what a plan holds: extents of tensors and offsets into
 * scratch (floats), kernels, parameters. */
#define SIZE_LIMIT (INT64_MAX / 8)
enum { COUNT_LIMIT = 1 << 20 };

static void put_shape(bytes *b, const shape *s) {
  bytes_put_u64(b, (uint64_t)s->rank);
  bytes_put_u64(b, s->dyn);
  for (int i = 0; i < ACTJIT_MAX_RANK; i++) bytes_put_u64(b, (uint64_t)s->d[i]);
}

static void read_shape(reader *r, shape *s) {
  s->rank = (int)read_int(r, 0, ACTJIT_MAX_RANK);
  s->dyn = read_int(r, 0, 1);
  for (int i = 0; i < ACTJIT_MAX_RANK; i++) s->d[i] = read_int(r, 0, SIZE_LIMIT);
}

static void put_buffer(bytes *b, const buffer *f) {
  int64_t v[] = {f->kind, f->id, f->off_dyn, f->off_static, f->size.mul, f->size.dyn};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) bytes_put_u64(b, (uint64_t)v[i]);
}

static void read_buffer(reader *r, buffer *f) {
  f->kind = (buf_kind)read_int(r, BUF_INPUT, BUF_BLOCK);
  f->id = (int)read_int(r, -1, COUNT_LIMIT);
  f->off_dyn = read_int(r, 0, SIZE_LIMIT);
  f->off_static = read_int(r, 0, SIZE_LIMIT);
  f->size.mul = read_int(r, 0, SIZE_LIMIT);
  f->size.dyn = read_int(r, 0, 1);
}

void manifest_write(bytes *b, const compiled *c) {
  const plan *p = &c->plan;
  bytes_put_str(b, c->ir_dump);
  bytes_put_str(b, c->passes_dump);
  put_shape(b, &c->in_shape);
  put_shape(b, &c->out_shape);
  bytes_put_u64(b, (uint64_t)c->nparams);
  for (int i = 0; i < c->nparams; i++) {
    bytes_put_str(b, c->params[i].name);
    put_shape(b, &c->params[i].shape);
    bytes_put_u64(b, (uint64_t)c->params[i].linears);
  }
  bytes_put_u64(b, (uint64_t)p->n);
  for (int i = 0; i < p->n; i++) {
    const step *s = &p->steps[i];
    const slicing *sl = &c->slicing[i];
    bytes_put_str(b, c->step_names[i]);
    bytes_put_u64(b, (uint64_t)s->grp.nins);
    for (int j = 0; j < s->grp.nins; j++) put_buffer(b, &s->in[j]);
    put_buffer(b, &s->out);
    bytes_put_u64(b, sl->by_rows);
    for (int j = 0; j < GROUP_MAX_INS; j++) bytes_put_u64(b, (uint64_t)sl->row_in[j]);
    bytes_put_u64(b, (uint64_t)sl->row_out);
    bytes_put_u64(b, (uint64_t)c->panels[i]);
  }
  int64_t sizes[] = {p->scratch_dyn, p->scratch_static, p->block_rows, p->block_row_floats, p->nruns};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) bytes_put_u64(b, (uint64_t)sizes[i]);
  for (int i = 0; i < p->nruns; i++) {
    bytes_put_u64(b, (uint64_t)p->runs[i].first);
    bytes_put_u64(b, (uint64_t)p->runs[i].last);
  }
}

bool manifest_read(reader *r, compiled *c) {
  plan *p = &c->plan;
  c->ir_dump = read_str(r);
  c->passes_dump = read_str(r);
  read_shape(r, &c->in_shape);
  read_shape(r, &c->out_shape);
  int nparams = (int)read_int(r, 0, COUNT_LIMIT);
  if (r->bad || !(c->params = calloc((size_t)nparams + 1, sizeof *c->params))) return false;
  for (c->nparams = 0; !r->bad && c->nparams < nparams; c->nparams++) {
    rt_param *q = &c->params[c->nparams];
    q->name = read_str(r);
    read_shape(r, &q->shape);
    q->linears = (int)read_int(r, 0, 2);
    /* a packed weight is a matrix */
    if (q->linears && q->shape.rank != 2) r->bad = true;
  }
  int n = (int)read_int(r, 0, COUNT_LIMIT);
  if (r->bad || !(p->steps = calloc((size_t)n + 1, sizeof *p->steps)) ||
      !(c->slicing = calloc((size_t)n + 1, sizeof *c->slicing)) ||
      !(c->panels = calloc((size_t)n + 1, sizeof *c->panels)) ||
      !(c->step_names = calloc((size_t)n + 1, sizeof *c->step_names)))
    return false;
  for (p->n = 0; !r->bad && p->n < n; p->n++) {
    step *s = &p->steps[p->n];
    slicing *sl = &c->slicing[p->n];
    c->step_names[p->n] = read_str(r);
    s->grp.nins = (int)read_int(r, 0, GROUP_MAX_INS);
    for (int j = 0; j < s->grp.nins; j++) read_buffer(r, &s->in[j]);
    read_buffer(r, &s->out);
    sl->by_rows = read_int(r, 0, 1);
    for (int j = 0; j < GROUP_MAX_INS; j++) sl->row_in[j] = read_int(r, 0, SIZE_LIMIT);
    sl->row_out = read_int(r, 0, SIZE_LIMIT);
    c->panels[p->n] = read_int(r, 1, SIZE_LIMIT);
  }
  p->scratch_dyn = read_int(r, 0, SIZE_LIMIT);
  p->scratch_static = read_int(r, 0, SIZE_LIMIT);
  p->block_rows = read_int(r, 0, SIZE_LIMIT);
  p->block_row_floats = read_int(r, 0, SIZE_LIMIT);
  int nruns = (int)read_int(r, 0, n);
  /* a run divides the batch into blocks of rows, a multiple of 16 (plan_block_rows) */
  if (r->bad || (nruns && (!p->block_rows || p->block_rows % 16))) return false;
  if (!(p->runs = calloc((size_t)nruns + 1, sizeof *p->runs))) return false;
  for (p->nruns = 0; !r->bad && p->nruns < nruns; p->nruns++) {
    block_run *b = &p->runs[p->nruns];
    b->first = (int)read_int(r, 0, n - 1);
    b->last = (int)read_int(r, b->first, n - 1);
  }
  return !r->bad;
}
