// The hypercore/alpha replicator (hypercore 10/11, docs/replication-v11.md), sans-IO: one per
// Core, attached to any number of protomux::Mux (one per connection). On each mux it opens one
// channel (protocol "hypercore/alpha", id = the core's discovery key, handshake {seeks,
// capability}) and speaks the ten channel messages: it tells the peer its length and fork
// (sync), what it has (range, bitfield), serves the peer's requests with Core::proof(), and asks
// for what the application wants (get, download, live downloads, upgrades to the longest peer's
// head, fork proofs), storing answers only through Core::verify_and_apply().
//
// Trust: a peer proves it knows the key with its capability (checked with the opposite role); a
// wrong one, a malformed message, or any proof that fails verification cuts the peer off: its
// channel closes, events.on_peer_error says why, nothing it sent is stored, and a new channel
// from it on that connection is refused.
//
// Time comes only from tick(now); no timers, sockets or threads. Not thread-safe: one thread
// drives the core, the muxes and this replicator. Callbacks (events, get/download results) run
// at the end of the call that caused them; they may call back into the replicator (get, cancel,
// download, send_extension, ...) but must not destroy it. The mux send functions must not feed
// a mux receive() synchronously (queue the bytes instead): the replicator is not re-entrant.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/error.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/messages.h"
#include "v11/protomux/protomux.h"
#include "v11/replication/range_set.h"

namespace hs::v11::replication {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

inline constexpr const char* kProtocol = "hypercore/alpha";

struct ReplicatorOptions {
    // Requests in flight per peer (JS over TCP asks for at most 48 at a time).
    std::size_t max_inflight = 48;
    // A request unanswered for this long is cancelled and asked again (of any peer).
    Duration request_timeout = std::chrono::seconds(20);
    // Requests we could not serve (malformed, not provable) before the peer is cut off.
    std::size_t max_invalid_requests = 64;
    // "noData" answers from one peer after which we stop asking it for blocks.
    std::size_t max_not_available = 1024;
    // What our sync messages say. A JS peer that is not downloading closes the channel of a
    // peer that says it is not downloading either.
    bool downloading = true;
};

using PeerId = std::uint64_t;
using RequestId = std::uint64_t;

struct PeerInfo {
    PeerId id = 0;
    std::string name;
    bool opened = false;      // the remote's open arrived and its capability was right
    bool closed = false;      // the channel is closed (it may reopen from the remote's side)
    bool cut_off = false;     // misbehaved: closed for good on this connection
    bool synced = false;      // at least one sync arrived
    std::uint64_t remote_fork = 0;
    std::uint64_t remote_length = 0;
    std::uint64_t downloaded_blocks = 0;
    std::uint64_t downloaded_bytes = 0;
    std::uint64_t uploaded_blocks = 0;
    std::uint64_t uploaded_bytes = 0;
    std::size_t inflight = 0;
};

struct ReplicatorEvents {
    std::function<void(PeerId)> on_peer_open;
    // The channel closed (remote or local close, transport gone); `error` is Ok for a normal close.
    std::function<void(PeerId, const Error& error)> on_peer_close;
    // The peer was cut off (bad capability, bad message, failed verification), or could not
    // be served because local storage failed. Logged by the caller at debug level.
    std::function<void(PeerId, const Error& error)> on_peer_error;
    std::function<void(std::uint64_t index, std::uint64_t bytes, PeerId)> on_download;
    std::function<void(std::uint64_t index, std::uint64_t bytes, PeerId)> on_upload;
    // The core's head changed (local append or truncate, or a verified upgrade).
    std::function<void(std::uint64_t length, std::uint64_t fork)> on_append;
    std::function<void(std::uint64_t to, std::uint64_t fork)> on_truncate;
};

class Replicator {
public:
    using GetCallback = std::function<void(Result<Bytes>)>;
    using DoneCallback = std::function<void(Status)>;
    using UpdateCallback = std::function<void(bool upgraded)>;
    using ExtensionHandler = std::function<void(PeerId, ByteView message)>;

