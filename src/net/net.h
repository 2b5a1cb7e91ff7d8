// km::net — a sandbox's network, the module's contract. NetworkSpec is the network part of a
// sandbox's plan, typed and checked once (plan::compile); SandboxNetwork sets it up for a
// sandbox whose init runs in its own network namespace (veth pair and addresses, the host
// rules, the eBPF gate or the sandbox's own nftables, the facts file) and reopens it after
// a supervisor restart. The ports sandboxes reach on the host end of their veth are named
// here and nowhere else.
//
// NetworkSpec is a value (thread-safe). SandboxNetwork's setUp and reopen join the
// sandbox's network namespace for a moment: call them from a single-threaded process, or
// before any other thread starts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/address.h"
#include "net/host_rule.h"

namespace km::net {

class EgressGate;
class NfLog;
class OriginalDestinations;
struct ServiceOptions;
namespace proxy {
struct Options;
}

// The sandbox's resolver (UDP and TCP), and the HTTP proxy's explicit and transparent ports,
// on the host end of each sandbox's veth.
inline constexpr uint16_t kDnsPort = 53;
inline constexpr uint16_t kProxyPort = 3128;
inline constexpr uint16_t kTransparentProxyPort = 3129;

// The host ends of km's sandbox veths are in this interface group (`ip link … group`), and
// the host rules match it: an unrelated interface, whatever its name, is never touched.
inline constexpr uint32_t kVethGroup = 0x6b6d;  // "km"

// How egress is enforced: the HTTP proxy (the sandbox's own nftables send web traffic to it
// and refuse the rest), the eBPF programs on the sandbox's cgroup, or both (eBPF, sending
// the hosts the proxy must see to its transparent port).
enum class Enforcement : uint8_t { kProxy, kEbpf, kBoth };

// "proxy" | "ebpf" | "both".
std::string_view enforcementName(Enforcement e);
// The inverse; InvalidArgument naming the accepted values.
[[nodiscard]] Result<Enforcement> parseEnforcement(std::string_view text);
constexpr bool usesEbpf(Enforcement e) { return e != Enforcement::kProxy; }

inline constexpr std::string_view kDefaultSubnetPool = "10.213.0.0/16";

// A sandbox's network policy as written: the profile's spec.network and the operator
// config's dns, network and ai keys (the plan document's form).
struct NetworkPolicyText {
  std::string enforcement = "proxy";
  std::vector<std::string> allowed_dns_suffixes;
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> dns_upstreams;  // "ip", "ip:port" or "[v6]:port"
  std::string subnet_pool = std::string(kDefaultSubnetPool);
  std::vector<std::string> allowed_cidrs;
  std::vector<std::string> ai_endpoints;
  bool https_only = false;       // spec.network.httpsOnly
  bool ai_providers = false;     // spec.budget.ai.maxSpendUSD > 0: AI provider hosts are reachable
  std::vector<uint16_t> proxy_ports{443, 80};  // what CONNECT may reach (operator config adds)
  bool intercept_github = false;  // spec.sourceAccess.mode allowlist: the proxy reads GitHub's traffic
  bool github_allowed = false;    // ...and names repositories: GitHub's hosts are reachable (filtered)
  std::vector<std::string> secret_hosts;  // hosts masked secrets go to: intercepted (sentinels swapped)
  std::string extra_ca_file;      // operator config tls.extraCAFile (servers the proxy verifies)
};

// The same, parsed and checked.
struct NetworkSpec {
  Enforcement enforcement = Enforcement::kProxy;
  std::vector<std::string> allowed_dns_suffixes;  // HostPolicy's lists, as written
  std::vector<std::string> allowed_hosts;
  std::vector<Endpoint> dns_upstreams;  // where allowed names are resolved (port default kDnsPort)
  Cidr subnet_pool{IpAddress::v4(10, 213, 0, 0), 16};  // the veths' /30s come from here (kDefaultSubnetPool)
  std::vector<Cidr> allowed_cidrs;      // private ranges every sandbox may reach
  std::vector<std::string> ai_endpoints;  // hosts also sent through the proxy (both)
  bool https_only = false;                // the proxy refuses plain HTTP
  bool ai_providers = false;              // AI provider hosts and ai_endpoints are reachable
  std::vector<uint16_t> proxy_ports{443, 80};  // ports CONNECT may reach
  bool intercept_github = false;          // GitHub's hosts are intercepted (repo allowlist)
  bool github_allowed = false;            // GitHub's hosts are reachable (repos filtered by the proxy)
  std::vector<std::string> secret_hosts;  // intercepted: masked secrets' sentinels are swapped there
  std::string extra_ca_file;              // servers' CAs besides the system's (the proxy's trust)

  // The one host rule of every layer: the allowlists, plus the AI providers' hosts and
  // ai_endpoints when ai_providers, and GitHub's hosts when github_allowed.
  HostPolicy hostPolicy() const;
  // The hosts whose TLS the proxy terminates to read them: the AI providers and ai_endpoints
  // when ai_providers (metered), GitHub's hosts when intercept_github (repos filtered), and
  // secret_hosts (sentinels swapped for real values).
  HostPolicy interceptHosts() const;

