// The hypercore 9 replication engine for one core (docs/behaviour/replication.md): for each
// stream the core is opened on, one Peer speaks Want/Have/Request/Data with the remote, serves
// proofs from the Feed, verifies and stores what arrives, and announces local appends. Sans-IO:
// it only sends messages on Channels. Not thread-safe: the network thread only; `feed` must
// outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "v9/hypercore/feed.h"
#include "v9/protocol/stream.h"

namespace hs::protocol {

struct ReplicatorOptions {
    bool upload = true;    // answer requests
    bool download = true;  // ask for blocks we lack
    bool ack = false;      // ask peers to acknowledge each block
    std::size_t max_requests = 16;  // in flight per peer for selections
};

// A range of blocks to fetch: [start, end), or everything from `start` on when `end` is empty
// (live: keeps following appends).
struct DownloadRange {
    std::uint64_t start = 0;
    std::optional<std::uint64_t> end;
    // Update mode (hypercore 9 `update`): only the newest block any peer announces, whenever a
    // peer is longer than the local core, so the signed length grows without fetching the rest.
    // `start` is the local length when asked (the Want windows cover it). Ends by undownload.
    bool head = false;
    // With `head`: ask only for the proof of the newest block (Request.hash: its tree nodes and
    // signature, no data), as hypercore 9's update() does unless `hash: false`. The length grows
    // but no block is stored, so no download event fires and a later download of that block
    // fetches it.
    bool hash = false;
};

class FeedReplicator {
public:
    using DownloadId = std::uint64_t;

    FeedReplicator(hypercore::Feed& feed, ReplicatorOptions options = {});
    ~FeedReplicator();
    FeedReplicator(const FeedReplicator&) = delete;
    FeedReplicator& operator=(const FeedReplicator&) = delete;

    // Opens this core's channel on `stream` and replicates over it until either side closes.
    // Errc::Exists if the core is already open on that stream.
    Status add_stream(Stream& stream);

    // Fetch blocks of `range` from peers. Resolves (done() true) once every block is stored;
    // a range whose blocks are all stored is done at once.
    DownloadId download(DownloadRange range);
    void undownload(DownloadId id);
    bool done(DownloadId id) const;

    // Tell peers about blocks appended locally [start, start + count).
    void announce_append(std::uint64_t start, std::uint64_t count);

    // Call about once a second: a peer that leaves our requests unanswered for kStreamTimeout
    // has its stream closed ("Request timeout", as hypercore 9 does).
    void tick(Clock::time_point now);

    std::size_t peer_count() const noexcept;
    // True once at least one peer is open, every Want we sent was answered, nothing is in
    // flight, and every block of [start, end) that any peer announced is stored here.
    bool synced(std::uint64_t start = 0, std::optional<std::uint64_t> end = std::nullopt) const;
    // The largest length any connected peer has announced.
    std::uint64_t remote_length() const noexcept;
    // Some open peer announced block `index`.
    bool remote_has(std::uint64_t index) const;
    // Some open peer announced a block of [start, end) that is not stored here (end empty:
    // unbounded).
    bool remote_has_missing(std::uint64_t start, std::optional<std::uint64_t> end) const;
    // The ifAvailable guard (docs/behaviour/rpc.md "ifAvailable"): every peer has either opened
    // its channel and answered all our Wants, or closed. True with no peers.
    bool settled() const;
    // The streams whose remote opened this core's channel (the core's peers).
    std::vector<Stream*> peer_streams() const;

    // Core extensions (docs/behaviour/replication.md "Extensions"): our extension names (sent
    // sorted in Options to every peer, now and on open) and messages by name. `to` limits a send
    // to one stream.
    void set_extensions(std::vector<std::string> names);
    Status send_extension(std::string_view name, ByteView payload, const Stream* to = nullptr);
    // A peer sent an extension message whose name we registered.
    std::function<void(std::string_view name, ByteView payload, Stream& from)> on_extension;

    // Observers (set before add_stream).
    std::function<void()> on_length;  // the verified length grew through a peer (before on_download)
    std::function<void(std::uint64_t index, std::size_t bytes)> on_download;  // verified, stored
    std::function<void(std::uint64_t index, std::size_t bytes)> on_upload;    // served
    std::function<void()> on_peer_change;      // a peer opened, updated its length, or left
    std::function<void(Stream&)> on_peer_open;  // the remote opened this core on `stream`
    std::function<void(const Error&)> on_peer_error;  // a peer misbehaved; its stream closes

private:
    class Peer;
    friend class Peer;
    void pump();  // issue requests to peers for the active downloads
    void reap();  // drop closed peers
    void notify_peer_change();
    void block_downloaded(std::uint64_t index, std::size_t bytes, Peer* from);

    hypercore::Feed& m_feed;
    ReplicatorOptions m_options;
    std::list<std::unique_ptr<Peer>> m_peers;
    struct Download {
        DownloadId id;
        DownloadRange range;
        std::uint64_t cursor;  // every block below it is stored
    };
    std::vector<Download> m_downloads;
    std::unordered_set<std::uint64_t> m_reserved;  // requested from some peer
    std::vector<std::string> m_extensions;          // sorted, unique
    Clock::time_point m_now{};                      // the last tick()
    DownloadId m_next_download = 1;
};

}  // namespace hs::protocol
