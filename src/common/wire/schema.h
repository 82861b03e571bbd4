// The one table-driven proto2 message codec (docs/formats/protobuf.md). A message struct declares
// its schema once, as (field number, member) pairs, and gets an encoder that is byte-identical to
// the JS `protocol-buffers` encoder and a bounds-checked decoder for untrusted bytes. The protocols
// that use it (RPC, hypercore-protocol 8, dht-rpc 4) differ only in a few decoding rules, which
// each states as a Dialect.
//
// Declaring a schema, in the namespace of the message type (found by argument-dependent lookup):
//     constexpr auto schema_of(std::type_identity<Peer>) {
//         return wire::schema("Peer", wire::field(1, &Peer::key), wire::field(2, &Peer::host));
//     }
//
// Field representation (the member's C++ type decides the wire type and the rule):
//   required -> plain member; always encoded (an empty Bytes/string is written as tag 00);
//               decoding fails if it never occurs
//   optional -> std::optional<T>; encoded iff set, even when equal to the default
//   repeated -> std::vector<T>; encoded unpacked, one tag per element; varints decode packed too
//   T        -> std::uint64_t, std::uint32_t (decoding rejects values over 32 bits), bool,
//               std::int32_t (5-byte negatives, as the JS encoder writes them), Bytes, BytesRef
//               (decoded as a view into the input, no copy), std::string, or a message type
// Fields are encoded in table order (the JS encoders write declaration order).
//
// Decoding, in every dialect: any field order; unknown fields are skipped; a non-repeated field
// that occurs twice keeps the last value, a second embedded message replaces the first (as in JS);
// groups and wire types 6/7 fail; a truncated field fails. All failures are Errc::Protocol except
// a length over a limit (Errc::TooLarge); the message says which message and field.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "common/util/varint.h"
#include "common/wire/bytes_ref.h"
#include "common/wire/pb.h"

namespace hs::wire {

inline constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

// How a bool field's value is read (writing is always one byte, 00 or 01).
enum class BoolRule : std::uint8_t {
    Varint,   // any non-zero varint is true (libprotobuf; RPC and hypercore-protocol)
    OneByte,  // one byte, non-zero = true, the next byte starts the next tag (JS; dht-rpc)
};
// What a known field number with a wire type other than its schema's means.
enum class WireMismatch : std::uint8_t {
    Reject,         // the message fails (RPC, dht-rpc)
    SkipAsUnknown,  // the occurrence is skipped like an unknown field (libprotobuf's rule)
};
// How std::string fields are decoded.
enum class TextRule : std::uint8_t {
    ReplaceInvalidUtf8,  // ill-formed UTF-8 becomes U+FFFD, as Node's Buffer#toString does
    Raw,                 // the bytes as they are (compared byte for byte, never shown as text)
};

// The per-protocol decoding rules. Use as a template argument: a constexpr object.
struct Dialect {
    std::string_view name;  // error prefix: "rpc message", "hypercore-protocol", "dht"
    BoolRule bools = BoolRule::Varint;
    WireMismatch mismatch = WireMismatch::Reject;
    TextRule text = TextRule::ReplaceInvalidUtf8;
    bool reject_field_zero = false;  // false: field number 0 is just an unknown field
    // false: a required field that never occurs keeps its zero value (an extension read from
    // inside another message, rpc/daemon_info.h); decode()'s `found` tells what occurred.
    bool check_required = true;
    // Every length-delimited value, known or unknown, over this is Errc::TooLarge.
    std::size_t max_field_bytes = kNoLimit;
    // The encoder checks (at compile time) that each table lists its fields in ascending order.
    bool ascending_fields = true;
};

// ---- Schema tables ----

template <typename M, typename T>
struct FieldDef {
    std::uint32_t number;
    T M::*member;
    std::size_t max_bytes = kNoLimit;  // each length-delimited value: over it is Errc::TooLarge
    std::size_t max_count = kNoLimit;  // occurrences of this field number: over it fails

