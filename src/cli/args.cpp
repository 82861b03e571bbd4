#include "cli/args.h"

#include <sodium.h>

#include "common/util/hex.h"

namespace hs::cli {

Result<crypto::PublicKey> parse_key_argument(std::string_view text) {
    auto key = parse_key(text);
    if (!key)
        return make_error(Errc::InvalidArgument,
                          "'{}' is not a core key: expected 64 hex characters or hyper://<64 hex>",
                          text);
    return *key;
}

namespace {
// True for well-formed UTF-8 without control characters.
bool printable_utf8(ByteView s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::uint8_t c = s[i];
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return false;
            ++i;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            extra = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= s.size()) return false;
        for (std::size_t k = 1; k <= extra; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
            return false;
        i += extra + 1;
    }
    return true;
}
}  // namespace

std::string display_name(ByteView name) {
    if (!name.empty() && printable_utf8(name)) return std::string(as_string(name));
    return to_hex(name);
}

std::string base64(ByteView data) {
    const std::size_t len = sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL);
    std::string out(len, '\0');
    sodium_bin2base64(out.data(), len, data.data(), data.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(len - 1);
    return out;
}

}  // namespace hs::cli
