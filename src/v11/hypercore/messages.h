// The hypercore/alpha replication channel's messages (hypercore 10/11) and the manifest codec,
// byte-identical to the JS encoders (docs/formats/hypercore-v11.md). Sans-IO: bytes in, values
// out. Every decoder checks each length before reading and throws compact::DecodeError (or a
// subclass) on malformed input; it never reads past the view it is given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/util/bytes.h"
#include "v11/hypercore/decode_error.h"
#include "v11/hypercore/types.h"

namespace hs::v11::hypercore::wire {

// The channel's open handshake: {uint flags (bit 0 seeks), fixed32 capability}.
struct Handshake {
    bool seeks = false;
    Hash capability{};
    friend bool operator==(const Handshake&, const Handshake&) = default;
};

// Message type numbers on the channel, in the order the JS replicator registers them.
enum class Type : std::uint32_t {
    sync = 0,
    request = 1,
    cancel = 2,
    data = 3,
    no_data = 4,
    want = 5,
    unwant = 6,
    bitfield = 7,
    range = 8,
    extension = 9,
};
inline constexpr std::uint32_t kMessageTypes = 10;

struct Sync {
    std::uint64_t fork = 0;
    std::uint64_t length = 0;
    std::uint64_t remote_length = 0;
    bool can_upgrade = false;
    bool uploading = false;
    bool downloading = false;
    bool has_manifest = false;
    bool allow_push = false;
    friend bool operator==(const Sync&, const Sync&) = default;
};

struct Request {
    std::uint64_t id = 0;
    ProofRequest proof;           // fork, block, hash, seek, upgrade, manifest
    std::uint64_t priority = 0;   // 0 = not sent
    friend bool operator==(const Request&, const Request&) = default;
};

struct Cancel {
    std::uint64_t request = 0;
    friend bool operator==(const Cancel&, const Cancel&) = default;
};

struct Data {
    std::uint64_t request = 0;
    Proof proof;  // fork, block, hash, seek, upgrade, manifest
    friend bool operator==(const Data&, const Data&) = default;
};

struct NoData {
    std::uint64_t request = 0;
    std::uint64_t reason = 0;  // 0 = not sent
    friend bool operator==(const NoData&, const NoData&) = default;
};

struct Want {  // also Unwant
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    bool any = false;
    friend bool operator==(const Want&, const Want&) = default;
};

struct Bitfield {
    std::uint64_t start = 0;
    std::vector<std::uint32_t> bitfield;  // little-endian words on the wire
    friend bool operator==(const Bitfield&, const Bitfield&) = default;
};

struct Range {
    bool drop = false;
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    friend bool operator==(const Range&, const Range&) = default;
};

struct Extension {
    std::string name;
    Bytes message;
    friend bool operator==(const Extension&, const Extension&) = default;
};

// encode_x(m) returns the message body (what protomux carries after its type number);
// decode_x(bytes) parses exactly one body. Decoders accept trailing bytes where JS does
// (protomux ignores them) and reject truncation.
Bytes encode(const Handshake&);
Bytes encode(const Sync&);
Bytes encode(const Request&);
Bytes encode(const Cancel&);
Bytes encode(const Data&);
Bytes encode(const NoData&);
Bytes encode_want(const Want&);
Bytes encode_unwant(const Want&);
Bytes encode(const Bitfield&);
Bytes encode(const Range&);
Bytes encode(const Extension&);

Handshake decode_handshake(ByteView);
Sync decode_sync(ByteView);
Request decode_request(ByteView);
Cancel decode_cancel(ByteView);
Data decode_data(ByteView);
NoData decode_no_data(ByteView);
Want decode_want(ByteView);
Want decode_unwant(ByteView);
Bitfield decode_bitfield(ByteView);
Range decode_range(ByteView);
Extension decode_extension(ByteView);

}  // namespace hs::v11::hypercore::wire
