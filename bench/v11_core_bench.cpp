// hs_v11_core_bench: append and get throughput of a second-generation core on disk (Core over
// FileStorage), the C++ half of bench/v11_core_bench.js (which runs the same workload on JS
// hypercore 11.37.1 and prints ratios), and the memory of one process holding many open cores.
//
// Throughput mode (the default). For each block size it runs `--warmup` untimed then `--reps`
// timed repetitions, each on a fresh core in a new folder under `--tmp`:
//   append1    N blocks, one append() per block
//   append100  N blocks, `--batch` blocks per append() (N must be a multiple of the batch)
//   get_seq    get(0) .. get(N-1) on the append100 core, still open (page cache warm)
//   get_rand   get() of the same N indices in a seeded shuffled order
// The core is what JS `new Hypercore(dir, { keyPair })` makes: the default signer manifest
// (version 1, one Ed25519 signer, key = the manifest hash, not compat) signed with the key pair of
// `--seed`, so the final tree hash and signature equal JS's for the same blocks. Nothing fsyncs (JS does not either between
// appends). Untimed checks: every get() is compared with the block written, and a few gets'
// BLAKE2b digests are reported. The floor: the same workload's BLAKE2b of each block (as a leaf
// hash: type byte, u64 size, data) plus one Ed25519 signature per append call, done directly with
// libsodium, i.e. what no implementation of the format can avoid.
//
// Memory mode (`--memory DIR --cores N`): one Corestore in DIR, N cores opened by name
// ("core-0" ..), one 1 KiB block appended to each, all handles kept open (max_open_cores > N);
// prints {rss_before, rss_after, seconds, cores} (VmRSS in bytes; malloc_trim(0) runs before each
// reading so freed heap pages the allocator still holds are not counted, on either reading).
//
// Replication floor mode (`--replication-floor`, used by bench/replication_bench.js
// --generation 11): for each --sizes workload, one thread does what every replicated block needs
// at least, once per block: XChaCha20-Poly1305 secretstream push (the sender) and pull (the
// receiver) and the BLAKE2b leaf hash (the receiver's proof check); prints {floor: [{block_bytes,
// blocks, median_s, blocks_per_s, mb_per_s}]}. Signatures (one per upgrade, not per block) and
// the merkle parents are left out.
//
// Plain steady_clock timing rather than Google Benchmark: the JS driver needs a fixed workload.

#include <malloc.h>
#include <sodium.h>

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

#include "common/crypto/blake2b.h"
#include "common/crypto/sign.h"
#include "common/util/hex.h"
#include "lib/blocks.h"
#include "v11/corestore/corestore.h"
#include "v11/hypercore/core.h"
#include "v11/hypercore/manifest.h"
#include "v11/storage/file_storage.h"

namespace hs::bench {
namespace {

namespace hc = v11::hypercore;
namespace st = v11::storage;

struct Workload {
    std::size_t block_bytes = 0;
    std::uint64_t blocks = 0;
};

struct Options {
    std::filesystem::path tmp;
    std::vector<Workload> workloads;
    std::size_t batch = 100;
    int reps = 3;
    int warmup = 1;
    std::string seed_hex = std::string(64, '0');
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "hs_v11_core_bench: %s\n", what.c_str());
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
        std::filesystem::create_directories(m_path.parent_path());
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

// A core with the default manifest of `kp` in a new folder: what JS `new Hypercore(dir, { keyPair })`
// makes (hypercore 11's constructor passes compat only when asked for).
std::unique_ptr<hc::Core> create_core(const std::filesystem::path& dir, st::FileCache& cache, const hc::KeyPair& kp) {
    st::FileStorageOptions o;
    o.cache = &cache;
    auto storage = must(st::FileStorage::create(dir, hc::CoreHeader{}, o), "create storage");
    return must(hc::Core::create(std::move(storage), hc::default_manifest(kp.public_key), kp),
                "create core");
}

nlohmann::json head_json(const hc::Core& core) {
    return {{"tree_hash", to_hex(core.head().root_hash)}, {"signature", to_hex(core.head().signature)}};
}

nlohmann::json row(const std::string& name, const Workload& w, std::size_t batch, const std::vector<double>& samples) {
    const double s = median(samples);
    return {{"case", name},
            {"block_bytes", w.block_bytes},
            {"blocks", w.blocks},
            {"batch", batch},
            {"samples_s", samples},
            {"median_s", s},
            {"blocks_per_s", static_cast<double>(w.blocks) / s},
            {"mib_per_s", static_cast<double>(w.blocks * w.block_bytes) / s / (1 << 20)}};
}

class Runner {
public:
    Runner(const Options& options, const Workload& w, const hc::KeyPair& kp)
        : m_options(options), m_w(w), m_kp(kp), m_data(w.block_bytes * w.blocks), m_order(shuffled(w.blocks)) {
        for (std::uint64_t i = 0; i < w.blocks; ++i) fill_block(i, block_mut(i));
    }

