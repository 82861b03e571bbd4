// hypercore-protocol 8 message bodies as plain structs with encode/decode pairs
// (docs/formats/wire.md "Messages"). The frame header carries the type; these
// types are the bodies. Encodings are byte-identical to the JS encoder (protocol-buffers):
// ascending field order, an optional field written whenever it is present (even if it equals
// the default), repeated fields unpacked.
//
// Presence: every optional field is a std::optional so that a decoded message re-encodes to the
// same bytes and callers can tell "absent" from "default". `*_or_default()` gives the value the JS
// decoder would see.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "v9/protocol/framing.h"
#include "common/util/bytes.h"
#include "common/util/error.h"
#include "common/wire/bytes_ref.h"

namespace hs::protocol {

// The message-id table of the replication protocol: the low 4 bits of a frame header.
// 11..14 are reserved; a JS peer ignores them.
enum class MessageType : std::uint8_t {
    Open = 0,
    Options = 1,
    Status = 2,
    Have = 3,
    Unhave = 4,
    Want = 5,
    Unwant = 6,
    Request = 7,
    Cancel = 8,
    Data = 9,
    Close = 10,
    Extension = 15,
};
std::string_view message_type_name(std::uint8_t type) noexcept;

// Decoder limits for repeated fields (JS has none; a JS peer stays far below them: a proof has
// at most ~110 nodes). Checked as each element arrives, before it is stored.
inline constexpr std::size_t kMaxExtensionNames = 1024;
inline constexpr std::size_t kMaxDataNodes = 1024;

}  // namespace hs::protocol

// The message structs live in their own namespace (msg::Open, msg::Data, ...).
namespace hs::protocol::msg {

// Every decode(in) below reads all of `in` (one frame body; protobuf bodies are not
// self-delimiting), leaves it empty on success, and fails with Errc::Protocol on malformed bytes,
// a missing required field, a group, or a repeated field over its limit; Errc::FrameTooLarge if
// `in` is larger than kMaxFrameBodyBytes.

// type 0: opens a channel for the core whose discovery key is given.
struct Open {
    static constexpr MessageType kType = MessageType::Open;
    Bytes discovery_key;              // required
    std::optional<Bytes> capability;  // crypto/capability.h; absent from peers without a session

    void encode_to(Bytes& out) const;
    static Result<Open> decode(ByteView& in);
    bool operator==(const Open&) const = default;
};

// type 1: the sender's sorted extension names for this channel (channel 0: stream level).
struct Options {
    static constexpr MessageType kType = MessageType::Options;
    std::vector<std::string> extensions;  // raw bytes of each name (not UTF-8 checked)
    std::optional<bool> ack;

    bool ack_or_default() const noexcept { return ack.value_or(false); }
    void encode_to(Bytes& out) const;
    static Result<Options> decode(ByteView& in);
    bool operator==(const Options&) const = default;
};

// type 2 ("Status" in the schema): whether the sender uploads and downloads on this channel. An
// absent flag decodes as false in JS (even though the initial state is true).
struct PeerStatus {
    static constexpr MessageType kType = MessageType::Status;
    std::optional<bool> uploading;
    std::optional<bool> downloading;

    bool uploading_or_default() const noexcept { return uploading.value_or(false); }
    bool downloading_or_default() const noexcept { return downloading.value_or(false); }
    void encode_to(Bytes& out) const;
    static Result<PeerStatus> decode(ByteView& in);
    bool operator==(const PeerStatus&) const = default;
};

// type 3: blocks [start, start + length) are available; `bitfield` is RLE
// (hypercore/bitfield_rle.h).
struct Have {
    static constexpr MessageType kType = MessageType::Have;
    std::uint64_t start = 0;              // required
    std::optional<std::uint64_t> length;  // absent = 1
    std::optional<Bytes> bitfield;
    std::optional<bool> ack;

    std::uint64_t length_or_default() const noexcept { return length.value_or(1); }
    bool ack_or_default() const noexcept { return ack.value_or(false); }
    void encode_to(Bytes& out) const;
    static Result<Have> decode(ByteView& in);
    bool operator==(const Have&) const = default;
};

// type 4: blocks the sender no longer has.
struct Unhave {
    static constexpr MessageType kType = MessageType::Unhave;
    std::uint64_t start = 0;              // required
    std::optional<std::uint64_t> length;  // absent = 1

    std::uint64_t length_or_default() const noexcept { return length.value_or(1); }
    void encode_to(Bytes& out) const;
    static Result<Unhave> decode(ByteView& in);
    bool operator==(const Unhave&) const = default;
};

// type 5: please send Haves for this range.
struct Want {
    static constexpr MessageType kType = MessageType::Want;
    std::uint64_t start = 0;              // required
    std::optional<std::uint64_t> length;  // absent = 0

    std::uint64_t length_or_default() const noexcept { return length.value_or(0); }
    void encode_to(Bytes& out) const;
    static Result<Want> decode(ByteView& in);
    bool operator==(const Want&) const = default;
};

// type 6.
struct Unwant {
    static constexpr MessageType kType = MessageType::Unwant;
    std::uint64_t start = 0;              // required
    std::optional<std::uint64_t> length;  // absent = 0

