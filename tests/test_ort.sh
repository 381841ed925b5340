#!/bin/sh
# ONNX Runtime in the benchmark (registered where node and bench/node_modules/
# onnxruntime-node are installed): the ort keys are numbers and ONNX Runtime's
# output agreed with the reference (else the column would say it disagrees);
# the script alone, without the package beside it, says what to install.
# Usage: test_ort.sh ACTJIT SOURCE_DIR
set -eu
actjit=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for threads in 1 2; do
  "$actjit" bench "$src/ir/mlp.air" --batch 1,3 --reps 1 --threads $threads --json > "$tmp/ort.json"
  [ "$(grep -c '"ort": "ONNX Runtime [0-9.]*", "ort_us": [0-9.]*, "ort_overhead_us": [0-9.]*, "ort_run_us": [0-9.]*,' "$tmp/ort.json")" -eq 2 ] ||
    { echo "ONNX Runtime not timed on $threads thread(s)"; cat "$tmp/ort.json"; exit 1; }
done
# An ONNX model: ONNX Runtime runs that file, with its own weights.
"$actjit" bench "$src/tests/onnx/cases/tutorial_op17.onnx" --batch 1,3 --reps 1 --json > "$tmp/model.json"
[ "$(grep -c '"ort": "ONNX Runtime [0-9.]*", "ort_us": [0-9.]*, "ort_overhead_us": [0-9.]*, "ort_run_us": [0-9.]*,' "$tmp/model.json")" -eq 2 ] ||
  { echo "ONNX Runtime did not time the ONNX model"; cat "$tmp/model.json"; exit 1; }
# No export: the column says so.
cp "$src/ir/mlp.air" "$tmp/no_export.air"
"$actjit" bench "$tmp/no_export.air" --batch 2 --reps 1 --json > "$tmp/none.json"
grep -q '"ort": "no ONNX export bench/onnx/no_export.onnx (bench/onnx_export.py makes it)", "ort_us": null' "$tmp/none.json" ||
  { echo "a missing export not reported"; cat "$tmp/none.json"; exit 1; }
# The script where require() finds no onnxruntime-node.
cp "$src/bench/ort_bench.js" "$tmp/"
node "$tmp/ort_bench.js" "$src/bench/onnx/mlp.onnx" "$tmp" 1 < /dev/null > "$tmp/reply"
grep -q '^error no onnxruntime-node (npm install --prefix bench --no-save --ignore-scripts onnxruntime-node@' "$tmp/reply" ||
  { echo "no message without the package"; cat "$tmp/reply"; exit 1; }
echo "1 passed, 0 failed"