    constexpr FieldDef limit_bytes(std::size_t n) const {
        FieldDef f = *this;
        f.max_bytes = n;
        return f;
    }
    constexpr FieldDef limit_count(std::size_t n) const {
        FieldDef f = *this;
        f.max_count = n;
        return f;
    }
};
template <typename M, typename T>
constexpr FieldDef<M, T> field(std::uint32_t number, T M::*member) {
    return {number, member};
}

template <typename... F>
struct SchemaDef {
    std::string_view name;
    std::tuple<F...> fields;
};
template <typename... F>
constexpr SchemaDef<F...> schema(std::string_view name, F... fields) {
    return {name, std::tuple<F...>(fields...)};
}

template <typename T>
concept Message = requires { schema_of(std::type_identity<T>{}); };

namespace detail {

template <typename M>
inline constexpr auto kSchema = schema_of(std::type_identity<M>{});
template <typename M>
using FieldsOf = std::remove_cvref_t<decltype(kSchema<M>.fields)>;

template <typename T>
struct OptionalOf {
    using type = void;
};
template <typename T>
struct OptionalOf<std::optional<T>> {
    using type = T;
};
template <typename T>
struct RepeatedOf {
    using type = void;
};
template <typename T>
struct RepeatedOf<std::vector<T>> {
    using type = T;
};
template <>
struct RepeatedOf<Bytes> {  // a bytes scalar, not a repeated uint8
    using type = void;
};
template <typename T>
inline constexpr bool kIsOptional = !std::is_void_v<typename OptionalOf<T>::type>;
template <typename T>
inline constexpr bool kIsRepeated = !std::is_void_v<typename RepeatedOf<T>::type>;
template <typename T>
inline constexpr bool kIsRequired = !kIsOptional<T> && !kIsRepeated<T>;
template <typename F>
struct MemberOf;
template <typename M, typename T>
struct MemberOf<FieldDef<M, T>> {
    using type = T;
};

template <typename T>
inline constexpr bool kIsVarint = std::is_same_v<T, std::uint64_t> ||
                                  std::is_same_v<T, std::uint32_t> || std::is_same_v<T, bool> ||
                                  std::is_same_v<T, std::int32_t>;
template <typename T>
inline constexpr bool kIsBytes =
    std::is_same_v<T, Bytes> || std::is_same_v<T, BytesRef> || std::is_same_v<T, std::string>;

template <typename T>
constexpr WireType wire_type_of() {
    static_assert(kIsVarint<T> || kIsBytes<T> || Message<T>, "no wire encoding for this type");
    return kIsVarint<T> ? WireType::Varint : WireType::LengthDelimited;
}

// ---- Encoding ----

template <Message M>
std::size_t body_size(const M& m);
template <Message M>
void encode_body(const M& m, Bytes& out);

template <typename T>
std::size_t value_size(const T& v) {
    if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::uint32_t>) {
        return varint::encoding_length(v);
    } else if constexpr (std::is_same_v<T, bool>) {
        return 1;
    } else if constexpr (std::is_same_v<T, std::int32_t>) {
        return varint::encoding_length(int32_wire_value(v));
    } else if constexpr (kIsBytes<T>) {
        return length_delimited_size(v.size());
    } else {
        return length_delimited_size(body_size(v));
    }
}

template <typename T>
void put_value(const T& v, Bytes& out) {
    if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, std::uint32_t>) {
        varint::encode(out, v);
    } else if constexpr (std::is_same_v<T, bool>) {
        put_bool(out, v);
    } else if constexpr (std::is_same_v<T, std::int32_t>) {
        put_int32(out, v);
    } else if constexpr (std::is_same_v<T, std::string>) {
        put_length_delimited(out, as_bytes(v));
    } else if constexpr (kIsBytes<T>) {
        put_length_delimited(out, ByteView(v));
    } else {
        varint::encode(out, body_size(v));
        encode_body(v, out);
    }
}

template <typename T>
std::size_t field_size(std::uint32_t number, const T& v) {
    if constexpr (kIsOptional<T>) {
        return v ? tag_size(number) + value_size(*v) : 0;
    } else if constexpr (kIsRepeated<T>) {
        std::size_t n = 0;
        for (const auto& e : v) n += tag_size(number) + value_size(e);
        return n;
    } else {
        return tag_size(number) + value_size(v);
    }
}

template <typename T>
void put_field(std::uint32_t number, const T& v, Bytes& out) {
    if constexpr (kIsOptional<T>) {
        if (!v) return;
        put_tag(out, number, wire_type_of<typename OptionalOf<T>::type>());
        put_value(*v, out);
    } else if constexpr (kIsRepeated<T>) {
        for (const auto& e : v) {  // unpacked, as the JS encoder writes it
            put_tag(out, number, wire_type_of<typename RepeatedOf<T>::type>());
            put_value(e, out);
        }
    } else {
        put_tag(out, number, wire_type_of<T>());
        put_value(v, out);
    }
}

template <Message M>
std::size_t body_size(const M& m) {
    return std::apply(
        [&](const auto&... f) {
            return (std::size_t{0} + ... + field_size(f.number, m.*(f.member)));
        },
        kSchema<M>.fields);
}

