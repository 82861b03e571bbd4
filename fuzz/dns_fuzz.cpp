// Fuzz target: the mDNS packet codec (src/v9/swarm/dns.h). Decoding arbitrary datagrams must never
// crash and must fail only with a typed error; a decoded packet that re-encodes must decode again
// to a packet that encodes to the same bytes (encoding is canonical: no compression), and the
// helpers Mdns applies to packets (same_name) must be total.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "v9/swarm/dns.h"

namespace {

using namespace hs;
using namespace hs::swarm;

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ByteView in(data, size);
    auto packet = dns::Packet::decode(in);
    if (!packet) {
        check(packet.error().code == Errc::Protocol || packet.error().code == Errc::TooLarge);
        check(in.size() == size);
        return 0;
    }
    check(in.empty());
    check(packet->questions.size() + packet->answers.size() + packet->authorities.size() +
              packet->additionals.size() <=
          dns::kMaxEntries);
    for (const auto& q : packet->questions) (void)dns::same_name(q.name, "x.hyperswarm.local");

    Bytes first;
    if (!packet->encode_to(first).ok()) return 0;  // e.g. a decoded label holding a '.'
    ByteView again_in = first;
    auto again = dns::Packet::decode(again_in);
    check(again.ok());
    Bytes second;
    check(again->encode_to(second).ok());
    check(second == first);
    return 0;
}
