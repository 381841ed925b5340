#!/bin/sh
# The committed ONNX exports in bench/onnx are what bench/onnx_export.py
# makes of their pipelines, byte for byte (registered where /usr/bin/python3
# has torch and onnx).  Usage: test_onnx_export.sh PYTHON ACTJIT SOURCE_DIR
set -eu
python=$1 actjit=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
for f in bench/onnx/*.onnx; do
  stem=$(basename "$f" .onnx)
  if [ "$stem" = identity ]; then
    "$python" bench/onnx_export.py --identity -o "$tmp/$stem.onnx" 2> /dev/null
  else
    "$python" bench/onnx_export.py "ir/$stem.air" --actjit "$actjit" -o "$tmp/$stem.onnx" 2> /dev/null
  fi
  cmp "$f" "$tmp/$stem.onnx" || { echo "$f is not what bench/onnx_export.py makes"; exit 1; }
done
echo "1 passed, 0 failed"
