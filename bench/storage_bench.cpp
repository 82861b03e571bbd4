// hs_storage_bench: append and get throughput of an on-disk Feed, the C++ half of
// bench/storage_bench.js (which runs the same workload on JS hypercore 9.12 and prints ratios).
//
// For each block size it runs, `--warmup` untimed then `--reps` timed times, each on a fresh
// feed in a new folder under `--tmp`:
//   append1    N blocks, one append() per block
//   append100  N blocks, `--batch` blocks per append() (N must be a multiple of the batch)
//   get_seq    get(0) .. get(N-1) on the append100 feed, still open (page cache warm)
//   get_rand   get() of the same N indices in a seeded shuffled order
// and prints one JSON document on stdout (schema in bench/README.md). Nothing fsyncs, as in
// hypercore 9 with random-access-file. Untimed checks: every get() is compared with the block
// written, and the SLEEP files' BLAKE2b digests are reported so the driver can compare them
// with the files JS wrote for the same blocks and key (they must be byte-identical).
//
// Block contents and the shuffle come from xorshift32 and are defined in bench/README.md;
// storage_bench.js generates the same bytes.
//
// Plain steady_clock timing rather than Google Benchmark: the JS driver needs a fixed workload
// (the same N on both sides), not an adaptive iteration count.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "lib/blocks.h"
#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "v9/hypercore/feed.h"
#include "v9/hypercore/random_access.h"
#include "common/util/hex.h"

namespace hs::bench {
namespace {

using hypercore::Feed;

// The SLEEP files whose digests are compared with JS.
constexpr const char* kSleepFiles[] = {"data", "tree", "signatures", "bitfield", "key"};

struct Workload {
    std::size_t block_bytes = 0;
    std::uint64_t blocks = 0;
};

struct Options {
    std::filesystem::path tmp;
    std::vector<Workload> workloads;
    std::size_t batch = 100;
    int reps = 3;
    int warmup = 1;  // untimed repetitions first (checks run in the very first one)
    std::string seed_hex = std::string(64, '0');
    std::vector<std::string> cases = {"append1", "append100", "get_seq", "get_rand"};
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "hs_storage_bench: %s\n", what.c_str());
    std::exit(1);
}

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    return std::move(r).value();
}

class BenchDir {
public:
    BenchDir(const std::filesystem::path& base, const std::string& name) : m_path(base / name) {
        std::filesystem::remove_all(m_path);
        std::filesystem::create_directories(m_path);
    }
    ~BenchDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    BenchDir(const BenchDir&) = delete;
    BenchDir& operator=(const BenchDir&) = delete;
    const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

std::unique_ptr<Feed> open_feed(const std::filesystem::path& dir, const crypto::KeyPair& kp) {
    hypercore::FeedOptions o;
    o.key = kp.public_key;
    o.secret_key = kp.secret_key;
    return must(Feed::open(hypercore::directory_storage(dir), o), "open feed");
}

nlohmann::json file_digests(const std::filesystem::path& dir) {
    nlohmann::json out = nlohmann::json::object();
    for (const char* name : kSleepFiles) {
        std::ifstream in(dir / name, std::ios::binary);
        if (!in) continue;
        crypto::Blake2b h;
        std::vector<char> buf(1 << 20);
        while (in) {
            in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
            const auto n = static_cast<std::size_t>(in.gcount());
            h.update(ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), n));
        }
        out[name] = to_hex(h.final32());
    }
    return out;
}

class Runner {
public:
    Runner(const Options& options, const Workload& w, const crypto::KeyPair& kp)
        : m_options(options),
          m_w(w),
          m_kp(kp),
          m_data(w.block_bytes * w.blocks),
          m_order(shuffled(w.blocks)) {
        for (std::uint64_t i = 0; i < w.blocks; ++i) fill_block(i, block_mut(i));
    }

    bool wants(const std::string& name) const {
        return std::find(m_options.cases.begin(), m_options.cases.end(), name) !=
               m_options.cases.end();
    }

