// The RPC session and dispatch layer under bad input: garbage, oversized frames, unknown ids,
// missing required fields, stray responses, clients that never read. In each case the offending
// client gets an error or is disconnected with a reason, and every other client keeps working.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <fcntl.h>

#include <filesystem>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "common/async/event.h"
#include "service/errors.h"
#include "server_fixture.h"

namespace hs::server::test {
using namespace hs::rpc;
using namespace hs::service;
namespace {

// A second client can still talk to the server, and `core_name`'s block 0 is still readable.
void expect_server_healthy(TestServer& server, const std::string& core_name, const Bytes& block0) {
    RawClient& other = server.connect();
    const auto status = other.call<HyperspaceStatusResponse>(Method::HyperspaceStatus, Void{});
    EXPECT_EQ(status.api_version, "1.15.1");
    const auto opened = other.open(0, core_name);
    EXPECT_EQ(opened.length, 1u);
    GetRequest get;
    get.id = 0;
    get.seq = 0;
    const auto got = other.call<GetResponse>(Method::HypercoreGet, get);
    EXPECT_EQ(got.block, block0);
}

// Opens "c" on a fresh client and appends one block.
Bytes seed_core(TestServer& server) {
    RawClient& c = server.connect();
    c.open(0, "c");
    AppendRequest a;
    a.id = 0;
    a.blocks = {to_bytes("block zero")};
    c.call<AppendResponse>(Method::HypercoreAppend, a);
    return to_bytes("block zero");
}

TEST(RpcServer, GarbageBytesDisconnectOnlyThatClient) {
    TestServer server;
    const Bytes block = seed_core(server);
    RawClient& bad = server.connect();
    const Bytes garbage(32, 0xff);  // a varint that never ends
    bad.send_raw(garbage);
    ASSERT_TRUE(bad.wait_closed());
    EXPECT_NE(bad.session().close_reason().find("invalid frame"), std::string::npos)
        << bad.session().close_reason();
    expect_server_healthy(server, "c", block);
}

TEST(RpcServer, OversizedFrameDisconnects) {
    ServerSetup setup;
    setup.limits.max_payload_bytes = 1024 * 1024;
    TestServer server(setup);
    const Bytes block = seed_core(server);
    RawClient& bad = server.connect();
    Bytes frame;
    encode_frame_prefix(frame, FrameHeader{FrameType::Request, 3, 2, 1}, 2 * 1024 * 1024);
    frame.resize(frame.size() + 1000, 0);  // the start of the payload; the rest never comes
    bad.send_raw(frame);
    ASSERT_TRUE(bad.wait_closed());
    EXPECT_NE(bad.session().close_reason().find("larger than max size"), std::string::npos)
        << bad.session().close_reason();
    expect_server_healthy(server, "c", block);
}

TEST(RpcServer, UnknownMethodGetsAnErrorAndTheConnectionStays) {
    TestServer server;
    RawClient& c = server.connect();
    auto id = c.request_raw(3, 99, {});
    auto f = c.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Error);
    EXPECT_EQ(f->header.service, 3u);
    EXPECT_EQ(f->header.method, 99u);
    EXPECT_EQ(RawClient::error_message(*f), "Unknown method (99) on service (3)");

    id = c.request_raw(9, 1, {});  // unknown service
    f = c.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(RawClient::error_message(*f), "Unknown method (1) on service (9)");

    // With id 0 nothing is answered; the next request is answered normally.
    Bytes no_reply;
    encode_frame(no_reply, FrameHeader{FrameType::Request, 3, 99, 0}, ByteView{});
    c.send_raw(no_reply);
    const auto status = c.call<HyperspaceStatusResponse>(Method::HyperspaceStatus, Void{});
    EXPECT_EQ(status.version, std::optional<std::string>("3.19.0"));
    EXPECT_FALSE(c.closed());
}

TEST(RpcServer, EventMethodsSentToTheServerGetTheReferenceError) {
    TestServer server;
    RawClient& c = server.connect();
    EXPECT_EQ(c.call_error(Method::HypercoreOnAppend, AppendEvent{0, 1, 1}),
              "m.onrequest is not a function");
    EXPECT_FALSE(c.closed());
}

TEST(RpcServer, MissingRequiredFieldGetsAnErrorAndTheConnectionStays) {
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "c");
    // GetRequest with only field 1 (id): seq and resourceId are required.
    const Bytes payload{0x08, 0x00};
    const auto& info = method_info(Method::HypercoreGet);
    auto id = c.request_raw(static_cast<std::uint64_t>(info.service), info.id, payload);
    auto f = c.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Error);
    EXPECT_NE(RawClient::error_message(*f).find("Decoded message is not valid"), std::string::npos)
        << RawClient::error_message(*f);
    // Truncated field.
    id = c.request_raw(static_cast<std::uint64_t>(info.service), info.id, Bytes{0x08, 0x00, 0x10});
    f = c.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Error);
    const auto has = c.call<HasResponse>(Method::HypercoreHas, HasRequest{0, 0});
    EXPECT_FALSE(has.has);
    EXPECT_FALSE(c.closed());
}

