#!/usr/bin/env bash
# Builds hs_v11_core_bench and runs the second-generation core benchmark against JS hypercore 11 /
# corestore 7 (bench/README.md "Second-generation cores"). Extra arguments go to
# bench/v11_core_bench.js (e.g. --reps 5, --sizes 1024:2000,65536:300, --cores 1000, --tmp DIR).
# HS_BUILD_DIR picks the build tree (default ./build); HS_BUILD_JOBS the ninja job count (default 2);
# HS_NO_BUILD=1 skips the build (bench/lib.sh). Needs the pinned JS packages:
# scripts/setup.sh installs them (npm ci in tests/interop).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-v11-core hypercore-v11 corestore-v7 hypercore-crypto-v11
bench_build hs_v11_core_bench
exec node bench/v11_core_bench.js --bin "$build/bench/hs_v11_core_bench" "$@"
