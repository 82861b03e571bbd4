#include "service/waiting.h"

#include <utility>

#include "service/errors.h"

namespace hs::service {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// The ifAvailable gate of a wait (Download has none).
std::optional<std::pair<Replication::Gate, std::pair<std::uint64_t, std::uint64_t>>> gate_of(
    const WaitingRequest& r) {
    using G = Replication::Gate;
    using Out = std::optional<std::pair<G, std::pair<std::uint64_t, std::uint64_t>>>;
    return std::visit(Overloaded{
                          [](const BlockWait& w) -> Out { return {{G::Get, {w.seq, 0}}}; },
                          [](const LengthWait& w) -> Out {
                              return {{G::Update, {w.min_length, 0}}};
                          },
                          [](const SeekWait& w) -> Out { return {{G::Seek, {w.start, w.end}}}; },
                          [](const RangeWait&) -> Out { return std::nullopt; },
                      },
                      r.what);
}

}  // namespace

void wait_for(CoreRegistry& registry, Replication* replication, ClientState& client,
              WaitingRequest request, Responder reply) {
    if (request.if_available && !replication) return reply.fail(*request.if_available);
    // Admit: a Download of a stored range holds nothing (it is answered at once).
    const auto* range = std::get_if<RangeWait>(&request.what);
    const bool holds = !range || !CoreRegistry::range_complete(request.core.feed(), range->range);
    if (holds && (!client.can_wait() || (request.resource_id && !client.can_add_resource())))
        return reply.fail(errors::failure(errors::kTooManyPending));

    // Register.
    LoadedCore& core = request.core;
    const std::uint64_t sid = request.session_id;
    Resource::Kind kind = Resource::Kind::Get;
    std::optional<WaiterId> waiter = std::visit(
        Overloaded{
            [&](const BlockWait& w) -> std::optional<WaiterId> {
                return registry.wait_get(core, client, sid, w.seq, std::move(reply));
            },
            [&](const LengthWait& w) -> std::optional<WaiterId> {
                return registry.wait_update(core, client, sid, w.min_length, w.hash,
                                            std::move(reply));
            },
            [&](const SeekWait& w) -> std::optional<WaiterId> {
                return registry.wait_seek(core, client, sid, w.byte_offset, std::move(reply));
            },
            [&](RangeWait& w) -> std::optional<WaiterId> {
                kind = Resource::Kind::Download;
                return registry.download(core, client, sid, std::move(w.range), std::move(reply));
            },
        },
        request.what);
    if (!waiter) return;  // answered at once

    // Track: the client frees it (and its resource) on Cancel/Undownload, Close or disconnect.
    client.track_waiter(*waiter, core, sid, false, request.resource_id);
    if (request.resource_id)
        client.add_resource(*request.resource_id, Resource{kind, sid, *waiter, {}});

    // Gate.
    if (request.if_available) {
        if (const auto g = gate_of(request))
            replication->gate(core, *waiter, g->first, g->second.first, g->second.second,
                              std::move(*request.if_available));
    }
}

}  // namespace hs::service