TEST(RpcServer, UnknownSessionAndResourceIds) {
    TestServer server;
    RawClient& c = server.connect();
    GetRequest get;
    get.id = 42;
    EXPECT_EQ(c.call_error(Method::HypercoreGet, get), "Invalid hypercore: 42");
    EXPECT_EQ(c.call_error(Method::HypercoreClose, CloseRequest{7}), "Invalid hypercore: 7");
    c.open(0, "c");
    EXPECT_EQ(c.call_error(Method::HypercoreUnregisterExtension, UnregisterExtensionRequest{0, 5}),
              "Invalid resource: 5");
    EXPECT_FALSE(c.closed());
}

TEST(RpcServer, ResponseFrameFromAClientDisconnectsIt) {
    TestServer server;
    const Bytes block = seed_core(server);
    RawClient& bad = server.connect();
    Bytes frame;
    encode_frame(frame, FrameHeader{FrameType::Response, 1, 1, 17}, ByteView{});
    bad.send_raw(frame);
    ASSERT_TRUE(bad.wait_closed());
    EXPECT_NE(bad.session().close_reason().find("request id 17"), std::string::npos);
    expect_server_healthy(server, "c", block);
}

TEST(RpcServer, PartialFramesAcrossReadsAreReassembled) {
    TestServer server;
    RawClient& c = server.connect();
    Bytes frame;
    const auto& info = method_info(Method::HyperspaceStatus);
    encode_frame(
        frame,
        FrameHeader{FrameType::Request, static_cast<std::uint64_t>(info.service), info.id, 5},
        ByteView{});
    encode_keep_alive(frame);
    for (std::uint8_t b : frame) {
        c.send_raw(ByteView(&b, 1));
        c.pump_once();
    }
    auto f = c.wait_reply(5);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Response);
}

TEST(RpcServer, ClientThatNeverReadsIsDisconnectedOthersKeepWorking) {
    ServerSetup setup;
    setup.limits.write_stall_timeout = 300ms;
    setup.limits.write_high_water_bytes = 256 * 1024;
    setup.limits.write_low_water_bytes = 64 * 1024;
    TestServer server(setup);
    const Bytes block0 = seed_core(server);
    RawClient& writer = server.connect();
    writer.open(0, "big");
    AppendRequest a;
    a.id = 0;
    a.blocks = {Bytes(512 * 1024, 0x5a)};
    writer.call<AppendResponse>(Method::HypercoreAppend, a);

    RawClient& lazy = server.connect(8192, 8192);
    // Open without reading the answer, then ask for the 512 KiB block many times.
    OpenRequest open;
    open.id = 0;
    open.name = "big";
    lazy.request(Method::CorestoreOpen, open, true);
    GetRequest get;
    get.id = 0;
    get.seq = 0;
    Bytes burst;
    for (std::uint64_t i = 0; i < 64; ++i) {
        get.resource_id = i;
        encode_frame(burst, FrameHeader{FrameType::Request, 3, 1, i + 1}, get);
    }
    ::send(lazy.fd(), burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT);

    // Meanwhile the writer keeps working, and the lazy client is dropped.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!lazy.session().closed() && std::chrono::steady_clock::now() < deadline) {
        const auto status = writer.call<HyperspaceStatusResponse>(Method::HyperspaceStatus, Void{});
        EXPECT_EQ(status.api_version, "1.15.1");
    }
    ASSERT_TRUE(lazy.session().closed());
    EXPECT_NE(lazy.session().close_reason().find("not reading"), std::string::npos)
        << lazy.session().close_reason();
    // Its session was released: only the writer (and the seed client) reference cores.
    writer.settle();
    EXPECT_EQ(server.server().client_count(), 2u);
    expect_server_healthy(server, "c", block0);
}

