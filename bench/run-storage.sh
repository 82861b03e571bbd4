#!/usr/bin/env bash
# Builds hs_storage_bench and runs the storage benchmark against JS hypercore 9 (bench/README.md).
# Extra arguments go to bench/storage_bench.js (e.g. --reps 5, --sizes 1024:2000, --tmp DIR).
# HS_BUILD_DIR picks the build tree (default ./build); HS_BUILD_JOBS the ninja job count (default 2);
# HS_NO_BUILD=1 skips the build (bench/lib.sh). Needs the pinned JS packages:
# scripts/setup.sh installs them (npm ci in tests/interop).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-storage hypercore
bench_build hs_storage_bench
exec node bench/storage_bench.js --bin "$build/bench/hs_storage_bench" "$@"
