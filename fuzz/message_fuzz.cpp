// Fuzz target: message body decoders (all frame types, and the Noise payload). Malformed bodies
// must give errors, never crashes; whatever decodes must re-encode to bytes that decode to the
// same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "v9/protocol/messages.h"

namespace {

hs::Bytes body_of(const hs::protocol::msg::Message& m) {
    hs::Bytes out;
    std::visit(
        [&](const auto& x) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, hs::protocol::msg::Ignored>)
                x.encode_to(out);
        },
        m);
    return out;
}

}  // namespace

// Input: 1 type byte (low 4 bits = frame type; bit 4 set = NoisePayload), then the body.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hs::protocol::msg;
    if (size < 1) return 0;
    const hs::ByteView body(data + 1, size - 1);

    if (data[0] & 0x10) {
        hs::ByteView in = body;
        auto p = NoisePayload::decode(in);
        if (!p) return 0;
        if (!in.empty()) std::abort();
        hs::Bytes again;
        p->encode_to(again);
        hs::ByteView in2 = again;
        auto q = NoisePayload::decode(in2);
        if (!q || !(*q == *p)) std::abort();
        return 0;
    }

    const std::uint8_t type = data[0] & 0x0f;
    auto m = decode_message(type, body);
    if (!m) {
        if (m.error().code != hs::Errc::Protocol) std::abort();
        return 0;
    }
    if (static_cast<std::uint8_t>(type_of(*m)) != type) std::abort();
    const hs::Bytes again = body_of(*m);
    auto m2 = decode_message(type, again);
    if (!m2 || !(*m2 == *m)) std::abort();
    // Canonical bytes are a fixed point.
    if (body_of(*m2) != again) std::abort();
    return 0;
}
