#include "v9/protocol/replicator.h"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include "v9/hypercore/bitfield_rle.h"
#include "common/util/hex.h"

namespace hs::protocol {
namespace {

constexpr std::uint64_t kWantWindow = 1024 * 1024;  // blocks per Want, as every JS peer asks
constexpr std::size_t kMaxInflightWants = 16;
constexpr std::uint64_t kBlocksPerPage = 8192;
// A Have bitfield covers at most one want window: 128 KiB of bits (plus the decoder's padding).
constexpr std::size_t kMaxHaveBitfieldBytes = kWantWindow / 8 + 8;
// Answers we buffer for one stream before a further request counts as a flood.
constexpr std::size_t kMaxUnreadResponseBytes = 128 << 20;

// What one remote peer has: sparse pages of 8192 bits.
class RemoteBits {
public:
    static constexpr std::size_t kMaxPages = 1 << 16;  // 512M blocks, 64 MiB: a peer's limit
    bool full() const noexcept { return m_pages.size() >= kMaxPages; }
    bool get(std::uint64_t i) const {
        auto it = m_pages.find(i / kBlocksPerPage);
        if (it == m_pages.end()) return false;
        const std::uint64_t bit = i % kBlocksPerPage;
        return it->second[bit / 8] & (0x80 >> (bit % 8));
    }
    void set(std::uint64_t i, bool value) {
        const std::uint64_t bit = i % kBlocksPerPage;
        if (value) {
            m_pages[i / kBlocksPerPage][bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
            m_last = std::max(m_last, i + 1);
        } else if (auto it = m_pages.find(i / kBlocksPerPage); it != m_pages.end()) {
            it->second[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
        }
    }
    // Replaces the bits of [start, start + 8 * bytes.size()) with `bytes` (MSB first).
    // REQUIRES: start is a multiple of 8192.
    void fill(std::uint64_t start, ByteView bytes) {
        for (std::size_t off = 0; off < bytes.size(); off += kBlocksPerPage / 8) {
            const std::size_t n = std::min<std::size_t>(kBlocksPerPage / 8, bytes.size() - off);
            const std::uint64_t page = (start + off * 8) / kBlocksPerPage;
            auto chunk = bytes.subspan(off, n);
            if (all_zero(chunk)) {
                if (auto it = m_pages.find(page); it != m_pages.end()) {
                    std::fill_n(it->second.begin(), n, 0);
                }
                continue;
            }
            auto& p = m_pages[page];
            std::copy(chunk.begin(), chunk.end(), p.begin());
            for (std::size_t b = n; b-- > 0;) {
                if (chunk[b]) {
                    const int low = __builtin_ctz(chunk[b]);
                    m_last = std::max(m_last, page * kBlocksPerPage + b * 8 + (7 - low) + 1);
                    break;
                }
            }
        }
    }
    void clear() {
        m_pages.clear();
        m_last = 0;
    }
    // One past the highest index ever set (an upper bound of what the remote has).
    std::uint64_t last() const noexcept { return m_last; }

private:
    std::unordered_map<std::uint64_t, std::array<std::uint8_t, kBlocksPerPage / 8>> m_pages;
    std::uint64_t m_last = 0;
};

msg::Data make_data(std::uint64_t index, std::optional<Bytes> value, const hypercore::Proof& proof) {
    msg::Data d;
    d.index = index;
    d.value = std::move(value);
    d.nodes.reserve(proof.nodes.size());
    for (const auto& n : proof.nodes) d.nodes.push_back({n.index, to_bytes(n.hash), n.size});
    if (proof.signature) d.signature = to_bytes(*proof.signature);
    return d;
}

}  // namespace

// ---- Peer: one channel of this core on one stream ----

class FeedReplicator::Peer final : public ChannelHandler {
public:
    Peer(FeedReplicator& owner) : m_owner(owner) {}

    Channel* channel = nullptr;
    bool closed = false;
    bool remote_opened = false;
    bool remote_uploading = true;
    bool remote_wants = false;  // the remote sent a Want: it gets our live Haves
    bool remote_ack = false;
    std::uint64_t remote_length = 0;
    std::vector<std::string> remote_extensions;  // the remote's sorted names, indexed by id
    std::size_t inflight_wants = 0;
    std::unordered_set<std::uint64_t> wants_sent;  // window numbers
    std::unordered_set<std::uint64_t> inflight;    // block indexes requested from this peer
    Clock::time_point last_progress{};             // a request went out to an idle peer, or data came
    RemoteBits remote;
    hypercore::SparseBitset remote_tree;  // proof nodes the remote is known to have

