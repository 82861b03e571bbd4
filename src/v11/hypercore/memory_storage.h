// A Storage (storage.h) in memory: for tests, fuzzing and cores that need no files. Each commit
// applies a whole Batch or (when told to fail) nothing. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>

#include "v11/hypercore/bitfield.h"
#include "v11/hypercore/storage.h"

namespace hs::v11::hypercore {

class MemoryStorage final : public Storage {
public:
    explicit MemoryStorage(CoreHeader header = {}) : m_header(std::move(header)) {}

    const CoreHeader& header() const override { return m_header; }
    Result<std::optional<TreeNode>> node(std::uint64_t index) override;
    Result<std::optional<Bytes>> block(std::uint64_t index, std::uint64_t byte_offset, std::uint64_t size) override;
    Result<std::vector<BitRange>> present() override;
    Result<void> commit(const Batch& batch) override;
    Result<void> flush() override;

    // The n-th commit from now (1 = the next one) fails with Errc::Io and changes nothing;
    // 0 disarms. Only that one fails.
    void fail_commit(std::uint64_t n) noexcept { m_fail_in = n; }
    // Likewise for flush().
    void fail_flush(bool fail) noexcept { m_fail_flush = fail; }
    std::uint64_t commits() const noexcept { return m_commits; }

    const std::map<std::uint64_t, TreeNode>& nodes() const noexcept { return m_nodes; }
    const std::map<std::uint64_t, Bytes>& blocks() const noexcept { return m_blocks; }
    const Bitfield& bits() const noexcept { return m_bits; }

private:
    CoreHeader m_header;
    std::map<std::uint64_t, TreeNode> m_nodes;
    std::map<std::uint64_t, Bytes> m_blocks;
    Bitfield m_bits;
    std::uint64_t m_fail_in = 0;
    bool m_fail_flush = false;
    std::uint64_t m_commits = 0;
};

}  // namespace hs::v11::hypercore
