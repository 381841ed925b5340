#!/bin/bash
# The op table's promise: an op added to src/ir/ops.h without its behaviour
# fails the build.  Each library source is compiled with one more table row
# (ops.h: ACTJIT_TEST_UNHANDLED_OP, an elementwise op nothing handles, and
# ACTJIT_TEST_UNHANDLED_KIND, an op of a new kind); every switch that decides
# per op or per kind must then report the new enumerator (-Wswitch, an error
# in the real build: -Werror=switch), i.e. none of them has a default that
# would swallow it.  The expected count per file is the number of such
# switches in it.
# Usage: test_op_table.sh CC SOURCE_DIR FLAGS...
set -u
cc=$1 src=$2
shift 2
flags=("$@")
cd "$src" || exit 1
# "file:count" for each file with unhandled enumerators, given one more define.
unhandled() {
  for f in $(find src -name '*.c' -not -path 'src/cli/*' | sort); do
    out=$("$cc" -std=c11 -fsyntax-only -Wswitch "${flags[@]}" "$@" "$f" 2>&1) || { echo "$f:does-not-compile"; continue; }
    n=$(printf '%s\n' "$out" | grep -c "not handled in switch")
    [ "$n" -gt 0 ] && echo "$f:$n"
  done | tr '\n' ' '
}
status=0
check() { # DEFINE EXPECTED
  got=$(unhandled ${1:+"-D$1"})
  if [ "$got" != "$2" ]; then
    echo "${1:-no extra op}: unhandled in [$got], expected [$2]"
    status=1
  fi
}
# Control: every switch is complete without the extra row.
check "" ""
# Per op: codegen's emitter and latency class, the scalar definition, the
# verifier's attribute checks, value ranges' bounds, monotonicity and
# interval arithmetic.
check ACTJIT_TEST_UNHANDLED_OP "src/codegen/eltwise.c:2 src/ir/scalar.c:1 src/ir/verify.c:1 src/passes/value_range.c:3 "
# Per kind as well: the group grammar (which the verifier, the fusion passes,
# the planner and codegen share), the verifier's dispatch, value ranges,
# batch slicing, the reference's dispatch.
check ACTJIT_TEST_UNHANDLED_KIND "src/codegen/eltwise.c:2 src/ir/group.c:2 src/ir/scalar.c:1 src/ir/verify.c:2 src/passes/value_range.c:4 src/plan/slicing.c:1 src/reference/reference.c:1 "
[ $status = 0 ] && echo "1 passed, 0 failed"
exit $status
