// The Asio awaitable flavour of hyperspace::Client (include/hyperspace/client.h), for programs
// that run their own asio::io_context (standalone Asio, C++20 coroutines):
//
//     asio::awaitable<void> work(hyperspace::Client& client) {
//         auto core = co_await hyperspace::co::get(client.corestore(), {.name = "log"});
//         co_await hyperspace::co::append(core, {"hello"});
//         auto block = co_await hyperspace::co::get(core, 0);
//     }
//
// Each call is the blocking call of the same name, awaited: the request goes out through the
// client's I/O thread and the coroutine resumes on its own executor with the answer, or with
// hyperspace::Error thrown there. Nothing blocks the caller's thread. Callbacks (on_append, ...)
// still run on the client's event thread.
//
// Needs standalone Asio (Debian: libasio-dev, the version the library was built with) and
// ASIO_STANDALONE defined, as the library itself was built.
#pragma once

#include <hyperspace/client.h>

#include <asio/awaitable.hpp>

namespace hyperspace::co {

HYPERSPACE_EXPORT asio::awaitable<Status> status(Client& client);
HYPERSPACE_EXPORT asio::awaitable<RemoteHypercore> get(RemoteCorestore store, GetCoreOptions options = {});
HYPERSPACE_EXPORT asio::awaitable<std::uint64_t> append(RemoteHypercore core, std::vector<std::string> blocks);
HYPERSPACE_EXPORT asio::awaitable<std::vector<std::uint8_t>> get(RemoteHypercore core, std::uint64_t seq,
                                               GetOptions options = {});
HYPERSPACE_EXPORT asio::awaitable<bool> has(RemoteHypercore core, std::uint64_t seq);
HYPERSPACE_EXPORT asio::awaitable<std::uint64_t> downloaded(RemoteHypercore core,
                                          std::optional<std::uint64_t> start = {},
                                          std::optional<std::uint64_t> end = {});
// Completes once the range is stored.
HYPERSPACE_EXPORT asio::awaitable<void> download(RemoteHypercore core, DownloadRange range = {});
HYPERSPACE_EXPORT asio::awaitable<void> update(RemoteHypercore core, UpdateOptions options = {});
HYPERSPACE_EXPORT asio::awaitable<SeekResult> seek(RemoteHypercore core, std::uint64_t byte_offset,
                                 SeekOptions options = {});
HYPERSPACE_EXPORT asio::awaitable<void> close(RemoteHypercore core);
HYPERSPACE_EXPORT asio::awaitable<void> configure(RemoteNetworker& network, Key discovery_key,
                                NetworkConfiguration configuration);

}  // namespace hyperspace::co
