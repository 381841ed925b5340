#!/bin/sh
# actjit bench: runs on textual IR and on a PyTorch print-out with its
# weights, and --json gives one object per line with the documented keys
# (the fused result was checked against the reference: exit status 0).
# Usage: test_bench.sh ACTJIT SOURCE_DIR
set -eu
actjit=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$actjit" bench "$src/ir/mlp.air" --batch 1,3 --reps 1 --json > "$tmp/ir.json"
case_dir="$src/tests/torch_seq/seed"
"$actjit" bench "$case_dir/model.txt" --weights "$case_dir/weights.safetensors" --shape 5x784 --reps 1 --json > "$tmp/torch.json"
[ "$(wc -l < "$tmp/ir.json")" -eq 2 ] || { echo "expected 2 lines for 2 batch sizes"; cat "$tmp/ir.json"; exit 1; }
for key in model shape threads fused_us unfused_us memcpy_us fused_peak_bytes unfused_peak_bytes fused_kernels; do
  for f in "$tmp/ir.json" "$tmp/torch.json"; do
    grep -q "\"$key\": " "$f" || { echo "$f lacks \"$key\""; cat "$f"; exit 1; }
  done
done
grep -q '"shape": \[5, 784\]' "$tmp/torch.json" || { echo "--shape not honoured"; cat "$tmp/torch.json"; exit 1; }
# --threads 2: the kernels (checked against the reference again) on two threads.
"$actjit" bench "$src/ir/mlp.air" --batch 7 --reps 1 --threads 2 --json > "$tmp/threads.json"
grep -q '"threads": 2,' "$tmp/threads.json" || { echo "--threads 2 not reported"; cat "$tmp/threads.json"; exit 1; }
if "$actjit" bench "$src/ir/mlp.air" --threads 0 2> "$tmp/err"; then echo "--threads 0 accepted"; exit 1; fi
grep -q "threads 0" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "1 passed, 0 failed"
