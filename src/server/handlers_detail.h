// What the handler files share (handlers*.cpp only): one request being handled, and the entries
// of the method table (docs/behaviour/rpc.md "Methods": one small handler per method).
#pragma once

#include <optional>
#include <span>

#include <spdlog/logger.h>

#include "rpc/methods.h"
#include "server/handlers.h"
#include "service/errors.h"
#include "service/sink.h"

namespace hs::server::detail {

// One request frame of a client, on its way to a service.
struct Call {
    HandlerContext& ctx;
    service::ClientState& client;
    const rpc::MethodInfo& info;
    ByteView payload;
    service::Responder reply;

    // Decodes all of the payload as T. On failure answers "Decoded message is not valid (...)"
    // (the JS daemon destroys the connection instead; the frame boundary is intact, so we keep
    // it).
    template <typename T>
    std::optional<T> decode() {
        ByteView in = payload;
        auto decoded = T::decode(in);
        if (decoded) return std::move(decoded).value();
        ctx.log->debug("{}.{}: undecodable request: {}", info.service_name, info.name,
                       decoded.error().message);
        reply.fail(service::errors::failure(
            fmt::format("Decoded message is not valid ({}: {})",
                        rpc::message_kind_name(info.request), decoded.error().message)));
        return std::nullopt;
    }
    void fail(const service::RpcFailure& failure) { reply.fail(failure); }
    void fail(std::string_view message) { reply.fail(service::errors::failure(message)); }
};

using Handler = void (*)(Call&);
struct Entry {
    rpc::Method method;
    Handler handler;
};

// The handlers of each file.
std::span<const Entry> hyperspace_network_handlers();  // handlers.cpp
std::span<const Entry> hypercore_handlers();           // handlers_hypercore.cpp

}  // namespace hs::server::detail
