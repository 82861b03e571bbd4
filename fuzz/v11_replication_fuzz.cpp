// Fuzz target: two sans-IO replicators (src/v11/replication) over two in-memory protomux muxes,
// a writer and a reader of one core, through a channel the input controls. The first byte picks
// how many blocks the writer starts with; then each input byte is one step: deliver the next
// message either way, drop it, flip one of its bits, hold it back (reorder), append to the
// writer, truncate it, ask the reader for a block or a range, or move the clock. Invariants,
// whatever the channel did: nothing crashes or hangs, and every block the reader stores, while
// it is on the writer's fork, is the writer's block. Once the input is used up the channel turns
// perfect for a while (held messages delivered, lost requests timed out and asked again) and the
// invariant is checked once more. (Progress is not an invariant: protomux does not resend, so a
// dropped open leaves the channel half-open for good, as it would over a broken transport.)
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto/sign.h"
#include "fuzz_check.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/manifest.h"
#include "v11/hypercore/memory_storage.h"
#include "v11/replication/replicator.h"

namespace {

namespace hc = hs::v11::hypercore;
namespace rp = hs::v11::replication;
using hs::Bytes;
using hs::ByteView;
using hs::fuzz::require;

struct Input {
    const std::uint8_t* p;
    std::size_t n;
    bool empty() const { return n == 0; }
    std::uint8_t next() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
};

Bytes value_of(std::uint64_t fork, std::uint64_t i) {
    const std::string s = "f" + std::to_string(fork) + "-b" + std::to_string(i) + std::string(i % 7, 'x');
    return Bytes(s.begin(), s.end());
}

struct Queue {
    std::deque<Bytes> q;
    std::vector<Bytes> held;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in{data, size};
    const auto kp = hs::crypto::keypair_from_seed(Bytes(32, 9));
    const hc::KeyPair keys{kp.public_key, kp.secret_key};
    auto writer_r = hc::Core::create(std::make_unique<hc::MemoryStorage>(), hc::default_manifest(keys.public_key), keys);
    require(writer_r.ok());
    auto writer = std::move(writer_r).value();
    auto reader_r = hc::Core::create_by_key(std::make_unique<hc::MemoryStorage>(), writer->key());
    require(reader_r.ok());
    auto reader = std::move(reader_r).value();

    auto append = [&](std::uint64_t n) {
        std::vector<Bytes> values;
        for (std::uint64_t i = 0; i < n; ++i) values.push_back(value_of(writer->fork(), writer->length() + i));
        std::vector<ByteView> views(values.begin(), values.end());
        require(writer->append(views).ok());
    };
    append(in.next() % 40);

    rp::ReplicatorOptions options;
    options.max_inflight = 1 + in.next() % 8;
    options.request_timeout = std::chrono::seconds(5);
    rp::Replicator w(*writer, options);
    rp::Replicator r(*reader, options);

    Queue to_w, to_r;
    hs::v11::protomux::Mux mw([&](Bytes m) { to_r.q.push_back(std::move(m)); });
    hs::v11::protomux::Mux mr([&](Bytes m) { to_w.q.push_back(std::move(m)); });
    const Bytes hh(64, 3);
    const rp::PeerId wp = w.attach(mw, true, hh, "reader");
    const rp::PeerId rpid = r.attach(mr, false, hh, "writer");
    auto now = rp::TimePoint{} + std::chrono::hours(1);
    w.tick(now);
    r.tick(now);

    auto deliver = [&](Queue& q, hs::v11::protomux::Mux& to, std::uint8_t how) {
        if (q.q.empty()) {
            if (!q.held.empty()) {
                q.q.push_back(std::move(q.held.back()));
                q.held.pop_back();
            }
            return;
        }
        Bytes m = std::move(q.q.front());
        q.q.pop_front();
        switch (how % 8) {
            case 0: return;  // dropped
            case 1:
                if (!m.empty()) m[(how * 7u) % m.size()] ^= static_cast<std::uint8_t>(1u << (how % 8));
                break;
            case 2:
                if (q.held.size() < 16) {
                    q.held.push_back(std::move(m));
                    return;
                }
                break;
            default: break;
        }
        if (auto s = to.receive(m); !s) to.shutdown();
    };

    while (!in.empty()) {
        const std::uint8_t op = in.next();
        switch (op % 10) {
            case 0:
            case 1:
            case 2: deliver(to_r, mr, in.next() | (op & 0x80 ? 0 : 3)); break;
            case 3:
            case 4: deliver(to_w, mw, in.next() | (op & 0x80 ? 0 : 3)); break;
            case 5: append(1 + in.next() % 5); break;
            case 6:
                if (writer->length() > 0 && (op & 0x40)) {
                    require(writer->truncate(writer->length() - 1 - in.next() % writer->length()).ok());
                }
                break;
            case 7: {
                const std::uint64_t index = in.next() % 64;
                (void)r.get(index, [](hs::Result<Bytes>) {}, std::chrono::seconds(30));
                break;
            }
            case 8: (void)r.download(in.next() % 32, std::nullopt); break;
            case 9:
                now += std::chrono::milliseconds(100 * (in.next() % 80));
                w.tick(now);
                r.tick(now);
                break;
        }
        // Every stored block is the writer's block, if the reader is on the writer's fork.
        if (reader->fork() == writer->fork()) {
            for (const auto& range : reader->present_ranges())
                for (std::uint64_t i = range.start; i < range.start + range.length && i < writer->length(); ++i) {
                    auto a = reader->get(i);
                    auto b = writer->get(i);
                    require(a.ok() && b.ok() && *a == *b);
                }
        }
    }

    // A perfect channel from here on: the reader catches up unless it cut the writer off.
    for (int round = 0; round < 2000 && (!to_r.q.empty() || !to_w.q.empty() || !to_r.held.empty() ||
                                         !to_w.held.empty());
         ++round) {
        while (!to_r.held.empty()) {
            to_r.q.push_back(std::move(to_r.held.back()));
            to_r.held.pop_back();
        }
        while (!to_w.held.empty()) {
            to_w.q.push_back(std::move(to_w.held.back()));
            to_w.held.pop_back();
        }
        for (int i = 0; i < 10000 && (!to_r.q.empty() || !to_w.q.empty()); ++i) {
            deliver(to_r, mr, 3);
            deliver(to_w, mw, 3);
        }
        now += std::chrono::seconds(6);  // lost requests time out and go again
        w.tick(now);
        r.tick(now);
    }
    for (const auto& range : reader->present_ranges())
        for (std::uint64_t i = range.start; i < range.start + range.length; ++i)
            if (reader->fork() == writer->fork() && i < writer->length())
                require(*reader->get(i) == *writer->get(i));
    r.detach(rpid);
    w.detach(wp);
    return 0;
}
