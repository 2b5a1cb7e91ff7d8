// The proxy's request filters: each judges one thing about where a request or tunnel goes,
// with its typed config built once when the proxy starts (Envoy's filter-chain shape). The
// chain runs them in order and the first refusal wins. Metering and credential injection
// join the chain as filters of their own.
// Filters are immutable after construction; a chain is safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"
#include "net/host_rule.h"

namespace km::net::proxy {

enum class Listener : uint8_t { kExplicit, kTransparent };

// What is known about a request before anything is sent upstream.
struct RequestInfo {
  Listener listener = Listener::kExplicit;
  bool connect = false;       // an explicit CONNECT
  bool tls = false;           // the client spoke TLS (name from SNI)
  bool plain_http = false;    // an HTTP request in clear text
  std::string host;           // canonical name
  uint16_t port = 0;
  std::optional<Endpoint> original;  // transparent: where the client was going (when known)
  bool intercepted = false;   // a request inside TLS the proxy terminated
  std::string_view method;    // a request's (not a tunnel's): valid during check()
  std::string_view path;      // the request target as sent upstream, query included
};

struct Verdict {
  bool allowed = true;
  std::string reason;  // why not; the X-Km-Deny-Reason header and the log say it
  std::string rule;    // the entry that allowed the host (for the log)
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;
  // Refuses by returning allowed = false with a reason; may fill `rule` when allowing.
  virtual Verdict check(const RequestInfo& request) const = 0;
};

class FilterChain {
 public:
  void add(std::unique_ptr<Filter> filter) { filters_.push_back(std::move(filter)); }
  Verdict run(const RequestInfo& request) const;
  size_t size() const { return filters_.size(); }

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
};

// The sandbox's host policy (the resolver's rule, net::HostPolicy).
std::unique_ptr<Filter> hostPolicyFilter(HostPolicy policy);
// spec.network.httpsOnly: plain HTTP refused.
std::unique_ptr<Filter> httpsOnlyFilter();
// Ports a CONNECT or a TLS connection may go to (443 and 80 unless the operator adds more);
// plain HTTP through the explicit port may go to the same ports.
std::unique_ptr<Filter> portFilter(std::vector<uint16_t> ports);
// AI providers are reached over TLS only while calls are metered (km reads them inside the
// TLS it terminates): plain HTTP to one is refused, through any port or tunnel.
struct Metering;
std::unique_ptr<Filter> aiOverTlsFilter(const Metering* metering);
// A transparent connection goes where it was going: the port the client dialled, never one
// its Host header names instead; one dialled to the proxy port itself (no original
// destination) only to 443 (TLS) or 80 (HTTP).
std::unique_ptr<Filter> destinationFilter();

}  // namespace km::net::proxy
