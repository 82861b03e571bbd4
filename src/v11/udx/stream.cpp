#include "v11/udx/stream.h"

#include <algorithm>
#include <cstring>

namespace hs::v11::udx {
namespace {

constexpr std::uint32_t kRtoMinMs = 1000;
constexpr std::uint32_t kRtoMaxMs = 30000;
constexpr int kMaxTimeouts = 6;
// After the remote's END: RTO expiries of ours, unanswered, before kEndUnconfirmed.
constexpr int kEndSilenceTimeouts = 2;
constexpr std::uint32_t kDupThresh = 3;
// Out-of-order packets are kept at most this far ahead of the next expected one.
constexpr std::uint32_t kMaxReorderPackets = 65536;
constexpr std::uint32_t kMaxCwnd = 65536;
constexpr std::uint32_t kInitialCwnd = 10;
// MTU search: payload steps and the probes lost in a row that end it.
constexpr std::size_t kMtuStep = 32;
constexpr int kMtuMaxProbes = 3;
// An in-order packet whose ack is held waits at most this long (or until flush_acks()).
constexpr auto kDelayedAck = std::chrono::milliseconds(1);
// Our ack of the remote's END is the last datagram of the connection: the remote closes on it
// (when its END is acknowledged and ours arrived) and nobody resends it. If it is lost, the remote
// resends its tail at its RTO (a second or more later) and gives up with ETIMEDOUT after six,
// which only a stream still kept by an open socket can prevent; and nothing the remote sends
// tells us whether it arrived. So when the stream closes as kEnded the final ack goes out this
// many times in all: the one just sent (the remote's END completed the stream) or one at once
// (the ack of our END did), then more every kFinalAckGap (a quarter SRTT, at least this); the
// socket sends the copies still due before it closes.
constexpr int kFinalAcks = 3;
constexpr auto kFinalAckGap = std::chrono::milliseconds(1);
// A tail probe goes out after max(2 SRTT, this) without an ack.
constexpr std::uint32_t kMinProbeTimeoutMs = 10;
// Pacing: the bucket holds at most this much sending time (and never less than an initial
// window), and a paced sender sleeps at least this long, so that high rates cost few wake-ups.
constexpr auto kPacingBurst = std::chrono::microseconds(1000);
constexpr auto kPacingQuantum = std::chrono::microseconds(500);

double to_seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::int32_t seq_diff(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<std::int32_t>(a - b);
}

}  // namespace

std::string_view to_string(CloseReason r) noexcept {
    switch (r) {
        case CloseReason::kOpen: return "open";
        case CloseReason::kEnded: return "ended";
        case CloseReason::kDestroyed: return "destroyed locally";
        case CloseReason::kReset: return "reset by the remote (ECONNRESET)";
        case CloseReason::kTimedOut: return "timed out (ETIMEDOUT: a packet was sent 7 times unacknowledged)";
        case CloseReason::kEndUnconfirmed:
            return "ended, our END unacknowledged (the remote, which had ended, went silent: it most likely "
                   "closed and its last ack was lost)";
    }
    return "unknown";
}

StreamCore::StreamCore(StreamConfig config, SendFn send, EventFn on_event)
    : m_cfg(config),
      m_send(std::move(send)),
      m_on_event(std::move(on_event)),
      m_seq(config.initial_seq),
      m_remote_acked(config.initial_seq),
      m_fack(config.initial_seq),
      m_loss_scan(config.initial_seq),
      m_send_rwnd(config.rwnd_max),
      m_wl1(config.initial_ack),
      m_wl2(config.initial_seq),
      m_ack(config.initial_ack),
      m_last_rwnd_sent(config.rwnd_max) {
    if (m_cfg.max_payload == 0) m_cfg.max_payload = 1;
    m_payload = m_cfg.max_payload;
    m_probe_state = m_cfg.max_probe_payload > m_payload ? ProbeState::kBase : ProbeState::kDone;
}

void StreamCore::notify() {
    if (m_on_event) m_on_event();
}

std::size_t StreamCore::buffered_bytes() const noexcept {
    std::size_t n = m_queued_bytes + m_readable + m_ooo_bytes;
    for (const Bytes& m : m_messages) n += m.size();
    return n;
}

bool StreamCore::writable() const noexcept {
    return !closed() && !m_end_requested && m_queued_bytes < m_cfg.write_high_water;
}

bool StreamCore::write(ByteView data) {
    if (closed() || m_end_requested) return false;
    if (!data.empty()) {
        m_write_queue.emplace_back(data.begin(), data.end());
        m_unsent_bytes += data.size();
        m_queued_bytes += data.size();
    }
    m_was_writable = writable();
    return m_was_writable;
}

void StreamCore::end() {
    if (closed() || m_end_requested) return;
    m_end_requested = true;
}

bool StreamCore::send_message(ByteView data) {
    if (closed() || data.size() > m_cfg.max_payload) return false;
    send_raw(kMessage, data);
    return true;
}

void StreamCore::destroy() {
    if (closed()) return;
    // DESTROY carries the next sequence number and consumes it.
    send_raw(kDestroy, {});
    ++m_seq;
    close(CloseReason::kDestroyed);
}

std::uint32_t StreamCore::recv_window() const noexcept {
    return m_readable >= m_cfg.rwnd_max ? 0 : m_cfg.rwnd_max - static_cast<std::uint32_t>(m_readable);
}

Header StreamCore::header(std::uint8_t type) const noexcept {
    Header h;
    h.type = type;
    h.stream_id = m_cfg.remote_id;
    h.rwnd = recv_window();
    h.seq = m_seq;
    h.ack = m_ack;
    return h;
}

void StreamCore::send_raw(std::uint8_t type, ByteView data) {
    Header h = header(type);
    m_last_rwnd_sent = h.rwnd;
    encode_into(m_scratch, h, {}, data);
    ++m_stats.packets_sent;
    m_send(m_scratch);
}

void StreamCore::send_ack() {
    // The held ranges, oldest first; with more than fit, the oldest ones and the newest (so
    // the sender learns how far the data got and can tell the holes between are losses).
    std::vector<SackBlock>& blocks = m_sack_scratch;
    if (m_ooo_ranges.size() <= kMaxSackBlocks) {
        blocks.assign(m_ooo_ranges.begin(), m_ooo_ranges.end());
    } else {
        blocks.assign(m_ooo_ranges.begin(), m_ooo_ranges.begin() + (kMaxSackBlocks - 1));
        blocks.push_back(m_ooo_ranges.back());
    }
    Header h = header(0);
    m_last_rwnd_sent = h.rwnd;
    encode_into(m_scratch, h, blocks, {});
    ++m_stats.packets_sent;
    ++m_stats.acks_sent;
    acked_now();
    m_send(m_scratch);
}

void StreamCore::acked_now() {
    m_unacked_in_order = 0;
    m_ack_at.reset();
}

void StreamCore::flush_acks() {
    if (!closed() && m_unacked_in_order > 0) send_ack();
}

void StreamCore::send_final_ack(TimePoint now) {
    m_final_ack_at.reset();
    if (m_final_acks_due <= 0) return;
    --m_final_acks_due;
    ++m_stats.final_acks;
    send_ack();
    if (m_final_acks_due > 0) m_final_ack_at = now + final_ack_gap();
}

Clock::duration StreamCore::final_ack_gap() const noexcept {
    return std::max<Clock::duration>(kFinalAckGap, Millis(m_srtt_ms) / 4);
}

void StreamCore::flush_final_acks() {
    while (m_final_acks_due > 0) send_final_ack(TimePoint{});
    m_final_ack_at.reset();
}

bool StreamCore::window_allows_new_packet() const noexcept {
    if (m_send_rwnd == 0 || m_inflight >= m_cwnd) return false;
    // The receive window counts from the oldest unacknowledged packet, SACKed ones included:
    // the receiver holds those too, and keeps out-of-order data only within its window.
    const std::uint32_t rwnd_packets =
        std::max<std::uint32_t>(1, static_cast<std::uint32_t>(m_send_rwnd / m_payload));
    return m_out.size() < rwnd_packets;
}

void StreamCore::transmit(std::uint32_t seq, OutPacket& pkt, TimePoint now) {
    Header h = header(pkt.type);
    h.seq = seq;
    m_last_rwnd_sent = h.rwnd;
    if (pkt.probe_pad > 0) {
        // Padding between the header and the data (data_offset), zeroes.
        h.data_offset = pkt.probe_pad;
        m_scratch.assign(kHeaderSize + pkt.probe_pad + pkt.data.size(), 0);
        encode_header(h, m_scratch.data());
        if (!pkt.data.empty())
            std::memcpy(m_scratch.data() + kHeaderSize + pkt.probe_pad, pkt.data.data(), pkt.data.size());
    } else {
        encode_into(m_scratch, h, {}, pkt.data);
    }
    // Delivery-rate bookkeeping: a flight that starts from nothing in flight starts its
    // intervals now; the sender is application-limited when this packet leaves it with less
    // than a packet to send and room in the window.
    if (m_inflight == 0) m_first_sent_time = m_delivered_time = now;
    if (m_unsent_bytes < m_payload && !(m_end_requested && !m_end_sent) &&
        m_inflight + 1 < m_cwnd && m_retransmit.empty())
        m_app_limited_until = std::max<std::uint64_t>(
            m_delivered + (m_inflight + 1) * (m_payload + kHeaderSize), 1);
    pkt.delivered = m_delivered;
    pkt.delivered_time = m_delivered_time;
    pkt.first_sent = m_first_sent_time;
    pkt.app_limited = m_app_limited_until != 0;
    if (m_bbr) m_tokens -= static_cast<double>(m_scratch.size());
    if (m_ooo_ranges.empty()) acked_now();  // the header's ack says all a pure ack would
    pkt.sent = now;
    pkt.state = PktState::kInFlight;
    ++m_inflight;
    ++m_stats.packets_sent;
    if (!m_rto_at) arm_rto(now);
    if (!m_tlp_at) arm_tlp(now);
    m_send(m_scratch);
}

void StreamCore::arm_rto(TimePoint now) {
    const std::uint64_t ms = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(m_rto_ms) * m_backoff, kRtoMaxMs);
    m_rto_at = now + Millis(ms);
}

