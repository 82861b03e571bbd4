#include "v11/hypercore/memory_storage.h"

#include "common/util/flat_tree.h"

namespace hs::v11::hypercore {

Result<std::optional<TreeNode>> MemoryStorage::node(std::uint64_t index) {
    const auto it = m_nodes.find(index);
    if (it == m_nodes.end()) return std::optional<TreeNode>();
    return std::optional<TreeNode>(it->second);
}

Result<std::optional<Bytes>> MemoryStorage::block(std::uint64_t index, std::uint64_t, std::uint64_t size) {
    const auto it = m_blocks.find(index);
    if (it == m_blocks.end()) return std::optional<Bytes>();
    if (it->second.size() != size)
        return make_error(Errc::Corrupt, "memory storage: block {} holds {} bytes, the tree says {}", index,
                          it->second.size(), size);
    return std::optional<Bytes>(it->second);
}

Result<std::vector<BitRange>> MemoryStorage::present() { return m_bits.ranges(); }

Result<void> MemoryStorage::commit(const Batch& batch) {
    if (m_fail_in != 0 && --m_fail_in == 0)
        return make_error(Errc::Io, "memory storage: commit {} failed (injected)", m_commits + 1);
    ++m_commits;
    if (batch.truncate_to) {
        const std::uint64_t t = *batch.truncate_to;
        for (auto it = m_nodes.begin(); it != m_nodes.end();) {
            if (flat::right_span(it->first) >= 2 * t)
                it = m_nodes.erase(it);
            else
                ++it;
        }
        m_blocks.erase(m_blocks.lower_bound(t), m_blocks.end());
        m_bits.set_range(t, ~std::uint64_t{0} >> 1, false);
    }
    for (const auto& n : batch.nodes) m_nodes[n.index] = n;
    for (const auto& b : batch.blocks) m_blocks[b.index] = b.value;
    for (const auto& r : batch.bits) {
        m_bits.set_range(r.start, r.start + r.length, r.value);
        if (!r.value) m_blocks.erase(m_blocks.lower_bound(r.start), m_blocks.lower_bound(r.start + r.length));
    }
    if (batch.header) m_header = *batch.header;
    return {};
}

Result<void> MemoryStorage::flush() {
    if (m_fail_flush) return make_error(Errc::Io, "memory storage: flush failed (injected)");
    return {};
}

}  // namespace hs::v11::hypercore
