#include "v9/swarm/swarm.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <sys/resource.h>

#include <spdlog/spdlog.h>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "common/util/hex.h"

namespace hs::swarm {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Retry delays after the 1st, 2nd and 3rd failed attempt; after that the address is forgotten
// until discovery finds it again (docs/behaviour/networking.md "Connecting").
constexpr std::chrono::milliseconds kBackoff[] = {std::chrono::milliseconds(1000),
                                                  std::chrono::milliseconds(5000),
                                                  std::chrono::milliseconds(15000)};
constexpr unsigned kMaxAttempts = 3;
constexpr std::chrono::seconds kUnannounceTimeout{5};
constexpr std::size_t kMaxQueuedPeers = 4096;
// Early repeats of a discovery round that failed or found nobody: 1 s, 2 s, 4 s, ... 32 s,
// then the regular 5-10 min schedule.
constexpr std::chrono::milliseconds kRetryRoundMin{1000};
constexpr std::chrono::milliseconds kRetryRoundMax{60000};
// A failing accept (out of file descriptors, out of memory) is retried after 50 ms, doubling up
// to 1 s while it keeps failing: the pending connection stays in the backlog, so retrying at
// once would spin.
constexpr std::chrono::milliseconds kAcceptBackoffMin{50};
constexpr std::chrono::milliseconds kAcceptBackoffMax{1000};
constexpr std::chrono::seconds kAcceptWarnInterval{10};  // at most one warning per interval

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address();
    if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(ep.port());
    return a.to_string() + ":" + std::to_string(ep.port());
}

// IPv4-mapped IPv6 addresses as plain IPv4 (dedup of addresses found by different routes).
asio::ip::tcp::endpoint normalize(asio::ip::tcp::endpoint ep) {
    if (ep.address().is_v6() && ep.address().to_v6().is_v4_mapped())
        ep.address(asio::ip::make_address_v4(asio::ip::v4_mapped, ep.address().to_v6()));
    return ep;
}

}  // namespace

Swarm::Swarm(asio::any_io_executor executor, SwarmOptions options,
             ConnectionHandler on_connection)
    : m_executor(executor),
      m_options(std::move(options)),
      m_on_connection(std::move(on_connection)),
      m_log(m_options.log ? m_options.log : spdlog::default_logger()),
      m_handshake_wake(executor),
      m_accept_wake(executor),
      m_wake(executor),
      m_changed(executor),
      m_tasks(executor, "swarm", m_log),
      m_rng(std::random_device{}()) {
    // The pool must not use up the file descriptors peers and storage need: at most a quarter
    // of the open-file limit (a 1024 limit leaves 256 handshaking sockets).
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY)
        m_options.max_handshaking = std::min<std::size_t>(
            m_options.max_handshaking, std::max<std::size_t>(files.rlim_cur / 4, 16));
    m_options.max_handshaking = std::max<std::size_t>(m_options.max_handshaking, 1);
    m_options.max_handshaking_per_address =
        std::max<std::size_t>(m_options.max_handshaking_per_address, 1);
}

Swarm::~Swarm() = default;

Status Swarm::listen() {
    std::vector<std::uint16_t> candidates;
    if (m_options.port) {
        candidates.push_back(*m_options.port);
        if (*m_options.port == 0)  // the UDP side may find the chosen number taken: retry
            candidates.insert(candidates.end(), 4, 0);
    } else {
        candidates = {kDefaultPort, kDefaultPort + 1, kDefaultPort + 2, 0, 0, 0, 0};
    }
    std::string last_error;
    for (std::uint16_t candidate : candidates) {
        asio::ip::tcp::acceptor acceptor(m_executor);
        std::error_code ec;
        const asio::ip::tcp::endpoint ep(m_options.bind_address, candidate);
        acceptor.open(ep.protocol(), ec);
        if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor.bind(ep, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            last_error = fmt::format("TCP {}: {}", endpoint_text(ep), ec.message());
            continue;
        }
        const std::uint16_t port = acceptor.local_endpoint().port();
        if (m_options.make_dht) {
            auto dht = m_options.make_dht(asio::ip::udp::endpoint(m_options.bind_address, port));
            if (!dht) {
                last_error = dht.error().message;
                continue;
            }
            m_dht = std::move(dht).value();
        }
        m_acceptor.emplace(std::move(acceptor));
        m_port = port;
        break;
    }
    if (!m_acceptor)
        return make_error(Errc::Io,
                          "cannot listen for peers on {} (last attempt: {}); choose another "
                          "--network-port or --bind-address",
                          m_options.bind_address.to_string(), last_error);
    if (m_options.make_local) {
        auto local = m_options.make_local(
            [this](const Topic& topic, const asio::ip::tcp::endpoint& peer) {
                peers_found(topic, {peer}, 0);
            });
        if (local)
            m_local = std::move(local).value();
        else
            m_log->warn("LAN discovery is off: {}", local.error().message);
    }
    return {};
}