bool StreamCore::pace_allows(TimePoint now) {
    if (!m_bbr) return true;
    const double rate = m_bbr->pacing_rate();
    const double wire = static_cast<double>(m_payload + kHeaderSize);
    const double burst = std::max(rate * to_seconds(kPacingBurst), kInitialCwnd * wire);
    if (m_tokens_at == TimePoint{}) {
        m_tokens = burst;
    } else if (now > m_tokens_at) {
        m_tokens = std::min(burst, m_tokens + rate * to_seconds(now - m_tokens_at));
    }
    m_tokens_at = now;
    return m_tokens > 0;
}

void StreamCore::flush(TimePoint now) {
    if (closed()) return;
    m_pace_at.reset();
    bool paced = false;
    if (m_cfg.congestion == CongestionControl::kBbr && !m_bbr) {
        m_bbr.emplace(kInitialCwnd, static_cast<std::uint32_t>(m_cfg.max_payload + kHeaderSize),
                      m_cfg.local_id * 2654435761u >> 16, now);
        m_cwnd = m_bbr->cwnd();
    }
    const bool pending_new = m_unsent_bytes > 0 || (m_end_requested && !m_end_sent);
    if (m_bbr && m_inflight == 0 && m_app_limited_until != 0 &&
        (pending_new || !m_retransmit.empty()))
        m_bbr->on_restart_from_idle(now);
    // Retransmissions first; they ignore the receive window (it may have shrunk meanwhile).
    // In recovery each ack may release as many as it acknowledged even past the window, so
    // packets counted in flight that are really lost cannot hold the repairs back.
    while (!m_retransmit.empty() && (m_inflight < m_cwnd || m_rtx_budget > 0)) {
        if (!pace_allows(now)) {
            paced = true;
            break;
        }
        if (m_inflight >= m_cwnd) --m_rtx_budget;
        const std::uint32_t seq = m_retransmit.front();
        m_retransmit.pop_front();
        const std::int32_t idx = seq_diff(seq, m_remote_acked);
        if (idx < 0 || static_cast<std::size_t>(idx) >= m_out.size()) continue;
        OutPacket& pkt = m_out[static_cast<std::size_t>(idx)];
        pkt.queued = false;
        if (pkt.state != PktState::kLost) continue;
        pkt.retransmitted = true;
        ++m_stats.retransmits;
        transmit(seq, pkt, now);
        m_resent.push_back({seq, now});
    }
    // New packets within min(cwnd, receive window), as pacing allows.
    while (!paced && (m_unsent_bytes > 0 || (m_end_requested && !m_end_sent)) &&
           window_allows_new_packet()) {
        if (!pace_allows(now)) {
            paced = true;
            break;
        }
        OutPacket pkt;
        const std::size_t n = std::min(m_unsent_bytes, m_payload);
        pkt.data.reserve(n);
        while (pkt.data.size() < n) {
            const Bytes& front = m_write_queue.front();
            const std::size_t take = std::min(n - pkt.data.size(), front.size() - m_write_front);
            pkt.data.insert(pkt.data.end(), front.begin() + static_cast<std::ptrdiff_t>(m_write_front),
                            front.begin() + static_cast<std::ptrdiff_t>(m_write_front + take));
            m_write_front += take;
            if (m_write_front == front.size()) {
                m_write_queue.pop_front();
                m_write_front = 0;
            }
        }
        m_unsent_bytes -= n;
        if (n > 0) pkt.type |= kData;
        if (m_unsent_bytes == 0 && m_end_requested) {
            pkt.type |= kEnd;
            m_end_sent = true;
        }
        // MTU search: a full packet padded to the size being probed (not a tail probe, and
        // never a retransmission: those go unpadded).
        if (m_probe_wanted && n == m_payload) {
            pkt.probe_pad = static_cast<std::uint8_t>(m_probe_payload - m_payload);
            m_probe_wanted = false;
            ++m_probe_count;
            ++m_stats.mtu_probes;
        }
        const std::uint32_t seq = m_seq++;
        m_out.push_back(std::move(pkt));
        transmit(seq, m_out.back(), now);
    }
    // Zero window: nothing in flight, something to send, no room: probe until it opens.
    const bool pending = m_unsent_bytes > 0 || (m_end_requested && !m_end_sent);
    if (m_send_rwnd == 0 && pending && m_out.empty()) {
        if (!m_zwp_at) m_zwp_at = now + Millis(m_rto_ms);
    } else {
        m_zwp_at.reset();
    }
    // Keep-alive: armed while nothing is in flight (the RTO covers the rest).
    if (m_cfg.keepalive.count() > 0 && m_out.empty()) {
        if (!m_keepalive_at) m_keepalive_at = now + m_cfg.keepalive;
    } else {
        m_keepalive_at.reset();
    }
    if (paced) {
        // Sleep until the bucket holds a quantum's worth (at least one packet).
        const double rate = std::max(m_bbr->pacing_rate(), 1.0);
        const double wire = static_cast<double>(m_payload + kHeaderSize);
        const double want = std::max(wire, rate * to_seconds(kPacingQuantum)) - m_tokens;
        m_pace_at = now + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(std::max(want, 1.0) / rate));
    }
}

