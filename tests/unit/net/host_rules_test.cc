// The host rules (table inet km) touch km's sandbox veths only. Run in a throwaway "host"
// network namespace with the real ruleset: an interface named like km's (kmhost0) but not
// a sandbox's keeps its traffic; the same interface, once in the sandboxes' interface
// group, gets the sandbox treatment (only the DNS and proxy ports of its own host end reach
// the host).
// Needs root; touches no namespace but the two it makes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "core/sys.h"
#include "net/link.h"
#include "net/net.h"
#include "net/netlink_io.h"
#include "net/nft.h"

namespace km::net {
namespace {

// A child process alone in a new network namespace until the object goes.
class Netns {
 public:
  Netns() {
    auto p = sys::pipe();
    if (!p) return;
    auto [r, w] = std::move(*p);
    pid_ = ::fork();
    if (pid_ == 0) {
      r.reset();
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(2);
      (void)sys::writeAll(w.get(), "r", "pipe");
      for (;;) ::pause();
    }
    w.reset();
    char c;
    if (::read(r.get(), &c, 1) != 1) stop();
  }
  ~Netns() { stop(); }
  pid_t pid() const { return pid_; }

 private:
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  pid_t pid_ = -1;
};

sockaddr_in address(const char* ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &sa.sin_addr);
  return sa;
}

// A TCP listener on ip:port inside `netns_of`'s namespace.
sys::UniqueFd listenIn(pid_t netns_of, const char* ip, uint16_t port) {
  sys::UniqueFd fd;
  (void)inNetnsOf(netns_of, [&] {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa = address(ip, port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd.get(), 8) != 0) fd.reset();
  });
  return fd;
}

// Whether a TCP connect from `netns_of`'s namespace to ip:port completes within 1.5 s (a
// dropped SYN never does).
bool connectsFrom(pid_t netns_of, const char* ip, uint16_t port) {
  sys::UniqueFd fd;
  (void)inNetnsOf(netns_of, [&] { fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)); });
  if (!fd.valid()) return false;
  sockaddr_in sa = address(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, 1500) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