asio::ip::tcp::endpoint Swarm::local_endpoint() const {
    return asio::ip::tcp::endpoint(m_options.bind_address, m_port);
}

asio::awaitable<void> Swarm::unannounce(Topic topic) { co_await m_dht->unannounce(topic); }

void Swarm::start() {
    if (m_started || !m_acceptor) return;
    m_started = true;
    if (m_dht) m_dht->start();
    m_tasks.spawn("accept-loop", accept_loop());
    m_tasks.spawn("dial-loop", dial_loop());
    m_tasks.spawn("handshake-deadlines", handshake_loop());
    for (auto& [topic, state] : m_topics) {
        if (m_local) m_local->join(topic, state->announce, state->lookup, m_port);
        m_tasks.spawn("topic-loop", topic_loop(state));
    }
}

std::chrono::milliseconds Swarm::round_delay() {
    std::uniform_int_distribution<std::int64_t> d(m_options.round_min.count(),
                                                  std::max(m_options.round_min.count(),
                                                           m_options.round_max.count()));
    return std::chrono::milliseconds(d(m_rng));
}

void Swarm::join(const Topic& topic, bool announce, bool lookup) {
    if (m_closing) return;
    if (auto it = m_topics.find(topic); it != m_topics.end()) {
        // A new configuration: the old topic goes (docs/behaviour/networking.md "Topics"), a new
        // round starts.
        it->second->left = true;
        if (it->second->timer) it->second->timer->cancel();
        if (it->second->announce && !announce && m_dht && m_started)
            m_tasks.spawn("unannounce", unannounce(topic));
        m_topics.erase(it);
    }
    auto state = std::make_shared<TopicState>();
    state->topic = topic;
    state->announce = announce;
    state->lookup = lookup;
    state->timer = std::make_unique<asio::steady_timer>(m_executor);
    m_topics.emplace(topic, state);
    m_log->debug("joined topic {} (announce {}, lookup {})", to_hex(topic), announce, lookup);
    if (m_started) {
        if (m_local) m_local->join(topic, announce, lookup, m_port);
        m_tasks.spawn("topic-loop", topic_loop(state));
    }
    m_wake.notify();
}

void Swarm::leave(const Topic& topic) {
    auto it = m_topics.find(topic);
    if (it == m_topics.end()) return;
    auto state = it->second;
    m_topics.erase(it);
    state->left = true;
    if (state->timer) state->timer->cancel();
    if (m_local) m_local->leave(topic);
    if (state->announce && m_dht && m_started && !m_closing)
        m_tasks.spawn("unannounce", unannounce(topic));
    for (auto& [address, peer] : m_peers) peer.topics.erase(topic);
    std::erase_if(m_peers, [](const auto& kv) {
        return kv.second.topics.empty() && !kv.second.dialing && !kv.second.connection &&
               !kv.second.banned;
    });
    m_log->debug("left topic {}", to_hex(topic));
    m_changed.notify();
}

