// Per-method semantics of the server (docs/behaviour/rpc.md, docs/behaviour/quirks.md), driven
// through the real session and dispatch layer over socket pairs.
#include <gtest/gtest.h>

#include <algorithm>

#include "service/errors.h"
#include "server_fixture.h"
#include "testutil/temp_dir.h"

namespace hs::server::test {
using namespace hs::rpc;
using namespace hs::service;
namespace {

AppendRequest append_req(std::uint64_t id, std::vector<std::string> blocks) {
    AppendRequest a;
    a.id = id;
    for (auto& b : blocks) a.blocks.push_back(to_bytes(b));
    return a;
}

GetRequest get_req(std::uint64_t id, std::uint64_t seq, std::uint64_t resource,
                   std::optional<bool> wait = std::nullopt,
                   std::optional<bool> if_available = std::nullopt) {
    GetRequest g;
    g.id = id;
    g.seq = seq;
    g.resource_id = resource;
    g.wait = wait;
    g.if_available = if_available;
    return g;
}

std::size_t index_of(const std::vector<FrameHeader>& order, FrameType type, Method m,
                     std::uint64_t id) {
    const auto& info = method_info(m);
    for (std::size_t i = 0; i < order.size(); ++i) {
        const auto& h = order[i];
        if (h.type == type && h.service == static_cast<std::uint64_t>(info.service) &&
            h.method == info.id && h.id == id)
            return i;
    }
    return order.size();
}

TEST(RpcSemantics, OnAppendReachesEverySessionBeforeTheAppendReply) {
    TestServer server;
    RawClient& a = server.connect();
    RawClient& b = server.connect();
    a.open(0, "log");
    a.open(1, "log");  // a second session of the same core on the same connection
    b.open(5, "log");
    const auto id = a.request(Method::HypercoreAppend, append_req(0, {"a", "bb"}));
    auto reply = a.wait_reply(id);
    ASSERT_TRUE(reply);
    const auto rsp = decode_event<AppendResponse>(*reply);
    EXPECT_EQ(rsp.length, 2u);
    EXPECT_EQ(rsp.byte_length, 3u);
    EXPECT_EQ(rsp.seq, 0u);
    const std::size_t reply_at =
        index_of(a.order(), FrameType::Response, Method::HypercoreAppend, id);
    int seen = 0;
    for (std::size_t i = 0; i < reply_at; ++i)
        if (a.order()[i].type == FrameType::Request && a.order()[i].method == 16) ++seen;
    EXPECT_EQ(seen, 2) << "OnAppend for both sessions before the reply";
    std::vector<std::uint64_t> ids;
    for (auto& e : a.events())
        if (is_event(e, Method::HypercoreOnAppend)) ids.push_back(decode_event<AppendEvent>(e).id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{0, 1}));
    ASSERT_TRUE(b.wait_for([&] {
        return std::any_of(b.events().begin(), b.events().end(),
                           [](const Frame& f) { return is_event(f, Method::HypercoreOnAppend); });
    }));
    for (auto& e : b.events()) {
        if (!is_event(e, Method::HypercoreOnAppend)) continue;
        const auto ev = decode_event<AppendEvent>(e);
        EXPECT_EQ(ev.id, 5u);
        EXPECT_EQ(ev.length, 2u);
        EXPECT_EQ(ev.byte_length, 3u);
    }
    // An empty append still emits OnAppend (compat, quirks #26).
    a.events().clear();
    const auto empty = a.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {}));
    EXPECT_EQ(empty.seq, 2u);
    EXPECT_FALSE(a.events().empty());
}

