#!/bin/sh
# actjit bench: runs on textual IR and on a PyTorch print-out with its
# weights (the results were checked against the reference: exit status 0).
# The table's columns say their units; --json gives JSON Lines, one object a
# row, with the keys the README documents, and the README documents every key
# the output has.  Usage: test_bench.sh ACTJIT SOURCE_DIR
set -eu
actjit=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$actjit" bench "$src/ir/mlp.air" --batch 1,3 --reps 1 --json > "$tmp/ir.json"
case_dir="$src/tests/torch_seq/seed"
"$actjit" bench "$case_dir/model.txt" --weights "$case_dir/weights.safetensors" --shape 5x784 --reps 1 --json > "$tmp/torch.json"
[ "$(wc -l < "$tmp/ir.json")" -eq 2 ] || { echo "expected 2 lines for 2 batch sizes"; cat "$tmp/ir.json"; exit 1; }
keys="model shape threads fused_us unfused_us reference_us memcpy_us speedup fused_gbs fused_gflops fused_peak_bytes
      unfused_peak_bytes max_rel_error compile_ms compile_phases_ms passes emit optimize codegen fused unfused fused_kernels
      unfused_kernels kernel us"
for key in $keys; do
  for f in "$tmp/ir.json" "$tmp/torch.json"; do
    grep -q "\"$key\": " "$f" || { echo "$f lacks \"$key\""; cat "$f"; exit 1; }
  done
done
# No other keys, and every one of them in the README's table of them.
awk '/^`--json` writes JSON Lines/ { f = 1 } f && /^\|/ { t = 1; print; next } t { exit }' "$src/README.md" > "$tmp/readme_keys"
for key in $(grep -o '"[a-z_]*": ' "$tmp/ir.json" "$tmp/torch.json" | sed 's/.*"\([a-z_]*\)": /\1/' | sort -u); do
  echo " $keys " | tr '\n' ' ' | grep -q " $key " || { echo "undocumented key \"$key\""; exit 1; }
  grep -q "^| [^|]*\`$key\`" "$tmp/readme_keys" || { echo "README's JSON table lacks \`$key\`"; exit 1; }
done
grep -q '"compile_ms": {"fused": [0-9.]*, "unfused": [0-9.]*}' "$tmp/ir.json" || { echo "compile_ms is not an object"; cat "$tmp/ir.json"; exit 1; }
phases='\{"passes": [0-9.]+, "emit": [0-9.]+, "optimize": [0-9.]+, "codegen": [0-9.]+\}'
grep -Eq "\"compile_phases_ms\": \{\"fused\": $phases, \"unfused\": $phases\}" "$tmp/ir.json" ||
  { echo "compile_phases_ms is not an object of phases"; cat "$tmp/ir.json"; exit 1; }
grep -q '"shape": \[5, 784\]' "$tmp/torch.json" || { echo "--shape not honoured"; cat "$tmp/torch.json"; exit 1; }
# The table: units in the header, peak memory in KiB or MiB.
"$actjit" bench "$src/ir/mlp.air" --batch 2 --reps 1 > "$tmp/table.txt"
for col in "fused us" "unfused us" "ref us" "memcpy us" "fused GB/s" "fused GFLOP/s" "fused peak" "unfused peak" "max rel err"; do
  head -1 "$tmp/table.txt" | grep -q "$col" || { echo "table header lacks '$col'"; cat "$tmp/table.txt"; exit 1; }
done
sed -n 2p "$tmp/table.txt" | grep -Eq ' [0-9.]+ (KiB|MiB) +[0-9.]+ (KiB|MiB) ' || { echo "peak memory without units"; cat "$tmp/table.txt"; exit 1; }
# --threads 2: the kernels (checked against the reference again) on two threads.
"$actjit" bench "$src/ir/mlp.air" --batch 7 --reps 1 --threads 2 --json > "$tmp/threads.json"
grep -q '"threads": 2,' "$tmp/threads.json" || { echo "--threads 2 not reported"; cat "$tmp/threads.json"; exit 1; }
if "$actjit" bench "$src/ir/mlp.air" --threads 0 2> "$tmp/err"; then echo "--threads 0 accepted"; exit 1; fi
grep -q "threads 0" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "1 passed, 0 failed"