    // Takes over the core's listener (the events above forward what it reported). `core` must
    // outlive the replicator.
    Replicator(hypercore::Core& core, ReplicatorOptions options = {}, ReplicatorEvents events = {});
    ~Replicator();
    Replicator(const Replicator&) = delete;
    Replicator& operator=(const Replicator&) = delete;

    // One connection: `initiator` and `handshake_hash` come from its secret-stream. Opens our
    // channel and accepts the remote's (re)opens for this core. REQUIRES: `mux` outlives the
    // attachment: call detach() (or destroy the replicator) before destroying it.
    PeerId attach(protomux::Mux& mux, bool initiator, ByteView handshake_hash, std::string name);
    // Closes the channel (if open) and forgets the connection.
    void detach(PeerId peer);

    // The clock: times out requests and gets. Call it now and then (e.g. every 100 ms-1 s).
    void tick(TimePoint now);

    // Block `index`, from local storage or from the first peer that has it; `done` gets the
    // value, or an error when cancelled (Closed), timed out (NotFound, naming the block), the
    // core truncated below it, or storage failed.
    RequestId get(std::uint64_t index, GetCallback done, std::optional<Duration> timeout = {});
    // Downloads [start, end) (end = nullopt: everything from start on, following appends, until
    // cancelled). `done` is called once every block of a bounded range is stored.
    RequestId download(std::uint64_t start, std::optional<std::uint64_t> end, DoneCallback done = {});
    // Resolves once every opened peer synced and the core is as long as the longest one on its
    // fork (true when the head moved since the call).
    RequestId update(UpdateCallback done);
    // Cancels a get (done gets Closed), a download (done gets Closed) or an update (false).
    void cancel(RequestId id);

    // Extensions: messages by name on every channel of this core. A message whose name is not
    // registered is dropped.
    void register_extension(std::string name, ExtensionHandler on_message);
    bool send_extension(const std::string& name, PeerId peer, ByteView message);
    void broadcast_extension(const std::string& name, ByteView message);

    std::vector<PeerInfo> peers() const;
    std::optional<PeerInfo> peer(PeerId id) const;
    std::size_t opened_peers() const noexcept;
    hypercore::Core& core() noexcept { return m_core; }

private:
    enum class Kind { Block, Upgrade, Fork, Manifest };
    struct Inflight {
        Kind kind = Kind::Block;
        std::uint64_t block = 0;
        std::uint64_t fork = 0;
        bool upgrade = false;
        bool manifest = false;
        TimePoint sent{};
    };
    struct Peer {
        PeerId id = 0;
        std::string name;
        protomux::Mux* mux = nullptr;
        bool initiator = false;
        Bytes handshake_hash;
        std::shared_ptr<protomux::Channel> channel;
        bool opened = false;
        bool cut_off = false;
        bool synced = false;
        hypercore::wire::Sync remote;
        std::uint64_t length_acked = 0;
        std::optional<std::uint64_t> sent_remote_length;  // remote_length of our last sync
        RangeSet has;
        std::uint64_t remote_contiguous = 0;
        std::map<std::uint64_t, Inflight> inflight;  // by request id
        std::uint64_t next_request = 1;
        std::set<std::uint64_t> wanted_batches;      // want messages we sent (batch numbers)
        std::uint64_t signaled_contiguous = 0;       // last range(0, n) we sent
        std::string last_extension_sent;
        std::string last_extension_received;
        std::size_t invalid_requests = 0;
        std::size_t not_available = 0;
        std::optional<std::uint64_t> no_fork_proof;  // it answered a fork request for this fork without one
        PeerInfo stats;
    };
    struct Get {
        std::uint64_t index = 0;
        GetCallback done;
        std::optional<TimePoint> deadline;
        std::optional<Duration> timeout;  // until the first tick() sets the deadline
    };
    struct Range {
        std::uint64_t start = 0;
        std::optional<std::uint64_t> end;
        DoneCallback done;
    };
    struct Update {
        std::uint64_t length = 0;
        std::uint64_t fork = 0;
        UpdateCallback done;
    };
    class Scope;

