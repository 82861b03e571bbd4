#include "common/async/task_group.h"

#include <list>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/system_error.hpp>
#include <spdlog/spdlog.h>

#include "common/async/event.h"

namespace hs::async {

struct TaskGroup::State {
    State(asio::any_io_executor executor, std::string name, std::shared_ptr<spdlog::logger> log)
        : name(std::move(name)), log(std::move(log)), idle(std::move(executor)) {}

    struct Task {
        std::string name;
        asio::cancellation_signal cancel;
    };
    std::string name;
    std::shared_ptr<spdlog::logger> log;
    std::list<Task> tasks;
    std::size_t failures = 0;
    Event idle;  // a task ended

    spdlog::logger& logger() { return log ? *log : *spdlog::default_logger_raw(); }

    // The one place where an exception that ended a task is reported.
    void report(const std::string& task, std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const asio::system_error& ex) {
            if (ex.code() == asio::error::operation_aborted) {
                logger().debug("{}: task {} cancelled", name, task);
                return;
            }
            ++failures;
            logger().error("{}: task {} failed: {}", name, task, ex.what());
        } catch (const std::exception& ex) {
            ++failures;
            logger().error("{}: task {} failed: {}", name, task, ex.what());
        } catch (...) {
            ++failures;
            logger().error("{}: task {} failed with an unknown exception", name, task);
        }
    }
};

TaskGroup::TaskGroup(asio::any_io_executor executor, std::string name,
                     std::shared_ptr<spdlog::logger> log)
    : m_executor(executor),
      m_state(std::make_shared<State>(std::move(executor), std::move(name), std::move(log))) {}

TaskGroup::~TaskGroup() {
    if (!m_state->tasks.empty()) cancel();
}

void TaskGroup::spawn(std::string_view name, asio::awaitable<void> task,
                      std::function<void()> on_done) {
    auto& entry = m_state->tasks.emplace_back();
    entry.name = std::string(name);
    auto it = std::prev(m_state->tasks.end());
    asio::co_spawn(m_executor, std::move(task),
                   asio::bind_cancellation_slot(
                       entry.cancel.slot(),
                       [state = m_state, it, on_done = std::move(on_done)](std::exception_ptr e) {
                           state->report(it->name, e);
                           state->tasks.erase(it);
                           if (on_done) {
                               try {
                                   on_done();
                               } catch (const std::exception& ex) {
                                   state->logger().error("{}: completion of a task failed: {}",
                                                         state->name, ex.what());
                               }
                           }
                           state->idle.notify();
                       }));
}

void TaskGroup::cancel() {
    // emit() may complete an operation inline only through a post, never by running the task
    // here, so the list stays valid while we walk it.
    for (auto& t : m_state->tasks) t.cancel.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> TaskGroup::join() {
    auto state = m_state;
    while (!state->tasks.empty()) co_await state->idle.wait();
}

asio::awaitable<bool> TaskGroup::join_for(std::chrono::steady_clock::duration timeout) {
    auto state = m_state;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!state->tasks.empty()) {
        const bool woken = co_await state->idle.wait_until(deadline);
        if (!woken) break;
    }
    co_return state->tasks.empty();
}

std::size_t TaskGroup::size() const noexcept { return m_state->tasks.size(); }
std::size_t TaskGroup::failures() const noexcept { return m_state->failures; }

}  // namespace hs::async
