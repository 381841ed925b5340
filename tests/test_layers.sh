#!/bin/sh
# The folder listing is the pipeline, and a layer never includes a higher
# one: each folder of src/ may include only the folders listed for it here
# (public actjit.h and system headers aside).  Usage: test_layers.sh SOURCE_DIR
set -u
cd "$1/src" || exit 1
allowed() {
  case $1 in
  ir) echo "ir" ;;
  io) echo "io" ;;
  frontend) echo "ir frontend" ;;     # front ends build graphs
  target) echo "ir target" ;;        # what the code is generated for
  passes) echo "ir target passes" ;;  # IR to IR
  plan) echo "ir target plan" ;;      # kernels and buffers of a graph
  codegen) echo "ir target plan codegen" ;; # a plan to LLVM IR
  jit) echo "ir target jit" ;;        # LLVM IR to code
  reference) echo "ir reference" ;;   # the scalar oracle
  runtime) echo "ir target passes plan codegen jit runtime" ;;
  cli) echo "ir io frontend target jit reference runtime cli" ;; # jit: the benchmark's ceilings (ceilings.c)
  *) echo "?" ;;
  esac
}
status=0
for f in $(find . -name '*.[ch]' | sort); do
  layer=$(echo "$f" | cut -d/ -f2)
  ok=$(allowed "$layer")
  for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
    case $inc in
    */*) dir=${inc%%/*} ;;
    *) continue ;; # actjit.h, generated target_names.h
    esac
    case " $ok " in
    *" $dir "*) ;;
    *) echo "$f (layer $layer) includes $inc"; status=1 ;;
    esac
  done
done
[ $status = 0 ] && echo "1 passed, 0 failed"
exit $status