    void on_remote_open(Channel& ch) override {
        remote_opened = true;
        auto& o = m_owner.m_options;
        if (o.ack || !m_owner.m_extensions.empty()) send_options();
        if (!o.upload || !o.download) {
            msg::PeerStatus st;
            st.uploading = o.upload;
            st.downloading = o.download;
            ch.send(st);
        }
        send_wants();
        if (m_owner.on_peer_open) m_owner.on_peer_open(ch.stream());
        m_owner.notify_peer_change();
    }

    Status on_message(Channel& ch, const msg::Message& m) override {
        Status s = std::visit([&](const auto& x) { return handle(ch, x); }, m);
        if (s.ok()) m_owner.pump();
        return s;
    }

    void on_close(Channel&) override {
        if (closed) return;
        closed = true;
        for (auto i : inflight) m_owner.m_reserved.erase(i);
        inflight.clear();
        channel = nullptr;
        m_owner.notify_peer_change();
    }

    // Wants: always window 0, then the windows of the active downloads up to the remote length;
    // at most 16 unanswered (docs/behaviour/replication.md "Wants and Haves").
    void send_wants() {
        if (!channel || !remote_opened || !remote_uploading || !m_owner.m_options.download) return;
        auto want_window = [&](std::uint64_t w) {
            if (!wants_sent.insert(w).second) return;
            ++inflight_wants;
            msg::Want want;
            want.start = w * kWantWindow;
            want.length = kWantWindow;
            channel->send(want);
        };
        want_window(0);
        for (const auto& d : m_owner.m_downloads) {
            const std::uint64_t end = std::min(d.range.end.value_or(~std::uint64_t{0}), remote_length);
            for (std::uint64_t w = d.range.start / kWantWindow;
                 w * kWantWindow < end && inflight_wants < kMaxInflightWants; ++w)
                want_window(w);
        }
    }

    void send_options() {
        if (!channel) return;
        msg::Options options;
        if (m_owner.m_options.ack) options.ack = true;
        options.extensions = m_owner.m_extensions;
        channel->send(options);
    }

    // `hash`: only the proof of the block (its tree nodes and signature), no data.
    void request(std::uint64_t index, bool hash = false) {
        if (inflight.empty()) last_progress = m_owner.m_now;
        inflight.insert(index);
        m_owner.m_reserved.insert(index);
        msg::Request r;
        r.index = index;
        if (hash) r.hash = true;
        const std::uint64_t digest = m_owner.m_feed.digest(index);
        if (digest) r.nodes = digest;
        channel->send(r);
    }

private:
    Status handle(Channel&, const msg::Open&) { return {}; }
    Status handle(Channel&, const msg::Close&) { return {}; }
    Status handle(Channel&, const msg::Ignored&) { return {}; }
    Status handle(Channel&, const msg::Unwant&) { return {}; }
    Status handle(Channel&, const msg::Cancel&) { return {}; }
    Status handle(Channel& ch, const msg::Extension& e) {
        // The id indexes the sender's list; deliver only names we registered too.
        if (e.id >= remote_extensions.size()) return {};
        const std::string& name = remote_extensions[e.id];
        if (!std::binary_search(m_owner.m_extensions.begin(), m_owner.m_extensions.end(), name)) return {};
        if (m_owner.on_extension) m_owner.on_extension(name, e.payload, ch.stream());
        return {};
    }

    Status handle(Channel&, const msg::Options& o) {
        remote_ack = o.ack_or_default();
        remote_extensions = o.extensions;
        return {};
    }

    Status handle(Channel&, const msg::PeerStatus& st) {
        remote_uploading = st.uploading.value_or(true);
        if (!remote_uploading) {
            for (auto i : inflight) m_owner.m_reserved.erase(i);
            inflight.clear();
            inflight_wants = 0;
            wants_sent.clear();
        }
        return {};
    }

    Status handle(Channel& ch, const msg::Want& w) {
        if (!m_owner.m_options.upload) return {};
        const std::uint64_t len = w.length_or_default();
        if ((w.start & (kBlocksPerPage - 1)) || (len & (kBlocksPerPage - 1))) return {};
        auto& feed = m_owner.m_feed;
        if (!remote_wants && feed.length() && feed.has(feed.length() - 1)) {
            msg::Have hint;
            hint.start = feed.length() - 1;
            ch.send(hint);
        }
        remote_wants = true;
        msg::Have have;
        have.start = w.start;
        have.length = len;
        have.bitfield = feed.bitfield().compress(w.start, len);
        ch.send(have);
        return {};
    }