    void run_rep(int rep) {
        const bool first = rep == 0;
        const bool timed = rep >= m_options.warmup;
        const std::string tag = std::to_string(m_w.block_bytes) + "-" + std::to_string(rep);
        st::FileCache cache;
        {
            BenchDir dir(m_options.tmp, "hs-append1-" + tag);
            auto core = create_core(dir.path(), cache, m_kp);
            const auto start = Clock::now();
            const double cpu = cpu_seconds();
            for (std::uint64_t i = 0; i < m_w.blocks; ++i) {
                const ByteView b = block(i);
                (void)must(core->append(std::span<const ByteView>(&b, 1)), "append");
            }
            const double s = seconds_since(start);
            if (timed) m_samples["append1"].push_back(s);
            if (timed) m_cpu["append1"].push_back(cpu_seconds() - cpu);
            if (first) m_check["append1"] = head_json(*core);
        }
        BenchDir dir(m_options.tmp, "hs-append100-" + tag);
        auto core = create_core(dir.path(), cache, m_kp);
        std::vector<ByteView> batch(m_options.batch);
        auto start = Clock::now();
        const double cpu = cpu_seconds();
        for (std::uint64_t i = 0; i < m_w.blocks; i += m_options.batch) {
            for (std::size_t k = 0; k < m_options.batch; ++k) batch[k] = block(i + k);
            (void)must(core->append(batch), "append batch");
        }
        const double append_s = seconds_since(start);
        if (timed) m_samples["append100"].push_back(append_s);
        if (timed) m_cpu["append100"].push_back(cpu_seconds() - cpu);

        for (const char* name : {"get_seq", "get_rand"}) {
            const bool seq = std::string(name) == "get_seq";
            std::uint64_t got = 0;
            start = Clock::now();
            for (std::uint64_t k = 0; k < m_w.blocks; ++k) got += must(core->get(seq ? k : m_order[k]), "get").size();
            if (timed) m_samples[name].push_back(seconds_since(start));
            if (got != m_w.blocks * m_w.block_bytes) die(std::string(name) + " returned the wrong total size");
        }
        if (first) {
            for (std::uint64_t i = 0; i < m_w.blocks; ++i) {
                const Bytes got = must(core->get(i), "get");
                if (!std::equal(got.begin(), got.end(), block(i).begin(), block(i).end()))
                    die("get(" + std::to_string(i) + ") returned different bytes than appended");
            }
            nlohmann::json c = head_json(*core);
            nlohmann::json samples = nlohmann::json::object();
            for (auto i : sample_indices())
                samples[std::to_string(i)] = to_hex(crypto::blake2b_256(must(core->get(i), "get")));
            c["get_blake2b"] = samples;
            m_check["append100"] = c;
        }
    }

    // The floor of both append cases: leaf hashes of every block, one signature per call.
    void run_floor() {
        std::uint8_t signable[80] = {};
        for (const std::size_t per_call : {std::size_t{1}, m_options.batch}) {
            std::vector<double> samples;
            for (int rep = 0; rep < m_options.warmup + m_options.reps; ++rep) {
                const auto start = Clock::now();
                for (std::uint64_t i = 0; i < m_w.blocks; i += per_call) {
                    for (std::size_t k = 0; k < per_call; ++k) {
                        const ByteView b = block(i + k);
                        crypto::Blake2b h;
                        std::uint8_t size[8];
                        for (int j = 0; j < 8; ++j) size[j] = static_cast<std::uint8_t>(b.size() >> (8 * j));
                        const auto leaf = h.update(std::uint8_t{0}).update(ByteView(size, 8)).update(b).final32();
                        signable[k % 32] ^= leaf[0];  // keep the hash live
                    }
                    const auto sig = crypto::sign_detached(ByteView(signable, sizeof signable), m_kp.secret_key);
                    signable[79] ^= sig[0];
                }
                if (rep >= m_options.warmup) samples.push_back(seconds_since(start));
            }
            m_floor.push_back(row(per_call == 1 ? "append1" : "append100", m_w, per_call, samples));
        }
    }

