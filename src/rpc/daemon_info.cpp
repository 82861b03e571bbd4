#include "rpc/daemon_info.h"

#include "common/wire/schema.h"

namespace hs::rpc {

constexpr auto schema_of(std::type_identity<DaemonInfoResponse>) {
    using D = DaemonInfoResponse;
    return wire::schema("DaemonInfoResponse", wire::field(101, &D::storage),
                        wire::field(102, &D::endpoint), wire::field(103, &D::cores),
                        wire::field(104, &D::peers), wire::field(105, &D::version),
                        wire::field(106, &D::clients), wire::field(107, &D::memory_only),
                        wire::field(108, &D::pid));
}

namespace {

// The RPC rules, except that the fields come inside a HyperspaceStatusResponse payload: every
// field of it is unknown here, one of ours with another wire type is skipped like an unknown
// field, and none of ours is required (presence is checked below).
constexpr wire::Dialect kDaemonInfo{.name = "rpc message",
                                    .bools = wire::BoolRule::Varint,
                                    .mismatch = wire::WireMismatch::SkipAsUnknown,
                                    .text = wire::TextRule::ReplaceInvalidUtf8,
                                    .check_required = false};

}  // namespace

void DaemonInfoResponse::encode_to(Bytes& out) const { wire::encode<kDaemonInfo>(*this, out); }

std::size_t DaemonInfoResponse::encoded_size() const { return wire::encoded_size(*this); }

Result<DaemonInfoResponse> DaemonInfoResponse::decode(ByteView& in) {
    std::uint64_t found = 0;
    auto out = wire::decode<kDaemonInfo, DaemonInfoResponse>(in, &found);
    if (!out) return out;
    in = in.subspan(in.size());
    if (found == 0) return make_error(Errc::NotFound, "the status carries no daemon information");
    return out;
}

}  // namespace hs::rpc
