// SandboxNetwork: one sandbox's network set up, reopened and removed, step by step.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/fs.h"
#include "core/sys.h"
#include "doc/json_io.h"
#include "doc/node.h"
#include "net/bpf/gate.h"
#include "net/link.h"
#include "net/net.h"
#include "net/netlink_io.h"
#include "net/nflog.h"
#include "net/nft.h"
#include "net/original_destination.h"
#include "net/proxy/proxy.h"
#include "net/service.h"

namespace km::net {
namespace {

constexpr const char* kNetLock = "/run/km/net.lock";

// New for every setUp: the previous start's veth may still be on its way out with its old
// network namespace (the kernel tears that down asynchronously). Random, so neither other
// sandboxes nor other km homes collide (a clash would fail the create, not mix them up).
std::string newVethName() {
  uint32_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != sizeof r) r = static_cast<uint32_t>(::getpid()) * 2654435761u;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%08x", kVethPrefix, r);
  return buf;
}

// The veth pair on a free /30 of `pool`, host end up and addressed. One creator at a time
// picks a subnet: the kernel's address list is the record.
Result<std::pair<std::string, Subnet>> makeVeth(const Cidr& pool, pid_t init_pid) {
  KM_TRY(sys::makeDirs("/run/km", 0755));
  auto lock = sys::open(kNetLock, O_RDWR | O_CREAT, 0600);
  if (!lock) return std::move(lock).error();
  if (::flock(lock->get(), LOCK_EX) != 0) return sys::errnoError("flock", kNetLock, errno);
  auto host = Netlink::open();
  if (!host) return std::move(host).error();
  auto used = host->addresses4();
  if (!used) return std::move(used).error();
  auto subnet = pickSubnet(pool, *used);
  if (!subnet) return std::move(subnet).error();
  std::string veth = newVethName();
  KM_TRY(host->createVeth(veth, "eth0", init_pid, kVethGroup));
  auto index = host->linkIndex(veth);
  if (!index) return std::move(index).error();
  // No IPv6 on the host end either (no router or neighbour solicitations into the sandbox).
  if (std::string v6 = "/proc/sys/net/ipv6/conf/" + veth + "/disable_ipv6"; ::access(v6.c_str(), F_OK) == 0) {
    KM_TRY(sys::writeFile(v6, "1"));
  }
  KM_TRY(host->addAddress(*index, subnet->host, 30));
  KM_TRY(host->setUp(*index));
  return std::pair{veth, *subnet};
}

// eth0 inside: the sandbox end's address and the default route through the host end.
Status addressInside(pid_t init_pid, const Subnet& subnet) {
  auto inside = Netlink::open(init_pid);
  if (!inside) return std::move(inside).error();
  auto eth0 = inside->linkIndex("eth0");
  if (!eth0) return std::move(eth0).error();
  KM_TRY(inside->addAddress(*eth0, subnet.sandbox, 30));
  KM_TRY(inside->setUp(*eth0));
  return inside->addDefaultRoute(*eth0, subnet.host);
}

Result<std::unique_ptr<EgressGate>> attachGate(const NetworkSpec& spec, const NetworkPlacement& where,
                                               const IpAddress& host) {
  if (where.cgroup_v2_dir.empty()) {
    return unavailable("enforcement " + std::string(enforcementName(spec.enforcement)) +
                       " needs a cgroup v2 hierarchy for its eBPF programs and this host has none; use enforcement: proxy");
  }
  KM_TRY(EgressGate::bpffsDir());
  // With both, connections to hosts the proxy must see go to its transparent port.
  uint16_t transparent = spec.enforcement == Enforcement::kBoth ? kTransparentProxyPort : 0;
  auto g = EgressGate::attach(where.cgroup_v2_dir, where.pin_dir, host, transparent);
  if (!g) return std::move(g).error();
  for (const auto& c : spec.reachableCidrs()) KM_TRY(g->allowCidr(c));
  return std::make_unique<EgressGate>(std::move(*g));
}

// In `proxy` mode the sandbox's own nftables send web traffic to the proxy and DNS to the
// resolver on the host end, and refuse the rest; their log is read through NFLOG.
Result<std::unique_ptr<NfLog>> sandboxRules(pid_t init_pid, const IpAddress& host) {
  Status rules = ok();
  Result<NfLog> nl = internalError("not opened");
  KM_TRY(inNetnsOf(init_pid, [&] {
    rules = installSandboxRules(host, kSandboxLogGroup);
    if (rules) nl = NfLog::open(0, kSandboxLogGroup);
  }));
  if (!rules) return std::move(rules).error();
  if (!nl) return std::move(nl).error().context("the network log of the sandbox's nftables");
  return std::make_unique<NfLog>(std::move(*nl));
}

// Where the transparent proxy learns the destinations of redirected connections (proxy,
// both): a netlink socket inside the sandbox's namespace.
Result<std::unique_ptr<OriginalDestinations>> originalsFor(const NetworkSpec& spec, pid_t init_pid, const IpAddress& host,
                                                           const EgressGate* gate) {
  Endpoint proxy{host, kTransparentProxyPort};
  if (spec.enforcement == Enforcement::kProxy) return OriginalDestinations::conntrack(init_pid, proxy);
  if (spec.enforcement == Enforcement::kBoth && gate) return OriginalDestinations::sockDiag(init_pid, proxy, *gate);
  return std::unique_ptr<OriginalDestinations>();
}

}  // namespace