asio::awaitable<void> Swarm::topic_loop(std::shared_ptr<TopicState> state) {
    // A round that fails (e.g. the DHT is still bootstrapping) or whose lookup finds nobody is
    // repeated soon, backing off, instead of after the regular 5-10 min: an announce may not
    // have reached the DHT yet when a reader looks (the "Block not available from peers" race).
    std::chrono::milliseconds retry = kRetryRoundMin;
    while (!state->left && !m_closing) {
        ++state->rounds_started;
        state->found = false;
        bool ok = true;
        if (m_dht) {
            const Topic topic = state->topic;
            const bool lookup = state->lookup;
            auto on_peers = [this, topic, lookup,
                             weak = std::weak_ptr<TopicState>(state)](
                                const std::vector<asio::ip::tcp::endpoint>& peers) {
                auto s = weak.lock();
                if (!s || s->left || !lookup) return;
                if (!peers.empty()) s->found = true;
                peers_found(topic, peers, 1);
            };
            Status st;
            if (state->announce)
                st = co_await m_dht->announce(topic, std::move(on_peers));
            else
                st = co_await m_dht->lookup(topic, std::move(on_peers));
            if (!st) {
                ok = false;
                m_log->debug("discovery round for {} failed: {}", to_hex(topic),
                             st.error().message);
            }
        }
        state->rounds_done = state->rounds_started;
        m_changed.notify();
        if (state->left || m_closing) break;
        auto delay = round_delay();
        if (m_dht && (!ok || (state->lookup && !state->found))) {
            // Early repeats until the backoff passes kRetryRoundMax, then the regular schedule.
            if (retry <= kRetryRoundMax) delay = std::min<std::chrono::milliseconds>(delay, retry);
            retry *= 2;
        } else {
            retry = kRetryRoundMin;
        }
        state->timer->expires_after(delay);
        co_await state->timer->async_wait(kUseTuple);
    }
    m_changed.notify();
}

bool Swarm::is_self(const asio::ip::tcp::endpoint& peer) const {
    if (peer.port() != m_port) return false;
    if (peer.address() == m_options.bind_address) return true;
    return m_options.bind_address.is_unspecified() && peer.address().is_loopback();
}

bool Swarm::wanted(const PeerEntry& peer) const {
    for (const auto& t : peer.topics) {
        auto it = m_topics.find(t);
        if (it != m_topics.end() && it->second->lookup) return true;
    }
    return false;
}

void Swarm::peers_found(const Topic& topic, const std::vector<asio::ip::tcp::endpoint>& peers,
                        int priority) {
    if (m_closing) return;
    auto it = m_topics.find(topic);
    if (it == m_topics.end() || !it->second->lookup) return;
    bool added = false;
    for (const auto& raw : peers) {
        const auto address = normalize(raw);
        if (address.port() == 0 || address.address().is_unspecified() || is_self(address))
            continue;
        auto found = m_peers.find(address);
        if (found == m_peers.end()) {
            if (m_peers.size() >= kMaxQueuedPeers) continue;
            found = m_peers.emplace(address, PeerEntry{}).first;
            found->second.address = address;
            found->second.priority = priority;
            m_log->debug("found peer {} for {}", endpoint_text(address), to_hex(topic));
        }
        found->second.priority = std::min(found->second.priority, priority);
        found->second.topics.insert(topic);
        added = true;
    }
    if (added) {
        m_wake.notify();
        m_changed.notify();
    }
}

void Swarm::add_peer(const Topic& topic, const asio::ip::tcp::endpoint& peer) {
    peers_found(topic, {peer}, 0);
}

