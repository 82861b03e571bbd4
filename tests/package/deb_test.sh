#!/usr/bin/env bash
# `cpack -G DEB` into a temporary folder, then checks the package without installing it into
# the system: its files (dpkg-deb -c), its control fields and Depends (dpkg-deb -I), the
# systemd user unit (systemd-analyze verify), the man pages (man --warnings), and the extracted
# programs and library (dpkg -x into the temporary folder).
#
#     deb_test.sh BUILD_DIR
# Environment (tests/CMakeLists.txt): HS_CPACK, HS_VERSION.
set -euo pipefail
# (No `producer | grep -q` below: with pipefail, grep -q's early exit can fail the producer.)
build=$1
cpack=${HS_CPACK:-cpack}
version=${HS_VERSION:?}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb_test: FAIL: $*" >&2; exit 1; }
step() { echo "deb_test: $*"; }

step "cpack -G DEB"
(cd "$build" && "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out") \
  > "$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
deb=$tmp/out/hyperspace_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { ls -l "$tmp/out"; fail "no $deb"; }

step "contents (dpkg-deb -c)"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' > "$tmp/files"
for f in /usr/bin/hyperspace /usr/bin/hyp \
         /usr/lib/libhyperspace-client.so /usr/lib/libhyperspace-client.so.0 \
         "/usr/lib/libhyperspace-client.so.$version" \
         /usr/include/hyperspace/client.h /usr/include/hyperspace/export.h /usr/include/hyperspace/asio.h \
         /usr/lib/cmake/Hyperspace/HyperspaceConfig.cmake \
         /usr/lib/cmake/Hyperspace/HyperspaceTargets.cmake \
         /usr/lib/pkgconfig/hyperspace-client.pc \
         /usr/share/man/man1/hyperspace.1.gz /usr/share/man/man1/hyp.1.gz \
         /usr/lib/systemd/user/hyperspace.service; do
  grep -qx -- "$f" "$tmp/files" || { cat "$tmp/files" >&2; fail "the package lacks $f"; }
done
grep -vE '^/(usr/.*)?$' "$tmp/files" > "$tmp/outside" || true
[ ! -s "$tmp/outside" ] || fail "files outside /usr: $(tr '\n' ' ' < "$tmp/outside")"

step "control (dpkg-deb -I)"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = hyperspace ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
depends=$(field Depends)
step "Depends: $depends"
for dep in libc6 libstdc++6 libsodium23 libspdlog libfmt; do
  [[ "$depends" == *"$dep"* ]] || fail "Depends lacks $dep (dpkg-shlibdeps): '$depends'"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -t > "$tmp/control-files"
grep -qx './shlibs' "$tmp/control-files" || fail "no shlibs control file for libhyperspace-client"
dpkg-deb -I "$deb" shlibs > "$tmp/shlibs"
grep -qx "libhyperspace-client 0 hyperspace (= $version)" "$tmp/shlibs" ||
  fail "shlibs: $(cat "$tmp/shlibs")"

step "extracted (dpkg -x)"
root=$tmp/root
dpkg -x "$deb" "$root"
[ "$("$root/usr/bin/hyperspace" --version)" = "$version" ] || fail "hyperspace --version"
[ "$("$root/usr/bin/hyp" --version)" = "$version" ] || fail "hyp --version"
unit=$root/usr/lib/systemd/user/hyperspace.service
grep -qx 'ExecStart=/usr/bin/hyperspace' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx 'Restart=on-failure' "$unit" || fail "the unit does not restart on failure"
LD_LIBRARY_PATH=$root/usr/lib ldd "$root/usr/lib/libhyperspace-client.so.0" > "$tmp/ldd"
if grep -q 'not found' "$tmp/ldd"; then cat "$tmp/ldd" >&2; fail "the library's dependencies"; fi

step "man pages (man --warnings)"
for page in hyperspace hyp; do
  LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/man1/$page.1.gz" \
    > "$tmp/$page.txt" 2> "$tmp/$page.warn" || { cat "$tmp/$page.warn"; fail "man $page"; }
  if [ -s "$tmp/$page.warn" ]; then cat "$tmp/$page.warn" >&2; fail "man $page: warnings"; fi
  grep -q -- '--storage' "$tmp/$page.txt" || fail "man $page does not describe --storage"
done

step "the unit (systemd-analyze --user verify)"
command -v systemd-analyze > /dev/null ||
  fail "systemd-analyze is missing (scripts/setup.sh installs the systemd package)"
# As installed, but with the extracted daemon (verify checks that ExecStart is executable) and
# the extracted man pages (it checks that Documentation= pages exist).
mkdir -p "$tmp/unit" "$tmp/runtime"
chmod 700 "$tmp/runtime"
sed "s|^ExecStart=/usr/bin/hyperspace|ExecStart=$root/usr/bin/hyperspace|" "$unit" \
  > "$tmp/unit/hyperspace.service"
rc=0
XDG_RUNTIME_DIR=$tmp/runtime MANPATH=$root/usr/share/man \
  systemd-analyze --user verify "$tmp/unit/hyperspace.service" > "$tmp/verify" 2>&1 || rc=$?
if [ "$rc" != 0 ] || [ -s "$tmp/verify" ]; then
  cat "$tmp/verify" >&2
  fail "systemd-analyze verify (exit $rc; any message counts as a failure)"
fi
echo "deb_test: ok"
