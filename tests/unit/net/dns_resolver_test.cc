#include "net/dns/resolver.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace km::net::dns {
namespace {

using namespace std::chrono_literals;
using Clock = Resolver::Clock;

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string u16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }
std::string u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)) + u16(static_cast<uint16_t>(v)); }

// What an upstream server answers to `forwarded`: the question echoed and A records (by
// pointer to the question's name) with `ttl`.
std::string upstreamReply(const std::string& forwarded, const std::vector<std::string>& ips,
                          uint32_t ttl, uint16_t rcode = 0, size_t pad_records = 0) {
  Query q;
  EXPECT_FALSE(parseQuery(bytes(forwarded), q));
  std::string w = forwarded.substr(0, 2) + u16(static_cast<uint16_t>(0x8180 | rcode)) + u16(1) +
                  u16(static_cast<uint16_t>(ips.size() + pad_records)) + u16(0) + u16(0);
  w += q.question.wire_name + u16(q.question.type) + u16(q.question.klass);
  for (const auto& text : ips) {
    auto ip = IpAddress::parse(text);
    w += std::string("\xC0\x0C", 2) + u16(ip->v6 ? 28 : 1) + u16(1) + u32(ttl) + u16(ip->v6 ? 16 : 4);
    w.append(reinterpret_cast<const char*>(ip->bytes.data()), ip->v6 ? 16 : 4);
  }
  for (size_t i = 0; i < pad_records; ++i) {
    w += std::string("\xC0\x0C", 2) + u16(16) + u16(1) + u32(ttl) + u16(101) + static_cast<char>(100) +
         std::string(100, 't');
  }
  return w;
}

struct Fixture : ::testing::Test {
  Resolver::Options options() {
    Resolver::Options o;
    o.policy = HostPolicy({".anthropic.com", "github.com"}, {"example.org"});
    o.upstreams = 2;
    return o;
  }
  void hook(Resolver& r) {
    r.on_log = [this](const LogEntry& e) { logs.push_back(e); };
    r.on_address = [this](const std::string& name, const IpAddress& ip, uint32_t ttl) {
      announced.push_back(name + " " + ip.toString() + " " + std::to_string(ttl));
    };
  }
  Resolver::Client udp{1, false, "10.213.0.2:5000"};
  Resolver::Client tcp{2, true, "10.213.0.2:5001"};
  Clock::time_point t0 = Clock::time_point{} + 1000s;
  std::vector<LogEntry> logs;
  std::vector<std::string> announced;
};

TEST_F(Fixture, UnlistedNameGetsNxdomainAndIsLogged) {
  Resolver r(options(), 1);
  hook(r);
  auto out = r.query(bytes(buildQuery(0x1111, {"evil.example", 1, 1, ""})), udp, t0);
  EXPECT_TRUE(out.forwards.empty());
  ASSERT_EQ(out.replies.size(), 1u);
  auto a = parseAnswer(bytes(out.replies[0].bytes));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->header.id, 0x1111);
  EXPECT_EQ(a->header.rcode(), Rcode::kNxDomain);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_FALSE(logs[0].allowed);
  EXPECT_EQ(logs[0].name, "evil.example");
  EXPECT_EQ(logs[0].reason, "not in the allowlist");
  EXPECT_EQ(logs[0].rcode, "NXDOMAIN");
  EXPECT_EQ(logs[0].client, "10.213.0.2:5000");
}