TEST(RpcSemantics, OnFeedGoesToEveryClientBeforeTheOpenReply) {
    TestServer server;
    RawClient& a = server.connect();
    RawClient& b = server.connect();
    OpenRequest open;
    open.id = 0;
    open.name = "fresh";
    const auto id = a.request(Method::CorestoreOpen, open);
    auto reply = a.wait_reply(id);
    ASSERT_TRUE(reply);
    const auto rsp = decode_event<OpenResponse>(*reply);
    const std::size_t reply_at =
        index_of(a.order(), FrameType::Response, Method::CorestoreOpen, id);
    ASSERT_LT(index_of(a.order(), FrameType::Request, Method::CorestoreOnFeed, 0), reply_at);
    ASSERT_TRUE(b.wait_for([&] { return !b.events().empty(); }));
    EXPECT_TRUE(is_event(b.events().front(), Method::CorestoreOnFeed));
    EXPECT_EQ(decode_event<FeedEvent>(b.events().front()).key, rsp.key);
    EXPECT_TRUE(rsp.writable);
    EXPECT_EQ(rsp.discovery_key->size(), 32u);
    // Opening it again loads nothing: no second OnFeed.
    b.events().clear();
    b.open(0, "fresh");
    b.settle();
    EXPECT_TRUE(b.events().empty());
}

TEST(RpcSemantics, OpenByKeyByNameAndNew) {
    TestServer server;
    RawClient& c = server.connect();
    const auto named = c.open(0, "n");
    const auto again = c.open(1, "n");
    EXPECT_EQ(named.key, again.key);
    const auto by_key = c.open(2, std::nullopt, false, named.key);
    EXPECT_EQ(by_key.key, named.key);
    EXPECT_TRUE(by_key.writable);
    const auto fresh1 = c.open(3, std::nullopt);
    const auto fresh2 = c.open(4, std::string());
    EXPECT_NE(fresh1.key, fresh2.key);
    EXPECT_TRUE(fresh1.writable);
    const auto foreign = c.open(5, std::nullopt, false, Bytes(32, 0x42));
    EXPECT_FALSE(foreign.writable);
    EXPECT_EQ(foreign.length, 0u);
    EXPECT_EQ(c.call_error(Method::HypercoreAppend, append_req(5, {"x"})),
              "This feed is not writable. Did you create it?");
}

TEST(RpcSemantics, SessionIdsAndFailedOpens) {
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "a");
    OpenRequest open;
    open.id = 0;
    open.name = "b";
    EXPECT_EQ(c.call_error(Method::CorestoreOpen, open), "Session already in use.");
    // The internal core is reserved (quirks #16), and a failed open leaves the id free
    // (quirks #21).
    open.id = 1;
    open.name = "@hyperspace:internal";
    EXPECT_EQ(c.call_error(Method::CorestoreOpen, open), std::string(errors::kReservedName));
    open.key = Bytes(5, 1);
    open.name.reset();
    EXPECT_NE(c.call_error(Method::CorestoreOpen, open), "");
    const auto ok = c.open(1, "b");
    EXPECT_EQ(ok.key.size(), 32u);
}

TEST(RpcSemantics, GetOutcomes) {
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "g");
    c.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {"zero", ""}));
    auto got = c.call<GetResponse>(Method::HypercoreGet, get_req(0, 0, 0));
    EXPECT_EQ(got.block, to_bytes("zero"));
    // A zero-length block still carries the field.
    got = c.call<GetResponse>(Method::HypercoreGet, get_req(0, 1, 1));
    ASSERT_TRUE(got.block.has_value());
    EXPECT_TRUE(got.block->empty());
    EXPECT_EQ(c.call_error(Method::HypercoreGet, get_req(0, 5, 2)),
              "Block not available from peers");
    EXPECT_EQ(c.call_error(Method::HypercoreGet, get_req(0, 5, 3, false)), "Block not downloaded");

    // onWaitId: OnWait right away, then the ifAvailable failure.
    auto g = get_req(0, 9, 4);
    g.on_wait_id = 3;
    const auto id = c.request(Method::HypercoreGet, g);
    auto f = c.wait_reply(id);
    ASSERT_TRUE(f);
    EXPECT_EQ(RawClient::error_message(*f), "Block not available from peers");
    ASSERT_FALSE(c.events().empty());
    const auto wait = decode_event<WaitEvent>(c.events().back());
    EXPECT_EQ(wait.id, 0u);
    EXPECT_EQ(wait.on_wait_id, 3u);
    EXPECT_EQ(wait.seq, 9u);
}