void StreamCore::deliver(std::uint8_t type, ByteView data) {
    if ((type & kData) && !data.empty()) {
        m_read_queue.emplace_back(data.begin(), data.end());
        m_readable += data.size();
    }
    if (type & kEnd) m_remote_ended = true;
}

void StreamCore::on_data(std::uint8_t type, std::uint32_t seq, ByteView data) {
    if (m_remote_ended) {
        ++m_stats.dropped_data;  // nothing may follow the remote's END
        return;
    }
    const std::int32_t dist = seq_diff(seq, m_ack);
    if (dist == 0) {
        // In order. A sender that ignores our window is cut off at twice the window.
        if (m_readable + data.size() > 2 * static_cast<std::size_t>(m_cfg.rwnd_max)) {
            ++m_stats.dropped_data;
            return;
        }
        deliver(type, data);
        ++m_ack;
        if (!m_ooo.empty()) m_ooo.pop_front();
        while (!m_ooo.empty() && m_ooo.front()) {
            InPacket p = std::move(*m_ooo.front());
            m_ooo.pop_front();
            --m_ooo_count;
            m_ooo_bytes -= p.data.size();
            deliver(p.type, p.data);
            ++m_ack;
            if (p.type & kEnd) break;
        }
        while (!m_ooo_ranges.empty() && seq_diff(m_ooo_ranges.front().end, m_ack) <= 0)
            m_ooo_ranges.erase(m_ooo_ranges.begin());
        if (m_remote_ended) {
            m_ooo.clear();  // nothing after END counts
            m_ooo_ranges.clear();
            m_ooo_count = 0;
            m_ooo_bytes = 0;
        }
        return;
    }
    // Ahead of the next expected packet: keep it if it is within the reorder and byte bounds.
    if (static_cast<std::uint32_t>(dist) >= kMaxReorderPackets ||
        m_ooo_bytes + data.size() > m_cfg.rwnd_max) {
        ++m_stats.dropped_data;
        return;
    }
    const auto idx = static_cast<std::size_t>(dist);
    if (m_ooo.size() <= idx) m_ooo.resize(idx + 1);
    if (m_ooo[idx]) {
        ++m_stats.duplicate_data;
        return;
    }
    m_ooo[idx] = InPacket{type, Bytes(data.begin(), data.end())};
    ++m_ooo_count;
    m_ooo_bytes += data.size();
    add_ooo_range(seq);
}

