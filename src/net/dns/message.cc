#include "net/dns/message.h"

#include <algorithm>
#include <cstdio>

namespace km::net::dns {
namespace {

constexpr int kMaxPointerHops = 64;
constexpr size_t kMaxNameWire = 255;

uint16_t get16(std::span<const uint8_t> w, size_t at) {
  return static_cast<uint16_t>((w[at] << 8) | w[at + 1]);
}
uint32_t get32(std::span<const uint8_t> w, size_t at) {
  return (static_cast<uint32_t>(w[at]) << 24) | (static_cast<uint32_t>(w[at + 1]) << 16) |
         (static_cast<uint32_t>(w[at + 2]) << 8) | w[at + 3];
}
void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

bool hostnameChar(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Reads the name at `pos` (following compression pointers, which must point strictly
// backwards) into presentation form; `pos` moves past the name as it sits at `pos`.
bool readName(std::span<const uint8_t> w, size_t& pos, Question* q, std::string* text,
              bool* hostname_chars, std::string& err) {
  size_t cur = pos;
  size_t resume = 0;
  bool jumped = false;
  size_t wire_len = 1;  // the final zero byte
  int hops = 0;
  std::string out;
  for (;;) {
    if (cur >= w.size()) {
      err = "name runs past the end of the message at byte " + std::to_string(cur);
      return false;
    }
    uint8_t len = w[cur];
    if ((len & 0xC0) == 0xC0) {
      if (cur + 1 >= w.size()) {
        err = "compression pointer cut off at byte " + std::to_string(cur);
        return false;
      }
      size_t target = static_cast<size_t>(((len & 0x3F) << 8) | w[cur + 1]);
      if (target >= cur) {
        err = "compression pointer at byte " + std::to_string(cur) + " does not point backwards";
        return false;
      }
      if (++hops > kMaxPointerHops) {
        err = "too many compression pointers in the name at byte " + std::to_string(pos);
        return false;
      }
      if (!jumped) resume = cur + 2;
      jumped = true;
      cur = target;
      continue;
    }
    if (len & 0xC0) {
      err = "unsupported label type at byte " + std::to_string(cur);
      return false;
    }
    if (len == 0) {
      if (!jumped) resume = cur + 1;
      break;
    }
    if (cur + 1 + len > w.size()) {
      err = "label at byte " + std::to_string(cur) + " runs past the end of the message";
      return false;
    }
    wire_len += 1 + len;
    if (wire_len > kMaxNameWire) {
      err = "name at byte " + std::to_string(pos) + " is longer than 255 bytes";
      return false;
    }
    if (q) q->wire_name.append(reinterpret_cast<const char*>(&w[cur]), 1 + len);
    if (!out.empty()) out.push_back('.');
    for (size_t i = cur + 1; i <= cur + len; ++i) {
      uint8_t c = w[i];
      if (!hostnameChar(c) && hostname_chars) *hostname_chars = false;
      if (c == '.' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c > 0x20 && c < 0x7F) {
        out.push_back(static_cast<char>(c));
      } else {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\%03u", c);
        out += buf;
      }
    }
    cur += 1 + len;
  }
  if (q) q->wire_name.push_back('\0');
  if (text) *text = std::move(out);
  pos = resume;
  return true;
}

Header readHeader(std::span<const uint8_t> w) {
  Header h;
  h.id = get16(w, 0);
  h.flags = get16(w, 2);
  h.qdcount = get16(w, 4);
  h.ancount = get16(w, 6);
  h.nscount = get16(w, 8);
  h.arcount = get16(w, 10);
  return h;
}

bool readQuestion(std::span<const uint8_t> w, size_t& pos, Question& q, bool* hostname_chars,
                  std::string& err) {
  if (!readName(w, pos, &q, &q.name, hostname_chars, err)) return false;
  if (pos + 4 > w.size()) {
    err = "question cut off at byte " + std::to_string(pos);
    return false;
  }
  q.type = get16(w, pos);
  q.klass = get16(w, pos + 2);
  pos += 4;
  return true;
}

bool readRecord(std::span<const uint8_t> w, size_t& pos, Record& r, std::string& err) {
  if (!readName(w, pos, nullptr, &r.name, nullptr, err)) return false;
  if (pos + 10 > w.size()) {
    err = "record cut off at byte " + std::to_string(pos);
    return false;
  }
  r.type = get16(w, pos);
  r.klass = get16(w, pos + 2);
  r.ttl_offset = pos + 4;
  r.ttl = get32(w, pos + 4);
  size_t rdlen = get16(w, pos + 8);
  pos += 10;
  if (pos + rdlen > w.size()) {
    err = "record data at byte " + std::to_string(pos) + " runs past the end of the message";
    return false;
  }
  r.rdata = w.subspan(pos, rdlen);
  if (r.type == static_cast<uint16_t>(Type::kCname)) {
    size_t at = pos;
    if (!readName(w, at, nullptr, &r.target, nullptr, err)) return false;
    if (at != pos + rdlen) {
      err = "CNAME data at byte " + std::to_string(pos) + " does not match its length";
      return false;
    }
  }
  pos += rdlen;
  return true;
}

void putHeader(std::string& out, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
               uint16_t ns, uint16_t ar) {
  for (uint16_t v : {id, flags, qd, an, ns, ar}) put16(out, v);
}

// Our own OPT record: root name, type 41, our UDP size, no flags, no options.
void putOpt(std::string& out) {
  out.push_back('\0');
  put16(out, static_cast<uint16_t>(Type::kOpt));
  put16(out, 1232);
  for (int i = 0; i < 6; ++i) out.push_back('\0');  // ttl (ext rcode, version, flags), rdlen
}

uint16_t answerFlags(const Header& query, Rcode rcode) {
  uint16_t flags = 0x8000;                             // QR
  flags |= static_cast<uint16_t>(query.opcode() << 11);
  flags |= query.flags & 0x0100;                       // RD copied
  flags |= 0x0080;                                     // RA
  flags |= static_cast<uint16_t>(rcode) & 0xF;
  return flags;
}

}  // namespace

std::string typeName(uint16_t type) {
  switch (static_cast<Type>(type)) {
    case Type::kA: return "A";
    case Type::kNs: return "NS";
    case Type::kCname: return "CNAME";
    case Type::kSoa: return "SOA";
    case Type::kPtr: return "PTR";
    case Type::kMx: return "MX";
    case Type::kTxt: return "TXT";
    case Type::kAaaa: return "AAAA";
    case Type::kSrv: return "SRV";
    case Type::kOpt: return "OPT";
    case Type::kSvcb: return "SVCB";
    case Type::kHttps: return "HTTPS";
    case Type::kAny: return "ANY";
  }
  return "TYPE" + std::to_string(type);
}

std::string rcodeName(Rcode rcode) {
  switch (rcode) {
    case Rcode::kNoError: return "NOERROR";
    case Rcode::kFormErr: return "FORMERR";
    case Rcode::kServFail: return "SERVFAIL";
    case Rcode::kNxDomain: return "NXDOMAIN";
    case Rcode::kNotImp: return "NOTIMP";
    case Rcode::kRefused: return "REFUSED";
  }
  return "RCODE" + std::to_string(static_cast<int>(rcode));
}

std::optional<QueryError> parseQuery(std::span<const uint8_t> w, Query& out) {
  QueryError e;
  if (w.size() < kHeaderSize) {
    e.message = "message of " + std::to_string(w.size()) + " bytes is shorter than the 12-byte header";
    return e;
  }
  out = Query{};
  out.header = readHeader(w);
  e.header_ok = true;
  e.header = out.header;
  if (out.header.response()) {
    e.message = "is a response, not a query";
    return e;
  }
  if (out.header.opcode() != 0) {
    e.rcode = Rcode::kNotImp;
    e.message = "opcode " + std::to_string(out.header.opcode()) + " is not supported (only QUERY)";
    return e;
  }
  if (out.header.qdcount != 1) {
    e.message = "has " + std::to_string(out.header.qdcount) + " questions; exactly one is expected";
    return e;
  }
  size_t pos = kHeaderSize;
  if (!readQuestion(w, pos, out.question, &out.hostname_chars, e.message)) return e;
  int records = out.header.ancount + out.header.nscount + out.header.arcount;
  int opt_at = out.header.ancount + out.header.nscount;  // OPT lives in the additional section
  for (int i = 0; i < records; ++i) {
    Record r;
    if (!readRecord(w, pos, r, e.message)) return e;
    if (i >= opt_at && r.type == static_cast<uint16_t>(Type::kOpt)) {
      if (out.edns) {
        e.message = "has more than one OPT record";
        return e;
      }
      out.edns = true;
      out.udp_size = std::max<uint16_t>(r.klass, kMaxUdpWithoutEdns);
    }
  }
  if (pos != w.size()) {
    e.message = std::to_string(w.size() - pos) + " stray bytes after the last record (byte " +
                std::to_string(pos) + ")";
    return e;
  }
  return std::nullopt;
}

Result<Answer> parseAnswer(std::span<const uint8_t> w) {
  if (w.size() < kHeaderSize) {
    return invalidArgument("DNS answer of " + std::to_string(w.size()) + " bytes is shorter than its header");
  }
  Answer a;
  a.header = readHeader(w);
  size_t pos = kHeaderSize;
  std::string err;
  for (int i = 0; i < a.header.qdcount; ++i) {
    Question q;
    if (!readQuestion(w, pos, q, nullptr, err)) return invalidArgument("DNS answer: " + err);
    if (!a.question) a.question = std::move(q);
  }
  for (auto [count, section] : {std::pair{a.header.ancount, &a.answers},
                                std::pair{a.header.nscount, &a.authority},
                                std::pair{a.header.arcount, &a.additional}}) {
    for (int i = 0; i < count; ++i) {
      Record r;
      if (!readRecord(w, pos, r, err)) return invalidArgument("DNS answer: " + err);
      section->push_back(std::move(r));
    }
  }
  return a;
}

std::vector<Answer::Address> Answer::addresses() const {
  std::vector<Address> out;
  for (const auto& r : answers) {
    if (r.klass != 1) continue;
    bool v4 = r.type == static_cast<uint16_t>(Type::kA) && r.rdata.size() == 4;
    bool v6 = r.type == static_cast<uint16_t>(Type::kAaaa) && r.rdata.size() == 16;
    if (!v4 && !v6) continue;
    Address a;
    a.v6 = v6;
    a.ttl = r.ttl;
    std::copy(r.rdata.begin(), r.rdata.end(), a.bytes.begin());
    out.push_back(a);
  }
  return out;
}

uint32_t Answer::cacheTtl() const {
  std::optional<uint32_t> ttl;
  for (const auto& r : answers) {
    if (r.type == static_cast<uint16_t>(Type::kOpt)) continue;
    ttl = std::min(ttl.value_or(r.ttl), r.ttl);
  }
  if (ttl) return *ttl;
  for (const auto& r : authority) {
    if (r.type == static_cast<uint16_t>(Type::kSoa) && r.rdata.size() >= 22) {
      uint32_t minimum = get32(r.rdata, r.rdata.size() - 4);
      return std::min(r.ttl, minimum);
    }
  }
  return 0;
}

std::string buildRefusal(const Query& q, Rcode rcode) {
  std::string out;
  putHeader(out, q.header.id, answerFlags(q.header, rcode), 1, 0, 0, q.edns ? 1 : 0);
  out += q.question.wire_name;
  put16(out, q.question.type);
  put16(out, q.question.klass);
  if (q.edns) putOpt(out);
  return out;
}

std::string buildError(const QueryError& e) {
  std::string out;
  putHeader(out, e.header.id, answerFlags(e.header, e.rcode), 0, 0, 0, 0);
  return out;
}

std::string truncated(const Query& q) {
  std::string out = buildRefusal(q, Rcode::kNoError);
  out[2] = static_cast<char>(out[2] | 0x02);  // TC
  return out;
}

std::string buildQuery(uint16_t id, const Question& q, bool edns) {
  std::string out;
  putHeader(out, id, 0x0100, 1, 0, 0, edns ? 1 : 0);
  std::string_view name = q.name;
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    out.push_back(static_cast<char>(std::min<size_t>(label.size(), 63)));
    out.append(label.substr(0, 63));
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  out.push_back('\0');
  put16(out, q.type);
  put16(out, q.klass);
  if (edns) putOpt(out);
  return out;
}

void setId(std::string& wire, uint16_t id) {
  if (wire.size() < 2) return;
  wire[0] = static_cast<char>(id >> 8);
  wire[1] = static_cast<char>(id & 0xFF);
}

void ageTtls(std::string& wire, const std::vector<size_t>& offsets, uint32_t elapsed) {
  auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
  for (size_t at : offsets) {
    if (at + 4 > wire.size()) continue;
    uint32_t ttl = get32(bytes, at);
    ttl = ttl > elapsed ? ttl - elapsed : 0;
    for (int i = 0; i < 4; ++i) wire[at + i] = static_cast<char>((ttl >> (24 - 8 * i)) & 0xFF);
  }
}

}  // namespace km::net::dns
