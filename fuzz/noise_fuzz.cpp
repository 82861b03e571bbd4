// Fuzz target: the Noise handshake state machine fed arbitrary peer bytes in arbitrary chunking,
// in each role and at each step. It must fail cleanly (Errc::HandshakeFailed, sticky), never
// crash, and never claim to consume more than it was given. Keys are fixed for reproducibility.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "v9/protocol/noise.h"

namespace {

using hs::protocol::NoiseHandshake;
using hs::protocol::NoiseKeyPair;

const NoiseKeyPair& key(std::uint8_t seed) {
    static NoiseKeyPair keys[4] = {
        hs::protocol::noise_keypair_from_seed(hs::Bytes(32, 0x11)),
        hs::protocol::noise_keypair_from_seed(hs::Bytes(32, 0x22)),
        hs::protocol::noise_keypair_from_seed(hs::Bytes(32, 0x33)),
        hs::protocol::noise_keypair_from_seed(hs::Bytes(32, 0x44)),
    };
    return keys[seed];
}

hs::protocol::StreamNonce nonce(std::uint8_t v) {
    hs::protocol::StreamNonce n;
    n.fill(v);
    return n;
}

// Feeds `in` in pieces of `chunk` bytes (0 = all at once) and checks the receive contract.
void feed(NoiseHandshake& h, hs::ByteView in, std::size_t chunk) {
    std::size_t pos = 0;
    while (pos < in.size() && !h.done()) {
        const std::size_t n = chunk == 0 ? in.size() - pos : std::min(chunk, in.size() - pos);
        auto r = h.receive(in.subspan(pos, n));
        if (!r) {
            if (r.error().code != hs::Errc::HandshakeFailed || !h.failed()) std::abort();
            if (h.receive(in.subspan(pos, n)).ok()) std::abort();  // sticky
            return;
        }
        if (*r > n || (!h.done() && *r != n)) std::abort();
        pos += *r;
    }
    if (h.done() && (h.failed() || !h.remote_static_key())) std::abort();
}

}  // namespace

// Input: 1 mode byte (low 2 bits: step, next 3 bits: chunk size), then the peer's bytes.
//   step 0: responder receiving m1 (and on)   step 1: initiator receiving m2 after its m1
//   step 2: responder receiving m3 after an honest m1   step 3: like 0 with the initiator role
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t step = data[0] & 3;
    const std::size_t chunk = (data[0] >> 2) & 7;
    const hs::ByteView in(data + 1, size - 1);

    auto initiator = NoiseHandshake::initiator(key(0), nonce(0x55), key(2));
    auto responder = NoiseHandshake::responder(key(1), nonce(0x66), key(3));
    switch (step) {
        case 0: feed(responder, in, chunk); break;
        case 1:
            (void)initiator.take_output();
            feed(initiator, in, chunk);
            break;
        case 2: {
            auto r = responder.receive(initiator.take_output());
            if (!r || responder.done() || !responder.has_output()) std::abort();
            feed(responder, in, chunk);
            break;
        }
        default:
            // The initiator before its m1 was taken: output and input are independent.
            feed(initiator, in, chunk);
            break;
    }
    return 0;
}