void StreamCore::add_ooo_range(std::uint32_t seq) {
    // Ranges are disjoint, not adjacent, and ordered by their distance from m_ack (all within
    // kMaxReorderPackets of it), so a new packet extends, joins or adds one.
    const auto before = [this](std::uint32_t a, std::uint32_t b) {
        return seq_diff(a, m_ack) < seq_diff(b, m_ack);
    };
    auto it = std::upper_bound(
        m_ooo_ranges.begin(), m_ooo_ranges.end(), seq,
        [&](std::uint32_t v, const SackBlock& r) { return before(v, r.start); });
    if (it != m_ooo_ranges.begin() && std::prev(it)->end == seq) {
        auto prev = std::prev(it);
        prev->end = seq + 1;
        if (it != m_ooo_ranges.end() && it->start == prev->end) {
            prev->end = it->end;
            m_ooo_ranges.erase(it);
        }
    } else if (it != m_ooo_ranges.end() && it->start == seq + 1) {
        it->start = seq;
    } else {
        m_ooo_ranges.insert(it, SackBlock{seq, seq + 1});
    }
}

void StreamCore::on_packet(const Packet& p, TimePoint now) {
    if (closed()) {
        // An ended stream still answers retransmissions (of the remote's END, whose ack was
        // lost) with its final ack, for as long as the socket layer keeps it.
        if (m_close == CloseReason::kEnded && (p.header.type & (kData | kEnd | kHeartbeat))) send_ack();
        return;
    }
    ++m_stats.packets_received;
    const Header& h = p.header;
    if (h.type & kHeartbeat) {
        send_ack();  // a keep-alive or zero-window probe: answer with our state, nothing else
        return;
    }
    const bool had_readable = m_readable > 0 || eof();
    const std::size_t had_messages = m_messages.size();
    const bool carries_data = (h.type & (kData | kEnd)) != 0;
    const std::uint32_t ack_before = m_ack;
    if (seq_diff(h.seq, m_ack) >= 0) {
        if (carries_data) on_data(h.type, h.seq, p.data);
        if (h.type & kDestroy) {
            close(CloseReason::kReset);
            return;
        }
    } else if (carries_data) {
        ++m_stats.duplicate_data;
    }
    if (h.type & kMessage) {
        if (m_messages.size() < m_cfg.max_queued_messages) {
            m_messages.emplace_back(p.data.begin(), p.data.end());
        } else {
            ++m_stats.dropped_messages;
        }
    }
    process_acks(p, now);
    if (closed()) return;
    if (carries_data) {
        // The next in-order data packet with nothing held out of order may wait for its ack
        // (every ack_every packets, flush_acks() or kDelayedAck); anything else is acked now
        // (gaps at once, so that the sender learns of losses).
        if (m_cfg.ack_every > 1 && m_ack == ack_before + 1 && m_ooo_ranges.empty() &&
            !m_remote_ended && ++m_unacked_in_order < m_cfg.ack_every) {
            if (!m_ack_at) m_ack_at = now + kDelayedAck;
        } else {
            send_ack();
        }
    }
    check_all_ended();
    if (closed()) {
        if (m_close == CloseReason::kEnded) {
            m_final_acks_due = kFinalAcks - 1;
            if (carries_data) {
                // This packet's data or END completed the stream: the ack just sent was the first.
                m_final_ack_at = now + final_ack_gap();
            } else {
                // The ack of our END did: the remote may have sent it before our ack of its END
                // arrived, or that ack may have been lost; it may still be waiting for one.
                send_final_ack(now);
            }
        }
        return;
    }
    flush(now);
    const bool now_writable = writable();
    if ((m_readable > 0 || eof()) != had_readable || m_messages.size() != had_messages ||
        (now_writable && !m_was_writable) || (m_readable > 0 && carries_data)) {
        m_was_writable = now_writable;
        notify();
    }
}