  // InvalidArgument naming the key (operator config network.allowCIDRs, …) of the first
  // value that does not parse.
  [[nodiscard]] static Result<NetworkSpec> compile(const NetworkPolicyText& text);
  // The policy as written back (addresses in their canonical form); compile(text()) gives
  // this spec again.
  NetworkPolicyText text() const;
  // What the sandbox may reach by address: allowed_cidrs and the IP literals among
  // allowed_hosts ("10.20.0.5", "[2001:db8::5]").
  std::vector<Cidr> reachableCidrs() const;
};

// Where one sandbox's network is recorded on the host, besides the kernel's objects.
struct NetworkPlacement {
  std::string cgroup_v2_dir;  // the sandbox's v2 cgroup (eBPF modes); "" when the host has none
  std::string pin_dir;        // the eBPF maps' pins (on bpffs)
  std::string facts_path;     // the facts file: veth, addresses, subnet, enforcement (JSON)
};

// One sandbox's network as set up (or reopened): the host end's address and the parts the
// supervisor's services take over. Move-only.
class SandboxNetwork {
 public:
  // Gives the sandbox whose init is `init_pid` (in a network namespace of its own) its
  // network: a veth pair (host end km<8 hex> in kVethGroup, eth0 inside) on a /30 of
  // spec.subnet_pool picked under a host-wide lock, addresses and the default route, the
  // host rules (made when missing), the eBPF gate attached to `where.cgroup_v2_dir` with
  // its maps pinned (ebpf, both) or the sandbox's nftables and their NFLOG reader (proxy),
  // and the facts file. The first error, with what was being done; what was made until
  // then is left for remove() and the namespace's end.
  [[nodiscard]] static Result<SandboxNetwork> setUp(const NetworkSpec& spec, pid_t init_pid,
                                                    const NetworkPlacement& where);
  // The network of a sandbox whose supervisor restarted: reads the facts file, reopens the
  // gate's pinned maps (ebpf, both) or binds the sandbox's NFLOG group (proxy, when
  // `init_pid` > 0). NotFound when there is no facts file (no network recorded).
  [[nodiscard]] static Result<SandboxNetwork> reopen(const NetworkSpec& spec, pid_t init_pid,
                                                     const NetworkPlacement& where);
  // Removes what outlives the sandbox's init: the pins and the facts file (the veth goes
  // with the network namespace). Missing ones are fine; the first other error.
  [[nodiscard]] static Status remove(const NetworkPlacement& where);

  SandboxNetwork(SandboxNetwork&&) noexcept;
  SandboxNetwork& operator=(SandboxNetwork&&) noexcept;
  ~SandboxNetwork();

  const IpAddress& hostAddress() const { return host_; }
  // The sandbox's /etc/resolv.conf: the host end as its only nameserver.
  std::string resolvConf() const;
  // The resolver service's options for this network; the NFLOG reader (proxy) moves into
  // them, so call it once.
  ServiceOptions resolverOptions(const NetworkSpec& spec);
  // The HTTP proxy's options for this network (enforcement proxy and both): its listeners on
  // the host end, the policy, and how it learns where redirected connections were going
  // (which moves into them, so call it once, and before takeGate() hands the gate on: the
  // lookups of `both` read the gate, whose owner must keep it until the proxy stops).
  // `ca_dir` holds the sandbox's CA (proxy::ensureSandboxCa): the proxy terminates the TLS
  // of spec.interceptHosts() with it.
  proxy::Options proxyOptions(const NetworkSpec& spec, const std::string& ca_dir);
  // The eBPF gate (null in proxy mode); it moves to the caller.
  std::unique_ptr<EgressGate> takeGate();

 private:
  SandboxNetwork(IpAddress host, std::unique_ptr<EgressGate> gate, std::unique_ptr<NfLog> nflog,
                 std::unique_ptr<OriginalDestinations> originals);
  IpAddress host_;
  std::unique_ptr<EgressGate> gate_;
  std::unique_ptr<NfLog> nflog_;
  std::unique_ptr<OriginalDestinations> originals_;
};

// The host end's address recorded in a sandbox's facts file (NetworkPlacement::facts_path).
// NotFound when there is none (stopped, or made without a network); InvalidArgument when it
// does not parse.
[[nodiscard]] Result<IpAddress> recordedHostAddress(const std::string& facts_path);

// Whether a sandbox with this enforcement runs the HTTP proxy (proxy, both; not ebpf).
bool servesProxy(Enforcement e);

// The environment that points well-behaved clients at the proxy's explicit port on the host
// end `host`: HTTP_PROXY, HTTPS_PROXY and NO_PROXY (loopback), upper and lower case.
std::vector<std::string> proxyEnvironment(const IpAddress& host);

}  // namespace km::net
