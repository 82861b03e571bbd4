// A BBR (version 1) congestion controller for one UDX stream, sans-IO (docs/formats/udx.md
// "Congestion control"). It models the path from delivery-rate samples: the bottleneck bandwidth
// is the windowed maximum of the delivery rates of the last 10 rounds, the propagation delay the
// minimum RTT of the last 10 seconds. From the model it sets a pacing rate (gain x bandwidth) and
// a congestion window (gain x bandwidth x min RTT). States:
//   STARTUP    gain 2/ln2 until three rounds in a row grow the bandwidth by less than 25 %, or
//              a round both lost over 2 % of its packets (8 at least) and saw the RTT grow by a
//              quarter over the minimum: a queue overflowed (as BBR v2 does; random loss
//              without a growing queue does not end startup),
//   DRAIN      gain ln2/2 until what is in flight fits one bandwidth-delay product,
//   PROBE_BW   an 8-phase cycle of one min RTT each: 1.25 (probe), 0.75 (drain), six times 1,
//   PROBE_RTT  when the min RTT is 10 s old: at most 4 packets in flight for 200 ms and a round.
// A round that loses over 2 % of its packets while its RTT grew by a quarter over the minimum
// lost them to a full queue: the bandwidth used is then held to that round's delivery rate (and
// decays by 0.7 per such round) until the next probe (BBR v2's bw_lo), which stops flows that
// share a shallow queue from overfilling it. Other loss is not taken as congestion: the rate
// stays, the window loses the lost packets and is held to what is in flight plus what was acked
// for one round (packet conservation), then grows back and is restored to its value before the
// loss once recovery ends. An RTO restarts the window from one packet and forgets the bandwidth
// plateau (the model itself stays).
// Units: packets for windows and counts, wire bytes (payload + header) for what was delivered,
// bytes per second on the wire for bandwidth and pacing rate; windows convert with the current
// packet size (which the MTU search may raise).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace hs::v11::udx {

using BbrClock = std::chrono::steady_clock;

// What one acknowledgement told: a delivery-rate sample (in the spirit of the IETF draft
// "delivery rate estimation") and the counts of packets it acknowledged and found lost.
struct RateSample {
    // Bytes delivered between the newest acknowledged packet's send and this ack, over the
    // longer of its send and ack intervals; interval <= 0 means no usable sample.
    std::uint64_t delivered = 0;
    BbrClock::duration interval{-1};
    std::uint64_t prior_delivered = 0;  // bytes delivered when that packet was sent
    bool app_limited = false;           // the sender had nothing to send when it was sent
    std::uint32_t acked = 0;            // packets newly acknowledged (cumulatively or by SACK)
    std::uint32_t lost = 0;             // packets newly found lost
    BbrClock::duration rtt{-1};         // RTT of the newest first transmission acked, if any
};

class Bbr {
public:
    enum class State : std::uint8_t { kStartup, kDrain, kProbeBw, kProbeRtt };
    enum class Recovery : std::uint8_t { kOpen, kRecovery, kLoss };

    // `wire_packet_bytes` is a full packet's size on the wire (payload + header); `phase_seed`
    // picks the PROBE_BW phase streams start in, so streams started together do not probe in
    // lockstep (deterministic for a given seed).
    Bbr(std::uint32_t initial_cwnd, std::uint32_t wire_packet_bytes, std::uint32_t phase_seed,
        BbrClock::time_point now);

    // Once per acknowledgement that acked or lost something while data was in flight.
    // `delivered` counts every byte delivered so far, `inflight` the packets in flight after it.
    void on_ack(const RateSample& rs, std::uint64_t delivered, std::uint32_t inflight,
                BbrClock::time_point now);
    // A loss (not a timeout) starts recovery until everything sent before it is acknowledged.
    void enter_recovery();
    void exit_recovery();
    // An RTO: every packet is resent from a window of one packet.
    void on_rto();
    // The MTU search raised the packet size.
    void set_wire_packet_bytes(std::uint32_t bytes) noexcept {
        m_wire_bytes = std::max<std::uint32_t>(bytes, 1);
    }
    // Sending restarts after an idle (application-limited) period.
    void on_restart_from_idle(BbrClock::time_point now);

