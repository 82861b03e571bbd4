#!/usr/bin/env bash
# Sets up, builds and runs every test (unit, crash, interop with the pinned JS packages).
# Everything runs inside a fresh loopback-only network namespace (needs root, as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

ctest_args=(--test-dir build --output-on-failure --timeout 1200 "$@")
if [ "${HS_NO_NETNS:-0}" = 1 ]; then
  echo "test: HS_NO_NETNS=1: running without a private network namespace"
  exec ctest "${ctest_args[@]}"
fi
if ! unshare -n true 2>/dev/null; then
  echo "test: cannot create a network namespace (run as root, or set HS_NO_NETNS=1 for tests" >&2
  echo "      that send no network traffic)" >&2
  exit 1
fi
exec unshare -n sh -c 'ip link set lo up && exec ctest "$@"' sh "${ctest_args[@]}"
