#!/usr/bin/env bash
# Sets up, builds and runs every test: unit, crash, corpus replays and interop with the pinned
# JS packages, all inside a fresh loopback-only network namespace (needs root, as in CI); then a
# short libFuzzer run of every fuzz target (HS_FUZZ_SECONDS each, default 30; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

ctest_args=(--test-dir build --output-on-failure --timeout 1200 "$@")
if [ "${HS_NO_NETNS:-0}" = 1 ]; then
  echo "test: HS_NO_NETNS=1: running without a private network namespace"
  ctest "${ctest_args[@]}"
else
  if ! unshare -n true 2>/dev/null; then
    echo "test: cannot create a network namespace (run as root, or set HS_NO_NETNS=1 for tests" >&2
    echo "      that send no network traffic)" >&2
    exit 1
  fi
  unshare -n sh -c 'ip link set lo up && exec ctest "$@"' sh "${ctest_args[@]}"
fi

seconds=${HS_FUZZ_SECONDS:-30}
if [ "$seconds" != 0 ]; then
  ./scripts/fuzz.sh "$seconds" | tee build/fuzz.log
  if grep -qE "^(SUMMARY|==[0-9]+==ERROR)" build/fuzz.log; then
    echo "test: a fuzz target failed (see above)" >&2
    exit 1
  fi
fi
echo "test: all passed"
