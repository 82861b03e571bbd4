#!/usr/bin/env bash
# Builds udx_peer and runs the UDX benchmark (ours <-> ours against udx-native <-> udx-native on
# loopback, clean and through a lossy relay; bench/README.md "UDX") in a loopback-only network
# namespace. Extra arguments go to bench/udx_bench.js (--total BYTES, --lossy-total BYTES, --reps N).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-udx udx-native
bench_build udx_peer
exec unshare -n sh -c 'ip link set lo up && exec node bench/udx_bench.js --bin "$0" "$@"' \
  "$build/tests/udx_peer" "$@"
