#include "server/handlers.h"

#include <algorithm>
#include <array>
#include <iterator>

#include <spdlog/spdlog.h>

#include "server/handlers_detail.h"

namespace hs::server {
using namespace hs::rpc;      // the codec
using namespace hs::service;  // the daemon's services
using detail::Call;

namespace {

// The method table: one handler per client-to-server method, indexed by Method.
using Table = std::array<detail::Handler, kMethodCount>;

Table make_table() {
    Table table{};
    for (const auto handlers :
         {detail::hyperspace_network_handlers(), detail::hypercore_handlers()})
        for (const detail::Entry& e : handlers)
            table[static_cast<std::size_t>(e.method)] = e.handler;
    return table;
}

const Table& table() {
    static const Table t = make_table();
    return t;
}

}  // namespace

bool Handlers::handles(Method method) noexcept {
    return table()[static_cast<std::size_t>(method)] != nullptr;
}

void Handlers::handle_request(ClientState& client, const FrameHeader& header, ByteView payload) {
    Responder reply(&client.sink(), header);
    const MethodInfo* info = find_method(header.service, header.method);
    if (!info) {
        m_ctx.log->debug("client {}: unknown method {} on service {} (id {})", client.id(),
                         header.method, header.service, header.id);
        reply.fail(errors::unknown_method(header.method, header.service));
        return;
    }
    const detail::Handler handler = table()[static_cast<std::size_t>(info->method)];
    if (info->direction == Direction::ServerToClient || !handler) {
        // An event sent to us: the JS server has no handler for it either.
        reply.fail(errors::failure(errors::kNoHandler));
        return;
    }
    Call call{m_ctx, client, *info, payload, std::move(reply)};
    handler(call);
}

namespace {

// HyperspaceStatusResponse followed by our DaemonInfoResponse fields (rpc/daemon_info.h).
struct StatusWithInfo {
    const HyperspaceStatusResponse& status;
    const DaemonInfoResponse& info;
    void encode_to(Bytes& out) const {
        status.encode_to(out);
        info.encode_to(out);
    }
    std::size_t encoded_size() const { return status.encoded_size() + info.encoded_size(); }
};

// ---- Hyperspace

void status(Call& c) {
    HyperspaceStatusResponse status;
    status.api_version = kReportedApiVersion;
    status.holepunchable = c.ctx.control.holepunchable();
    status.remote_address = c.ctx.control.remote_address();
    status.version = kReportedVersion;
    // The request is Void: any payload is ignored, except our marker asking for more.
    if (std::equal(c.payload.begin(), c.payload.end(), std::begin(kDaemonInfoRequest),
                   std::end(kDaemonInfoRequest))) {
        const DaemonInfoResponse extra = c.ctx.control.daemon_info();
        return c.reply.ok(StatusWithInfo{status, extra});
    }
    c.reply.ok(status);
}

void stop(Call& c) {
    // Answer first (if asked), then shut down.
    c.ctx.log->info("client {} asked the daemon to stop", c.client.id());
    c.reply.ok();
    c.ctx.control.request_stop();
}

// ---- Corestore

void corestore_open(Call& c) {
    auto req = c.decode<OpenRequest>();
    if (!req) return;
    ClientState& client = c.client;
    if (client.has_session(req->id)) return c.fail(errors::kSessionInUse);
    if (client.session_count() >= client.limits().max_sessions)
        return c.fail(errors::kTooManyPending);
    OpenSpec spec;
    if (req->key) {
        if (req->key->size() != 32)
            return c.fail(fmt::format("Invalid key: a hypercore key has 32 bytes, not {}",
                                      req->key->size()));
        spec.key.emplace();
        std::copy(req->key->begin(), req->key->end(), spec.key->begin());
    }
    if (req->name) spec.name = to_bytes(*req->name);
    // On failure nothing stays registered (docs/behaviour/quirks.md #21): the id can be used again.
    auto core = c.ctx.registry.open(spec);
    if (!core) {
        c.ctx.log->debug("client {}: open failed: {}", client.id(), core.error().message);
        return c.fail(core.error().message);
    }
    LoadedCore& loaded = **core;
    client.add_session(req->id, loaded, req->weak.value_or(false));
    const hypercore::Feed& feed = loaded.feed();
    OpenResponse rsp;
    rsp.key = Bytes(feed.key().begin(), feed.key().end());
    rsp.discovery_key = Bytes(feed.discovery_key().begin(), feed.discovery_key().end());
    rsp.length = feed.length();
    rsp.byte_length = feed.byte_length();
    rsp.writable = feed.writable();
    if (c.ctx.replication) rsp.peers = c.ctx.replication->core_peers(loaded);
    c.reply.ok(rsp);
}

// ---- Network

void network_open(Call& c) {
    OpenNetworkResponse rsp;
    rsp.public_key = c.ctx.network_public_key;
    if (c.ctx.replication) rsp.peers = c.ctx.replication->peers();
    c.reply.ok(rsp);
}

// Network.Configure{flush}: a task of the client (cancelled when it disconnects).
asio::awaitable<void> answer_after_flush(Replication& replication, crypto::Hash32 dk,
                                         NetworkStatusResponse status, Responder reply) {
    co_await replication.flush(dk);
    reply.ok(status);
}

void configure(Call& c) {
    auto req = c.decode<ConfigureNetworkRequest>();
    if (!req) return;
    auto rsp = c.ctx.network.configure(c.client.id(), *req);
    if (!rsp) return c.fail(rsp.error().message);
    if (!req->flush.value_or(false) || !c.ctx.replication || !c.reply.expects_reply())
        return c.reply.ok(*rsp);
    // Answer once the key's discovery round has flushed (docs/behaviour/networking.md "Flush").
    crypto::Hash32 dk{};
    std::copy_n(req->configuration.discovery_key.begin(), dk.size(), dk.begin());
    c.client.tasks().spawn("configure-flush", answer_after_flush(*c.ctx.replication, dk,
                                                                 std::move(*rsp),
                                                                 std::move(c.reply)));
}

void network_status(Call& c) {
    auto req = c.decode<NetworkStatusRequest>();
    if (!req) return;
    c.reply.ok(NetworkStatusResponse{c.ctx.network.status(req->discovery_key)});
}

void all_statuses(Call& c) { c.reply.ok(AllNetworkStatusesResponse{c.ctx.network.all_statuses()}); }

void register_network_extension(Call& c) {
    auto req = c.decode<RegisterExtensionRequest>();
    if (!req) return;
    if (c.client.has_resource(req->resource_id))
        return c.fail(errors::resource_exists(req->resource_id));
    if (!c.client.can_add_resource()) return c.fail(errors::kTooManyPending);
    Resource r;
    r.kind = Resource::Kind::NetworkExtension;
    r.name = req->name;
    c.client.add_resource(req->resource_id, std::move(r));
    if (c.ctx.replication) c.ctx.replication->network_extensions_changed();
    c.reply.ok();
}

void unregister_network_extension(Call& c) {
    auto req = c.decode<UnregisterExtensionRequest>();
    if (!req) return;
    if (!c.client.free_resource(req->resource_id))
        return c.fail(errors::invalid_resource(req->resource_id));
    if (c.ctx.replication) c.ctx.replication->network_extensions_changed();
    c.reply.ok();
}

void send_network_extension(Call& c) {
    auto req = c.decode<ExtensionMessage>();
    if (!req) return;
    const Resource* r = c.client.resource(req->resource_id);
    if (!r || r->kind != Resource::Kind::NetworkExtension)
        return c.fail(errors::invalid_resource(req->resource_id));
    if (c.ctx.replication)
        c.ctx.replication->send_network_extension(r->name, req->data, req->remote_public_key);
    c.reply.ok();
}

constexpr detail::Entry kEntries[] = {
    {Method::HyperspaceStatus, status},
    {Method::HyperspaceStop, stop},
    {Method::CorestoreOpen, corestore_open},
    {Method::NetworkOpen, network_open},
    {Method::NetworkConfigure, configure},
    {Method::NetworkStatus, network_status},
    {Method::NetworkAllStatuses, all_statuses},
    {Method::NetworkRegisterExtension, register_network_extension},
    {Method::NetworkUnregisterExtension, unregister_network_extension},
    {Method::NetworkSendExtension, send_network_extension},
};

}  // namespace

std::span<const detail::Entry> detail::hyperspace_network_handlers() { return kEntries; }

}  // namespace hs::server
