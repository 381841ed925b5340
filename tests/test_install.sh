#!/bin/sh
# Installs the build into a temporary prefix, then builds the README's
# embedding example against the installed tree three ways (the shared library
# linked as the README says for a prefix other than /usr/local, the static
# library, the CMake package), runs each as installed, without
# LD_LIBRARY_PATH, and checks what it prints against softmax computed here.
# Usage: test_install.sh SOURCE_DIR BUILD_DIR
set -eu
unset LD_LIBRARY_PATH
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# The example in the README is the file the test builds.
awk '/^<!-- embed-example -->/{f=1; next} f && /^```c/{g=1; next} g && /^```/{exit} g' "$src/README.md" > "$tmp/readme.c"
cmp "$tmp/readme.c" "$src/tests/embed/example.c" || { echo "README example differs from tests/embed/example.c"; exit 1; }
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
# `cc` below is the compiler of the build, $CC when CTest gives it: a
# sanitized library links only with its own compiler's runtime.
if [ -n "${CC:-}" ]; then
  mkdir "$tmp/bin" && printf '#!/bin/sh\nexec "%s" "$@"\n' "$CC" > "$tmp/bin/cc" && chmod +x "$tmp/bin/cc"
  PATH=$tmp/bin:$PATH
fi
# The README's line for another prefix, run as written: it records the
# library's folder in the program.
link='cc app.c $(pkg-config --cflags --libs actjit) -Wl,-rpath,$(pkg-config --variable=libdir actjit) -o app && ./app'
grep -qF "$link" "$src/README.md" || { echo "README lacks the line: $link"; exit 1; }
mkdir "$tmp/app"
cp "$src/tests/embed/example.c" "$tmp/app/app.c"
(cd "$tmp/app" && eval "$link") > "$tmp/app/out"
libdir=$(pkg-config --variable=libdir actjit)
# Static: the archive, then what pkg-config lists as its private dependencies.
cc -std=c11 "$src/tests/embed/example.c" $(pkg-config --cflags actjit) "$libdir/libactjit.a" \
  $(pkg-config --static --libs actjit | sed 's/-lactjit//') -o "$tmp/ex_static"
cmake -S "$src/tests/embed" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
# softmax([x0, x1 + 1]) for rows (1,2,3) and (4,5,6): logits (1,3) and (4,6).
expect=$(awk 'BEGIN { for (r = 0; r < 2; r++) { a = (r ? 4 : 1); b = (r ? 6 : 3);
  m = exp(a) + exp(b); printf "%.6f %.6f\n", exp(a) / m, exp(b) / m } }')
got=$(cat "$tmp/app/out")
[ "$got" = "$expect" ] || { echo "the README's app printed:"; echo "$got"; echo "expected:"; echo "$expect"; exit 1; }
for exe in "$tmp/ex_static" "$tmp/cm/example_cmake"; do
  got=$("$exe")
  [ "$got" = "$expect" ] || { echo "$exe printed:"; echo "$got"; echo "expected:"; echo "$expect"; exit 1; }
done
# The commands are installed, the benchmark the README's main job runs too.
"$tmp/prefix/bin/actjit" --version > /dev/null
"$tmp/prefix/bin/actjit-bench" --help > /dev/null
# The installed header compiles alone as C11 with strict warnings.
echo '#include <actjit.h>' | cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$tmp/prefix/include" -x c -fsyntax-only -
echo "1 passed, 0 failed"
