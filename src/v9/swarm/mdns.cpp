#include "v9/swarm/mdns.h"

#include <sodium.h>

#include <algorithm>
#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/multicast.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "common/async/event.h"
#include "common/async/task_group.h"
#include "common/crypto/blake2b.h"
#include "v9/swarm/dns.h"
#include "common/util/hex.h"

namespace hs::swarm {
namespace detail {
namespace {

using asio::ip::udp;
using asio::experimental::awaitable_operators::operator||;
using Clock = std::chrono::steady_clock;
constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

constexpr std::string_view kTld = ".hyperswarm.local";
constexpr std::string_view kReferrerName = "referrer.hyperswarm.local";
constexpr std::string_view kAnyTarget = "0.0.0.0";
constexpr std::string_view kIdPrefix = "id=";
// After this many consecutive receive errors, the receive loop pauses kReceiveErrorPause.
constexpr int kReceiveErrorBurst = 8;
constexpr std::chrono::milliseconds kReceiveErrorPause{500};

// Lowercase, without a trailing dot: the key of the topic table.
std::string domain_key(std::string_view name) {
    if (name.size() > 1 && name.ends_with('.')) name.remove_suffix(1);
    std::string out(name);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return out;
}

// The first string of the first TXT answer named `name`, as dns-packet-based JS reads it.
const Bytes* txt_id(const dns::Packet& packet, std::string_view name) {
    for (const dns::Record& r : packet.answers) {
        if (r.type != dns::type::kTxt || !dns::same_name(r.name, name)) continue;
        const auto* txt = std::get_if<dns::TxtData>(&r.data);
        if (txt && !txt->strings.empty()) return &txt->strings.front();
    }
    return nullptr;
}

// Removes the SRV and TXT answers named `domain` (a domain_key); true if any was removed.
bool purge_answers(dns::Packet& packet, const std::string& domain) {
    const auto before = packet.answers.size();
    std::erase_if(packet.answers, [&](const dns::Record& r) {
        return (r.type == dns::type::kSrv || r.type == dns::type::kTxt) && domain_key(r.name) == domain;
    });
    return packet.answers.size() != before;
}

std::optional<asio::ip::address_v4> a_record(const dns::Packet& packet, std::string_view name) {
    for (const auto* section : {&packet.answers, &packet.additionals}) {
        for (const dns::Record& r : *section) {
            if (r.type != dns::type::kA || !dns::same_name(r.name, name)) continue;
            if (const auto* a = std::get_if<dns::AData>(&r.data)) {
                return asio::ip::address_v4(a->address);
            }
        }
    }
    return std::nullopt;
}

}  // namespace

// The state shared by Mdns and its loops. The loops' coroutine holds a shared_ptr to it so that
// it outlives their last wait even if the Mdns is destroyed without close().
class MdnsCore : public std::enable_shared_from_this<MdnsCore> {
public:
    struct Topic {
        std::array<std::uint8_t, 32> key{};
        bool announce = false;
        bool lookup = false;
        std::uint16_t port = 0;
        bool announce_pending = false;  // unsolicited answer not yet sent
        Clock::time_point next_query = Clock::time_point::max();
    };

    MdnsCore(asio::any_io_executor executor, MdnsOptions options, Mdns::PeerFound on_peer)
        : m_executor(std::move(executor)),
          m_options(std::move(options)),
          m_on_peer(std::move(on_peer)),
          m_log(m_options.log ? m_options.log : std::make_shared<spdlog::logger>("swarm")),
          m_socket(m_executor),
          m_schedule_wake(m_executor),
          m_send_wake(m_executor),
          m_retry_timer(m_executor),
          m_tasks(m_executor, "mdns", m_log) {
        crypto::ensure_sodium();
        randombytes_buf(m_id.data(), m_id.size());
        std::array<std::uint32_t, 4> seed{};
        randombytes_buf(seed.data(), sizeof(seed));
        std::seed_seq seq(seed.begin(), seed.end());
        m_rng.seed(seq);
        m_id_txt = to_bytes(as_bytes(kIdPrefix));
        append_bytes(m_id_txt, m_id);
        m_group = udp::endpoint(m_options.group, m_options.port);
    }

