// Hypercore service handlers (docs/behaviour/rpc.md "Methods"; our changes:
// docs/behaviour/quirks.md #5, #7, #19).
#include <vector>

#include <spdlog/spdlog.h>

#include "server/handlers.h"
#include "server/handlers_detail.h"

namespace hs::server {
using namespace hs::rpc;      // the codec
using namespace hs::service;  // the daemon's services
namespace {

// The session a Hypercore request names, or the error to answer: "Invalid hypercore: <id>", or
// "Feed is closed" when the GC closed the core under a weak session.
struct Target {
    CoreSession* session = nullptr;
    std::optional<RpcFailure> failure;
};

Target target(ClientState& client, std::uint64_t id, bool need_core = true) {
    CoreSession* s = client.session(id);
    if (!s) return {nullptr, errors::invalid_hypercore(id)};
    if (need_core && !s->core) return {nullptr, errors::failure(errors::kFeedClosed)};
    return {s, std::nullopt};
}

// Cancel and Undownload: free the named resource (a get or a download) of a session.
template <typename Request>
void free_resource(const MethodInfo& info, ByteView payload, Responder& reply, spdlog::logger& log,
                   ClientState& client) {
    auto req = detail::decode_request<Request>(info, payload, reply, log);
    if (!req) return;
    auto t = target(client, req->id, false);
    if (t.failure) return reply.fail(*t.failure);
    client.free_resource(req->resource_id);
    reply.ok();
}

}  // namespace

void Handlers::hypercore(ClientState& client, const MethodInfo& info, ByteView payload,
                         Responder reply) {
    auto& log = *m_ctx.log;
    auto& registry = m_ctx.registry;
    switch (info.method) {
        case Method::HypercoreGet: {
            auto req = detail::decode_request<GetRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            if (client.has_resource(req->resource_id))
                return reply.fail(errors::resource_exists(req->resource_id));
            LoadedCore& core = *t.session->core;
            hypercore::Feed& feed = core.feed();
            if (feed.has(req->seq)) {
                auto block = feed.get(req->seq);
                if (!block) return reply.fail(errors::failure(block.error().message));
                return reply.ok(GetResponse{std::move(*block)});
            }
            if (!req->wait_or_default())
                return reply.fail(errors::failure(errors::kBlockNotDownloaded));
            // hypercore calls onwait right away, before any peer could answer.
            if (req->on_wait_id.value_or(0) != 0)
                send_event(client.sink(), Method::HypercoreOnWait,
                           WaitEvent{req->id, *req->on_wait_id, req->seq});
            const bool if_available = req->if_available_or_default();
            if (if_available && !m_ctx.replication)
                return reply.fail(errors::failure(errors::kBlockNotAvailable));
            if (!client.can_wait() || !client.can_add_resource())
                return reply.fail(errors::failure(errors::kTooManyPending));
            const WaiterId w = registry.wait_get(core, client, req->id, req->seq, std::move(reply));
            client.track_waiter(w, core, req->id, false, req->resource_id);
            client.add_resource(req->resource_id, Resource{Resource::Kind::Get, req->id, w, {}});
            if (if_available)
                m_ctx.replication->gate(core, w, Replication::Gate::Get, req->seq, 0,
                                        errors::failure(errors::kBlockNotAvailable));
            return;
        }
        case Method::HypercoreAppend: {
            auto req = detail::decode_request<AppendRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            std::vector<ByteView> blocks(req->blocks.begin(), req->blocks.end());
            auto rsp = registry.append(*t.session->core, blocks);
            if (!rsp) return reply.fail(errors::failure(rsp.error().message));
            if (m_ctx.replication)
                m_ctx.replication->local_append(*t.session->core, rsp->seq, blocks.size());
            return reply.ok(*rsp);
        }
        case Method::HypercoreUpdate: {
            auto req = detail::decode_request<UpdateRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            LoadedCore& core = *t.session->core;
            const std::uint64_t min_length = req->min_length.value_or(0);
            if (core.feed().length() >= min_length) return reply.ok();
            const bool if_available = req->if_available_or_default();
            if (if_available && (core.feed().writable() || !m_ctx.replication))
                return reply.fail(errors::failure(errors::kNoUpdateAvailable));
            if (!client.can_wait()) return reply.fail(errors::failure(errors::kTooManyPending));
            const WaiterId w =
                registry.wait_update(core, client, req->id, min_length, req->hash_or_default(),
                                     std::move(reply));
            client.track_waiter(w, core, req->id, false, std::nullopt);
            if (if_available)
                m_ctx.replication->gate(core, w, Replication::Gate::Update, min_length, 0,
                                        errors::failure(errors::kNoUpdateAvailable));
            return;
        }
        case Method::HypercoreSeek: {
            auto req = detail::decode_request<SeekRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            LoadedCore& core = *t.session->core;
            const auto attempt = CoreRegistry::try_seek(core.feed(), req->byte_offset);
            if (attempt.outcome == CoreRegistry::SeekOutcome::Found)
                return reply.ok(attempt.response);
            if (!req->wait_or_default())
                return reply.fail(
                    errors::failure(attempt.outcome == CoreRegistry::SeekOutcome::OutOfBounds
                                        ? errors::kOutOfBounds
                                        : errors::kUnableToSeek));
            const std::uint64_t start = req->start.value_or(0);
            const std::uint64_t end = req->end.value_or(0);  // 0: unbounded
            if (end != 0 && end <= start) return reply.fail(errors::failure(errors::kUnableToSeek));
            const bool if_available = req->if_available_or_default();
            if (if_available && !m_ctx.replication)
                return reply.fail(errors::failure(errors::kSeekNotAvailable));
            if (!client.can_wait()) return reply.fail(errors::failure(errors::kTooManyPending));
            const WaiterId w =
                registry.wait_seek(core, client, req->id, req->byte_offset, std::move(reply));
            client.track_waiter(w, core, req->id, false, std::nullopt);
            if (if_available)
                m_ctx.replication->gate(core, w, Replication::Gate::Seek, start, end,
                                        errors::failure(errors::kSeekNotAvailable));
            return;
        }
        case Method::HypercoreHas: {
            auto req = detail::decode_request<HasRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            return reply.ok(HasResponse{t.session->core->feed().has(req->seq)});
        }
        case Method::HypercoreCancel:
            return free_resource<CancelRequest>(info, payload, reply, log, client);
        case Method::HypercoreDownload: {
            auto req = detail::decode_request<DownloadRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            if (client.has_resource(req->resource_id))
                return reply.fail(errors::resource_exists(req->resource_id));
            LoadedCore& core = *t.session->core;
            DownloadTarget range;
            range.start = req->start.value_or(0);
            // hypercore: `end: live ? -1 : end`, and an end of 0 is unbounded too.
            if (!req->live.value_or(false) && req->end.value_or(0) != 0) range.end = *req->end;
            range.blocks = req->blocks;
            if (!CoreRegistry::range_complete(core.feed(), range) &&
                (!client.can_wait() || !client.can_add_resource()))
                return reply.fail(errors::failure(errors::kTooManyPending));
            auto w = registry.download(core, client, req->id, std::move(range), std::move(reply));
            if (!w) return;  // already stored: answered (quirks #19)
            client.track_waiter(*w, core, req->id, false, req->resource_id);
            client.add_resource(req->resource_id,
                                Resource{Resource::Kind::Download, req->id, *w, {}});
            return;
        }
        case Method::HypercoreDownloaded: {
            auto req = detail::decode_request<DownloadedRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            hypercore::Feed& feed = t.session->core->feed();
            const std::uint64_t start = req->start.value_or(0);
            std::uint64_t end = req->end.value_or(0);
            if (end == 0) end = std::max(feed.length(), start);  // "to the end of the bitfield"
            return reply.ok(DownloadedResponse{feed.downloaded(start, end)});
        }
        case Method::HypercoreUndownload:
            return free_resource<UndownloadRequest>(info, payload, reply, log, client);
        case Method::HypercoreClose: {
            auto req = detail::decode_request<CloseRequest>(info, payload, reply, log);
            if (!req) return;
            // A weak session whose core the GC closed is closed with success.
            if (!client.close_session(req->id))
                return reply.fail(errors::invalid_hypercore(req->id));
            return reply.ok();
        }
        case Method::HypercoreRegisterExtension: {
            auto req = detail::decode_request<RegisterExtensionRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            if (client.has_resource(req->resource_id))
                return reply.fail(errors::resource_exists(req->resource_id));
            if (!client.can_add_resource())
                return reply.fail(errors::failure(errors::kTooManyPending));
            client.add_resource(req->resource_id,
                                Resource{Resource::Kind::CoreExtension, req->id, 0, req->name});
            if (m_ctx.replication) m_ctx.replication->core_extensions_changed(*t.session->core);
            return reply.ok();
        }
        case Method::HypercoreUnregisterExtension: {
            auto req =
                detail::decode_request<UnregisterExtensionRequest>(info, payload, reply, log);
            if (!req) return;
            const Resource* r = client.resource(req->resource_id);
            const std::uint64_t session_id = r ? r->session_id : 0;
            if (!client.free_resource(req->resource_id))
                return reply.fail(errors::invalid_resource(req->resource_id));
            if (CoreSession* s = client.session(session_id); s && s->core && m_ctx.replication)
                m_ctx.replication->core_extensions_changed(*s->core);
            return reply.ok();
        }
        case Method::HypercoreSendExtension: {
            auto req = detail::decode_request<ExtensionMessage>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            const Resource* r = client.resource(req->resource_id);
            if (!r || r->kind != Resource::Kind::CoreExtension)
                return reply.fail(errors::invalid_resource(req->resource_id));
            if (m_ctx.replication)
                m_ctx.replication->send_core_extension(*t.session->core, r->name, req->data,
                                                       req->remote_public_key);
            return reply.ok();
        }
        case Method::HypercoreAcquireLock: {
            auto req = detail::decode_request<LockRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            if (!client.can_wait()) return reply.fail(errors::failure(errors::kTooManyPending));
            LoadedCore& core = *t.session->core;
            auto w = registry.acquire_lock(core, client, req->id, std::move(reply));
            if (w) client.track_waiter(*w, core, req->id, true, std::nullopt);
            return;
        }
        case Method::HypercoreReleaseLock: {
            auto req = detail::decode_request<LockRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id);
            if (t.failure) return reply.fail(*t.failure);
            if (auto failure = registry.release_lock(*t.session->core, client, req->id)) {
                log.debug("client {}: ReleaseLock on session {}: {}", client.id(), req->id,
                          failure->message);
                return reply.fail(*failure);
            }
            return reply.ok();
        }
        case Method::HypercoreWatchDownloads:
        case Method::HypercoreUnwatchDownloads:
        case Method::HypercoreWatchUploads:
        case Method::HypercoreUnwatchUploads: {
            // All four requests are {1: id}.
            auto req = detail::decode_request<WatchDownloadsRequest>(info, payload, reply, log);
            if (!req) return;
            auto t = target(client, req->id, false);
            if (t.failure) return reply.fail(*t.failure);
            const bool on = info.method == Method::HypercoreWatchDownloads ||
                            info.method == Method::HypercoreWatchUploads;
            if (info.method == Method::HypercoreWatchDownloads ||
                info.method == Method::HypercoreUnwatchDownloads)
                t.session->watch_downloads = on;
            else
                t.session->watch_uploads = on;
            return reply.ok();
        }
        default:
            return reply.fail(errors::failure(errors::kNoHandler));
    }
}

}  // namespace hs::server