void StreamCore::rtt_sample(Millis rtt) {
    const auto r = static_cast<std::uint32_t>(std::clamp<std::int64_t>(rtt.count(), 0, kRtoMaxMs));
    if (m_srtt_ms == 0) {
        m_srtt_ms = std::max<std::uint32_t>(r, 1);
        m_rttvar_ms = r / 2;
    } else {
        const std::uint32_t delta = r > m_srtt_ms ? r - m_srtt_ms : m_srtt_ms - r;
        m_rttvar_ms = (3 * m_rttvar_ms + delta) / 4;
        m_srtt_ms = std::max<std::uint32_t>((7 * m_srtt_ms + r) / 8, 1);
    }
    m_rto_ms = std::min(std::max(m_srtt_ms + 4 * m_rttvar_ms, kRtoMinMs), kRtoMaxMs);
    m_backoff = 1;
}

bool StreamCore::ack_one(std::uint32_t seq, AckScan& scan) {
    const std::int32_t idx = seq_diff(seq, m_remote_acked);
    if (idx < 0 || static_cast<std::size_t>(idx) >= m_out.size()) return false;
    OutPacket& pkt = m_out[static_cast<std::size_t>(idx)];
    if (pkt.state == PktState::kAcked) return false;
    if (pkt.state == PktState::kInFlight) --m_inflight;
    pkt.state = PktState::kAcked;
    m_stats.bytes_acked += pkt.data.size();
    m_queued_bytes -= std::min(m_queued_bytes, pkt.data.size());
    m_delivered += pkt.data.size() + kHeaderSize;
    if (pkt.probe_pad > 0) probe_acked(pkt.probe_pad);
    if (m_probe_state == ProbeState::kBase) {
        // The base size works: search upwards from here.
        m_probe_state = ProbeState::kSearch;
        m_probe_payload = std::min(m_payload + kMtuStep, m_cfg.max_probe_payload);
        m_probe_wanted = true;
    }
    if (!pkt.retransmitted) {
        scan.newest_sent = std::max(scan.newest_sent, pkt.sent);
        scan.rack_sent = std::max(scan.rack_sent, pkt.sent);
    } else if (m_min_rtt != Clock::duration::max() && scan.now - pkt.sent >= m_min_rtt) {
        // A retransmission acked at least a min RTT after it left: this ack is most likely
        // for it, so packets sent before it may be judged by it.
        scan.rack_sent = std::max(scan.rack_sent, pkt.sent);
    }
    // The rate sample is taken over the newest packet acknowledged.
    if (!scan.has_rate || pkt.sent > scan.rate_sent) {
        scan.has_rate = true;
        scan.rate_sent = pkt.sent;
        scan.prior_delivered = pkt.delivered;
        scan.prior_time = pkt.delivered_time;
        scan.send_elapsed = pkt.sent - pkt.first_sent;
        scan.app_limited = pkt.app_limited;
        m_first_sent_time = pkt.sent;
    }
    if (seq_diff(seq + 1, m_fack) > 0) m_fack = seq + 1;
    if (pkt.type & kEnd) m_local_ended = true;
    return true;
}

void StreamCore::probe_acked(std::uint8_t pad) {
    if (m_probe_state != ProbeState::kSearch) return;
    m_payload += pad;
    m_probe_count = 0;
    if (m_bbr) m_bbr->set_wire_packet_bytes(static_cast<std::uint32_t>(m_payload + kHeaderSize));
    if (m_payload >= m_cfg.max_probe_payload) {
        m_probe_state = ProbeState::kDone;
        return;
    }
    m_probe_payload = std::min(m_payload + kMtuStep, m_cfg.max_probe_payload);
    m_probe_wanted = true;
}

