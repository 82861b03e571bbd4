// Fuzz target: the DHT datagram decoders (docs/formats/dht.md). The input is one UDP datagram.
// Decoding must never crash or read past the input and fails only with Errc::Protocol or
// Errc::TooLarge. Whatever decodes must re-encode to bytes that decode to the same value and
// encode again to the same bytes. The payload decoders (Holepunch, PeersInput, PeersOutput, node
// and peer lists) run on the fields that carry them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "v9/swarm/dht/messages.h"

namespace {

using namespace hs;
using namespace hs::swarm::dht;

void check_error(const Error& e) {
    if (e.code != Errc::Protocol && e.code != Errc::TooLarge) std::abort();
}

template <typename T>
void round_trip(ByteView in) {
    auto decoded = T::decode(in);
    if (!decoded) return check_error(decoded.error());
    Bytes once;
    decoded->encode_to(once);
    auto again = T::decode(once);
    if (!again || !(*again == *decoded)) std::abort();
    Bytes twice;
    again->encode_to(twice);
    if (twice != once) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);
    round_trip<Message>(in);
    auto m = Message::decode(in);
    if (!m) return 0;
    if (m->value) {
        round_trip<Holepunch>(*m->value);
        round_trip<PeersInput>(*m->value);
        round_trip<PeersOutput>(*m->value);
    }
    if (m->closer_nodes) {
        auto nodes = decode_nodes(*m->closer_nodes);
        if (nodes) {
            Bytes back;
            encode_nodes(back, *nodes);
            if (back != *m->closer_nodes) std::abort();
        } else {
            check_error(nodes.error());
        }
    }
    if (m->to) {
        auto peer = decode_peer(*m->to);
        if (peer && encode_peer(*peer) != *m->to) std::abort();
    }
    return 0;
}
