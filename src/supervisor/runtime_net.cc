// Runtime: the sandbox's network. A veth pair (host end km<8 hex>, new at each start;
// sandbox end eth0) on a /30 from the operator's pool, the host rules, the eBPF gate on the
// sandbox's v2 cgroup (enforcement ebpf|both) or nftables in the sandbox (proxy), and the
// resolver service.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/fs.h"
#include "core/log.h"
#include "core/rotating_file.h"
#include "doc/json_io.h"
#include "doc/node.h"
#include "net/link.h"
#include "net/netlink_io.h"
#include "net/nflog.h"
#include "net/nft.h"
#include "supervisor/runtime.h"

namespace km::supervisor {

namespace local = substrate::local;

namespace {
constexpr std::string_view kLog = "km.supervisor";
constexpr const char* kNetLock = "/run/km/net.lock";
constexpr uint16_t kTransparentPort = 3129;

bool usesEbpf(const std::string& enforcement) { return enforcement == "ebpf" || enforcement == "both"; }

// The CIDRs a sandbox may reach by address: the operator's network.allowCIDRs and the IP
// literals among the profile's allowedHosts ("10.20.0.5", "[2001:db8::5]").
Result<std::vector<net::Cidr>> allowedCidrs(const plan::SandboxPlan& plan) {
  std::vector<net::Cidr> out;
  for (const auto& c : plan.allowed_cidrs) {
    auto parsed = net::Cidr::parse(c);
    if (!parsed) return std::move(parsed).error().context("operator config network.allowCIDRs");
    out.push_back(*parsed);
  }
  for (std::string_view h : plan.allowed_hosts) {
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (auto ip = net::IpAddress::parse(h)) out.push_back(net::Cidr{*ip, ip->v6 ? 128 : 32});
  }
  return out;
}


}  // namespace

std::string Runtime::vethName() const {
  // New at every start: the previous start's veth may still be on its way out with its old
  // network namespace (the kernel tears that down asynchronously). Random, so neither other
  // sandboxes nor other km homes collide (a clash would fail the create, not mix them up).
  uint32_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != sizeof r) r = static_cast<uint32_t>(::getpid()) * 2654435761u;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%08x", net::kVethPrefix, r);
  return buf;
}

std::string Runtime::pinDir() const {
  return net::EgressGate::pinDir(local::homeTag(km_home_), plan_.id);
}

Status Runtime::startNetwork(pid_t init_pid, std::string& resolv_conf) {
  auto pool = net::Cidr::parse(plan_.subnet_pool.empty() ? "10.213.0.0/16" : plan_.subnet_pool);
  if (!pool) return std::move(pool).error().context("operator config network.subnetPool");
  auto allowed_r = allowedCidrs(plan_);
  if (!allowed_r) return std::move(allowed_r).error();
  std::vector<net::Cidr> allowed = std::move(*allowed_r);
  std::vector<net::Endpoint> upstreams;
  for (const auto& u : plan_.dns_upstreams) {
    auto e = net::Endpoint::parse(u, 53);
    if (!e) return std::move(e).error().context("operator config dns.upstream");
    upstreams.push_back(*e);
  }
  if (upstreams.empty()) {
    log::warn(kLog, plan_.id + ": no DNS upstream (dns.upstream in the operator config, or a nameserver in "
                    "the host's /etc/resolv.conf): allowed names will get SERVFAIL");
  }

  // One creator at a time picks a subnet: the kernel's address list is the record.
  KM_TRY(sys::makeDirs("/run/km", 0755));
  auto lock = sys::open(kNetLock, O_RDWR | O_CREAT, 0600);
  if (!lock) return std::move(lock).error();
  if (::flock(lock->get(), LOCK_EX) != 0) return sys::errnoError("flock", kNetLock, errno);
  auto host = net::Netlink::open();
  if (!host) return std::move(host).error();
  auto used = host->addresses4();
  if (!used) return std::move(used).error();
  auto subnet = net::pickSubnet(*pool, *used);
  if (!subnet) return std::move(subnet).error();
  std::string veth = vethName();
  KM_TRY(host->createVeth(veth, "eth0", init_pid));
  auto host_index = host->linkIndex(veth);
  if (!host_index) return std::move(host_index).error();
  // No IPv6 on the host end either (no router or neighbour solicitations into the sandbox).
  if (std::string v6 = "/proc/sys/net/ipv6/conf/" + veth + "/disable_ipv6"; ::access(v6.c_str(), F_OK) == 0) {
    KM_TRY(sys::writeFile(v6, "1"));
  }
  KM_TRY(host->addAddress(*host_index, subnet->host, 30));
  KM_TRY(host->setUp(*host_index));
  lock->reset();

  auto inside = net::Netlink::open(init_pid);
  if (!inside) return std::move(inside).error();
  auto eth0 = inside->linkIndex("eth0");
  if (!eth0) return std::move(eth0).error();
  KM_TRY(inside->addAddress(*eth0, subnet->sandbox, 30));
  KM_TRY(inside->setUp(*eth0));
  KM_TRY(inside->addDefaultRoute(*eth0, subnet->host));
  KM_TRY(net::ensureHostRules());

  std::unique_ptr<net::EgressGate> gate;
  if (usesEbpf(plan_.enforcement)) {
    if (cgroups_.v2Dir().empty()) {
      return unavailable("enforcement " + plan_.enforcement +
                         " needs a cgroup v2 hierarchy for its eBPF programs and this host has none; use enforcement: proxy");
    }
    KM_TRY(net::EgressGate::bpffsDir());
    // With both, connections to hosts the proxy must see go to its transparent port.
    uint16_t transparent = plan_.enforcement == "both" ? kTransparentPort : 0;
    auto g = net::EgressGate::attach(cgroups_.v2Dir(), pinDir(), subnet->host, transparent);
    if (!g) return std::move(g).error();
    for (const auto& c : allowed) KM_TRY(g->allowCidr(c));
    gate = std::make_unique<net::EgressGate>(std::move(*g));
  }
  std::unique_ptr<net::NfLog> nflog;
  if (!usesEbpf(plan_.enforcement)) {
    // In `proxy` mode the sandbox's own nftables send web traffic to the proxy and DNS to the
    // resolver on the host end, and refuse the rest; their log is read through NFLOG.
    Status rules = ok();
    Result<net::NfLog> nl = internalError("not opened");
    KM_TRY(net::inNetnsOf(init_pid, [&] {
      rules = net::installSandboxRules(subnet->host, net::kSandboxLogGroup);
      if (rules) nl = net::NfLog::open(0, net::kSandboxLogGroup);
    }));
    if (!rules) return std::move(rules).error();
    if (!nl) return std::move(nl).error().context("the network log of the sandbox's nftables");
    nflog = std::make_unique<net::NfLog>(std::move(*nl));
  }

  doc::Node facts = doc::Node::map();
  facts.set("veth", doc::Node::string(veth));
  facts.set("hostAddress", doc::Node::string(subnet->host.toString()));
  facts.set("sandboxAddress", doc::Node::string(subnet->sandbox.toString()));
  facts.set("subnet", doc::Node::string(subnet->block.toString()));
  facts.set("enforcement", doc::Node::string(plan_.enforcement));
  KM_TRY(sys::replaceFile(layout_.net_file, doc::toJson(facts) + "\n", 0600));

  net::ServiceOptions so;
  so.listen = subnet->host;
  so.upstreams = upstreams;
  so.policy = net::HostPolicy(plan_.allowed_dns_suffixes, plan_.allowed_hosts);
  so.allowed_cidrs = allowed;
  so.redirect_to_proxy = plan_.enforcement == "both";
  so.proxy_extra = net::HostPolicy({}, plan_.ai_endpoints);
  so.log_path = layout_.network_log;
  so.log_limits = plan_.logs.rotation();  // operator config logs.*, recorded at create
  so.gate = std::move(gate);
  so.nflog = std::move(nflog);
  auto svc = net::Service::start(std::move(so));
  if (!svc) return std::move(svc).error();
  service_ = std::move(*svc);
  resolv_conf = "# written by km: the sandbox's allowlist resolver\nnameserver " + subnet->host.toString() + "\n";
  return ok();
}

