// The proxy's filter chain: each filter judges one thing and the first refusal wins, with
// the reason the client and the log are given.
#include "net/proxy/filters.h"

#include <gtest/gtest.h>

namespace km::net::proxy {
namespace {

FilterChain chain(bool https_only) {
  FilterChain c;
  c.add(hostPolicyFilter(HostPolicy({".example.org"}, {"api.example.com"})));
  c.add(destinationFilter());
  c.add(portFilter({443, 80}));
  if (https_only) c.add(httpsOnlyFilter());
  return c;
}

RequestInfo request(std::string host, uint16_t port, Listener l = Listener::kExplicit) {
  RequestInfo r;
  r.listener = l;
  r.host = std::move(host);
  r.port = port;
  return r;
}

TEST(ProxyFiltersTest, AllowedHostsPassWithTheirRule) {
  Verdict v = chain(false).run(request("a.example.org", 443));
  EXPECT_TRUE(v.allowed) << v.reason;
  EXPECT_EQ(v.rule, ".example.org");
  EXPECT_TRUE(chain(false).run(request("api.example.com", 80)).allowed);
}

TEST(ProxyFiltersTest, TheFirstRefusalWinsHostBeforePort) {
  Verdict v = chain(true).run(request("evil.example", 22));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.reason, "host evil.example is not in the allowlist (spec.network.egress)");
  Verdict port = chain(false).run(request("api.example.com", 22));
  EXPECT_FALSE(port.allowed);
  EXPECT_EQ(port.reason, "port 22 is not a proxy port (443, 80; operator config proxy.connectPorts)");
}

TEST(ProxyFiltersTest, HttpsOnlyRefusesPlainHttp) {
  RequestInfo r = request("api.example.com", 80);
  r.plain_http = true;
  EXPECT_TRUE(chain(false).run(r).allowed);
  Verdict v = chain(true).run(r);
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.reason.find("httpsOnly"), std::string::npos);
  r.plain_http = false;
  r.tls = true;
  r.port = 443;
  EXPECT_TRUE(chain(true).run(r).allowed);
}

TEST(ProxyFiltersTest, TransparentConnectionsGoWhereTheyWereGoing) {
  RequestInfo r = request("api.example.com", 8080, Listener::kTransparent);
  r.original = Endpoint{*IpAddress::parse("203.0.113.10"), 80};
  EXPECT_FALSE(chain(false).run(r).allowed);  // Host names another port
  r.port = 80;
  EXPECT_TRUE(chain(false).run(r).allowed);
  // Redirected to any port (a host the proxy must see, in `both`): the port filter is the kernel's.
  r.original->port = 8080;
  r.port = 8080;
  EXPECT_TRUE(chain(false).run(r).allowed);
  // Dialled at the proxy port directly: 80 for HTTP, 443 for TLS, nothing else.
  r.original.reset();
  EXPECT_FALSE(chain(false).run(r).allowed);
  r.port = 80;
  EXPECT_TRUE(chain(false).run(r).allowed);
  r.tls = true;
  EXPECT_FALSE(chain(false).run(r).allowed);
  r.port = 443;
  EXPECT_TRUE(chain(false).run(r).allowed);
}

TEST(ProxyFiltersTest, AiProvidersAreReachableWithAnAiBudget) {
  HostPolicy base({}, {"example.org"});
  HostPolicy ai = base.withAiProviders({"llm.corp.example"}, "AI provider (spec.budget.ai)");
  EXPECT_FALSE(base.allows("api.anthropic.com"));
  EXPECT_EQ(ai.check("api.anthropic.com").rule, "AI provider (spec.budget.ai)");
  EXPECT_TRUE(ai.allows("api.openai.com"));
  EXPECT_TRUE(ai.allows("bedrock-runtime.us-east-1.amazonaws.com"));
  EXPECT_TRUE(ai.allows("llm.corp.example"));
  EXPECT_FALSE(ai.allows("bedrock-runtime.a.b.amazonaws.com"));
  EXPECT_FALSE(ai.allows("s3.amazonaws.com"));
  EXPECT_TRUE(ai.allows("example.org"));
}

}  // namespace
}  // namespace km::net::proxy
