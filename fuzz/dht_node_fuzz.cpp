// Fuzz target: a whole sans-IO DHT node (swarm/dht/node_core.h) fed arbitrary datagrams and clock
// steps. The input is a list of records; each starts with an op byte:
//   0 d: datagram   [from index][len lo][len hi][len bytes]  from one of four fixed peers
//   1 r: response   [which][len lo][len hi][len bytes]  decoded as a Message if it can be, then
//                   turned into a response to one of the node's recent requests (its rid, from
//                   the address it went to): reaches the request table and the query machines
//   2 t: time       [steps]  the clock moves steps * 50 ms; on_timer runs when due
//   3 q: query      [kind][topic byte]  lookup, announce, unannounce, or cancel the last query
//   4 e: echo       [which]  one of the node's own recent datagrams comes back from where it went
// The node must never crash, call a query's done callback twice, call anything of a cancelled
// query, or keep a request or a query after close(). Everything is seeded: one input, one run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "v9/swarm/dht/node_core.h"

namespace {

using namespace hs;
using namespace hs::swarm::dht;

struct Sent {
    Peer to;
    Bytes datagram;
};

const Peer kPeers[4] = {
    Peer{{10, 0, 0, 1}, 49737},  // the bootstrap node
    Peer{{10, 0, 0, 2}, 1000},
    Peer{{127, 0, 0, 1}, 5},
    Peer{{0, 0, 0, 0}, 0},  // dropped by the node
};

struct Reader {
    const std::uint8_t* data;
    std::size_t size;
    std::size_t pos = 0;
    bool done() const { return pos >= size; }
    std::uint8_t byte() { return pos < size ? data[pos++] : 0; }
    ByteView bytes(std::size_t n) {
        n = std::min(n, size - pos);
        ByteView v(data + pos, n);
        pos += n;
        return v;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<Sent> sent;
    CoreOptions o;
    o.ephemeral = false;
    o.bootstrap = {kPeers[0]};
    o.random = seeded_random(1);
    NodeCore core(std::move(o), [&](const Peer& to, ByteView d) {
        if (sent.size() >= 256) sent.erase(sent.begin(), sent.begin() + 128);
        sent.push_back(Sent{to, Bytes(d.begin(), d.end())});
    });
    TimePoint now = TimePoint{} + std::chrono::hours(1);

    // Per query: how often its done callback ran, and whether it was cancelled.
    struct Track {
        int done = 0;
        bool cancelled = false;
    };
    auto tracks = std::make_shared<std::map<std::size_t, Track>>();
    std::vector<std::pair<std::size_t, NodeCore::QueryId>> ids;  // (track, the core's id)
    std::size_t next_track = 0;
    const auto watch = [&](std::size_t expected) {
        return std::make_pair(
            [tracks, expected](const PeersFound&) {
                if ((*tracks)[expected].cancelled) std::abort();
            },
            [tracks, expected](Result<QueryResult>) {
                auto& t = (*tracks)[expected];
                if (t.cancelled || ++t.done > 1) std::abort();
            });
    };
    const auto start_query = [&](int kind, std::uint8_t topic_byte) {
        NodeId topic;
        topic.fill(topic_byte);
        const std::size_t track = next_track++;
        (*tracks)[track];
        auto [on_peers, done] = watch(track);
        AnnounceParams p;
        p.port = topic_byte;
        NodeCore::QueryId got = 0;
        switch (kind % 3) {
            case 0: got = core.lookup(topic, on_peers, done, now); break;
            case 1: got = core.announce(topic, p, on_peers, done, now); break;
            default: got = core.unannounce(topic, p, done, now); break;
        }
        ids.emplace_back(track, got);
    };

    core.start(now);  // the bootstrap query
    start_query(0, 0x11);
    start_query(1, 0x22);

    Reader in{data, size};
    while (!in.done()) {
        switch (in.byte() % 5) {
            case 0: {
                const Peer& from = kPeers[in.byte() % 4];
                std::size_t n = in.byte();
                n |= static_cast<std::size_t>(in.byte()) << 8;
                core.on_datagram(in.bytes(n), from, now);
                break;
            }
            case 1: {
                const std::uint8_t which = in.byte();
                std::size_t n = in.byte();
                n |= static_cast<std::size_t>(in.byte()) << 8;
                const ByteView raw = in.bytes(n);
                // The recent request this answers.
                std::vector<std::pair<Peer, std::uint64_t>> requests;
                for (const auto& s : sent) {
                    auto m = Message::decode(s.datagram);
                    if (m && m->type != static_cast<std::uint64_t>(PacketType::Response))
                        requests.emplace_back(s.to, m->rid);
                }
                auto m = Message::decode(raw);
                if (!m || requests.empty()) {
                    core.on_datagram(raw, kPeers[which % 4], now);
                    break;
                }
                const auto& [to, rid] = requests[which % requests.size()];
                m->type = static_cast<std::uint64_t>(PacketType::Response);
                m->rid = rid;
                core.on_datagram(m->encode(), to, now);
                break;
            }
            case 2:
                now += std::chrono::milliseconds(50) * in.byte();
                if (now >= core.next_wakeup()) core.on_timer(now);
                break;
            case 3: {
                const std::uint8_t kind = in.byte();
                const std::uint8_t topic = in.byte();
                if (kind % 4 == 3) {
                    if (!ids.empty()) {
                        (*tracks)[ids.back().first].cancelled = true;
                        core.cancel(ids.back().second);
                        ids.pop_back();
                    }
                } else {
                    start_query(kind, topic);
                }
                break;
            }
            default: {
                const std::uint8_t which = in.byte();
                if (sent.empty()) break;
                const Sent s = sent[sent.size() - 1 - which % sent.size()];
                core.on_datagram(s.datagram, s.to, now);
                break;
            }
        }
        if (core.inflight_requests() > NodeCore::kMaxInflight) std::abort();
    }
    core.close(now);
    if (core.inflight_requests() != 0 || core.running_queries() != 0) std::abort();
    if (core.next_wakeup() != TimePoint::max()) std::abort();
    // Every query that was not cancelled has ended exactly once.
    for (const auto& [q, t] : *tracks) {
        if (!t.cancelled && t.done != 1) std::abort();
    }
    return 0;
}
