// Masked secrets in requests: a sentinel is swapped for the real value only towards the
// secret's hosts and only over TLS; anywhere else the request is refused.
#include "net/proxy/sentinels.h"

#include <gtest/gtest.h>

#include "core/strings.h"

namespace km::net::proxy {
namespace {

Sentinels two() {
  return Sentinels({{"MYKEY", "km-sentinel-aaaa", "real-my", {"api.example.com"}},
                    {"OTHER", "km-sentinel-aaaabbbb", "real-other", {"other.example.com", "api.example.com"}}});
}

TEST(SentinelsTest, SwapsEveryOccurrenceTowardsABoundHost) {
  std::string v = "Bearer km-sentinel-aaaa and km-sentinel-aaaa";
  auto out = two().rewrite("api.example.com", true, v, false);
  EXPECT_TRUE(out.refused.empty());
  EXPECT_TRUE(out.changed);
  EXPECT_EQ(v, "Bearer real-my and real-my");
  EXPECT_EQ(out.swapped, std::vector<std::string>{"MYKEY"});
}

TEST(SentinelsTest, ALongerSentinelIsNotTakenForAShorterOne) {
  std::string v = "km-sentinel-aaaabbbb";
  auto out = two().rewrite("api.example.com", true, v, false);
  EXPECT_EQ(v, "real-other");
  EXPECT_EQ(out.swapped, std::vector<std::string>{"OTHER"});
}

TEST(SentinelsTest, AnotherHostIsRefusedAsAnExfiltrationAttempt) {
  std::string v = "x km-sentinel-aaaa";
  auto out = two().rewrite("other.example.com", true, v, false);
  EXPECT_NE(out.refused.find("exfiltration attempt: the sentinel of MYKEY was sent to other.example.com"),
            std::string::npos)
      << out.refused;
  EXPECT_NE(out.refused.find("api.example.com"), std::string::npos);
  EXPECT_EQ(v, "x km-sentinel-aaaa");  // untouched
  // A host that only shares a suffix is another host.
  std::string w = "km-sentinel-aaaa";
  EXPECT_FALSE(two().rewrite("evil.api.example.com", true, w, false).refused.empty());
}

TEST(SentinelsTest, ClearTextIsRefusedEvenToTheBoundHost) {
  std::string v = "km-sentinel-aaaa";
  auto out = two().rewrite("api.example.com", false, v, false);
  EXPECT_NE(out.refused.find("clear text"), std::string::npos) << out.refused;
  EXPECT_EQ(v, "km-sentinel-aaaa");
}

TEST(SentinelsTest, ASecretWhoseValueIsMissingIsRefused) {
  Sentinels s({{"GONE", "km-sentinel-cccc", "", {"api.example.com"}}});
  std::string v = "km-sentinel-cccc";
  EXPECT_NE(s.rewrite("api.example.com", true, v, false).refused.find("not available"), std::string::npos);
}

TEST(SentinelsTest, BasicCredentialsAreLookedInto) {
  std::string v = "Basic " + base64Encode("user:km-sentinel-aaaa");
  auto out = two().rewrite("api.example.com", true, v, true);
  EXPECT_TRUE(out.changed);
  ASSERT_TRUE(v.starts_with("Basic "));
  EXPECT_EQ(base64Decode(v.substr(6)).value_or(""), "user:real-my");
  // Elsewhere: refused, also when hidden in base64.
  std::string w = "basic " + base64Encode("km-sentinel-aaaa:x");
  EXPECT_FALSE(two().rewrite("elsewhere.example", true, w, true).refused.empty());
  // Not an Authorization field: base64 is not decoded (no false alarms on random fields).
  std::string x = "Basic " + base64Encode("km-sentinel-aaaa:x");
  EXPECT_TRUE(two().rewrite("elsewhere.example", true, x, false).refused.empty());
}

TEST(SentinelsTest, TextWithoutSentinelsIsLeftAlone) {
  std::string v = "Bearer sk-ant-realkey";
  auto out = two().rewrite("other.example.com", true, v, true);
  EXPECT_FALSE(out.changed);
  EXPECT_TRUE(out.refused.empty());
  EXPECT_TRUE(Sentinels().empty());
  std::string w = "km-sentinel-aaaa";
  EXPECT_TRUE(Sentinels().rewrite("x", true, w, true).refused.empty());
}

}  // namespace
}  // namespace km::net::proxy
