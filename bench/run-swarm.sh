#!/usr/bin/env bash
# Builds our hyperspace daemon and hyp, then runs the networking benchmark (bench/README.md,
# "Networking"): two of our daemons against two JS hyperspace 3.19 daemons, each pair finding each
# other through a DHT bootstrap node and replicating across a veth pair between two network
# namespaces that only this run can see. Needs root (unshare -n -p). Extra arguments go to
# bench/swarm_bench.js (e.g. --reps 5, --sizes 1024:2000, --bootstrap-impl hyp, --sides hs).
# HS_BUILD_DIR picks the build tree (default ./build); HS_BUILD_JOBS the ninja job count
# (default 2); HS_NO_BUILD=1 skips ninja (the binaries must exist). Needs the pinned JS packages:
# scripts/setup.sh installs them (npm ci in tests/interop).
#
# Isolation: everything runs inside a new network namespace (loopback only at start; the driver
# then adds namespace B and the veth pair 10.77.0.1/24 <-> 10.77.0.2/24, no default route) and a
# new PID namespace. When the driver ends, however it ends, the PID namespace's init exits, the
# kernel kills every process left in it, and both network namespaces and the veth pair go away
# with them. The machine's interfaces are never visible to any process of the run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup run-swarm hyperspace @hyperspace/client @hyperswarm/dht
bench_build hyperspace hyp
for bin in "$build/hyperspace" "$build/hyp"; do
  [ -x "$bin" ] || { echo "run-swarm: $bin is missing" >&2; exit 1; }
done
# Temp folder of the run (storage, sockets, copies of the binaries): removed on exit, also when
# the run is interrupted or killed by a signal to this script.
tmp=$(mktemp -d /tmp/hssw.XXXXXX)
pid=
cleanup() {
  # unshare --fork ignores SIGTERM and SIGINT itself (it leaves them to its child): KILL it.
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# sh is the PID namespace's init and the driver its child (no exec), so signals reach the driver
# normally. --kill-child: when unshare ends (e.g. the KILL sent by cleanup), the namespace's init
# gets SIGKILL, and the kernel then kills every process left in the namespace.
# "$0" inside sh -c is the node binary, "$@" the driver and its arguments.
unshare --net --pid --fork --mount-proc --kill-child \
  sh -c 'ip link set lo up && "$0" "$@"; exit $?' \
  "$(command -v node)" bench/swarm_bench.js --hyperspace "$build/hyperspace" --hyp "$build/hyp" --tmp "$tmp" "$@" &
pid=$!
set +e
wait "$pid"
status=$?
pid=
exit $status