SandboxNetwork::SandboxNetwork(IpAddress host, std::unique_ptr<EgressGate> gate, std::unique_ptr<NfLog> nflog,
                               std::unique_ptr<OriginalDestinations> originals)
    : host_(host), gate_(std::move(gate)), nflog_(std::move(nflog)), originals_(std::move(originals)) {}
SandboxNetwork::SandboxNetwork(SandboxNetwork&&) noexcept = default;
SandboxNetwork& SandboxNetwork::operator=(SandboxNetwork&&) noexcept = default;
SandboxNetwork::~SandboxNetwork() = default;

Result<SandboxNetwork> SandboxNetwork::setUp(const NetworkSpec& spec, pid_t init_pid, const NetworkPlacement& where) {
  auto veth = makeVeth(spec.subnet_pool, init_pid);
  if (!veth) return std::move(veth).error();
  const auto& [name, subnet] = *veth;
  KM_TRY(addressInside(init_pid, subnet));
  KM_TRY(ensureHostRules());

  std::unique_ptr<EgressGate> gate;
  std::unique_ptr<NfLog> nflog;
  if (usesEbpf(spec.enforcement)) {
    auto g = attachGate(spec, where, subnet.host);
    if (!g) return std::move(g).error();
    gate = std::move(*g);
  } else {
    auto n = sandboxRules(init_pid, subnet.host);
    if (!n) return std::move(n).error();
    nflog = std::move(*n);
  }

  doc::Node facts = doc::Node::map();
  facts.set("veth", doc::Node::string(name));
  facts.set("hostAddress", doc::Node::string(subnet.host.toString()));
  facts.set("sandboxAddress", doc::Node::string(subnet.sandbox.toString()));
  facts.set("subnet", doc::Node::string(subnet.block.toString()));
  facts.set("enforcement", doc::Node::string(std::string(enforcementName(spec.enforcement))));
  auto originals = originalsFor(spec, init_pid, subnet.host, gate.get());
  if (!originals) return std::move(originals).error().context("the transparent proxy's view of the sandbox");
  KM_TRY(sys::replaceFile(where.facts_path, doc::toJson(facts) + "\n", 0600));
  return SandboxNetwork(subnet.host, std::move(gate), std::move(nflog), std::move(*originals));
}

namespace {

Result<doc::Node> readFacts(const std::string& facts_path) {
  auto text = fs::readFile(facts_path, 64 << 10);
  if (!text) return notFound("no network recorded in " + facts_path);
  doc::Node facts;
  std::string err;
  if (!doc::parseJson(*text, facts, &err)) return invalidArgument(facts_path + ": " + err);
  return facts;
}

Result<IpAddress> hostAddressIn(const doc::Node& facts, const std::string& facts_path) {
  const doc::Node* host_text = facts.find("hostAddress");
  auto host = IpAddress::parse(host_text ? host_text->text() : "");
  if (!host) return invalidArgument(facts_path + ": no hostAddress");
  return *host;
}

}  // namespace

Result<IpAddress> recordedHostAddress(const std::string& facts_path) {
  auto facts = readFacts(facts_path);
  if (!facts) return std::move(facts).error();
  return hostAddressIn(*facts, facts_path);
}