TEST(RpcServer, EventsPastTheHardLimitDisconnectANonReader) {
    ServerSetup setup;
    setup.limits.event_queue_limit_bytes = 16 * 1024;
    setup.limits.write_stall_timeout = 60s;
    TestServer server(setup);
    RawClient& lazy = server.connect(4096, 4096);
    OpenRequest open;
    open.id = 0;
    open.name = "shared";
    lazy.request(Method::CorestoreOpen, open, true);
    RawClient& writer = server.connect();
    writer.open(3, "shared");
    AppendRequest a;
    a.id = 3;
    a.blocks = {to_bytes("x")};
    int appends = 0;
    while (!lazy.session().closed() && appends < 20000) {
        writer.call<AppendResponse>(Method::HypercoreAppend, a);
        writer.events().clear();
        ++appends;
    }
    ASSERT_TRUE(lazy.session().closed());
    EXPECT_NE(lazy.session().close_reason().find("over the limit"), std::string::npos)
        << lazy.session().close_reason();
    // The writer is unaffected.
    const auto has = writer.call<HasResponse>(Method::HypercoreHas, HasRequest{3, 0});
    EXPECT_TRUE(has.has);
}

TEST(RpcServer, DisconnectReleasesEverythingTheClientHeld) {
    TestServer server;
    RawClient& a = server.connect();
    a.open(0, "one");
    a.open(1, "two", true);
    GetRequest get;
    get.id = 0;
    get.seq = 10;
    get.resource_id = 1;
    get.if_available = false;
    a.request(Method::HypercoreGet, get);
    a.call<Void>(Method::HypercoreAcquireLock, LockRequest{0});
    ConfigureNetworkRequest cfg;
    cfg.configuration.discovery_key = Bytes(32, 1);
    cfg.configuration.announce = true;
    a.call<NetworkStatusResponse>(Method::NetworkConfigure, cfg);
    a.settle();
    EXPECT_EQ(server.network().joined_count(), 1u);
    EXPECT_EQ(a.session().state().waiter_count(), 1u);

    ::shutdown(a.fd(), SHUT_RDWR);
    ASSERT_TRUE(a.wait_closed());
    RawClient& b = server.connect();
    b.settle();
    EXPECT_EQ(server.network().joined_count(), 0u);
    EXPECT_EQ(a.session().state().session_count(), 0u);
    EXPECT_EQ(a.session().state().waiter_count(), 0u);
    // The lock is free again: b gets it at once.
    b.open(0, "one");
    const auto id = b.request(Method::HypercoreAcquireLock, LockRequest{0});
    auto f = b.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Response);
    // "one" is referenced only by b now, "two" by nobody.
    EXPECT_EQ(server.registry().unreferenced_count(), 1u);
}

