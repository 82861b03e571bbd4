// Fuzz target: every compact-encoding decoder (src/v11/compact) on arbitrary bytes. A decoder
// either fails with Errc::Protocol or returns a value whose encoding (1) has the preencoded size,
// (2) decodes back to itself completely, and (3) is byte-identical to the consumed input whenever
// that input was in canonical form (minimal uints, bool 0/1, well-formed UTF-8). Codecs with the
// same grammar (buffer/string, array(buffer)/array(string)) must agree on success and length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "v11/compact/compact.h"
#include "fuzz_check.h"

namespace {

namespace c = hs::v11::compact;
using hs::ByteView;
using hs::Bytes;

using hs::fuzz::require;

enum class Form {
    Exact,       // every input form is canonical: the re-encoding equals what was consumed
    UintsOnly,   // only uints can be non-minimal, which makes the input strictly longer
    Bool,        // any byte decodes; only 0 and 1 re-encode to themselves
    Utf8,        // uints as above, and ill-formed UTF-8 is replaced (checked against Raw grammar)
};

struct Outcome {
    bool ok = false;
    std::size_t consumed = 0;
    Bytes reencoded;
};

template <typename C>
Outcome check(ByteView in) {
    c::DecodeState s(in);
    auto v = C::decode(s);
    if (!v) {
        require(v.error().code == hs::Errc::Protocol && !v.error().message.empty());
        return {};
    }
    require(s.start <= s.end && s.end == in.size());
    Outcome out{true, s.start, c::encode<C>(*v)};
    c::EncodeState sizing;
    C::preencode(sizing, *v);
    require(sizing.end == out.reencoded.size());
    // The re-encoding is a fixed point: it decodes completely and re-encodes to itself.
    c::DecodeState again(out.reencoded);
    auto w = C::decode(again);
    require(w.ok() && again.start == out.reencoded.size());
    require(c::encode<C>(*w) == out.reencoded);
    return out;
}

bool same_bytes(const Outcome& o, ByteView in) {
    return o.reencoded.size() == o.consumed &&
           std::equal(o.reencoded.begin(), o.reencoded.end(), in.begin());
}

template <typename C>
Outcome check_form(ByteView in, Form form) {
    Outcome o = check<C>(in);
    if (!o.ok) return o;
    switch (form) {
        case Form::Exact: require(same_bytes(o, in)); break;
        case Form::UintsOnly:
            require(o.reencoded.size() <= o.consumed);
            if (o.reencoded.size() == o.consumed) require(same_bytes(o, in));
            break;
        case Form::Bool: require(o.reencoded.size() == 1 && o.reencoded[0] == (in[0] == 1)); break;
        case Form::Utf8: break;  // checked by the caller against the buffer grammar
    }
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);
    check_form<c::Uint>(in, Form::UintsOnly);
    check_form<c::Uint8>(in, Form::Exact);
    check_form<c::Uint16>(in, Form::Exact);
    check_form<c::Uint24>(in, Form::Exact);
    check_form<c::Uint32>(in, Form::Exact);
    check_form<c::Uint64>(in, Form::Exact);
    check_form<c::Bool>(in, Form::Bool);
    check_form<c::Fixed32>(in, Form::Exact);
    check_form<c::Fixed64>(in, Form::Exact);
    check_form<c::Raw>(in, Form::Exact);
    check_form<c::OptionalBuffer>(in, Form::UintsOnly);
    check_form<c::Uint32Array>(in, Form::UintsOnly);
    check_form<c::Array<c::Uint>>(in, Form::UintsOnly);
    check_form<c::Array<c::Fixed32>>(in, Form::UintsOnly);
    check_form<c::Array<c::Array<c::Uint>>>(in, Form::UintsOnly);

    // buffer and string share a grammar: same success, same length; where the content is
    // well-formed UTF-8 the string's re-encoding is the buffer's.
    const Outcome buf = check_form<c::Buffer>(in, Form::UintsOnly);
    const Outcome str = check_form<c::String>(in, Form::Utf8);
    require(buf.ok == str.ok && buf.consumed == str.consumed);
    if (buf.ok) {
        c::DecodeState s(in);
        const ByteView content = *c::Buffer::decode(s);
        if (hs::v11::compact::String::Value(hs::as_string(content)) ==
            *c::decode<c::String>(in))
            require(str.reencoded == buf.reencoded);
    }
    const Outcome bufs = check_form<c::Array<c::Buffer>>(in, Form::UintsOnly);
    const Outcome strs = check_form<c::Array<c::String>>(in, Form::Utf8);
    require(bufs.ok == strs.ok && bufs.consumed == strs.consumed);
    if (bufs.ok) {
        const auto raw_items = *c::decode<c::Array<c::Buffer>>(in);
        const auto text_items = *c::decode<c::Array<c::String>>(in);
        bool well_formed = raw_items.size() == text_items.size();
        for (std::size_t i = 0; well_formed && i < raw_items.size(); ++i)
            well_formed = hs::as_string(raw_items[i]) == text_items[i];
        if (well_formed) require(strs.reencoded == bufs.reencoded);
    }
    return 0;
}