// Never parked: a connection still in the handshake is not a peer, so max_peers does not stop
// accepting (it is applied when a handshake completes, in deduplicate). Each accepted connection
// first makes room in the handshake pool (make_room_for), then gets its handshake deadline.
asio::awaitable<void> Swarm::accept_loop() {
    std::chrono::milliseconds backoff{0};
    std::optional<std::chrono::steady_clock::time_point> warned;
    while (!m_closing && m_acceptor && m_acceptor->is_open()) {
        auto [ec, socket] = co_await m_acceptor->async_accept(kUseTuple);
        if (m_closing) break;
        if (ec) {
            if (ec == asio::error::operation_aborted) break;
            ++m_accept_failures;
            // The remote gave up between SYN and accept: only that connection is lost.
            if (ec == asio::error::connection_aborted) continue;
            const bool out_of_fds =
                ec == asio::error::no_descriptors ||
                ec == std::error_code(ENFILE, asio::error::get_system_category());
            backoff = backoff.count() == 0 ? kAcceptBackoffMin
                                           : std::min(backoff * 2, kAcceptBackoffMax);
            const auto now = std::chrono::steady_clock::now();
            if (!warned || now - *warned >= kAcceptWarnInterval) {
                warned = now;
                m_log->warn(
                    "cannot accept peer connections on {}: {}; retrying every {}-{} ms{}",
                    endpoint_text(local_endpoint()), ec.message(), kAcceptBackoffMin.count(),
                    kAcceptBackoffMax.count(),
                    out_of_fds ? " and closing the oldest connections still in the Noise "
                                 "handshake (raise the open-file limit: ulimit -n)"
                               : "");
            }
            if (out_of_fds && !m_handshaking_inbound.empty()) {
                // Give a file descriptor back: the unauthenticated connections are the cheapest
                // to lose, and the oldest is the likeliest to be a silent one.
                const std::uint64_t oldest = *m_handshaking_inbound.begin();
                drop(oldest, make_error(Errc::Io,
                                        "closed to free a file descriptor (accept failed: {})",
                                        ec.message()));
            }
            co_await m_accept_wake.wait_for(backoff);  // only close() cuts it short
            continue;
        }
        backoff = std::chrono::milliseconds(0);
        std::error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        std::error_code remote_ec;
        auto remote = socket.remote_endpoint(remote_ec);
        if (remote_ec) continue;  // already reset by the remote; the socket closes here
        ConnectionInfo info;
        info.initiator = false;
        info.remote = normalize(remote);
        make_room_for(address_key(info.remote.address()));
        info.id = register_connection(info);
        m_log->debug("connection {} from {}", info.id, endpoint_text(info.remote));
        m_on_connection(std::move(socket), m_connections.at(info.id).info);
    }
}

Swarm::AddressKey Swarm::address_key(const asio::ip::address& address) {
    if (address.is_v4()) return address.to_string();
    // One IPv6 host usually holds a whole /64: group by it.
    auto bytes = address.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes).to_string() + "/64";
}

// When the pool is full, the oldest connection goes rather than the new one: a flood of silent
// sockets that holds the pool would otherwise refuse every real peer until the deadlines pass
// (and a flooder that reopens at once would win every race). Evicting the oldest lets a real
// peer in whenever its handshake (one round trip) completes before `cap` newer connections from
// its address arrive, or max_handshaking newer ones in all. Within the pool the victim is the
// oldest connection of the new connection's own address when that address is at its cap;
// otherwise the oldest of the address holding the most handshaking connections, so a flood from
// a few addresses pays for itself and a peer alone on its address keeps its place.
void Swarm::make_room_for(const AddressKey& address) {
    auto own = m_handshaking_by_address.find(address);
    if (own != m_handshaking_by_address.end() &&
        own->second.size() >= m_options.max_handshaking_per_address) {
        drop(*own->second.begin(),
             make_error(Errc::Io,
                        "evicted: {} connections from {} are already in the Noise handshake",
                        own->second.size(), address));
    }
    while (m_handshaking_inbound.size() >= m_options.max_handshaking) {
        auto heaviest = m_handshaking_by_address.end();
        for (auto it = m_handshaking_by_address.begin(); it != m_handshaking_by_address.end();
             ++it) {
            if (heaviest == m_handshaking_by_address.end() ||
                it->second.size() > heaviest->second.size() ||
                (it->second.size() == heaviest->second.size() &&
                 *it->second.begin() < *heaviest->second.begin()))
                heaviest = it;
        }
        if (heaviest == m_handshaking_by_address.end()) break;
        drop(*heaviest->second.begin(),
             make_error(Errc::Io,
                        "evicted: {} connections are in the Noise handshake ({} from {})",
                        m_handshaking_inbound.size(), heaviest->second.size(), heaviest->first));
    }
}

void Swarm::drop(std::uint64_t connection, Error reason) {
    if (!m_handshaking.count(connection)) return;
    leave_pool(connection);
    auto it = m_connections.find(connection);
    if (it == m_connections.end()) return;
    it->second.dropped = true;
    m_log->debug("connection {} ({}): {}", connection, endpoint_text(it->second.info.remote),
                 reason.message);
    if (on_drop) on_drop(connection, reason);
}

void Swarm::leave_pool(std::uint64_t connection) {
    if (!m_handshaking.erase(connection)) return;
    if (!m_handshaking_inbound.erase(connection)) return;
    auto it = m_connections.find(connection);
    if (it == m_connections.end()) return;
    auto a = m_handshaking_by_address.find(address_key(it->second.info.remote.address()));
    if (a == m_handshaking_by_address.end()) return;
    a->second.erase(connection);
    if (a->second.empty()) m_handshaking_by_address.erase(a);
}

