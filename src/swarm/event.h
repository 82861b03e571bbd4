// A broadcast wake-up for coroutines on one executor: waiters re-check their condition after
// every notify(), so a notify with nobody waiting is simply lost. Network thread only.
#pragma once

#include <chrono>
#include <list>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace hs::swarm {

class Event {
public:
    explicit Event(asio::any_io_executor executor) : m_executor(std::move(executor)) {}
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    // Wakes every current waiter.
    void notify() {
        for (auto* t : m_waiters) t->cancel();
    }
    // Waits for notify() or `deadline`; true when notified.
    asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
        asio::steady_timer timer(m_executor, deadline);
        auto it = m_waiters.insert(m_waiters.end(), &timer);
        auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        m_waiters.erase(it);
        co_return ec == asio::error::operation_aborted;
    }
    asio::awaitable<bool> wait_for(std::chrono::steady_clock::duration d) {
        return wait_until(std::chrono::steady_clock::now() + d);
    }
    asio::awaitable<void> wait() {
        co_await wait_until(std::chrono::steady_clock::time_point::max());
    }

private:
    asio::any_io_executor m_executor;
    std::list<asio::steady_timer*> m_waiters;
};

}  // namespace hs::swarm
