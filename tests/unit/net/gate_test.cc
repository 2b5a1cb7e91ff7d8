// The eBPF egress programs on a real cgroup (root only; skipped otherwise). A child process
// joins a fresh cgroup v2 group and a fresh network namespace with only loopback, so nothing
// can leave the machine: an allowed connect to a TEST-NET address fails with ENETUNREACH
// (no route), a refused one with EPERM (the program said no).
#include "net/bpf/gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/sys.h"
#include "net/bpf/egress_shared.h"
#include "net/link.h"
#include "substrate/local/cgroup.h"

namespace km::net {
namespace {

// Result codes from the child: errno of each attempt, in order. `local_port`, when given,
// gets the connected socket's own port (0 when the connect failed).
// Inside a test's namespace: 10.77.0.1 (the "host end") on loopback with a TCP listener on
// `port`. The listening fd, or -100/-101/-102 for the step that failed.
int hostEndListener(uint16_t port) {
  auto nl = Netlink::open();
  if (!nl) return -100;
  auto lo = nl->linkIndex("lo");
  if (!lo || !nl->addAddress(*lo, *IpAddress::parse("10.77.0.1"), 32)) return -101;
  int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, "10.77.0.1", &sa.sin_addr);
  if (::bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(srv, 16) != 0) return -102;
  return srv;
}

int connectErrno(int family, const char* addr, uint16_t port, int type = SOCK_STREAM, uint64_t* cookie = nullptr) {
  int s = ::socket(family, type | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int rc;
  if (family == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &sa.sin_addr);
    rc = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    ::inet_pton(AF_INET6, addr, &sa.sin6_addr);
    rc = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  int err = rc == 0 ? 0 : errno;
  if (cookie) {
    socklen_t len = sizeof *cookie;
    *cookie = 0;
    if (rc == 0) (void)::getsockopt(s, SOL_SOCKET, SO_COOKIE, cookie, &len);
  }
  ::close(s);
  return err;
}

int sendtoErrno(const char* addr, uint16_t port) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, addr, &sa.sin_addr);
  int rc = static_cast<int>(::sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa));
  int err = rc < 0 ? errno : 0;
  ::close(s);
  return err;
}

void loopbackUp() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  ::ioctl(s, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP;
  ::ioctl(s, SIOCSIFFLAGS, &ifr);
  ::close(s);
}

class Gate : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (cgroups, eBPF)";
    std::string root = substrate::local::detectCgroups().v2_root;
    if (root.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy";
    cgroup_ = root + "/km-gate-test-" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(cgroup_.c_str(), 0755), 0) << std::strerror(errno);
    auto dir = EgressGate::bpffsDir();
    ASSERT_TRUE(dir) << dir.error().message();
    pins_ = *dir + "/gate-test-" + std::to_string(::getpid());
  }
  void TearDown() override {
    if (!cgroup_.empty()) ::rmdir(cgroup_.c_str());
    if (!pins_.empty()) (void)EgressGate::removePins(pins_);
  }

  // Runs `body` in a child inside the cgroup and a new netns (lo up); returns its output
  // (whatever it wrote to the pipe, one int per attempt).
  std::vector<int> inSandbox(const std::function<std::vector<int>()>& body) {
    auto p = sys::pipe();
    EXPECT_TRUE(p);
    auto [r, w] = std::move(*p);
    pid_t pid = ::fork();
    if (pid == 0) {
      r.reset();
      std::string me = std::to_string(::getpid());
      if (!sys::writeFile(cgroup_ + "/cgroup.procs", me)) ::_exit(2);
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(3);
      loopbackUp();
      std::vector<int> out = body();
      (void)sys::writeAll(w.get(), std::string(reinterpret_cast<char*>(out.data()), out.size() * sizeof(int)), "pipe");
      ::_exit(0);
    }
    w.reset();
    auto text = sys::readAll(r.get(), "pipe", 1 << 16);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    std::vector<int> out(text ? text->size() / sizeof(int) : 0);
    if (!out.empty()) std::memcpy(out.data(), text->data(), out.size() * sizeof(int));
    return out;
  }

  std::string cgroup_, pins_;
};

