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
#pragma once

#include <hyperspace/client.h>

#include <asio/awaitable.hpp>

namespace hyperspace::co {

asio::awaitable<Status> status(Client& client);
asio::awaitable<RemoteHypercore> get(RemoteCorestore store, GetCoreOptions options = {});
asio::awaitable<std::uint64_t> append(RemoteHypercore core, std::vector<std::string> blocks);
asio::awaitable<std::vector<std::uint8_t>> get(RemoteHypercore core, std::uint64_t seq,
                                               GetOptions options = {});
asio::awaitable<bool> has(RemoteHypercore core, std::uint64_t seq);
asio::awaitable<std::uint64_t> downloaded(RemoteHypercore core,
                                          std::optional<std::uint64_t> start = {},
                                          std::optional<std::uint64_t> end = {});
// Completes once the range is stored.
asio::awaitable<void> download(RemoteHypercore core, DownloadRange range = {});
asio::awaitable<void> update(RemoteHypercore core, UpdateOptions options = {});
asio::awaitable<SeekResult> seek(RemoteHypercore core, std::uint64_t byte_offset,
                                 SeekOptions options = {});
asio::awaitable<void> close(RemoteHypercore core);
asio::awaitable<void> configure(RemoteNetworker& network, Key discovery_key,
                                NetworkConfiguration configuration);

}  // namespace hyperspace::co
