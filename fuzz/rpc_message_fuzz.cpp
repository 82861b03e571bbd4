// Fuzz target: the RPC payload decoders (docs/formats/rpc.md "Payload encoding"). The first byte
// picks the message type, the rest is the payload. Decoding must never crash or read past the
// input; whatever decodes must encode to exactly encoded_size() bytes that decode to the same
// value, and encoding that value again must give the same bytes (the encoding is canonical).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "rpc/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hs;
    using namespace hs::rpc;
    if (size == 0) return 0;
    const auto type = static_cast<MessageKind>(data[0] % kMessageKindCount);
    auto decoded = decode_any(type, ByteView(data + 1, size - 1));
    if (!decoded) {
        if (decoded.error().code != Errc::Protocol) std::abort();
        return 0;
    }
    if (message_kind_of(*decoded) != type) std::abort();
    Bytes encoded;
    encode_any(*decoded, encoded);
    if (encoded.size() != encoded_size_any(*decoded)) std::abort();
    auto round = decode_any(type, encoded);
    if (!round || !(*round == *decoded)) std::abort();
    Bytes again;
    encode_any(*round, again);
    if (again != encoded) std::abort();
    return 0;
}
