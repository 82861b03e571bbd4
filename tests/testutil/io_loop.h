// Driving an io_context from a unit test: run it until a condition holds, for a while, or until
// coroutines started through an async::TaskGroup (nothing is detached) have ended.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "common/async/task_group.h"

namespace hs::testutil {

// Runs io in slices of `slice` until cond() holds; false when `limit` passed first.
template <typename Cond>
bool run_until(asio::io_context& io, Cond&& cond, std::chrono::milliseconds limit,
               std::chrono::milliseconds slice = std::chrono::milliseconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!cond()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        io.restart();  // it stops when it runs out of work
        io.run_for(slice);
    }
    return true;
}

// Runs io for d (for checks that something does NOT happen in that time).
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
    run_until(io, [] { return false; }, d);
}

// Runs the tasks to their end on io, each in one TaskGroup that is joined before this returns
// (or cancelled, when `limit` passes first: then false).
inline bool run_tasks(asio::io_context& io, std::vector<asio::awaitable<void>> tasks,
                      std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    async::TaskGroup group(io.get_executor(), "test");
    // Shared: a task cancelled below may still end after this returns.
    auto left = std::make_shared<std::size_t>(tasks.size());
    for (auto& t : tasks) group.spawn("test-task", std::move(t), [left] { --*left; });
    const bool ended = run_until(io, [&] { return *left == 0; }, limit);
    if (!ended) {
        group.cancel();
        run_until(io, [&] { return *left == 0; }, std::chrono::seconds(5));
    }
    return ended;
}

// Closes each of `items` (anything with `asio::awaitable<void> close()`), one after the other: a
// task for run_task.
template <typename T>
asio::awaitable<void> close_each(std::vector<T*> items) {
    for (T* item : items) co_await item->close();
}

inline bool run_task(asio::io_context& io, asio::awaitable<void> task,
                     std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::vector<asio::awaitable<void>> tasks;
    tasks.push_back(std::move(task));
    return run_tasks(io, std::move(tasks), limit);
}

}  // namespace hs::testutil
