#!/usr/bin/env bash
# Sets up and builds, then runs the hyp tool on the default storage folder
# (~/.hyperspace/storage). Until the daemon lands this lists the stored cores;
# pass other hyp arguments to run them instead, e.g. ./scripts/run.sh storage verify
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >&2
if [ $# -eq 0 ]; then set -- storage ls; fi
exec ./build/hyp "$@"
