// Runtime: the sandbox's network. net::SandboxNetwork sets it up (veth, addresses, host
// rules, the eBPF gate or the sandbox's nftables, the facts file) or reopens it after a
// supervisor restart; the DataPlane it feeds runs the resolver and the HTTP proxy.
#include "core/log.h"
#include "net/net.h"
#include "net/proxy/proxy.h"
#include "net/service.h"
#include "supervisor/runtime.h"

namespace km::supervisor {

namespace {
constexpr std::string_view kLog = "km.supervisor";
}  // namespace

Status Runtime::runNetwork(net::SandboxNetwork network) {
  std::optional<net::proxy::Options> proxy;
  if (net::servesProxy(plan_.network.enforcement)) {
    // The sandbox's CA (made at its first start, in its directory on the host) signs the
    // leaves of the TLS the proxy terminates.
    auto ca = net::proxy::ensureSandboxCa(net::proxy::sandboxCaDir(files().dir));
    if (!ca) return std::move(ca).error();
    proxy = network.proxyOptions(plan_.network, net::proxy::sandboxCaDir(files().dir));  // before takeGate
  }
  auto plane = DataPlane::open(network.takeGate(), files().network_log,
                               plan_.logs.rotation());  // operator config logs.*, recorded at create
  if (!plane) return std::move(plane).error();
  KM_TRY((*plane)->startResolver(network.resolverOptions(plan_.network)));
  if (proxy) KM_TRY((*plane)->startProxy(std::move(*proxy)));
  data_plane_ = std::move(*plane);
  return ok();
}

Status Runtime::startNetwork(pid_t init_pid, std::string& resolv_conf) {
  if (plan_.network.dns_upstreams.empty()) {
    log::warn(kLog, plan_.id + ": no DNS upstream (dns.upstream in the operator config, or a nameserver in "
                    "the host's /etc/resolv.conf): allowed names will get SERVFAIL");
  }
  auto network = net::SandboxNetwork::setUp(plan_.network, init_pid, sandbox_->networkPlacement());
  if (!network) return std::move(network).error();
  resolv_conf = network->resolvConf();
  return runNetwork(std::move(*network));
}

Status Runtime::resumeNetwork() {
  auto network = net::SandboxNetwork::reopen(plan_.network, running_.init_pid, sandbox_->networkPlacement());
  if (!network && network.error().code() == ErrorCode::kNotFound) return ok();  // stopped, or made before networking
  if (!network) return std::move(network).error();
  return runNetwork(std::move(*network));
}

void Runtime::stopNetwork() {
  data_plane_.reset();
  if (auto s = net::SandboxNetwork::remove(sandbox_->networkPlacement()); !s) log::warn(kLog, plan_.id + ": " + s.error().message());
  // The veth goes with the sandbox's network namespace (deleting it here would block).
}

}  // namespace km::supervisor