    Status start() {
        if (m_closed) return make_error(Errc::Closed, "mdns: start after close");
        if (m_running) return make_error(Errc::InvalidArgument, "mdns: started twice");
        std::error_code ec;
        auto fail = [&](std::string what) -> Status {
            std::error_code ignored;
            m_socket.close(ignored);
            return make_error(Errc::Io, "mdns: cannot {}: {}", what, ec.message());
        };
        const std::string iface = m_options.interface_address.to_string();
        const std::string group = m_options.group.to_string();
        m_socket.open(udp::v4(), ec);
        if (ec) return fail("open a UDP socket");
        m_socket.set_option(udp::socket::reuse_address(true), ec);
        if (ec) return fail("set SO_REUSEADDR");
        m_socket.bind(udp::endpoint(asio::ip::address_v4::any(), m_options.port), ec);
        if (ec) return fail(fmt::format("bind 0.0.0.0:{}", m_options.port));
        m_socket.set_option(
            asio::ip::multicast::join_group(m_options.group, m_options.interface_address), ec);
        if (ec)
            return fail(fmt::format("join {} on {} (is there a multicast route?)", group, iface));
        if (!m_options.interface_address.is_unspecified()) {
            m_socket.set_option(
                asio::ip::multicast::outbound_interface(m_options.interface_address), ec);
            if (ec) return fail(fmt::format("send multicast from {}", iface));
        }
        m_socket.set_option(asio::ip::multicast::hops(255), ec);
        if (ec) return fail("set the multicast TTL");
        m_socket.set_option(asio::ip::multicast::enable_loopback(true), ec);
        if (ec) return fail("enable multicast loopback");
        m_running = true;
        m_log->debug("mdns: listening on {}:{} (interface {})", group, m_options.port, iface);
        // The task holds the core alive until it ends, even if the Mdns is destroyed first.
        auto self = shared_from_this();
        m_tasks.spawn("responder", run(self), [self] {
            self->m_running = false;
            self->shutdown();
        });
        return {};
    }

    void join(const std::array<std::uint8_t, 32>& key, bool announce, bool lookup,
              std::uint16_t port) {
        if (m_closed) return;
        if (!announce && !lookup) {
            leave(key);
            return;
        }
        Topic t;
        t.key = key;
        t.announce = announce;
        t.lookup = lookup;
        t.port = port;
        t.announce_pending = announce && port != 0;
        t.next_query = lookup ? Clock::now() : Clock::time_point::max();
        m_topics.insert_or_assign(domain_key(mdns_domain(key)), t);
        m_schedule_wake.notify();  // let the schedule loop send what is due now
    }

    // After leave() nothing about the topic leaves this process, not even an answer that was
    // queued before (it is taken out of the queued packets; a packet left with no SRV record is
    // dropped).
    void leave(const std::array<std::uint8_t, 32>& key) {
        const std::string domain = domain_key(mdns_domain(key));
        m_topics.erase(domain);
        for (auto it = m_queue.begin(); it != m_queue.end();) {
            if (!it->is_response() || !purge_answers(*it, domain)) {
                ++it;
            } else if (std::none_of(it->answers.begin(), it->answers.end(), [](const dns::Record& r) {
                           return r.type == dns::type::kSrv;
                       })) {
                it = m_queue.erase(it);
            } else {
                ++it;
            }
        }
    }

    // Synchronous part of closing: no callbacks, no sends after this.
    void shutdown() {
        if (m_closed) return;
        m_closed = true;
        m_topics.clear();
        m_queue.clear();
        std::error_code ignored;
        m_socket.close(ignored);
        m_schedule_wake.notify();
        m_send_wake.notify();
        m_retry_timer.cancel();
    }

    asio::awaitable<void> close() {
        auto self = shared_from_this();
        shutdown();
        co_await m_tasks.join();
    }

    const std::array<std::uint8_t, 32>& id() const noexcept { return m_id; }
    std::size_t topic_count() const noexcept { return m_topics.size(); }

private:
    asio::awaitable<void> run(std::shared_ptr<MdnsCore> /*alive*/) {
        co_await (receive_loop() || schedule_loop() || send_loop());
    }

    asio::awaitable<void> receive_loop() {
        co_await asio::this_coro::throw_if_cancelled(false);
        std::vector<std::uint8_t> buffer(dns::kMaxPacketBytes);
        udp::endpoint from;
        int errors = 0;
        while (!m_closed) {
            auto [ec, n] = co_await m_socket.async_receive_from(asio::buffer(buffer), from, kAwait);
            if (m_closed) break;
            if (ec) {
                m_log->debug("mdns: receive failed: {}", ec.message());
                if (++errors >= kReceiveErrorBurst) {
                    errors = 0;
                    m_retry_timer.expires_after(kReceiveErrorPause);
                    co_await m_retry_timer.async_wait(kAwait);
                }
                continue;
            }
            errors = 0;
            handle_datagram(ByteView(buffer.data(), n), from);
        }
    }

    asio::awaitable<void> schedule_loop() {
        co_await asio::this_coro::throw_if_cancelled(false);
        while (!m_closed) {
            const auto now = Clock::now();
            std::vector<std::string> queries;
            std::vector<const Topic*> announces;
            auto next = Clock::time_point::max();
            for (auto& [domain, t] : m_topics) {
                if (t.announce_pending) {
                    t.announce_pending = false;
                    announces.push_back(&t);
                }
                if (!t.lookup) continue;
                if (t.next_query <= now) {
                    queries.push_back(domain);
                    t.next_query = now + requery_interval();
                }
                next = std::min(next, t.next_query);
            }
            send_answers(announces, std::nullopt);
            send_queries(queries);
            if (m_closed) break;
            co_await m_schedule_wake.wait_until(next);  // due, or woken by join/close
        }
    }

