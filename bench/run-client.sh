#!/usr/bin/env bash
# Builds our hyperspace daemon and the C++ client driver (hs_client_bench), then runs the client
# benchmark (bench/README.md "Client"): our daemon and the JS hyperspace 3.19 daemon, each driven
# by our C++ client and by the JS client, inside a fresh loopback-only network namespace (a local
# DHT bootstrap on 127.0.0.1, nothing else reachable). Needs root (unshare -n). Extra arguments go
# to bench/client_bench.js (e.g. --quick, --reps 5, --sizes 1024:2000, --inflight 1,4,16).
# HS_BUILD_DIR, HS_BUILD_JOBS, HS_NO_BUILD as in bench/lib.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-client hyperspace @hyperspace/client
bench_build hyperspace hs_client_bench
# "$0" inside sh -c is the node binary, "$@" the driver and its arguments.
exec unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' \
  "$(command -v node)" bench/client_bench.js --hyperspace "$build/hyperspace" \
  --cpp "$build/bench/hs_client_bench" "$@"
