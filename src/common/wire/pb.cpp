#include "common/wire/pb.h"

namespace hs::wire {
namespace {

Error malformed(const char* what) { return make_error(Errc::Protocol, "{}", what); }

}  // namespace

Status Reader::take(std::size_t n, const char* what) {
    if (n > m_in.size()) return malformed(what);
    m_in = m_in.subspan(n);
    return {};
}

Result<std::uint64_t> Reader::read_varint() {
    auto v = varint::decode(m_in);
    if (!v) return malformed("truncated or overlong varint");
    return *v;
}

Result<Tag> Reader::read_tag() {
    HS_ASSIGN_OR_RETURN(const std::uint64_t key, read_varint());
    return Tag{key >> 3, static_cast<WireType>(key & 7)};
}

Result<bool> Reader::read_bool() {
    HS_ASSIGN_OR_RETURN(const std::uint64_t v, read_varint());
    return v != 0;
}

Result<bool> Reader::read_bool_byte() {
    if (m_in.empty()) return malformed("truncated bool");
    const bool v = m_in[0] != 0;
    m_in = m_in.subspan(1);
    return v;
}

Result<std::int32_t> Reader::read_int32() {
    HS_ASSIGN_OR_RETURN(const std::uint64_t v, read_varint());
    // JS: v > 2^31 - 1 ? v - 2^32 : v, i.e. the low 32 bits as two's complement.
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
}

Result<ByteView> Reader::read_length_delimited(std::size_t max) {
    HS_ASSIGN_OR_RETURN(const std::uint64_t n, read_varint());
    if (n > m_in.size()) return malformed("length-delimited field runs past the end");
    if (n > max) return make_error(Errc::TooLarge, "field of {} bytes exceeds {}", n, max);
    const ByteView out = m_in.first(static_cast<std::size_t>(n));
    m_in = m_in.subspan(static_cast<std::size_t>(n));
    return out;
}

Result<std::string> Reader::read_string() {
    HS_ASSIGN_OR_RETURN(const ByteView raw, read_length_delimited());
    return utf8_replace_invalid(as_string(raw));
}

Status Reader::skip(WireType wire, std::size_t max) {
    switch (wire) {
        case WireType::Varint: {
            auto v = read_varint();
            if (!v) return std::move(v).error();
            return {};
        }
        case WireType::Fixed64:
            return take(8, "truncated fixed64 field");
        case WireType::LengthDelimited: {
            auto v = read_length_delimited(max);
            if (!v) return std::move(v).error();
            return {};
        }
        case WireType::Fixed32:
            return take(4, "truncated fixed32 field");
        case WireType::StartGroup:
        case WireType::EndGroup:
            return malformed("groups are not supported");
    }
    return malformed("unknown wire type");
}

std::string utf8_replace_invalid(std::string_view text) {
    static constexpr std::string_view kReplacement = "\xef\xbf\xbd";
    // `out` is only built once an ill-formed byte shows up; valid text is returned as one copy.
    std::string out;
    std::size_t i = 0;
    std::size_t copied = 0;  // text[copied, i) is valid and not yet appended to out
    bool replaced = false;
    const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
    while (i < text.size()) {
        const std::uint8_t lead = byte(i);
        std::size_t need = 0;
        std::uint8_t lower = 0x80;
        std::uint8_t upper = 0xbf;
        if (lead < 0x80) {
            ++i;
            continue;
        } else if (lead >= 0xc2 && lead <= 0xdf) {
            need = 1;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            need = 2;
            if (lead == 0xe0) lower = 0xa0;  // no overlong forms
            if (lead == 0xed) upper = 0x9f;  // no surrogates
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            need = 3;
            if (lead == 0xf0) lower = 0x90;  // no overlong forms
            if (lead == 0xf4) upper = 0x8f;  // nothing above U+10FFFF
        }
        // Consume the longest prefix of a well-formed sequence (the maximal subpart).
        std::size_t j = i + 1;
        std::size_t seen = 0;
        while (seen < need && j < text.size()) {
            const std::uint8_t b = byte(j);
            if (b < lower || b > upper) break;
            lower = 0x80;
            upper = 0xbf;
            ++seen;
            ++j;
        }
        if (need != 0 && seen == need) {
            i = j;  // well-formed
            continue;
        }
        // Ill-formed: text[i, j) becomes one U+FFFD; decoding resumes at j.
        if (!replaced) {
            out.reserve(text.size() + 8);
            replaced = true;
        }
        out.append(text.substr(copied, i - copied));
        out.append(kReplacement);
        i = j;
        copied = j;
    }
    if (!replaced) return std::string(text);
    out.append(text.substr(copied));
    return out;
}

}  // namespace hs::wire
