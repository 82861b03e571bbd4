// One UDX stream, sans-IO (docs/formats/udx.md "Stream behaviour"): reliable, ordered bytes with
// half-close, plus unordered messages, over datagrams the caller carries. No sockets, no clock:
//   - on_packet(p, now) for every datagram decoded for this stream's local id,
//   - on_timer(now) once now >= next_wakeup() (earlier is harmless; a stream that just closed
//     may still want it, to repeat its final ack),
//   - write()/end()/send_message()/destroy() from the application, then flush(now) to send
//     what the windows allow (writes are batched until flush, so small writes share packets),
//   - read() to take delivered bytes (reading opens the receive window again).
// Datagrams go out through the SendFn given to the constructor, synchronously; the view it gets
// is valid only during the call, and the SendFn must not call back into this stream. `on_event` (optional)
// runs after anything the application may want to look at changed: bytes or messages to read,
// the remote end, room to write, the stream closing.
//
// Congestion control is BBR (bbr.h) with pacing by default: delivery-rate samples taken from the
// acks set a pacing rate and a window, and random loss does not shrink the rate. NewReno-style
// AIMD (slow start from 10 packets, halve once per loss episode, unpaced) can be chosen instead.
// Loss is found by selective acks (3 packets acked past a hole) and, for retransmissions, by
// later-sent packets being acked; a tail loss probe finds losses at the end of a flight, and
// after a timeout everything unacked is resent from a window of one packet. No MTU probing yet:
// every packet carries at most max_payload bytes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "common/util/bytes.h"
#include "v11/udx/bbr.h"
#include "v11/udx/packet.h"

namespace hs::v11::udx {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

// Why a stream is closed (kOpen while it is not).
enum class CloseReason {
    kOpen,
    kEnded,      // both sides ended and every byte was acknowledged
    kDestroyed,  // destroy() was called here
    kReset,      // the remote sent DESTROY (ECONNRESET)
    kTimedOut,   // a packet timed out 6 times (ETIMEDOUT)
    // Everything of the remote's arrived up to its END, and our END went unanswered for
    // kEndSilenceTimeouts RTOs: the remote most likely closed (udx-native does so as soon as
    // both ends are acknowledged, without waiting for its last ack to arrive) and its final
    // ack was lost. Our bytes may or may not all have arrived.
    kEndUnconfirmed,
};
std::string_view to_string(CloseReason r) noexcept;

enum class CongestionControl : std::uint8_t {
    kBbr,      // BBR v1 with pacing (what udx-native runs)
    kNewReno,  // loss-based AIMD, no pacing (kept to test fairness against a loss-based flow)
};

struct StreamConfig {
    std::uint32_t local_id = 0;
    std::uint32_t remote_id = 0;
    // Bytes per packet: 1200 (the base MTU) - 28 (IPv4 + UDP) - 20 (UDX header).
    std::size_t max_payload = 1152;
    std::uint32_t rwnd_max = 4 * 1024 * 1024;  // receive window we advertise when nothing is unread
    // write() returns false once this many bytes are written but not yet acknowledged.
    std::size_t write_high_water = 4 * 1024 * 1024;
    std::size_t max_queued_messages = 1024;  // received messages not yet taken; more are dropped
    std::uint32_t initial_seq = 0;           // our first sequence number (out of band, usually 0)
    std::uint32_t initial_ack = 0;           // the remote's first sequence number
    CongestionControl congestion = CongestionControl::kBbr;
    // In-order data is acknowledged every this many packets (and by flush_acks() and after at
    // most 1 ms); 1 acks every packet. Out-of-order data, gaps and END are acked at once.
    std::uint32_t ack_every = 2;
    // MTU search (as udx-native): once the first packet is acked, full packets are padded in
    // steps of 32 bytes towards this payload (1500 - 28 - 20); an acked probe raises the size,
    // three lost in a row end the search. Not above max_payload: no search.
    std::size_t max_probe_payload = 1452;
    // While nothing is in flight, a HEARTBEAT goes out after this long without sending (the
    // remote answers it, which keeps NAT bindings open). Zero: no keep-alive.
    Millis keepalive{0};
};

struct StreamStats {
    std::uint64_t packets_sent = 0;
    std::uint64_t packets_received = 0;
    std::uint64_t bytes_acked = 0;  // payload bytes the remote acknowledged
    std::uint64_t retransmits = 0;
    std::uint64_t fast_losses = 0;  // packets declared lost by acks (not by a timeout)
    std::uint64_t timeouts = 0;     // RTO expiries
    std::uint64_t tail_probes = 0;  // tail loss probes (the newest unacked packet sent again)
    std::uint64_t acks_sent = 0;    // pure acknowledgements
    std::uint64_t final_acks = 0;   // extra copies of our ack of the remote's END, sent on closing
    std::uint64_t mtu_probes = 0;   // padded packets sent to try a larger size
    std::uint64_t keepalives = 0;   // HEARTBEATs sent as keep-alive
    std::uint64_t dropped_sacks = 0;     // SACK blocks outside what we have in flight
    std::uint64_t invalid_acks = 0;      // acks of packets we never sent
    std::uint64_t dropped_data = 0;      // data beyond our window or buffers
    std::uint64_t duplicate_data = 0;    // data we already had
    std::uint64_t dropped_messages = 0;  // messages over max_queued_messages
};

class StreamCore {
public:
    using SendFn = std::function<void(ByteView datagram)>;
    using EventFn = std::function<void()>;

