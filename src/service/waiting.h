// A request that waits on a core (Hypercore.Get, Update, Seek and Download with `wait`): the one
// call that admits it, registers its waiter with the registry, records it in the client's state
// (with the resource id the client names it by) and, for ifAvailable, gates it on what peers
// have (docs/behaviour/rpc.md "Methods", "ifAvailable"). The handlers decide only what the
// request waits for; everything a waiting request holds is released the same way (answered,
// cancelled by its client, failed by its gate, or dropped when the client goes).
// Network thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "service/client_state.h"
#include "service/core_registry.h"
#include "service/replication.h"

namespace hs::service {

// What the request waits for.
struct BlockWait {  // Get: block `seq` is stored
    std::uint64_t seq = 0;
};
struct LengthWait {  // Update: the length reaches `min_length`
    std::uint64_t min_length = 0;
    bool hash = false;  // fetch only the proof of the newest block
};
struct SeekWait {  // Seek: `byte_offset` resolves; the gate looks for blocks in [start, end)
    std::uint64_t byte_offset = 0;
    std::uint64_t start = 0;
    std::uint64_t end = 0;  // 0: unbounded
};
struct RangeWait {  // Download: the range is stored
    DownloadTarget range;
};

struct WaitingRequest {
    LoadedCore& core;
    std::uint64_t session_id = 0;
    std::variant<BlockWait, LengthWait, SeekWait, RangeWait> what;
    // The client's id for the wait (Get, Download: what Cancel / Undownload name). REQUIRES: not
    // in use by the client.
    std::optional<std::uint64_t> resource_id;
    // ifAvailable: fail with this unless a peer can serve the request (Get, Update, Seek); without
    // networking the request fails with it at once.
    std::optional<RpcFailure> if_available;
};

// Admits the request (the client's bounds on waiters and resources: kTooManyPending), then
// registers, tracks and gates it. `reply` is answered now when the request is refused or
// already satisfied (a Download of a stored range), else when the wait ends. `replication`
// null: no networking.
void wait_for(CoreRegistry& registry, Replication* replication, ClientState& client,
              WaitingRequest request, Responder reply);

}  // namespace hs::service
