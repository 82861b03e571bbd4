// async::Event: the one wake-up primitive for coroutines on the (single) network thread.
//
// notify() wakes every coroutine waiting at that moment; a notify with nobody waiting is lost, so
// a waiter always re-checks its condition in a loop:
//
//     while (!ready()) co_await event.wait();
//
// Waits can have a deadline. A waiting coroutine that is cancelled (TaskGroup::cancel, or any
// terminal cancellation of its task) stops waiting at once; the wait then throws
// asio::system_error(operation_aborted) like any other cancelled operation.
#pragma once

#include <chrono>
#include <list>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/system_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace hs::async {

class Event {
public:
    using Clock = std::chrono::steady_clock;

    explicit Event(asio::any_io_executor executor) : m_executor(std::move(executor)) {}
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    // Wakes every current waiter (their wait returns true).
    void notify() {
        for (auto& w : m_waiters) {
            w.notified = true;
            w.timer->cancel();
        }
    }

    // Waits for notify() or `deadline`; true when notified, false at the deadline.
    asio::awaitable<bool> wait_until(Clock::time_point deadline) {
        // A task cancelled before it waits would otherwise wait for ever: the cancellation was
        // delivered to an earlier operation.
        const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            throw asio::system_error(asio::error::operation_aborted, "wait cancelled");
        asio::steady_timer timer(m_executor, deadline);
        auto it = m_waiters.insert(m_waiters.end(), Waiter{&timer, false});
        auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        const bool notified = it->notified;
        m_waiters.erase(it);
        if (ec == asio::error::operation_aborted && !notified)
            throw asio::system_error(asio::error::operation_aborted, "wait cancelled");
        co_return notified;
    }
    asio::awaitable<bool> wait_for(Clock::duration d) { return wait_until(Clock::now() + d); }
    asio::awaitable<void> wait() { co_await wait_until(Clock::time_point::max()); }

    std::size_t waiters() const noexcept { return m_waiters.size(); }
    const asio::any_io_executor& executor() const noexcept { return m_executor; }

private:
    struct Waiter {
        asio::steady_timer* timer;
        bool notified;
    };
    asio::any_io_executor m_executor;
    std::list<Waiter> m_waiters;
};

}  // namespace hs::async
