// Two (or more) sans-IO UDX endpoints over a modelled link on a fake clock (tests/sim): per
// direction a bottleneck of `bandwidth` bytes/s with a drop-tail queue, a one-way delay, and
// seeded loss, duplication and reordering (extra delay for some packets). Deterministic by seed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <vector>

#include "v11/udx/packet.h"
#include "v11/udx/stream.h"

namespace hs::v11::udx::sim {

struct LinkModel {
    Millis delay{10};
    double bandwidth = 12.5e6;          // bytes per second (100 Mbit/s)
    std::size_t queue_bytes = 256 * 1024;  // bottleneck buffer; more is dropped
    double loss = 0;
    double duplicate = 0;
    double reorder = 0;       // share of packets delayed by an extra reorder_delay
    Millis reorder_delay{15};
    std::size_t max_datagram = 65536;  // larger datagrams are dropped (the path MTU, less IP + UDP)
};

class Network {
public:
    Network(LinkModel link, std::uint64_t seed) : m_link(link), m_rng(seed) {}

    // Side 0 or 1; datagrams sent from side s arrive at side 1 - s.
    StreamCore& add(int side, StreamConfig cfg) {
        auto core = std::make_unique<StreamCore>(
            cfg, [this, side](ByteView d) { send(side, d); });
        StreamCore& ref = *core;
        m_streams[side][cfg.local_id] = std::move(core);
        return ref;
    }
    // The socket of `side` closed under stream `id` (its process exited, say): the stream stays
    // alive for the test to look at, but gets no datagrams or timers any more.
    void detach(int side, std::uint32_t id) {
        auto it = m_streams[side].find(id);
        if (it == m_streams[side].end()) return;
        m_detached.push_back(std::move(it->second));
        m_streams[side].erase(it);
    }
    TimePoint now() const noexcept { return m_now; }
    std::uint64_t dropped() const noexcept { return m_dropped; }

    // Runs until `done()` or `until`; `app()` runs after every step (it writes, reads, flushes).
    void run(TimePoint until, const std::function<bool()>& done, const std::function<void()>& app) {
        app();
        while (!done()) {
            TimePoint next = TimePoint::max();
            if (!m_queue.empty()) next = m_queue.top().at;
            for (auto& side : m_streams)
                for (auto& [id, s] : side) next = std::min(next, s->next_wakeup());
            if (next == TimePoint::max() || next > until) break;
            m_now = std::max(m_now, next);
            while (!m_queue.empty() && m_queue.top().at <= m_now) {
                Arrival a = m_queue.top();
                m_queue.pop();
                const auto p = decode(a.bytes);
                if (!p) continue;
                auto& side = m_streams[a.to];
                auto it = side.find(p->header.stream_id);
                if (it != side.end()) it->second->on_packet(*p, m_now);
            }
            for (auto& side : m_streams)
                for (auto& [id, s] : side)
                    if (s->next_wakeup() <= m_now) s->on_timer(m_now);
            app();
        }
    }

private:
    struct Arrival {
        TimePoint at;
        std::uint64_t order;
        int to;
        Bytes bytes;
        bool operator>(const Arrival& o) const {
            return at != o.at ? at > o.at : order > o.order;
        }
    };
    void send(int from, ByteView d) {
        std::uniform_real_distribution<double> u(0, 1);
        if (d.size() > m_link.max_datagram) {
            ++m_dropped;
            return;
        }
        if (u(m_rng) < m_link.loss) {
            ++m_dropped;
            return;
        }
        TimePoint& free = m_free_at[from];
        const TimePoint start = std::max(free, m_now);
        const auto backlog = std::chrono::duration<double>(start - m_now).count() * m_link.bandwidth;
        if (backlog + static_cast<double>(d.size()) > static_cast<double>(m_link.queue_bytes)) {
            ++m_dropped;
            return;
        }
        free = start + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(static_cast<double>(d.size()) / m_link.bandwidth));
        TimePoint at = free + m_link.delay;
        if (u(m_rng) < m_link.reorder) at += m_link.reorder_delay;
        m_queue.push({at, m_order++, 1 - from, Bytes(d.begin(), d.end())});
        if (u(m_rng) < m_link.duplicate) m_queue.push({at + Millis(1), m_order++, 1 - from, Bytes(d.begin(), d.end())});
    }

    LinkModel m_link;
    std::mt19937_64 m_rng;
    TimePoint m_now = TimePoint{} + std::chrono::hours(1);
    TimePoint m_free_at[2]{};
    std::uint64_t m_order = 0;
    std::uint64_t m_dropped = 0;
    std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> m_queue;
    std::map<std::uint32_t, std::unique_ptr<StreamCore>> m_streams[2];
    std::vector<std::unique_ptr<StreamCore>> m_detached;
};

// A writer of `total` pseudo-random bytes (then END) and a reader that checks them.
struct Transfer {
    StreamCore* writer;
    StreamCore* reader;
    std::uint64_t total;
    std::uint64_t written = 0;
    std::uint64_t received = 0;
    bool mismatch = false;
    std::uint64_t seed;
    bool end_reader_on_eof = true;

    static std::uint8_t byte_at(std::uint64_t seed, std::uint64_t i) {
        std::uint64_t x = (i / 8 + 1) * 0x9E3779B97F4A7C15ull ^ seed;
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
        return static_cast<std::uint8_t>(x >> (8 * (i % 8)));
    }
    void step(TimePoint now) {
        write_step(now);
        read_step(now);
    }
    void write_step(TimePoint now) {
        Bytes chunk;
        while (written < total && writer->writable()) {
            const std::uint64_t n = std::min<std::uint64_t>(64 * 1024, total - written);
            chunk.resize(n);
            for (std::uint64_t i = 0; i < n; ++i) chunk[i] = byte_at(seed, written + i);
            writer->write(chunk);
            written += n;
        }
        if (written == total) writer->end();
        writer->flush(now);
    }
    void read_step(TimePoint now) {
        const Bytes got = reader->read_all();
        for (std::size_t i = 0; i < got.size(); ++i)
            if (got[i] != byte_at(seed, received + i)) mismatch = true;
        received += got.size();
        if (reader->eof() && end_reader_on_eof) {
            reader->end();
        }
        reader->flush(now);
    }
    bool complete() const { return reader->eof() && received == total; }
};

}  // namespace hs::v11::udx::sim
