/* Exit statuses of actjit and actjit-bench: the class of the failure, so that
 * scripts can tell a bad model from a missing file or an unsupported CPU.
 * The numbers are stable; `actjit --help` prints them (the table in
 * actjit.c) and the README lists them. */
#ifndef ACTJIT_CLI_EXIT_CODES_H
#define ACTJIT_CLI_EXIT_CODES_H

#include "actjit.h"
#include "io/io_error.h"

enum {
  EXIT_OK = 0,
  EXIT_INTERNAL = 1, /* an internal error (LLVM failed) or any other failure */
  EXIT_USAGE = 2,    /* the command line */
  EXIT_INVALID = 3,  /* invalid model or input: syntax, shapes, weights, a file of the wrong format */
  EXIT_IO = 4,       /* a file that cannot be opened, read or written */
  EXIT_NOMEM = 5,    /* out of memory */
  EXIT_UNSUPPORTED = 6, /* unsupported CPU or CPU feature, or a valid model actjit cannot compile */
  EXIT_MISMATCH = 7, /* bench: a kernel disagrees with the scalar reference */
};

/* The exit status for a failed library call. */
static inline int exit_for_status(actjit_status s) {
  switch (s) {
  case ACTJIT_OK: return EXIT_OK;
  case ACTJIT_ERR_ARGUMENT: /* from the CLI: an input shape the model cannot take */
  case ACTJIT_ERR_PARSE:
  case ACTJIT_ERR_VERIFY:
  case ACTJIT_ERR_WEIGHTS: return EXIT_INVALID;
  case ACTJIT_ERR_IO: return EXIT_IO;
  case ACTJIT_ERR_NOMEM: return EXIT_NOMEM;
  case ACTJIT_ERR_TARGET:
  case ACTJIT_ERR_UNSUPPORTED: return EXIT_UNSUPPORTED;
  case ACTJIT_ERR_LLVM: break;
  }
  return EXIT_INTERNAL;
}

/* The exit status for a failed .npy or safetensors read or write. */
static inline int exit_for_io(int rc) {
  return rc == IO_NOMEM ? EXIT_NOMEM : rc == IO_SYSTEM ? EXIT_IO : rc ? EXIT_INVALID : EXIT_OK;
}

#endif
