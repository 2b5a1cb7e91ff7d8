// km::net::EgressGate — the eBPF egress programs (egress.bpf.c) on one sandbox's v2 cgroup,
// and their maps: the allowed addresses (hashes of exact IPv4/IPv6 addresses with expiry,
// filled from the resolver; LPM tries for allowed CIDRs), the config, and the ring buffer of
// decisions.
//
// The programs are attached with BPF_F_ALLOW_MULTI and stay attached without any process
// holding them: if the supervisor dies, the sandbox keeps its rules (fail closed); removing
// the cgroup detaches them. The maps are pinned under a per-sandbox directory in bpffs
// (mounted at /sys/fs/bpf when it is not), so a restarted supervisor reopens them.
// Needs root. Thread-compatible; the map updates themselves are atomic in the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "net/address.h"

struct km_event;

namespace km::net {

struct GateEvent {
  uint64_t monotonic_ns = 0;
  uint32_t pid = 0;
  std::string comm;
  IpAddress address;
  uint16_t port = 0;
  std::string protocol;  // tcp | udp | icmp | icmpv6 | <number>
  std::string verdict;   // allow | deny | redirect
  std::string reason;    // "not in the allow map", "DNS TTL expired", …
};

class EgressGate {
 public:
  // Loads and attaches the programs to `cgroup_dir` (a cgroup v2 directory) and pins the
  // maps in `pin_dir` (created; must be on bpffs, see bpffsDir()). `resolver` is the host end
  // of the sandbox's veth; `proxy_port`: the transparent proxy's port there (enforcement
  // both; the proxy's explicit port, kProxyPort, is then open too), 0 = none.
  [[nodiscard]] static Result<EgressGate> attach(const std::string& cgroup_dir, const std::string& pin_dir,
                                                 const IpAddress& resolver, uint16_t proxy_port);
  // Reopens the pinned maps of an attached gate.
  [[nodiscard]] static Result<EgressGate> open(const std::string& pin_dir);
  // Removes the pins (the programs go with the cgroup). Missing pins are fine.
  [[nodiscard]] static Status removePins(const std::string& pin_dir);
  // Where km pins: /sys/fs/bpf/km, mounting bpffs at /sys/fs/bpf first when needed.
  [[nodiscard]] static Result<std::string> bpffsDir();
  // A sandbox's pin directory: /sys/fs/bpf/km/<home tag>-<id>.
  static std::string pinDir(std::string_view home_tag, std::string_view id);

  EgressGate(EgressGate&&) noexcept;
  EgressGate& operator=(EgressGate&&) noexcept;
  ~EgressGate();

  // Lets the sandbox connect to `address` for `ttl_seconds` (0 = until removed). With
  // `via_proxy` (enforcement both, and a proxy port given at attach), TCP connections to it
  // go to the transparent proxy instead.
  [[nodiscard]] Status allow(const IpAddress& address, uint32_t ttl_seconds, bool via_proxy = false);
  [[nodiscard]] Status allowCidr(const Cidr& cidr);
  // Drops entries that expired more than `grace_seconds` ago; returns how many.
  size_t sweep(uint32_t grace_seconds);

  // Where a connection the programs sent to the transparent proxy was going, by the client
  // socket's cookie (sock_diag tells the proxy the cookie of its peer). nullopt when unknown.
  std::optional<Endpoint> originalDestination(uint64_t socket_cookie) const;

  // An epoll-able fd (the ring buffer's: refusals and redirects, and a wake-up when a CPU's
  // log of allowed connects is half full), and a drain that calls `fn` for each pending
  // event, in time order.
  int eventsFd() const;
  int drain(const std::function<void(const GateEvent&)>& fn);
  // Allowed connects whose records were overwritten before a drain read them (the
  // supervisor's log says so too, at most once a minute). Cumulative.
  uint64_t lostAllowEvents() const;

 private:
  struct Impl;
  explicit EgressGate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// CLOCK_MONOTONIC now, in ns (the programs' clock).
uint64_t monotonicNs();

}  // namespace km::net
