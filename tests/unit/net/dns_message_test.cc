#include "net/dns/message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace km::net::dns {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string u16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }
std::string u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)) + u16(static_cast<uint16_t>(v)); }
std::string header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  return u16(id) + u16(flags) + u16(qd) + u16(an) + u16(ns) + u16(ar);
}
std::string name(std::initializer_list<std::string> labels) {
  std::string out;
  for (const auto& l : labels) out += static_cast<char>(l.size()) + l;
  return out + std::string(1, '\0');
}

TEST(DnsQuery, ParsesWhatBuildQueryMakes) {
  std::string wire = buildQuery(0x1234, {"Api.Anthropic.com", 1, 1, ""}, true);
  Query q;
  ASSERT_FALSE(parseQuery(bytes(wire), q));
  EXPECT_EQ(q.header.id, 0x1234);
  EXPECT_TRUE(q.header.recursionDesired());
  EXPECT_EQ(q.question.name, "Api.Anthropic.com");
  EXPECT_EQ(q.question.type, 1);
  EXPECT_TRUE(q.edns);
  EXPECT_EQ(q.udp_size, 1232);
  EXPECT_TRUE(q.hostname_chars);
}

TEST(DnsQuery, RefusalEchoesIdQuestionAndEdns) {
  Query q;
  ASSERT_FALSE(parseQuery(bytes(buildQuery(7, {"evil.example", 28, 1, ""}, true)), q));
  std::string r = buildRefusal(q, Rcode::kNxDomain);
  auto a = parseAnswer(bytes(r));
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->header.id, 7);
  EXPECT_TRUE(a->header.response());
  EXPECT_EQ(a->header.rcode(), Rcode::kNxDomain);
  EXPECT_TRUE(a->header.recursionDesired());
  EXPECT_TRUE(a->header.flags & 0x0080);  // RA
  ASSERT_TRUE(a->question);
  EXPECT_EQ(a->question->name, "evil.example");
  EXPECT_EQ(a->question->type, 28);
  ASSERT_EQ(a->additional.size(), 1u);
  EXPECT_EQ(a->additional[0].type, static_cast<uint16_t>(Type::kOpt));
}

TEST(DnsQuery, ShortMessageHasNoHeader) {
  Query q;
  auto e = parseQuery(bytes(std::string("\x01\x02\x03", 3)), q);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->header_ok);
  EXPECT_NE(e->message.find("shorter than the 12-byte header"), std::string::npos);
}

TEST(DnsQuery, NoQuestionIsFormErrWithoutQuestionSection) {
  Query q;
  auto e = parseQuery(bytes(header(9, 0x0100, 0, 0, 0, 0)), q);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->header_ok);
  EXPECT_EQ(e->rcode, Rcode::kFormErr);
  EXPECT_NE(e->message.find("0 questions"), std::string::npos);
  std::string r = buildError(*e);
  auto a = parseAnswer(bytes(r));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->header.id, 9);
  EXPECT_EQ(a->header.rcode(), Rcode::kFormErr);
  EXPECT_EQ(a->header.qdcount, 0);
}

TEST(DnsQuery, OtherOpcodesAreNotImplemented) {
  Query q;
  auto e = parseQuery(bytes(header(1, 0x2800, 1, 0, 0, 0) + name({"a"}) + u16(1) + u16(1)), q);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->rcode, Rcode::kNotImp);
}

TEST(DnsQuery, ResponsesAreNotQueries) {
  Query q;
  auto e = parseQuery(bytes(header(1, 0x8000, 1, 0, 0, 0) + name({"a"}) + u16(1) + u16(1)), q);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("response"), std::string::npos);
}

TEST(DnsQuery, ForwardAndSelfPointersAreRefused) {
  Query q;
  // The question's name is a pointer to itself (offset 12): would loop forever.
  std::string self = header(1, 0, 1, 0, 0, 0) + "\xC0\x0C" + u16(1) + u16(1);
  auto e = parseQuery(bytes(self), q);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("does not point backwards"), std::string::npos);
  std::string forward = header(1, 0, 1, 0, 0, 0) + "\xC0\x20" + u16(1) + u16(1);
  EXPECT_TRUE(parseQuery(bytes(forward), q));
}

TEST(DnsQuery, LabelAndNameLimits) {
  Query q;
  std::string long_label(64, 'a');  // length byte 0x40: a reserved label type
  auto e = parseQuery(bytes(header(1, 0, 1, 0, 0, 0) + static_cast<char>(64) + long_label +
                            std::string(1, '\0') + u16(1) + u16(1)), q);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("label type"), std::string::npos);
  std::string n;
  for (int i = 0; i < 5; ++i) n += static_cast<char>(60) + std::string(60, 'b');
  e = parseQuery(bytes(header(1, 0, 1, 0, 0, 0) + n + std::string(1, '\0') + u16(1) + u16(1)), q);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("longer than 255"), std::string::npos);
}

TEST(DnsQuery, TruncatedQuestionAndStrayBytes) {
  Query q;
  auto e = parseQuery(bytes(header(1, 0, 1, 0, 0, 0) + name({"a", "b"}) + u16(1)), q);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("cut off"), std::string::npos);
  e = parseQuery(bytes(header(1, 0, 1, 0, 0, 0) + name({"a"}) + u16(1) + u16(1) + "xx"), q);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("stray bytes"), std::string::npos);
}

