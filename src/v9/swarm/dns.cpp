#include "v9/swarm/dns.h"

#include <algorithm>
#include <type_traits>

namespace hs::swarm::dns {
namespace {

constexpr std::size_t kMinQuestionBytes = 5;  // root name + type + class
constexpr std::size_t kMinRecordBytes = 11;   // root name + type + class + ttl + rdlength

bool is_name_type(std::uint16_t t) noexcept {
    return t == type::kPtr || t == type::kCname || t == type::kNs || t == type::kDname;
}

void put_u16(Bytes& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(Bytes& out, std::uint32_t v) {
    put_u16(out, static_cast<std::uint16_t>(v >> 16));
    put_u16(out, static_cast<std::uint16_t>(v));
}
void put_u16_at(Bytes& out, std::size_t at, std::uint16_t v) noexcept {
    put_u16be(out.data() + at, v);
}
std::uint32_t get_u32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

// Reads names and fixed fields from one whole message. `pos` only moves forward; every read is
// bounds-checked first.
class Reader {
public:
    explicit Reader(ByteView message) : m_msg(message) {}

    std::size_t pos() const noexcept { return m_pos; }
    std::size_t left() const noexcept { return m_msg.size() - m_pos; }

    Result<std::uint16_t> u16(std::string_view what) {
        if (left() < 2) return truncated(what);
        const auto v = get_u16be(m_msg.data() + m_pos);
        m_pos += 2;
        return v;
    }
    Result<std::uint32_t> u32(std::string_view what) {
        if (left() < 4) return truncated(what);
        const auto v = get_u32(m_msg.data() + m_pos);
        m_pos += 4;
        return v;
    }

    // Decodes the name at pos() and moves past its in-place bytes (labels up to and including
    // the zero byte or the first compression pointer).
    Result<std::string> name() {
        std::string out;
        std::size_t p = m_pos;
        std::size_t piece_start = m_pos;  // pointers must point before this
        std::size_t label_bytes = 0;
        std::size_t in_place_end = 0;  // set once we jump
        bool jumped = false;
        int jumps = 0;
        for (;;) {
            if (p >= m_msg.size()) return error("name runs past the end of the packet");
            const std::uint8_t len = m_msg[p++];
            if (len == 0) break;
            if ((len & 0xc0) == 0) {
                if (len > m_msg.size() - p)
                    return error("name label runs past the end of the packet");
                label_bytes += std::size_t{len} + 1;
                if (label_bytes >= kMaxNameBytes) return error("name longer than 255 bytes");
                if (!out.empty()) out.push_back('.');
                out.append(reinterpret_cast<const char*>(m_msg.data() + p), len);
                p += len;
            } else if ((len & 0xc0) == 0xc0) {
                if (p >= m_msg.size()) return error("compression pointer runs past the end");
                const std::size_t target = (std::size_t{len & 0x3fu} << 8) | m_msg[p];
                if (target >= piece_start) return error("compression pointer does not point back");
                if (++jumps > kMaxPointerJumps) return error("too many compression pointers");
                if (!jumped) in_place_end = p + 1;
                jumped = true;
                p = target;
                piece_start = target;
            } else {
                return error("reserved label type");
            }
        }
        m_pos = jumped ? in_place_end : p;
        if (out.empty()) out.push_back('.');  // the root, as dns-packet names it
        return out;
    }

    // The next `n` bytes (REQUIRES: n <= left()).
    ByteView take(std::size_t n) {
        const ByteView v = m_msg.subspan(m_pos, n);
        m_pos += n;
        return v;
    }
    void seek(std::size_t pos) noexcept { m_pos = pos; }

    static Error error(std::string_view what) {
        return make_error(Errc::Protocol, "dns: {}", what);
    }

private:
    static Error truncated(std::string_view what) {
        return make_error(Errc::Protocol, "dns: packet truncated in {}", what);
    }

    ByteView m_msg;
    std::size_t m_pos = 0;
};

Result<Question> decode_question(Reader& r) {
    Question q;
    HS_ASSIGN_OR_RETURN(q.name, r.name());
    HS_ASSIGN_OR_RETURN(q.type, r.u16("question type"));
    HS_ASSIGN_OR_RETURN(const std::uint16_t klass, r.u16("question class"));
    q.klass = klass & 0x7fff;
    q.unicast_response = (klass & 0x8000) != 0;
    return q;
}

Result<RecordData> decode_rdata(Reader& r, std::uint16_t t, std::size_t rdlen) {
    const std::size_t start = r.pos();
    const std::size_t end = start + rdlen;
    switch (t) {
        case type::kA: {
            if (rdlen != 4) return Reader::error("A record data is not 4 bytes");
            AData a;
            const ByteView v = r.take(4);
            std::copy(v.begin(), v.end(), a.address.begin());
            return RecordData{a};
        }
        case type::kAaaa: {
            if (rdlen != 16) return Reader::error("AAAA record data is not 16 bytes");
            AaaaData a;
            const ByteView v = r.take(16);
            std::copy(v.begin(), v.end(), a.address.begin());
            return RecordData{a};
        }
        case type::kSrv: {
            if (rdlen < 7) return Reader::error("SRV record data shorter than 7 bytes");
            SrvData s;
            HS_ASSIGN_OR_RETURN(s.priority, r.u16("SRV priority"));
            HS_ASSIGN_OR_RETURN(s.weight, r.u16("SRV weight"));
            HS_ASSIGN_OR_RETURN(s.port, r.u16("SRV port"));
            HS_ASSIGN_OR_RETURN(s.target, r.name());
            if (r.pos() > end) return Reader::error("SRV target runs past its record");
            r.seek(end);
            return RecordData{std::move(s)};
        }
        case type::kTxt: {
            TxtData txt;
            while (r.pos() < end) {
                const std::size_t len = r.take(1)[0];
                if (len > end - r.pos()) return Reader::error("TXT string runs past its record");
                txt.strings.push_back(to_bytes(r.take(len)));
            }
            return RecordData{std::move(txt)};
        }
        default:
            break;
    }
    if (is_name_type(t)) {
        NameData n;
        HS_ASSIGN_OR_RETURN(n.name, r.name());
        if (r.pos() > end) return Reader::error("record name data runs past its record");
        r.seek(end);
        return RecordData{std::move(n)};
    }
    return RecordData{RawData{to_bytes(r.take(rdlen))}};
}

Result<Record> decode_record(Reader& r) {
    Record rec;
    HS_ASSIGN_OR_RETURN(rec.name, r.name());
    HS_ASSIGN_OR_RETURN(rec.type, r.u16("record type"));
    HS_ASSIGN_OR_RETURN(const std::uint16_t klass, r.u16("record class"));
    rec.klass = klass & 0x7fff;
    rec.cache_flush = (klass & 0x8000) != 0;
    HS_ASSIGN_OR_RETURN(rec.ttl, r.u32("record ttl"));
    HS_ASSIGN_OR_RETURN(const std::uint16_t rdlen, r.u16("record data length"));
    if (rdlen > r.left()) return Reader::error("record data runs past the end of the packet");
    HS_ASSIGN_OR_RETURN(rec.data, decode_rdata(r, rec.type, rdlen));
    return rec;
}

Status encode_rdata(const Record& rec, Bytes& out) {
    const bool ok = std::visit(
        [&](const auto& d) -> bool {
            using T = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<T, AData>) return rec.type == type::kA;
            if constexpr (std::is_same_v<T, AaaaData>) return rec.type == type::kAaaa;
            if constexpr (std::is_same_v<T, SrvData>) return rec.type == type::kSrv;
            if constexpr (std::is_same_v<T, TxtData>) return rec.type == type::kTxt;
            if constexpr (std::is_same_v<T, NameData>) return is_name_type(rec.type);
            return true;
        },
        rec.data);
    if (!ok) {
        return make_error(Errc::InvalidArgument, "dns: record data does not match type {} of '{}'",
                          rec.type, rec.name);
    }
    const std::size_t length_at = out.size();
    put_u16(out, 0);
    if (const auto* a = std::get_if<AData>(&rec.data)) {
        append_bytes(out, a->address);
    } else if (const auto* a6 = std::get_if<AaaaData>(&rec.data)) {
        append_bytes(out, a6->address);
    } else if (const auto* srv = std::get_if<SrvData>(&rec.data)) {
        put_u16(out, srv->priority);
        put_u16(out, srv->weight);
        put_u16(out, srv->port);
        HS_TRY(encode_name(srv->target, out));
    } else if (const auto* txt = std::get_if<TxtData>(&rec.data)) {
        for (const Bytes& s : txt->strings) {
            if (s.size() > 255) {
                return make_error(Errc::InvalidArgument, "dns: TXT string of {} bytes in '{}'",
                                  s.size(), rec.name);
            }
            out.push_back(static_cast<std::uint8_t>(s.size()));
            append_bytes(out, s);
        }
    } else if (const auto* n = std::get_if<NameData>(&rec.data)) {
        HS_TRY(encode_name(n->name, out));
    } else {
        append_bytes(out, std::get<RawData>(rec.data).bytes);
    }
    const std::size_t rdlen = out.size() - length_at - 2;
    if (rdlen > 0xffff) {
        return make_error(Errc::TooLarge, "dns: record data of {} bytes in '{}'", rdlen, rec.name);
    }
    put_u16_at(out, length_at, static_cast<std::uint16_t>(rdlen));
    return {};
}

}  // namespace

Status encode_name(std::string_view name, Bytes& out) {
    if (name.starts_with('.')) name.remove_prefix(1);
    if (name.ends_with('.')) name.remove_suffix(1);
    if (name.empty()) {
        out.push_back(0);
        return {};
    }
    if (name.size() + 2 > kMaxNameBytes) {
        return make_error(Errc::InvalidArgument, "dns: name longer than 255 bytes");
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = name.find('.', start);
        const std::size_t end = dot == std::string_view::npos ? name.size() : dot;
        const std::size_t len = end - start;
        if (len == 0 || len > kMaxLabelBytes) {
            return make_error(Errc::InvalidArgument, "dns: name '{}' has a label of {} bytes", name,
                              len);
        }
        out.push_back(static_cast<std::uint8_t>(len));
        append_bytes(out, as_bytes(name.substr(start, len)));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    out.push_back(0);
    return {};
}

bool same_name(std::string_view a, std::string_view b) noexcept {
    if (a.ends_with('.') && a.size() > 1) a.remove_suffix(1);
    if (b.ends_with('.') && b.size() > 1) b.remove_suffix(1);
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

Status Packet::encode_to(Bytes& out) const {
    const std::size_t counts[] = {questions.size(), answers.size(), authorities.size(),
                                  additionals.size()};
    for (std::size_t c : counts) {
        if (c > 0xffff) return make_error(Errc::TooLarge, "dns: {} entries in one section", c);
    }
    Bytes buf;
    buf.reserve(512);
    put_u16(buf, id);
    put_u16(buf, flags);
    for (std::size_t c : counts) put_u16(buf, static_cast<std::uint16_t>(c));
    for (const Question& q : questions) {
        HS_TRY(encode_name(q.name, buf));
        put_u16(buf, q.type);
        put_u16(buf,
                static_cast<std::uint16_t>((q.klass & 0x7fff) | (q.unicast_response ? 0x8000 : 0)));
    }
    for (const auto* section : {&answers, &authorities, &additionals}) {
        for (const Record& rec : *section) {
            HS_TRY(encode_name(rec.name, buf));
            put_u16(buf, rec.type);
            put_u16(buf, static_cast<std::uint16_t>((rec.klass & 0x7fff) |
                                                    (rec.cache_flush ? 0x8000 : 0)));
            put_u32(buf, rec.ttl);
            HS_TRY(encode_rdata(rec, buf));
        }
        if (buf.size() > kMaxPacketBytes) {
            return make_error(Errc::TooLarge, "dns: packet of {} bytes", buf.size());
        }
    }
    append_bytes(out, buf);
    return {};
}

Result<Packet> Packet::decode(ByteView& in) {
    if (in.size() > kMaxPacketBytes) {
        return make_error(Errc::TooLarge, "dns: packet of {} bytes", in.size());
    }
    if (in.size() < kHeaderBytes) {
        return make_error(Errc::Protocol, "dns: packet of {} bytes is shorter than a header",
                          in.size());
    }
    Reader r(in);
    Packet p;
    std::uint16_t counts[4];
    HS_ASSIGN_OR_RETURN(p.id, r.u16("header"));
    HS_ASSIGN_OR_RETURN(p.flags, r.u16("header"));
    for (auto& c : counts) {
        HS_ASSIGN_OR_RETURN(c, r.u16("header"));
    }
    const std::size_t records = std::size_t{counts[1]} + counts[2] + counts[3];
    if (counts[0] + records > kMaxEntries) {
        return make_error(Errc::TooLarge, "dns: {} entries in one packet (limit {})",
                          counts[0] + records, kMaxEntries);
    }
    if (counts[0] * kMinQuestionBytes + records * kMinRecordBytes > r.left()) {
        return make_error(Errc::TooLarge,
                          "dns: header counts ({} questions, {} records) cannot fit {} bytes",
                          counts[0], records, r.left());
    }
    p.questions.reserve(counts[0]);
    for (std::uint16_t i = 0; i < counts[0]; ++i) {
        HS_ASSIGN_OR_RETURN(Question q, decode_question(r));
        p.questions.push_back(std::move(q));
    }
    std::vector<Record>* sections[] = {&p.answers, &p.authorities, &p.additionals};
    for (int s = 0; s < 3; ++s) {
        sections[s]->reserve(counts[s + 1]);
        for (std::uint16_t i = 0; i < counts[s + 1]; ++i) {
            HS_ASSIGN_OR_RETURN(Record rec, decode_record(r));
            sections[s]->push_back(std::move(rec));
        }
    }
    in = in.subspan(in.size());
    return p;
}

}  // namespace hs::swarm::dns
