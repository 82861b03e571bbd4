#!/usr/bin/env bash
# Sets up and builds, then runs the hyperspace daemon in the foreground on the default storage
# folder (~/.hyperspace/storage) and socket ($TMPDIR/hyperspace.sock, /tmp when unset); Ctrl-C
# stops it. Extra arguments go to the daemon, e.g. ./scripts/run.sh --memory-only --host test
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >&2
exec ./build/hyperspace "$@"