std::size_t Swarm::outbound_handshaking() const {
    return m_handshaking.size() - m_handshaking_inbound.size();
}

// Closes connections whose handshake deadline passed. Every connection gets the same timeout,
// so the oldest handshaking one always has the earliest deadline.
asio::awaitable<void> Swarm::handshake_loop() {
    while (!m_closing) {
        if (m_handshaking.empty()) {
            co_await m_handshake_wake.wait();
            continue;
        }
        const std::uint64_t oldest = *m_handshaking.begin();
        const Conn& conn = m_connections.at(oldest);
        if (std::chrono::steady_clock::now() >= conn.deadline) {
            drop(oldest, make_error(Errc::Io,
                                    "no Noise handshake with {} within {} ms; closing the "
                                    "connection",
                                    endpoint_text(conn.info.remote),
                                    m_options.handshake_timeout.count()));
            continue;
        }
        co_await m_handshake_wake.wait_until(conn.deadline);
    }
}

std::uint64_t Swarm::register_connection(ConnectionInfo info) {
    info.id = m_next_connection++;
    Conn conn{info, std::nullopt};
    conn.deadline = std::chrono::steady_clock::now() + m_options.handshake_timeout;
    m_connections.emplace(info.id, conn);
    const bool was_empty = m_handshaking.empty();
    m_handshaking.insert(info.id);
    if (!info.initiator) {
        m_handshaking_inbound.insert(info.id);
        m_handshaking_by_address[address_key(info.remote.address())].insert(info.id);
    }
    if (was_empty) m_handshake_wake.notify();
    return info.id;
}

asio::awaitable<void> Swarm::dial_loop() {
    while (!m_closing) {
        const auto now = std::chrono::steady_clock::now();
        auto next = now + std::chrono::seconds(5);
        // Candidates in priority order: LAN before DHT, fewer attempts first.
        std::vector<PeerEntry*> ready;
        for (auto& [address, peer] : m_peers) {
            if (peer.dialing || peer.connection || peer.banned || peer.banned_until_closed)
                continue;
            if (!wanted(peer)) continue;
            if (peer.retry_at > now) {
                next = std::min(next, peer.retry_at);
                continue;
            }
            ready.push_back(&peer);
        }
        std::stable_sort(ready.begin(), ready.end(), [](const PeerEntry* a, const PeerEntry* b) {
            return std::tie(a->priority, a->attempts) < std::tie(b->priority, b->attempts);
        });
        for (PeerEntry* peer : ready) {
            if (m_dials >= m_options.max_dials) break;
            if (m_authenticated + outbound_handshaking() + m_dials >= m_options.max_peers)
                break;
            peer->dialing = true;
            ++peer->attempts;
            ++m_dials;
            m_tasks.spawn("dial", dial(peer->address));
        }
        co_await m_wake.wait_until(next);
    }
}

asio::awaitable<void> Swarm::dial(asio::ip::tcp::endpoint address) {
    asio::ip::tcp::socket socket(m_executor);
    std::error_code ec;
    socket.open(address.protocol(), ec);
    if (!ec && !m_options.bind_address.is_unspecified() &&
        m_options.bind_address.is_v4() == address.address().is_v4())
        socket.bind(asio::ip::tcp::endpoint(m_options.bind_address, 0), ec);
    if (!ec) {
        asio::steady_timer deadline(m_executor, m_options.connect_timeout);
        bool timed_out = false;
        deadline.async_wait([&](const std::error_code& e) {
            if (!e) {
                timed_out = true;
                std::error_code ignored;
                socket.close(ignored);
            }
        });
        m_dial_sockets.insert(&socket);  // shutdown closes it
        auto [connect_ec] = co_await socket.async_connect(address, kUseTuple);
        m_dial_sockets.erase(&socket);
        deadline.cancel();
        ec = timed_out ? asio::error::timed_out : connect_ec;
    }
    --m_dials;
    auto it = m_peers.find(address);
    if (!ec && m_closing) ec = asio::error::operation_aborted;
    if (ec) {
        m_log->debug("cannot connect to {}: {}", endpoint_text(address), ec.message());
        if (it != m_peers.end()) {
            PeerEntry& peer = it->second;
            peer.dialing = false;
            if (peer.attempts >= kMaxAttempts + 1 || peer.topics.empty()) {
                m_peers.erase(it);
            } else {
                peer.retry_at = std::chrono::steady_clock::now() +
                                kBackoff[std::min<std::size_t>(peer.attempts - 1, 2)];
            }
        }
        m_wake.notify();
        m_changed.notify();
        co_return;
    }
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    ConnectionInfo info;
    info.initiator = true;
    info.remote = address;
    info.dialed = address;
    info.id = register_connection(info);
    if (it != m_peers.end()) {
        it->second.dialing = false;
        it->second.connection = info.id;
    }
    m_log->debug("connection {} to {}", info.id, endpoint_text(address));
    m_on_connection(std::move(socket), m_connections.at(info.id).info);
    m_wake.notify();
    m_changed.notify();
}