TEST_F(Gate, ConnectPolicyExpiryCidrsAndEvents) {
  auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("127.0.0.1"), 0);
  ASSERT_TRUE(gate) << gate.error().message();
  ASSERT_TRUE(gate->allow(*IpAddress::parse("203.0.113.10"), 300));
  ASSERT_TRUE(gate->allow(*IpAddress::parse("203.0.113.11"), 1));
  ASSERT_TRUE(gate->allowCidr(*Cidr::parse("198.51.100.0/24")));
  ASSERT_TRUE(gate->allow(*IpAddress::parse("2001:db8::10"), 300));
  ::sleep(2);  // 203.0.113.11's one-second TTL runs out
  auto got = inSandbox([] {
    return std::vector<int>{
        connectErrno(AF_INET, "203.0.113.10", 443),   // allowed: no route
        connectErrno(AF_INET, "203.0.113.12", 443),   // its neighbour: refused
        connectErrno(AF_INET, "203.0.113.11", 443),   // expired: refused
        connectErrno(AF_INET, "198.51.100.77", 22),   // allowed CIDR
        connectErrno(AF_INET6, "2001:db8::10", 443),  // allowed v6
        connectErrno(AF_INET6, "2001:db8::11", 443),  // v6 neighbour
        connectErrno(AF_INET6, "::ffff:203.0.113.12", 443),  // mapped v4: v4 rules
        sendtoErrno("203.0.113.12", 9999),            // UDP elsewhere
        connectErrno(AF_INET, "127.0.0.1", 1),        // loopback: allowed (nothing listens)
        connectErrno(AF_INET, "127.0.0.1", 1, SOCK_DGRAM),
    };
  });
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[0], ENETUNREACH);
  EXPECT_EQ(got[1], EPERM);
  EXPECT_EQ(got[2], EPERM);
  EXPECT_EQ(got[3], ENETUNREACH);
  EXPECT_EQ(got[4], ENETUNREACH);
  EXPECT_EQ(got[5], EPERM);
  EXPECT_EQ(got[6], EPERM);
  EXPECT_EQ(got[7], EPERM);
  EXPECT_EQ(got[8], ECONNREFUSED);
  EXPECT_EQ(got[9], 0);

  std::vector<GateEvent> events;
  gate->drain([&](const GateEvent& e) { events.push_back(e); });
  auto find = [&](const std::string& ip, const std::string& verdict) {
    for (const auto& e : events) {
      if (e.address.toString() == ip && e.verdict == verdict) return &e;
    }
    return static_cast<const GateEvent*>(nullptr);
  };
  ASSERT_TRUE(find("203.0.113.10", "allow"));
  const GateEvent* neighbour = find("203.0.113.12", "deny");
  ASSERT_TRUE(neighbour);
  EXPECT_EQ(neighbour->port, 443);
  EXPECT_EQ(neighbour->protocol, "tcp");
  EXPECT_GT(neighbour->pid, 0u);
  EXPECT_FALSE(neighbour->comm.empty());
  const GateEvent* expired = find("203.0.113.11", "deny");
  ASSERT_TRUE(expired);
  EXPECT_NE(expired->reason.find("TTL"), std::string::npos);
  ASSERT_TRUE(find("2001:db8::11", "deny"));
  // 8 decisions outside loopback: allow, deny, deny, allow, allow, deny, deny, deny(udp).
  EXPECT_EQ(events.size(), 8u);

  // The sweeper drops long-expired entries only.
  EXPECT_EQ(gate->sweep(3600), 0u);
  EXPECT_EQ(gate->sweep(0), 1u);
}