    // Repetition `rep` of warmup + reps; the first `warmup` ones are not recorded.
    void run_rep(int rep) {
        const bool first = rep == 0;
        const bool timed = rep >= m_options.warmup;
        const std::string tag = std::to_string(m_w.block_bytes) + "-" + std::to_string(rep);
        if (wants("append1")) {
            BenchDir dir(m_options.tmp, "hs-append1-" + tag);
            auto feed = open_feed(dir.path(), m_kp);
            const auto start = Clock::now();
            const double cpu = cpu_seconds();
            for (std::uint64_t i = 0; i < m_w.blocks; ++i)
                (void)must(feed->append(block(i)), "append");
            const double s = seconds_since(start);
            if (timed) m_samples["append1"].push_back(s);
            if (timed) m_cpu["append1"].push_back(cpu_seconds() - cpu);
            if (first) {
                m_check["append1"]["signature"] = final_signature(*feed);
                feed.reset();
                m_check["append1"]["files"] = file_digests(dir.path());
            }
        }
        const bool need_feed = wants("append100") || wants("get_seq") || wants("get_rand");
        if (!need_feed) return;
        BenchDir dir(m_options.tmp, "hs-append100-" + tag);
        auto feed = open_feed(dir.path(), m_kp);
        std::vector<ByteView> batch(m_options.batch);
        const auto start = Clock::now();
        const double cpu = cpu_seconds();
        for (std::uint64_t i = 0; i < m_w.blocks; i += m_options.batch) {
            for (std::size_t k = 0; k < m_options.batch; ++k) batch[k] = block(i + k);
            (void)must(feed->append(batch), "append batch");
        }
        const double append_s = seconds_since(start);
        if (timed && wants("append100")) m_samples["append100"].push_back(append_s);
        if (timed && wants("append100")) m_cpu["append100"].push_back(cpu_seconds() - cpu);

        if (wants("get_seq")) {
            std::uint64_t sink = 0;
            const auto t = Clock::now();
            for (std::uint64_t i = 0; i < m_w.blocks; ++i) sink += must(feed->get(i), "get").size();
            if (timed) m_samples["get_seq"].push_back(seconds_since(t));
            if (sink != m_w.blocks * m_w.block_bytes) die("get_seq returned the wrong total size");
        }
        if (wants("get_rand")) {
            std::uint64_t sink = 0;
            const auto t = Clock::now();
            for (auto i : m_order) sink += must(feed->get(i), "get").size();
            if (timed) m_samples["get_rand"].push_back(seconds_since(t));
            if (sink != m_w.blocks * m_w.block_bytes) die("get_rand returned the wrong total size");
        }
        if (first) {
            // Untimed: every block reads back as written; digests of a few gets for the driver.
            for (std::uint64_t i = 0; i < m_w.blocks; ++i) {
                const Bytes got = must(feed->get(i), "get");
                if (!std::equal(got.begin(), got.end(), block(i).begin(), block(i).end()))
                    die("get(" + std::to_string(i) + ") returned different bytes than appended");
            }
            nlohmann::json samples = nlohmann::json::object();
            for (auto i : sample_indices())
                samples[std::to_string(i)] = to_hex(crypto::blake2b_256(must(feed->get(i), "get")));
            m_check["append100"]["get_blake2b"] = samples;
            m_check["append100"]["signature"] = final_signature(*feed);
            feed.reset();
            m_check["append100"]["files"] = file_digests(dir.path());
        }
    }

    nlohmann::json results() const {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& name : m_options.cases) {
            auto it = m_samples.find(name);
            if (it == m_samples.end()) continue;
            const double s = median(it->second);
            nlohmann::json row =
                {{"case", name},
                 {"block_bytes", m_w.block_bytes},
                 {"blocks", m_w.blocks},
                 {"batch", name == "append100" ? m_options.batch : 1},
                 {"samples_s", it->second},
                 {"median_s", s},
                 {"blocks_per_s", static_cast<double>(m_w.blocks) / s},
                 {"mib_per_s", static_cast<double>(m_w.blocks * m_w.block_bytes) / s / (1 << 20)}};
            // CPU time (appends only: gets are timed as a whole), per block
            if (auto c = m_cpu.find(name); c != m_cpu.end())
                row["cpu_us_per_block"] = median(c->second) / static_cast<double>(m_w.blocks) * 1e6;
            out.push_back(std::move(row));
        }
        return out;
    }

    const nlohmann::json& check() const { return m_check; }

