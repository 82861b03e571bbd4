// async::TaskGroup: the owner of a component's coroutines.
//
// Every long-running coroutine in the daemon and in hyp is started through a TaskGroup held by
// the object that owns the state the coroutine uses (a server, the swarm, the networker, a DHT
// pump, a replication glue). The group
//   - names each task (the name appears in the log when it fails),
//   - logs every exception that ends a task, at this one site (cancellation is not a failure),
//   - can cancel every running task (terminal cancellation of the operation each is awaiting),
//   - can be joined: join() completes when no task of the group runs any more.
// Shutdown of an owner is always: stop what feeds it (close sockets, set its closing flag,
// notify its events), optionally cancel(), then `co_await group.join()`. Nothing is detached.
//
// Single-threaded: spawn, cancel and join run on the group's executor (the network thread).
// Destroying a group with tasks still running cancels them; their completion then touches only
// the group's shared bookkeeping, never the destroyed owner's state (but the tasks themselves
// must not use their owner after it is gone: owners join before they are destroyed).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

namespace spdlog {
class logger;
}

namespace hs::async {

class TaskGroup {
public:
    // `name` prefixes log lines ("swarm: task dial-loop failed: ..."); `log` may be null (then
    // failures go to spdlog's default logger).
    TaskGroup(asio::any_io_executor executor, std::string name,
              std::shared_ptr<spdlog::logger> log = nullptr);
    ~TaskGroup();
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;

    // Starts `task` on the group's executor. `on_done` (optional) runs after the task ended
    // however it ended (returned, threw, was cancelled), before join() can complete.
    void spawn(std::string_view name, asio::awaitable<void> task,
               std::function<void()> on_done = {});

    // Requests terminal cancellation of every running task: the operation each is suspended in
    // (a timer, a socket read, an Event wait) completes with operation_aborted. Tasks spawned
    // after cancel() run normally.
    void cancel();

    // Completes when no task runs (immediately when none does).
    asio::awaitable<void> join();
    // join() bounded by `timeout`: true when no task runs. For owners whose shutdown re-wakes
    // its loops while it waits (`while (!co_await join_for(200ms)) wake_everything();`).
    asio::awaitable<bool> join_for(std::chrono::steady_clock::duration timeout);

    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    // Tasks that ended with an exception other than cancellation (for tests and stats).
    std::size_t failures() const noexcept;
    const asio::any_io_executor& executor() const noexcept { return m_executor; }

private:
    struct State;
    asio::any_io_executor m_executor;
    std::shared_ptr<State> m_state;
};

}  // namespace hs::async
