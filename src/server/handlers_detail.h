// Helpers shared by the handler files (handlers*.cpp only).
#pragma once

#include <optional>

#include <spdlog/logger.h>

#include "service/errors.h"
#include "rpc/methods.h"
#include "service/sink.h"

namespace hs::server::detail {

// Decodes all of `payload` as T. On failure answers "Decoded message is not valid (...)" (the
// JS daemon destroys the connection instead; the frame boundary is intact, so we keep it).
template <typename T>
std::optional<T> decode_request(const rpc::MethodInfo& info, ByteView payload,
                                service::Responder& reply, spdlog::logger& log) {
    ByteView in = payload;
    auto decoded = T::decode(in);
    if (decoded) return std::move(decoded).value();
    log.debug("{}.{}: undecodable request: {}", info.service_name, info.name,
              decoded.error().message);
    reply.fail(service::errors::failure(fmt::format("Decoded message is not valid ({}: {})",
                                                    rpc::message_kind_name(info.request),
                                                    decoded.error().message)));
    return std::nullopt;
}

}  // namespace hs::server::detail