// The one waiting-request call admits Get, Update, Seek and Download against the client's bound
// on waiters: past it each is refused and holds nothing; a Download of a stored range holds
// nothing, so it is answered even then; a freed slot is usable again.
TEST(RpcServer, WaitingRequestsAreAdmittedUpToTheClientsBound) {
    ServerSetup setup;
    setup.limits.client.max_waiters = 2;
    TestServer server(setup);
    RawClient& c = server.connect();
    c.open(0, "w");
    AppendRequest a;
    a.id = 0;
    a.blocks = {to_bytes("stored")};
    c.call<AppendResponse>(Method::HypercoreAppend, a);

    auto get = [](std::uint64_t seq, std::uint64_t rid) {
        GetRequest g;
        g.id = 0;
        g.seq = seq;
        g.resource_id = rid;
        g.if_available = false;
        return g;
    };
    const auto first = c.request(Method::HypercoreGet, get(5, 1));
    UpdateRequest u;
    u.id = 0;
    u.min_length = 10;
    u.if_available = false;
    const auto second = c.request(Method::HypercoreUpdate, u);
    c.settle();
    EXPECT_FALSE(c.has_reply(first));
    EXPECT_FALSE(c.has_reply(second));
    EXPECT_EQ(c.session().state().waiter_count(), 2u);

    const std::string full(errors::kTooManyPending);
    EXPECT_EQ(c.call_error(Method::HypercoreGet, get(6, 2)), full);
    EXPECT_EQ(c.call_error(Method::HypercoreUpdate, u), full);
    SeekRequest sk;
    sk.id = 0;
    sk.byte_offset = 1000;
    sk.if_available = false;
    EXPECT_EQ(c.call_error(Method::HypercoreSeek, sk), full);
    DownloadRequest missing;
    missing.id = 0;
    missing.resource_id = 3;
    missing.start = 0;
    missing.end = 4;
    EXPECT_EQ(c.call_error(Method::HypercoreDownload, missing), full);
    // Refused requests left no waiter and no resource behind.
    EXPECT_EQ(c.session().state().waiter_count(), 2u);
    EXPECT_EQ(c.session().state().resource_count(), 1u);

    DownloadRequest stored;
    stored.id = 0;
    stored.resource_id = 4;
    stored.start = 0;
    stored.end = 1;
    c.call<Void>(Method::HypercoreDownload, stored);
    EXPECT_EQ(c.session().state().resource_count(), 1u);

    // Cancelling the Get frees its slot (it fails "Request cancelled"): a Seek waits now.
    c.request(Method::HypercoreCancel, CancelRequest{0, 1}, true);
    auto cancelled = c.wait_reply(first);
    ASSERT_TRUE(cancelled);
    EXPECT_EQ(RawClient::error_message(*cancelled), errors::kRequestCancelled);
    const auto third = c.request(Method::HypercoreSeek, sk);
    c.settle();
    EXPECT_FALSE(c.has_reply(third));
    EXPECT_EQ(c.session().state().waiter_count(), 2u);
}

// The method table covers every call a client can make, and no event.
TEST(RpcServer, TheMethodTableHasAHandlerForEveryCallAndNoEvent) {
    std::size_t calls = 0;
    for (const MethodInfo& m : all_methods()) {
        const bool call = m.direction == Direction::ClientToServer;
        calls += call;
        EXPECT_EQ(Handlers::handles(m.method), call) << m.service_name << "." << m.name;
    }
    EXPECT_EQ(calls, 29u);
}

// Stands for a request answered after a long wait (Configure{flush}): waits until cancelled,
// then takes a moment to wind down (so a session that did not wait for it would end first).
asio::awaitable<void> wait_until_cancelled(async::Event& never, bool& ended) {
    struct Mark {
        bool& ended;
        ~Mark() { ended = true; }
    } mark{ended};
    try {
        for (;;) co_await never.wait();
    } catch (const asio::system_error&) {
    }
    co_await asio::this_coro::reset_cancellation_state();
    asio::steady_timer wind_down(never.executor(), 100ms);
    co_await wind_down.async_wait(asio::use_awaitable);
}

// A client's own tasks answer through its connection: a disconnect cancels them, and the
// connection is closed (its session ends) only once they are gone.
TEST(RpcServer, DisconnectCancelsAndJoinsTheClientsTasksBeforeTheSessionEnds) {
    TestServer server;
    RawClient& a = server.connect();
    a.settle();
    async::Event never(server.io().get_executor());
    bool ended = false;
    a.session().state().tasks().spawn("test-wait", wait_until_cancelled(never, ended));
    a.settle();
    EXPECT_FALSE(ended);
    EXPECT_EQ(a.session().state().tasks().size(), 1u);

    RawClient& b = server.connect();
    ::shutdown(a.fd(), SHUT_RDWR);
    // The server forgets a client when its session has ended.
    ASSERT_TRUE(b.wait_for([&] { return server.server().client_count() == 1; }));
    EXPECT_TRUE(ended);
    EXPECT_TRUE(a.session().state().tasks().empty());
    EXPECT_EQ(a.session().state().tasks().failures(), 0u);  // cancelled, not failed
}