// Loopback passes only where it stays on loopback: a socket bound to a network device
// (SO_BINDTODEVICE, no privilege needed) would send 127.0.0.0/8 or ::1 out of that device,
// to whatever listens on the other end's host.
TEST_F(Gate, LoopbackFromADeviceBoundSocketIsRefused) {
  auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("127.0.0.1"), 0);
  ASSERT_TRUE(gate) << gate.error().message();
  auto got = inSandbox([] {
    std::vector<int> out;
    // A device besides lo, as a sandbox has its veth.
    out.push_back(std::system("ip link add v0 type veth peer name v1 && ip link set v0 up && "
                              "ip link set v1 up && ip addr add 10.99.0.2/24 dev v0 2>/dev/null"));
    auto attempt = [](int family, int type, const char* addr, const char* device, bool connect_first) {
      int s = ::socket(family, type | SOCK_CLOEXEC, 0);
      if (s < 0) return -errno;
      sockaddr_storage sa{};
      socklen_t len = 0;
      if (family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&sa);
        a->sin_family = AF_INET;
        a->sin_port = htons(9);
        ::inet_pton(AF_INET, addr, &a->sin_addr);
        len = sizeof *a;
      } else {
        auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(9);
        ::inet_pton(AF_INET6, addr, &a->sin6_addr);
        len = sizeof *a;
      }
      int rc = 0;
      if (connect_first) {
        // Connected while unbound (the hook lets loopback through), bound afterwards.
        rc = ::connect(s, reinterpret_cast<sockaddr*>(&sa), len);
        if (rc == 0 && device) rc = ::setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, device, std::strlen(device) + 1);
        if (rc == 0) rc = static_cast<int>(::send(s, "x", 1, 0));
      } else {
        if (device) rc = ::setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, device, std::strlen(device) + 1);
        if (rc == 0 && type == SOCK_STREAM) rc = ::connect(s, reinterpret_cast<sockaddr*>(&sa), len);
        else if (rc == 0) rc = static_cast<int>(::sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&sa), len));
      }
      int err = rc < 0 ? errno : 0;
      ::close(s);
      return err;
    };
    out.push_back(attempt(AF_INET, SOCK_DGRAM, "127.0.0.1", "v0", false));   // sendto, bound
    out.push_back(attempt(AF_INET, SOCK_STREAM, "127.0.0.1", "v0", false));  // connect, bound
    out.push_back(attempt(AF_INET, SOCK_DGRAM, "127.0.0.1", "v0", true));    // bound after connect
    out.push_back(attempt(AF_INET, SOCK_DGRAM, "127.0.0.1", nullptr, false)); // unbound: passes
    out.push_back(attempt(AF_INET, SOCK_DGRAM, "127.0.0.1", "lo", false));    // bound to lo: passes
    out.push_back(attempt(AF_INET6, SOCK_STREAM, "::1", "v0", false));       // ::1, bound
    return out;
  });
  ASSERT_EQ(got.size(), 7u);
  ASSERT_EQ(got[0], 0) << "could not make the veth";
  EXPECT_EQ(got[1], EPERM);
  EXPECT_EQ(got[2], EPERM);
  // Bound after connecting: the kernel itself will not route loopback out of v0 (EINVAL);
  // the egress program would drop it otherwise. Either way nothing leaves.
  EXPECT_TRUE(got[3] == EPERM || got[3] == EINVAL) << got[3];
  EXPECT_EQ(got[4], 0);
  EXPECT_EQ(got[5], 0);
  EXPECT_EQ(got[6], EPERM);
  std::vector<GateEvent> events;
  gate->drain([&](const GateEvent& e) { events.push_back(e); });
  int device_refusals = 0;
  for (const auto& e : events) device_refusals += e.reason.find("bound to a network device") != std::string::npos;
  EXPECT_GE(device_refusals, 3);
}

TEST_F(Gate, DnsAnywhereGoesToTheResolver) {
  auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("127.0.0.1"), 0);
  ASSERT_TRUE(gate) << gate.error().message();
  auto got = inSandbox([] {
    // Our "resolver" listens on 127.0.0.1:53 inside; a query aimed at another server
    // must arrive here.
    int srv = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(53);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int bound = ::bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    int sent = sendtoErrno("198.51.100.53", 53);
    char buf[8];
    timeval tv{1, 0};
    ::setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int n = static_cast<int>(::recv(srv, buf, sizeof buf, 0));
    int v6 = connectErrno(AF_INET6, "2001:db8::53", 53, SOCK_DGRAM);
    return std::vector<int>{bound, sent, n, v6};
  });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], 0);
  EXPECT_EQ(got[1], 0);
  EXPECT_EQ(got[2], 1) << "the datagram to 198.51.100.53:53 did not reach the resolver";
  EXPECT_EQ(got[3], EPERM);
  std::vector<GateEvent> events;
  gate->drain([&](const GateEvent& e) { events.push_back(e); });
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].verdict, "redirect");
  EXPECT_EQ(events[0].address.toString(), "198.51.100.53");
}

