#!/usr/bin/env bash
# Builds hs_storage_bench and runs the storage benchmark against JS hypercore 9 (bench/README.md).
# Extra arguments go to bench/storage_bench.js (e.g. --reps 5, --sizes 1024:2000, --tmp DIR).
# HS_BUILD_DIR picks the build tree (default ./build). Needs the pinned JS packages:
# scripts/setup.sh installs them (npm ci in tests/interop).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${HS_BUILD_DIR:-build}
if [ ! -d tests/interop/node_modules/hypercore ]; then
  echo "run-storage: tests/interop/node_modules is missing; run scripts/setup.sh first" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja >/dev/null
fi
ninja -C "$build" hs_storage_bench
exec node bench/storage_bench.js --bin "$build/bench/hs_storage_bench" "$@"
