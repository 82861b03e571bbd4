#!/bin/sh
# Runs one interop test file with the pinned Node 18 (tests/node18) as on a fresh Debian 12 machine:
# its /etc/hosts maps localhost to both 127.0.0.1 and ::1, so Node 18 connects to ::1 first
# (hosts.debian12 is bind-mounted over /etc/hosts in a private mount namespace; needs root, as the
# network namespaces of scripts/test.sh do). With --multicast the file runs in a nested
# loopback-only network namespace with a multicast route on lo (the mdns tests).
#
#   tests/interop/node18.sh NODE18 [--multicast] FILE.test.js
set -eu
node18=$1
shift
multicast=0
if [ "${1:-}" = --multicast ]; then
  multicast=1
  shift
fi
file=$1
hosts=$(dirname "$0")/hosts.debian12
if [ ! -x "$node18" ]; then
  echo "node18.sh: no Node 18 at $node18 (scripts/setup.sh installs it with npm ci in tests/node18)" >&2
  exit 1
fi
if [ "$multicast" = 1 ]; then
  exec unshare -m -n sh -c 'mount --bind "$0" /etc/hosts && ip link set lo up &&
    ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo src 127.0.0.1 &&
    exec "$1" --test "$2"' "$hosts" "$node18" "$file"
fi
exec unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$1" --test "$2"' "$hosts" "$node18" "$file"
