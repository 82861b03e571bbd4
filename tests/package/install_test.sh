#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then programs outside the tree are configured, built
# and run against it (tests/package: consumer.cpp, examples/tail.cpp and seed.cpp): with
# find_package(Hyperspace CONFIG), with pkg-config in CMake, and with pkg-config on a plain
# compiler command line. Each links the installed libhyperspace-client and, with no daemon on its
# socket, must fail with the client's "no Hyperspace daemon answers" error. Also checks what the
# library exports (only hyperspace::).
#
#     install_test.sh BUILD_DIR SOURCE_DIR
# Environment (tests/CMakeLists.txt): HS_CMAKE, HS_CXX, HS_GENERATOR, HS_VERSION.
set -euo pipefail
build=$1
src=$2
cmake=${HS_CMAKE:-cmake}
cxx=${HS_CXX:-c++}
generator=${HS_GENERATOR:-Ninja}
version=${HS_VERSION:?}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
step() { echo "install_test: $*"; }

prefix=$tmp/prefix
step "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }

libdir=
for d in lib lib64 lib/*-linux-gnu; do
  if [ -e "$prefix/$d/libhyperspace-client.so" ]; then libdir=$d; break; fi
done
[ -n "$libdir" ] || fail "no libhyperspace-client.so under $prefix/lib*"
for f in bin/hyperspace bin/hyp \
         "$libdir/libhyperspace-client.so" "$libdir/libhyperspace-client.so.0" \
         "$libdir/libhyperspace-client.so.$version" \
         include/hyperspace/client.h include/hyperspace/export.h include/hyperspace/asio.h \
         "$libdir/cmake/Hyperspace/HyperspaceConfig.cmake" \
         "$libdir/cmake/Hyperspace/HyperspaceConfigVersion.cmake" \
         "$libdir/cmake/Hyperspace/HyperspaceTargets.cmake" \
         "$libdir/pkgconfig/hyperspace-client.pc" \
         share/man/man1/hyperspace.1.gz share/man/man1/hyp.1.gz \
         lib/systemd/user/hyperspace.service; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
grep -qx "ExecStart=$prefix/bin/hyperspace" "$prefix/lib/systemd/user/hyperspace.service" ||
  fail "the unit does not start $prefix/bin/hyperspace: $(grep ExecStart "$prefix/lib/systemd/user/hyperspace.service")"
[ "$("$prefix/bin/hyperspace" --version)" = "$version" ] || fail "installed hyperspace --version"
[ "$("$prefix/bin/hyp" --version)" = "$version" ] || fail "installed hyp --version"

lib=$prefix/$libdir/libhyperspace-client.so
step "the library's name and exports"
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = "libhyperspace-client.so.0" ] || fail "SONAME is '$soname', expected libhyperspace-client.so.0"
nm -D --defined-only "$lib" | awk '{ $1 = ""; $2 = ""; sub(/^  /, ""); print }' | c++filt > "$tmp/exports"
grep -q '^hyperspace::Client::Client(hyperspace::Endpoint const&' "$tmp/exports" || fail "Client is not exported"
grep -qx 'typeinfo for hyperspace::Error@@HYPERSPACE_CLIENT_0' "$tmp/exports" ||
  fail "the type information of hyperspace::Error is not exported"
if grep -vE '^((typeinfo (name )?for |vtable for )?hyperspace::|HYPERSPACE_CLIENT_0$)' "$tmp/exports" \
    > "$tmp/stray"; then
  head -n 20 "$tmp/stray" >&2
  fail "the library exports $(wc -l < "$tmp/stray") symbols outside hyperspace:: (above)"
fi
if grep -q '^hyperspace::detail::' "$tmp/exports"; then fail "hyperspace::detail is exported"; fi
step "$(wc -l < "$tmp/exports") exported symbols, all in hyperspace::"

# TMPDIR holds the client's socket folder: nothing listens in this fresh one.
export TMPDIR=$tmp
expect_no_daemon() {  # PROGRAM NAME ARGS...: must exit 1 with the client's error
  local what=$1 rc=0; shift
  "$@" > "$tmp/out" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$tmp/out" >&2; fail "$what exited $rc, expected 1"; }
  grep -q "no Hyperspace daemon answers at $tmp/nosuch.sock" "$tmp/out" ||
    { cat "$tmp/out" >&2; fail "$what did not report the missing daemon"; }
  step "$what: $(head -n1 "$tmp/out")"
}
uses_installed_lib() {  # PROGRAM: resolves libhyperspace-client.so.0 to the installed one
  ldd "$1" > "$tmp/ldd"  # not piped into grep -q: its early exit would fail ldd (pipefail)
  grep -q "libhyperspace-client.so.0 => $prefix/$libdir/libhyperspace-client.so.0" "$tmp/ldd" ||
    { cat "$tmp/ldd" >&2; fail "$1 does not load $prefix/$libdir/libhyperspace-client.so.0"; }
}

key=$(printf 'b%.0s' $(seq 64))
for mode in cmake pkg-config; do
  out=$tmp/consumer-$mode
  step "out-of-tree build with HS_FIND=$mode"
  PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig "$cmake" -S "$src/tests/package" -B "$out" \
    -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" \
    -DHS_FIND="$mode" -DHS_EXAMPLES_DIR="$src/examples" > "$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log"; fail "configure with HS_FIND=$mode"; }
  "$cmake" --build "$out" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build with HS_FIND=$mode"; }
  uses_installed_lib "$out/consumer"
  expect_no_daemon "consumer ($mode)" "$out/consumer" nosuch
  expect_no_daemon "examples/tail ($mode)" "$out/tail" --host nosuch "$key"
  expect_no_daemon "examples/seed ($mode)" "$out/seed" --host nosuch block
done

step "plain compiler command line with pkg-config"
flags=$(PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig pkg-config --cflags --libs hyperspace-client) ||
  fail "pkg-config hyperspace-client"
# shellcheck disable=SC2086
"$cxx" -std=c++20 -o "$tmp/consumer-cc" "$src/tests/package/consumer.cpp" $flags ||
  fail "c++ \$(pkg-config --cflags --libs hyperspace-client)"
LD_LIBRARY_PATH=$prefix/$libdir uses_installed_lib "$tmp/consumer-cc"
LD_LIBRARY_PATH=$prefix/$libdir expect_no_daemon "consumer (c++ command line)" "$tmp/consumer-cc" nosuch

step "the installed package is relocatable: moved, pkg-config and find_package follow it"
mv "$prefix" "$tmp/moved"
prefix=$tmp/moved
got=$(PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig pkg-config --variable=libdir hyperspace-client)
[ "$(realpath "$got")" = "$(realpath "$prefix/$libdir")" ] || fail "pkg-config libdir after the move: $got"
out=$tmp/consumer-moved
"$cmake" -S "$src/tests/package" -B "$out" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$prefix" -DHS_FIND=cmake > "$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "configure against the moved prefix"; }
"$cmake" --build "$out" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build against the moved prefix"; }
uses_installed_lib "$out/consumer"
echo "install_test: ok"
