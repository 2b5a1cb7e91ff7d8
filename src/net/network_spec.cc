// NetworkSpec: the network policy parsed once, and written back.
#include "net/net.h"

namespace km::net {

std::string_view enforcementName(Enforcement e) {
  switch (e) {
    case Enforcement::kProxy: return "proxy";
    case Enforcement::kEbpf: return "ebpf";
    case Enforcement::kBoth: return "both";
  }
  return "proxy";
}

Result<Enforcement> parseEnforcement(std::string_view text) {
  for (Enforcement e : {Enforcement::kProxy, Enforcement::kEbpf, Enforcement::kBoth}) {
    if (text == enforcementName(e)) return e;
  }
  return invalidArgument("enforcement '" + std::string(text) + "' is not one of proxy, ebpf, both");
}

Result<NetworkSpec> NetworkSpec::compile(const NetworkPolicyText& text) {
  NetworkSpec spec;
  auto enforcement = parseEnforcement(text.enforcement);
  if (!enforcement) return std::move(enforcement).error().context("spec.network.enforcement");
  spec.enforcement = *enforcement;
  spec.allowed_dns_suffixes = text.allowed_dns_suffixes;
  spec.allowed_hosts = text.allowed_hosts;
  for (const auto& u : text.dns_upstreams) {
    auto e = Endpoint::parse(u, kDnsPort);
    if (!e) return std::move(e).error().context("operator config dns.upstream");
    spec.dns_upstreams.push_back(*e);
  }
  auto pool = Cidr::parse(text.subnet_pool.empty() ? kDefaultSubnetPool : std::string_view(text.subnet_pool));
  if (!pool) return std::move(pool).error().context("operator config network.subnetPool");
  spec.subnet_pool = *pool;
  for (const auto& c : text.allowed_cidrs) {
    auto parsed = Cidr::parse(c);
    if (!parsed) return std::move(parsed).error().context("operator config network.allowCIDRs");
    spec.allowed_cidrs.push_back(*parsed);
  }
  spec.ai_endpoints = text.ai_endpoints;
  spec.https_only = text.https_only;
  spec.ai_providers = text.ai_providers;
  if (text.proxy_ports.empty()) return invalidArgument("the proxy ports list is empty");
  spec.proxy_ports = text.proxy_ports;
  spec.intercept_github = text.intercept_github;
  spec.github_allowed = text.github_allowed;
  spec.secret_hosts = text.secret_hosts;
  spec.extra_ca_file = text.extra_ca_file;
  return spec;
}

NetworkPolicyText NetworkSpec::text() const {
  NetworkPolicyText t;
  t.enforcement = std::string(enforcementName(enforcement));
  t.allowed_dns_suffixes = allowed_dns_suffixes;
  t.allowed_hosts = allowed_hosts;
  for (const auto& u : dns_upstreams) t.dns_upstreams.push_back(u.toString());
  t.subnet_pool = subnet_pool.toString();
  for (const auto& c : allowed_cidrs) t.allowed_cidrs.push_back(c.toString());
  t.ai_endpoints = ai_endpoints;
  t.https_only = https_only;
  t.ai_providers = ai_providers;
  t.proxy_ports = proxy_ports;
  t.intercept_github = intercept_github;
  t.github_allowed = github_allowed;
  t.secret_hosts = secret_hosts;
  t.extra_ca_file = extra_ca_file;
  return t;
}

HostPolicy NetworkSpec::hostPolicy() const {
  std::vector<std::string> hosts = allowed_hosts;
  if (github_allowed) {
    for (const auto& h : githubHosts()) hosts.push_back(h);
  }
  HostPolicy p(allowed_dns_suffixes, hosts);
  if (ai_providers) return p.withAiProviders(ai_endpoints, "AI provider (spec.budget.ai)");
  return p;
}

HostPolicy NetworkSpec::interceptHosts() const {
  std::vector<std::string> hosts = secret_hosts;
  if (intercept_github) {
    for (const auto& h : githubHosts()) hosts.push_back(h);
  }
  HostPolicy p({}, hosts);
  if (ai_providers) return p.withAiProviders(ai_endpoints, "AI provider (spec.budget.ai)");
  return p;
}

std::vector<Cidr> NetworkSpec::reachableCidrs() const {
  std::vector<Cidr> out = allowed_cidrs;
  for (std::string_view h : allowed_hosts) {
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (auto ip = IpAddress::parse(h)) out.push_back(Cidr{*ip, ip->v6 ? 128 : 32});
  }
  return out;
}

}  // namespace km::net