    StreamCore(StreamConfig config, SendFn send, EventFn on_event = {});
    StreamCore(const StreamCore&) = delete;
    StreamCore& operator=(const StreamCore&) = delete;

    // --- application side ---
    // Queues bytes; false when unacknowledged bytes reach write_high_water (write again after
    // an event with writable() true). Ignored after end() or once closed.
    bool write(ByteView data);
    void end();                                   // half-close after everything written
    // One unordered, unreliable datagram of at most max_payload bytes; false if too big or
    // the stream is closed.
    bool send_message(ByteView data);
    void destroy();                               // sends DESTROY and closes at once
    void flush(TimePoint now);                    // sends what the windows allow

    std::size_t readable() const noexcept { return m_readable; }
    // Moves up to out.size() delivered bytes into out; returns how many.
    std::size_t read(MutableByteView out);
    Bytes read_all();
    // True once the remote's END arrived and every byte before it was read.
    bool eof() const noexcept { return m_remote_ended && m_readable == 0; }
    std::optional<Bytes> take_message();
    bool writable() const noexcept;
    std::size_t unacked_bytes() const noexcept { return m_queued_bytes; }

    // --- network side ---
    void on_packet(const Packet& p, TimePoint now);
    void on_timer(TimePoint now);
    // Sends the acknowledgement held back for in-order data, if any: the socket layer calls it
    // after each batch of datagrams it read.
    void flush_acks();
    // Sends at once the copies of the final ack still due (see kFinalAcks in stream.cpp): the
    // socket layer calls it before it closes, since nothing can answer the remote afterwards.
    void flush_final_acks();
    TimePoint next_wakeup() const noexcept;
    // Sends to another remote stream id from now on (the socket layer changes the address).
    void set_remote_id(std::uint32_t id) noexcept { m_cfg.remote_id = id; }

