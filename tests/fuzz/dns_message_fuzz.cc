// libFuzzer target for the DNS wire parser: parseQuery and parseAnswer on arbitrary bytes.
// Properties besides "no crash, no UB, no leak":
//   * a parsed query's refusal parses as an answer with the same id, name, type and class;
//   * a header-only error answer parses and carries the query's id;
//   * every record an answer parse returns lies inside the input.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "net/dns/message.h"

namespace dns = km::net::dns;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  dns::Query q;
  if (auto err = dns::parseQuery(in, q); !err) {
    std::string refusal = dns::buildRefusal(q, dns::Rcode::kNxDomain);
    auto a = dns::parseAnswer(bytes(refusal));
    require(static_cast<bool>(a));
    require(a->header.id == q.header.id && a->question.has_value());
    require(a->question->type == q.question.type && a->question->klass == q.question.klass);
    require(a->question->name == q.question.name);
    require(a->header.rcode() == dns::Rcode::kNxDomain);
    auto t = dns::parseAnswer(bytes(dns::truncated(q)));
    require(t && t->header.truncated());
  } else if (err->header_ok) {
    auto a = dns::parseAnswer(bytes(dns::buildError(*err)));
    require(a && a->header.id == err->header.id && a->header.rcode() == err->rcode);
  }
  if (auto a = dns::parseAnswer(in); a) {
    for (const auto* section : {&a->answers, &a->authority, &a->additional}) {
      for (const auto& r : *section) {
        require(r.rdata.data() >= data && r.rdata.data() + r.rdata.size() <= data + size);
        require(r.ttl_offset + 4 <= size);
      }
    }
    (void)a->addresses();
    (void)a->cacheTtl();
  }
  return 0;
}