bool StreamCore::probe_lost(OutPacket& pkt) {
    if (pkt.probe_pad == 0) return false;
    // Sent again unpadded; after kMtuMaxProbes losses in a row the size found stays.
    pkt.probe_pad = 0;
    if (m_probe_state == ProbeState::kSearch) {
        if (m_probe_count >= kMtuMaxProbes) {
            m_probe_state = ProbeState::kDone;
        } else {
            m_probe_wanted = true;
        }
    }
    return true;
}

void StreamCore::mark_lost(std::uint32_t seq, OutPacket& pkt) {
    if (pkt.state != PktState::kInFlight) return;
    pkt.state = PktState::kLost;
    --m_inflight;
    if (!pkt.queued) {
        pkt.queued = true;
        m_retransmit.push_back(seq);
    }
}

void StreamCore::on_loss_episode() {
    if (m_bbr) {
        // BBR: recovery until everything sent so far is acknowledged; the rate stays.
        if (!m_in_recovery) {
            m_in_recovery = true;
            m_recovery_end = m_seq;
            m_bbr->enter_recovery();
        }
        return;
    }
    // Once per window: not again for losses of packets sent before the last reduction.
    if (m_in_recovery || seq_diff(m_recovery_end, m_remote_acked) > 0) return;
    m_in_recovery = true;
    m_recovery_end = m_seq;
    m_ssthresh = std::max<std::uint32_t>(m_cwnd / 2, 2);
    m_cwnd = m_ssthresh;
    m_cwnd_acc = 0;
}

std::uint32_t StreamCore::detect_losses(TimePoint rack_sent) {
    std::uint32_t lost = 0;
    // A hole with kDupThresh packets acknowledged beyond it.
    if (seq_diff(m_loss_scan, m_remote_acked) < 0) m_loss_scan = m_remote_acked;
    while (seq_diff(m_fack, m_loss_scan) > static_cast<std::int32_t>(kDupThresh)) {
        const auto idx = static_cast<std::size_t>(seq_diff(m_loss_scan, m_remote_acked));
        if (idx >= m_out.size()) break;
        OutPacket& pkt = m_out[idx];
        if (pkt.state == PktState::kInFlight && !pkt.retransmitted) {
            mark_lost(m_loss_scan, pkt);
            ++m_stats.fast_losses;
            if (!probe_lost(pkt)) ++lost;  // a lost MTU probe says nothing about congestion
        }
        ++m_loss_scan;
    }
    // A retransmission is lost when a packet sent after it (by a quarter RTT) was acknowledged.
    const Millis reo(std::max<std::uint32_t>(m_srtt_ms / 4, 1));
    while (!m_resent.empty()) {
        const Resent r = m_resent.front();
        const std::int32_t idx = seq_diff(r.seq, m_remote_acked);
        if (idx < 0 || static_cast<std::size_t>(idx) >= m_out.size()) {
            m_resent.pop_front();
            continue;
        }
        OutPacket& pkt = m_out[static_cast<std::size_t>(idx)];
        if (pkt.state != PktState::kInFlight || pkt.sent != r.sent) {
            m_resent.pop_front();
            continue;
        }
        if (r.sent + reo >= rack_sent) break;
        mark_lost(r.seq, pkt);
        ++m_stats.fast_losses;
        ++lost;
        m_resent.pop_front();
    }
    if (lost > 0) on_loss_episode();
    return lost;
}