    // --- state ---
    std::uint32_t local_id() const noexcept { return m_cfg.local_id; }
    std::uint32_t remote_id() const noexcept { return m_cfg.remote_id; }
    bool closed() const noexcept { return m_close != CloseReason::kOpen; }
    CloseReason close_reason() const noexcept { return m_close; }
    const StreamStats& stats() const noexcept { return m_stats; }
    std::uint32_t cwnd() const noexcept { return m_cwnd; }
    // Payload bytes per packet now (max_payload, raised by the MTU search).
    std::size_t payload_size() const noexcept { return m_payload; }
    bool mtu_search_done() const noexcept { return m_probe_state == ProbeState::kDone; }
    // Bytes per second on the wire that pacing allows (0 = unpaced: NewReno, or BBR not started).
    double pacing_rate() const noexcept { return m_bbr ? m_bbr->pacing_rate() : 0; }
    // The BBR model, once the stream sent something with BBR (nullptr otherwise).
    const Bbr* bbr() const noexcept { return m_bbr ? &*m_bbr : nullptr; }
    Millis srtt() const noexcept { return Millis(m_srtt_ms); }
    Millis rto() const noexcept { return Millis(m_rto_ms); }
    std::uint32_t send_window_bytes() const noexcept { return m_send_rwnd; }
    // Bytes held for this stream (send and receive buffers), to check the memory bound.
    std::size_t buffered_bytes() const noexcept;

private:
    enum class PktState : std::uint8_t { kInFlight, kLost, kAcked };
    struct OutPacket {
        std::uint8_t type = 0;  // kData and/or kEnd
        Bytes data;
        TimePoint sent{};
        PktState state = PktState::kInFlight;
        bool retransmitted = false;
        bool queued = false;       // in m_retransmit
        bool app_limited = false;  // sent while the application had too little to send
        std::uint8_t probe_pad = 0;  // > 0: an MTU probe, padded by this many bytes
        // The delivery state when it was (last) sent, for its rate sample.
        std::uint64_t delivered = 0;
        TimePoint delivered_time{};
        TimePoint first_sent{};
    };
    // What the acks of one datagram acknowledged, for the RTT, loss detection and rate sample.
    struct AckScan {
        TimePoint now{};
        TimePoint newest_sent{};  // newest first transmission acked (RTT sample)
        TimePoint rack_sent{};    // newest transmission known delivered (loss detection)
        bool has_rate = false;    // the newest packet acked, any transmission:
        TimePoint rate_sent{};
        std::uint64_t prior_delivered = 0;
        TimePoint prior_time{};
        Clock::duration send_elapsed{};
        bool app_limited = false;
    };
    struct InPacket {
        std::uint8_t type = 0;
        Bytes data;
    };

    std::uint32_t recv_window() const noexcept;
    Header header(std::uint8_t type) const noexcept;
    void send_ack();
    void acked_now();  // everything received is acknowledged by what is being sent
    void send_raw(std::uint8_t type, ByteView data);
    void transmit(std::uint32_t seq, OutPacket& pkt, TimePoint now);
    void on_data(std::uint8_t type, std::uint32_t seq, ByteView data);
    void deliver(std::uint8_t type, ByteView data);
    void add_ooo_range(std::uint32_t seq);
    void process_acks(const Packet& p, TimePoint now);
    bool ack_one(std::uint32_t seq, AckScan& scan);
    void rtt_sample(Millis rtt);
    void mark_lost(std::uint32_t seq, OutPacket& pkt);
    void probe_acked(std::uint8_t pad);
    // Unpads a probe (true if it was one) and decides whether to probe again.
    bool probe_lost(OutPacket& pkt);
    // Marks what the acks show lost (judged against `rack_sent`); returns how many.
    std::uint32_t detect_losses(TimePoint rack_sent);
    void on_loss_episode();
    void check_all_ended();
    void send_final_ack(TimePoint now);
    Clock::duration final_ack_gap() const noexcept;
    void close(CloseReason r);
    void notify();
    void arm_rto(TimePoint now);
    void arm_tlp(TimePoint now);
    void send_tail_probe(TimePoint now);
    // Pacing: refills the token bucket; true while a packet may go out now.
    bool pace_allows(TimePoint now);
    void congestion_on_ack(const AckScan& scan, std::uint32_t newly, std::uint32_t lost,
                           TimePoint now);
    bool window_allows_new_packet() const noexcept;

    StreamConfig m_cfg;
    SendFn m_send;
    EventFn m_on_event;
    CloseReason m_close = CloseReason::kOpen;
    StreamStats m_stats;

