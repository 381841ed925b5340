#!/bin/sh
# actjit bench: runs on textual IR and on a PyTorch print-out with its
# weights (the results were checked against the reference: exit status 0).
# The table's columns say their units; --json gives JSON Lines, one object a
# row, with the keys the README documents, and the README documents every key
# the output has.  The peers and ceilings: oneDNN timed where the build has
# it, else the column says so; no node, the ONNX Runtime column says so and
# nothing fails; --plot draws an SVG with gnuplot, or fails in one line and
# leaves no file.  Usage: test_bench.sh ACTJIT SOURCE_DIR ONEDNN(1|0)
set -eu
actjit=$1 src=$2 onednn=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$actjit" bench "$src/ir/mlp.air" --batch 1,3 --reps 1 --json > "$tmp/ir.json"
case_dir="$src/tests/torch_seq/seed"
"$actjit" bench "$case_dir/model.txt" --weights "$case_dir/weights.safetensors" --shape 5x784 --reps 1 --json > "$tmp/torch.json"
[ "$(wc -l < "$tmp/ir.json")" -eq 2 ] || { echo "expected 2 lines for 2 batch sizes"; cat "$tmp/ir.json"; exit 1; }
keys="model shape threads fused_us unfused_us reference_us memcpy_us speedup fused_gbs fused_gflops fused_peak_bytes
      unfused_peak_bytes max_rel_error compile_ms compile_phases_ms passes emit optimize codegen fused unfused fused_kernels
      unfused_kernels kernel us
      onednn onednn_us ort ort_us ort_overhead_us ort_run_us fma_peak_gflops clock_ghz weights_read_us weights_read_bytes
      weights_read_bytes_per_cycle"
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
# The ceilings are numbers; the weights' read at batch 1 only: 407080 bytes
# (the seed model's) in whole blocks of 8 vectors.
grep -q '"fma_peak_gflops": [0-9.]*, "clock_ghz": [0-9.]*, "weights_read_us": [0-9.]*, "weights_read_bytes": 407[0-9]*\.000, "weights_read_bytes_per_cycle": [0-9.]*}' "$tmp/ir.json" ||
  { echo "no ceilings at batch 1"; cat "$tmp/ir.json"; exit 1; }
[ "$(grep -c '"weights_read_us": null' "$tmp/ir.json")" -eq 1 ] || { echo "a weights read beyond batch 1"; cat "$tmp/ir.json"; exit 1; }
if [ "$onednn" = 1 ]; then
  [ "$(grep -c '"onednn": "oneDNN [0-9.]*", "onednn_us": [0-9.]*,' "$tmp/ir.json")" -eq 2 ] || { echo "oneDNN not timed"; cat "$tmp/ir.json"; exit 1; }
else
  grep -q '"onednn": "no oneDNN in this build", "onednn_us": null' "$tmp/ir.json" || { echo "oneDNN's absence not said"; exit 1; }
fi
# No node on the PATH, and a pipeline oneDNN cannot express: each says why.
PATH=/nonexistent "$actjit" bench "$src/ir/fc1.air" --batch 2 --reps 1 --json > "$tmp/fc1.json"
want='"ort": "no node (apt-get install nodejs npm)", "ort_us": null, "ort_overhead_us": null, "ort_run_us": null'
grep -qF "$want" "$tmp/fc1.json" || { echo "lacks $want"; cat "$tmp/fc1.json"; exit 1; }
# A node that exits after its first line: ONNX Runtime's column says it failed,
# the benchmark goes on (writing to the dead node raises no SIGPIPE).
mkdir "$tmp/bin"
printf '#!/bin/sh\necho "ok ONNX Runtime (a stand-in that exits)"\n' > "$tmp/bin/node"
chmod +x "$tmp/bin/node"
PATH="$tmp/bin:$PATH" "$actjit" bench "$src/ir/fc1.air" --batch 2,3 --reps 1 --json > "$tmp/dead.json"
[ "$(grep -c '"ort": "ONNX Runtime failed: node [^"]*", "ort_us": null' "$tmp/dead.json")" -eq 2 ] ||
  { echo "a node that died not reported"; cat "$tmp/dead.json"; exit 1; }
"$actjit" bench "$src/ir/residual.air" --batch 2 --reps 1 --json > "$tmp/residual.json"
want='"onednn": "the oneDNN runner takes a chain of ops: %x has 2 uses", "onednn_us": null'
[ "$onednn" = 1 ] || want='"onednn": "no oneDNN in this build", "onednn_us": null'
grep -qF "$want" "$tmp/residual.json" || { echo "lacks $want"; cat "$tmp/residual.json"; exit 1; }
# The table: units in the header, peak memory in KiB or MiB.
"$actjit" bench "$src/ir/mlp.air" --batch 2 --reps 1 > "$tmp/table.txt"
for col in "fused us" "unfused us" "ref us" "memcpy us" "fused GB/s" "fused GFLOP/s" "fused peak" "unfused peak" "max rel err"; do
  head -1 "$tmp/table.txt" | grep -q "$col" || { echo "table header lacks '$col'"; cat "$tmp/table.txt"; exit 1; }
done
sed -n 2p "$tmp/table.txt" | grep -Eq ' [0-9.]+ (KiB|MiB) +[0-9.]+ (KiB|MiB) ' || { echo "peak memory without units"; cat "$tmp/table.txt"; exit 1; }
# Under the row: a line for each peer and ceiling, with its unit.
for line in "^    oneDNN .* (us|no oneDNN)" "^    ONNX Runtime .* (us|no )" "^    FMA peak +[0-9.]+ GFLOP/s on 1 thread \\([0-9.]+ FMA/cycle"; do
  grep -Eq "$line" "$tmp/table.txt" || { echo "table lacks '$line'"; cat "$tmp/table.txt"; exit 1; }
done
# --plot: an SVG of every engine the run timed; an unwritable path fails in
# one line, exit status 4, no file.
"$actjit" bench "$src/ir/mlp.air" --batch 1,4 --reps 1 --plot "$tmp/chart.svg" > /dev/null
for text in "<svg" "ir/mlp.air" "actjit fused" "actjit unfused" "the FLOPs at the FMA peak"; do
  grep -qF "$text" "$tmp/chart.svg" || { echo "the chart lacks '$text'"; exit 1; }
done
[ "$onednn" = 0 ] || grep -q ">oneDNN<" "$tmp/chart.svg" || { echo "the chart lacks oneDNN"; exit 1; }
status=0
"$actjit" bench "$src/ir/mlp.air" --batch 1 --reps 1 --plot "$tmp/none/chart.svg" > /dev/null 2> "$tmp/err" || status=$?
[ $status = 4 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q "^actjit: bench: --plot $tmp/none/chart.svg: " "$tmp/err" &&
  [ ! -e "$tmp/none" ] || { echo "--plot to a missing folder: status $status"; cat "$tmp/err"; exit 1; }
# --threads 2: the kernels (checked against the reference again) on two threads.
"$actjit" bench "$src/ir/mlp.air" --batch 7 --reps 1 --threads 2 --json > "$tmp/threads.json"
grep -q '"threads": 2,' "$tmp/threads.json" || { echo "--threads 2 not reported"; cat "$tmp/threads.json"; exit 1; }
if "$actjit" bench "$src/ir/mlp.air" --threads 0 2> "$tmp/err"; then echo "--threads 0 accepted"; exit 1; fi
grep -q "threads 0" "$tmp/err" || { cat "$tmp/err"; exit 1; }
echo "1 passed, 0 failed"