// Well-framed requests with random method ids and random payloads (seeded): every one is
// answered or ignored, nothing crashes, and the server still serves another client.
TEST(RpcServer, RandomPayloadsOnEveryMethodNeverCrash) {
    TestServer server;
    const Bytes block = seed_core(server);
    RawClient& c = server.connect();
    c.open(0, "fuzz");
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    std::uint64_t id = 1000;
    for (int i = 0; i < 3000 && !c.closed(); ++i) {
        const std::uint64_t service = 1 + next() % 4;
        const std::uint64_t method = 1 + next() % 28;
        if (service == 1 && method == 2) continue;  // Stop
        Bytes payload(next() % 24);
        for (auto& b : payload) b = static_cast<std::uint8_t>(next());
        // Bias towards plausible messages: small session ids and field 1 first.
        if (!payload.empty() && next() % 2) {
            payload[0] = 0x08;
            if (payload.size() > 1) payload[1] = static_cast<std::uint8_t>(next() % 3);
        }
        const bool no_reply = next() % 4 == 0;
        Bytes frame;
        encode_frame(frame, FrameHeader{FrameType::Request, service, method, no_reply ? 0 : ++id},
                     payload);
        c.send_raw(frame);
        if (i % 50 == 0) c.settle();
    }
    EXPECT_FALSE(c.closed()) << c.session().close_reason();
    c.settle();
    const auto status = c.call<HyperspaceStatusResponse>(Method::HyperspaceStatus, Void{});
    EXPECT_EQ(status.api_version, "1.15.1");
    expect_server_healthy(server, "c", block);
}

TEST(RpcServer, ClientsBeyondTheLimitAreRefused) {
    ServerSetup setup;
    setup.limits.max_clients = 2;
    TestServer server(setup);
    RawClient& a = server.connect();
    RawClient& b = server.connect();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    Session::Socket socket(server.io(), asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM),
                           fds[0]);
    EXPECT_EQ(server.server().adopt(std::move(socket), "third"), nullptr);
    char byte;
    EXPECT_EQ(::recv(fds[1], &byte, 1, 0), 0) << "refused: closed at once";
    ::close(fds[1]);
    EXPECT_EQ(a.call<HyperspaceStatusResponse>(Method::HyperspaceStatus, Void{}).api_version,
              "1.15.1");
    EXPECT_EQ(b.call<HyperspaceStatusResponse>(Method::HyperspaceStatus, Void{}).api_version,
              "1.15.1");
}

TEST(RpcServer, StopCallsTheDaemon) {
    TestServer server;
    RawClient& c = server.connect();
    c.request(Method::HyperspaceStop, Void{}, true);
    c.settle();
    EXPECT_EQ(server.control().stops, 1);
}

TEST(RpcServer, StatusCarriesDaemonInfoOnlyWhenAskedFor) {
    TestServer server;
    RawClient& c = server.connect();
    // A JS client's Status (empty payload) gets exactly the JS daemon's bytes
    // (docs/formats/rpc.md "Example frames").
    auto id = c.request(Method::HyperspaceStatus, Void{});
    auto f = c.wait_reply(id);
    ASSERT_TRUE(f);
    const Bytes expected = [] {
        Bytes b;
        b.push_back(0x0a);
        b.push_back(6);
        append_bytes(b, as_bytes("1.15.1"));
        append_bytes(b, Bytes{0x10, 0x00, 0x1a, 0x00, 0x22, 0x06});
        append_bytes(b, as_bytes("3.19.0"));
        return b;
    }();
    EXPECT_EQ(f->payload, expected);
    ByteView plain = f->payload;
    EXPECT_FALSE(DaemonInfoResponse::decode(plain).ok());
    // With our marker, the same status plus our fields.
    id = c.request_raw(1, 1, ByteView(kDaemonInfoRequest));
    f = c.wait_reply(id);
    ASSERT_TRUE(f);
    ByteView in = f->payload;
    auto status = HyperspaceStatusResponse::decode(in);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(status->api_version, "1.15.1");
    in = f->payload;
    auto info = DaemonInfoResponse::decode(in);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->endpoint, "test");
    EXPECT_TRUE(info->memory_only);
    // Any other payload is ignored, as the JS server does for a Void request.
    id = c.request_raw(1, 1, Bytes{0xff, 0xff});
    f = c.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, expected);
}

