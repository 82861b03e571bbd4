// Hypercore service handlers (docs/behaviour/rpc.md "Methods"; our changes:
// docs/behaviour/quirks.md #5, #7, #19). Get, Update, Seek and Download that wait go through
// service::wait_for.
#include <vector>

#include <spdlog/spdlog.h>

#include "server/handlers.h"
#include "server/handlers_detail.h"
#include "service/waiting.h"

namespace hs::server {
using namespace hs::rpc;      // the codec
using namespace hs::service;  // the daemon's services
using detail::Call;

namespace {

// The session a Hypercore request names, or null after answering "Invalid hypercore: <id>", or
// "Feed is closed" when the GC closed the core under a weak session (`need_core`).
CoreSession* target(Call& c, std::uint64_t id, bool need_core = true) {
    CoreSession* s = c.client.session(id);
    if (!s) {
        c.fail(errors::invalid_hypercore(id));
        return nullptr;
    }
    if (need_core && !s->core) {
        c.fail(errors::kFeedClosed);
        return nullptr;
    }
    return s;
}

// Registers a waiting request of this call (service::wait_for answers the call from now on).
void wait(Call& c, CoreSession& s, decltype(WaitingRequest::what) what,
          std::optional<std::uint64_t> resource_id, std::optional<RpcFailure> if_available) {
    wait_for(c.ctx.registry, c.ctx.replication, c.client,
             WaitingRequest{*s.core, s.id, std::move(what), resource_id, std::move(if_available)},
             std::move(c.reply));
}

void get(Call& c) {
    auto req = c.decode<GetRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    if (c.client.has_resource(req->resource_id))
        return c.fail(errors::resource_exists(req->resource_id));
    hypercore::Feed& feed = s->core->feed();
    if (feed.has(req->seq)) {
        auto block = feed.get(req->seq);
        if (!block) return c.fail(block.error().message);
        return c.reply.ok(GetResponse{std::move(*block)});
    }
    if (!req->wait_or_default()) return c.fail(errors::kBlockNotDownloaded);
    // hypercore calls onwait right away, before any peer could answer.
    if (req->on_wait_id.value_or(0) != 0)
        send_event(c.client.sink(), Method::HypercoreOnWait,
                   WaitEvent{req->id, *req->on_wait_id, req->seq});
    std::optional<RpcFailure> if_available;
    if (req->if_available_or_default()) if_available = errors::failure(errors::kBlockNotAvailable);
    wait(c, *s, BlockWait{req->seq}, req->resource_id, std::move(if_available));
}

void append(Call& c) {
    auto req = c.decode<AppendRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    std::vector<ByteView> blocks(req->blocks.begin(), req->blocks.end());
    auto rsp = c.ctx.registry.append(*s->core, blocks);
    if (!rsp) return c.fail(rsp.error().message);
    if (c.ctx.replication) c.ctx.replication->local_append(*s->core, rsp->seq, blocks.size());
    c.reply.ok(*rsp);
}

void update(Call& c) {
    auto req = c.decode<UpdateRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    const std::uint64_t min_length = req->min_length.value_or(0);
    if (s->core->feed().length() >= min_length) return c.reply.ok();
    std::optional<RpcFailure> if_available;
    if (req->if_available_or_default()) {
        // A writable core has no peer to get a longer length from.
        if (s->core->feed().writable()) return c.fail(errors::kNoUpdateAvailable);
        if_available = errors::failure(errors::kNoUpdateAvailable);
    }
    wait(c, *s, LengthWait{min_length, req->hash_or_default()}, std::nullopt,
         std::move(if_available));
}

void seek(Call& c) {
    auto req = c.decode<SeekRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    const auto attempt = CoreRegistry::try_seek(s->core->feed(), req->byte_offset);
    if (attempt.outcome == CoreRegistry::SeekOutcome::Found) return c.reply.ok(attempt.response);
    if (!req->wait_or_default())
        return c.fail(attempt.outcome == CoreRegistry::SeekOutcome::OutOfBounds
                          ? errors::kOutOfBounds
                          : errors::kUnableToSeek);
    const std::uint64_t start = req->start.value_or(0);
    const std::uint64_t end = req->end.value_or(0);  // 0: unbounded
    if (end != 0 && end <= start) return c.fail(errors::kUnableToSeek);
    std::optional<RpcFailure> if_available;
    if (req->if_available_or_default()) if_available = errors::failure(errors::kSeekNotAvailable);
    wait(c, *s, SeekWait{req->byte_offset, start, end}, std::nullopt, std::move(if_available));
}

void has(Call& c) {
    auto req = c.decode<HasRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    c.reply.ok(HasResponse{s->core->feed().has(req->seq)});
}

// Cancel and Undownload: free the named resource (a get or a download) of a session.
template <typename Request>
void free_resource(Call& c) {
    auto req = c.decode<Request>();
    if (!req) return;
    if (!target(c, req->id, false)) return;
    c.client.free_resource(req->resource_id);
    c.reply.ok();
}

void download(Call& c) {
    auto req = c.decode<DownloadRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    if (c.client.has_resource(req->resource_id))
        return c.fail(errors::resource_exists(req->resource_id));
    DownloadTarget range;
    range.start = req->start.value_or(0);
    // hypercore: `end: live ? -1 : end`, and an end of 0 is unbounded too.
    if (!req->live.value_or(false) && req->end.value_or(0) != 0) range.end = *req->end;
    range.blocks = req->blocks;
    // A range already stored is answered at once (quirks #19).
    wait(c, *s, RangeWait{std::move(range)}, req->resource_id, std::nullopt);
}

void downloaded(Call& c) {
    auto req = c.decode<DownloadedRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    hypercore::Feed& feed = s->core->feed();
    const std::uint64_t start = req->start.value_or(0);
    std::uint64_t end = req->end.value_or(0);
    if (end == 0) end = std::max(feed.length(), start);  // "to the end of the bitfield"
    c.reply.ok(DownloadedResponse{feed.downloaded(start, end)});
}

void close(Call& c) {
    auto req = c.decode<CloseRequest>();
    if (!req) return;
    // A weak session whose core the GC closed is closed with success.
    if (!c.client.close_session(req->id)) return c.fail(errors::invalid_hypercore(req->id));
    c.reply.ok();
}

void register_extension(Call& c) {
    auto req = c.decode<RegisterExtensionRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    if (c.client.has_resource(req->resource_id))
        return c.fail(errors::resource_exists(req->resource_id));
    if (!c.client.can_add_resource()) return c.fail(errors::kTooManyPending);
    c.client.add_resource(req->resource_id,
                          Resource{Resource::Kind::CoreExtension, req->id, 0, req->name});
    if (c.ctx.replication) c.ctx.replication->core_extensions_changed(*s->core);
    c.reply.ok();
}

void unregister_extension(Call& c) {
    auto req = c.decode<UnregisterExtensionRequest>();
    if (!req) return;
    const Resource* r = c.client.resource(req->resource_id);
    const std::uint64_t session_id = r ? r->session_id : 0;
    if (!c.client.free_resource(req->resource_id))
        return c.fail(errors::invalid_resource(req->resource_id));
    if (CoreSession* s = c.client.session(session_id); s && s->core && c.ctx.replication)
        c.ctx.replication->core_extensions_changed(*s->core);
    c.reply.ok();
}

void send_extension(Call& c) {
    auto req = c.decode<ExtensionMessage>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    const Resource* r = c.client.resource(req->resource_id);
    if (!r || r->kind != Resource::Kind::CoreExtension)
        return c.fail(errors::invalid_resource(req->resource_id));
    if (c.ctx.replication)
        c.ctx.replication->send_core_extension(*s->core, r->name, req->data,
                                               req->remote_public_key);
    c.reply.ok();
}

void acquire_lock(Call& c) {
    auto req = c.decode<LockRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    if (!c.client.can_wait()) return c.fail(errors::kTooManyPending);
    LoadedCore& core = *s->core;
    auto w = c.ctx.registry.acquire_lock(core, c.client, req->id, std::move(c.reply));
    if (w) c.client.track_waiter(*w, core, req->id, true, std::nullopt);
}

void release_lock(Call& c) {
    auto req = c.decode<LockRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id);
    if (!s) return;
    if (auto failure = c.ctx.registry.release_lock(*s->core, c.client, req->id)) {
        c.ctx.log->debug("client {}: ReleaseLock on session {}: {}", c.client.id(), req->id,
                         failure->message);
        return c.fail(*failure);
    }
    c.reply.ok();
}

// Watch/Unwatch Downloads/Uploads: all four requests are {1: id}.
template <bool kDownloads, bool kOn>
void watch(Call& c) {
    auto req = c.decode<WatchDownloadsRequest>();
    if (!req) return;
    CoreSession* s = target(c, req->id, false);
    if (!s) return;
    (kDownloads ? s->watch_downloads : s->watch_uploads) = kOn;
    c.reply.ok();
}

constexpr detail::Entry kEntries[] = {
    {Method::HypercoreGet, get},
    {Method::HypercoreAppend, append},
    {Method::HypercoreUpdate, update},
    {Method::HypercoreSeek, seek},
    {Method::HypercoreHas, has},
    {Method::HypercoreCancel, free_resource<CancelRequest>},
    {Method::HypercoreDownload, download},
    {Method::HypercoreDownloaded, downloaded},
    {Method::HypercoreUndownload, free_resource<UndownloadRequest>},
    {Method::HypercoreClose, close},
    {Method::HypercoreRegisterExtension, register_extension},
    {Method::HypercoreUnregisterExtension, unregister_extension},
    {Method::HypercoreSendExtension, send_extension},
    {Method::HypercoreAcquireLock, acquire_lock},
    {Method::HypercoreReleaseLock, release_lock},
    {Method::HypercoreWatchDownloads, watch<true, true>},
    {Method::HypercoreUnwatchDownloads, watch<true, false>},
    {Method::HypercoreWatchUploads, watch<false, true>},
    {Method::HypercoreUnwatchUploads, watch<false, false>},
};

}  // namespace

std::span<const detail::Entry> detail::hypercore_handlers() { return kEntries; }

}  // namespace hs::server