    // Sender.
    std::uint32_t m_seq;           // next sequence number to assign
    std::uint32_t m_remote_acked;  // oldest packet not cumulatively acknowledged
    std::deque<OutPacket> m_out;   // packets m_remote_acked .. m_seq-1
    std::deque<Bytes> m_write_queue;
    std::size_t m_write_front = 0;   // bytes of m_write_queue.front() already packetised
    std::size_t m_unsent_bytes = 0;  // bytes in m_write_queue not yet packetised
    std::size_t m_queued_bytes = 0;  // written and not yet acknowledged
    bool m_end_requested = false;    // end() called
    bool m_end_sent = false;         // END packetised
    bool m_local_ended = false;      // our END acknowledged
    bool m_was_writable = true;
    std::deque<std::uint32_t> m_retransmit;  // lost packets to send again, oldest first
    struct Resent {
        std::uint32_t seq;
        TimePoint sent;
    };
    std::deque<Resent> m_resent;  // retransmissions in flight, in send order
    std::uint32_t m_inflight = 0;  // packets kInFlight
    std::uint32_t m_fack;          // one past the highest packet acknowledged
    std::uint32_t m_loss_scan;     // packets below this were checked by the SACK rule
    std::uint32_t m_send_rwnd;
    std::uint32_t m_wl1;
    std::uint32_t m_wl2;
    // Congestion control (packets).
    std::uint32_t m_cwnd = 10;
    std::uint32_t m_ssthresh = 0xffff;
    std::uint32_t m_cwnd_acc = 0;
    bool m_in_recovery = false;
    std::uint32_t m_recovery_end = 0;
    std::optional<Bbr> m_bbr;  // with CongestionControl::kBbr, from the first flush
    // Delivery-rate state (wire bytes delivered so far, when the last were, the newest acked send).
    std::uint64_t m_delivered = 0;
    TimePoint m_delivered_time{};
    TimePoint m_first_sent_time{};
    std::uint64_t m_app_limited_until = 0;  // 0 = not application-limited
    // Pacing token bucket, in wire bytes.
    double m_tokens = 0;
    TimePoint m_tokens_at{};
    std::optional<TimePoint> m_pace_at;  // flush again then (pacing held packets back)
    Clock::duration m_min_rtt = Clock::duration::max();
    std::uint32_t m_rtx_budget = 0;     // retransmissions the last ack allows past the window
    // MTU search.
    enum class ProbeState : std::uint8_t { kBase, kSearch, kDone };
    std::size_t m_payload = 0;        // bytes per packet now
    std::size_t m_probe_payload = 0;  // the size the next probe tries
    ProbeState m_probe_state = ProbeState::kDone;
    bool m_probe_wanted = false;
    int m_probe_count = 0;  // probes of this size lost so far
    std::optional<TimePoint> m_keepalive_at;
    std::optional<TimePoint> m_tlp_at;  // tail loss probe
    bool m_tlp_out = false;             // a probe is out and nothing was acked since
    // RTT and timers.
    std::uint32_t m_srtt_ms = 0;
    std::uint32_t m_rttvar_ms = 0;
    std::uint32_t m_rto_ms = 1000;
    std::uint32_t m_backoff = 1;
    int m_timeouts_in_row = 0;  // RTO expiries without the cumulative ack advancing
    std::optional<TimePoint> m_rto_at;
    std::optional<TimePoint> m_zwp_at;

    // Receiver.
    std::uint32_t m_ack;                        // next sequence number expected
    std::deque<std::optional<InPacket>> m_ooo;  // m_ooo[i] = packet m_ack + i (never [0])
    std::size_t m_ooo_count = 0;
    std::vector<SackBlock> m_ooo_ranges;  // the packets held in m_ooo as ranges (SACK blocks)
    std::size_t m_ooo_bytes = 0;
    std::deque<Bytes> m_read_queue;
    std::size_t m_read_front = 0;
    std::size_t m_readable = 0;
    bool m_remote_ended = false;
    std::uint32_t m_last_rwnd_sent = 0;
    std::uint32_t m_unacked_in_order = 0;  // in-order data packets whose ack is held back
    std::optional<TimePoint> m_ack_at;     // the held ack goes out then at the latest
    // Copies of the final ack still to send after closing as kEnded, the next one then.
    int m_final_acks_due = 0;
    std::optional<TimePoint> m_final_ack_at;
    std::deque<Bytes> m_messages;
    // Reused for every datagram we encode (the SendFn copies or sends it before returning).
    Bytes m_scratch;
    std::vector<SackBlock> m_sack_scratch;
};

}  // namespace hs::v11::udx