Result<SandboxNetwork> SandboxNetwork::reopen(const NetworkSpec& spec, pid_t init_pid, const NetworkPlacement& where) {
  auto facts = readFacts(where.facts_path);
  if (!facts) return std::move(facts).error();
  auto host = hostAddressIn(*facts, where.facts_path);
  if (!host) return std::move(host).error();
  // A veth made by an older km is not in kVethGroup yet: the host rules would not see it.
  if (const doc::Node* veth = facts->find("veth"); veth && !veth->text().empty()) {
    auto nl = Netlink::open();
    if (!nl) return std::move(nl).error();
    if (auto index = nl->linkIndex(veth->text())) KM_TRY(nl->setGroup(*index, kVethGroup));
  }
  std::unique_ptr<EgressGate> gate;
  std::unique_ptr<NfLog> nflog;
  if (usesEbpf(spec.enforcement)) {
    auto g = EgressGate::open(where.pin_dir);
    if (!g) return std::move(g).error().context("reopening the eBPF maps");
    gate = std::make_unique<EgressGate>(std::move(*g));
  } else if (init_pid > 0) {
    auto nl = NfLog::open(init_pid, kSandboxLogGroup);
    if (!nl) return std::move(nl).error().context("the network log of the sandbox's nftables");
    nflog = std::make_unique<NfLog>(std::move(*nl));
  }
  std::unique_ptr<OriginalDestinations> originals;
  if (init_pid > 0) {
    auto o = originalsFor(spec, init_pid, *host, gate.get());
    if (!o) return std::move(o).error().context("the transparent proxy's view of the sandbox");
    originals = std::move(*o);
  }
  return SandboxNetwork(*host, std::move(gate), std::move(nflog), std::move(originals));
}

Status SandboxNetwork::remove(const NetworkPlacement& where) {
  Status pins = EgressGate::removePins(where.pin_dir);
  if (::unlink(where.facts_path.c_str()) != 0 && errno != ENOENT) {
    return sys::errnoError("unlink", where.facts_path, errno);
  }
  return pins;
}

std::string SandboxNetwork::resolvConf() const {
  return "# written by km: the sandbox's allowlist resolver\nnameserver " + host_.toString() + "\n";
}

ServiceOptions SandboxNetwork::resolverOptions(const NetworkSpec& spec) {
  ServiceOptions so;
  so.listen = host_;
  so.port = kDnsPort;
  so.upstreams = spec.dns_upstreams;
  so.policy = spec.hostPolicy();
  so.allowed_cidrs = spec.reachableCidrs();
  so.redirect_to_proxy = spec.enforcement == Enforcement::kBoth;
  so.proxy_extra = HostPolicy({}, spec.ai_endpoints);
  so.nflog = std::move(nflog_);
  return so;
}

std::unique_ptr<EgressGate> SandboxNetwork::takeGate() { return std::move(gate_); }

proxy::Options SandboxNetwork::proxyOptions(const NetworkSpec& spec, const std::string& ca_dir) {
  proxy::Options o;
  o.listen = host_;
  o.explicit_port = kProxyPort;
  o.transparent_port = kTransparentProxyPort;
  o.policy = spec.hostPolicy();
  o.https_only = spec.https_only;
  o.connect_ports = spec.proxy_ports;
  o.resolver = Endpoint{host_, kDnsPort};
  o.intercept = proxy::Interception{ca_dir, spec.interceptHosts(), spec.extra_ca_file};
  if (originals_) {
    std::shared_ptr<OriginalDestinations> originals(std::move(originals_));
    o.original_destination = [originals](const Endpoint& client) { return originals->lookup(client); };
  }
  return o;
}

bool servesProxy(Enforcement e) { return e != Enforcement::kEbpf; }

std::vector<std::string> proxyEnvironment(const IpAddress& host) {
  std::string url = "http://" + host.toString() + ":" + std::to_string(kProxyPort);
  const char* no_proxy = "localhost,127.0.0.1,::1";
  return {"HTTP_PROXY=" + url,  "HTTPS_PROXY=" + url,  "http_proxy=" + url, "https_proxy=" + url,
          std::string("NO_PROXY=") + no_proxy, std::string("no_proxy=") + no_proxy};
}

}  // namespace km::net