TEST(RpcSemantics, WaitingGetIsAnsweredByALocalAppendOrCancelled) {
    TestServer server;
    RawClient& c = server.connect();
    RawClient& writer = server.connect();
    c.open(0, "w");
    writer.open(0, "w");
    const auto waiting = c.request(Method::HypercoreGet, get_req(0, 2, 10, std::nullopt, false));
    const auto cancelled = c.request(Method::HypercoreGet, get_req(0, 7, 11, std::nullopt, false));
    c.settle();
    EXPECT_FALSE(c.has_reply(waiting));
    // The resource id is in use while the get waits.
    EXPECT_EQ(c.call_error(Method::HypercoreGet, get_req(0, 0, 10, std::nullopt, false)),
              "Resource already exists: 10");
    writer.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {"a", "b", "c"}));
    auto f = c.wait_reply(waiting);
    ASSERT_TRUE(f);
    EXPECT_EQ(decode_event<GetResponse>(*f).block, to_bytes("c"));
    c.request(Method::HypercoreCancel, CancelRequest{0, 11}, true);
    f = c.wait_reply(cancelled);
    ASSERT_TRUE(f);
    EXPECT_EQ(RawClient::error_message(*f), "Request cancelled");
    EXPECT_EQ(c.session().state().resource_count(), 0u);
}

TEST(RpcSemantics, UpdateAndSeek) {
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "u");
    UpdateRequest u;
    u.id = 0;
    EXPECT_EQ(c.call_error(Method::HypercoreUpdate, u), "");  // minLength absent: at once
    u.min_length = 1;
    EXPECT_EQ(c.call_error(Method::HypercoreUpdate, u), "No update available from peers");
    u.if_available = false;
    const auto waiting = c.request(Method::HypercoreUpdate, u);
    c.settle();
    EXPECT_FALSE(c.has_reply(waiting));
    c.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {"ab", "cde"}));
    auto f = c.wait_reply(waiting);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Response);

    SeekRequest s;
    s.id = 0;
    s.byte_offset = 3;
    auto sr = c.call<SeekResponse>(Method::HypercoreSeek, s);
    EXPECT_EQ(sr.seq, 1u);
    EXPECT_EQ(sr.block_offset, 1u);
    s.byte_offset = 5;  // == byteLength
    sr = c.call<SeekResponse>(Method::HypercoreSeek, s);
    EXPECT_EQ(sr.seq, 2u);
    EXPECT_EQ(sr.block_offset, 0u);
    s.byte_offset = 9;
    s.wait = false;
    EXPECT_EQ(c.call_error(Method::HypercoreSeek, s), "Out of bounds");
    s.wait.reset();
    EXPECT_EQ(c.call_error(Method::HypercoreSeek, s), "Seek not available from peers");
    s.if_available = false;
    const auto seek_wait = c.request(Method::HypercoreSeek, s);
    c.settle();
    EXPECT_FALSE(c.has_reply(seek_wait));
    c.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {"fghijk"}));
    f = c.wait_reply(seek_wait);
    ASSERT_TRUE(f);
    sr = decode_event<SeekResponse>(*f);
    EXPECT_EQ(sr.seq, 2u);
    EXPECT_EQ(sr.block_offset, 4u);
}

