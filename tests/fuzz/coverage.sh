#!/bin/sh
# Line and region coverage of the source each fuzz target drives, from
# replaying a corpus (all six targets by default):
#
#   tests/fuzz/coverage.sh [TARGET...]
#
# Builds the targets in $BUILD (default build-fuzz-cov) with
# -fprofile-instr-generate -fcoverage-mapping, replays each input of
# $CORPUS/TARGET (default build-fuzz/fuzz/corpus, what run.sh grew) or, if
# there is none, of the committed tests/fuzz/corpus/TARGET (if one crashes,
# all again, each in a process of its own: a crash loses its profile), then
# prints llvm-cov's report for that target's sources.
set -eu
cd "$(dirname "$0")/../.."
targets=${*:-fuzz_ir_parse fuzz_torch_seq fuzz_npy fuzz_safetensors fuzz_onnx fuzz_diff fuzz_dag}
build=${BUILD:-build-fuzz-cov}
corpus=${CORPUS:-build-fuzz/fuzz/corpus}

[ -f "$build/CMakeCache.txt" ] ||
  CC=clang-19 cmake -S . -B "$build" -DACTJIT_FUZZ=ON -DACTJIT_TESTS=OFF \
    -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" >/dev/null
cmake --build "$build" -j2 --target $targets

for t in $targets; do
  case $t in
  fuzz_ir_parse) sources="src/frontend/parse.c src/ir/print.c" ;;
  fuzz_torch_seq) sources="src/frontend/torch_seq.c" ;;
  fuzz_npy) sources="src/io/npy.c" ;;
  fuzz_safetensors) sources="src/io/safetensors.c" ;;
  fuzz_onnx) sources="src/frontend/onnx.c" ;;
  fuzz_diff | fuzz_dag) sources="src/passes src/plan src/codegen src/runtime/kernel.c" ;;
  *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  inputs=$corpus/$t
  [ -d "$inputs" ] && [ -n "$(ls -A "$inputs")" ] || inputs=tests/fuzz/corpus/$t
  prof=$build/profiles/$t
  rm -rf "$prof" && mkdir -p "$prof"
  if ! LLVM_PROFILE_FILE="$prof/%p.profraw" "$build/tests/fuzz/$t" -runs=0 "$inputs" >/dev/null 2>&1; then
    rm -f "$prof"/*.profraw # an input crashed: one process an input
    for f in "$inputs"/*; do
      LLVM_PROFILE_FILE="$prof/%p.profraw" "$build/tests/fuzz/$t" "$f" >/dev/null 2>&1 || echo "$t: $f fails"
    done
  fi
  llvm-profdata-19 merge -sparse "$prof"/*.profraw -o "$prof.profdata"
  echo "== $t: $(ls "$inputs" | wc -l) inputs of $inputs"
  llvm-cov-19 report "$build/tests/fuzz/$t" -instr-profile="$prof.profdata" $sources
done
