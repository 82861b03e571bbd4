#include "v11/udx/bbr.h"

#include <algorithm>

namespace hs::v11::udx {
namespace {

using Duration = BbrClock::duration;

constexpr double kHighGain = 2.88539;  // 2 / ln 2: doubles the delivery rate every round
constexpr double kDrainGain = 1 / kHighGain;
constexpr double kCwndGain = 2.0;
constexpr double kPacingMargin = 0.99;  // pace a little under the estimate to keep queues short
constexpr std::array<double, 8> kCycleGains = {1.25, 0.75, 1, 1, 1, 1, 1, 1};
constexpr std::uint32_t kMinCwnd = 4;
constexpr double kFullBwGrowth = 1.25;
constexpr int kFullBwRounds = 3;
constexpr auto kMinRttWindow = std::chrono::seconds(10);
constexpr auto kProbeRttTime = std::chrono::milliseconds(200);
constexpr std::uint32_t kMaxCwnd = 65536;
// A round lost to a full queue: at least this many losses, over this share, with the RTT grown.
constexpr std::uint32_t kCongestionLossPackets = 8;
constexpr std::uint32_t kCongestionLossPercent = 2;
constexpr double kLossBeta = 0.7;

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Bbr::Bbr(std::uint32_t initial_cwnd, std::uint32_t wire_packet_bytes, std::uint32_t phase_seed,
         BbrClock::time_point now)
    : m_wire_bytes(std::max<std::uint32_t>(wire_packet_bytes, 1)),
      m_phase_seed(phase_seed),
      m_cwnd(initial_cwnd),
      m_pacing_gain(kHighGain),
      m_cwnd_gain(kHighGain),
      m_min_rtt_stamp(now) {
    // No RTT yet: assume the initial window per millisecond, at the startup gain.
    m_pacing_rate = static_cast<double>(initial_cwnd) * m_wire_bytes * 1000.0 * kHighGain;
}

double Bbr::max_bandwidth() const noexcept {
    double bw = 0;
    for (int i = 0; i < kBwWindowRounds; ++i)
        if (m_bw_round[i] + kBwWindowRounds > m_round) bw = std::max(bw, m_bw_by_round[i]);
    return bw;
}

double Bbr::bandwidth() const noexcept {
    const double bw = max_bandwidth();
    return m_bw_lo > 0 ? std::min(bw, m_bw_lo) : bw;
}

std::uint32_t Bbr::bdp(double gain) const noexcept {
    if (m_min_rtt == Duration::max()) return 10;  // no RTT yet: the initial window
    const double packets = bandwidth() * seconds(m_min_rtt) * gain / m_wire_bytes;
    return static_cast<std::uint32_t>(std::min(packets, static_cast<double>(kMaxCwnd)));
}

bool Bbr::round_had_congestion_loss() const noexcept {
    return m_round_lost >= kCongestionLossPackets &&
           m_round_lost * 100 > kCongestionLossPercent * (m_round_lost + m_round_acked) &&
           m_min_rtt != Duration::max() && m_round_max_rtt * 4 > m_min_rtt * 5;
}

void Bbr::update_bandwidth(const RateSample& rs, std::uint64_t delivered) {
    m_round_start = false;
    if (rs.interval <= Duration::zero()) return;
    if (rs.prior_delivered >= m_next_round_delivered) {
        // The packet acked was sent after the previous round's end was: a new round.
        if (round_had_congestion_loss()) {
            if (m_state == State::kStartup && !m_full_bw_reached) {
                m_full_bw_reached = true;
                m_full_bw = max_bandwidth();
            }
            const double lo = m_bw_lo > 0 ? m_bw_lo : max_bandwidth();
            m_bw_lo = std::max(m_round_max_bw, kLossBeta * lo);
        }
        m_round_max_bw = 0;
        m_round_lost = 0;
        m_round_acked = 0;
        m_round_max_rtt = {};
        m_next_round_delivered = delivered;
        ++m_round;
        m_round_start = true;
        m_packet_conservation = false;
    }
    const double bw = static_cast<double>(rs.delivered) / seconds(rs.interval);
    m_round_max_bw = std::max(m_round_max_bw, bw);
    // An application-limited sample only counts when it raises the estimate.
    if (rs.app_limited && bw < bandwidth()) return;
    const int slot = static_cast<int>(m_round % kBwWindowRounds);
    if (m_bw_round[slot] != m_round) {
        m_bw_round[slot] = m_round;
        m_bw_by_round[slot] = 0;
    }
    m_bw_by_round[slot] = std::max(m_bw_by_round[slot], bw);
}

void Bbr::update_cycle_phase(const RateSample& rs, std::uint32_t inflight,
                             BbrClock::time_point now) {
    if (m_state != State::kProbeBw) return;
    const bool full_length = now - m_cycle_stamp > m_min_rtt;
    bool next = full_length;
    if (m_pacing_gain > 1.0) {
        // Probe until a min RTT passed and the probe filled the pipe (or lost packets).
        next = full_length && (rs.lost > 0 || inflight >= bdp(m_pacing_gain));
    } else if (m_pacing_gain < 1.0) {
        // Drain until a min RTT passed or the queue the probe built is gone.
        next = full_length || inflight <= bdp(1.0);
    }
    if (next) {
        m_cycle_index = (m_cycle_index + 1) % static_cast<int>(kCycleGains.size());
        m_cycle_stamp = now;
        if (kCycleGains[static_cast<std::size_t>(m_cycle_index)] > 1.0) m_bw_lo = 0;  // probe up
    }
}

void Bbr::check_full_bandwidth(const RateSample& rs) {
    if (m_full_bw_reached || !m_round_start || rs.app_limited) return;
    const double bw = bandwidth();
    if (bw >= m_full_bw * kFullBwGrowth) {
        m_full_bw = bw;
        m_full_bw_count = 0;
        return;
    }
    if (++m_full_bw_count >= kFullBwRounds) m_full_bw_reached = true;
}

void Bbr::enter_probe_bw(BbrClock::time_point now) {
    m_state = State::kProbeBw;
    // Any phase but the draining one (index 1), chosen by the seed.
    static constexpr int kStarts[] = {0, 2, 3, 4, 5, 6, 7};
    m_cycle_index = kStarts[m_phase_seed % 7];
    m_cycle_stamp = now;
}

void Bbr::check_drain(std::uint32_t inflight, BbrClock::time_point now) {
    if (m_state == State::kStartup && m_full_bw_reached) m_state = State::kDrain;
    if (m_state == State::kDrain && inflight <= bdp(1.0)) enter_probe_bw(now);
}

void Bbr::save_cwnd() {
    if (m_recovery == Recovery::kOpen && m_state != State::kProbeRtt) {
        m_prior_cwnd = m_cwnd;
    } else {
        m_prior_cwnd = std::max(m_prior_cwnd, m_cwnd);
    }
}

void Bbr::leave_probe_rtt(BbrClock::time_point now) {
    m_min_rtt_stamp = now;
    m_cwnd = std::max(m_cwnd, m_prior_cwnd);
    if (m_full_bw_reached) {
        enter_probe_bw(now);
    } else {
        m_state = State::kStartup;
    }
}

void Bbr::update_min_rtt(const RateSample& rs, std::uint64_t delivered, std::uint32_t inflight,
                         BbrClock::time_point now) {
    const bool expired = now - m_min_rtt_stamp > kMinRttWindow;
    if (rs.rtt >= Duration::zero() && (rs.rtt < m_min_rtt || expired)) {
        m_min_rtt = std::max(rs.rtt, Duration(std::chrono::microseconds(1)));
        m_min_rtt_stamp = now;
    }
    if (expired && !m_idle_restart && m_state != State::kProbeRtt) {
        save_cwnd();
        m_state = State::kProbeRtt;
        m_probe_rtt_done = {};
    }
    if (m_state == State::kProbeRtt) {
        if (m_probe_rtt_done == BbrClock::time_point{} && inflight <= kMinCwnd) {
            // Few enough in flight: hold it there for 200 ms and one round.
            m_probe_rtt_done = now + kProbeRttTime;
            m_probe_rtt_round_done = false;
            m_next_round_delivered = delivered;
        } else if (m_probe_rtt_done != BbrClock::time_point{}) {
            if (m_round_start) m_probe_rtt_round_done = true;
            if (m_probe_rtt_round_done && now >= m_probe_rtt_done) leave_probe_rtt(now);
        }
    }
    if (rs.delivered > 0) m_idle_restart = false;
}

void Bbr::update_gains() {
    switch (m_state) {
        case State::kStartup:
            m_pacing_gain = kHighGain;
            m_cwnd_gain = kHighGain;
            break;
        case State::kDrain:
            m_pacing_gain = kDrainGain;
            m_cwnd_gain = kHighGain;
            break;
        case State::kProbeBw:
            m_pacing_gain = kCycleGains[static_cast<std::size_t>(m_cycle_index)];
            m_cwnd_gain = kCwndGain;
            break;
        case State::kProbeRtt:
            m_pacing_gain = 1.0;
            m_cwnd_gain = 1.0;
            break;
    }
}

void Bbr::set_pacing_rate(double gain) {
    const double rate = bandwidth() * gain * kPacingMargin;
    // Until the pipe is known to be full the rate only grows (startup's first samples are low).
    if (rate > 0 && (m_full_bw_reached || rate > m_pacing_rate)) m_pacing_rate = rate;
}

void Bbr::set_cwnd(const RateSample& rs, std::uint32_t inflight) {
    if (rs.acked == 0) return;
    std::uint32_t cwnd = m_cwnd;
    if (rs.lost > 0) cwnd = cwnd > rs.lost ? cwnd - rs.lost : 1;
    if (m_recovery == Recovery::kRecovery && m_prev_recovery != Recovery::kRecovery) {
        // First ack of a recovery: send one packet per packet that left the network.
        m_packet_conservation = true;
        cwnd = inflight + rs.acked;
    } else if (m_prev_recovery != Recovery::kOpen && m_recovery == Recovery::kOpen) {
        cwnd = std::max(cwnd, m_prior_cwnd);
        m_packet_conservation = false;
    }
    m_prev_recovery = m_recovery;
    if (m_packet_conservation) {
        m_cwnd = std::max(cwnd, inflight + rs.acked);
    } else {
        const std::uint32_t target = bdp(m_cwnd_gain);
        if (m_full_bw_reached) {
            cwnd = std::min(cwnd + rs.acked, std::max(target, kMinCwnd));
        } else if (cwnd < target || m_round < 2) {
            cwnd += rs.acked;
        }
        m_cwnd = std::clamp(cwnd, kMinCwnd, kMaxCwnd);
    }
    if (m_state == State::kProbeRtt) m_cwnd = std::min(m_cwnd, kMinCwnd);
}

void Bbr::on_ack(const RateSample& rs, std::uint64_t delivered, std::uint32_t inflight,
                 BbrClock::time_point now) {
    if (!m_has_rtt && rs.rtt > Duration::zero()) {
        // The first RTT: the initial window per RTT, at the startup gain.
        m_has_rtt = true;
        const double rate =
            static_cast<double>(m_cwnd) * m_wire_bytes / seconds(rs.rtt) * kHighGain;
        m_pacing_rate = std::min(m_pacing_rate, rate);
    }
    m_round_lost += rs.lost;
    m_round_acked += rs.acked;
    m_round_max_rtt = std::max(m_round_max_rtt, rs.rtt);
    update_bandwidth(rs, delivered);
    update_cycle_phase(rs, inflight, now);
    check_full_bandwidth(rs);
    check_drain(inflight, now);
    update_min_rtt(rs, delivered, inflight, now);
    update_gains();
    set_pacing_rate(m_pacing_gain);
    set_cwnd(rs, inflight);
}

void Bbr::enter_recovery() {
    if (m_recovery != Recovery::kOpen) return;
    save_cwnd();
    m_recovery = Recovery::kRecovery;
}

void Bbr::exit_recovery() {
    if (m_recovery == Recovery::kOpen) return;
    m_recovery = Recovery::kOpen;
    m_cwnd = std::max(m_cwnd, m_prior_cwnd);
    m_packet_conservation = false;
    m_prev_recovery = Recovery::kOpen;
}

void Bbr::on_rto() {
    save_cwnd();
    m_recovery = Recovery::kLoss;
    m_prev_recovery = Recovery::kLoss;
    m_packet_conservation = false;
    m_cwnd = 1;
    m_full_bw = 0;
    m_full_bw_count = 0;
    m_round_start = true;
}

void Bbr::on_restart_from_idle(BbrClock::time_point now) {
    m_idle_restart = true;
    if (m_state == State::kProbeBw) {
        // Resume at the estimated rate rather than a probing or draining one.
        const double rate = bandwidth() * kPacingMargin;
        if (rate > 0) m_pacing_rate = rate;
    } else if (m_state == State::kProbeRtt && m_probe_rtt_done != BbrClock::time_point{} &&
               now >= m_probe_rtt_done) {
        leave_probe_rtt(now);
    }
}

}  // namespace hs::v11::udx
