// What the C++ benchmark drivers (bench/*_bench.cpp) share: the deterministic block content
// (bench/README.md; bench/lib/common.js makeBlocks generates the same bytes), the median, a
// steady-clock stopwatch and the process's CPU time. Header-only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <span>
#include <vector>

namespace hs::bench {

using Clock = std::chrono::steady_clock;

inline std::uint32_t xorshift32(std::uint32_t& x) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

// Block i: xorshift32 seeded with (i + 1) * 0x9E3779B1 (0 -> 1), each output word stored
// little-endian, truncated to out.size().
inline void fill_block(std::uint64_t i, std::span<std::uint8_t> out) {
    std::uint32_t x = static_cast<std::uint32_t>((i + 1) * 0x9E3779B1u);
    if (x == 0) x = 1;
    std::size_t j = 0;
    for (; j + 4 <= out.size(); j += 4) {
        const std::uint32_t w = xorshift32(x);
        out[j] = static_cast<std::uint8_t>(w);
        out[j + 1] = static_cast<std::uint8_t>(w >> 8);
        out[j + 2] = static_cast<std::uint8_t>(w >> 16);
        out[j + 3] = static_cast<std::uint8_t>(w >> 24);
    }
    if (j < out.size()) {
        const std::uint32_t w = xorshift32(x);
        for (int k = 0; j < out.size(); ++j, ++k) out[j] = static_cast<std::uint8_t>(w >> (8 * k));
    }
}

// 0..n-1 in the benchmarks' seeded order: Fisher-Yates with xorshift32 seeded 0x2545F491, for
// k = n-1 .. 1 swapping k with next() % (k + 1) (bench/lib/common.js shuffled is the same).
inline std::vector<std::uint64_t> shuffled(std::uint64_t n) {
    std::vector<std::uint64_t> v(n);
    for (std::uint64_t i = 0; i < n; ++i) v[i] = i;
    std::uint32_t x = 0x2545F491u;
    for (std::uint64_t k = n; k-- > 1;) std::swap(v[k], v[xorshift32(x) % (k + 1)]);
    return v;
}

inline double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of this process (every thread), in seconds.
inline double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

}  // namespace hs::bench