private:
    ByteView block(std::uint64_t i) const {
        return ByteView(m_data).subspan(i * m_w.block_bytes, m_w.block_bytes);
    }
    MutableByteView block_mut(std::uint64_t i) {
        return MutableByteView(m_data).subspan(i * m_w.block_bytes, m_w.block_bytes);
    }
    std::vector<std::uint64_t> sample_indices() const {
        const std::uint64_t n = m_w.blocks;
        std::vector<std::uint64_t> v = {0, 1, n / 3, n / 2, n - 2, n - 1};
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
        return v;
    }
    std::string final_signature(Feed& feed) const {
        return to_hex(must(feed.signature(feed.length()), "signature"));
    }

    const Options& m_options;
    Workload m_w;
    crypto::KeyPair m_kp;
    Bytes m_data;
    std::vector<std::uint64_t> m_order;
    std::map<std::string, std::vector<double>> m_samples;
    std::map<std::string, std::vector<double>> m_cpu;  // CPU seconds of the append cases
    nlohmann::json m_check = nlohmann::json::object();
};

Workload parse_workload(const std::string& s) {
    const auto colon = s.find(':');
    if (colon == std::string::npos)
        throw CLI::ValidationError("--sizes", "expected BYTES:BLOCKS, got " + s);
    Workload w;
    w.block_bytes = std::stoull(s.substr(0, colon));
    w.blocks = std::stoull(s.substr(colon + 1));
    if (w.block_bytes == 0 || w.blocks < 2)
        throw CLI::ValidationError("--sizes", "need BYTES >= 1, BLOCKS >= 2");
    return w;
}

int run(int argc, char** argv) {
    Options o;
    std::vector<std::string> sizes = {"1024:20000", "65536:3000"};
    std::string tmp;
    CLI::App app{"Append/get throughput of an on-disk hypercore Feed (JSON on stdout)"};
    app.add_option("--tmp", tmp, "Folder for the feeds (default: the system temp folder)");
    app.add_option("--sizes", sizes, "BYTES:BLOCKS workloads")->delimiter(',');
    app.add_option("--batch", o.batch, "Blocks per append() in append100")
        ->check(CLI::Range(1, 100000));
    app.add_option("--reps", o.reps, "Repetitions per case (the median is reported)")
        ->check(CLI::Range(1, 100));
    app.add_option("--warmup", o.warmup, "Untimed repetitions before the timed ones")
        ->check(CLI::Range(0, 100));
    app.add_option("--seed", o.seed_hex, "Key pair seed, 64 hex chars");
    app.add_option("--cases", o.cases, "Cases to run")
        ->delimiter(',')
        ->check(CLI::IsMember({"append1", "append100", "get_seq", "get_rand"}));
    try {
        app.parse(argc, argv);
        for (const auto& s : sizes) o.workloads.push_back(parse_workload(s));
        for (const auto& w : o.workloads)
            if (w.blocks % o.batch != 0)
                throw CLI::ValidationError("--sizes", "BLOCKS must be a multiple of --batch");
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    const auto seed = from_hex(o.seed_hex);
    if (!seed || seed->size() != 32) die("--seed must be 64 hex characters");
    o.tmp = tmp.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(tmp);

    crypto::ensure_sodium();
    const auto kp = crypto::keypair_from_seed(*seed);
    nlohmann::json results = nlohmann::json::array();
    nlohmann::json checks = nlohmann::json::object();
    for (const auto& w : o.workloads) {
        Runner runner(o, w, kp);
        for (int rep = 0; rep < o.warmup + o.reps; ++rep) runner.run_rep(rep);
        for (auto& r : runner.results()) results.push_back(std::move(r));
        checks[std::to_string(w.block_bytes)] = runner.check();
    }
    nlohmann::json doc = {{"impl", "hs"},
                          {"version", HS_VERSION},
                          {"reps", o.reps},
                          {"warmup", o.warmup},
                          {"batch", o.batch},
                          {"tmp", o.tmp.string()},
                          {"public_key", to_hex(kp.public_key)},
                          {"results", results},
                          {"check", checks}};
    std::printf("%s\n", doc.dump().c_str());
    return 0;
}

}  // namespace
}  // namespace hs::bench

int main(int argc, char** argv) { return hs::bench::run(argc, argv); }
