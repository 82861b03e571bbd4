// hyperspace::Client (include/hyperspace/client.h) against our daemon (HS_HYPERSPACE_BIN): every
// call of the surface, events across two clients, timeouts and cancellation, locks, the network
// calls, a daemon that goes away mid-call, and closing. The same client against the JS daemon is
// tests/interop/client.test.js.
#include <gtest/gtest.h>
#include <hyperspace/asio.h>
#include <hyperspace/client.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "testutil/daemon_process.h"

namespace {

using namespace std::chrono_literals;
using hs::testutil::DaemonProcess;

class ClientTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(daemon.wait_ready()) << "the daemon did not start"; }
    hyperspace::Endpoint endpoint() const {
        return hyperspace::Endpoint::unix_path(daemon.socket_path());
    }
    DaemonProcess daemon{HS_HYPERSPACE_BIN};
};

std::string text(const std::vector<std::uint8_t>& b) { return std::string(b.begin(), b.end()); }

// Waits (bounded, generously) until `pred` holds.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

TEST(ClientNoDaemon, ConnectingWhereNothingListensSaysWhereAndWhatToDo) {
    hs::testutil::TempDir dir;
    try {
        hyperspace::Client client(hyperspace::Endpoint::unix_path(dir.path() / "none.sock"));
        FAIL() << "connected to nothing";
    } catch (const hyperspace::Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("none.sock"), std::string::npos) << what;
        EXPECT_NE(what.find("start one with `hyperspace`"), std::string::npos) << what;
    }
}

TEST(ClientKeys, ParseAndPrint) {
    const std::string hex(64, 'a');
    const auto key = hyperspace::parse_key("hyper://" + hex);
    EXPECT_EQ(hyperspace::to_hex(key), hex);
    EXPECT_THROW(hyperspace::parse_key("abc"), hyperspace::Error);
}

TEST_F(ClientTest, StatusAppendGetHasSeekDownloaded) {
    hyperspace::Client client(endpoint());
    const auto status = client.status();
    EXPECT_FALSE(status.api_version.empty());

    auto core = client.corestore().get({.name = "log"});
    EXPECT_TRUE(core.writable());
    EXPECT_EQ(core.length(), 0u);
    EXPECT_EQ(core.append("hello"), 0u);
    EXPECT_EQ(core.length(), 1u);  // OnAppend arrived before the Append reply
    EXPECT_EQ(core.append(std::vector<std::string>{"a", "bc", "def"}), 1u);
    EXPECT_EQ(core.length(), 4u);
    EXPECT_EQ(core.byte_length(), 11u);
    const std::vector<std::uint8_t> raw = {0, 1, 2};
    EXPECT_EQ(core.append(std::span<const std::uint8_t>(raw)), 4u);

    EXPECT_EQ(text(core.get(0)), "hello");
    EXPECT_EQ(text(core.get(3)), "def");
    EXPECT_EQ(core.get(4), raw);
    EXPECT_TRUE(core.has(2));
    EXPECT_FALSE(core.has(9));
    const auto at = core.seek(6);  // "hello" (5) then "a" (1): byte 6 is the start of "bc"
    EXPECT_EQ(at.seq, 2u);
    EXPECT_EQ(at.block_offset, 0u);
    EXPECT_EQ(core.downloaded(), 5u);
    EXPECT_EQ(core.downloaded(1, 3), 2u);
    core.download({.start = 0, .end = 5});  // all stored: completes at once

    // The same name again is the same core; a key opens it too.
    auto again = client.corestore().get({.name = "log"});
    EXPECT_EQ(again.key(), core.key());
    EXPECT_EQ(again.length(), 5u);
    auto by_key = client.corestore().get(core.key());
    EXPECT_EQ(by_key.discovery_key(), core.discovery_key());
    EXPECT_EQ(text(by_key.get(1)), "a");
    // A new random core differs.
    auto fresh = client.corestore().get();
    EXPECT_NE(fresh.key(), core.key());
    EXPECT_TRUE(fresh.writable());
}

TEST_F(ClientTest, DaemonErrorsCarryTheDaemonsMessage) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "e"});
    core.append("x");
    try {
        core.get(5, {.wait = false});
        FAIL() << "got a block that does not exist";
    } catch (const hyperspace::Error& e) {
        EXPECT_NE(std::string(e.what()).find("getting block 5 of core"), std::string::npos) << e.what();
    }
    // A read-only core: appending fails with the daemon's reason.
    hyperspace::Key unknown{};
    unknown[0] = 7;
    auto readonly = client.corestore().get(unknown);
    EXPECT_FALSE(readonly.writable());
    EXPECT_THROW(readonly.append("nope"), hyperspace::Error);
    // The client still works after errors.
    EXPECT_EQ(text(core.get(0)), "x");
}

