#!/bin/sh
# Fuzzes each target for MINUTES minutes, one after the other (all six by
# default):
#
#   tests/fuzz/run.sh MINUTES [TARGET...]
#
# Builds the targets in $BUILD (default build-fuzz: clang-19, ASan + UBSan)
# first.  Each target's corpus grows in $BUILD/fuzz/corpus/TARGET, seeded
# from tests/fuzz/corpus/TARGET (which is never written); its log is
# $BUILD/fuzz/TARGET.log, and a crash or failed check is saved as
# $BUILD/fuzz/TARGET-crash-*, replayable with `$BUILD/tests/fuzz/TARGET FILE`.
# Prints each target's executions and exec/s; exits 1 if any target crashed.
set -eu
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 MINUTES [TARGET...]" >&2; exit 2; }
minutes=$1
shift
targets=${*:-fuzz_ir_parse fuzz_torch_seq fuzz_npy fuzz_safetensors fuzz_onnx fuzz_diff fuzz_dag}
build=${BUILD:-build-fuzz}

[ -f "$build/CMakeCache.txt" ] || CC=clang-19 cmake -S . -B "$build" -DACTJIT_FUZZ=ON -DACTJIT_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target $targets

status=0
for t in $targets; do
  mkdir -p "$build/fuzz/corpus/$t"
  log=$build/fuzz/$t.log
  echo "$t: $minutes min, log $log"
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
  if ! "$build/tests/fuzz/$t" $dict -max_total_time=$((minutes * 60)) -timeout=60 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz/$t-" "$build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    status=1
    echo "$t: FAILED, see $log and $build/fuzz/$t-*"
  fi
  sed -n 's/^stat::number_of_executed_units: */  executions: /p; s/^stat::average_exec_per_sec: */  exec\/s: /p' "$log"
done
exit $status
