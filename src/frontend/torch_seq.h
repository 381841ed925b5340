/* The PyTorch reader: builds an actjit graph from the text `print(model)`
 * shows for an nn.Sequential, e.g.
 *
 *   Sequential(
 *     (0): Linear(in_features=784, out_features=128, bias=True)
 *     (1): ReLU()
 *     (2): Dropout(p=0.2, inplace=False)
 *     (3): Sequential(
 *       (0): Linear(in_features=128, out_features=10, bias=True)
 *       (1): Softmax(dim=1)
 *     )
 *   )
 *
 * Parameters are named as in the model's state_dict: the dotted path of
 * child keys then the tensor's name ("3.0.weight"), and the value of each
 * module after its path ("%3.0"; see name_value in torch_seq.c).  The graph is built
 * through the public builder API: input %x, every parameter in module order,
 * then one op a module.  Which modules are understood, and how their
 * arguments map onto op attributes, is a table in torch_seq.c.
 *
 * The print-out does not give the model's input shape, so the caller does:
 * in_dims[0] may be ACTJIT_DYN (the batch).  With in_rank 0 the reader takes
 * [N, in_features] from the first Linear, failing if there is none.
 *
 * Errors go to the context as one line naming the file and line:
 *   "model.txt:3: unsupported module 'BatchNorm1d'". */
#ifndef ACTJIT_FRONTEND_TORCH_SEQ_H
#define ACTJIT_FRONTEND_TORCH_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actjit.h"

/* True if `text` looks like a print-out: optional whitespace (and UTF-8
 * BOM), then `Sequential(`. */
bool torch_seq_detect(const char *text, size_t len);

/* True if `text` looks like the print-out of a custom module, `Name(` and
 * a child's `(key): ` line, Name not Sequential: its class name in name. */
bool torch_seq_custom_module(const char *text, size_t len, char *name, size_t cap);

/* Parses the print-out and builds a verified graph.  `filename` only labels
 * messages.  in_rank is 0 (derive, see above) or 1..ACTJIT_MAX_RANK. */
actjit_status torch_seq_parse(actjit_context *ctx, const char *text,
                              size_t len, const char *filename, int in_rank,
                              const int64_t *in_dims, actjit_graph **out);

/* The number of modules the reader supports and their PyTorch names, for
 * help texts and tests. */
int torch_seq_module_count(void);
const char *torch_seq_module_name(int i);

/* The line of the print-out's first Linear, whose in_features the reader
 * takes as the input's when in_rank is 0; 0 if it has none or does not
 * parse.  Reports nothing. */
int torch_seq_first_linear_line(const char *text, size_t len);

#endif
