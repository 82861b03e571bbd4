// Fuzz target: two sans-IO UDX streams (src/v11/udx/stream.h) through a channel the input controls.
// The first bytes choose the transfer sizes; then each datagram sent consumes one input byte
// deciding its fate: delivered, dropped, duplicated, or held back and delivered later (reordered),
// and how far the clock moves. Once the input is used up the channel is perfect. Whatever the
// channel did, the bytes each side reads are a prefix of what the other wrote, and unless a side
// gave up (ETIMEDOUT after 6 timeouts, or its END unconfirmed after the remote's) both transfers
// complete exactly and both streams end.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <vector>

#include "v11/udx/packet.h"
#include "v11/udx/stream.h"
#include "fuzz_check.h"

namespace {

namespace u = hs::v11::udx;

using hs::fuzz::require;

struct Input {
    const std::uint8_t* p;
    std::size_t n;
    bool empty() const { return n == 0; }
    std::uint8_t next() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
};

std::uint8_t pattern(std::uint64_t i, std::uint8_t salt) { return static_cast<std::uint8_t>(i * 131 + salt + (i >> 9)); }

struct Flight {
    int to;
    hs::Bytes bytes;
    int hold;  // deliveries to wait before this one
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in{data, size};
    const std::uint64_t sizes[2] = {static_cast<std::uint64_t>(in.next()) * 997 + in.next(),
                                    static_cast<std::uint64_t>(in.next()) * 331};
    std::deque<Flight> wire;
    std::vector<Flight> held;
    auto sender = [&](int from) {
        return [&, from](hs::ByteView d) {
            const int to = 1 - from;
            hs::Bytes b(d.begin(), d.end());
            if (in.empty()) {
                wire.push_back({to, std::move(b), 0});
                return;
            }
            const std::uint8_t c = in.next();
            switch (c & 3) {
                case 0: wire.push_back({to, std::move(b), 0}); break;
                case 1: break;  // lost
                case 2:
                    wire.push_back({to, b, 0});
                    wire.push_back({to, std::move(b), 0});
                    break;
                case 3: held.push_back({to, std::move(b), 1 + (c >> 2) % 16}); break;
            }
        };
    };
    u::StreamConfig ca{1, 2}, cb{2, 1};
    ca.rwnd_max = cb.rwnd_max = 16 * 1024;
    ca.write_high_water = cb.write_high_water = 32 * 1024;
    u::StreamCore s[2] = {u::StreamCore(ca, sender(0)), u::StreamCore(cb, sender(1))};
    std::uint64_t written[2] = {0, 0}, got[2] = {0, 0};
    u::TimePoint now{};
    hs::Bytes chunk, buf(4096);
    for (int step = 0; step < 200000; ++step) {
        for (int i = 0; i < 2; ++i) {
            while (written[i] < sizes[i] && s[i].writable()) {
                const std::uint64_t n = std::min<std::uint64_t>(3000, sizes[i] - written[i]);
                chunk.resize(n);
                for (std::uint64_t k = 0; k < n; ++k) chunk[k] = pattern(written[i] + k, static_cast<std::uint8_t>(i));
                s[i].write(chunk);
                written[i] += n;
            }
            if (written[i] == sizes[i]) s[i].end();
            s[i].flush(now);
            // Side i reads what side 1 - i wrote.
            while (const std::size_t n = s[i].read(buf)) {
                for (std::size_t k = 0; k < n; ++k) require(buf[k] == pattern(got[i] + k, static_cast<std::uint8_t>(1 - i)));
                got[i] += n;
                require(got[i] <= sizes[1 - i]);
            }
        }
        if (s[0].closed() && s[1].closed()) break;
        if (!wire.empty()) {
            Flight f = std::move(wire.front());
            wire.pop_front();
            for (auto it = held.begin(); it != held.end();) {
                if (--it->hold <= 0) {
                    wire.push_back(std::move(*it));
                    it = held.erase(it);
                } else {
                    ++it;
                }
            }
            if (auto p = u::decode(f.bytes)) s[f.to].on_packet(*p, now);
            now += u::Millis(in.empty() ? 1 : in.next() % 8);
            continue;
        }
        if (!held.empty()) {
            for (Flight& f : held) wire.push_back(std::move(f));
            held.clear();
            continue;
        }
        const u::TimePoint w = std::min(s[0].next_wakeup(), s[1].next_wakeup());
        if (w == u::TimePoint::max()) break;
        now = std::max(now, w);
        for (auto& x : s) x.on_timer(now);
    }
    // Giving up: ETIMEDOUT, or kEndUnconfirmed (the remote's END arrived, then two RTOs of
    // silence: a channel that drops everything for seconds is one the input can choose; our
    // bytes may not all have arrived, so the other side may wait for them for ever).
    const auto gave_up_on = [](u::CloseReason r) {
        return r == u::CloseReason::kTimedOut || r == u::CloseReason::kEndUnconfirmed;
    };
    const bool gave_up = gave_up_on(s[0].close_reason()) || gave_up_on(s[1].close_reason());
    if (!gave_up) {
        require(got[0] == sizes[1] && got[1] == sizes[0]);
        require(s[0].close_reason() == u::CloseReason::kEnded);
        require(s[1].close_reason() == u::CloseReason::kEnded);
    }
    return 0;
}