    Status handle(Channel&, const msg::Have& h) {
        const std::uint64_t len = h.length_or_default();
        if (h.ack_or_default() && !h.bitfield) return {};  // an acknowledgement
        if (len == kWantWindow && inflight_wants > 0) --inflight_wants;
        if (h.bitfield) {
            if (h.start % kBlocksPerPage)
                return make_error(Errc::Protocol, "Have with a bitfield at unaligned start {}", h.start);
            auto bits = hypercore::rle_decode(*h.bitfield, kMaxHaveBitfieldBytes);
            if (!bits) return make_error(Errc::Protocol, "bad Have bitfield: {}", bits.error().message);
            if (remote.full()) return make_error(Errc::Protocol, "peer announced too many sparse blocks");
            remote.fill(h.start, *bits);
            remote_length = std::max(remote_length, remote.last());
        } else {
            if (len > kWantWindow || h.start > (std::uint64_t{1} << 60))
                return make_error(Errc::Protocol, "Have of {} blocks at {} is out of range", len, h.start);
            if (remote.full()) return make_error(Errc::Protocol, "peer announced too many sparse blocks");
            for (std::uint64_t i = h.start; i < h.start + len; ++i) remote.set(i, true);
            remote_length = std::max(remote_length, h.start + len);
        }
        send_wants();
        m_owner.notify_peer_change();
        return {};
    }

    Status handle(Channel&, const msg::Unhave& u) {
        const std::uint64_t len = u.length_or_default();
        if (u.start == 0 && len >= remote_length) {
            remote.clear();
            remote_length = 0;
            return {};
        }
        const std::uint64_t end = std::min(u.start + std::min<std::uint64_t>(len, kWantWindow), remote.last());
        for (std::uint64_t i = u.start; i < end; ++i) remote.set(i, false);
        return {};
    }

    Status handle(Channel& ch, const msg::Request& r) {
        if (!m_owner.m_options.upload) return {};
        // A peer that keeps requesting without reading the answers would make us buffer without
        // bound (a JS peer has at most 32 requests in flight).
        if (ch.stream().output_bytes() > kMaxUnreadResponseBytes)
            return make_error(Errc::Protocol, "peer floods requests: {} MiB of answers are unread",
                              ch.stream().output_bytes() >> 20);
        auto& feed = m_owner.m_feed;
        std::uint64_t index = r.index;
        if (r.bytes_or_default()) {
            auto s = feed.seek(r.bytes_or_default());
            if (!s) return {};  // beyond what we have: nothing to send
            index = s->index;
        }
        const bool hash = r.hash_or_default();
        auto proof = feed.proof(index, r.nodes_or_default(), hash, remote_tree);
        if (!proof)
            return make_error(Errc::Protocol, "peer requested block {} which we cannot prove: {}", index,
                              proof.error().message);
        std::optional<Bytes> value;
        if (!hash && feed.has(index)) {
            auto v = feed.get(index);
            if (!v) return make_error(Errc::Io, "cannot read block {}: {}", index, v.error().message);
            value = std::move(*v);
        }
        const std::size_t size = value ? value->size() : 0;
        ch.send(make_data(index, std::move(value), *proof));
        remote_length = std::max(remote_length, index + 1);
        if (m_owner.on_upload && !hash) m_owner.on_upload(index, size);
        return {};
    }

    Status handle(Channel& ch, const msg::Data& d) {
        auto& feed = m_owner.m_feed;
        if (!inflight.count(d.index) && d.value) {
            // Unrequested push: refuse it (hypercore 9 answers with Unhave).
            if (!feed.has(d.index)) {
                msg::Unhave u;
                u.start = d.index;
                ch.send(u);
            }
            return {};
        }
        hypercore::Proof proof;
        proof.nodes.reserve(d.nodes.size());
        for (const auto& n : d.nodes) {
            if (n.hash.size() != 32)
                return make_error(Errc::Protocol, "Data for block {}: node hash of {} bytes", d.index, n.hash.size());
            hypercore::Node node;
            node.index = n.index;
            std::copy(n.hash.begin(), n.hash.end(), node.hash.begin());
            node.size = n.size;
            proof.nodes.push_back(node);
        }
        if (d.signature) {
            if (d.signature->size() != 64)
                return make_error(Errc::Protocol, "Data for block {}: signature of {} bytes", d.index,
                                  d.signature->size());
            crypto::Signature sig;
            std::copy(d.signature->begin(), d.signature->end(), sig.begin());
            proof.signature = sig;
        }
        std::optional<ByteView> value;
        if (d.value) value = ByteView(*d.value);
        auto put = feed.put(d.index, value, std::move(proof));
        last_progress = m_owner.m_now;
        inflight.erase(d.index);
        m_owner.m_reserved.erase(d.index);
        if (!put) {
            return make_error(Errc::VerificationFailed, "peer sent block {} that does not verify: {}", d.index,
                              put.error().message);
        }
        if (remote_ack) {
            msg::Have ack;
            ack.start = d.index;
            ack.length = 1;
            ack.ack = true;
            ch.send(ack);
        }
        if (put->appended && m_owner.on_length) m_owner.on_length();
        if (d.value && put->new_block) m_owner.block_downloaded(d.index, d.value->size(), this);
        return {};
    }

