# Sourced by bench/run-*.sh (bash, after `set -euo pipefail`): what every runner does before it
# starts its driver.
#   bench_setup NAME PACKAGE...  cd to the repository root; $build = HS_BUILD_DIR (default ./build);
#                                exit 1 unless each PACKAGE is in tests/interop/node_modules
#   bench_build TARGET...        configure $build if needed (Ninja, RelWithDebInfo), then build the
#                                targets with HS_BUILD_JOBS jobs (default 2); HS_NO_BUILD=1 skips
#                                both (the binaries must exist)

bench_setup() {
  bench_name=$1
  shift
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  build=${HS_BUILD_DIR:-build}
  local pkg
  for pkg in "$@"; do
    if [ ! -d "tests/interop/node_modules/$pkg" ]; then
      echo "$bench_name: tests/interop/node_modules/$pkg is missing; run scripts/setup.sh first" >&2
      exit 1
    fi
  done
}

bench_build() {
  if [ "${HS_NO_BUILD:-0}" = 1 ]; then
    return 0
  fi
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  ninja -j "${HS_BUILD_JOBS:-2}" -C "$build" "$@"
}
