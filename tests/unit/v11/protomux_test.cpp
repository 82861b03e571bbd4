// v11::protomux (src/v11/protomux): two muxes wired to each other in memory. Pairing from both
// sides, message types, many channels, reject of an unknown protocol, a pair handler accepting,
// closing one channel with the others kept, cork/uncork batches, messages kept until a channel
// opens, and malformed control messages. Against JS protomux 3.12.1:
// tests/interop/protomux.test.js.
#include <gtest/gtest.h>

#include <deque>

#include "v11/protomux/protomux.h"

namespace hs::v11::protomux {
namespace {

struct Wire {
    // Messages are queued and delivered by flush(), so that sends made while handling a
    // message do not recurse.
    Mux a{[this](Bytes m) { to_b.push_back(std::move(m)); }};
    Mux b{[this](Bytes m) { to_a.push_back(std::move(m)); }};
    std::deque<Bytes> to_a, to_b;
    std::size_t messages_a = 0, messages_b = 0;
    void flush() {
        while (!to_a.empty() || !to_b.empty()) {
            while (!to_b.empty()) {
                Bytes m = std::move(to_b.front());
                to_b.pop_front();
                ++messages_b;
                ASSERT_TRUE(b.receive(m).ok());
            }
            while (!to_a.empty()) {
                Bytes m = std::move(to_a.front());
                to_a.pop_front();
                ++messages_a;
                ASSERT_TRUE(a.receive(m).ok());
            }
        }
    }
};

struct Log {
    std::vector<std::string> events;
    ChannelOptions options(std::string protocol, std::optional<Bytes> id = std::nullopt,
                           std::string handshake = "hs") {
        ChannelOptions o;
        o.protocol = std::move(protocol);
        o.id = std::move(id);
        o.handshake = to_bytes(handshake);
        o.message_types = 3;
        o.on_open = [this](ByteView h) { events.push_back("open " + std::string(h.begin(), h.end())); };
        o.on_message = [this](std::size_t t, ByteView p) {
            events.push_back("msg " + std::to_string(t) + " " + std::string(p.begin(), p.end()));
        };
        o.on_close = [this](bool remote) { events.push_back(remote ? "closed by remote" : "closed"); };
        return o;
    }
};

TEST(Protomux, BothSidesOpenPairAndExchangeTypedMessages) {
    Wire w;
    Log la, lb;
    auto ca = w.a.create_channel(la.options("test/1", std::nullopt, "from-a"));
    auto cb = w.b.create_channel(lb.options("test/1", std::nullopt, "from-b"));
    ca->open();
    cb->open();
    w.flush();
    ASSERT_TRUE(ca->opened());
    ASSERT_TRUE(cb->opened());
    EXPECT_EQ(la.events, (std::vector<std::string>{"open from-b"}));
    EXPECT_EQ(lb.events, (std::vector<std::string>{"open from-a"}));
    EXPECT_TRUE(ca->send(0, to_bytes("zero")));
    EXPECT_TRUE(ca->send(2, to_bytes("two")));
    EXPECT_FALSE(ca->send(3, to_bytes("no such type")));
    EXPECT_TRUE(cb->send(1, to_bytes("one")));
    w.flush();
    EXPECT_EQ(lb.events, (std::vector<std::string>{"open from-a", "msg 0 zero", "msg 2 two"}));
    EXPECT_EQ(la.events.back(), "msg 1 one");
    EXPECT_TRUE(w.a.opened("test/1", std::nullopt));
    // unique: a second channel of the same key is refused while one is open.
    EXPECT_EQ(w.a.create_channel(la.options("test/1")), nullptr);
}

TEST(Protomux, AHundredChannelsByIdOpenedFromBothSides) {
    Wire w;
    Log la, lb;
    std::vector<std::shared_ptr<Channel>> as, bs;
    for (int i = 0; i < 100; ++i) {
        const Bytes id = to_bytes("ch" + std::to_string(i));
        as.push_back(w.a.create_channel(la.options("many", id)));
        bs.push_back(w.b.create_channel(lb.options("many", id)));
        // Both opens cross in flight (a remote open that finds no channel of ours waiting,
        // and no pair handler, is rejected, as in JS); half are sent by a first.
        if (i % 2) {
            as.back()->open();
            bs.back()->open();
        } else {
            bs.back()->open();
            as.back()->open();
        }
        if (i % 10 == 0) w.flush();
    }
    w.flush();
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(as[i]->opened()) << i;
        ASSERT_TRUE(bs[i]->opened()) << i;
        as[i]->send(i % 3, to_bytes(std::to_string(i)));
    }
    w.flush();
    std::size_t got = 0;
    for (const auto& e : lb.events) got += e.rfind("msg ", 0) == 0;
    EXPECT_EQ(got, 100u);
}

TEST(Protomux, ARemoteOpenWithNothingWaitingIsRejectedAsInJs) {
    Wire w;
    Log la, lb;
    auto ca = w.a.create_channel(la.options("late"));
    auto cb = w.b.create_channel(lb.options("late"));  // created, not yet opened
    ca->open();
    w.flush();
    EXPECT_TRUE(ca->closed());
    EXPECT_FALSE(cb->closed());
}

TEST(Protomux, AnUnknownProtocolIsRejectedAndTheStreamStays) {
    Wire w;
    Log la, lb;
    auto ca = w.a.create_channel(la.options("nobody-speaks-this"));
    ca->open();
    w.flush();
    EXPECT_TRUE(ca->closed());
    EXPECT_EQ(la.events, (std::vector<std::string>{"closed by remote"}));
    // The mux still works: another channel pairs.
    auto c2 = w.a.create_channel(la.options("test/2"));
    auto d2 = w.b.create_channel(lb.options("test/2"));
    c2->open();
    d2->open();
    w.flush();
    EXPECT_TRUE(c2->opened());
}

TEST(Protomux, APairHandlerAcceptsAndMessagesWaitUntilOpen) {
    Wire w;
    Log la, lb;
    std::shared_ptr<Channel> accepted;
    w.b.pair("svc", std::nullopt, [&](const std::optional<Bytes>& id) {
        EXPECT_EQ(id, to_bytes("x"));
        accepted = w.b.create_channel(lb.options("svc", to_bytes("x"), "accepted"));
    });
    auto ca = w.a.create_channel(la.options("svc", to_bytes("x")));
    ca->open();
    // a sends before b has opened its side: b keeps the messages.
    ca->send(0, to_bytes("early"));
    w.flush();
    ASSERT_TRUE(accepted);
    EXPECT_FALSE(accepted->opened());
    EXPECT_GT(w.b.buffered_bytes(), 0u);
    accepted->open();
    w.flush();
    EXPECT_TRUE(ca->opened());
    EXPECT_EQ(lb.events, (std::vector<std::string>{"open hs", "msg 0 early"}));
    EXPECT_EQ(w.b.buffered_bytes(), 0u);
}

TEST(Protomux, ClosingOneChannelKeepsTheOthersAndTheKeyCanReopen) {
    Wire w;
    Log la, lb;
    auto c1 = w.a.create_channel(la.options("p", to_bytes("1")));
    auto c2 = w.a.create_channel(la.options("p", to_bytes("2")));
    auto d1 = w.b.create_channel(lb.options("p", to_bytes("1")));
    auto d2 = w.b.create_channel(lb.options("p", to_bytes("2")));
    for (auto& c : {c1, c2, d1, d2}) c->open();
    w.flush();
    c1->close();
    w.flush();
    EXPECT_TRUE(d1->closed());
    EXPECT_EQ(lb.events.back(), "closed by remote");
    EXPECT_FALSE(c1->send(0, to_bytes("after close")));
    EXPECT_TRUE(c2->send(0, to_bytes("still here")));
    w.flush();
    EXPECT_EQ(lb.events.back(), "msg 0 still here");
    auto again_a = w.a.create_channel(la.options("p", to_bytes("1")));
    auto again_b = w.b.create_channel(lb.options("p", to_bytes("1")));
    again_a->open();
    again_b->open();
    w.flush();
    EXPECT_TRUE(again_a->opened());
    EXPECT_TRUE(again_b->opened());
}

TEST(Protomux, CorkedMessagesTravelAsOneBatch) {
    Wire w;
    Log la, lb;
    auto ca = w.a.create_channel(la.options("b1"));
    auto cb = w.b.create_channel(lb.options("b1"));
    auto ca2 = w.a.create_channel(la.options("b2"));
    auto cb2 = w.b.create_channel(lb.options("b2"));
    cb->open();
    cb2->open();  // in flight while a corks
    const std::size_t before = w.messages_b;
    w.a.cork();
    ca->open();
    ca2->open();
    ca->send(0, to_bytes("x"));
    ca2->send(1, to_bytes("y"));
    ca->send(2, to_bytes("z"));
    EXPECT_TRUE(w.to_b.empty());
    w.a.uncork();
    ASSERT_EQ(w.to_b.size(), 1u);
    w.flush();
    EXPECT_EQ(w.messages_b - before, 1u);
    EXPECT_TRUE(cb->opened());
    EXPECT_TRUE(cb2->opened());
    EXPECT_EQ(lb.events, (std::vector<std::string>{"open hs", "open hs", "msg 0 x", "msg 1 y", "msg 2 z"}));
}

TEST(Protomux, MalformedControlMessagesAreProtocolErrors) {
    Mux m([](Bytes) {});
    // Open of channel 5 when the next free remote id is 1.
    const Bytes skip = {0, 1, 5, 1, 'p', 0};
    auto st = m.receive(skip);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::Protocol);
    // Reject of a channel that was not waiting.
    Mux m2([](Bytes) {});
    const Bytes bad_reject = {0, 2, 7};
    EXPECT_EQ(m2.receive(bad_reject).error().code, Errc::Protocol);
    // A truncated open; a truncated batch.
    Mux m3([](Bytes) {});
    const Bytes short_open = {0, 1, 1, 9, 'a'};
    EXPECT_FALSE(m3.receive(short_open).ok());
    const Bytes short_batch = {0, 0, 1, 5, 1};
    EXPECT_FALSE(m3.receive(short_batch).ok());
    // Messages for channels nobody opened, empty messages and unknown control types: ignored.
    Mux m4([](Bytes) {});
    EXPECT_TRUE(m4.receive(Bytes{9, 0, 1, 2}).ok());
    EXPECT_TRUE(m4.receive(Bytes{}).ok());
    EXPECT_TRUE(m4.receive(Bytes{0, 9, 1}).ok());
}

TEST(Protomux, ShutdownClosesEveryChannel) {
    Wire w;
    Log la, lb;
    auto ca = w.a.create_channel(la.options("s"));
    auto cb = w.b.create_channel(lb.options("s"));
    ca->open();
    cb->open();
    w.flush();
    w.a.shutdown();
    EXPECT_TRUE(ca->closed());
    EXPECT_EQ(la.events.back(), "closed by remote");
    EXPECT_EQ(w.a.create_channel(la.options("s2")), nullptr);
}

}  // namespace
}  // namespace hs::v11::protomux
