// async::TaskGroup and async::Event: spawn, join, cancel, one logging site, no lost wake-ups.
#include <chrono>
#include <stdexcept>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "common/async/event.h"
#include "common/async/task_group.h"

namespace hs::async {
namespace {

using namespace std::chrono_literals;

// Runs `main` as the test's root task (in its own group) until the io_context runs dry.
template <typename F>
void run(asio::io_context& io, F main) {
    TaskGroup root(io.get_executor(), "test");
    root.spawn("main", main());
    io.run();
    ASSERT_TRUE(root.empty());
    ASSERT_EQ(root.failures(), 0u);
}

asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

// Task bodies are plain coroutine functions: a capturing lambda temporary would be destroyed
// before the coroutine it started runs.
asio::awaitable<void> sleep_then_push(std::chrono::milliseconds d, std::vector<int>& out, int v) {
    co_await sleep_for(d);
    out.push_back(v);
}
asio::awaitable<void> sleep_then_throw() {
    co_await sleep_for(1ms);
    throw std::runtime_error("boom");
}
asio::awaitable<void> sleep_then_set(std::chrono::steady_clock::duration d, bool& flag) {
    co_await sleep_for(d);
    flag = true;
}
asio::awaitable<void> wait_then_count(Event& ev, int& count) {
    co_await ev.wait();
    ++count;
}
asio::awaitable<void> wait_for_ever_in_steps(Event& ev) {
    for (;;) co_await ev.wait_for(10ms);  // every deadline returns false; cancel throws
}
asio::awaitable<void> count_if_woken(Event& ev, int& count) {
    const bool woken = co_await ev.wait_for(1h);
    if (woken) ++count;
}
asio::awaitable<void> busy_then_wait(Event& ev) {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    co_await ev.wait();
}
asio::awaitable<void> sleep_noting_cancel(bool& cancelled) {
    try {
        co_await sleep_for(1h);
    } catch (const asio::system_error& e) {
        cancelled = e.code() == asio::error::operation_aborted;
        throw;
    }
}

TEST(TaskGroup, JoinWaitsForEveryTask) {
    asio::io_context io;
    std::vector<int> order;
    run(io, [&]() -> asio::awaitable<void> {
        TaskGroup g(io.get_executor(), "g");
        g.spawn("slow", sleep_then_push(30ms, order, 2));
        g.spawn("fast", sleep_then_push(1ms, order, 1));
        EXPECT_EQ(g.size(), 2u);
        co_await g.join();
        order.push_back(3);
        EXPECT_TRUE(g.empty());
        co_await g.join();  // nothing runs: completes at once
    });
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TaskGroup, FailuresAreCountedAndDoNotStopOthers) {
    asio::io_context io;
    bool other_finished = false, on_done_ran = false;
    run(io, [&]() -> asio::awaitable<void> {
        TaskGroup g(io.get_executor(), "g");
        g.spawn("thrower", sleep_then_throw(), [&] { on_done_ran = true; });
        g.spawn("other", sleep_then_set(5ms, other_finished));
        co_await g.join();
        EXPECT_EQ(g.failures(), 1u);
    });
    EXPECT_TRUE(other_finished);
    EXPECT_TRUE(on_done_ran);
}

TEST(TaskGroup, CancelEndsTimersAndEventWaitsWithoutCountingAFailure) {
    asio::io_context io;
    int reached_end = 0;
    const auto start = std::chrono::steady_clock::now();
    run(io, [&]() -> asio::awaitable<void> {
        TaskGroup g(io.get_executor(), "g");
        Event never(io.get_executor());
        bool slept = false;
        g.spawn("sleeper", sleep_then_set(1h, slept));
        g.spawn("waiter", wait_then_count(never, reached_end));
        g.spawn("looper", wait_for_ever_in_steps(never));
        co_await sleep_for(20ms);
        g.cancel();
        co_await g.join();
        EXPECT_EQ(g.failures(), 0u);
        EXPECT_EQ(never.waiters(), 0u);
        EXPECT_FALSE(slept);
    });
    EXPECT_EQ(reached_end, 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10min);  // not the hour
}

TEST(TaskGroup, JoinForIsBoundedAndAWaitAfterCancelDoesNotHang) {
    asio::io_context io;
    run(io, [&]() -> asio::awaitable<void> {
        TaskGroup g(io.get_executor(), "g");
        Event ev(io.get_executor());
        int woken = 0;
        g.spawn("waiter", wait_then_count(ev, woken));
        const bool first = co_await g.join_for(5ms);
        EXPECT_FALSE(first);
        ev.notify();
        const bool second = co_await g.join_for(1h);
        EXPECT_TRUE(second);
        EXPECT_EQ(woken, 1);
        // Cancelled while busy (not waiting), then waits: the wait ends at once.
        g.spawn("busy-then-wait", busy_then_wait(ev));
        g.cancel();
        co_await g.join();
        EXPECT_EQ(g.failures(), 0u);
    });
}

TEST(TaskGroup, DestroyingAGroupCancelsItsTasks) {
    asio::io_context io;
    bool cancelled = false;
    {
        TaskGroup g(io.get_executor(), "g");
        g.spawn("sleeper", sleep_noting_cancel(cancelled));
        io.run_for(5ms);
    }
    io.run();  // the cancelled task ends; its completion touches only shared bookkeeping
    EXPECT_TRUE(cancelled);
}

TEST(Event, NotifyWakesEveryCurrentWaiterAndDeadlinesReturnFalse) {
    asio::io_context io;
    run(io, [&]() -> asio::awaitable<void> {
        Event ev(io.get_executor());
        TaskGroup g(io.get_executor(), "g");
        int woken = 0;
        for (int i = 0; i < 3; ++i)
            g.spawn("waiter", count_if_woken(ev, woken));
        co_await sleep_for(5ms);
        EXPECT_EQ(ev.waiters(), 3u);
        ev.notify();
        co_await g.join();
        EXPECT_EQ(woken, 3);
        EXPECT_FALSE(co_await ev.wait_for(1ms));
        ev.notify();  // nobody waits: lost, by design
        EXPECT_FALSE(co_await ev.wait_for(1ms));
    });
}

}  // namespace
}  // namespace hs::async