template <Message M>
constexpr bool fields_ascending() {
    return std::apply(
        [](const auto&... f) {
            std::uint32_t previous = 0;
            bool ascending = true;
            ((ascending = ascending && f.number > previous, previous = f.number), ...);
            (void)previous;  // unused for an empty schema
            return ascending;
        },
        kSchema<M>.fields);
}

template <Message M>
void encode_body(const M& m, Bytes& out) {
    std::apply([&](const auto&... f) { (put_field(f.number, m.*(f.member), out), ...); },
               kSchema<M>.fields);
}

// ---- Decoding ----

template <const Dialect& D, Message M>
Result<M> decode_body(ByteView in, std::uint64_t* found_out = nullptr);

inline Error field_error(std::string_view message, std::uint64_t number, const Error& e) {
    return Error{e.code, fmt::format("{} field {}: {}", message, number, e.message)};
}

template <const Dialect& D, typename T>
Status read_value(Reader& r, T& out, std::size_t max_bytes) {
    if constexpr (std::is_same_v<T, std::uint64_t>) {
        HS_ASSIGN_OR_RETURN(out, r.read_varint());
    } else if constexpr (std::is_same_v<T, std::uint32_t>) {
        HS_ASSIGN_OR_RETURN(const std::uint64_t v, r.read_varint());
        if (v > std::numeric_limits<std::uint32_t>::max())
            return make_error(Errc::Protocol, "uint32 value {} is out of range", v);
        out = static_cast<std::uint32_t>(v);
    } else if constexpr (std::is_same_v<T, bool>) {
        if constexpr (D.bools == BoolRule::OneByte) {
            HS_ASSIGN_OR_RETURN(out, r.read_bool_byte());
        } else {
            HS_ASSIGN_OR_RETURN(out, r.read_bool());
        }
    } else if constexpr (std::is_same_v<T, std::int32_t>) {
        HS_ASSIGN_OR_RETURN(out, r.read_int32());
    } else {
        HS_ASSIGN_OR_RETURN(const ByteView v, r.read_length_delimited(max_bytes));
        if constexpr (std::is_same_v<T, Bytes>) {
            out.assign(v.begin(), v.end());  // bounded by the input already received
        } else if constexpr (std::is_same_v<T, BytesRef>) {
            out = BytesRef::borrow(v);  // a view into the input: no copy
        } else if constexpr (std::is_same_v<T, std::string>) {
            if constexpr (D.text == TextRule::Raw) {
                out.assign(as_string(v));
            } else {
                out = utf8_replace_invalid(as_string(v));
            }
        } else {
            HS_ASSIGN_OR_RETURN(out, (decode_body<D, T>(v)));  // replaces, as the JS decoder does
        }
    }
    return {};
}

// Reads one occurrence of field `f` (whose number the tag carries) into `out`. Sets `stored`
// unless a wire-type mismatch was skipped (WireMismatch::SkipAsUnknown).
template <const Dialect& D, typename M, typename T>
Status read_field(Reader& r, const Tag& tag, const FieldDef<M, T>& f, T& out, bool& stored) {
    constexpr std::size_t kDialectMax = D.max_field_bytes;
    const std::size_t max_bytes = f.max_bytes < kDialectMax ? f.max_bytes : kDialectMax;
    using U = std::conditional_t<kIsOptional<T>, typename OptionalOf<T>::type,
                                 std::conditional_t<kIsRepeated<T>, typename RepeatedOf<T>::type, T>>;
    if constexpr (kIsRepeated<T> && wire_type_of<U>() == WireType::Varint) {
        if (tag.wire == WireType::LengthDelimited) {  // packed: accepted, never written
            HS_ASSIGN_OR_RETURN(const ByteView packed, r.read_length_delimited(kDialectMax));
            Reader inner(packed);
            while (!inner.done()) {
                if (out.size() >= f.max_count)
                    return make_error(Errc::Protocol, "more than {} elements", f.max_count);
                U value{};
                HS_TRY((read_value<D, U>(inner, value, max_bytes)));
                out.push_back(std::move(value));
            }
            stored = true;
            return {};
        }
    }
    if (tag.wire != wire_type_of<U>()) {
        if constexpr (D.mismatch == WireMismatch::SkipAsUnknown) {
            stored = false;
            return r.skip(tag.wire, kDialectMax);
        } else {
            return make_error(Errc::Protocol, "wrong wire type {}",
                              static_cast<unsigned>(tag.wire));
        }
    }
    stored = true;
    if constexpr (kIsOptional<T>) {
        U value{};
        HS_TRY((read_value<D, U>(r, value, max_bytes)));
        out = std::move(value);
    } else if constexpr (kIsRepeated<T>) {
        U value{};
        HS_TRY((read_value<D, U>(r, value, max_bytes)));
        out.push_back(std::move(value));  // each element consumed >= 1 input byte
    } else {
        HS_TRY((read_value<D, T>(r, out, max_bytes)));
    }
    return {};
}

