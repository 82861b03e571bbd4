#include "v11/replication/replicator.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <utility>

#include "common/util/hex.h"
#include "v11/hypercore/manifest.h"
#include "v11/replication/replicator_internal.h"

namespace hs::v11::replication {

namespace wire = hypercore::wire;
using wire::Type;
using namespace detail;

Replicator::Replicator(hypercore::Core& core, ReplicatorOptions options, ReplicatorEvents events)
    : m_core(core), m_options(options), m_events(std::move(events)) {
    if (m_options.max_inflight == 0) m_options.max_inflight = 1;
    m_last_length = core.length();
    hypercore::CoreListener listener;
    listener.on_append = [this](std::uint64_t length, std::uint64_t fork) {
        if (m_destroying) return;
        Scope s(*this);
        core_appended(length, fork);
    };
    listener.on_truncate = [this](std::uint64_t to, std::uint64_t fork) {
        if (m_destroying) return;
        Scope s(*this);
        core_truncated(to, fork);
    };
    listener.on_download = [this](std::uint64_t index, std::uint64_t bytes) {
        if (m_destroying) return;
        Scope s(*this);
        core_downloaded(index, bytes);
    };
    m_core.set_listener(std::move(listener));
}

Replicator::~Replicator() {
    m_destroying = true;
    m_core.set_listener({});
    for (auto& [id, p] : m_peers) {
        if (p->channel && !p->channel->closed()) p->channel->close();
        if (p->mux) p->mux->unpair(kProtocol, Bytes(m_core.discovery_key().begin(), m_core.discovery_key().end()));
    }
}

// ---- Connections ----------------------------------------------------------------------------

PeerId Replicator::attach(protomux::Mux& mux, bool initiator, ByteView handshake_hash, std::string name) {
    Scope s(*this);
    auto p = std::make_unique<Peer>();
    const PeerId id = m_next_peer++;
    p->id = id;
    p->name = std::move(name);
    p->mux = &mux;
    p->initiator = initiator;
    p->handshake_hash.assign(handshake_hash.begin(), handshake_hash.end());
    p->stats.id = id;
    p->stats.name = p->name;
    Peer& ref = *p;
    m_peers.emplace(id, std::move(p));
    const auto& dk = m_core.discovery_key();
    mux.pair(kProtocol, Bytes(dk.begin(), dk.end()), [this, id](const std::optional<Bytes>&) {
        if (m_destroying) return;
        Scope s(*this);
        Peer* p = find_peer(id);
        if (!p || p->cut_off) return;  // unanswered: the mux rejects the remote's open
        if (p->channel && !p->channel->closed()) return;
        open_channel(*p);
    });
    open_channel(ref);
    return id;
}

void Replicator::detach(PeerId id) {
    Scope s(*this);
    Peer* p = find_peer(id);
    if (!p) return;
    const auto& dk = m_core.discovery_key();
    p->mux->unpair(kProtocol, Bytes(dk.begin(), dk.end()));
    auto channel = p->channel;
    if (channel && !channel->closed()) channel->close();  // on_channel_close clears its requests
    p = find_peer(id);
    if (p) drop_inflight(*p);
    m_peers.erase(id);
    update_all();
    check_done();
}

void Replicator::open_channel(Peer& p) {
    const auto& dk = m_core.discovery_key();
    protomux::ChannelOptions o;
    o.protocol = kProtocol;
    o.id = Bytes(dk.begin(), dk.end());
    wire::Handshake hs;
    hs.seeks = false;  // we never answer seek requests
    hs.capability = hypercore::replication_capability(p.initiator, m_core.key(), p.handshake_hash);
    o.handshake = wire::encode(hs);
    o.message_types = wire::kMessageTypes;
    const PeerId id = p.id;
    o.on_open = [this, id](ByteView remote) {
        if (m_destroying) return;
        Scope s(*this);
        on_remote_open(id, remote);
    };
    o.on_message = [this, id](std::size_t type, ByteView payload) {
        if (m_destroying) return;
        Scope s(*this);
        on_channel_message(id, type, payload);
    };
    o.on_close = [this, id](bool remote) {
        if (m_destroying) return;
        Scope s(*this);
        on_channel_close(id, remote);
    };
    auto channel = p.mux->create_channel(std::move(o), true);
    if (!channel) return;
    // A fresh channel: what we knew of the remote belongs to the old one.
    p.opened = false;
    p.synced = false;
    p.remote = {};
    p.length_acked = 0;
    p.sent_remote_length.reset();
    p.has.clear();
    drop_inflight(p);
    p.wanted_batches.clear();
    p.signaled_contiguous = 0;
    p.last_extension_sent.clear();
    p.last_extension_received.clear();
    p.no_fork_proof.reset();
    p.channel = channel;
    channel->open();  // may open fully right away (the remote's open waited for us)
}

void Replicator::on_remote_open(PeerId id, ByteView handshake) {
    Peer* p = find_peer(id);
    if (!p) return;
    wire::Handshake hs;
    try {
        hs = wire::decode_handshake(handshake);
    } catch (const std::exception& e) {
        cut_off(*p, make_error(Errc::Protocol, "peer {}: malformed hypercore/alpha handshake for core {}: {}",
                               p->name, short_key(m_core.discovery_key()), e.what()));
        return;
    }
    const auto expected = hypercore::replication_capability(!p->initiator, m_core.key(), p->handshake_hash);
    if (hs.capability != expected) {
        cut_off(*p, make_error(Errc::VerificationFailed,
                               "peer {} sent a wrong replication capability for core {} (it does not know the "
                               "key, or the connection was tampered with); channel closed",
                               p->name, short_key(m_core.discovery_key())));
        return;
    }
    if (p->opened) return;
    p->opened = true;
    p->stats.opened = true;
    announce_open(*p);
    if (m_events.on_peer_open) defer([this, id] {
            if (m_events.on_peer_open) m_events.on_peer_open(id);
        });
    update_all();
}

void Replicator::on_channel_close(PeerId id, bool) {
    Peer* p = find_peer(id);
    if (!p) return;
    const bool was_open = p->opened;
    p->opened = false;
    drop_inflight(*p);
    if (was_open && !p->cut_off) {
        defer([this, id] {
            if (m_events.on_peer_close) m_events.on_peer_close(id, Error{});
        });
    }
    update_all();
    check_done();
}

void Replicator::cut_off(Peer& p, Error error) {
    if (p.cut_off) return;
    p.cut_off = true;
    p.stats.cut_off = true;
    drop_inflight(p);
    const PeerId id = p.id;
    auto channel = p.channel;
    if (channel && !channel->closed()) channel->close();
    defer([this, id, error = std::move(error)] {
        if (m_events.on_peer_error) m_events.on_peer_error(id, error);
    });
    update_all();
    check_done();
}

void Replicator::drop_inflight(Peer& p) {
    for (const auto& [rid, req] : p.inflight) clear_marker(p, rid, req);
    p.inflight.clear();
}

void Replicator::clear_marker(Peer& p, std::uint64_t, const Inflight& req) {
    if (req.kind == Kind::Block) {
        auto it = m_block_inflight.find(req.block);
        if (it != m_block_inflight.end() && it->second == p.id) m_block_inflight.erase(it);
    }
    if (req.upgrade && m_upgrade_inflight == p.id) m_upgrade_inflight.reset();
    if (req.kind == Kind::Fork && m_fork_inflight == p.id) m_fork_inflight.reset();
    if (req.manifest && m_manifest_inflight == p.id) m_manifest_inflight.reset();
}

Replicator::Peer* Replicator::find_peer(PeerId id) {
    auto it = m_peers.find(id);
    return it == m_peers.end() ? nullptr : it->second.get();
}

const Replicator::Peer* Replicator::find_peer(PeerId id) const {
    auto it = m_peers.find(id);
    return it == m_peers.end() ? nullptr : it->second.get();
}

// ---- Incoming messages ----------------------------------------------------------------------

void Replicator::on_channel_message(PeerId id, std::size_t type, ByteView payload) {
    Peer* p = find_peer(id);
    if (!p || p->cut_off || !p->opened) return;
    try {
        switch (static_cast<Type>(type)) {
            case Type::sync: on_sync(*p, wire::decode_sync(payload)); break;
            case Type::request: on_request(*p, wire::decode_request(payload)); break;
            case Type::cancel: (void)wire::decode_cancel(payload); break;  // we answer at once
            case Type::data: on_data(*p, wire::decode_data(payload)); break;
            case Type::no_data: on_no_data(*p, wire::decode_no_data(payload)); break;
            case Type::want: on_want(*p, wire::decode_want(payload)); break;
            case Type::unwant: (void)wire::decode_unwant(payload); break;
            case Type::bitfield: on_bitfield(*p, wire::decode_bitfield(payload)); break;
            case Type::range: on_range(*p, wire::decode_range(payload)); break;
            case Type::extension: on_extension(*p, wire::decode_extension(payload)); break;
        }
    } catch (const std::exception& e) {
        // Only the decoders throw here: the message was malformed.
        p = find_peer(id);
        if (p)
            cut_off(*p, make_error(Errc::Protocol, "peer {} sent a malformed hypercore/alpha message (type {}) for "
                                   "core {}: {}", p->name, type, short_key(m_core.discovery_key()), e.what()));
    }
}

void Replicator::on_sync(Peer& p, const wire::Sync& m) {
    p.synced = true;
    p.stats.synced = true;
    p.remote = m;
    p.stats.remote_fork = m.fork;
    p.stats.remote_length = m.length;
    p.length_acked = m.fork == m_core.fork() ? m.remote_length : 0;
    if (m.length < kMaxIndex) p.has.erase(m.length, kNone);  // nothing past its length is real
    p.no_fork_proof.reset();
    const std::uint64_t expected = m.fork == m_core.fork() ? m.length : 0;
    if (!p.sent_remote_length || *p.sent_remote_length != expected) send_sync(p);
    update_all();
    check_done();
}

void Replicator::on_request(Peer& p, const wire::Request& m) {
    const auto& req = m.proof;
    const bool unavailable = req.fork != m_core.fork() || (req.block && !m_core.has(req.block->index));
    if (unavailable) {
        if (req.manifest && m_core.manifest() && !m_core.compat()) {
            wire::Data d;
            d.request = m.id;
            d.proof.fork = m_core.fork();
            d.proof.manifest = *m_core.manifest();
            send(p, Type::data, wire::encode(d));
            return;
        }
        send_no_data(p, m.id, kNotAvailable);
        return;
    }
    auto proof = m_core.proof(req);
    if (!proof) {
        if (proof.error().code == Errc::NotFound) {
            send_no_data(p, m.id, kNotAvailable);
            return;
        }
        if (proof.error().code == Errc::Io) {
            const PeerId id = p.id;
            defer([this, id, e = proof.error()] {
                if (m_events.on_peer_error) m_events.on_peer_error(id, e);
            });
            send_no_data(p, m.id, kNotAvailable);
            return;
        }
        send_no_data(p, m.id, kInvalidRequest);
        if (++p.invalid_requests >= m_options.max_invalid_requests) {
            cut_off(p, make_error(Errc::Protocol, "peer {} sent {} requests for core {} that cannot be answered "
                                  "(last: {})", p.name, p.invalid_requests, short_key(m_core.discovery_key()),
                                  proof.error().message));
        }
        return;
    }
    wire::Data d;
    d.request = m.id;
    d.proof = std::move(proof).value();
    d.proof.fork = req.fork;
    if (req.manifest && !d.proof.manifest && m_core.manifest() && !m_core.compat()) d.proof.manifest = *m_core.manifest();
    if (d.proof.block) {
        const std::uint64_t index = d.proof.block->index;
        const std::uint64_t bytes = d.proof.block->value.size();
        ++p.stats.uploaded_blocks;
        p.stats.uploaded_bytes += bytes;
        const PeerId id = p.id;
        if (m_events.on_upload) defer([this, index, bytes, id] {
                if (m_events.on_upload) m_events.on_upload(index, bytes, id);
            });
    }
    send(p, Type::data, wire::encode(d));
}

void Replicator::on_data(Peer& p, wire::Data m) {
    auto it = m.request == 0 ? p.inflight.end() : p.inflight.find(m.request);
    if (it == p.inflight.end()) return;  // unsolicited (a push, or already cancelled): ignored, as JS does
    const Inflight req = it->second;
    p.inflight.erase(it);
    clear_marker(p, m.request, req);
    const auto& proof = m.proof;
    bool matches = proof.fork == req.fork && !proof.hash && !proof.seek;
    if (proof.block && (req.kind != Kind::Block || proof.block->index != req.block)) matches = false;
    if (proof.upgrade && !req.upgrade) matches = false;
    if (!matches) {
        cut_off(p, make_error(Errc::Protocol, "peer {} answered request {} for core {} with a proof that does not "
                              "match it", p.name, m.request, short_key(m_core.discovery_key())));
        return;
    }
    // Asked on a fork we since left: the answer proves nothing about our tree.
    if (req.kind == Kind::Fork ? req.fork <= m_core.fork() : req.fork != m_core.fork()) {
        update_all();
        return;
    }
    const bool incomplete = (req.kind == Kind::Block && !proof.block) ||
                            ((req.kind == Kind::Upgrade || req.kind == Kind::Fork) && !proof.upgrade) ||
                            (req.kind == Kind::Manifest && !proof.manifest);
    if (incomplete) {
        // Like noData: the peer could not give what we asked.
        if (req.kind == Kind::Block) p.has.erase(req.block, req.block + 1);
        if (req.kind == Kind::Upgrade) p.remote.can_upgrade = false;
        if (req.kind == Kind::Fork) p.no_fork_proof = req.fork;
        if (req.kind == Kind::Manifest) p.remote.has_manifest = false;
        ++p.not_available;
        if (proof.upgrade || proof.manifest) {
            // Still worth verifying (and storing) what it did send.
        } else {
            update_all();
            return;
        }
    }
    m_current_source = p.id;
    auto applied = m_core.verify_and_apply(proof);
    m_current_source.reset();
    if (!applied) {
        if (applied.error().code == Errc::Io) {
            const PeerId id = p.id;
            defer([this, id, e = applied.error()] {
                if (m_events.on_peer_error) m_events.on_peer_error(id, e);
            });
            update_all();
            return;
        }
        cut_off(p, make_error(Errc::VerificationFailed, "peer {} sent data for core {} that failed verification "
                              "(nothing of it was stored): {}", p.name, short_key(m_core.discovery_key()),
                              applied.error().message));
        return;
    }
    if (proof.block && applied->block) {
        p.not_available = 0;  // it serves: earlier misses were races, not a dead peer
        ++p.stats.downloaded_blocks;
        p.stats.downloaded_bytes += proof.block->value.size();
        const std::uint64_t index = proof.block->index;
        const std::uint64_t bytes = proof.block->value.size();
        const PeerId id = p.id;
        if (m_events.on_download) defer([this, index, bytes, id] {
                if (m_events.on_download) m_events.on_download(index, bytes, id);
            });
    }
    update_all();
    check_done();
}

void Replicator::on_no_data(Peer& p, const wire::NoData& m) {
    auto it = m.request == 0 ? p.inflight.end() : p.inflight.find(m.request);
    if (it == p.inflight.end()) return;
    const Inflight req = it->second;
    p.inflight.erase(it);
    clear_marker(p, m.request, req);
    ++p.not_available;
    switch (req.kind) {
        case Kind::Block: p.has.erase(req.block, req.block + 1); break;
        case Kind::Upgrade: p.remote.can_upgrade = false; break;  // until its next sync
        case Kind::Fork: p.no_fork_proof = req.fork; break;
        case Kind::Manifest: p.remote.has_manifest = false; break;
    }
    update_all();
    check_done();
}

void Replicator::on_want(Peer& p, const wire::Want& m) {
    if (m.length == 0 || m.length > kWantBatch || m.start > kMaxIndex) return;  // JS ignores these too
    const std::uint64_t length = m_core.length();
    const std::uint64_t contig = std::min(length, m_core.contiguous_length());
    if (m.start + m.length < contig || length == contig || (m.any && m.start < contig)) {
        wire::Range r;
        r.start = 0;
        r.length = contig;
        send(p, Type::range, wire::encode(r));
        return;
    }
    if (m.start >= length) return;
    const std::uint64_t end = m.start + std::min(m.length, length - m.start);
    if (m.any) {
        const std::uint64_t first = m_core.find(m.start, true);
        if (first < end) {
            wire::Range r;
            r.start = first;
            r.length = 1;
            send(p, Type::range, wire::encode(r));
        }
        return;
    }
    // The local bits of [start, end), one bitfield message per page that has any.
    const auto present = m_core.present_ranges();
    std::uint64_t chunk_start = m.start - (m.start % 32);
    while (chunk_start < end) {
        const std::uint64_t chunk_end = std::min(chunk_start + kBitfieldChunk, end);
        const std::uint64_t words = (chunk_end - chunk_start + 31) / 32;
        wire::Bitfield b;
        b.start = chunk_start;
        b.bitfield.assign(words, 0);
        bool any = false;
        for (const auto& r : present) {
            const std::uint64_t s = std::max(r.start, chunk_start);
            const std::uint64_t e = std::min(r.start + r.length, chunk_end);
            for (std::uint64_t i = s; i < e; ++i) {
                const std::uint64_t bit = i - chunk_start;
                b.bitfield[bit / 32] |= std::uint32_t{1} << (bit % 32);
                any = true;
            }
        }
        if (any) send(p, Type::bitfield, wire::encode(b));
        chunk_start += kBitfieldChunk;
    }
}

void Replicator::on_bitfield(Peer& p, const wire::Bitfield& m) {
    if (m.start % 32 != 0 || m.start > kMaxIndex || m.bitfield.size() > kMaxIndex / 32) return;
    p.has.assign_words(m.start, m.bitfield);
    update_peer(p);
}

void Replicator::on_range(Peer& p, const wire::Range& m) {
    if (m.start > kMaxIndex || m.length == 0) return;
    const std::uint64_t end = m.start + std::min(m.length, kMaxIndex - m.start);
    if (m.drop) {
        p.has.erase(m.start, end);
        return;
    }
    p.has.insert(m.start, end);
    update_peer(p);
}

void Replicator::on_extension(Peer& p, const wire::Extension& m) {
    const std::string name = m.name.empty() ? p.last_extension_received : m.name;
    p.last_extension_received = name;
    auto it = m_extensions.find(name);
    if (it == m_extensions.end()) return;
    const PeerId id = p.id;
    defer([this, name, id, message = m.message] {
        auto h = m_extensions.find(name);
        if (h != m_extensions.end() && h->second) h->second(id, message);
    });
}

// ---- Outgoing -------------------------------------------------------------------------------

void Replicator::send(Peer& p, Type type, const Bytes& body) {
    if (!p.channel || p.channel->closed()) return;
    p.channel->send(static_cast<std::size_t>(type), body);
}

void Replicator::send_sync(Peer& p) {
    wire::Sync s;
    s.fork = m_core.fork();
    s.length = m_core.length();
    const bool same_fork = p.remote.fork == s.fork;
    s.remote_length = same_fork ? p.remote.length : 0;
    s.can_upgrade = same_fork && (p.remote.length == 0 || p.remote.length < s.length);
    s.uploading = true;
    s.downloading = m_options.downloading;
    s.has_manifest = m_core.manifest().has_value() && !m_core.compat();
    s.allow_push = false;
    p.sent_remote_length = s.remote_length;
    send(p, Type::sync, wire::encode(s));
}

void Replicator::send_no_data(Peer& p, std::uint64_t request, std::uint64_t reason) {
    wire::NoData n;
    n.request = request;
    n.reason = reason;
    send(p, Type::no_data, wire::encode(n));
}

void Replicator::announce_open(Peer& p) {
    p.mux->cork();
    send_sync(p);
    broadcast_contiguous(p);
    p.mux->uncork();
}

void Replicator::broadcast_contiguous(Peer& p) {
    const std::uint64_t contig = std::min(m_core.length(), m_core.contiguous_length());
    if (contig == 0 || contig <= p.signaled_contiguous) return;
    p.signaled_contiguous = contig;
    wire::Range r;
    r.start = 0;
    r.length = contig;
    send(p, Type::range, wire::encode(r));
}

void Replicator::broadcast_have(std::uint64_t index) {
    const bool full = m_core.contiguous_length() >= m_core.length();
    for (auto& [id, pp] : m_peers) {
        Peer& p = *pp;
        if (!p.opened || p.cut_off) continue;
        if (full) {
            broadcast_contiguous(p);
            continue;
        }
        if (remote_has(p, index)) continue;
        wire::Range r;
        r.start = index;
        r.length = 1;
        send(p, Type::range, wire::encode(r));
    }
}

void Replicator::send_request(Peer& p, Inflight req, hypercore::ProofRequest proof) {
    std::uint64_t id = p.next_request++;
    if (id == 0) id = p.next_request++;
    req.sent = m_now;
    req.manifest = proof.manifest;
    req.upgrade = proof.upgrade.has_value();
    req.fork = proof.fork;
    p.inflight[id] = req;
    if (req.kind == Kind::Block) m_block_inflight[req.block] = p.id;
    if (req.upgrade) m_upgrade_inflight = p.id;
    if (req.kind == Kind::Fork) m_fork_inflight = p.id;
    if (req.manifest) m_manifest_inflight = p.id;
    wire::Request r;
    r.id = id;
    r.proof = std::move(proof);
    send(p, Type::request, wire::encode(r));
}

}  // namespace hs::v11::replication
