#!/usr/bin/env bash
# Builds hs_secret_stream_bench and runs the secret-stream benchmark (ours <-> ours against
# JS <-> JS over loopback TCP, bench/README.md "secret-stream") in a loopback-only network
# namespace. Extra arguments go to bench/secret_stream_bench.js (--total BYTES, --reps N).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-secret-stream @hyperswarm/secret-stream
bench_build hs_secret_stream_bench
exec unshare -n sh -c 'ip link set lo up && exec node bench/secret_stream_bench.js --bin "$0" "$@"' \
  "$build/bench/hs_secret_stream_bench" "$@"