TEST(RpcSemantics, DownloadUndownloadDownloaded) {
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "d");
    c.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {"a", "b", "c"}));
    DownloadRequest d;
    d.id = 0;
    d.resource_id = 1;
    d.start = 0;
    d.end = 3;
    EXPECT_EQ(c.call_error(Method::HypercoreDownload, d), "");  // stored: at once (quirks #19)
    d.blocks = {0, 2};
    d.resource_id = 2;
    EXPECT_EQ(c.call_error(Method::HypercoreDownload, d), "");
    // Beyond the end: waits; Undownload cancels it with ECANCELED.
    DownloadRequest pending;
    pending.id = 0;
    pending.resource_id = 3;
    pending.start = 0;
    pending.end = 5;
    const auto id = c.request(Method::HypercoreDownload, pending);
    c.settle();
    EXPECT_FALSE(c.has_reply(id));
    c.request(Method::HypercoreUndownload, UndownloadRequest{0, 3}, true);
    auto f = c.wait_reply(id);
    ASSERT_TRUE(f);
    const auto err = RawClient::error_of(*f);
    EXPECT_EQ(err.message, "Download was cancelled");
    EXPECT_EQ(err.code, std::optional<std::string>("ECANCELED"));
    EXPECT_EQ(err.errno_value, std::optional<std::int32_t>(-11));
    // A pending download completes when the blocks arrive (here: local appends).
    pending.resource_id = 4;
    const auto id2 = c.request(Method::HypercoreDownload, pending);
    c.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {"d", "e"}));
    f = c.wait_reply(id2);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Response);
    // A live download never completes; Close cancels it.
    DownloadRequest live;
    live.id = 0;
    live.resource_id = 5;
    live.live = true;
    const auto id3 = c.request(Method::HypercoreDownload, live);
    DownloadedRequest dl;
    dl.id = 0;
    EXPECT_EQ(c.call<DownloadedResponse>(Method::HypercoreDownloaded, dl).bytes, 5u);
    dl.start = 1;
    dl.end = 3;
    EXPECT_EQ(c.call<DownloadedResponse>(Method::HypercoreDownloaded, dl).bytes, 2u);
    EXPECT_EQ(c.call_error(Method::HypercoreClose, CloseRequest{0}), "");
    f = c.wait_reply(id3);
    ASSERT_TRUE(f);
    EXPECT_EQ(RawClient::error_message(*f), "Download was cancelled");
}

TEST(RpcSemantics, LocksAreFifoAndReleasedOnCloseAndDisconnect) {
    TestServer server;
    RawClient& a = server.connect();
    RawClient& b = server.connect();
    RawClient& c = server.connect();
    a.open(0, "lock");
    b.open(0, "lock");
    c.open(0, "lock");
    a.call<Void>(Method::HypercoreAcquireLock, LockRequest{0});
    const auto b_id = b.request(Method::HypercoreAcquireLock, LockRequest{0});
    const auto c_id = c.request(Method::HypercoreAcquireLock, LockRequest{0});
    b.settle();
    c.settle();
    EXPECT_FALSE(b.has_reply(b_id));
    EXPECT_EQ(c.call_error(Method::HypercoreReleaseLock, LockRequest{0}),
              "Core is not locked by you");
    // a disconnects while holding it: b gets it (not c).
    ::shutdown(a.fd(), SHUT_RDWR);
    ASSERT_TRUE(a.wait_closed());
    auto f = b.wait_reply(b_id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Response);
    c.settle();
    EXPECT_FALSE(c.has_reply(c_id));
    // b closes its session: c gets it.
    b.call<Void>(Method::HypercoreClose, CloseRequest{0});
    f = c.wait_reply(c_id);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->header.type, FrameType::Response);
    EXPECT_EQ(c.call_error(Method::HypercoreReleaseLock, LockRequest{0}), "");
    EXPECT_EQ(c.call_error(Method::HypercoreReleaseLock, LockRequest{0}), "Core is not locked");
    // Several locks per connection, on different cores.
    c.open(1, "other");
    EXPECT_EQ(c.call_error(Method::HypercoreAcquireLock, LockRequest{0}), "");
    EXPECT_EQ(c.call_error(Method::HypercoreAcquireLock, LockRequest{1}), "");
}

