#include "server/handlers.h"

#include <algorithm>
#include <iterator>

#include <spdlog/spdlog.h>

#include "server/handlers_detail.h"

namespace hs::server {
using namespace hs::rpc;      // the codec
using namespace hs::service;  // the daemon's services

void Handlers::handle_request(ClientState& client, const FrameHeader& header, ByteView payload) {
    Responder reply(&client.sink(), header);
    const MethodInfo* info = find_method(header.service, header.method);
    if (!info) {
        m_ctx.log->debug("client {}: unknown method {} on service {} (id {})", client.id(),
                         header.method, header.service, header.id);
        reply.fail(errors::unknown_method(header.method, header.service));
        return;
    }
    if (info->direction == Direction::ServerToClient) {
        // An event sent to us: the JS server has no handler for it either.
        reply.fail(errors::failure(errors::kNoHandler));
        return;
    }
    switch (info->service) {
        case Service::Hyperspace:
            hyperspace(client, *info, payload, std::move(reply));
            return;
        case Service::Corestore:
            corestore_open(client, payload, std::move(reply));
            return;
        case Service::Hypercore:
            hypercore(client, *info, payload, std::move(reply));
            return;
        case Service::Network:
            network(client, *info, payload, std::move(reply));
            return;
    }
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

// Network.Configure{flush}: a task of the client (cancelled when it disconnects).
asio::awaitable<void> answer_after_flush(Replication& replication, crypto::Hash32 dk,
                                         NetworkStatusResponse status, Responder reply) {
    co_await replication.flush(dk);
    reply.ok(status);
}

}  // namespace

void Handlers::hyperspace(ClientState& client, const MethodInfo& info, ByteView payload,
                          Responder reply) {
    if (info.method == Method::HyperspaceStatus) {
        HyperspaceStatusResponse status;
        status.api_version = kReportedApiVersion;
        status.holepunchable = m_ctx.control.holepunchable();
        status.remote_address = m_ctx.control.remote_address();
        status.version = kReportedVersion;
        // The request is Void: any payload is ignored, except our marker asking for more.
        if (std::equal(payload.begin(), payload.end(), std::begin(kDaemonInfoRequest),
                       std::end(kDaemonInfoRequest))) {
            const DaemonInfoResponse extra = m_ctx.control.daemon_info();
            reply.ok(StatusWithInfo{status, extra});
            return;
        }
        reply.ok(status);
        return;
    }
    // Stop: answer first (if asked), then shut down.
    m_ctx.log->info("client {} asked the daemon to stop", client.id());
    reply.ok();
    m_ctx.control.request_stop();
}

void Handlers::corestore_open(ClientState& client, ByteView payload, Responder reply) {
    const MethodInfo& info = method_info(Method::CorestoreOpen);
    auto req = detail::decode_request<OpenRequest>(info, payload, reply, *m_ctx.log);
    if (!req) return;
    if (client.has_session(req->id)) return reply.fail(errors::failure(errors::kSessionInUse));
    if (client.session_count() >= client.limits().max_sessions)
        return reply.fail(errors::failure(errors::kTooManyPending));
    OpenSpec spec;
    if (req->key) {
        if (req->key->size() != 32)
            return reply.fail(errors::failure(fmt::format(
                "Invalid key: a hypercore key has 32 bytes, not {}", req->key->size())));
        spec.key.emplace();
        std::copy(req->key->begin(), req->key->end(), spec.key->begin());
    }
    if (req->name) spec.name = to_bytes(*req->name);
    // On failure nothing stays registered (docs/behaviour/quirks.md #21): the id can be used again.
    auto core = m_ctx.registry.open(spec);
    if (!core) {
        m_ctx.log->debug("client {}: open failed: {}", client.id(), core.error().message);
        return reply.fail(errors::failure(core.error().message));
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
    if (m_ctx.replication) rsp.peers = m_ctx.replication->core_peers(loaded);
    reply.ok(rsp);
}

void Handlers::network(ClientState& client, const MethodInfo& info, ByteView payload,
                       Responder reply) {
    auto& log = *m_ctx.log;
    switch (info.method) {
        case Method::NetworkOpen: {
            OpenNetworkResponse rsp;
            rsp.public_key = m_ctx.network_public_key;
            if (m_ctx.replication) rsp.peers = m_ctx.replication->peers();
            reply.ok(rsp);
            return;
        }
        case Method::NetworkConfigure: {
            auto req = detail::decode_request<ConfigureNetworkRequest>(info, payload, reply, log);
            if (!req) return;
            auto rsp = m_ctx.network.configure(client.id(), *req);
            if (!rsp) return reply.fail(errors::failure(rsp.error().message));
            if (!req->flush.value_or(false) || !m_ctx.replication || !reply.expects_reply())
                return reply.ok(*rsp);
            // Answer once the key's discovery round has flushed (docs/behaviour/networking.md
            // "Flush").
            crypto::Hash32 dk{};
            std::copy_n(req->configuration.discovery_key.begin(), dk.size(), dk.begin());
            client.tasks().spawn("configure-flush", answer_after_flush(*m_ctx.replication, dk,
                                                                       std::move(*rsp),
                                                                       std::move(reply)));
            return;
        }
        case Method::NetworkStatus: {
            auto req = detail::decode_request<NetworkStatusRequest>(info, payload, reply, log);
            if (!req) return;
            reply.ok(NetworkStatusResponse{m_ctx.network.status(req->discovery_key)});
            return;
        }
        case Method::NetworkAllStatuses:
            reply.ok(AllNetworkStatusesResponse{m_ctx.network.all_statuses()});
            return;
        case Method::NetworkRegisterExtension: {
            auto req = detail::decode_request<RegisterExtensionRequest>(info, payload, reply, log);
            if (!req) return;
            if (client.has_resource(req->resource_id))
                return reply.fail(errors::resource_exists(req->resource_id));
            if (!client.can_add_resource())
                return reply.fail(errors::failure(errors::kTooManyPending));
            Resource r;
            r.kind = Resource::Kind::NetworkExtension;
            r.name = req->name;
            client.add_resource(req->resource_id, std::move(r));
            if (m_ctx.replication) m_ctx.replication->network_extensions_changed();
            reply.ok();
            return;
        }
        case Method::NetworkUnregisterExtension: {
            auto req =
                detail::decode_request<UnregisterExtensionRequest>(info, payload, reply, log);
            if (!req) return;
            if (!client.free_resource(req->resource_id))
                return reply.fail(errors::invalid_resource(req->resource_id));
            if (m_ctx.replication) m_ctx.replication->network_extensions_changed();
            reply.ok();
            return;
        }
        case Method::NetworkSendExtension: {
            auto req = detail::decode_request<ExtensionMessage>(info, payload, reply, log);
            if (!req) return;
            const Resource* r = client.resource(req->resource_id);
            if (!r || r->kind != Resource::Kind::NetworkExtension)
                return reply.fail(errors::invalid_resource(req->resource_id));
            if (m_ctx.replication)
                m_ctx.replication->send_network_extension(r->name, req->data,
                                                          req->remote_public_key);
            reply.ok();
            return;
        }
        default:
            reply.fail(errors::failure(errors::kNoHandler));
            return;
    }
}

}  // namespace hs::server
