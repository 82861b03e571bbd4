// Test helper for crash_test: appends blocks to a named core forever, writing the acknowledged
// length (after each append returned) to stdout as one line per append.
#include <cstdio>
#include <string>

#include "v9/corestore/corestore.h"

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    auto store = hs::corestore::Corestore::open(argv[1]);
    if (!store) return 1;
    auto core = (*store)->get_by_name(hs::as_bytes("crash"));
    if (!core) return 1;
    for (std::uint64_t i = 0;; ++i) {
        const std::string block = "block-" + std::to_string(i) + std::string(i % 700, 'x');
        if (i % 3 == 0) {
            const hs::ByteView batch[] = {hs::as_bytes(block), hs::as_bytes(block), hs::as_bytes(block)};
            if (!(*core)->append(batch)) return 1;
        } else if (!(*core)->append(hs::as_bytes(block))) {
            return 1;
        }
        std::printf("%llu\n", static_cast<unsigned long long>((*core)->length()));
        std::fflush(stdout);
    }
}
