#!/usr/bin/env bash
# Builds hyp and runs the replication benchmark (bench/README.md) inside a fresh loopback-only
# network namespace: every socket is on 127.0.0.1 / 127.0.0.2 and nothing else is reachable.
# Needs root (unshare -n). Extra arguments go to bench/replication_bench.js (e.g. --reps 5,
# --sizes 1024:5000, --cases hs-hs,js-js, --tmp DIR, --generation 11 for second-generation cores:
# JS corestore 7 against `hyp replicate --generation 11`, with the crypto floor of
# hs_v11_core_bench --replication-floor). HS_BUILD_DIR picks the build tree (default
# ./build); HS_BUILD_JOBS the ninja job count (default 2); HS_NO_BUILD=1 skips the build
# (bench/lib.sh). Needs the pinned JS packages:
# scripts/setup.sh installs them (npm ci in tests/interop).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-replication hypercore corestore-v7
bench_build hyp hs_v11_core_bench
# "$0" inside sh -c is the node binary, "$@" the driver and its arguments.
exec unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' \
  "$(command -v node)" bench/replication_bench.js --hyp "$build/hyp" \
  --floor-bin "$build/bench/hs_v11_core_bench" "$@"