    std::uint32_t cwnd() const noexcept { return m_cwnd; }
    double pacing_rate() const noexcept { return m_pacing_rate; }  // bytes per second
    double bandwidth() const noexcept;                              // bytes per second
    BbrClock::duration min_rtt() const noexcept { return m_min_rtt; }
    State state() const noexcept { return m_state; }
    Recovery recovery() const noexcept { return m_recovery; }
    bool full_bandwidth_reached() const noexcept { return m_full_bw_reached; }
    std::uint64_t rounds() const noexcept { return m_round; }

private:
    // Packets in flight that gain x bandwidth x min RTT allows.
    std::uint32_t bdp(double gain) const noexcept;
    double max_bandwidth() const noexcept;  // the windowed max alone
    // The round that just ended lost over 2 % (8 packets at least) while the RTT grew by a
    // quarter over the minimum: loss to a full queue, not random loss.
    bool round_had_congestion_loss() const noexcept;
    void update_bandwidth(const RateSample& rs, std::uint64_t delivered);
    void update_cycle_phase(const RateSample& rs, std::uint32_t inflight, BbrClock::time_point now);
    void check_full_bandwidth(const RateSample& rs);
    void check_drain(std::uint32_t inflight, BbrClock::time_point now);
    void update_min_rtt(const RateSample& rs, std::uint64_t delivered, std::uint32_t inflight,
                        BbrClock::time_point now);
    void leave_probe_rtt(BbrClock::time_point now);
    void enter_probe_bw(BbrClock::time_point now);
    void update_gains();
    void set_pacing_rate(double gain);
    void set_cwnd(const RateSample& rs, std::uint32_t inflight);
    void save_cwnd();

    static constexpr int kBwWindowRounds = 10;

    std::uint32_t m_wire_bytes;
    std::uint32_t m_phase_seed;
    State m_state = State::kStartup;
    Recovery m_recovery = Recovery::kOpen;
    Recovery m_prev_recovery = Recovery::kOpen;
    std::uint32_t m_cwnd;
    std::uint32_t m_prior_cwnd = 0;
    bool m_packet_conservation = false;
    double m_pacing_rate = 0;
    double m_pacing_gain;
    double m_cwnd_gain;
    // Windowed max bandwidth: the max sample of each of the last kBwWindowRounds rounds.
    std::array<double, kBwWindowRounds> m_bw_by_round{};
    std::array<std::uint64_t, kBwWindowRounds> m_bw_round{};
    std::uint64_t m_round = 0;
    std::uint64_t m_next_round_delivered = 0;
    bool m_round_start = false;
    // This round's losses, deliveries, largest RTT and best delivery rate.
    std::uint32_t m_round_lost = 0;
    std::uint32_t m_round_acked = 0;
    BbrClock::duration m_round_max_rtt{};
    double m_round_max_bw = 0;
    // Lower bound after congestion loss (BBR v2's bw_lo): the bandwidth used is
    // min(windowed max, this); unset (0) until a round loses to a full queue, reset when
    // PROBE_BW probes up again.
    double m_bw_lo = 0;
    // Startup's plateau detection.
    double m_full_bw = 0;
    int m_full_bw_count = 0;
    bool m_full_bw_reached = false;
    // PROBE_BW cycle.
    int m_cycle_index = 0;
    BbrClock::time_point m_cycle_stamp{};
    // Min RTT and PROBE_RTT.
    BbrClock::duration m_min_rtt = BbrClock::duration::max();
    BbrClock::time_point m_min_rtt_stamp;
    BbrClock::time_point m_probe_rtt_done{};  // epoch: not yet timed
    bool m_probe_rtt_round_done = false;
    bool m_idle_restart = false;
    bool m_has_rtt = false;
};

}  // namespace hs::v11::udx
