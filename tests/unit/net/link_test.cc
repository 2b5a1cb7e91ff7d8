#include "net/link.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "core/sys.h"
#include "net/nflog.h"
#include "net/nft.h"
#include "support/run_command.h"

namespace km::net {
namespace {

Cidr cidr(const char* s) { return *Cidr::parse(s); }

TEST(Subnet, FirstFreeSlash30) {
  auto s = pickSubnet(cidr("10.213.0.0/16"), {});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->block.toString(), "10.213.0.0/30");
  EXPECT_EQ(s->host.toString(), "10.213.0.1");
  EXPECT_EQ(s->sandbox.toString(), "10.213.0.2");
  s = pickSubnet(cidr("10.213.0.0/16"), {cidr("10.213.0.1/30"), cidr("10.213.0.5/30"), cidr("192.168.1.1/24")});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->block.toString(), "10.213.0.8/30");
  // A wide address elsewhere covering the pool's start pushes past it.
  s = pickSubnet(cidr("10.213.0.0/16"), {cidr("10.213.0.0/24")});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->block.toString(), "10.213.1.0/30");
}

TEST(Subnet, ExhaustedAndBadPools) {
  auto s = pickSubnet(cidr("10.0.0.0/30"), {cidr("10.0.0.1/30")});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("used up (1 sandboxes)"), std::string::npos);
  EXPECT_FALSE(pickSubnet(cidr("10.0.0.0/31"), {}));
  EXPECT_FALSE(pickSubnet(cidr("fd00::/64"), {}));
}

// A veth into a child's fresh network namespace, addressed on both ends, reachable by TCP.
TEST(Netlink, VethIntoAnotherNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto ready = sys::pipe();
  auto go = sys::pipe();
  ASSERT_TRUE(ready && go);
  auto [ready_r, ready_w] = std::move(*ready);
  auto [go_r, go_w] = std::move(*go);
  pid_t child = ::fork();
  if (child == 0) {
    ready_r.reset();
    go_w.reset();
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(2);
    (void)sys::writeAll(ready_w.get(), "r", "pipe");
    char c;
    if (::read(go_r.get(), &c, 1) != 1) ::_exit(3);
    // Serve one TCP connection on the sandbox address.
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(7777);
    ::inet_pton(AF_INET, "10.254.77.2", &sa.sin_addr);
    if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ::_exit(4);
    ::listen(s, 1);
    timeval tv{5, 0};  // bounded: a failed connect must not leave us waiting forever
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)sys::writeAll(ready_w.get(), "l", "pipe");
    int c2 = ::accept(s, nullptr, nullptr);
    (void)::write(c2, "hi", 2);
    ::close(c2);
    ::_exit(0);
  }
  ready_w.reset();
  go_r.reset();
  char c;
  ASSERT_EQ(::read(ready_r.get(), &c, 1), 1);
  // Not "km…": the host rules of a machine that ran km treat km* interfaces as sandboxes.
  std::string host_if = "kltest" + std::to_string(::getpid() % 100000);
  auto cleanup = [&] {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    if (auto nl = Netlink::open()) (void)nl->deleteLink(host_if);
  };
  auto host = Netlink::open();
  ASSERT_TRUE(host) << host.error().message();
  auto created = host->createVeth(host_if, "eth0", child);
  if (!created) {
    cleanup();
    FAIL() << created.error().message();
  }
  auto inside = Netlink::open(child);
  ASSERT_TRUE(inside) << inside.error().message();
  auto hi = host->linkIndex(host_if);
  auto si = inside->linkIndex("eth0");
  ASSERT_TRUE(hi && si);
  EXPECT_TRUE(host->addAddress(*hi, *IpAddress::parse("10.254.77.1"), 30));
  EXPECT_TRUE(host->setUp(*hi));
  EXPECT_TRUE(inside->addAddress(*si, *IpAddress::parse("10.254.77.2"), 30));
  EXPECT_TRUE(inside->setUp(*si));
  EXPECT_TRUE(inside->addDefaultRoute(*si, *IpAddress::parse("10.254.77.1")));
  auto addrs = inside->addresses4();
  ASSERT_TRUE(addrs);
  bool found = false;
  for (const auto& a : *addrs) found |= a.toString() == "10.254.77.0/30";
  EXPECT_TRUE(found);
  auto dup = host->createVeth(host_if, "eth0", child);
  EXPECT_FALSE(dup);  // EEXIST, said as such
  (void)sys::writeAll(go_w.get(), "g", "pipe");
  ASSERT_EQ(::read(ready_r.get(), &c, 1), 1);
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(7777);
  ::inet_pton(AF_INET, "10.254.77.2", &sa.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bool connected = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  EXPECT_TRUE(connected) << std::strerror(errno);
  char buf[4] = {};
  EXPECT_EQ(::read(s, buf, sizeof buf), 2);
  EXPECT_STREQ(buf, "hi");
  ::close(s);
  int status = 0;
  if (!connected) ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The namespace is gone with the child; its veth goes too (asynchronously).
  if (auto nl = Netlink::open()) (void)nl->deleteLink(host_if);
}