TEST_F(Gate, ReopenedFromPins) {
  {
    auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("127.0.0.1"), 0);
    ASSERT_TRUE(gate) << gate.error().message();
  }
  // The attaching process is gone (here: the object); the programs still hold.
  auto again = EgressGate::open(pins_);
  ASSERT_TRUE(again) << again.error().message();
  ASSERT_TRUE(again->allow(*IpAddress::parse("203.0.113.20"), 60));
  auto got = inSandbox([] {
    return std::vector<int>{connectErrno(AF_INET, "203.0.113.20", 80), connectErrno(AF_INET, "203.0.113.21", 80)};
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], ENETUNREACH);
  EXPECT_EQ(got[1], EPERM);
}

// Enforcement both: TCP to a host the proxy must see goes to the transparent proxy, from an
// IPv4 socket and from a dual-stack one (::ffff:a.b.c.d) alike, and the proxy can find the
// original destination by the client socket's cookie; the proxy port itself may be dialled both ways,
// other host ports neither way.
TEST_F(Gate, BothRedirectsIpv4AndMappedAlike) {
  constexpr uint16_t kProxyPort = 15001;
  auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("10.77.0.1"), kProxyPort);
  ASSERT_TRUE(gate) << gate.error().message();
  ASSERT_TRUE(gate->allow(*IpAddress::parse("203.0.113.30"), 300, /*via_proxy=*/true));
  auto got = inSandbox([] {
    // The "host end" is an address on the namespace's loopback, with the proxy listening.
    int srv = hostEndListener(kProxyPort);
    if (srv < 0) return std::vector<int>{srv};
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, "10.77.0.1", &sa.sin_addr);
    // errno of the connect, then the client socket's cookie (0 when it failed), as two ints.
    std::vector<int> out;
    auto attempt = [&](int family, const char* addr, uint16_t port) {
      uint64_t cookie = 0;
      out.push_back(connectErrno(family, addr, port, SOCK_STREAM, &cookie));
      out.push_back(static_cast<int>(cookie & 0xffffffffu));
      out.push_back(static_cast<int>(cookie >> 32));
    };
    attempt(AF_INET, "203.0.113.30", 443);          // proxied host: to the proxy
    attempt(AF_INET6, "::ffff:203.0.113.30", 443);  // the same through a dual-stack socket
    attempt(AF_INET, "10.77.0.1", kProxyPort);      // the proxy port, dialled directly
    attempt(AF_INET6, "::ffff:10.77.0.1", kProxyPort);
    attempt(AF_INET, "10.77.0.1", 22);              // any other port of the host end: no
    attempt(AF_INET6, "::ffff:10.77.0.1", 22);
    ::close(srv);
    // DNS to another server from a dual-stack socket arrives at the resolver's address.
    int dns = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sa.sin_port = htons(53);
    if (::bind(dns, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return std::vector<int>{-103};
    int c6 = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 other{};
    other.sin6_family = AF_INET6;
    other.sin6_port = htons(53);
    ::inet_pton(AF_INET6, "::ffff:198.51.100.53", &other.sin6_addr);
    int rc = ::connect(c6, reinterpret_cast<sockaddr*>(&other), sizeof other);
    out.push_back(rc == 0 && ::send(c6, "q", 1, 0) == 1 ? 0 : errno);
    char buf[8];
    timeval tv{1, 0};
    ::setsockopt(dns, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    out.push_back(static_cast<int>(::recv(dns, buf, sizeof buf, 0)));
    ::close(c6);
    ::close(dns);
    return out;
  });
  ASSERT_EQ(got.size(), 20u) << (got.empty() ? 0 : got[0]);
  EXPECT_EQ(got[18], 0) << std::strerror(got[18]);
  EXPECT_EQ(got[19], 1) << "the datagram to ::ffff:198.51.100.53:53 did not reach the resolver";
  EXPECT_EQ(got[0], 0) << std::strerror(got[0]);
  EXPECT_EQ(got[3], 0) << std::strerror(got[3]);
  EXPECT_EQ(got[6], 0) << std::strerror(got[6]);
  EXPECT_EQ(got[9], 0) << std::strerror(got[9]);
  EXPECT_EQ(got[12], EPERM);
  EXPECT_EQ(got[15], EPERM);
  for (int i : {1, 4}) {
    uint64_t cookie = static_cast<uint32_t>(got[i]) | uint64_t{static_cast<uint32_t>(got[i + 1])} << 32;
    auto orig = gate->originalDestination(cookie);
    ASSERT_TRUE(orig) << "no original destination for socket cookie " << cookie;
    EXPECT_EQ(orig->toString(), "203.0.113.30:443");
  }
  // A socket that dialled the proxy port itself has none.
  uint64_t direct = static_cast<uint32_t>(got[7]) | uint64_t{static_cast<uint32_t>(got[8])} << 32;
  EXPECT_FALSE(gate->originalDestination(direct));
  std::vector<GateEvent> events;
  gate->drain([&](const GateEvent& e) { events.push_back(e); });
  int redirects = 0, denies = 0, dns = 0;
  for (const auto& e : events) {
    if (e.verdict == "redirect" && e.address.toString() == "203.0.113.30" && e.port == 443 &&
        e.reason.find("transparent proxy") != std::string::npos) {
      ++redirects;
    }
    if (e.verdict == "deny" && e.address.toString() == "10.77.0.1" && e.port == 22 &&
        e.reason.find("host end") != std::string::npos) {
      ++denies;
    }
    if (e.verdict == "redirect" && e.address.toString() == "198.51.100.53" && e.port == 53) ++dns;
  }
  EXPECT_EQ(redirects, 2);
  EXPECT_EQ(denies, 2);
  EXPECT_EQ(dns, 1);
}

// Enforcement both: every TCP connection to port 80 or 443 of an allowed address goes to the
// transparent proxy (its name is checked there), not only hosts the proxy must see; other
// ports of the same address go direct; the proxy's explicit port is open too.
TEST_F(Gate, BothSendsEveryWebPortToTheProxy) {
  constexpr uint16_t kTransparent = 15002;
  auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("10.77.0.1"), kTransparent);
  ASSERT_TRUE(gate) << gate.error().message();
  ASSERT_TRUE(gate->allow(*IpAddress::parse("203.0.113.40"), 300));  // an ordinary allowed name
  auto got = inSandbox([] {
    int srv = hostEndListener(kTransparent);
    if (srv < 0) return std::vector<int>{srv};
    std::vector<int> out = {
        connectErrno(AF_INET, "203.0.113.40", 443),  // to the proxy: connected
        connectErrno(AF_INET, "203.0.113.40", 80),   // the same
        connectErrno(AF_INET, "203.0.113.40", 22),   // direct: no route out of this namespace
        connectErrno(AF_INET, "10.77.0.1", 3128),    // the explicit port: allowed (nothing listens)
        connectErrno(AF_INET6, "::ffff:203.0.113.40", 443),  // mapped: the IPv4 rules, redirected
        connectErrno(AF_INET, "203.0.113.41", 443),  // not allowed: refused before any redirect
    };
    ::close(srv);
    return out;
  });
  ASSERT_EQ(got.size(), 6u) << (got.empty() ? 0 : got[0]);
  EXPECT_EQ(got[0], 0) << std::strerror(got[0]);
  EXPECT_EQ(got[1], 0) << std::strerror(got[1]);
  EXPECT_EQ(got[2], ENETUNREACH) << std::strerror(got[2]);
  EXPECT_EQ(got[3], ECONNREFUSED) << std::strerror(got[3]);
  EXPECT_EQ(got[4], 0) << std::strerror(got[4]);
  EXPECT_EQ(got[5], EPERM) << std::strerror(got[5]);
}