TEST_F(Fixture, AllowedNameIsForwardedAnsweredAnnouncedAndCached) {
  Resolver r(options(), 2);
  hook(r);
  auto out = r.query(bytes(buildQuery(0x2222, {"API.anthropic.com", 1, 1, ""})), udp, t0);
  ASSERT_EQ(out.forwards.size(), 1u);
  EXPECT_TRUE(out.replies.empty());
  const auto& f = out.forwards[0];
  EXPECT_FALSE(f.tcp);
  EXPECT_LT(f.upstream, 2u);
  Query fq;
  ASSERT_FALSE(parseQuery(bytes(f.bytes), fq));
  EXPECT_EQ(fq.header.id, f.id);
  EXPECT_EQ(fq.question.name, "API.anthropic.com");

  auto back = r.upstreamAnswer(bytes(upstreamReply(f.bytes, {"203.0.113.10"}, 300)), t0 + 10ms);
  ASSERT_EQ(back.replies.size(), 1u);
  EXPECT_EQ(back.replies[0].client.token, udp.token);
  auto a = parseAnswer(bytes(back.replies[0].bytes));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->header.id, 0x2222);
  ASSERT_EQ(a->addresses().size(), 1u);
  EXPECT_EQ(announced, std::vector<std::string>{"api.anthropic.com 203.0.113.10 300"});
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_TRUE(logs[0].allowed);
  EXPECT_EQ(logs[0].reason, ".anthropic.com");
  EXPECT_EQ(logs[0].addresses, std::vector<std::string>{"203.0.113.10"});
  EXPECT_EQ(r.pendingCount(), 0u);
  EXPECT_EQ(r.cacheSize(), 1u);

  // From the cache 100 s later: no forward, TTL aged, announced again with what is left.
  auto again = r.query(bytes(buildQuery(0x3333, {"api.anthropic.com", 1, 1, ""})), udp, t0 + 100s);
  EXPECT_TRUE(again.forwards.empty());
  ASSERT_EQ(again.replies.size(), 1u);
  auto c = parseAnswer(bytes(again.replies[0].bytes));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->header.id, 0x3333);
  EXPECT_EQ(c->answers[0].ttl, 200u);
  EXPECT_EQ(announced.back(), "api.anthropic.com 203.0.113.10 200");
  EXPECT_TRUE(logs.back().cached);

  // After the TTL it is asked again.
  auto expired = r.query(bytes(buildQuery(0x4444, {"api.anthropic.com", 1, 1, ""})), udp, t0 + 301s);
  EXPECT_EQ(expired.forwards.size(), 1u);
}

TEST_F(Fixture, RebindingGuardWithholdsPrivateAddresses) {
  auto o = options();
  o.allowed_cidrs = {*Cidr::parse("10.50.0.0/16")};
  Resolver r(o, 3);
  hook(r);
  auto out = r.query(bytes(buildQuery(1, {"github.com", 1, 1, ""})), udp, t0);
  ASSERT_EQ(out.forwards.size(), 1u);
  auto back = r.upstreamAnswer(
      bytes(upstreamReply(out.forwards[0].bytes,
                          {"127.0.0.1", "10.1.2.3", "169.254.169.254", "10.50.0.7", "::ffff:192.168.0.1"}, 60)),
      t0);
  ASSERT_EQ(back.replies.size(), 1u);
  // The whole answer is refused: nothing reaches the allow map, the client sees NXDOMAIN.
  EXPECT_TRUE(announced.empty());
  EXPECT_EQ(parseAnswer(bytes(back.replies[0].bytes))->header.rcode(), Rcode::kNxDomain);
  EXPECT_EQ(r.cacheSize(), 0u);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_FALSE(logs[0].allowed);
  EXPECT_NE(logs[0].reason.find("guarded"), std::string::npos);
  EXPECT_EQ(logs[0].withheld,
            (std::vector<std::string>{"127.0.0.1 (loopback)", "10.1.2.3 (private)",
                                      "169.254.169.254 (cloud metadata)",
                                      "::ffff:192.168.0.1 (private (IPv4 inside IPv6))"}));
}

TEST_F(Fixture, AllowedCidrsLetPrivateAnswersThrough) {
  auto o = options();
  o.allowed_cidrs = {*Cidr::parse("10.50.0.0/16")};
  Resolver r(o, 12);
  hook(r);
  auto out = r.query(bytes(buildQuery(1, {"github.com", 1, 1, ""})), udp, t0);
  auto back = r.upstreamAnswer(bytes(upstreamReply(out.forwards[0].bytes, {"10.50.0.7", "203.0.113.1"}, 60)), t0);
  ASSERT_EQ(back.replies.size(), 1u);
  EXPECT_EQ(parseAnswer(bytes(back.replies[0].bytes))->addresses().size(), 2u);
  EXPECT_EQ(announced, (std::vector<std::string>{"github.com 10.50.0.7 60", "github.com 203.0.113.1 60"}));
}

