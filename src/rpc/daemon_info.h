// Our extension of Hyperspace.Status, for `hyp status` / `hyp stop`: a Status request whose
// payload (normally empty: hrpc.Void) is kDaemonInfoRequest gets the usual
// HyperspaceStatusResponse followed, in the same payload, by the DaemonInfoResponse fields below
// (numbers from 101). Both sides of the reference stay unaffected: a JS server never looks at a
// Void payload, so it just answers the usual status; JS clients send an empty payload and get the
// reference's exact bytes (and their decoders would skip unknown fields anyway).
#pragma once

#include <cstdint>
#include <string>

#include "common/util/bytes.h"
#include "common/util/error.h"

namespace hs::rpc {

// The marker payload: field 1 (varint) = 1.
inline constexpr std::uint8_t kDaemonInfoRequest[] = {0x08, 0x01};

struct DaemonInfoResponse {
    std::string storage;        // 101 string: the storage folder ("" in memory)
    std::string endpoint;       // 102 string: the socket path, or host:port for TCP
    std::uint64_t cores = 0;    // 103 uint64: cores loaded now
    std::uint64_t peers = 0;    // 104 uint64: connected swarm peers
    std::string version;        // 105 string: this implementation's version
    std::uint64_t clients = 0;  // 106 uint64: connected RPC clients
    bool memory_only = false;   // 107 bool
    std::uint64_t pid = 0;      // 108 uint64: the daemon's process id

    // Appends the fields (to a HyperspaceStatusResponse payload).
    void encode_to(Bytes& out) const;
    std::size_t encoded_size() const;
    // Reads the fields 101-108 from a whole Status payload, skipping every other field. Fails on
    // malformed protobuf; Errc::NotFound when none of these fields is present (not our daemon).
    static Result<DaemonInfoResponse> decode(ByteView& in);
    bool operator==(const DaemonInfoResponse&) const = default;
};

}  // namespace hs::rpc