// A failed attach (here: a directory that is not a cgroup) says what failed and leaves no
// pinned maps or pin directory behind.
TEST_F(Gate, FailedAttachLeavesNoPins) {
  std::string plain = "/tmp/km-gate-test-plain-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(plain.c_str(), 0755), 0) << std::strerror(errno);
  auto gate = EgressGate::attach(plain, pins_, *IpAddress::parse("10.77.0.1"), 0);
  ::rmdir(plain.c_str());
  ASSERT_FALSE(gate);
  EXPECT_NE(gate.error().message().find("attaching km_connect4 to " + plain), std::string::npos)
      << gate.error().message();
  struct stat st {};
  EXPECT_NE(::stat(pins_.c_str(), &st), 0) << pins_ << " was left behind";
}

// The address map is small (KM_HOST_MAX): when it is full, expired addresses make room at
// once; when every entry is live, the new address is refused with a message that says so.
TEST_F(Gate, FullAddressMapSweepsThenRefuses) {
  auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("127.0.0.1"), 0);
  ASSERT_TRUE(gate) << gate.error().message();
  auto addr = [](uint32_t i) { return IpAddress::v4(100, 64, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)); };
  for (uint32_t i = 0; i < KM_HOST_MAX; ++i) {
    ASSERT_TRUE(gate->allow(addr(i), i == 0 ? 3600 : 1)) << i;
  }
  ::usleep(1'100'000);  // all but the first expire
  auto made_room = gate->allow(*IpAddress::parse("198.51.100.1"), 3600);
  ASSERT_TRUE(made_room) << made_room.error().message();
  for (uint32_t i = 1; i + 1 < KM_HOST_MAX; ++i) ASSERT_TRUE(gate->allow(addr(i), 3600)) << i;
  auto full = gate->allow(*IpAddress::parse("198.51.100.2"), 3600);
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().message().find("full of live entries"), std::string::npos) << full.error().message();
  // The first address stayed allowed throughout.
  auto got = inSandbox([] { return std::vector<int>{connectErrno(AF_INET, "100.64.0.0", 80)}; });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], ENETUNREACH);
}