    asio::awaitable<void> send_loop() {
        co_await asio::this_coro::throw_if_cancelled(false);
        asio::steady_timer deadline(m_executor);
        while (!m_closed) {
            if (m_queue.empty()) {
                co_await m_send_wake.wait();  // woken by enqueue or close
                continue;
            }
            Bytes packet;
            const Status encoded = m_queue.front().encode_to(packet);
            m_queue.pop_front();
            if (!encoded) {  // checked by enqueue(); only a purged packet is re-encoded here
                m_log->warn("mdns: cannot encode a packet: {}", encoded.error().message);
                continue;
            }
            deadline.expires_after(kMdnsSendTimeout);
            auto result = co_await (m_socket.async_send_to(asio::buffer(packet), m_group, kAwait) ||
                                    deadline.async_wait(kAwait));
            if (m_closed) break;
            if (result.index() == 1) {
                m_log->debug("mdns: send timed out after {} ms", kMdnsSendTimeout.count());
            } else if (auto [ec, n] = std::get<0>(result); ec) {
                m_log->debug("mdns: send failed: {}", ec.message());
            }
        }
    }

    std::chrono::milliseconds requery_interval() {
        const auto lo = std::max<std::int64_t>(m_options.requery_min.count(), 1);
        const auto hi = std::max(lo, m_options.requery_max.count());
        std::uniform_int_distribution<std::int64_t> d(lo, hi);
        return std::chrono::milliseconds(d(m_rng));
    }

    void enqueue(const dns::Packet& packet) {
        Bytes bytes;
        if (auto s = packet.encode_to(bytes); !s) {
            m_log->warn("mdns: cannot encode a packet: {}", s.error().message);
            return;
        }
        if (m_queue.size() >= kMdnsMaxQueuedPackets) {
            m_log->debug("mdns: send queue full, dropping a packet of {} bytes", bytes.size());
            return;
        }
        m_queue.push_back(packet);
        m_send_wake.notify();
    }

    void send_queries(const std::vector<std::string>& domains) {
        for (std::size_t i = 0; i < domains.size(); i += kMdnsMaxTopicsPerPacket) {
            dns::Packet q;
            const std::size_t end = std::min(domains.size(), i + kMdnsMaxTopicsPerPacket);
            for (std::size_t j = i; j < end; ++j) {
                q.questions.push_back(dns::Question{domains[j], dns::type::kSrv, dns::kClassIn});
            }
            enqueue(q);
        }
    }

    // SRV + TXT per topic (in packets of kMdnsMaxTopicsPerPacket topics), plus the referrer A
    // record when answering a received query.
    void send_answers(const std::vector<const Topic*>& topics,
                      std::optional<asio::ip::address_v4> referrer) {
        for (std::size_t i = 0; i < topics.size(); i += kMdnsMaxTopicsPerPacket) {
            dns::Packet r;
            r.flags = dns::kFlagResponse | dns::kFlagAuthoritative;
            const std::size_t end = std::min(topics.size(), i + kMdnsMaxTopicsPerPacket);
            for (std::size_t j = i; j < end; ++j) {
                const std::string domain = mdns_domain(topics[j]->key);
                dns::Record srv;
                srv.name = domain;
                srv.type = dns::type::kSrv;
                srv.data = dns::SrvData{0, 0, topics[j]->port, std::string(kAnyTarget)};
                r.answers.push_back(std::move(srv));
                dns::Record txt;
                txt.name = domain;
                txt.type = dns::type::kTxt;
                txt.data = dns::TxtData{{m_id_txt}};
                r.answers.push_back(std::move(txt));
            }
            if (referrer) {
                dns::Record a;
                a.name = std::string(kReferrerName);
                a.type = dns::type::kA;
                a.data = dns::AData{referrer->to_bytes()};
                r.answers.push_back(std::move(a));
            }
            enqueue(r);
        }
    }

    void handle_datagram(ByteView datagram, const udp::endpoint& from) {
        ByteView in = datagram;
        auto packet = dns::Packet::decode(in);
        if (!packet) {
            m_log->debug("mdns: dropped a packet of {} bytes from {}: {}", datagram.size(),
                         from.address().to_string(), packet.error().message);
            return;
        }
        if (!from.address().is_v4()) return;
        if (packet->is_response()) {
            on_response(*packet, from.address().to_v4());
        } else {
            on_query(*packet, from.address().to_v4());
        }
    }