TEST(RpcSemantics, WeakSessionsGetOnCloseWhenTheGcClosesTheCore) {
    ServerSetup setup;
    setup.cache_size = 0;
    TestServer server(setup);
    RawClient& a = server.connect();
    RawClient& b = server.connect();
    a.open(0, "s");
    const auto weak = b.open(7, "s", true);
    EXPECT_EQ(server.registry().loaded_count(), 1u);
    b.settle();
    EXPECT_TRUE(std::none_of(b.events().begin(), b.events().end(),
                             [](const Frame& f) { return is_event(f, Method::HypercoreOnClose); }));
    // The strong session closes: nothing references the core, the GC closes it.
    a.call<Void>(Method::HypercoreClose, CloseRequest{0});
    ASSERT_TRUE(b.wait_for([&] {
        return std::any_of(b.events().begin(), b.events().end(),
                           [](const Frame& f) { return is_event(f, Method::HypercoreOnClose); });
    }));
    for (auto& e : b.events()) {
        if (is_event(e, Method::HypercoreOnClose)) {
            EXPECT_EQ(decode_event<CloseEvent>(e).id, 7u);
        }
    }
    EXPECT_EQ(server.registry().loaded_count(), 0u);
    EXPECT_EQ(b.call_error(Method::HypercoreGet, get_req(7, 0, 0)), "Feed is closed");
    EXPECT_EQ(b.call_error(Method::HypercoreClose, CloseRequest{7}), "");
    // Reopening reloads it from storage, with its data.
    const auto again = b.open(7, "s");
    EXPECT_EQ(again.key, weak.key);
}

TEST(RpcSemantics, GcKeepsAtMostCacheSizeUnreferencedCores) {
    ServerSetup setup;
    setup.cache_size = 2;
    TestServer server(setup);
    RawClient& c = server.connect();
    for (std::uint64_t i = 0; i < 5; ++i) {
        c.open(i, "core" + std::to_string(i));
        c.call<AppendResponse>(Method::HypercoreAppend, append_req(i, {"x"}));
        c.call<Void>(Method::HypercoreClose, CloseRequest{i});
    }
    c.settle();
    EXPECT_EQ(server.registry().loaded_count(), 2u);
    EXPECT_EQ(server.registry().unreferenced_count(), 2u);
    // A referenced core is never evicted.
    c.open(10, "pinned");
    for (std::uint64_t i = 0; i < 5; ++i) {
        c.open(i, "core" + std::to_string(i));
        c.call<Void>(Method::HypercoreClose, CloseRequest{i});
    }
    EXPECT_EQ(c.call<HasResponse>(Method::HypercoreHas, HasRequest{10, 0}).has, false);
    EXPECT_EQ(server.registry().loaded_count(), 3u);
    // Data survives eviction.
    const auto reopened = c.open(20, "core0");
    EXPECT_EQ(reopened.length, 1u);
}

