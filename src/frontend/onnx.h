/* The ONNX reader: a ModelProto (decoded by protobuf-c, from C generated at
 * build time from Debian's onnx.proto) turned into an actjit graph through
 * the public builder API, its initializers into parameters that hold their
 * values.  The public entry points are actjit_graph_from_onnx and
 * actjit_graph_from_onnx_file (include/actjit.h); which ONNX ops map onto
 * which actjit ops is a table in onnx.c.
 *
 * A model file is untrusted input: external data is read only from regular
 * files inside the model's folder (no absolute `location`, no `..`, no
 * symlink leading out), and every offset and length is checked against the
 * file before it is read. */
#ifndef ACTJIT_FRONTEND_ONNX_H
#define ACTJIT_FRONTEND_ONNX_H

#include <stdbool.h>
#include <stddef.h>

#include "actjit.h"

/* True if `bytes` look like an ONNX model: a ModelProto starts with its
 * ir_version, field 1 as a varint (the byte 0x08), which no text starts with. */
bool onnx_detect(const void *bytes, size_t len);

/* The number of ONNX op types the reader supports and their names, for
 * help texts and tests. */
int onnx_op_count(void);
const char *onnx_op_name(int i);

#endif