asio::awaitable<bool> Swarm::flush(const Topic& topic,
                                   std::chrono::steady_clock::time_point deadline) {
    auto it = m_topics.find(topic);
    if (it == m_topics.end()) co_return true;
    auto state = it->second;
    const std::uint64_t target = std::max<std::uint64_t>(state->rounds_started, 1);
    while (state->rounds_done < target && !state->left && !m_closing) {
        if (!co_await m_changed.wait_until(deadline) &&
            std::chrono::steady_clock::now() >= deadline)
            co_return false;
    }
    // Then every attempt the round queued: dialed once, or given up.
    for (;;) {
        if (state->left || m_closing) co_return true;
        bool pending = false;
        for (const auto& [address, peer] : m_peers) {
            if (!peer.topics.count(topic)) continue;
            if (peer.dialing ||
                (peer.attempts == 0 && !peer.connection && !peer.banned &&
                 !peer.banned_until_closed && m_authenticated < m_options.max_peers)) {
                pending = true;
                break;
            }
        }
        if (!pending) co_return true;
        if (!co_await m_changed.wait_until(deadline) &&
            std::chrono::steady_clock::now() >= deadline)
            co_return false;
    }
}

DedupResult Swarm::deduplicate(std::uint64_t connection, ByteView local_key,
                               ByteView remote_key) {
    auto self = m_connections.find(connection);
    if (self == m_connections.end()) return DedupResult::Duplicate;
    const int cmp = std::lexicographical_compare_three_way(local_key.begin(), local_key.end(),
                                                           remote_key.begin(), remote_key.end()) <
                            0
                        ? -1
                        : (std::equal(local_key.begin(), local_key.end(), remote_key.begin(),
                                      remote_key.end())
                               ? 0
                               : 1);
    const ConnectionInfo info = self->second.info;
    leave_pool(connection);  // past the handshake: no deadline, no place in the pool
    const auto count_as_peer = [this, &self, &info] {
        if (self->second.authenticated) return;
        self->second.authenticated = true;
        ++m_authenticated;
        if (!info.initiator) ++m_inbound_peers[address_key(info.remote.address())];
    };
    if (cmp == 0) {
        if (info.dialed)
            if (auto p = m_peers.find(*info.dialed); p != m_peers.end()) p->second.banned = true;
        return DedupResult::Self;
    }
    const std::string key = to_hex(local_key) + to_hex(remote_key);
    auto existing = m_dedup.find(key);
    if (existing == m_dedup.end() || existing->second == connection ||
        !m_connections.count(existing->second)) {
        // A new peer: it needs a place (a duplicate replaces one and is not refused).
        if (!self->second.authenticated && m_authenticated >= m_options.max_peers)
            return DedupResult::Full;
        if (!self->second.authenticated && !info.initiator) {
            const auto held = m_inbound_peers.find(address_key(info.remote.address()));
            if (held != m_inbound_peers.end() &&
                held->second >= m_options.max_inbound_peers_per_address) {
                m_log->debug("refusing connection {} from {}: {} peers connected from that address",
                             connection, info.remote.address().to_string(), held->second);
                return DedupResult::Full;
            }
        }
        count_as_peer();
        m_dedup[key] = connection;
        self->second.dedup_key = key;
        if (info.dialed)
            if (auto p = m_peers.find(*info.dialed); p != m_peers.end()) p->second.attempts = 0;
        return DedupResult::Keep;
    }
    // Both TCP: keep the connection initiated by the side with the smaller key
    // (docs/behaviour/networking.md "Deduplication").
    count_as_peer();
    const bool new_keeps = cmp < 0 ? info.initiator : !info.initiator;
    const std::uint64_t survivor = new_keeps ? connection : existing->second;
    const std::uint64_t loser = new_keeps ? existing->second : connection;
    m_dedup[key] = survivor;
    m_connections.at(survivor).dedup_key = key;
    m_connections.at(loser).dedup_key.reset();
    const ConnectionInfo& lost = m_connections.at(loser).info;
    if (lost.initiator && lost.dialed)
        if (auto p = m_peers.find(*lost.dialed); p != m_peers.end())
            p->second.banned_until_closed = survivor;
    m_log->debug("connections {} and {} reach the same peer: keeping {}", connection,
                 existing->second, survivor);
    if (new_keeps) {
        if (on_duplicate) on_duplicate(loser);
        return DedupResult::Keep;
    }
    return DedupResult::Duplicate;
}