TEST_F(ClientTest, EventsReachAnotherClientOnItsEventThread) {
    hyperspace::Client writer(endpoint());
    hyperspace::Client reader(endpoint());
    auto w = writer.corestore().get({.name = "events"});
    auto r = reader.corestore().get(w.key());
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::uint64_t> lengths;
    std::thread::id callback_thread;
    r.on_append([&](std::uint64_t length, std::uint64_t) {
        std::lock_guard lock(mu);
        lengths.push_back(length);
        callback_thread = std::this_thread::get_id();
        cv.notify_all();
    });
    w.append("one");
    w.append(std::vector<std::string>{"two", "three"});
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return lengths.size() >= 2; }));
    EXPECT_EQ(lengths, (std::vector<std::uint64_t>{1, 3}));
    EXPECT_NE(callback_thread, std::this_thread::get_id());
    lock.unlock();
    EXPECT_EQ(r.length(), 3u);
    EXPECT_EQ(text(r.get(2)), "three");
}

TEST_F(ClientTest, CallbacksMayCallTheClient) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "reentrant"});
    std::promise<std::string> got;
    core.on_append([&] {
        // A blocking call from the event thread: answered by the I/O thread.
        got.set_value(text(core.get(core.length() - 1)));
    });
    core.append("from a callback");
    auto f = got.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), "from a callback");
}

TEST_F(ClientTest, UpdateWaitsForALongerCoreAndGetWaitsForTheBlock) {
    hyperspace::Client writer(endpoint());
    hyperspace::Client reader(endpoint());
    auto w = writer.corestore().get({.name = "wait"});
    w.append("0");
    auto r = reader.corestore().get(w.key());
    auto later = std::async(std::launch::async, [&] {
        std::this_thread::sleep_for(100ms);
        w.append("1");
    });
    r.update({.if_available = false});  // min_length = 2 (the known length + 1)
    EXPECT_GE(r.length(), 2u);
    later.get();
    auto block = std::async(std::launch::async, [&] { return text(r.get(2, {.if_available = false})); });
    std::this_thread::sleep_for(50ms);
    w.append("2");
    ASSERT_EQ(block.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(block.get(), "2");
}

TEST_F(ClientTest, GetTimeoutCancelsTheRequest) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "timeout"});
    core.append("a");
    const auto start = std::chrono::steady_clock::now();
    try {
        core.get(10, {.wait = true, .if_available = false, .timeout = 200ms});
        FAIL() << "a block nobody has was returned";
    } catch (const hyperspace::Error& e) {
        EXPECT_EQ(e.code(), "ETIMEDOUT") << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
    EXPECT_EQ(text(core.get(0)), "a");
}

TEST_F(ClientTest, APendingGetCanBeCancelledOrAnswered) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "pending"});
    auto waiting = core.start_get(0, {.if_available = false});
    EXPECT_FALSE(waiting.wait_for(50ms));
    waiting.cancel();
    try {
        waiting.wait();
        FAIL() << "a cancelled get returned a block";
    } catch (const hyperspace::Error& e) {
        EXPECT_NE(std::string(e.what()).find("getting block 0"), std::string::npos) << e.what();
    }
    auto answered = core.start_get(0, {.if_available = false});
    core.append("now");
    EXPECT_EQ(text(answered.wait()), "now");
    EXPECT_EQ(text(answered.wait()), "now");  // the result stays
}

TEST_F(ClientTest, OnWaitFiresWhenTheDaemonWaits) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "onwait"});
    std::promise<std::uint64_t> waited;
    auto get = std::async(std::launch::async, [&] {
        return text(core.get(1, {.if_available = false,
                                 .on_wait = [&](std::uint64_t seq) { waited.set_value(seq); }}));
    });
    auto f = waited.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), 1u);
    core.append(std::vector<std::string>{"zero", "one"});
    ASSERT_EQ(get.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(get.get(), "one");
}

TEST_F(ClientTest, LockIsExclusiveAcrossClients) {
    hyperspace::Client a(endpoint());
    hyperspace::Client b(endpoint());
    auto ca = a.corestore().get({.name = "locked"});
    auto cb = b.corestore().get(ca.key());
    auto held = ca.lock();
    std::atomic<bool> b_locked{false};
    auto waiter = std::async(std::launch::async, [&] {
        auto l = cb.lock();
        b_locked = true;
    });
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(b_locked.load());
    held.release();
    ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(b_locked.load());
}

TEST_F(ClientTest, NetworkConfigureStatusAndReplicate) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "net"});
    auto& net = client.network();
    EXPECT_NE(net.public_key(), hyperspace::Key{});
    EXPECT_FALSE(net.status(core.discovery_key()));
    net.configure(core, {.announce = true, .lookup = true, .remember = true});
    auto st = net.status(core.discovery_key());
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->announce);
    EXPECT_TRUE(st->lookup);
    EXPECT_TRUE(st->remember);
    bool listed = false;
    for (const auto& s : net.all_statuses()) listed |= s.discovery_key == core.discovery_key();
    EXPECT_TRUE(listed);
    client.replicate(core);  // nobody else has it: returns without error
}