Status Runtime::resumeNetwork() {
  auto text = fs::readFile(layout_.net_file);
  if (!text) return ok();  // no network recorded (stopped, or made before networking)
  doc::Node facts;
  std::string err;
  if (!doc::parseJson(*text, facts, &err)) return invalidArgument(layout_.net_file + ": " + err);
  auto host = net::IpAddress::parse(facts.find("hostAddress") ? facts.find("hostAddress")->text() : "");
  if (!host) return invalidArgument(layout_.net_file + ": no hostAddress");
  std::vector<net::Cidr> allowed = allowedCidrs(plan_).value_or(std::vector<net::Cidr>{});
  std::vector<net::Endpoint> upstreams;
  for (const auto& u : plan_.dns_upstreams) {
    if (auto e = net::Endpoint::parse(u, 53)) upstreams.push_back(*e);
  }
  net::ServiceOptions so;
  so.listen = *host;
  so.upstreams = upstreams;
  so.policy = net::HostPolicy(plan_.allowed_dns_suffixes, plan_.allowed_hosts);
  so.allowed_cidrs = allowed;
  so.redirect_to_proxy = plan_.enforcement == "both";
  so.proxy_extra = net::HostPolicy({}, plan_.ai_endpoints);
  so.log_path = layout_.network_log;
  so.log_limits = plan_.logs.rotation();  // operator config logs.*, recorded at create
  so.udp_fd = std::exchange(dns_udp_fd_, -1);
  so.tcp_fd = std::exchange(dns_tcp_fd_, -1);
  if (usesEbpf(plan_.enforcement)) {
    auto g = net::EgressGate::open(pinDir());
    if (!g) return std::move(g).error().context("reopening the eBPF maps");
    so.gate = std::make_unique<net::EgressGate>(std::move(*g));
  } else if (init_pid_ > 0) {
    auto nl = net::NfLog::open(init_pid_, net::kSandboxLogGroup);
    if (!nl) return std::move(nl).error().context("the network log of the sandbox's nftables");
    so.nflog = std::make_unique<net::NfLog>(std::move(*nl));
  }
  auto svc = net::Service::start(std::move(so));
  if (!svc) return std::move(svc).error();
  service_ = std::move(*svc);
  return ok();
}

void Runtime::stopNetwork() {
  service_.reset();
  if (auto s = net::EgressGate::removePins(pinDir()); !s) log::warn(kLog, plan_.id + ": " + s.error().message());
  ::unlink(layout_.net_file.c_str());
  // The veth goes with the sandbox's network namespace (deleting it here would block).
}

std::pair<int, int> Runtime::releaseNetworkForExec() {
  if (!service_) return {-1, -1};
  auto fds = service_->releaseForExec();
  service_.reset();
  return fds;
}

}  // namespace km::supervisor
