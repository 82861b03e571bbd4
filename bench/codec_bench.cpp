// Micro-benchmark of the hypercore-protocol Data message codec: encode and decode of one block
// with a typical proof (bench/README.md "Codec"). Prints ns per message; asserts nothing.
#include <benchmark/benchmark.h>

#include "v9/protocol/messages.h"

namespace {

using hs::Bytes;
using hs::ByteView;
namespace msg = hs::protocol::msg;

msg::Data make_data(std::size_t block_bytes) {
    msg::Data d;
    d.index = 123456;
    d.value = Bytes(block_bytes, 0xab);
    for (std::uint64_t i = 0; i < 20; ++i) d.nodes.push_back(msg::Node{i * 2, Bytes(32, 7), 4096});
    d.signature = Bytes(64, 9);
    return d;
}

void BM_DataEncode(benchmark::State& state) {
    const msg::Data d = make_data(static_cast<std::size_t>(state.range(0)));
    Bytes out;
    for (auto _ : state) {
        out.clear();
        d.encode_to(out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_DataEncode)->Arg(64)->Arg(65536);

void BM_DataDecode(benchmark::State& state) {
    Bytes body;
    make_data(static_cast<std::size_t>(state.range(0))).encode_to(body);
    for (auto _ : state) {
        ByteView in = body;
        auto m = msg::Data::decode(in);
        if (!m) state.SkipWithError("decode failed");
        benchmark::DoNotOptimize(m);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DataDecode)->Arg(64)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();