TEST(RpcServer, GracefulShutdownDeliversQueuedRepliesThenCloses) {
    TestServer server;
    RawClient& c = server.connect();
    const auto id = c.request(Method::HyperspaceStatus, Void{});
    // Let the server read and answer, but shut down before the client reads.
    server.io().restart();
    server.io().poll();
    server.server().close();
    auto f = c.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Response);
    EXPECT_TRUE(c.wait_closed());
}

TEST(RpcServer, RepliesLargerThanTheEventLimitDoNotDisconnect) {
    // The event limit bounds events only: a large reply is held back by the high-water mark on
    // requests instead, so a client asking for a block bigger than the event limit keeps its
    // connection even when it reads slowly.
    ServerSetup setup;
    setup.limits.event_queue_limit_bytes = 16 * 1024;
    setup.limits.write_stall_timeout = 60s;
    TestServer server(setup);
    RawClient& c = server.connect(8192, 8192);
    c.open(0, "big");
    AppendRequest a;
    a.id = 0;
    a.blocks = {Bytes(256 * 1024, 0x42)};
    c.call<AppendResponse>(Method::HypercoreAppend, a);
    GetRequest get;
    get.id = 0;
    get.seq = 0;
    for (std::uint64_t i = 0; i < 4; ++i) c.request(Method::HypercoreGet, get);
    // Let the server queue the replies without the client reading.
    server.io().restart();
    server.io().run_for(100ms);
    EXPECT_FALSE(c.session().closed()) << c.session().close_reason();
    EXPECT_GT(c.session().queued_bytes(), 200u * 1024);
    for (std::uint64_t id = 3; id <= 6; ++id) {
        auto f = c.wait_reply(id);
        ASSERT_TRUE(f) << "reply " << id;
        EXPECT_EQ(f->header.type, FrameType::Response);
        EXPECT_EQ(decode_event<GetResponse>(*f).block, a.blocks[0]);
    }
    EXPECT_FALSE(c.closed());
}

TEST(RpcServer, AnIdleSessionGivesItsLargeBuffersBack) {
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "big");
    AppendRequest a;
    a.id = 0;
    a.blocks = {Bytes(512 * 1024, 0x37)};
    c.call<AppendResponse>(Method::HypercoreAppend, a);
    GetRequest get;
    get.id = 0;
    get.seq = 0;
    EXPECT_EQ(c.call<GetResponse>(Method::HypercoreGet, get).block, a.blocks[0]);
    c.settle();
    // Only the small read buffer and at most two small output buffers stay.
    const SessionLimits defaults;
    EXPECT_LE(c.session().buffer_capacity(), defaults.read_chunk_bytes + 2 * kKeepOutputBytes);
    EXPECT_LE(defaults.read_chunk_bytes, 4096u);
    // The request's payload buffer is the sessions' spare for the next large frame, freed once
    // none came for kSpareKeep.
    EXPECT_GE(server.server().spare_payload_bytes(), 512u * 1024);
    EXPECT_TRUE(c.wait_for([&] { return server.server().spare_payload_bytes() == 0; },
                           kSpareKeep + 5s))
        << "still " << server.server().spare_payload_bytes() << " bytes";
}