TEST(HostRulesTest, AnInterfaceNamedLikeKmsButNotASandboxsIsLeftAlone) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nftables)";
  Netns host, client;
  ASSERT_GT(host.pid(), 0);
  ASSERT_GT(client.pid(), 0);
  // kmhost0 in the "host" namespace, its peer eth0 in the client's; not in kVethGroup.
  auto h = Netlink::open(host.pid());
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_TRUE(h->createVeth("kmhost0", "eth0", client.pid()));
  auto c = Netlink::open(client.pid());
  ASSERT_TRUE(c) << c.error().message();
  auto hi = h->linkIndex("kmhost0");
  auto ci = c->linkIndex("eth0");
  ASSERT_TRUE(hi && ci);
  ASSERT_TRUE(h->addAddress(*hi, *IpAddress::parse("10.254.78.1"), 30));
  ASSERT_TRUE(h->setUp(*hi));
  ASSERT_TRUE(c->addAddress(*ci, *IpAddress::parse("10.254.78.2"), 30));
  ASSERT_TRUE(c->setUp(*ci));
  for (Netlink* nl : {&*h, &*c}) {
    auto lo = nl->linkIndex("lo");
    ASSERT_TRUE(lo && nl->setUp(*lo));
  }
  Status rules = nftRun(hostRuleset(), host.pid());
  ASSERT_TRUE(rules) << rules.error().message();

  sys::UniqueFd other = listenIn(host.pid(), "10.254.78.1", 7778);
  sys::UniqueFd dns = listenIn(host.pid(), "10.254.78.1", kDnsPort);
  ASSERT_TRUE(other.valid() && dns.valid());
  // Not a sandbox's: any port of the host is reachable (the rules of an older km, matching
  // iifname "km*", dropped this).
  EXPECT_TRUE(connectsFrom(client.pid(), "10.254.78.1", 7778));
  EXPECT_TRUE(connectsFrom(client.pid(), "10.254.78.1", kDnsPort));

  // The same interface as a sandbox's veth: only the DNS and proxy ports.
  ASSERT_TRUE(h->setGroup(*hi, kVethGroup));
  EXPECT_FALSE(connectsFrom(client.pid(), "10.254.78.1", 7778));
  EXPECT_TRUE(connectsFrom(client.pid(), "10.254.78.1", kDnsPort));

  // ...and only on its own host end: the same port on the host's other addresses (its LAN
  // address, another sandbox's host end) is refused.
  auto lo = h->linkIndex("lo");
  ASSERT_TRUE(lo);
  ASSERT_TRUE(h->addAddress(*lo, *IpAddress::parse("10.254.99.1"), 32));
  ASSERT_TRUE(c->addDefaultRoute(*ci, *IpAddress::parse("10.254.78.1")));
  sys::UniqueFd elsewhere = listenIn(host.pid(), "10.254.99.1", kDnsPort);
  sys::UniqueFd proxy_elsewhere = listenIn(host.pid(), "10.254.99.1", kProxyPort);
  ASSERT_TRUE(elsewhere.valid() && proxy_elsewhere.valid());
  EXPECT_FALSE(connectsFrom(client.pid(), "10.254.99.1", kDnsPort));
  EXPECT_FALSE(connectsFrom(client.pid(), "10.254.99.1", kProxyPort));
  EXPECT_TRUE(connectsFrom(client.pid(), "10.254.78.1", kDnsPort)) << "its own host end still answers";
  // Out of the group again, the other address is reachable: the rule, not routing, refused it.
  ASSERT_TRUE(h->setGroup(*hi, 0));
  EXPECT_TRUE(connectsFrom(client.pid(), "10.254.99.1", kDnsPort));

  // The host's loopback: a socket bound to its device (no privilege needed) sends to
  // 127.0.0.1 out of the veth; a host with route_localnet on (kube-proxy sets it) would
  // deliver it to a loopback-only service. Not from a sandbox's veth.
  ASSERT_TRUE(inNetnsOf(host.pid(), [] {
    sys::UniqueFd f(::open("/proc/sys/net/ipv4/conf/kmhost0/route_localnet", O_WRONLY | O_CLOEXEC));
    if (f.valid()) (void)!::write(f.get(), "1", 1);
  }));
  sys::UniqueFd local_dns;
  (void)inNetnsOf(host.pid(), [&] {
    local_dns.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in sa = address("127.0.0.1", kDnsPort);
    if (::bind(local_dns.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) local_dns.reset();
  });
  ASSERT_TRUE(local_dns.valid());
  auto sendsToHostLoopback = [&]() {
    (void)inNetnsOf(client.pid(), [] {
      sys::UniqueFd u(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ::setsockopt(u.get(), SOL_SOCKET, SO_BINDTODEVICE, "eth0", 5);
      sockaddr_in to = address("127.0.0.1", kDnsPort);
      (void)::sendto(u.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    });
    pollfd p{local_dns.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return false;
    char buf[16];
    return ::recv(local_dns.get(), buf, sizeof buf, 0) > 0;
  };
  EXPECT_TRUE(sendsToHostLoopback()) << "the path exists for an interface that is not a sandbox's";
  ASSERT_TRUE(h->setGroup(*hi, kVethGroup));
  EXPECT_FALSE(sendsToHostLoopback());
}

// A table of another km version (other chains, other rules, the old marker) is replaced
// whole, in one transaction, by ensureHostRules; this km's own table is left as it is.
TEST(HostRulesTest, AnotherVersionsTableIsReplacedWhole) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nftables)";
  Netns host;
  ASSERT_GT(host.pid(), 0);
  Status old = nftRun(
      "table inet km {\n"
      "  chain raw_pre {\n    type filter hook prerouting priority raw; policy accept;\n  }\n"
      "  chain sandbox_notrack_in {\n    type filter hook prerouting priority raw; policy accept;\n  }\n"
      "  chain input {\n    type filter hook input priority filter; policy accept;\n"
      "    iifgroup 27501 tcp dport { 53, 3128, 3129 } accept\n  }\n"
      "}\n",
      host.pid());
  ASSERT_TRUE(old) << old.error().message();
  auto inHost = [&](auto fn) {
    decltype(fn()) r = internalError("not run");
    EXPECT_TRUE(inNetnsOf(host.pid(), [&] { r = fn(); }));
    return r;
  };
  EXPECT_FALSE(*inHost([] { return hostRulesPresent(); })) << "an older table is not this km's";
  Status made = inHost([] { return ensureHostRules(); });
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_TRUE(*inHost([] { return hostRulesPresent(); }));
  EXPECT_FALSE(*inHost([] { return chainPresent("km", "raw_pre"); })) << "the old table's chains went with it";
  EXPECT_TRUE(*inHost([] { return chainPresent("km", "sandbox_notrack_in"); }));
  // Idempotent; and the marker names this ruleset.
  ASSERT_TRUE(inHost([] { return ensureHostRules(); }));
  EXPECT_NE(hostRuleset().find("chain " + hostRulesMark() + " {"), std::string::npos);
  EXPECT_EQ(hostRulesMark().size(), 14u);  // rules_ + 8 hex digits
}

}  // namespace
}  // namespace km::net