    std::uint64_t length_or_default() const noexcept { return length.value_or(0); }
    void encode_to(Bytes& out) const;
    static Result<Unwant> decode(ByteView& in);
    bool operator==(const Unwant&) const = default;
};

// type 7: ask for a block (or, with `bytes`, the block holding that byte offset).
struct Request {
    static constexpr MessageType kType = MessageType::Request;
    std::uint64_t index = 0;             // required
    std::optional<std::uint64_t> bytes;  // absent = 0
    std::optional<bool> hash;            // hash only, no value
    std::optional<std::uint64_t> nodes;  // proof digest; absent = 0

    std::uint64_t bytes_or_default() const noexcept { return bytes.value_or(0); }
    bool hash_or_default() const noexcept { return hash.value_or(false); }
    std::uint64_t nodes_or_default() const noexcept { return nodes.value_or(0); }
    void encode_to(Bytes& out) const;
    static Result<Request> decode(ByteView& in);
    bool operator==(const Request&) const = default;
};

// type 8.
struct Cancel {
    static constexpr MessageType kType = MessageType::Cancel;
    std::uint64_t index = 0;             // required
    std::optional<std::uint64_t> bytes;  // absent = 0
    std::optional<bool> hash;

    std::uint64_t bytes_or_default() const noexcept { return bytes.value_or(0); }
    bool hash_or_default() const noexcept { return hash.value_or(false); }
    void encode_to(Bytes& out) const;
    static Result<Cancel> decode(ByteView& in);
    bool operator==(const Cancel&) const = default;
};

// Owned or borrowed field bytes (wire/bytes_ref.h).
using BytesRef = wire::BytesRef;

// One merkle tree node of a proof (all fields required).
struct Node {
    std::uint64_t index = 0;
    BytesRef hash;  // decoded: borrowed from the frame body
    std::uint64_t size = 0;
    bool operator==(const Node&) const = default;
};

// type 9: a block (absent `value` for hash-only answers) with its proof. A decoded Data borrows
// its bytes (value, node hashes, signature) from the frame body, without a copy: it is valid only
// as long as that body is, unless own() is called.
struct Data {
    static constexpr MessageType kType = MessageType::Data;
    std::uint64_t index = 0;  // required
    std::optional<BytesRef> value;
    std::vector<Node> nodes;
    std::optional<BytesRef> signature;

    // Copies every borrowed field into storage of its own.
    void own();
    void encode_to(Bytes& out) const;
    static Result<Data> decode(ByteView& in);
    bool operator==(const Data&) const = default;
};

// type 10: closes the channel; `discovery_key` only when the sender never opened it.
struct Close {
    static constexpr MessageType kType = MessageType::Close;
    std::optional<Bytes> discovery_key;

    void encode_to(Bytes& out) const;
    static Result<Close> decode(ByteView& in);
    bool operator==(const Close&) const = default;
};

// type 15, not protobuf: varint(id) || payload, `id` indexing the sender's sorted Options list.
struct Extension {
    static constexpr MessageType kType = MessageType::Extension;
    std::uint64_t id = 0;
    Bytes payload;

    void encode_to(Bytes& out) const;
    // Errc::Protocol if the body does not start with a complete varint.
    static Result<Extension> decode(ByteView& in);
    bool operator==(const Extension&) const = default;
};

// Types 11..14: reserved; the body is not parsed and a peer must ignore the frame.
struct Ignored {
    std::uint8_t type = 11;
    bool operator==(const Ignored&) const = default;
};

// The payload of each Noise handshake message (not a frame body): the sender's XSalsa20 nonce.
struct NoisePayload {
    Bytes nonce;  // required; 24 bytes from a well-behaved peer (checked by the handshake)

    void encode_to(Bytes& out) const;
    static Result<NoisePayload> decode(ByteView& in);
    bool operator==(const NoisePayload&) const = default;
};

using Message = std::variant<Open, Options, PeerStatus, Have, Unhave, Want, Unwant, Request, Cancel,
                             Data, Close, Extension, Ignored>;

// Decodes one frame body by its header type (0..15). Types 11..14 give Ignored without looking at
// the body. Errors as for each decode above. A Data result borrows from `body` (see Data).
Result<Message> decode_message(std::uint8_t type, ByteView body);
// Makes a decoded message independent of the body it was decoded from (Data::own()).
void own(Message& message);

// The frame type of a message; for Ignored, its raw type 11..14 (not an enumerator).
MessageType type_of(const Message& message);

// Appends one whole frame: varint(len) || varint(channel << 4 | type) || body.
// REQUIRES: channel <= kMaxChannel; the body fits kMaxFrameBodyBytes (the caller's size budget).
template <typename M>
void encode_frame(Bytes& out, std::uint64_t channel, const M& message) {
    const std::size_t body_start = out.size();
    message.encode_to(out);
    insert_frame_header(out, body_start, channel, static_cast<std::uint8_t>(M::kType));
}
void encode_frame(Bytes& out, std::uint64_t channel, const Message& message);

}  // namespace hs::protocol::msg