// Allowed connects go to a per-CPU log of KM_LOG_SLOTS records: on one CPU, more connects
// than that between two drains keep the newest, in order, and count the rest as lost.
TEST_F(Gate, AllowLogKeepsTheNewestAndCountsTheLost) {
  auto gate = EgressGate::attach(cgroup_, pins_, *IpAddress::parse("127.0.0.1"), 0);
  ASSERT_TRUE(gate) << gate.error().message();
  ASSERT_TRUE(gate->allow(*IpAddress::parse("203.0.113.10"), 3600));
  constexpr int kConnects = KM_LOG_SLOTS * 3 + 7;
  auto got = inSandbox([] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) return std::vector<int>{-1};
    int unreachable = 0;
    for (int i = 1; i <= kConnects; ++i) {  // ports 1001…: clear of DNS (53)
      unreachable += connectErrno(AF_INET, "203.0.113.10", static_cast<uint16_t>(1000 + i)) == ENETUNREACH;
    }
    return std::vector<int>{unreachable};
  });
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0], kConnects);  // every one allowed (no route behind it)
  std::vector<uint16_t> ports;
  gate->drain([&](const GateEvent& e) {
    if (e.verdict == "allow") ports.push_back(e.port);
  });
  ASSERT_EQ(ports.size(), static_cast<size_t>(KM_LOG_SLOTS));
  for (size_t i = 0; i < ports.size(); ++i) {
    ASSERT_EQ(ports[i], 1000 + kConnects - KM_LOG_SLOTS + 1 + i) << "record " << i;
  }
  EXPECT_EQ(gate->lostAllowEvents(), static_cast<uint64_t>(kConnects - KM_LOG_SLOTS));
  // Nothing twice: the next drain finds nothing new.
  int again = gate->drain([](const GateEvent&) {});
  EXPECT_EQ(again, 0);
}

}  // namespace
}  // namespace km::net