    Peer* find_peer(PeerId id);
    const Peer* find_peer(PeerId id) const;
    void open_channel(Peer& p);
    void on_remote_open(PeerId id, ByteView handshake);
    void on_channel_message(PeerId id, std::size_t type, ByteView payload);
    void on_channel_close(PeerId id, bool remote);
    void cut_off(Peer& p, Error error);
    void drop_inflight(Peer& p);
    void clear_marker(Peer& p, std::uint64_t request_id, const Inflight& req);

    // Incoming messages.
    void on_sync(Peer& p, const hypercore::wire::Sync& m);
    void on_request(Peer& p, const hypercore::wire::Request& m);
    void on_data(Peer& p, hypercore::wire::Data m);
    void on_no_data(Peer& p, const hypercore::wire::NoData& m);
    void on_want(Peer& p, const hypercore::wire::Want& m);
    void on_bitfield(Peer& p, const hypercore::wire::Bitfield& m);
    void on_range(Peer& p, const hypercore::wire::Range& m);
    void on_extension(Peer& p, const hypercore::wire::Extension& m);

    // Outgoing.
    void send(Peer& p, hypercore::wire::Type type, const Bytes& body);
    void send_sync(Peer& p);
    void send_no_data(Peer& p, std::uint64_t request, std::uint64_t reason);
    void announce_open(Peer& p);
    void broadcast_have(std::uint64_t index);
    void broadcast_contiguous(Peer& p);
    void send_request(Peer& p, Inflight req, hypercore::ProofRequest proof);

    // Scheduling.
    void update_all();
    void update_peer(Peer& p);
    bool can_download_from(const Peer& p) const;
    std::optional<std::uint64_t> next_block(Peer& p);
    std::optional<std::uint64_t> pick_in(Peer& p, std::uint64_t from, std::uint64_t end);
    void maybe_want(Peer& p, std::uint64_t index);
    bool remote_has(const Peer& p, std::uint64_t index) const;
    std::uint64_t missing_nodes(std::uint64_t index) const;
    void check_done();

    // Core listener.
    void core_appended(std::uint64_t length, std::uint64_t fork);
    void core_truncated(std::uint64_t to, std::uint64_t fork);
    void core_downloaded(std::uint64_t index, std::uint64_t bytes);

    void defer(std::function<void()> fn);
    void run_deferred();

    hypercore::Core& m_core;
    ReplicatorOptions m_options;
    ReplicatorEvents m_events;
    TimePoint m_now{};
    bool m_ticked = false;
    bool m_destroying = false;
    std::uint64_t m_last_length = 0;

    std::map<PeerId, std::unique_ptr<Peer>> m_peers;
    PeerId m_next_peer = 1;
    std::map<std::uint64_t, PeerId> m_block_inflight;  // block index -> peer asked
    std::optional<PeerId> m_upgrade_inflight;
    std::optional<PeerId> m_fork_inflight;
    std::optional<PeerId> m_manifest_inflight;
    std::optional<PeerId> m_current_source;  // the peer whose proof is being applied

    RequestId m_next_request = 1;
    std::multimap<std::uint64_t, RequestId> m_get_index;  // block index -> get
    std::map<RequestId, Get> m_gets;
    std::map<RequestId, Range> m_ranges;
    std::map<RequestId, Update> m_updates;
    std::map<std::string, ExtensionHandler> m_extensions;

    std::vector<std::function<void()>> m_deferred;
    int m_depth = 0;
    bool m_updating = false;
    bool m_update_again = false;
};

}  // namespace hs::v11::replication