TEST(RpcServer, LargeAppendsReadStraightIntoTheirPayloadsAndTheFramesBehindThemSurvive) {
    // Payloads due after a full small read are read straight into their buffers, never past the
    // frame's end: the requests behind them in the same send, and a frame that arrives in pieces
    // with pauses in between, are all handled, and every block reads back as sent.
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "big");
    const auto& append = method_info(Method::HypercoreAppend);
    const auto& status = method_info(Method::HyperspaceStatus);
    std::vector<Bytes> blocks;
    Bytes burst;
    std::uint64_t id = 1000;
    for (const std::size_t size : {std::size_t{65536}, std::size_t{200000}, std::size_t{20000}}) {
        Bytes block(size);
        for (std::size_t i = 0; i < size; ++i) block[i] = static_cast<std::uint8_t>(i * 7 + size);
        AppendRequest a;
        a.id = 0;
        a.blocks = {block};
        encode_frame(burst, FrameHeader{FrameType::Request, static_cast<std::uint64_t>(append.service), append.id, id++}, a);
        encode_frame(burst, FrameHeader{FrameType::Request, static_cast<std::uint64_t>(status.service), status.id, id++}, Void{});
        blocks.push_back(std::move(block));
    }
    c.send_raw(burst);
    // One more, in pieces: a full small read, then a part of the payload, then the rest.
    Bytes split;
    Bytes last(100000, 0x5a);
    AppendRequest a;
    a.id = 0;
    a.blocks = {last};
    encode_frame(split, FrameHeader{FrameType::Request, static_cast<std::uint64_t>(append.service), append.id, id++}, a);
    blocks.push_back(last);
    const std::size_t cuts[] = {0, 4096, 30000, split.size()};
    for (std::size_t k = 0; k + 1 < std::size(cuts); ++k) {
        c.send_raw(ByteView(split).subspan(cuts[k], cuts[k + 1] - cuts[k]));
        for (int pump = 0; pump < 3; ++pump) c.pump_once();
    }
    for (std::uint64_t r = 1000; r < id; ++r) {
        auto f = c.wait_reply(r);
        ASSERT_TRUE(f) << "reply " << r;
        ASSERT_EQ(f->header.type, FrameType::Response) << r;
    }
    for (std::uint64_t seq = 0; seq < blocks.size(); ++seq) {
        GetRequest get;
        get.id = 0;
        get.seq = seq;
        EXPECT_EQ(c.call<GetResponse>(Method::HypercoreGet, get).block, blocks[seq]) << seq;
    }
    EXPECT_FALSE(c.closed());
}

TEST(RpcServer, ManyPipelinedRequestsAndEndOfStreamAfterAFullRead) {
    // More requests than the small and the large read buffer hold, in one send, then the client
    // ends its side: every request is handled (Stop last) before the session closes.
    TestServer server;
    RawClient& c = server.connect();
    Bytes burst;
    const std::size_t n = 60000;  // 4 bytes each: ~240 KB
    for (std::size_t i = 0; i < n; ++i)
        encode_frame(burst, FrameHeader{FrameType::Request, 1, 1, 0}, Void{});
    encode_frame(burst, FrameHeader{FrameType::Request, 1, 2, 0}, Void{});  // Stop, no reply
    c.send_raw(burst);
    ::shutdown(c.fd(), SHUT_WR);
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(server.control().stops, 1);
    EXPECT_NE(c.session().close_reason().find("client disconnected"), std::string::npos)
        << c.session().close_reason();
    // With replies: all of them arrive, in order, with backpressure on the way.
    RawClient& d = server.connect();
    burst.clear();
    for (std::uint64_t id = 1; id <= 20000; ++id)
        encode_frame(burst, FrameHeader{FrameType::Request, 1, 1, id}, Void{});
    d.send_raw(burst);
    for (std::uint64_t id = 1; id <= 20000; ++id) {
        auto f = d.wait_reply(id);
        ASSERT_TRUE(f) << "reply " << id;
    }
    EXPECT_FALSE(d.closed());
}

