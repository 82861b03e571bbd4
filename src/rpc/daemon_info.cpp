#include "rpc/daemon_info.h"

#include "rpc/pb.h"

namespace hs::rpc {
namespace {

void put_string(Bytes& out, std::uint32_t field, const std::string& s) {
    pb::put_tag(out, field, pb::WireType::LengthDelimited);
    pb::put_length_delimited(out, as_bytes(s));
}
void put_varint(Bytes& out, std::uint32_t field, std::uint64_t v) {
    pb::put_tag(out, field, pb::WireType::Varint);
    varint::encode(out, v);
}

}  // namespace

void DaemonInfoResponse::encode_to(Bytes& out) const {
    put_string(out, 101, storage);
    put_string(out, 102, endpoint);
    put_varint(out, 103, cores);
    put_varint(out, 104, peers);
    put_string(out, 105, version);
    put_varint(out, 106, clients);
    pb::put_tag(out, 107, pb::WireType::Varint);
    pb::put_bool(out, memory_only);
    put_varint(out, 108, pid);
}

std::size_t DaemonInfoResponse::encoded_size() const {
    std::size_t n = 0;
    for (std::uint32_t f = 101; f <= 108; ++f) n += pb::tag_size(f);
    return n + pb::length_delimited_size(storage.size()) +
           pb::length_delimited_size(endpoint.size()) + varint::encoding_length(cores) +
           varint::encoding_length(peers) + pb::length_delimited_size(version.size()) +
           varint::encoding_length(clients) + 1 + varint::encoding_length(pid);
}

Result<DaemonInfoResponse> DaemonInfoResponse::decode(ByteView& in) {
    pb::Reader r(in);
    DaemonInfoResponse out;
    bool any = false;
    while (!r.done()) {
        HS_ASSIGN_OR_RETURN(const pb::Tag tag, r.read_tag());
        const bool text = tag.wire == pb::WireType::LengthDelimited;
        const bool number = tag.wire == pb::WireType::Varint;
        const bool ours = tag.field >= 101 && tag.field <= 108;
        if (ours && text && tag.field == 101) {
            HS_ASSIGN_OR_RETURN(out.storage, r.read_string());
        } else if (ours && text && tag.field == 102) {
            HS_ASSIGN_OR_RETURN(out.endpoint, r.read_string());
        } else if (ours && number && tag.field == 103) {
            HS_ASSIGN_OR_RETURN(out.cores, r.read_varint());
        } else if (ours && number && tag.field == 104) {
            HS_ASSIGN_OR_RETURN(out.peers, r.read_varint());
        } else if (ours && text && tag.field == 105) {
            HS_ASSIGN_OR_RETURN(out.version, r.read_string());
        } else if (ours && number && tag.field == 106) {
            HS_ASSIGN_OR_RETURN(out.clients, r.read_varint());
        } else if (ours && number && tag.field == 107) {
            HS_ASSIGN_OR_RETURN(out.memory_only, r.read_bool());
        } else if (ours && number && tag.field == 108) {
            HS_ASSIGN_OR_RETURN(out.pid, r.read_varint());
        } else {
            HS_TRY(r.skip(tag.wire));
            continue;
        }
        any = true;
    }
    in = in.subspan(in.size());
    if (!any) return make_error(Errc::NotFound, "the status carries no daemon information");
    return out;
}

}  // namespace hs::rpc