TEST_F(Fixture, TimeoutsRetryOtherUpstreamThenServfail) {
  Resolver r(options(), 4);
  hook(r);
  auto out = r.query(bytes(buildQuery(9, {"example.org", 1, 1, ""})), udp, t0);
  ASSERT_EQ(out.forwards.size(), 1u);
  size_t first = out.forwards[0].upstream;
  ASSERT_TRUE(r.nextDeadline());
  EXPECT_EQ(*r.nextDeadline(), t0 + 1500ms);
  EXPECT_TRUE(r.tick(t0 + 1s).forwards.empty());
  auto retry = r.tick(t0 + 1500ms);
  ASSERT_EQ(retry.forwards.size(), 1u);
  EXPECT_NE(retry.forwards[0].upstream, first);
  EXPECT_EQ(retry.forwards[0].id, out.forwards[0].id);
  auto third = r.tick(t0 + 3000ms);
  ASSERT_EQ(third.forwards.size(), 1u);
  auto fail = r.tick(t0 + 4500ms);
  EXPECT_TRUE(fail.forwards.empty());
  ASSERT_EQ(fail.replies.size(), 1u);
  auto a = parseAnswer(bytes(fail.replies[0].bytes));
  EXPECT_EQ(a->header.rcode(), Rcode::kServFail);
  EXPECT_EQ(a->header.id, 9);
  EXPECT_EQ(r.pendingCount(), 0u);
  EXPECT_NE(logs.back().reason.find("no upstream answered (3 tries)"), std::string::npos);
}

TEST_F(Fixture, ForgedOrMismatchedAnswersAreIgnored) {
  Resolver r(options(), 5);
  hook(r);
  auto out = r.query(bytes(buildQuery(1, {"example.org", 1, 1, ""})), udp, t0);
  std::string real = upstreamReply(out.forwards[0].bytes, {"203.0.113.9"}, 60);
  std::string wrong_id = real;
  wrong_id[0] = static_cast<char>(wrong_id[0] ^ 0x55);
  EXPECT_TRUE(r.upstreamAnswer(bytes(wrong_id), t0).replies.empty());
  // Same id, another question.
  std::string other = upstreamReply(buildQuery(0, {"github.com", 1, 1, ""}), {"203.0.113.66"}, 60);
  other.replace(0, 2, real.substr(0, 2));
  EXPECT_TRUE(r.upstreamAnswer(bytes(other), t0).replies.empty());
  EXPECT_TRUE(r.upstreamAnswer(bytes(std::string("\x01", 1)), t0).replies.empty());
  EXPECT_TRUE(announced.empty());
  EXPECT_EQ(r.pendingCount(), 1u);
  EXPECT_EQ(r.upstreamAnswer(bytes(real), t0).replies.size(), 1u);
}

TEST_F(Fixture, MalformedQueries) {
  Resolver r(options(), 6);
  hook(r);
  // No question: FORMERR with the id.
  std::string noq = u16(0x0505) + u16(0x0100) + u16(0) + u16(0) + u16(0) + u16(0);
  auto out = r.query(bytes(noq), udp, t0);
  ASSERT_EQ(out.replies.size(), 1u);
  auto a = parseAnswer(bytes(out.replies[0].bytes));
  EXPECT_EQ(a->header.rcode(), Rcode::kFormErr);
  EXPECT_EQ(a->header.id, 0x0505);
  // Too short to answer: dropped, still logged.
  out = r.query(bytes(std::string("abc")), udp, t0);
  EXPECT_TRUE(out.replies.empty());
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[1].rcode, "");
  EXPECT_NE(logs[1].reason.find("malformed query"), std::string::npos);
}

TEST_F(Fixture, OddNamesAndClasses) {
  Resolver r(options(), 7);
  hook(r);
  // One label "evil.github" under "com" would match a naive suffix check.
  std::string w = u16(1) + u16(0x0100) + u16(1) + u16(0) + u16(0) + u16(0) +
                  std::string("\x0b" "evil.github\x03" "com\x00", 17) + u16(1) + u16(1);
  auto out = r.query(bytes(w), udp, t0);
  ASSERT_EQ(out.replies.size(), 1u);
  EXPECT_TRUE(out.forwards.empty());
  EXPECT_EQ(parseAnswer(bytes(out.replies[0].bytes))->header.rcode(), Rcode::kNxDomain);
  EXPECT_NE(logs.back().reason.find("characters"), std::string::npos);
  // CHAOS class (version.bind and friends): refused even for allowed names.
  out = r.query(bytes(buildQuery(2, {"github.com", 16, 3, ""})), udp, t0);
  EXPECT_EQ(parseAnswer(bytes(out.replies[0].bytes))->header.rcode(), Rcode::kRefused);
}