void Swarm::connection_closed(std::uint64_t connection, bool banned) {
    leave_pool(connection);
    auto it = m_connections.find(connection);
    if (it == m_connections.end()) return;
    if (it->second.authenticated) {
        --m_authenticated;
        if (!it->second.info.initiator) {
            const auto held = m_inbound_peers.find(address_key(it->second.info.remote.address()));
            if (held != m_inbound_peers.end() && --held->second == 0) m_inbound_peers.erase(held);
        }
    }
    if (it->second.dedup_key) {
        auto d = m_dedup.find(*it->second.dedup_key);
        if (d != m_dedup.end() && d->second == connection) m_dedup.erase(d);
    }
    m_connections.erase(it);
    const auto now = std::chrono::steady_clock::now();
    for (auto p = m_peers.begin(); p != m_peers.end();) {
        PeerEntry& peer = p->second;
        if (peer.banned_until_closed == connection) {
            // Its survivor is gone: try the address again, last in line.
            peer.banned_until_closed.reset();
            peer.attempts = 0;
            peer.priority = 2;
            peer.retry_at = now;
        }
        if (peer.connection == connection) {
            peer.connection.reset();
            if (banned) peer.banned = true;
            ++peer.attempts;
            if (peer.attempts > kMaxAttempts || peer.topics.empty()) {
                if (!peer.banned) {
                    p = m_peers.erase(p);
                    continue;
                }
            } else {
                peer.retry_at = now + kBackoff[std::min<std::size_t>(peer.attempts - 1, 2)];
            }
        }
        ++p;
    }
    m_wake.notify();
    m_changed.notify();
}

asio::awaitable<void> Swarm::close() {
    if (m_closing) co_return;
    // Unannounce first, bounded, while the DHT still runs.
    if (m_dht && m_started) {
        std::size_t pending = 0;
        for (auto& [topic, state] : m_topics) {
            if (!state->announce) continue;
            ++pending;
            m_tasks.spawn("unannounce", unannounce(topic), [&pending, this] {
                --pending;
                m_changed.notify();
            });
        }
        const auto deadline = std::chrono::steady_clock::now() + kUnannounceTimeout;
        while (pending && std::chrono::steady_clock::now() < deadline)
            co_await m_changed.wait_until(deadline);
    }
    m_closing = true;
    std::error_code ignored;
    if (m_acceptor) m_acceptor->close(ignored);
    for (auto* s : m_dial_sockets) s->close(ignored);
    for (auto& [topic, state] : m_topics) {
        state->left = true;
        if (state->timer) state->timer->cancel();
    }
    m_wake.notify();
    m_changed.notify();
    m_handshake_wake.notify();
    m_accept_wake.notify();
    if (m_local) co_await m_local->close();
    if (m_dht) co_await m_dht->close();
    // Every loop re-checks m_closing when woken; a loop that was busy when we notified sees the
    // next wake-up.
    for (;;) {
        const bool joined = co_await m_tasks.join_for(std::chrono::milliseconds(200));
        if (joined) break;
        m_wake.notify();
        m_changed.notify();
        m_handshake_wake.notify();
    }
}

}  // namespace hs::swarm
