// A group of our DHT nodes for tests/interop/dht.test.js, driven by JSON lines on stdin.
//
//   dht_peer --nodes N --bootstrap HOST:PORT [--ephemeral] [--host 127.0.0.1]
//
// Starts N nodes bound to HOST:0 (persistent unless --ephemeral), prints
// {"event":"listening","ports":[...]} and, once every node finished its first bootstrap,
// {"event":"ready","tables":[...]}. Then it runs one command per stdin line, in order, and prints
// one result line per command (carrying the command's "id"):
//   {"id":1,"op":"announce","node":0,"topic":"<64 hex>","port":P}  ->
//   {"id":1,"ok":true,"responses":n,"peers":[..]}
//   {"id":2,"op":"lookup","node":0,"topic":"<64 hex>"}             ->
//   {"id":2,"ok":true,"responses":n,"peers":["127.0.0.1:P",..]}
//   {"id":3,"op":"unannounce","node":0,"topic":"<64 hex>","port":P} -> {"id":3,"ok":true}
//   {"id":4,"op":"status"}  -> {"id":4,"ok":true,"tables":[..],"remote":[..],"stored":[..]}
// A failed operation prints {"id":..,"ok":false,"error":"..."}. EOF on stdin or {"op":"quit"}
// closes every node and exits 0. Exit 2 for bad arguments or a failed bind.
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/async/task_group.h"
#include "v9/swarm/dht/node.h"
#include "common/util/hex.h"

namespace {

using namespace hs;
using namespace hs::swarm::dht;
using asio::awaitable;
using nlohmann::json;
using Topic = std::array<std::uint8_t, 32>;

void print(const json& j) { std::cout << j.dump() << std::endl; }

struct Args {
    std::size_t nodes = 1;
    std::vector<std::string> bootstrap;
    bool ephemeral = false;
    std::string host = "127.0.0.1";
};

class Group {
public:
    Group(asio::io_context& io, const Args& args) : m_io(io), m_args(args) {}

    bool open() {
        for (std::size_t i = 0; i < m_args.nodes; ++i) {
            NodeOptions o;
            o.ephemeral = m_args.ephemeral;
            o.bootstrap = m_args.bootstrap;
            o.bind = asio::ip::udp::endpoint(asio::ip::make_address_v4(m_args.host), 0);
            auto node = std::make_unique<Node>(m_io.get_executor(), o);
            if (auto st = node->listen(); !st) {
                std::cerr << "dht_peer: " << st.error().message << std::endl;
                return false;
            }
            m_nodes.push_back(std::move(node));
        }
        json ports = json::array();
        for (auto& n : m_nodes) ports.push_back(n->local_endpoint().port());
        print({{"event", "listening"}, {"ports", ports}});
        for (auto& n : m_nodes) n->start();
        return true;
    }

    awaitable<void> run() {
        for (auto& n : m_nodes) co_await n->ready();
        print({{"event", "ready"}, {"tables", tables()}});
        asio::posix::stream_descriptor in(m_io, ::dup(STDIN_FILENO));
        asio::streambuf buffer(1 << 20);
        for (;;) {
            // No deadline: the test drives us and closes stdin to end the run.
            auto [ec, n] = co_await asio::async_read_until(
                in, buffer, '\n', asio::experimental::as_tuple(asio::use_awaitable));
            if (ec) break;
            std::string line(asio::buffers_begin(buffer.data()),
                             asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(n));
            buffer.consume(n);
            json cmd = json::parse(line, nullptr, false);
            if (cmd.is_discarded() || !cmd.is_object()) {
                print({{"ok", false}, {"error", "unparsable command"}});
                continue;
            }
            if (cmd.value("op", "") == "quit") break;
            json out = co_await execute(cmd);
            out["id"] = cmd.value("id", json());
            print(out);
        }
        for (auto& node : m_nodes) co_await node->close();
    }

private:
    json tables() const {
        json t = json::array();
        for (auto& n : m_nodes) t.push_back(n->routing_table_size());
        return t;
    }

    awaitable<json> execute(const json& cmd) {
        const std::string op = cmd.value("op", "");
        if (op == "status") {
            json remote = json::array(), stored = json::array();
            for (auto& n : m_nodes) {
                stored.push_back(n->stored_records());
                auto r = n->remote_address();
                remote.push_back(r ? r->address().to_string() + ":" + std::to_string(r->port())
                                   : "");
            }
            co_return json{
                {"ok", true}, {"tables", tables()}, {"remote", remote}, {"stored", stored}};
        }
        const std::size_t index = cmd.value("node", std::size_t{0});
        auto key = parse_key(cmd.value("topic", std::string()));
        if (index >= m_nodes.size() || !key)
            co_return json{{"ok", false}, {"error", "bad node or topic"}};
        Node& node = *m_nodes[index];
        AnnounceOptions a;
        a.port = cmd.value("port", std::uint16_t{0});
        std::set<std::string> peers;
        // Named locals only inside co_await expressions (GCC 12 coroutine temporaries).
        std::function<void(const PeersReply&)> collect = [&](const PeersReply& reply) {
            for (const auto& p : reply.peers) peers.insert(p.to_string());
        };
        Result<QueryResult> r = make_error(Errc::InvalidArgument, "unknown op {}", op);
        if (op == "announce") {
            const Topic topic = *key;
            r = co_await node.announce(topic, a, std::move(collect));
        } else if (op == "lookup") {
            const Topic topic = *key;
            r = co_await node.lookup(topic, std::move(collect));
        } else if (op == "unannounce") {
            const Topic topic = *key;
            auto st = co_await node.unannounce(topic, a);
            if (!st) co_return json{{"ok", false}, {"error", st.error().message}};
            co_return json{{"ok", true}};
        }
        if (!r) co_return json{{"ok", false}, {"error", r.error().message}};
        co_return json{{"ok", true},
                       {"responses", r->responses},
                       {"peers", json(std::vector<std::string>(peers.begin(), peers.end()))}};
    }

    asio::io_context& m_io;
    Args m_args;
    std::vector<std::unique_ptr<Node>> m_nodes;
};

}  // namespace

int main(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "dht_peer: " << a << " needs a value" << std::endl;
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--nodes")
            args.nodes = std::stoul(next());
        else if (a == "--bootstrap")
            args.bootstrap.push_back(next());
        else if (a == "--ephemeral")
            args.ephemeral = true;
        else if (a == "--host")
            args.host = next();
        else {
            std::cerr << "dht_peer: unknown argument " << a << std::endl;
            return 2;
        }
    }
    asio::io_context io;
    Group group(io, args);
    if (!group.open()) return 2;
    // The group logs a failure of the run (to stderr through spdlog's default logger).
    hs::async::TaskGroup tasks(io.get_executor(), "dht_peer");
    tasks.spawn("run", group.run());
    io.run();
    return tasks.failures() > 0 ? 1 : 0;
}
