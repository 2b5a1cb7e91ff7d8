// km::net::dns — the DNS wire format (RFC 1035, EDNS0 of RFC 6891) as far as the allowlist
// resolver needs it: parse a query's header and question strictly, parse an upstream answer
// enough to learn its addresses and TTLs, build refusals, and patch ids and TTLs in place.
// Every parse error names the byte offset. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km::net::dns {

enum class Type : uint16_t {
  kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28,
  kSrv = 33, kOpt = 41, kSvcb = 64, kHttps = 65, kAny = 255,
};
enum class Rcode : uint8_t { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5 };

std::string typeName(uint16_t type);   // "A", "AAAA", … or "TYPE123"
std::string rcodeName(Rcode rcode);    // "NOERROR", "NXDOMAIN", …

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxUdpWithoutEdns = 512;

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  bool response() const { return flags & 0x8000; }
  uint8_t opcode() const { return (flags >> 11) & 0xF; }
  bool truncated() const { return flags & 0x0200; }
  bool recursionDesired() const { return flags & 0x0100; }
  Rcode rcode() const { return static_cast<Rcode>(flags & 0xF); }
};

struct Question {
  std::string name;  // presentation form, as sent (case kept), no trailing dot; "" = root
  uint16_t type = 0;
  uint16_t klass = 1;
  std::string wire_name;  // the name's labels, uncompressed (filled by the parsers)
};

// A query as the resolver sees it.
struct Query {
  Header header;
  Question question;
  bool edns = false;                 // an OPT record was present
  uint16_t udp_size = kMaxUdpWithoutEdns;  // the largest UDP answer the client takes
  bool hostname_chars = true;        // every label is letters, digits, '-' or '_'
};

// Why a query could not be used: `header_ok` says whether an answer can be addressed at all
// (a FORMERR needs the id); `message` names the byte offset and the problem.
struct QueryError {
  bool header_ok = false;
  Header header;
  Rcode rcode = Rcode::kFormErr;  // kNotImp for opcodes other than QUERY
  std::string message;
};

// Parses a query: header, exactly one question, and the OPT record if any. Names may use
// compression pointers (strictly backwards, bounded), labels ≤ 63 bytes, names ≤ 255.
[[nodiscard]] std::optional<QueryError> parseQuery(std::span<const uint8_t> wire, Query& out);

struct Record {
  std::string name;
  uint16_t type = 0;
  uint16_t klass = 0;
  uint32_t ttl = 0;
  size_t ttl_offset = 0;            // where the TTL sits in the message (for patching)
  std::span<const uint8_t> rdata;   // into the parsed buffer
  std::string target;               // CNAME target, presentation form
};

// An upstream answer: header, question, and every record with its TTL's offset.
struct Answer {
  Header header;
  std::optional<Question> question;
  std::vector<Record> answers, authority, additional;
  // The A/AAAA addresses among `answers` (4 or 16 bytes each) and their TTLs.
  struct Address {
    std::array<uint8_t, 16> bytes{};
    bool v6 = false;
    uint32_t ttl = 0;
  };
  std::vector<Address> addresses() const;
  // How long this answer may be cached: the smallest TTL of its answer records; for a
  // negative answer the SOA's minimum (RFC 2308); none → 0.
  uint32_t cacheTtl() const;
};

[[nodiscard]] Result<Answer> parseAnswer(std::span<const uint8_t> wire);

// An answer with no records, echoing `q`'s id, question, RD and (when it had EDNS) an OPT
// record; QR and RA set.
std::string buildRefusal(const Query& q, Rcode rcode);
// The answer to a query whose header parsed but whose question did not: `e.rcode`, no
// question section echoed.
std::string buildError(const QueryError& e);
// A query for `q` with id `id` (RD set), for tests and tools.
std::string buildQuery(uint16_t id, const Question& q, bool edns = false);

// In-place edits of a wire message.
void setId(std::string& wire, uint16_t id);
// Lowers every record's TTL by `elapsed` seconds (floor 0), given the offsets from parse.
void ageTtls(std::string& wire, const std::vector<size_t>& ttl_offsets, uint32_t elapsed);
// Turns an answer into a truncated one (TC set, only header and question kept), for UDP
// clients that cannot take its size.
std::string truncated(const Query& q);

}  // namespace km::net::dns
