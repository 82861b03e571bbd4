// Fuzz target: two v11::SecretStream ends (src/v11/secretstream) driven through interleaved
// partial I/O chosen by the input: writes of any size on either side, deliveries of any number
// of pending bytes in either direction, flipped bytes and injected bytes in transit, keep-alive
// ticks. Invariants: nothing crashes; while nothing was tampered with, each side receives
// exactly what the other wrote, in order; once a side closes, it delivers nothing more.
// Keys and ephemerals are fixed for reproducibility.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>

#include "v11/secretstream/secret_stream.h"
#include "fuzz_check.h"

namespace {

namespace v = hs::v11;
using hs::ByteView;
using hs::Bytes;

using hs::fuzz::require;

v::SecretStreamOptions options(bool initiator) {
    v::SecretStreamOptions o;
    o.initiator = initiator;
    o.static_keys = hs::crypto::keypair_from_seed(Bytes(32, initiator ? 0x11 : 0x22));
    o.ephemeral = hs::crypto::keypair_from_seed(Bytes(32, initiator ? 0x33 : 0x44));
    o.deliver_empty_messages = true;
    return o;
}

struct End {
    explicit End(bool initiator, v::Clock::time_point t) : stream(options(initiator), t) {
        stream.on_message = [this](ByteView m) {
            require(!stream.closed());
            received.emplace_back(m.begin(), m.end());
        };
    }
    v::SecretStream stream;
    std::deque<Bytes> expected;  // what the other side wrote, not yet received
    std::deque<Bytes> received;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto t0 = v::Clock::time_point{} + std::chrono::hours(1);
    End a(true, t0), b(false, t0);
    End* ends[2] = {&a, &b};
    bool tampered = false;
    std::size_t i = 0;
    auto next = [&]() -> std::uint8_t { return i < size ? data[i++] : 0; };
    while (i < size) {
        const std::uint8_t op = next();
        End& from = *ends[op & 1];
        End& to = *ends[(op & 1) ^ 1];
        switch ((op >> 1) % 5) {
            case 0: {  // write a message of up to 2^12 bytes
                const std::size_t n = (static_cast<std::size_t>(next()) << 4) | (next() & 0x0f);
                Bytes m(n, static_cast<std::uint8_t>(i));
                if (from.stream.write(m, t0).ok()) to.expected.push_back(std::move(m));
                break;
            }
            case 1: {  // deliver up to 255 pending bytes
                const std::size_t n = std::min<std::size_t>(next(), from.stream.pending_output().size());
                (void)to.stream.receive(from.stream.pending_output().first(n), t0);
                from.stream.consume_output(n);
                break;
            }
            case 2: {  // flip a byte of the pending output in transit
                const ByteView out = from.stream.pending_output();
                if (out.empty()) break;
                Bytes copy(out.begin(), out.end());
                copy[next() % copy.size()] ^= static_cast<std::uint8_t>(next() | 1);
                from.stream.consume_output(out.size());
                (void)to.stream.receive(copy, t0);
                tampered = true;
                break;
            }
            case 3: {  // inject raw bytes
                const std::size_t n = std::min<std::size_t>(next(), size - i);
                (void)to.stream.receive(ByteView(data + i, n), t0);
                i += n;
                tampered = true;
                break;
            }
            case 4:  // time passes: keep-alives (not enabled) and timeouts (not enabled) no-op
                (void)from.stream.tick(t0 + std::chrono::seconds(next()));
                break;
        }
    }
    // Deliver everything left, then check what arrived.
    for (int round = 0; round < 64; ++round) {
        for (End* e : ends) {
            End& other = e == &a ? b : a;
            const ByteView out = e->stream.pending_output();
            if (!out.empty() && !other.stream.closed()) (void)other.stream.receive(out, t0);
            e->stream.consume_output(out.size());
        }
    }
    if (!tampered) {
        for (End* e : ends) {
            require(!e->stream.closed());
            require(e->stream.open());
            require(e->received.size() == e->expected.size());
            for (std::size_t k = 0; k < e->received.size(); ++k) require(e->received[k] == e->expected[k]);
        }
    } else {
        // A tampered stream may have closed; it still delivered only a prefix of what was written.
        for (End* e : ends) require(e->received.size() <= e->expected.size());
    }
    return 0;
}
