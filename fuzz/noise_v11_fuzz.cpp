// Fuzz target: the second generation's Noise handshakes (src/v11/noise) with the fuzzer as the
// peer, in both roles of both patterns (XX, IK). An honest exchange runs up to a chosen message;
// from there every message our side reads comes from the input, and our side writes its replies.
// Reading and writing either succeed or fail with Errc::HandshakeFailed (then sticky: every later
// call is Errc::InvalidArgument); a completed handshake has keys, a hash and the peer's key.
// Keys are fixed for reproducibility.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "v11/noise/handshake.h"
#include "fuzz_check.h"

namespace {

namespace n = hs::v11::noise;
using hs::ByteView;
using hs::Bytes;

using hs::fuzz::require;

const hs::crypto::KeyPair& key(int i) {
    static const hs::crypto::KeyPair keys[4] = {
        hs::crypto::keypair_from_seed(Bytes(32, 0x11)),
        hs::crypto::keypair_from_seed(Bytes(32, 0x22)),
        hs::crypto::keypair_from_seed(Bytes(32, 0x33)),
        hs::crypto::keypair_from_seed(Bytes(32, 0x44))};
    return keys[i];
}

n::Handshake make(n::Pattern pattern, bool initiator) {
    n::HandshakeOptions o;
    o.ephemeral = key(initiator ? 2 : 3);
    if (initiator) {
        o.remote_static = key(1).public_key;
        return n::Handshake::initiator(pattern, key(0), o);
    }
    return n::Handshake::responder(pattern, key(1), o);
}

void check_failed(const n::Handshake& h, const hs::Error& e) {
    require(e.code == hs::Errc::HandshakeFailed && !e.message.empty());
    require(h.failed() && !h.complete() && h.error().code == hs::Errc::HandshakeFailed);
}

}  // namespace

// Input: 1 mode byte (bit 0: pattern XX/IK, bits 1-2: which message the fuzzer takes over, bit 3:
// a non-empty payload in our messages), then the peer's messages, each as u16 LE length + bytes
// (a short last one takes what is left).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const n::Pattern pattern = (data[0] & 1) ? n::Pattern::IK : n::Pattern::XX;
    const std::size_t count = pattern == n::Pattern::XX ? 3 : 2;
    const std::size_t first = ((data[0] >> 1) & 3) % count;
    const Bytes payload = (data[0] & 8) ? Bytes{'p', 'a', 'y'} : Bytes{};
    ByteView in(data + 1, size - 1);

    auto initiator = make(pattern, true);
    auto responder = make(pattern, false);
    for (std::size_t i = 0; i < first; ++i) {
        n::Handshake& w = i % 2 == 0 ? initiator : responder;
        n::Handshake& r = i % 2 == 0 ? responder : initiator;
        auto m = w.write_message(payload);
        require(m.ok());
        require(r.read_message(*m).ok());
    }
    // Our side reads message `first`; the other side is now the fuzzer.
    n::Handshake& ours = first % 2 == 0 ? responder : initiator;
    while (!ours.complete() && !ours.failed()) {
        if (ours.our_turn()) {
            auto m = ours.write_message(payload);
            if (!m) {
                check_failed(ours, m.error());
                break;
            }
            continue;
        }
        if (in.empty()) break;
        std::size_t len = in.size() >= 2 ? (in[0] | (std::size_t{in[1]} << 8)) : in.size();
        if (in.size() >= 2) in = in.subspan(2);
        len = std::min(len, in.size());
        const ByteView message = in.first(len);
        in = in.subspan(len);
        auto got = ours.read_message(message);
        if (!got) {
            check_failed(ours, got.error());
            break;
        }
        require(got->size() <= message.size());
    }
    if (ours.failed()) {
        require(ours.read_message(Bytes(96)).error().code == hs::Errc::InvalidArgument);
        require(ours.write_message().error().code == hs::Errc::InvalidArgument);
    }
    if (ours.complete()) {
        require(ours.remote_static_key().has_value());
        require(ours.split().tx != ours.split().rx);
        (void)ours.handshake_hash();
    }
    return 0;
}