TEST(DnsQuery, LabelsWithDotsAreEscapedAndFlagged) {
  // One label "evil.x" under "com": a name in com, not in x.com.
  Query q;
  ASSERT_FALSE(parseQuery(bytes(header(1, 0, 1, 0, 0, 0) + name({"evil.x", "com"}) + u16(1) + u16(1)), q));
  EXPECT_EQ(q.question.name, "evil\\.x.com");
  EXPECT_FALSE(q.hostname_chars);
  ASSERT_FALSE(parseQuery(bytes(header(1, 0, 1, 0, 0, 0) + name({"a b", "c"}) + u16(1) + u16(1)), q));
  EXPECT_EQ(q.question.name, "a\\032b.c");
  EXPECT_FALSE(q.hostname_chars);
  ASSERT_FALSE(parseQuery(bytes(header(1, 0, 1, 0, 0, 0) + name({"_dmarc", "x-y", "com"}) + u16(16) + u16(1)), q));
  EXPECT_TRUE(q.hostname_chars);
}

TEST(DnsQuery, TwoOptRecordsAreAnError) {
  std::string opt = std::string(1, '\0') + u16(41) + u16(4096) + u32(0) + u16(0);
  Query q;
  auto e = parseQuery(bytes(header(1, 0, 1, 0, 0, 2) + name({"a"}) + u16(1) + u16(1) + opt + opt), q);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("more than one OPT"), std::string::npos);
}

// An answer as an upstream server sends it: compression pointers to the question.
std::string upstreamAnswer() {
  std::string w = header(0x4242, 0x8180, 1, 3, 0, 0);
  w += name({"api", "github", "com"}) + u16(1) + u16(1);  // question at offset 12
  // api.github.com CNAME lb.github.com (target compressed: "lb" + pointer to github.com at 16)
  std::string target = std::string("\x02lb", 3) + "\xC0\x10";
  w += std::string("\xC0\x0C", 2) + u16(5) + u16(1) + u32(300) + u16(static_cast<uint16_t>(target.size())) + target;
  size_t lb = w.size() - target.size();
  std::string ptr = {static_cast<char>(0xC0), static_cast<char>(lb)};
  w += ptr + u16(1) + u16(1) + u32(60) + u16(4) + std::string("\xCB\x00\x71\x0A", 4);
  w += ptr + u16(28) + u16(1) + u32(120) + u16(16) + std::string(15, '\0') + "\x01";
  return w;
}

TEST(DnsAnswer, AddressesCnameAndTtl) {
  std::string w = upstreamAnswer();
  auto a = parseAnswer(bytes(w));
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_EQ(a->answers.size(), 3u);
  EXPECT_EQ(a->answers[0].target, "lb.github.com");
  EXPECT_EQ(a->answers[1].name, "lb.github.com");
  auto addrs = a->addresses();
  ASSERT_EQ(addrs.size(), 2u);
  EXPECT_FALSE(addrs[0].v6);
  EXPECT_EQ(addrs[0].bytes[0], 203);
  EXPECT_EQ(addrs[0].bytes[3], 10);
  EXPECT_EQ(addrs[0].ttl, 60u);
  EXPECT_TRUE(addrs[1].v6);
  EXPECT_EQ(addrs[1].bytes[15], 1);
  EXPECT_EQ(a->cacheTtl(), 60u);
}

TEST(DnsAnswer, AgeTtlsAndSetId) {
  std::string w = upstreamAnswer();
  auto a = parseAnswer(bytes(w));
  ASSERT_TRUE(a);
  std::vector<size_t> offsets;
  for (const auto& r : a->answers) offsets.push_back(r.ttl_offset);
  ageTtls(w, offsets, 100);
  setId(w, 0x0102);
  auto b = parseAnswer(bytes(w));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->header.id, 0x0102);
  EXPECT_EQ(b->answers[0].ttl, 200u);
  EXPECT_EQ(b->answers[1].ttl, 0u);  // floor at zero
  EXPECT_EQ(b->answers[2].ttl, 20u);
}

TEST(DnsAnswer, NegativeAnswerTtlFromSoaMinimum) {
  std::string soa = name({"ns"}) + name({"h"}) + u32(1) + u32(2) + u32(3) + u32(4) + u32(30);
  std::string w = header(1, 0x8183, 1, 0, 1, 0) + name({"nope", "example"}) + u16(1) + u16(1) +
                  name({"example"}) + u16(6) + u16(1) + u32(900) + u16(static_cast<uint16_t>(soa.size())) + soa;
  auto a = parseAnswer(bytes(w));
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->header.rcode(), Rcode::kNxDomain);
  EXPECT_EQ(a->cacheTtl(), 30u);
}

TEST(DnsAnswer, BrokenRdataLengthIsAnError) {
  std::string w = header(1, 0x8180, 0, 1, 0, 0) + name({"a"}) + u16(1) + u16(1) + u32(1) + u16(10) + "abc";
  auto a = parseAnswer(bytes(w));
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message().find("runs past the end"), std::string::npos);
}

TEST(DnsMessage, TruncatedAnswerHasTcAndQuestion) {
  Query q;
  ASSERT_FALSE(parseQuery(bytes(buildQuery(5, {"big.example", 16, 1, ""})), q));
  auto a = parseAnswer(bytes(truncated(q)));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->header.truncated());
  EXPECT_EQ(a->header.ancount, 0);
  EXPECT_EQ(a->question->name, "big.example");
}

TEST(DnsMessage, Names) {
  EXPECT_EQ(typeName(28), "AAAA");
  EXPECT_EQ(typeName(999), "TYPE999");
  EXPECT_EQ(rcodeName(Rcode::kNxDomain), "NXDOMAIN");
}

}  // namespace
}  // namespace km::net::dns
