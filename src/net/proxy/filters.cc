#include "net/proxy/filters.h"

#include "net/proxy/proxy.h"

#include <algorithm>

namespace km::net::proxy {
namespace {

class HostPolicyFilter final : public Filter {
 public:
  explicit HostPolicyFilter(HostPolicy policy) : policy_(std::move(policy)) {}
  std::string_view name() const override { return "host-policy"; }
  Verdict check(const RequestInfo& r) const override {
    HostPolicy::Decision d = policy_.check(r.host);
    if (!d.allowed) return {false, "host " + r.host + " is not in the allowlist (spec.network.egress)", ""};
    return {true, "", d.rule};
  }

 private:
  HostPolicy policy_;
};

class HttpsOnlyFilter final : public Filter {
 public:
  std::string_view name() const override { return "https-only"; }
  Verdict check(const RequestInfo& r) const override {
    if (r.plain_http) return {false, "plain HTTP is refused (spec.network.httpsOnly); use https://", ""};
    return {};
  }
};

class PortFilter final : public Filter {
 public:
  explicit PortFilter(std::vector<uint16_t> ports) : ports_(std::move(ports)) {}
  std::string_view name() const override { return "ports"; }
  Verdict check(const RequestInfo& r) const override {
    if (r.listener == Listener::kTransparent) return {};  // the kernel only sends the redirected ports
    if (std::find(ports_.begin(), ports_.end(), r.port) != ports_.end()) return {};
    std::string list;
    for (uint16_t p : ports_) list += (list.empty() ? "" : ", ") + std::to_string(p);
    return {false, "port " + std::to_string(r.port) + " is not a proxy port (" + list + "; operator config proxy.connectPorts)", ""};
  }

 private:
  std::vector<uint16_t> ports_;
};

class DestinationFilter final : public Filter {
 public:
  std::string_view name() const override { return "destination"; }
  Verdict check(const RequestInfo& r) const override {
    if (r.listener != Listener::kTransparent) return {};
    if (!r.original) {
      // Dialled at the transparent port directly: no more than a redirected connection gets.
      uint16_t port = r.tls ? 443 : 80;
      if (r.port == port) return {};
      return {false, "a connection made to the proxy's port itself goes to port " + std::to_string(port) +
                         ", not " + std::to_string(r.port), ""};
    }
    if (r.original->port != r.port) {
      return {false, "the request names port " + std::to_string(r.port) + " but the connection was made to port " +
                         std::to_string(r.original->port), ""};
    }
    return {};
  }
};

class AiOverTlsFilter final : public Filter {
 public:
  explicit AiOverTlsFilter(const Metering* m) : m_(m) {}
  std::string_view name() const override { return "ai-over-tls"; }
  Verdict check(const RequestInfo& r) const override {
    if (!r.plain_http || !aiProvider(*m_, r.host)) return {};
    return {false, "plain HTTP to an AI provider is refused: km meters AI calls inside TLS; use https://", ""};
  }

 private:
  const Metering* m_;
};

}  // namespace

Verdict FilterChain::run(const RequestInfo& request) const {
  Verdict out;
  for (const auto& f : filters_) {
    Verdict v = f->check(request);
    if (!v.allowed) return v;
    if (!v.rule.empty()) out.rule = std::move(v.rule);
  }
  return out;
}

std::unique_ptr<Filter> hostPolicyFilter(HostPolicy policy) { return std::make_unique<HostPolicyFilter>(std::move(policy)); }
std::unique_ptr<Filter> httpsOnlyFilter() { return std::make_unique<HttpsOnlyFilter>(); }
std::unique_ptr<Filter> portFilter(std::vector<uint16_t> ports) { return std::make_unique<PortFilter>(std::move(ports)); }
std::unique_ptr<Filter> destinationFilter() { return std::make_unique<DestinationFilter>(); }
std::unique_ptr<Filter> aiOverTlsFilter(const Metering* metering) { return std::make_unique<AiOverTlsFilter>(metering); }

}  // namespace km::net::proxy