    FeedReplicator& m_owner;
};

// ---- FeedReplicator ----

FeedReplicator::FeedReplicator(hypercore::Feed& feed, ReplicatorOptions options)
    : m_feed(feed), m_options(options) {}

FeedReplicator::~FeedReplicator() {
    for (auto& p : m_peers)
        if (p->channel && !p->closed) p->channel->close();
}

Status FeedReplicator::add_stream(Stream& stream) {
    reap();
    if (stream.find(m_feed.discovery_key()))
        return make_error(Errc::Exists, "core {} is already open on this stream", to_hex(m_feed.key()));
    auto peer = std::make_unique<Peer>(*this);
    auto* raw = peer.get();
    m_peers.push_back(std::move(peer));
    Channel* ch = stream.open(m_feed.key(), *raw);
    if (!ch) {
        m_peers.pop_back();
        return make_error(Errc::Exists, "core {} is already open on this stream", to_hex(m_feed.key()));
    }
    raw->channel = ch;
    if (ch->remote_opened() && !raw->remote_opened) raw->on_remote_open(*ch);
    return {};
}

void FeedReplicator::reap() {
    m_peers.remove_if([](const std::unique_ptr<Peer>& p) { return p->closed; });
}

void FeedReplicator::notify_peer_change() {
    if (on_peer_change) on_peer_change();
}

FeedReplicator::DownloadId FeedReplicator::download(DownloadRange range) {
    const DownloadId id = m_next_download++;
    m_downloads.push_back({id, range, range.start});
    for (auto& p : m_peers)
        if (!p->closed) p->send_wants();
    pump();
    return id;
}

void FeedReplicator::undownload(DownloadId id) {
    std::erase_if(m_downloads, [id](const Download& d) { return d.id == id; });
}

bool FeedReplicator::done(DownloadId id) const {
    for (const auto& d : m_downloads) {
        if (d.id != id) continue;
        if (!d.range.end) return false;
        return m_feed.has(d.range.start, *d.range.end);
    }
    return true;  // finished and removed, or never existed
}

void FeedReplicator::set_extensions(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names == m_extensions) return;
    m_extensions = std::move(names);
    for (auto& p : m_peers)
        if (!p->closed && p->remote_opened) p->send_options();
}

Status FeedReplicator::send_extension(std::string_view name, ByteView payload, const Stream* to) {
    auto it = std::lower_bound(m_extensions.begin(), m_extensions.end(), name);
    if (it == m_extensions.end() || *it != name)
        return make_error(Errc::NotFound, "extension '{}' is not registered on core {}", name,
                          to_hex(m_feed.key()));
    msg::Extension e;
    e.id = static_cast<std::uint64_t>(it - m_extensions.begin());
    e.payload = to_bytes(payload);
    for (auto& p : m_peers) {
        if (p->closed || !p->channel || !p->remote_opened) continue;
        if (to && &p->channel->stream() != to) continue;
        p->channel->send(e);
    }
    return {};
}

void FeedReplicator::announce_append(std::uint64_t start, std::uint64_t count) {
    if (!count) return;
    msg::Have have;
    have.start = start;
    if (count > 1) have.length = count;
    for (auto& p : m_peers)
        if (!p->closed && p->channel && p->remote_wants) p->channel->send(have);
}

void FeedReplicator::tick(Clock::time_point now) {
    m_now = now;
    for (auto& p : m_peers) {
        if (p->closed || !p->channel || p->inflight.empty()) continue;
        if (p->last_progress == Clock::time_point{}) p->last_progress = now;
        if (now - p->last_progress >= kStreamTimeout)
            p->channel->stream().close(make_error(
                Errc::Io, "Request timeout: {} requests for core {} unanswered for {} s", p->inflight.size(),
                to_hex(m_feed.key()), std::chrono::duration_cast<std::chrono::seconds>(kStreamTimeout).count()));
    }
}

std::size_t FeedReplicator::peer_count() const noexcept {
    std::size_t n = 0;
    for (const auto& p : m_peers) n += (!p->closed && p->remote_opened) ? 1 : 0;
    return n;
}

std::uint64_t FeedReplicator::remote_length() const noexcept {
    std::uint64_t n = 0;
    for (const auto& p : m_peers)
        if (!p->closed) n = std::max(n, p->remote_length);
    return n;
}

bool FeedReplicator::remote_has(std::uint64_t index) const {
    for (const auto& p : m_peers)
        if (!p->closed && p->remote_opened && p->remote.get(index)) return true;
    return false;
}

bool FeedReplicator::remote_has_missing(std::uint64_t start,
                                        std::optional<std::uint64_t> end) const {
    for (const auto& p : m_peers) {
        if (p->closed || !p->remote_opened) continue;
        const std::uint64_t stop = std::min(end.value_or(~std::uint64_t{0}), p->remote.last());
        for (std::uint64_t i = start; i < stop; ++i) {
            auto missing = m_feed.next_missing(i, stop);
            if (!missing) break;
            i = *missing;
            if (p->remote.get(i)) return true;
        }
    }
    return false;
}

bool FeedReplicator::settled() const {
    for (const auto& p : m_peers) {
        if (p->closed) continue;
        if (!p->remote_opened || p->inflight_wants) return false;
    }
    return true;
}

std::vector<Stream*> FeedReplicator::peer_streams() const {
    std::vector<Stream*> out;
    for (const auto& p : m_peers)
        if (!p->closed && p->remote_opened && p->channel) out.push_back(&p->channel->stream());
    return out;
}

bool FeedReplicator::synced(std::uint64_t start, std::optional<std::uint64_t> end) const {
    bool any = false;
    for (const auto& p : m_peers) {
        if (p->closed || !p->remote_opened) continue;
        any = true;
        if (p->inflight_wants || !p->inflight.empty()) return false;
        if (!p->remote_uploading) continue;
        // Every block of the range this peer announced must be stored here.
        const std::uint64_t stop = std::min(end.value_or(~std::uint64_t{0}), p->remote.last());
        for (std::uint64_t i = start; i < stop; ++i)
            if (p->remote.get(i) && !m_feed.has(i)) return false;
    }
    return any;
}

void FeedReplicator::block_downloaded(std::uint64_t index, std::size_t bytes, Peer* from) {
    msg::Have have;
    have.start = index;
    for (auto& p : m_peers)
        if (p.get() != from && !p->closed && p->channel && p->remote_wants) p->channel->send(have);
    if (on_download) on_download(index, bytes);
}

void FeedReplicator::pump() {
    if (!m_options.download) return;
    // Finished bounded downloads leave the list.
    std::erase_if(m_downloads, [this](const Download& d) {
        return d.range.end && m_feed.has(d.range.start, *d.range.end);
    });
    for (auto& peer : m_peers) {
        Peer& p = *peer;
        if (p.closed || !p.channel || !p.remote_opened || !p.remote_uploading) continue;
        for (auto& d : m_downloads) {
            if (p.inflight.size() >= m_options.max_requests) break;
            if (d.range.head) {
                const std::uint64_t newest = remote_length();
                if (newest <= m_feed.length()) continue;
                const std::uint64_t i = newest - 1;
                if (!m_feed.has(i) && !m_reserved.count(i) && p.remote.get(i))
                    p.request(i, d.range.hash);
                continue;
            }
            const std::uint64_t end = std::min(d.range.end.value_or(~std::uint64_t{0}), p.remote.last());
            // Skip the stored prefix once, then look for blocks this peer has and nobody fetches.
            while (d.cursor < end && m_feed.has(d.cursor)) ++d.cursor;
            std::uint64_t i = d.cursor;
            while (i < end && p.inflight.size() < m_options.max_requests) {
                auto missing = m_feed.next_missing(i, end);
                if (!missing) break;
                i = *missing;
                if (p.remote.get(i) && !m_reserved.count(i)) p.request(i);
                ++i;
            }
        }
    }
}

}  // namespace hs::protocol
