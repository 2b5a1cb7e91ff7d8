// km::net::Service — a sandbox's network services on the host end of its veth, in one
// thread of the supervisor: the allowlist resolver (UDP and TCP port 53, forwarding allowed
// names to the upstreams), the eBPF allow map fed with what it resolves, the periodic sweep
// of long-expired entries, and the network log: one JSON line per DNS query and per
// connect/send decision of the eBPF programs (drained from their ring buffer).
//
// Across the supervisor's exec (km create → km supervise --adopt) the listening sockets
// survive: releaseForExec() hands them over and ServiceOptions takes them back.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/rotating_file.h"
#include "net/address.h"
#include "net/bpf/gate.h"
#include "net/host_rule.h"
#include "net/nflog.h"

namespace km::net {

struct ServiceOptions {
  IpAddress listen;                  // the host end of the veth
  uint16_t port = 53;
  std::vector<Endpoint> upstreams;   // at least one
  HostPolicy policy;
  std::vector<Cidr> allowed_cidrs;
  // Enforcement both: connections to needsProxy() names and to `proxy_extra` (the operator
  // config's ai.endpoints) go through the transparent proxy.
  bool redirect_to_proxy = false;
  HostPolicy proxy_extra;
  std::string log_path;              // the sandbox's network log (JSON lines, appended)
  RotationLimits log_limits;         // its bound: rotated past max_file_bytes, max_files kept
  std::unique_ptr<EgressGate> gate;  // null when the sandbox has no eBPF enforcement
  std::unique_ptr<NfLog> nflog;      // proxy mode: what the sandbox's nftables refused or redirected
  int udp_fd = -1, tcp_fd = -1;      // sockets kept across exec; -1 = bind new ones
};

class Service {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Service>> start(ServiceOptions options);
  ~Service();  // stops and joins the thread
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Stops the thread and returns the listening sockets (UDP, TCP) with close-on-exec
  // cleared, for the process about to exec.
  std::pair<int, int> releaseForExec();

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace km::net