    void on_query(const dns::Packet& packet, const asio::ip::address_v4& from) {
        std::vector<const Topic*> answer;
        for (const dns::Question& q : packet.questions) {
            if (q.type != dns::type::kSrv) continue;
            const auto it = m_topics.find(domain_key(q.name));
            if (it == m_topics.end()) continue;
            const Topic& t = it->second;
            if (!t.announce || t.port == 0) continue;
            if (const Bytes* id = txt_id(packet, q.name); id && *id == m_id_txt) continue;
            if (std::find(answer.begin(), answer.end(), &t) == answer.end()) answer.push_back(&t);
        }
        if (!answer.empty()) send_answers(answer, from);
    }

    void on_response(const dns::Packet& packet, const asio::ip::address_v4& from) {
        struct Found {
            std::array<std::uint8_t, 32> topic;
            asio::ip::tcp::endpoint peer;
        };
        std::vector<Found> found;
        for (const dns::Record& r : packet.answers) {
            if (r.type != dns::type::kSrv) continue;
            const auto* srv = std::get_if<dns::SrvData>(&r.data);
            if (!srv) continue;
            const auto it = m_topics.find(domain_key(r.name));
            if (it == m_topics.end() || !it->second.lookup) continue;
            if (const Bytes* id = txt_id(packet, r.name); id && *id == m_id_txt) continue;
            std::optional<asio::ip::address_v4> host;
            if (srv->target == kAnyTarget) {
                host = from;
            } else {
                std::error_code ec;
                const auto literal = asio::ip::make_address_v4(srv->target, ec);
                host = ec ? a_record(packet, srv->target) : std::optional(literal);
            }
            if (!host || host->is_unspecified() || srv->port == 0) {
                m_log->debug("mdns: ignored an answer for {} from {}: target '{}' port {}", r.name,
                             from.to_string(), srv->target, srv->port);
                continue;
            }
            Found f{it->second.key, asio::ip::tcp::endpoint(*host, srv->port)};
            const bool dup = std::any_of(found.begin(), found.end(), [&](const Found& o) {
                return o.topic == f.topic && o.peer == f.peer;
            });
            if (!dup) found.push_back(f);
        }
        // The callback may join, leave or close: re-check before each call.
        for (const Found& f : found) {
            if (m_closed) return;
            const auto it = m_topics.find(domain_key(mdns_domain(f.topic)));
            if (it == m_topics.end() || !it->second.lookup) continue;
            if (m_on_peer) m_on_peer(f.topic, f.peer);
        }
    }

    asio::any_io_executor m_executor;
    MdnsOptions m_options;
    Mdns::PeerFound m_on_peer;
    std::shared_ptr<spdlog::logger> m_log;
    udp::socket m_socket;
    udp::endpoint m_group;
    async::Event m_schedule_wake;         // join and close: the schedule loop re-checks
    async::Event m_send_wake;             // enqueue and close: the send loop re-checks
    asio::steady_timer m_retry_timer;     // pause after a burst of receive errors
    std::array<std::uint8_t, 32> m_id{};
    Bytes m_id_txt;  // "id=" + m_id
    std::mt19937_64 m_rng;
    std::map<std::string, Topic> m_topics;  // by domain_key(mdns_domain(key))
    // Packets not yet sent, at most kMdnsMaxQueuedPackets; encoded when sent, so that leave()
    // can still take a topic's answers out.
    std::deque<dns::Packet> m_queue;
    bool m_running = false;                 // the loops' coroutine has not returned yet
    bool m_closed = false;
    async::TaskGroup m_tasks;  // the responder (the three loops)
};

}  // namespace detail

std::string mdns_domain(const std::array<std::uint8_t, 32>& topic) {
    return to_hex(ByteView(topic.data(), 20)) + std::string(detail::kTld);
}

Mdns::Mdns(asio::any_io_executor executor, MdnsOptions options, PeerFound on_peer)
    : m_core(std::make_shared<detail::MdnsCore>(std::move(executor), std::move(options),
                                                std::move(on_peer))) {}

Mdns::~Mdns() { m_core->shutdown(); }

Status Mdns::start() { return m_core->start(); }

void Mdns::join(const std::array<std::uint8_t, 32>& topic, bool announce, bool lookup,
                std::uint16_t tcp_port) {
    m_core->join(topic, announce, lookup, tcp_port);
}

void Mdns::leave(const std::array<std::uint8_t, 32>& topic) { m_core->leave(topic); }

asio::awaitable<void> Mdns::close() {
    auto core = m_core;
    co_await core->close();
}

const std::array<std::uint8_t, 32>& Mdns::id() const noexcept { return m_core->id(); }
std::size_t Mdns::topic_count() const noexcept { return m_core->topic_count(); }

}  // namespace hs::swarm
