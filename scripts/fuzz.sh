#!/usr/bin/env bash
# Builds the fuzz targets with clang + libFuzzer + ASan/UBSan into ./build-fuzz and runs each for
# SECONDS (default 60) seconds, starting from (and adding to) fuzz/corpus/<target>/.
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bitfield_rle feed_open frame message noise rpc_frame rpc_message stream dht_message dht_node dns compact noise_v11 secret_stream protomux udx_packet udx_pair v11_core hypercore_v11 v11_replication)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHS_FUZZ=ON -DHS_BUILD_TESTS=OFF -DHS_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target "${targets[@]/#/fuzz_}"
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  echo "fuzz: $t for ${seconds}s"
  ./build-fuzz/fuzz/fuzz_"$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/ "$work" "fuzz/corpus/$t" 2>&1 | tail -n 60
  rm -rf "$work"
done
