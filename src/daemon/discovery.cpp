#include "daemon/discovery.h"

#include <spdlog/spdlog.h>
#include <asio/ip/udp.hpp>

#include "common/crypto/derive.h"
#include "v9/swarm/dht/node.h"
#include "v9/swarm/mdns.h"
#include "common/util/host_port.h"

namespace hs::daemon {
namespace {

// @hyperswarm/dht's default bootstrap nodes (docs/behaviour/networking.md), if no --bootstrap.
constexpr const char* kDefaultBootstrap[] = {"bootstrap1.hyperdht.org:49737",
                                             "bootstrap2.hyperdht.org:49737",
                                             "bootstrap3.hyperdht.org:49737"};
constexpr const char* kKeyNamespace = "@hypercore-protocol/hyperspace";

// The DHT as the swarm's Discovery: Hyperspace announces port 0, so peers dial the address our
// datagrams come from, which is the TCP listener's port (docs/behaviour/networking.md "Ports").
class DhtDiscovery final : public swarm::Discovery {
public:
    explicit DhtDiscovery(std::unique_ptr<swarm::dht::Node> node) : m_node(std::move(node)) {}
    ~DhtDiscovery() override = default;

    // Arguments are named locals, never temporaries inside the co_await expression (GCC 12
    // destroys such temporaries twice in some coroutine frames).
    asio::awaitable<Status> announce(const swarm::Topic& topic, OnPeers on_peers) override {
        const swarm::Topic t = topic;
        swarm::dht::AnnounceOptions options;
        auto callback = adapt(std::move(on_peers));
        auto r = co_await m_node->announce(t, options, std::move(callback));
        if (!r) co_return std::move(r).error();
        co_return Status{};
    }
    asio::awaitable<Status> lookup(const swarm::Topic& topic, OnPeers on_peers) override {
        const swarm::Topic t = topic;
        auto callback = adapt(std::move(on_peers));
        auto r = co_await m_node->lookup(t, std::move(callback));
        if (!r) co_return std::move(r).error();
        co_return Status{};
    }
    asio::awaitable<void> unannounce(const swarm::Topic& topic) override {
        const swarm::Topic t = topic;
        swarm::dht::AnnounceOptions options;
        Status st = co_await m_node->unannounce(t, options);
        (void)st;
    }
    void start() override { m_node->start(); }
    asio::awaitable<void> close() override { co_await m_node->close(); }
    bool holepunchable() const override { return m_node->holepunchable(); }
    std::optional<asio::ip::udp::endpoint> remote_address() const override {
        return m_node->remote_address();
    }

private:
    static std::function<void(const swarm::dht::PeersReply&)> adapt(OnPeers on_peers) {
        return [on_peers = std::move(on_peers)](const swarm::dht::PeersReply& reply) {
            std::vector<asio::ip::tcp::endpoint> peers;
            peers.reserve(reply.peers.size() + reply.local_peers.size());
            for (const auto& p : reply.peers) peers.emplace_back(p.host, p.port);
            for (const auto& p : reply.local_peers) peers.emplace_back(p.host, p.port);
            if (!peers.empty() && on_peers) on_peers(peers);
        };
    }
    std::unique_ptr<swarm::dht::Node> m_node;
};

class MdnsDiscovery final : public swarm::LocalDiscovery {
public:
    explicit MdnsDiscovery(std::unique_ptr<swarm::Mdns> mdns) : m_mdns(std::move(mdns)) {}
    void join(const swarm::Topic& topic, bool announce, bool lookup,
              std::uint16_t tcp_port) override {
        m_mdns->join(topic, announce, lookup, tcp_port);
    }
    void leave(const swarm::Topic& topic) override { m_mdns->leave(topic); }
    asio::awaitable<void> close() override { co_await m_mdns->close(); }

private:
    std::unique_ptr<swarm::Mdns> m_mdns;
};

// Bootstrap entries as IPv4 "a.b.c.d:port" for the DHT (IPv4 literals and "localhost" as given,
// host names resolved once, at startup; one that does not resolve is left out with a warning).
std::vector<std::string> resolve_bootstrap(const std::vector<HostPort>& entries,
                                           spdlog::logger& log) {
    std::vector<std::string> out;
    asio::io_context io;
    asio::ip::udp::resolver resolver(io);
    for (const auto& entry : entries) {
        const std::string text = format_host_port(entry.host, entry.port);
        std::error_code ec;
        asio::ip::make_address_v4(entry.host, ec);
        if (!ec || entry.host == "localhost") {
            out.push_back(text);
            continue;
        }
        auto results =
            resolver.resolve(asio::ip::udp::v4(), entry.host, std::to_string(entry.port), ec);
        if (ec || results.empty()) {
            log.warn("cannot resolve the DHT bootstrap node {}: {}", text,
                     ec ? ec.message() : std::string("no IPv4 address"));
            continue;
        }
        const auto ep = results.begin()->endpoint();
        out.push_back(ep.address().to_string() + ":" + std::to_string(ep.port()));
    }
    return out;
}

}  // namespace

Result<swarm::SwarmOptions> swarm_options_for(const DaemonOptions& options,
                                              asio::any_io_executor executor,
                                              ByteView master_key, const Loggers& log) {
    swarm::SwarmOptions so;
    so.log = log.swarm;
    so.port = options.network_port;
    if (options.bind_address) {
        std::error_code ec;
        so.bind_address = asio::ip::make_address(*options.bind_address, ec);
        if (ec)
            return make_error(Errc::InvalidArgument,
                              "--bind-address {} is not an IP address", *options.bind_address);
    }
    std::vector<std::string> given = options.bootstrap;
    if (given.empty()) given.assign(std::begin(kDefaultBootstrap), std::end(kDefaultBootstrap));
    std::vector<HostPort> bootstrap;
    for (const auto& entry : given) {
        auto parsed = parse_host_port(entry);
        if (!parsed)
            return make_error(Errc::InvalidArgument, "--bootstrap: {}", parsed.error().message);
        bootstrap.push_back(std::move(*parsed));
    }
    const auto id = crypto::derive_key(kKeyNamespace, master_key,
                                       as_bytes(std::string_view("swarm-id")));
    auto dht_log = log.dht;
    so.make_dht = [executor, bootstrap, id, dht_log](const asio::ip::udp::endpoint& ep)
        -> Result<std::unique_ptr<swarm::Discovery>> {
        if (!ep.address().is_v4())
            return make_error(Errc::InvalidArgument,
                              "the DHT needs an IPv4 --bind-address, not {}", ep.address().to_string());
        swarm::dht::NodeOptions no;
        no.ephemeral = true;  // as the hyperspace binary (docs/behaviour/daemon.md)
        no.bootstrap = resolve_bootstrap(bootstrap, *dht_log);
        no.bind = ep;
        std::array<std::uint8_t, 32> node_id{};
        std::copy(id.begin(), id.end(), node_id.begin());
        no.id = node_id;
        no.log = dht_log;
        auto node = std::make_unique<swarm::dht::Node>(executor, std::move(no));
        if (auto st = node->listen(); !st) return std::move(st).error();
        return std::unique_ptr<swarm::Discovery>(std::make_unique<DhtDiscovery>(std::move(node)));
    };
    if (!options.no_local_discovery) {
        auto mdns_log = log.mdns;
        const auto bind = so.bind_address;
        so.make_local = [executor, mdns_log, bind](
                            std::function<void(const swarm::Topic&, const asio::ip::tcp::endpoint&)>
                                on_peer) -> Result<std::unique_ptr<swarm::LocalDiscovery>> {
            swarm::MdnsOptions mo;
            if (bind.is_v4() && !bind.is_unspecified()) mo.interface_address = bind.to_v4();
            mo.log = mdns_log;
            auto mdns = std::make_unique<swarm::Mdns>(executor, mo, std::move(on_peer));
            if (auto st = mdns->start(); !st) return std::move(st).error();
            return std::unique_ptr<swarm::LocalDiscovery>(
                std::make_unique<MdnsDiscovery>(std::move(mdns)));
        };
    }
    return so;
}

}  // namespace hs::daemon