// Bit I is set when field I of M is required.
template <Message M, std::size_t... I>
constexpr std::uint64_t required_mask(std::index_sequence<I...>) {
    return (std::uint64_t{0} | ... |
            (kIsRequired<typename MemberOf<std::tuple_element_t<I, FieldsOf<M>>>::type>
                 ? std::uint64_t{1} << I
                 : std::uint64_t{0}));
}

template <Message M, std::size_t I = 0>
std::uint32_t field_number_at(std::size_t index) {
    if constexpr (I == std::tuple_size_v<FieldsOf<M>>) {
        return 0;
    } else {
        return index == I ? std::get<I>(kSchema<M>.fields).number
                          : field_number_at<M, I + 1>(index);
    }
}

// Reads the value of `tag` into the field of `m` with that number if M has one (field index
// >= I), else skips it as unknown.
template <const Dialect& D, Message M, std::size_t I = 0>
Status read_any_field(Reader& r, const Tag& tag, M& m, std::uint64_t& found,
                      std::array<std::size_t, std::tuple_size_v<FieldsOf<M>>>& counts) {
    if constexpr (I == std::tuple_size_v<FieldsOf<M>>) {
        return r.skip(tag.wire, D.max_field_bytes);
    } else {
        constexpr auto& f = std::get<I>(kSchema<M>.fields);
        if (f.number != tag.field) return read_any_field<D, M, I + 1>(r, tag, m, found, counts);
        // Occurrences count by field number, whatever their wire type.
        if (f.max_count != kNoLimit && ++counts[I] > f.max_count)
            return make_error(Errc::Protocol, "{} field {}: more than {} elements",
                              kSchema<M>.name, f.number, f.max_count);
        bool stored = false;
        Status st = read_field<D>(r, tag, f, m.*(f.member), stored);
        if (!st) return field_error(kSchema<M>.name, f.number, st.error());
        if (stored) found |= std::uint64_t{1} << I;
        return {};
    }
}

template <const Dialect& D, Message M>
Result<M> decode_body(ByteView in, std::uint64_t* found_out) {
    constexpr std::size_t kCount = std::tuple_size_v<FieldsOf<M>>;
    static_assert(kCount < 64);
    constexpr std::uint64_t kRequired = required_mask<M>(std::make_index_sequence<kCount>{});

    M m{};
    std::uint64_t found = 0;
    std::array<std::size_t, kCount> counts{};
    Reader r(in);
    while (!r.done()) {
        auto tag = r.read_tag();
        if (!tag) return Error{tag.error().code, fmt::format("{}: {}", kSchema<M>.name,
                                                             tag.error().message)};
        if constexpr (D.reject_field_zero) {
            if (tag->field == 0)
                return make_error(Errc::Protocol, "{}: field number 0", kSchema<M>.name);
        }
        HS_TRY((read_any_field<D, M>(r, *tag, m, found, counts)));
    }
    if (found_out) *found_out = found;
    if (const std::uint64_t missing = kRequired & ~found; D.check_required && missing != 0) {
        std::size_t index = 0;
        while (!(missing & (std::uint64_t{1} << index))) ++index;
        return make_error(Errc::Protocol, "{}: required field {} is missing", kSchema<M>.name,
                          field_number_at<M>(index));
    }
    return m;
}

}  // namespace detail

// Appends the encoding of `m`.
template <const Dialect& D, Message M>
void encode(const M& m, Bytes& out) {
    static_assert(!D.ascending_fields || detail::fields_ascending<M>(),
                  "this dialect writes fields in ascending order: fix the schema table");
    detail::encode_body(m, out);
}

// The number of bytes encode() appends.
template <Message M>
std::size_t encoded_size(const M& m) {
    return detail::body_size(m);
}

// Decodes all of `in` as one M. BytesRef fields borrow from `in`. Errors read
// "<dialect name> <what failed>", e.g. "dht Message field 7: field of 2000 bytes exceeds 1024".
// With `found`, bit I tells that field I of the table occurred (with its schema's wire type).
template <const Dialect& D, Message M>
Result<M> decode(ByteView in, std::uint64_t* found = nullptr) {
    auto m = detail::decode_body<D, M>(in, found);
    if (!m) {
        Error e = std::move(m).error();
        e.message = fmt::format("{} {}", D.name, e.message);
        return e;
    }
    return m;
}

}  // namespace hs::wire
