// A fault-injecting decorator over any StorageProvider (in the spirit of LevelDB's
// fault-injecting Env): counts the writes to each file of a core and fails the n-th one, either
// cleanly (nothing written), torn (the first half written, then the error) or from then on
// (every later write of that file fails too, as a disk that stays full does).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "v9/hypercore/random_access.h"

namespace hs::testutil {

enum class FaultMode {
    Clean,       // the n-th write writes nothing and fails
    Torn,        // the n-th write writes the first half of its bytes and fails
    Persistent,  // the n-th write and every later write (and truncate) of the file fail
};

// Shared by the provider and every file it opens, so it outlives reopening.
struct FaultPlan {
    std::string file;        // "data", "tree", "signatures", "bitfield"; empty: no fault
    std::uint64_t fail_at = 0;  // 1-based index of the write (write/write_parts call) to fail
    FaultMode mode = FaultMode::Clean;
    bool armed = true;       // false: count but never fail (a dry run)
    std::map<std::string, std::uint64_t, std::less<>> writes;  // writes seen per file
    std::uint64_t injected = 0;                                 // faults injected so far

    // True if this write of `name` must fail.
    bool should_fail(const std::string& name) {
        const std::uint64_t n = ++writes[name];
        if (!armed || name != file || fail_at == 0) return false;
        const bool hit = mode == FaultMode::Persistent ? n >= fail_at : n == fail_at;
        if (hit) ++injected;
        return hit;
    }
    bool failing_now(const std::string& name) const {
        if (!armed || name != file || mode != FaultMode::Persistent) return false;
        const auto it = writes.find(name);
        return it != writes.end() && it->second >= fail_at;
    }
};

class FaultFile final : public hypercore::RandomAccess {
public:
    FaultFile(std::unique_ptr<hypercore::RandomAccess> inner, std::string file,
              std::shared_ptr<FaultPlan> plan)
        : m_inner(std::move(inner)), m_file(std::move(file)), m_plan(std::move(plan)) {}

    Result<std::size_t> read(std::uint64_t offset, MutableByteView out) override {
        return m_inner->read(offset, out);
    }
    Status write(std::uint64_t offset, ByteView data) override {
        if (m_plan->should_fail(m_file)) return inject(offset, data);
        return m_inner->write(offset, data);
    }
    Status write_parts(std::uint64_t offset, std::span<const ByteView> parts) override {
        if (m_plan->should_fail(m_file)) {
            Bytes all;
            for (auto p : parts) all.insert(all.end(), p.begin(), p.end());
            return inject(offset, all);
        }
        return m_inner->write_parts(offset, parts);
    }
    Result<std::uint64_t> size() override { return m_inner->size(); }
    Status truncate(std::uint64_t size) override {
        if (m_plan->failing_now(m_file))
            return make_error(Errc::Io, "cannot truncate {}: injected fault (file stays failing)", name());
        return m_inner->truncate(size);
    }
    Status sync() override { return m_inner->sync(); }
    const std::string& name() const override { return m_inner->name(); }

private:
    Status inject(std::uint64_t offset, ByteView data) {
        if (m_plan->mode == FaultMode::Torn && data.size() > 1)
            (void)m_inner->write(offset, data.first(data.size() / 2));
        return make_error(Errc::Io, "cannot write {}: No space left on device (injected fault)", name());
    }

    std::unique_ptr<hypercore::RandomAccess> m_inner;
    std::string m_file;
    std::shared_ptr<FaultPlan> m_plan;
};

class FaultStorage final : public hypercore::StorageProvider {
public:
    FaultStorage(std::unique_ptr<hypercore::StorageProvider> inner, std::shared_ptr<FaultPlan> plan)
        : m_inner(std::move(inner)), m_plan(std::move(plan)) {}

    Result<std::unique_ptr<hypercore::RandomAccess>> open(std::string_view file) override {
        HS_ASSIGN_OR_RETURN(auto f, m_inner->open(file));
        return std::unique_ptr<hypercore::RandomAccess>(
            std::make_unique<FaultFile>(std::move(f), std::string(file), m_plan));
    }
    Status destroy() override { return m_inner->destroy(); }
    std::string describe() const override { return m_inner->describe(); }
    bool read_only() const noexcept override { return m_inner->read_only(); }

private:
    std::unique_ptr<hypercore::StorageProvider> m_inner;
    std::shared_ptr<FaultPlan> m_plan;
};

}  // namespace hs::testutil
