// km::net::Service — a sandbox's resolver service on the host end of its veth, in one
// thread of the supervisor: the allowlist resolver (UDP and TCP on kDnsPort, forwarding
// allowed names to the upstreams), the eBPF allow map and the resolution table fed with
// what it resolves, the periodic sweep of long-expired entries, and the audit records of
// each DNS query and of each connect/send decision of the eBPF programs (drained from their
// ring buffer) or of the sandbox's nftables (NFLOG).
//
// It owns its sockets and its NFLOG reader. What it shares with the sandbox's other
// services — the eBPF gate, the resolution table, the audit writer — it borrows: their
// owner (the supervisor's DataPlane) keeps them until stop() has returned.
#pragma once

#include <memory>
#include <vector>

#include "audit/audit.h"
#include "core/result.h"
#include "net/address.h"
#include "net/bpf/gate.h"
#include "net/host_rule.h"
#include "net/net.h"
#include "net/nflog.h"
#include "net/resolution_table.h"

namespace km::net {

struct ServiceOptions {
  IpAddress listen;                  // the host end of the veth
  uint16_t port = kDnsPort;
  std::vector<Endpoint> upstreams;   // none: allowed names get SERVFAIL
  HostPolicy policy;
  std::vector<Cidr> allowed_cidrs;
  // Enforcement both: connections to needsProxy() names and to `proxy_extra` (the operator
  // config's ai.endpoints) go through the transparent proxy.
  bool redirect_to_proxy = false;
  HostPolicy proxy_extra;
  std::unique_ptr<NfLog> nflog;      // proxy mode: what the sandbox's nftables refused or redirected
};

class Service {
 public:
  // `gate` may be null (no eBPF enforcement). Nothing runs before start().
  Service(ServiceOptions options, EgressGate* gate, ResolutionTable& names, audit::Writer& audit);
  ~Service();  // stop()
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Binds the resolver's sockets and starts the thread. The bind's error (EADDRINUSE, …)
  // naming the address when it fails; then nothing runs.
  [[nodiscard]] Status start();
  // Stops and joins the thread, then puts what the gate queued since its last turn into
  // the audit writer and flushes it. Idempotent; a no-op when not started.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace km::net