TEST(Nft, TablePresence) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string name = "km_presence_" + std::to_string(::getpid());
  auto before = tablePresent(name);
  ASSERT_TRUE(before) << before.error().message();
  EXPECT_FALSE(*before);
  ASSERT_TRUE(nftRun("add table inet " + name + "\n"));
  auto during = tablePresent(name);
  ASSERT_TRUE(during);
  EXPECT_TRUE(*during);
  ASSERT_TRUE(nftRun("delete table inet " + name + "\n"));
  EXPECT_FALSE(*tablePresent(name));
}

TEST(Nft, ErrorsCarryNftsMessage) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto s = nftRun("add table inet km_bogus_test\nadd chain inet km_bogus_test c { type filter hook nowhere priority 0; }\n");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("unknown chain hook"), std::string::npos) << s.error().message();
  (void)nftRun("delete table inet km_bogus_test\n");
}

using test::runCapture;

// The proxy-mode rules, written as one nfnetlink batch, read back by the real nft, and
// exercised: a refused TCP connect gets a reset at once and is logged to NFLOG.
TEST(Nft, SandboxRulesBatch) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto result = sys::pipe();
  ASSERT_TRUE(result);
  auto [rd, wr] = std::move(*result);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rd.reset();
    auto say = [&](const std::string& text) {
      (void)sys::writeAll(wr.get(), text, "pipe");
      ::_exit(0);
    };
    if (::unshare(CLONE_NEWNET) != 0) say("unshare failed");
    // A route out (a veth whose peer stays here too) so connects reach the output hooks.
    if (std::system("ip link set lo up && ip link add km_t0 type veth peer name km_t1 && ip link set km_t1 up && "
                    "ip addr add 10.213.0.2/30 dev km_t0 && "
                    "ip link set km_t0 up && ip route add default via 10.213.0.1") != 0) {
      say("ip setup failed");
    }
    auto host = *IpAddress::parse("10.213.0.1");
    if (auto s = installSandboxRules(host, kSandboxLogGroup); !s) say("install: " + s.error().message());
    std::string listing = runCapture("nft list table inet km_sandbox 2>&1");
    auto log = NfLog::open(0, kSandboxLogGroup);
    if (!log) say("nflog: " + log.error().message());
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(8080);
    ::inet_pton(AF_INET, "192.0.2.7", &to.sin_addr);  // TEST-NET-1: never routed anywhere real
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
    int err = rc == 0 ? 0 : errno;
    ::close(fd);
    std::string logged;
    pollfd pfd{log->fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 2000) == 1) {
      log->drain([&](const NfLog::Entry& e) {
        logged += e.prefix + " " + e.dest.toString() + ":" + std::to_string(e.port) + "/" + e.protocol + "\n";
      });
    }
    say("connect errno " + std::to_string(err) + "\n" + logged + "---\n" + listing);
  }
  wr.reset();
  auto text = sys::readAll(rd.get(), "pipe", 1 << 20);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(text);
  const std::string& t = *text;
  EXPECT_NE(t.find("connect errno " + std::to_string(ECONNREFUSED)), std::string::npos) << t;
  EXPECT_NE(t.find("km-deny 192.0.2.7:8080/tcp"), std::string::npos) << t;
  for (const char* rule : {
           "type nat hook output priority -100; policy accept;",
           "ip daddr != 10.213.0.1 udp dport 53 log prefix \"km-dns\" group 7 dnat ip to 10.213.0.1:53",
           "ip daddr != 10.213.0.1 tcp dport 53 log prefix \"km-dns\" group 7 dnat ip to 10.213.0.1:53",
           "tcp dport 80 log prefix \"km-proxy\" group 7 dnat ip to 10.213.0.1:3129",
           "tcp dport 443 log prefix \"km-proxy\" group 7 dnat ip to 10.213.0.1:3129",
           "type filter hook output priority filter; policy drop;",
           "ip daddr 10.213.0.1 udp dport 53 accept",
           "ip daddr 10.213.0.1 tcp dport 3129 accept",
           "meta l4proto tcp log prefix \"km-deny\" group 7 reject with tcp reset",
           "log prefix \"km-deny\" group 7 reject with icmpx admin-prohibited",
       }) {
    EXPECT_NE(t.find(rule), std::string::npos) << "missing: " << rule << "\n" << t;
  }
}

TEST(Nft, SandboxRulesRefuseIpv6HostAddress) {
  auto s = installSandboxRules(*IpAddress::parse("fd00::1"), kSandboxLogGroup);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("IPv4"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace km::net