TEST(RpcServer, AWaitingSessionKeepsItsRequestsWhileOthersReadIntoTheSharedBuffer) {
    // A client past the high-water mark waits in the middle of a large read; its unhandled
    // requests must survive another client's large read into the same shared buffer.
    ServerSetup setup;
    // Small replies: the requests of the first (small) read stay under the mark, so the wait
    // comes in the middle of the large read that follows.
    setup.limits.write_high_water_bytes = 48 * 1024;
    setup.limits.write_low_water_bytes = 8 * 1024;
    TestServer server(setup);
    RawClient& writer = server.connect();
    writer.open(0, "big");
    AppendRequest a;
    a.id = 0;
    a.blocks = {Bytes(64, 0x61)};
    writer.call<AppendResponse>(Method::HypercoreAppend, a);

    RawClient& slow = server.connect(4096, 4096);
    slow.open(0, "big");
    GetRequest get;
    get.id = 0;
    get.seq = 0;
    // The small read: requests that need no reply (4 bytes each); then ~100 KB of gets, read
    // into the shared buffer, whose replies fill the socket and then pass the mark.
    Bytes burst;
    const std::size_t small = SessionLimits{}.read_chunk_bytes;
    while (burst.size() < small)
        encode_frame(burst, FrameHeader{FrameType::Request, 1, 1, 0}, Void{});
    ASSERT_EQ(burst.size(), small);
    const std::uint64_t first = 100, count = 10000;
    for (std::uint64_t id = first; id < first + count; ++id)
        encode_frame(burst, FrameHeader{FrameType::Request, 3, 1, id}, get);
    ASSERT_LT(burst.size(), small + kLargeReadBytes);
    // All of it at once, before the server reads any (the socket buffers hold it).
    ASSERT_EQ(::send(slow.fd(), burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT),
              static_cast<ssize_t>(burst.size()));
    server.io().restart();
    server.io().run_for(100ms);
    ASSERT_FALSE(slow.session().closed()) << slow.session().close_reason();
    // Held back: it crossed the high-water mark and waits for the low one.
    ASSERT_GT(slow.session().queued_bytes(), 8u * 1024) << "the slow client is held back";

    // Another client's large read overwrites the shared buffer.
    RawClient& other = server.connect();
    burst.clear();
    for (std::uint64_t id = 1; id <= 8000; ++id)
        encode_frame(burst, FrameHeader{FrameType::Request, 1, 1, id}, Void{});
    other.send_raw(burst);
    for (std::uint64_t id = 1; id <= 8000; ++id) ASSERT_TRUE(other.wait_reply(id)) << id;

    // The slow client now reads: every one of its own replies, in order, nothing else.
    for (std::uint64_t id = first; id < first + count; ++id) {
        auto f = slow.wait_reply(id);
        ASSERT_TRUE(f) << "reply " << id;
        ASSERT_EQ(f->header.type, FrameType::Response);
        ASSERT_EQ(decode_event<GetResponse>(*f).block, a.blocks[0]) << id;
    }
    slow.settle();
    EXPECT_EQ(slow.order().size(), count + 1);  // the open reply and the gets
}

// Out of descriptors on accept: one warning (not one per attempt), and once a descriptor is free
// the waiting client is accepted.
TEST(RpcServer, AcceptOutOfDescriptorsBacksOffAndResumes) {
    std::ostringstream logged;
    auto log = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_st>(logged));
    log->set_level(spdlog::level::info);
    ServerSetup setup;
    setup.log = log;
    TestServer server(setup);
    const auto dir = std::filesystem::temp_directory_path() /
                     ("hs-emfile-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "s.sock";
    std::filesystem::remove(path);
    ASSERT_TRUE(server.server().listen_unix(path).ok());
    server.server().start();

    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(client, 0);
    struct rlimit saved {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = saved;
    low.rlim_cur = 512;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    std::vector<int> filler;
    for (;;) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        filler.push_back(fd);
    }
    const auto restore = [&] {
        for (int fd : filler) ::close(fd);
        filler.clear();
        ::setrlimit(RLIMIT_NOFILE, &saved);
    };
    ASSERT_FALSE(filler.empty());

    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    // 1.5 s of failing accepts (the old loop warned every 100 ms).
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until) {
        server.io().restart();
        server.io().run_for(10ms);
    }
    const std::string during = logged.str();
    std::size_t warnings = 0;
    for (auto at = during.find("accepting"); at != std::string::npos;
         at = during.find("accepting", at + 1))
        ++warnings;
    EXPECT_EQ(server.server().client_count(), 0u);
    EXPECT_EQ(warnings, 1u) << during;
    EXPECT_NE(during.find("open files"), std::string::npos) << during;

    ::close(filler.back());  // one descriptor free: the client gets in
    filler.pop_back();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (server.server().client_count() == 0 && std::chrono::steady_clock::now() < deadline) {
        server.io().restart();
        server.io().run_for(10ms);
    }
    restore();
    EXPECT_EQ(server.server().client_count(), 1u);
    EXPECT_NE(logged.str().find("again"), std::string::npos) << logged.str();
    // It is served.
    Bytes request;
    encode_frame(request, FrameHeader{FrameType::Request, 1, 1, 1}, Void{});
    ASSERT_EQ(::send(client, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::uint8_t reply[256];
    ssize_t got = -1;
    for (int i = 0; i < 500 && got <= 0; ++i) {
        server.io().restart();
        server.io().run_for(10ms);
        got = ::recv(client, reply, sizeof reply, MSG_DONTWAIT);
    }
    EXPECT_GT(got, 0);
    ::close(client);
    server.server().close();
    server.server().remove_socket_file();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hs::server::test