    nlohmann::json results() const {
        nlohmann::json out = nlohmann::json::array();
        for (const char* name : {"append1", "append100", "get_seq", "get_rand"}) {
            const auto& samples = m_samples.at(name);
            nlohmann::json r = row(name, m_w, std::string(name) == "append100" ? m_options.batch : 1, samples);
            if (auto c = m_cpu.find(name); c != m_cpu.end())
                r["cpu_us_per_block"] = median(c->second) / static_cast<double>(m_w.blocks) * 1e6;
            out.push_back(std::move(r));
        }
        return out;
    }
    const nlohmann::json& floor() const { return m_floor; }
    const nlohmann::json& check() const { return m_check; }

private:
    ByteView block(std::uint64_t i) const { return ByteView(m_data).subspan(i * m_w.block_bytes, m_w.block_bytes); }
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

    const Options& m_options;
    Workload m_w;
    hc::KeyPair m_kp;
    Bytes m_data;
    std::vector<std::uint64_t> m_order;
    std::map<std::string, std::vector<double>> m_samples;
    std::map<std::string, std::vector<double>> m_cpu;
    nlohmann::json m_floor = nlohmann::json::array();
    nlohmann::json m_check = nlohmann::json::object();
};

// VmRSS in bytes, after handing freed heap back to the kernel.
std::uint64_t rss_bytes() {
    ::malloc_trim(0);
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    die("no VmRSS in /proc/self/status");
}

// Heap bytes in use (allocated and not freed), from glibc.
std::uint64_t heap_in_use() { return ::mallinfo2().uordblks; }

int run_memory(const std::filesystem::path& dir, std::size_t cores) {
    std::filesystem::remove_all(dir);
    const std::uint64_t before = rss_bytes();
    const std::uint64_t heap_before = heap_in_use();
    v11::corestore::CorestoreOptions o;
    o.max_open_cores = cores + 1;
    auto store = must(v11::corestore::Corestore::open(dir, o), "open corestore");
    std::vector<v11::corestore::CoreHandle> handles;
    handles.reserve(cores);
    Bytes block(1024, 7);
    const ByteView b(block);
    const auto start = Clock::now();
    for (std::size_t i = 0; i < cores; ++i) {
        const std::string name = "core-" + std::to_string(i);
        handles.push_back(must(store->open_by_name(as_bytes(name)), "open core"));
        auto* core = must(handles.back().core(), "open core");
        (void)must(core->append(std::span<const ByteView>(&b, 1)), "append");
    }
    const double seconds = seconds_since(start);
    const std::uint64_t after = rss_bytes();
    const std::uint64_t heap_after = heap_in_use();
    if (store->open_cores() != cores) die("the corestore closed cores it was asked to keep open");
    nlohmann::json doc = {{"impl", "hs"},
                          {"rss_before", before},
                          {"rss_after", after},
                          {"seconds", seconds},
                          {"cores", handles.size()},
                          {"heap_before", heap_before},
                          {"heap_after", heap_after},
                          {"open_files", store->file_cache().open_count()},
                          {"malloc_trim", true}};
    std::printf("%s\n", doc.dump().c_str());
    handles.clear();
    store.reset();
    std::filesystem::remove_all(dir);
    return 0;
}

crypto::Hash32 leaf_hash(ByteView b) {
    std::uint8_t size[8];
    for (int j = 0; j < 8; ++j) size[j] = static_cast<std::uint8_t>(b.size() >> (8 * j));
    return crypto::Blake2b().update(std::uint8_t{0}).update(ByteView(size, 8)).update(b).final32();
}

int run_replication_floor(const Options& o) {
    nlohmann::json floor = nlohmann::json::array();
    for (const auto& w : o.workloads) {
        Bytes data(w.block_bytes);
        fill_block(0, data);
        Bytes cipher(w.block_bytes + crypto_secretstream_xchacha20poly1305_ABYTES), plain(w.block_bytes);
        unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
        unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
        crypto_secretstream_xchacha20poly1305_keygen(key);
        std::vector<double> samples;
        std::uint8_t sink = 0;
        for (int rep = 0; rep < o.warmup + o.reps; ++rep) {
            crypto_secretstream_xchacha20poly1305_state push, pull;
            crypto_secretstream_xchacha20poly1305_init_push(&push, header, key);
            crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key);
            const auto start = Clock::now();
            for (std::uint64_t i = 0; i < w.blocks; ++i) {
                data[0] = static_cast<std::uint8_t>(i);
                crypto_secretstream_xchacha20poly1305_push(&push, cipher.data(), nullptr, data.data(), data.size(),
                                                           nullptr, 0, 0);
                unsigned char tag = 0;
                if (crypto_secretstream_xchacha20poly1305_pull(&pull, plain.data(), nullptr, &tag, cipher.data(),
                                                               cipher.size(), nullptr, 0) != 0)
                    die("secretstream pull failed");
                sink ^= leaf_hash(plain)[0];
            }
            if (rep >= o.warmup) samples.push_back(seconds_since(start));
        }
        nlohmann::json r = row("replication", w, 1, samples);
        r["mb_per_s"] = static_cast<double>(w.blocks * w.block_bytes) / median(samples) / 1e6;
        r["sink"] = sink;
        floor.push_back(std::move(r));
    }
    nlohmann::json doc = {{"impl", "hs"}, {"version", HS_VERSION}, {"floor", floor}};
    std::printf("%s\n", doc.dump().c_str());
    return 0;
}

Workload parse_workload(const std::string& s) {
    const auto colon = s.find(':');
    if (colon == std::string::npos) throw CLI::ValidationError("--sizes", "expected BYTES:BLOCKS, got " + s);
    Workload w;
    w.block_bytes = std::stoull(s.substr(0, colon));
    w.blocks = std::stoull(s.substr(colon + 1));
    if (w.block_bytes == 0 || w.blocks < 2) throw CLI::ValidationError("--sizes", "need BYTES >= 1, BLOCKS >= 2");
    return w;
}

int run(int argc, char** argv) {
    Options o;
    std::vector<std::string> sizes = {"1024:20000", "65536:3000"};
    std::string tmp, memory_dir;
    std::size_t cores = 10000;
    CLI::App app{"Append/get throughput of a second-generation core, or the memory of open cores (JSON on stdout)"};
    app.add_option("--tmp", tmp, "Folder for the cores (default: the system temp folder)");
    app.add_option("--sizes", sizes, "BYTES:BLOCKS workloads")->delimiter(',');
    app.add_option("--batch", o.batch, "Blocks per append() in append100")->check(CLI::Range(1, 100000));
    app.add_option("--reps", o.reps, "Repetitions per case (the median is reported)")->check(CLI::Range(1, 100));
    app.add_option("--warmup", o.warmup, "Untimed repetitions before the timed ones")->check(CLI::Range(0, 100));
    app.add_option("--seed", o.seed_hex, "Key pair seed, 64 hex chars");
    app.add_option("--memory", memory_dir, "Memory mode: a corestore folder to create (removed afterwards)");
    bool replication_floor = false;
    app.add_flag("--replication-floor", replication_floor,
                 "Replication floor mode: secretstream push + pull + BLAKE2b leaf hash per block of --sizes");
    app.add_option("--cores", cores, "Memory mode: cores to open")->check(CLI::Range(std::size_t{0}, std::size_t{10000000}));
    try {
        app.parse(argc, argv);
        for (const auto& s : sizes) o.workloads.push_back(parse_workload(s));
        for (const auto& w : o.workloads)
            if (w.blocks % o.batch != 0) throw CLI::ValidationError("--sizes", "BLOCKS must be a multiple of --batch");
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    crypto::ensure_sodium();
    if (!memory_dir.empty()) return run_memory(memory_dir, cores);
    if (replication_floor) return run_replication_floor(o);

    const auto seed = from_hex(o.seed_hex);
    if (!seed || seed->size() != 32) die("--seed must be 64 hex characters");
    o.tmp = tmp.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(tmp);
    const auto ckp = crypto::keypair_from_seed(*seed);
    const hc::KeyPair kp{ckp.public_key, ckp.secret_key};
    nlohmann::json results = nlohmann::json::array();
    nlohmann::json floor = nlohmann::json::array();
    nlohmann::json checks = nlohmann::json::object();
    for (const auto& w : o.workloads) {
        Runner runner(o, w, kp);
        for (int rep = 0; rep < o.warmup + o.reps; ++rep) runner.run_rep(rep);
        runner.run_floor();
        for (auto& r : runner.results()) results.push_back(std::move(r));
        for (const auto& r : runner.floor()) floor.push_back(r);
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
                          {"floor", floor},
                          {"check", checks}};
    std::printf("%s\n", doc.dump().c_str());
    return 0;
}

}  // namespace
}  // namespace hs::bench

int main(int argc, char** argv) { return hs::bench::run(argc, argv); }
