#include "net/host_rule.h"

#include "net/net.h"

#include <gtest/gtest.h>

namespace km::net {
namespace {

TEST(HostRule, SuffixWithLeadingDotAllowsApexAndSubdomainsOnly) {
  HostPolicy p({".x.com"}, {});
  EXPECT_TRUE(p.allows("x.com"));
  EXPECT_TRUE(p.allows("a.x.com"));
  EXPECT_TRUE(p.allows("deep.a.x.com"));
  EXPECT_FALSE(p.allows("evilx.com"));
  EXPECT_FALSE(p.allows("x.com.evil.net"));
  EXPECT_FALSE(p.allows("com"));
  EXPECT_EQ(p.check("a.x.com").rule, ".x.com");
}

TEST(HostRule, DotlessSuffixMeansTheSame) {
  // Upstream's HTTP proxy would treat this as an exact host; km's one rule does not.
  HostPolicy p({"amazonaws.com"}, {});
  EXPECT_TRUE(p.allows("amazonaws.com"));
  EXPECT_TRUE(p.allows("sts.us-east-1.amazonaws.com"));
  EXPECT_FALSE(p.allows("notamazonaws.com"));
}

TEST(HostRule, HostEntryIsExact) {
  HostPolicy p({}, {"api.github.com"});
  EXPECT_TRUE(p.allows("api.github.com"));
  EXPECT_FALSE(p.allows("github.com"));
  EXPECT_FALSE(p.allows("x.api.github.com"));
  EXPECT_EQ(p.check("api.github.com").rule, "api.github.com");
}

TEST(HostRule, CaseAndTrailingDotIgnored) {
  HostPolicy p({".Example.ORG"}, {"Api.Anthropic.com."});
  EXPECT_TRUE(p.allows("WWW.example.org."));
  EXPECT_TRUE(p.allows("api.anthropic.COM"));
  EXPECT_FALSE(p.allows("api.anthropic.com.."));  // only one trailing dot is dropped
}

TEST(HostRule, StarAllowsEverything) {
  EXPECT_TRUE(HostPolicy({"*"}, {}).allows("anything.example"));
  EXPECT_TRUE(HostPolicy({}, {"*"}).allows("anything.example"));
  EXPECT_EQ(HostPolicy({}, {"*"}).check("a.b").rule, "*");
  EXPECT_TRUE(HostPolicy({}, {"*"}).allowsAll());
}

TEST(HostRule, EmptyPolicyDeniesAll) {
  HostPolicy p;
  EXPECT_FALSE(p.allows("example.org"));
  EXPECT_FALSE(HostPolicy({}, {}).allows("x.com"));
  EXPECT_FALSE(HostPolicy({".x.com"}, {}).allows(""));
  EXPECT_FALSE(HostPolicy({".x.com"}, {}).allows("."));
}

TEST(HostRule, CanonicalName) {
  EXPECT_EQ(canonicalName("API.Example.COM."), "api.example.com");
  EXPECT_EQ(canonicalName("a"), "a");
  EXPECT_EQ(canonicalName(""), "");
}

TEST(HostRule, HostsTheProxyMustSee) {
  EXPECT_TRUE(needsProxy("api.anthropic.com"));
  EXPECT_TRUE(needsProxy("API.OpenAI.com."));
  EXPECT_TRUE(needsProxy("bedrock-runtime.us-east-1.amazonaws.com"));
  EXPECT_TRUE(needsProxy("bedrock-runtime-fips.us-west-2.amazonaws.com"));
  EXPECT_TRUE(needsProxy("codeload.github.com"));
  EXPECT_TRUE(needsProxy("codeload.githubusercontent.com"));
  EXPECT_FALSE(needsProxy("objects.githubusercontent.com"));
  EXPECT_FALSE(needsProxy("bedrock-runtime.amazonaws.com"));
  // The region label must look like an AWS region, not any label (a DNS channel otherwise).
  EXPECT_TRUE(needsProxy("bedrock-runtime.us-gov-west-1.amazonaws.com"));
  EXPECT_TRUE(needsProxy("bedrock-runtime.ap-southeast-2.amazonaws.com"));
  EXPECT_TRUE(needsProxy("bedrock-runtime.us-isob-east-1.amazonaws.com"));
  for (const char* bad : {"bedrock-runtime.attacker.amazonaws.com", "bedrock-runtime.x_y.amazonaws.com",
                          "bedrock-runtime.-.amazonaws.com", "bedrock-runtime-fips.evil.amazonaws.com",
                          "bedrock-runtime.us-east.amazonaws.com", "bedrock-runtime.usa-east-1.amazonaws.com",
                          "bedrock-runtime.us-east-123.amazonaws.com", "bedrock-runtime.us-e4st-1.amazonaws.com"}) {
    EXPECT_FALSE(needsProxy(bad)) << bad;
  }
  EXPECT_FALSE(needsProxy("bedrock-runtime.a.b.amazonaws.com"));
  EXPECT_FALSE(needsProxy("console.anthropic.com"));
  EXPECT_FALSE(needsProxy("example.org"));
}

// Interception: the AI providers (and ai.endpoints) only with an AI budget, GitHub's hosts only
// under a repo allowlist; nothing else, whatever the allowlist says.
TEST(NetworkSpec, InterceptsOnlyTheHostsTheProxyMustRead) {
  NetworkPolicyText text;
  text.allowed_hosts = {"example.org", "github.com", "api.anthropic.com"};
  text.ai_endpoints = {"gw.example.net"};
  auto plain = NetworkSpec::compile(text);
  ASSERT_TRUE(plain);
  for (const char* host : {"example.org", "github.com", "api.anthropic.com", "gw.example.net"}) {
    EXPECT_FALSE(plain->interceptHosts().allows(host)) << host;
  }
  text.ai_providers = true;
  auto ai = NetworkSpec::compile(text);
  ASSERT_TRUE(ai);
  EXPECT_TRUE(ai->interceptHosts().allows("api.anthropic.com"));
  EXPECT_TRUE(ai->interceptHosts().allows("api.openai.com"));
  EXPECT_TRUE(ai->interceptHosts().allows("bedrock-runtime.eu-west-1.amazonaws.com"));
  EXPECT_TRUE(ai->interceptHosts().allows("gw.example.net"));
  EXPECT_FALSE(ai->interceptHosts().allows("github.com"));
  EXPECT_FALSE(ai->interceptHosts().allows("example.org"));
  text.ai_providers = false;
  text.intercept_github = true;
  auto gh = NetworkSpec::compile(text);
  ASSERT_TRUE(gh);
  for (const char* host : {"github.com", "api.github.com", "raw.githubusercontent.com", "codeload.github.com"}) {
    EXPECT_TRUE(gh->interceptHosts().allows(host)) << host;
  }
  EXPECT_FALSE(gh->interceptHosts().allows("objects.githubusercontent.com"));
  EXPECT_FALSE(gh->interceptHosts().allows("api.anthropic.com"));
  EXPECT_FALSE(gh->interceptHosts().allows("example.org"));
  EXPECT_EQ(NetworkSpec::compile(gh->text())->intercept_github, true);
}

}  // namespace
}  // namespace km::net