TEST_F(Fixture, BigAnswersTruncateForUdpButNotTcp) {
  Resolver r(options(), 8);
  hook(r);
  auto out = r.query(bytes(buildQuery(1, {"github.com", 16, 1, ""})), udp, t0);
  auto back = r.upstreamAnswer(bytes(upstreamReply(out.forwards[0].bytes, {}, 60, 0, 6)), t0);
  ASSERT_EQ(back.replies.size(), 1u);
  auto a = parseAnswer(bytes(back.replies[0].bytes));
  EXPECT_TRUE(a->header.truncated());
  EXPECT_EQ(a->header.ancount, 0);
  auto out2 = r.query(bytes(buildQuery(2, {"github.com", 16, 1, ""})), tcp, t0);
  ASSERT_EQ(out2.replies.size(), 1u);  // cached now; TCP gets it whole
  auto b = parseAnswer(bytes(out2.replies[0].bytes));
  EXPECT_FALSE(b->header.truncated());
  EXPECT_EQ(b->answers.size(), 6u);
}

TEST_F(Fixture, TcpClientsAreForwardedOverTcp) {
  Resolver r(options(), 9);
  auto out = r.query(bytes(buildQuery(1, {"example.org", 1, 1, ""})), tcp, t0);
  ASSERT_EQ(out.forwards.size(), 1u);
  EXPECT_TRUE(out.forwards[0].tcp);
}

TEST_F(Fixture, NegativeAnswersCachedBriefly) {
  auto o = options();
  o.max_negative_ttl = 5;
  Resolver r(o, 10);
  hook(r);
  auto out = r.query(bytes(buildQuery(1, {"nope.github.com", 1, 1, ""})), udp, t0);
  std::string nx = upstreamReply(out.forwards[0].bytes, {}, 60, 3);
  // An SOA in the authority section with minimum 600.
  std::string soa = std::string("\x00", 1) + std::string("\x00", 1) + u32(1) + u32(2) + u32(3) + u32(4) + u32(600);
  nx[9] = 1;  // nscount
  nx += std::string("\xC0\x0C", 2) + u16(6) + u16(1) + u32(900) + u16(static_cast<uint16_t>(soa.size())) + soa;
  auto back = r.upstreamAnswer(bytes(nx), t0);
  ASSERT_EQ(back.replies.size(), 1u);
  EXPECT_EQ(parseAnswer(bytes(back.replies[0].bytes))->header.rcode(), Rcode::kNxDomain);
  EXPECT_TRUE(r.query(bytes(buildQuery(2, {"nope.github.com", 1, 1, ""})), udp, t0 + 4s).forwards.empty());
  EXPECT_EQ(r.query(bytes(buildQuery(3, {"nope.github.com", 1, 1, ""})), udp, t0 + 6s).forwards.size(), 1u);
}

TEST_F(Fixture, PendingIsBounded) {
  auto o = options();
  o.max_pending = 2;
  Resolver r(o, 11);
  hook(r);
  EXPECT_EQ(r.query(bytes(buildQuery(1, {"a.github.com", 1, 1, ""})), udp, t0).forwards.size(), 1u);
  EXPECT_EQ(r.query(bytes(buildQuery(2, {"b.github.com", 1, 1, ""})), udp, t0).forwards.size(), 1u);
  auto third = r.query(bytes(buildQuery(3, {"c.github.com", 1, 1, ""})), udp, t0);
  EXPECT_TRUE(third.forwards.empty());
  EXPECT_EQ(parseAnswer(bytes(third.replies[0].bytes))->header.rcode(), Rcode::kServFail);
}