TEST(RpcSemantics, WatchDownloadsAndExtensionsAreRecorded) {
    TestServer server;
    RawClient& c = server.connect();
    c.open(0, "x");
    c.request(Method::HypercoreWatchDownloads, WatchDownloadsRequest{0}, true);
    c.request(Method::HypercoreWatchUploads, WatchUploadsRequest{0}, true);
    c.settle();
    EXPECT_TRUE(c.session().state().session(0)->watch_downloads);
    EXPECT_TRUE(c.session().state().session(0)->watch_uploads);
    // Local appends are not downloads (hypercore emits `download` for received blocks only).
    c.call<AppendResponse>(Method::HypercoreAppend, append_req(0, {"a"}));
    c.settle();
    EXPECT_TRUE(std::none_of(c.events().begin(), c.events().end(), [](const Frame& f) {
        return is_event(f, Method::HypercoreOnDownload);
    }));
    // The replication hook reaches watchers.
    server.registry().notify_download(*c.session().state().session(0)->core, 0, 1);
    ASSERT_TRUE(c.wait_for([&] {
        return std::any_of(c.events().begin(), c.events().end(),
                           [](const Frame& f) { return is_event(f, Method::HypercoreOnDownload); });
    }));
    c.request(Method::HypercoreUnwatchDownloads, UnwatchDownloadsRequest{0}, true);
    c.settle();
    EXPECT_FALSE(c.session().state().session(0)->watch_downloads);

    RegisterExtensionRequest reg;
    reg.id = 0;
    reg.resource_id = 4;
    reg.name = "ext";
    EXPECT_EQ(c.call_error(Method::HypercoreRegisterExtension, reg), "");
    EXPECT_EQ(c.call_error(Method::HypercoreRegisterExtension, reg), "Resource already exists: 4");
    ExtensionMessage msg;
    msg.id = 0;
    msg.resource_id = 4;
    msg.data = to_bytes("hi");
    EXPECT_EQ(c.call_error(Method::HypercoreSendExtension, msg), "");
    EXPECT_EQ(c.call_error(Method::HypercoreUnregisterExtension, UnregisterExtensionRequest{0, 4}),
              "");
    EXPECT_EQ(c.call_error(Method::HypercoreSendExtension, msg), "Invalid resource: 4");
}

ConfigureNetworkRequest configure(std::uint8_t key, std::optional<bool> announce,
                                  std::optional<bool> lookup,
                                  std::optional<bool> remember = std::nullopt) {
    ConfigureNetworkRequest r;
    r.configuration.discovery_key = Bytes(32, key);
    r.configuration.announce = announce;
    r.configuration.lookup = lookup;
    r.configuration.remember = remember;
    return r;
}

TEST(RpcSemantics, NetworkConfigureVotesStatusesAndErrors) {
    TestServer server;
    RawClient& a = server.connect();
    RawClient& b = server.connect();
    auto bad = configure(1, true, true);
    bad.configuration.discovery_key = Bytes(31, 1);
    EXPECT_EQ(a.call_error(Method::NetworkConfigure, bad), "Invalid discovery key.");
    bad = configure(1, true, true);
    bad.copy_from = Bytes(3, 0);
    EXPECT_EQ(a.call_error(Method::NetworkConfigure, bad), "Must copy from a valid discovery key.");

    auto rsp = a.call<NetworkStatusResponse>(Method::NetworkConfigure, configure(1, true, false));
    ASSERT_TRUE(rsp.status);
    EXPECT_EQ(rsp.status->announce, std::optional<bool>(true));
    EXPECT_EQ(rsp.status->lookup, std::optional<bool>(false));
    EXPECT_FALSE(rsp.status->remember.has_value());
    rsp = b.call<NetworkStatusResponse>(Method::NetworkConfigure, configure(1, false, true));
    EXPECT_EQ(rsp.status->announce, std::optional<bool>(true));  // OR over both clients
    EXPECT_EQ(rsp.status->lookup, std::optional<bool>(true));
    // overwrite: false keeps the existing configuration.
    auto keep = configure(1, false, false);
    keep.overwrite = false;
    rsp = b.call<NetworkStatusResponse>(Method::NetworkConfigure, keep);
    EXPECT_EQ(rsp.status->lookup, std::optional<bool>(true));
    // copyFrom fills only the fields the request left out (quirks #9).
    auto copy = configure(2, std::nullopt, false);
    copy.copy_from = Bytes(32, 1);
    rsp = a.call<NetworkStatusResponse>(Method::NetworkConfigure, copy);
    ASSERT_TRUE(rsp.status);
    EXPECT_EQ(rsp.status->announce, std::optional<bool>(true));
    EXPECT_EQ(rsp.status->lookup, std::optional<bool>(false));
    auto all = a.call<AllNetworkStatusesResponse>(Method::NetworkAllStatuses, Void{});
    EXPECT_EQ(all.statuses.size(), 2u);
    // a disconnects: key 2 is left, key 1 keeps b's lookup only.
    ::shutdown(a.fd(), SHUT_RDWR);
    ASSERT_TRUE(a.wait_closed());
    auto st =
        b.call<NetworkStatusResponse>(Method::NetworkStatus, NetworkStatusRequest{Bytes(32, 1)});
    ASSERT_TRUE(st.status);
    EXPECT_EQ(st.status->announce, std::optional<bool>(false));
    EXPECT_EQ(st.status->lookup, std::optional<bool>(true));
    st = b.call<NetworkStatusResponse>(Method::NetworkStatus, NetworkStatusRequest{Bytes(32, 2)});
    EXPECT_FALSE(st.status);
    // Leaving: both flags false.
    rsp = b.call<NetworkStatusResponse>(Method::NetworkConfigure, configure(1, false, false));
    EXPECT_FALSE(rsp.status);
    EXPECT_EQ(server.network().joined_count(), 0u);
    const auto open = b.call<OpenNetworkResponse>(Method::NetworkOpen, Void{});
    EXPECT_EQ(open.public_key, Bytes(32, 7));
}

