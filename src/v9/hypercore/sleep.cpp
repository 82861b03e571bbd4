#include "v9/hypercore/sleep.h"

#include "common/util/hex.h"

namespace hs::hypercore::sleep {
namespace {
struct Layout {
    std::uint16_t entry_bytes;
    std::string_view algorithm;
    std::string_view name;
};
Layout layout(FileType type) {
    switch (type) {
        case FileType::Bitfield: return {kBitfieldPageBytes, "", "bitfield"};
        case FileType::Signatures: return {kSignatureEntryBytes, "Ed25519", "signatures"};
        case FileType::Tree: return {kTreeEntryBytes, "BLAKE2b", "tree"};
    }
    return {0, "", ""};
}
}  // namespace

ByteArray<kHeaderBytes> header(FileType type) {
    ByteArray<kHeaderBytes> h{};
    const auto l = layout(type);
    h[0] = 0x05;
    h[1] = 0x02;
    h[2] = 0x57;
    h[3] = static_cast<std::uint8_t>(type);
    h[4] = 0;
    put_u16be(h.data() + 5, l.entry_bytes);
    h[7] = static_cast<std::uint8_t>(l.algorithm.size());
    std::copy(l.algorithm.begin(), l.algorithm.end(), h.begin() + 8);
    return h;
}

Status check_header(ByteView stored, FileType type, std::string_view file) {
    if (stored.size() < kHeaderBytes)
        return make_error(Errc::Corrupt, "{}: header is truncated ({} of 32 bytes)", file, stored.size());
    const auto expected = header(type);
    if (stored[0] != 0x05 || stored[1] != 0x02 || stored[2] != 0x57)
        return make_error(Errc::Corrupt, "{}: not a SLEEP file (magic {} instead of 050257)", file,
                          to_hex(stored.first(3)));
    if (stored[3] != static_cast<std::uint8_t>(type))
        return make_error(Errc::Corrupt, "{}: SLEEP file type {} instead of {}", file, stored[3],
                          static_cast<int>(type));
    if (!std::equal(expected.begin() + 4, expected.end(), stored.begin() + 4))
        return make_error(Errc::Corrupt, "{}: unsupported SLEEP header {} (expected {})", file,
                          to_hex(stored.first(kHeaderBytes)), to_hex(expected));
    return {};
}

}  // namespace hs::hypercore::sleep