// Whatever else the sandbox puts in its query (records in the answer or additional section,
// EDNS options) stays here: the upstream gets the question alone, with km's own
// OPT record when the client spoke EDNS.
TEST_F(Fixture, ForwardedQueryCarriesOnlyTheQuestion) {
  Resolver r(options(), 12);
  Question question{"github.com", 1, 1, ""};
  std::string q = buildQuery(0x1234, question);
  q[7] = 1;                               // ancount: one smuggled record
  std::string secret = "SECRET-in-the-answer-section";
  q += std::string("\xC0\x0C", 2) + u16(16) + u16(1) + u32(60) + u16(static_cast<uint16_t>(secret.size() + 1)) +
       static_cast<char>(secret.size()) + secret;
  // An OPT record with a private option (code 65001) carrying more data.
  std::string option = u16(65001) + u16(12) + "EXFIL-IN-OPT";
  q[11] = 1;  // arcount
  q += std::string("\x00", 1) + u16(41) + u16(4096) + u32(0) + u16(static_cast<uint16_t>(option.size())) + option;
  Query parsed;
  ASSERT_FALSE(parseQuery(bytes(q), parsed)) << "the smuggling query itself is well-formed";
  auto out = r.query(bytes(q), udp, t0);
  ASSERT_EQ(out.forwards.size(), 1u);
  const std::string& sent = out.forwards[0].bytes;
  EXPECT_EQ(sent.find("SECRET"), std::string::npos);
  EXPECT_EQ(sent.find("EXFIL"), std::string::npos);
  EXPECT_EQ(sent, buildQuery(out.forwards[0].id, question, true));
  // Its answer still reaches the client, under the client's id.
  auto back = r.upstreamAnswer(bytes(upstreamReply(sent, {"140.82.112.3"}, 60)), t0);
  ASSERT_EQ(back.replies.size(), 1u);
  EXPECT_EQ(parseAnswer(bytes(back.replies[0].bytes))->header.id, 0x1234);
}

// Many large answers for distinct allowed names: the cache stays within its byte budget,
// dropping the least recently used first.
TEST_F(Fixture, CacheStaysWithinItsByteBudget) {
  auto o = options();
  o.max_cache_bytes = 64 << 10;
  Resolver r(o, 13);
  auto ask = [&](const std::string& name, uint16_t id) {
    return r.query(bytes(buildQuery(id, {name, 1, 1, ""})), tcp, t0);
  };
  auto answer = [&](const Resolver::Output& out) {
    ASSERT_EQ(out.forwards.size(), 1u);
    // ~2.4 KB each: 20 padding records of 100 bytes beside the address.
    auto back = r.upstreamAnswer(bytes(upstreamReply(out.forwards[0].bytes, {"140.82.112.3"}, 3600, 0, 20)), t0);
    ASSERT_EQ(back.replies.size(), 1u);
  };
  answer(ask("n0.github.com", 1));
  for (int i = 1; i < 200; ++i) {
    answer(ask("n" + std::to_string(i) + ".github.com", static_cast<uint16_t>(i + 1)));
    // n0 is asked all along: the most recently used stays.
    EXPECT_TRUE(ask("n0.github.com", 500).forwards.empty()) << "after " << i;
    EXPECT_LE(r.cacheBytes(), o.max_cache_bytes);
  }
  EXPECT_GT(r.cacheSize(), 10u);
  EXPECT_LT(r.cacheSize(), 40u);
  EXPECT_TRUE(ask("n199.github.com", 600).forwards.empty()) << "the newest is cached";
  EXPECT_EQ(ask("n1.github.com", 601).forwards.size(), 1u) << "an old one was dropped";
  // An answer bigger than the whole budget is passed on and not cached.
  o.max_cache_bytes = 1024;
  Resolver small(o, 14);
  auto out = small.query(bytes(buildQuery(1, {"big.github.com", 1, 1, ""})), tcp, t0);
  ASSERT_EQ(out.forwards.size(), 1u);
  auto back = small.upstreamAnswer(bytes(upstreamReply(out.forwards[0].bytes, {"140.82.112.3"}, 3600, 0, 20)), t0);
  ASSERT_EQ(back.replies.size(), 1u);
  EXPECT_EQ(small.cacheSize(), 0u);
  EXPECT_EQ(small.cacheBytes(), 0u);
}

}  // namespace
}  // namespace km::net::dns