void StreamCore::process_acks(const Packet& p, TimePoint now) {
    const Header& h = p.header;
    // An ack of packets we never sent: ignore the acknowledgement part.
    if (seq_diff(h.ack, m_seq) > 0) {
        ++m_stats.invalid_acks;
        return;
    }
    const bool ack_advanced = seq_diff(h.ack, m_remote_acked) > 0;
    if (seq_diff(h.ack, m_remote_acked) >= 0) {
        // The window of the newest packet counts (by its seq, then its ack).
        if (seq_diff(h.seq, m_wl1) > 0 || (h.seq == m_wl1 && seq_diff(h.ack, m_wl2) >= 0)) {
            m_send_rwnd = h.rwnd;
            m_wl1 = h.seq;
            m_wl2 = h.ack;
            if (m_send_rwnd > 0) m_zwp_at.reset();
        }
    }
    AckScan scan;
    scan.now = now;
    std::uint32_t newly = 0;
    if (ack_advanced) {
        for (std::uint32_t s = m_remote_acked; s != h.ack; ++s) {
            if (ack_one(s, scan)) ++newly;
        }
        const auto n = static_cast<std::size_t>(seq_diff(h.ack, m_remote_acked));
        m_out.erase(m_out.begin(), m_out.begin() + static_cast<std::ptrdiff_t>(std::min(n, m_out.size())));
        m_remote_acked = h.ack;
        m_timeouts_in_row = 0;
        if (seq_diff(m_fack, m_remote_acked) < 0) m_fack = m_remote_acked;
    }
    for (const SackBlock& b : p.sacks) {
        // Valid: remote_acked <= start < end <= seq, i.e. within what is in flight (distances
        // from remote_acked, so blocks wrapping around 2^32 cannot pass).
        const std::int64_t from = seq_diff(b.start, m_remote_acked);
        const std::int64_t to = seq_diff(b.end, m_remote_acked);
        if (from < 0 || to <= from || to > static_cast<std::int64_t>(m_out.size())) {
            ++m_stats.dropped_sacks;
            continue;
        }
        for (std::uint32_t s = b.start; s != b.end; ++s) {
            if (ack_one(s, scan)) ++newly;
        }
    }
    if (newly == 0 && !ack_advanced) return;
    // RTT from the newest first transmission acknowledged.
    if (scan.newest_sent != TimePoint{}) {
        rtt_sample(std::chrono::duration_cast<Millis>(now - scan.newest_sent));
        m_min_rtt = std::min(m_min_rtt, now - scan.newest_sent);
    }
    if (newly > 0) m_tlp_out = false;
    const std::uint32_t lost = detect_losses(scan.rack_sent);
    m_rtx_budget = m_in_recovery ? newly : 0;
    if (m_bbr) {
        congestion_on_ack(scan, newly, lost, now);
    } else if (m_in_recovery && seq_diff(m_remote_acked, m_recovery_end) >= 0) {
        m_in_recovery = false;
    }
    if (!m_bbr && !m_in_recovery && newly > 0) {
        if (m_cwnd < m_ssthresh) {
            m_cwnd = std::min(m_cwnd + newly, kMaxCwnd);
        } else {
            m_cwnd_acc += newly;
            if (m_cwnd_acc >= m_cwnd) {
                m_cwnd_acc -= m_cwnd;
                m_cwnd = std::min(m_cwnd + 1, kMaxCwnd);
            }
        }
    }
    if (m_out.empty()) {
        m_rto_at.reset();
        m_tlp_at.reset();
    } else {
        if (ack_advanced) arm_rto(now);
        arm_tlp(now);
    }
}

void StreamCore::congestion_on_ack(const AckScan& scan, std::uint32_t newly, std::uint32_t lost,
                                   TimePoint now) {
    if (newly > 0) m_delivered_time = now;
    if (m_app_limited_until != 0 && m_delivered > m_app_limited_until) m_app_limited_until = 0;
    if (m_in_recovery && seq_diff(m_remote_acked, m_recovery_end) >= 0) {
        m_in_recovery = false;
        m_bbr->exit_recovery();
    }
    RateSample rs;
    rs.acked = newly;
    rs.lost = lost;
    if (scan.newest_sent != TimePoint{}) rs.rtt = now - scan.newest_sent;
    if (scan.has_rate && scan.prior_time != TimePoint{}) {
        rs.prior_delivered = scan.prior_delivered;
        rs.app_limited = scan.app_limited;
        rs.delivered = m_delivered - scan.prior_delivered;
        // The longer of the send and ack intervals: neither a burst of sends nor a burst of
        // acks can show more than the bottleneck passed.
        rs.interval = std::max(scan.send_elapsed, now - scan.prior_time);
        // Shorter than the path's RTT: the acks were compressed; no sample.
        if (m_bbr->min_rtt() != Clock::duration::max() && rs.interval < m_bbr->min_rtt())
            rs.interval = Clock::duration(-1);
    }
    m_bbr->on_ack(rs, m_delivered, m_inflight, now);
    m_cwnd = m_bbr->cwnd();
}

void StreamCore::arm_tlp(TimePoint now) {
    if (m_tlp_out || m_out.empty()) {
        m_tlp_at.reset();
        return;
    }
    const std::uint32_t pto_ms = std::max<std::uint32_t>(2 * m_srtt_ms, kMinProbeTimeoutMs);
    m_tlp_at = now + Millis(pto_ms);
}

void StreamCore::send_tail_probe(TimePoint now) {
    // The newest packet not yet acknowledged goes again, past the windows: its ack (or SACK)
    // tells what of the tail arrived, so the losses there are found without waiting an RTO.
    for (std::size_t i = m_out.size(); i-- > 0;) {
        OutPacket& pkt = m_out[i];
        if (pkt.state == PktState::kAcked) continue;
        if (pkt.state == PktState::kInFlight) --m_inflight;
        const std::uint32_t seq = m_remote_acked + static_cast<std::uint32_t>(i);
        probe_lost(pkt);  // unknown yet, but the tail probe goes unpadded
        pkt.retransmitted = true;
        ++m_stats.retransmits;
        ++m_stats.tail_probes;
        transmit(seq, pkt, now);
        m_resent.push_back({seq, now});
        m_tlp_out = true;
        return;
    }
}

void StreamCore::check_all_ended() {
    if (m_local_ended && m_remote_ended && m_out.empty()) close(CloseReason::kEnded);
}