TEST(NetworkConfigs, RememberedRecordsPersistAndAreRejoined) {
    testutil::TempDir dir;
    const auto file = dir.path() / kNetworkConfigFile;
    {
        auto configs = NetworkConfigs::open(NetworkConfigsOptions{file, false}, quiet_logger());
        ASSERT_TRUE(configs.ok());
        ASSERT_TRUE((*configs)->configure(1, configure(1, true, true, true)).ok());
        ASSERT_TRUE((*configs)->configure(1, configure(2, false, true, true)).ok());  // lookup only
        ASSERT_TRUE((*configs)->configure(1, configure(3, true, true, true)).ok());
        ASSERT_TRUE((*configs)->configure(1, configure(4, true, true)).ok());  // not remembered
        // remember present and false forgets (quirks #8).
        auto forget = (*configs)->configure(1, configure(3, false, false, false));
        ASSERT_TRUE(forget.ok());
        EXPECT_FALSE(forget->status);
        EXPECT_EQ((*configs)->remembered().size(), 2u);
    }
    auto configs = NetworkConfigs::open(NetworkConfigsOptions{file, false}, quiet_logger());
    ASSERT_TRUE(configs.ok());
    EXPECT_EQ((*configs)->joined_count(), 0u);
    (*configs)->rejoin_remembered();
    EXPECT_EQ((*configs)->joined_count(), 2u);  // lookup-only too (quirks #10)
    auto s1 = (*configs)->status(Bytes(32, 1));
    ASSERT_TRUE(s1);
    EXPECT_EQ(s1->announce, std::optional<bool>(true));
    EXPECT_EQ(s1->remember, std::optional<bool>(true));
    auto s2 = (*configs)->status(Bytes(32, 2));
    ASSERT_TRUE(s2);
    EXPECT_EQ(s2->announce, std::optional<bool>(false));
    EXPECT_EQ(s2->lookup, std::optional<bool>(true));
    EXPECT_FALSE((*configs)->status(Bytes(32, 3)));
    EXPECT_FALSE((*configs)->status(Bytes(32, 4)));
    // A remembered record keeps its key joined while a client votes it down (quirks #11).
    auto rsp = (*configs)->configure(9, configure(1, false, false));
    ASSERT_TRUE(rsp.ok());
    ASSERT_TRUE(rsp->status);
    EXPECT_EQ(rsp->status->announce, std::optional<bool>(true));
}

TEST(NetworkConfigs, DamagedFileFailsWithItsName) {
    testutil::TempDir dir;
    const auto file = dir.path() / kNetworkConfigFile;
    testutil::write_file(file, as_bytes("{not json"));
    auto configs = NetworkConfigs::open(NetworkConfigsOptions{file, false}, quiet_logger());
    ASSERT_FALSE(configs.ok());
    EXPECT_NE(configs.error().message.find(file.string()), std::string::npos);
}

}  // namespace
}  // namespace hs::server::test
