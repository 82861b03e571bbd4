#!/usr/bin/env bash
# Builds our hyperspace daemon and runs the daemon (RPC) benchmark (bench/README.md) against the JS
# hyperspace 3.19 daemon inside a fresh loopback-only network namespace: the JS daemon gets a local
# DHT bootstrap on 127.0.0.1 and nothing else is reachable. Needs root (unshare -n). Extra
# arguments go to bench/daemon_bench.js (e.g. --reps 5, --sizes 1024:2000, --perf DIR, --tmp DIR).
# HS_BUILD_DIR picks the build tree (default ./build); HS_BUILD_JOBS the ninja job count
# (default 2); HS_NO_BUILD=1 skips the build (bench/lib.sh). Needs the pinned JS packages:
# scripts/setup.sh installs them (npm ci in tests/interop).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-daemon hyperspace @hyperspace/client
bench_build hyperspace
# "$0" inside sh -c is the node binary, "$@" the driver and its arguments.
exec unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' \
  "$(command -v node)" bench/daemon_bench.js --hyperspace "$build/hyperspace" "$@"