void StreamCore::on_timer(TimePoint now) {
    if (closed()) {
        if (m_final_ack_at && now >= *m_final_ack_at) send_final_ack(now);
        return;
    }
    if (m_keepalive_at && now >= *m_keepalive_at) {
        m_keepalive_at.reset();
        if (m_out.empty()) {
            send_raw(kHeartbeat, {});
            ++m_stats.keepalives;
            m_keepalive_at = now + m_cfg.keepalive;
        }
    }
    if (m_ack_at && now >= *m_ack_at) send_ack();
    if (m_pace_at && now >= *m_pace_at) flush(now);
    if (m_tlp_at && now >= *m_tlp_at) {
        m_tlp_at.reset();
        if (!m_tlp_out && !m_out.empty() && !(m_rto_at && now >= *m_rto_at)) send_tail_probe(now);
    }
    if (m_zwp_at && now >= *m_zwp_at) {
        send_raw(kHeartbeat, {});
        m_zwp_at = now + Millis(std::min<std::uint64_t>(2ull * m_rto_ms, kRtoMaxMs));
    }
    if (m_rto_at && now >= *m_rto_at) {
        m_rto_at.reset();
        if (m_out.empty()) return;
        if (m_timeouts_in_row >= kMaxTimeouts) {
            close(CloseReason::kTimedOut);
            return;
        }
        if (m_remote_ended && m_end_sent && m_timeouts_in_row >= kEndSilenceTimeouts) {
            close(CloseReason::kEndUnconfirmed);
            return;
        }
        ++m_timeouts_in_row;
        ++m_stats.timeouts;
        // Everything unacknowledged is lost; start over from one packet.
        m_retransmit.clear();
        m_resent.clear();
        for (std::size_t i = 0; i < m_out.size(); ++i) {
            OutPacket& pkt = m_out[i];
            if (pkt.state == PktState::kAcked) continue;
            if (pkt.state == PktState::kInFlight) --m_inflight;
            probe_lost(pkt);
            pkt.state = PktState::kLost;
            pkt.queued = true;
            m_retransmit.push_back(m_remote_acked + static_cast<std::uint32_t>(i));
        }
        if (m_bbr) {
            m_bbr->on_rto();
            m_cwnd = m_bbr->cwnd();
            m_in_recovery = true;  // until everything sent so far is acknowledged
            m_recovery_end = m_seq;
        } else {
            m_ssthresh = std::max<std::uint32_t>(m_cwnd / 2, 2);
            m_cwnd = 1;
            m_cwnd_acc = 0;
            m_in_recovery = false;  // slow start from one packet, no further reduction this window
            m_recovery_end = m_seq;
        }
        m_backoff = std::min<std::uint32_t>(m_backoff * 2, kRtoMaxMs);
        flush(now);
        if (!m_rto_at && !m_out.empty()) arm_rto(now);
    }
}

TimePoint StreamCore::next_wakeup() const noexcept {
    if (closed()) return m_final_ack_at.value_or(TimePoint::max());
    TimePoint t = TimePoint::max();
    if (m_rto_at) t = std::min(t, *m_rto_at);
    if (m_zwp_at) t = std::min(t, *m_zwp_at);
    if (m_pace_at) t = std::min(t, *m_pace_at);
    if (m_tlp_at) t = std::min(t, *m_tlp_at);
    if (m_ack_at) t = std::min(t, *m_ack_at);
    if (m_keepalive_at) t = std::min(t, *m_keepalive_at);
    return t;
}

std::size_t StreamCore::read(MutableByteView out) {
    std::size_t n = 0;
    while (n < out.size() && !m_read_queue.empty()) {
        const Bytes& front = m_read_queue.front();
        const std::size_t take = std::min(out.size() - n, front.size() - m_read_front);
        std::memcpy(out.data() + n, front.data() + m_read_front, take);
        n += take;
        m_read_front += take;
        if (m_read_front == front.size()) {
            m_read_queue.pop_front();
            m_read_front = 0;
        }
    }
    m_readable -= n;
    // Tell the sender when the window reopens from (nearly) closed.
    if (n > 0 && !closed() && m_last_rwnd_sent < m_cfg.max_payload &&
        recv_window() >= std::min<std::uint32_t>(m_cfg.rwnd_max / 2, 64 * 1024)) {
        send_ack();
    }
    return n;
}

Bytes StreamCore::read_all() {
    Bytes out(m_readable);
    const std::size_t n = read(out);
    out.resize(n);
    return out;
}

std::optional<Bytes> StreamCore::take_message() {
    if (m_messages.empty()) return std::nullopt;
    Bytes m = std::move(m_messages.front());
    m_messages.pop_front();
    return m;
}

void StreamCore::close(CloseReason r) {
    if (closed()) return;
    m_close = r;
    m_out.clear();
    m_write_queue.clear();
    m_retransmit.clear();
    m_resent.clear();
    m_ooo.clear();
    m_ooo_ranges.clear();
    m_ooo_count = 0;
    m_ooo_bytes = 0;
    m_unsent_bytes = 0;
    m_queued_bytes = 0;
    m_inflight = 0;
    m_rto_at.reset();
    m_zwp_at.reset();
    m_pace_at.reset();
    m_tlp_at.reset();
    m_ack_at.reset();
    m_keepalive_at.reset();
    notify();
}

}  // namespace hs::v11::udx