TEST_F(ClientTest, ClosedSessionsAndClientsThrowClearly) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "closing"});
    core.append("x");
    core.close();
    try {
        core.get(0);
        FAIL();
    } catch (const hyperspace::Error& e) {
        EXPECT_NE(std::string(e.what()).find("session is closed"), std::string::npos) << e.what();
    }
    auto other = client.corestore().get({.name = "closing"});
    EXPECT_EQ(other.length(), 1u);
    client.close();
    EXPECT_TRUE(client.closed());
    try {
        other.get(0);
        FAIL();
    } catch (const hyperspace::Error& e) {
        EXPECT_NE(std::string(e.what()).find("client is closed"), std::string::npos) << e.what();
    }
}

TEST_F(ClientTest, ADaemonThatGoesAwayFailsPendingCalls) {
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "gone"});
    auto pending = std::async(std::launch::async, [&] {
        try {
            core.get(3, {.if_available = false});
            return std::string("returned");
        } catch (const hyperspace::Error& e) {
            return std::string(e.what());
        }
    });
    std::this_thread::sleep_for(100ms);
    daemon.kill();
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    EXPECT_NE(pending.get().find("closed the connection"), std::string::npos);
    EXPECT_THROW(core.has(0), hyperspace::Error);
}

TEST_F(ClientTest, StopEndsTheDaemon) {
    hyperspace::Client client(endpoint());
    client.stop();
    EXPECT_EQ(daemon.wait_exit(30s), 0);
}

TEST_F(ClientTest, FeedEventsAndManyThreads) {
    hyperspace::Client watcher(endpoint());
    std::atomic<int> feeds{0};
    watcher.corestore().on_feed([&](const hyperspace::Key&) { ++feeds; });
    hyperspace::Client client(endpoint());
    auto core = client.corestore().get({.name = "threads"});
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) core.append("t" + std::to_string(t));
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(core.length(), 400u);
    EXPECT_EQ(core.downloaded(), 400u);
    client.corestore().get({.name = "another"});
    EXPECT_TRUE(eventually([&] { return feeds.load() >= 1; }));
}

// The awaitable flavour on a program's own io_context: the same calls, awaited; the coroutine
// resumes on its executor (this thread).
asio::awaitable<std::string> awaited_calls(hyperspace::Client& client, std::thread::id loop) {
    std::string log;
    const auto status = co_await hyperspace::co::status(client);
    log += status.api_version.empty() ? "no-api " : "status ";
    hyperspace::GetCoreOptions named;
    named.name = "co";
    auto core = co_await hyperspace::co::get(client.corestore(), named);
    std::vector<std::string> blocks;  // (GCC 12 cannot brace-init strings inside a coroutine)
    blocks.push_back("x");
    blocks.push_back("yy");
    const std::uint64_t seq = co_await hyperspace::co::append(core, blocks);
    log += "seq=" + std::to_string(seq) + " ";
    const auto block = co_await hyperspace::co::get(core, 1);
    log += "block=" + text(block) + " ";
    const bool has = co_await hyperspace::co::has(core, 1);
    log += has ? "has " : "hasnt ";
    const std::uint64_t stored = co_await hyperspace::co::downloaded(core);
    log += "downloaded=" + std::to_string(stored) + " ";
    hyperspace::DownloadRange range;
    range.end = 2;
    co_await hyperspace::co::download(core, range);
    const auto at = co_await hyperspace::co::seek(core, 2);
    log += "seek=" + std::to_string(at.seq) + "/" + std::to_string(at.block_offset) + " ";
    hyperspace::NetworkConfiguration config;
    config.announce = config.lookup = true;
    co_await hyperspace::co::configure(client.network(), core.discovery_key(), config);
    hyperspace::GetOptions no_wait;
    no_wait.wait = false;
    bool failed = false;
    try {
        (void)co_await hyperspace::co::get(core, 9, no_wait);
    } catch (const hyperspace::Error&) {
        failed = true;
    }
    log += failed ? "error " : "no-error ";
    log += std::this_thread::get_id() == loop ? "same-thread " : "other-thread ";
    co_await hyperspace::co::close(core);
    co_return log;
}

TEST_F(ClientTest, AwaitableFlavourOnTheProgramsOwnIoContext) {
    hyperspace::Client client(endpoint());
    asio::io_context io;
    auto result = asio::co_spawn(io, awaited_calls(client, std::this_thread::get_id()), asio::use_future);
    io.run();
    EXPECT_EQ(result.get(),
              "status seq=0 block=yy has downloaded=2 seek=1/1 error same-thread ");
    // The blocking and the awaitable calls share one connection and its sessions.
    EXPECT_TRUE(client.network().status(client.corestore().get({.name = "co"}).discovery_key()));
}

}  // namespace
