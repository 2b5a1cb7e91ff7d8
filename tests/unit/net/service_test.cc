// The resolver service end to end on loopback: a real client (dig) asks km's resolver, which
// forwards allowed names to a fake upstream (tests/fakes/fake_dns.py) and refuses the rest
// without ever asking upstream; what it resolves is named in the resolution table and each
// query is an audit record. No root needed (no eBPF here; see gate_test).
#include "net/service.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/rotating_file.h"
#include "core/sys.h"
#include "core/tree.h"
#include "doc/json_io.h"
#include "doc/node.h"
#include "net/dns/message.h"
#include "net/resolution_table.h"
#include "support/run_command.h"

namespace km::net {
namespace {

uint16_t freePort() {
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(s);
  return ntohs(sa.sin_port);
}

using test::runCapture;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/km-svc.XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir_ = tmpl;
    upstream_port_ = freePort();
    auto p = sys::pipe();
    ASSERT_TRUE(p);
    auto [r, w] = std::move(*p);
    fake_ = ::fork();
    if (fake_ == 0) {
      ::dup2(w.get(), 1);
      std::string script = std::string(KM_SOURCE_DIR) + "/tests/fakes/fake_dns.py";
      std::string port = std::to_string(upstream_port_);
      std::string log = dir_ + "/upstream.log";
      ::execlp("python3", "python3", script.c_str(), "127.0.0.1", port.c_str(),
               "api.anthropic.com=203.0.113.10", "*.github.com=203.0.113.20,2001:db8::20",
               "github.com=203.0.113.21", "evil.example=203.0.113.66", "rebind.github.com=127.0.0.1",
               "--ttl", "120", "--log", log.c_str(), nullptr);
      ::_exit(127);
    }
    w.reset();
    // "ready\n" may come in pieces; read up to the newline (end-of-file: it died).
    std::string said;
    char ch = 0;
    while (said.size() < 16 && ::read(r.get(), &ch, 1) == 1 && ch != '\n') said.push_back(ch);
    ASSERT_EQ(said, "ready") << "fake DNS server did not start";
  }
  void TearDown() override {
    service_.reset();
    audit_.reset();
    if (fake_ > 0) {
      ::kill(fake_, SIGKILL);
      ::waitpid(fake_, nullptr, 0);
    }
    (void)tree::removeTree(dir_);
  }
  void openAudit(RotationLimits limits = {}) {
    auto w = audit::Writer::open(dir_ + "/network.log", limits);
    ASSERT_TRUE(w) << w.error().message();
    audit_ = std::move(*w);
  }
  void start(ServiceOptions o) {
    if (!audit_) openAudit();
    service_ = std::make_unique<Service>(std::move(o), nullptr, names_, *audit_);
    Status s = service_->start();
    ASSERT_TRUE(s) << s.error().message();
  }
  void startService(RotationLimits limits = {}) {
    openAudit(limits);
    ServiceOptions o;
    o.listen = *IpAddress::parse("127.0.0.1");
    o.port = port_ = freePort();
    o.upstreams = {*Endpoint::parse("127.0.0.1:" + std::to_string(upstream_port_), 53)};
    o.policy = HostPolicy({".github.com", ".anthropic.com"}, {});
    start(std::move(o));
  }
  std::string dig(const std::string& args) {
    return runCapture("dig @127.0.0.1 -p " + std::to_string(port_) + " +time=2 +tries=1 " + args + " 2>&1");
  }

  std::string dir_;
  uint16_t upstream_port_ = 0, port_ = 0;
  pid_t fake_ = -1;
  // What a DataPlane would own; the service borrows them.
  ResolutionTable names_;
  std::unique_ptr<audit::Writer> audit_;
  std::unique_ptr<Service> service_;
};

TEST_F(ServiceTest, AnswersAllowedRefusesOthersNeverAsksUpstreamForThem) {
  startService();
  EXPECT_EQ(dig("api.anthropic.com +short"), "203.0.113.10\n");
  EXPECT_EQ(dig("WWW.GitHub.com. AAAA +short"), "2001:db8::20\n");
  EXPECT_EQ(dig("github.com +short +tcp"), "203.0.113.21\n");
  std::string denied = dig("evil.example");
  EXPECT_NE(denied.find("status: NXDOMAIN"), std::string::npos) << denied;
  std::string evil_tcp = dig("evil.example +tcp");
  EXPECT_NE(evil_tcp.find("status: NXDOMAIN"), std::string::npos) << evil_tcp;
  // Cached: a second ask does not reach upstream.
  EXPECT_EQ(dig("api.anthropic.com +short"), "203.0.113.10\n");
  std::string upstream = slurp(dir_ + "/upstream.log");
  EXPECT_EQ(upstream.find("evil.example"), std::string::npos) << upstream;
  size_t first = upstream.find("api.anthropic.com");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(upstream.find("api.anthropic.com", first + 1), std::string::npos) << "not cached: " << upstream;
  EXPECT_NE(upstream.find("tcp github.com"), std::string::npos) << "TCP clients go upstream over TCP";

  service_.reset();  // flushes nothing more; the log is written as it goes
  std::stringstream lines(slurp(dir_ + "/network.log"));
  std::string line;
  int allow = 0, deny = 0, cached = 0;
  while (std::getline(lines, line)) {
    doc::Node n;
    ASSERT_TRUE(doc::parseJson(line, n, nullptr)) << line;
    EXPECT_EQ(n.find("layer")->text(), "dns");
    ASSERT_TRUE(n.find("time"));
    if (n.find("decision")->text() == "allow") ++allow;
    if (n.find("decision")->text() == "deny") {
      ++deny;
      EXPECT_EQ(n.find("name")->text(), "evil.example");
      EXPECT_EQ(n.find("rcode")->text(), "NXDOMAIN");
      EXPECT_EQ(n.find("reason")->text(), "not in the allowlist");
    }
    if (n.find("cached")->text() == "true") ++cached;
  }
  EXPECT_EQ(allow, 4);
  EXPECT_EQ(deny, 2);
  EXPECT_EQ(cached, 1);
}

TEST_F(ServiceTest, RebindingAnswersAreLoggedAsWithheld) {
  startService();
  std::string out = dig("rebind.github.com");
  EXPECT_NE(out.find("status: NXDOMAIN"), std::string::npos) << out;
  service_.reset();
  std::string log = slurp(dir_ + "/network.log");
  EXPECT_NE(log.find(R"x("withheld":["127.0.0.1 (loopback)"])x"), std::string::npos) << log;
}

TEST_F(ServiceTest, WhatItResolvesIsNamedInTheResolutionTable) {
  startService();
  EXPECT_EQ(dig("api.anthropic.com +short"), "203.0.113.10\n");
  EXPECT_EQ(dig("WWW.GitHub.com. AAAA +short"), "2001:db8::20\n");
  EXPECT_EQ(names_.lookup(*IpAddress::parse("203.0.113.10"), ResolutionTable::Clock::now()), "api.anthropic.com");
  EXPECT_EQ(names_.lookup(*IpAddress::parse("2001:db8::20"), ResolutionTable::Clock::now()), "www.github.com");
  // Refused names and withheld addresses name nothing.
  dig("evil.example");
  dig("rebind.github.com");
  EXPECT_EQ(names_.lookup(*IpAddress::parse("203.0.113.66"), ResolutionTable::Clock::now()), std::nullopt);
  EXPECT_EQ(names_.lookup(*IpAddress::parse("127.0.0.1"), ResolutionTable::Clock::now()), std::nullopt);
}

TEST_F(ServiceTest, StopsAndStartsAgainOnTheSameAddress) {
  startService();
  EXPECT_EQ(dig("github.com +short"), "203.0.113.21\n");
  service_->stop();
  service_->stop();  // idempotent
  service_.reset();
  ServiceOptions o;
  o.listen = *IpAddress::parse("127.0.0.1");
  o.port = port_;
  o.upstreams = {*Endpoint::parse("127.0.0.1:" + std::to_string(upstream_port_), 53)};
  o.policy = HostPolicy({".github.com"}, {});
  start(std::move(o));
  EXPECT_EQ(dig("github.com +short"), "203.0.113.21\n");
  EXPECT_EQ(dig("github.com +short +tcp"), "203.0.113.21\n");
  // A second service on the same address is refused with the address in the error.
  ServiceOptions again;
  again.listen = *IpAddress::parse("127.0.0.1");
  again.port = port_;
  Service second(std::move(again), nullptr, names_, *audit_);
  Status s = second.start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("127.0.0.1:" + std::to_string(port_)), std::string::npos) << s.error().message();
}

TEST_F(ServiceTest, NoUpstreamMeansServfailAndSaysWhy) {
  ServiceOptions o;
  o.listen = *IpAddress::parse("127.0.0.1");
  o.port = port_ = freePort();
  o.policy = HostPolicy({".github.com"}, {});
  start(std::move(o));
  EXPECT_NE(dig("github.com").find("status: SERVFAIL"), std::string::npos);
  EXPECT_NE(dig("evil.example").find("status: NXDOMAIN"), std::string::npos);
  service_.reset();
  EXPECT_NE(slurp(dir_ + "/network.log").find("no DNS upstream is configured"), std::string::npos);
}

TEST_F(ServiceTest, TheLogStaysWithinItsBoundUnderAFloodOfQueries) {
  // 600 refused names, answered without upstream: about 140 KiB of log lines into a log
  // bounded at 3 files of 4 KiB.
  const RotationLimits limits{.max_file_bytes = 4096, .max_files = 3};
  startService(limits);
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  sys::UniqueFd sock(s);
  timeval tv{2, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port_);
  constexpr int kQueries = 600;
  for (int i = 0; i < kQueries; ++i) {
    dns::Question q;
    q.name = "flood-" + std::to_string(i) + ".evil.example";
    q.type = 1;
    std::string wire = dns::buildQuery(static_cast<uint16_t>(i), q);
    ASSERT_EQ(::sendto(s, wire.data(), wire.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(wire.size()));
    // One at a time: each answer means its line is in the batch the next turn writes.
    char answer[512];
    ASSERT_GT(::recv(s, answer, sizeof answer, 0), 0) << "no answer to query " << i;
  }
  service_.reset();  // the last batch is written

  EXPECT_FALSE(fs::exists(dir_ + "/network.log.3"));
  uint64_t total = 0;
  std::vector<int> seen;  // the query numbers on disk, oldest file first
  for (int f = limits.max_files - 1; f >= 0; --f) {
    std::string path = rotatedPath(dir_ + "/network.log", f);
    std::string text = slurp(path);
    EXPECT_LE(text.size(), limits.max_file_bytes) << path;
    EXPECT_FALSE(text.empty()) << path;
    total += text.size();
    std::stringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      doc::Node n;
      ASSERT_TRUE(doc::parseJson(line, n, nullptr)) << path << ": " << line;
      std::string name = n.find("name")->text();
      ASSERT_EQ(name.rfind("flood-", 0), 0u) << line;
      seen.push_back(std::stoi(name.substr(6)));
    }
  }
  EXPECT_LE(total, limits.max_file_bytes * limits.max_files);
  // The newest records are kept, in order and without gaps; the oldest were dropped.
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), kQueries - 1);
  EXPECT_GT(seen.front(), 0);
  for (size_t i = 1; i < seen.size(); ++i) ASSERT_EQ(seen[i], seen[i - 1] + 1) << "at " << i;
}

// The fake upstream answers over TCP and closes at once (the answer and the end of the stream
// arrive together): every answer is still used.
TEST_F(ServiceTest, TcpUpstreamThatClosesRightAfterItsAnswerIsHeard) {
  startService();
  for (int i = 0; i < 20; ++i) {
    std::string name = "tcp" + std::to_string(i) + ".github.com";
    EXPECT_EQ(dig(name + " +short +tcp"), "203.0.113.20\n") << name;
  }
}

// A TCP client that pipelines queries and never reads its answers: it gets a bounded amount
// of answers, then is disconnected; the supervisor holds no more for it, and others are
// answered meanwhile.
TEST_F(ServiceTest, ATcpClientThatDoesNotReadIsCutOff) {
  startService();
  ASSERT_EQ(dig("api.anthropic.com +short"), "203.0.113.10\n");  // cached from now on
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  sys::UniqueFd sock(s);
  int small = 4096;  // the client reads nothing, so its receive buffer fills at once
  ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port_);
  ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  timeval tv{5, 0};
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  dns::Question q;
  q.name = "api.anthropic.com";
  q.type = 1;
  std::string one = dns::buildQuery(7, q);
  std::string framed;
  framed.push_back(static_cast<char>(one.size() >> 8));
  framed.push_back(static_cast<char>(one.size() & 0xFF));
  framed += one;
  // 20,000 queries (about 700 KB): answered in full they would be about 1.2 MB waiting.
  std::string burst;
  for (int i = 0; i < 20000; ++i) burst += framed;
  size_t sent = 0;
  while (sent < burst.size()) {
    ssize_t n = ::send(s, burst.data() + sent, burst.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // cut off (reset or broken pipe), or blocked past the timeout
    sent += static_cast<size_t>(n);
  }
  // The service ends the connection: reading what it sent ends in EOF or a reset, and the
  // answers it sent are far fewer than the queries.
  size_t got = 0;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(s, buf, sizeof buf, 0)) > 0) got += static_cast<size_t>(n);
  EXPECT_TRUE(n == 0 || errno == ECONNRESET) << "still connected: " << std::strerror(errno);
  EXPECT_LT(got, size_t{512} << 10) << "answers received: " << got << " bytes";
  // Meanwhile and afterwards the resolver answers everyone else.
  EXPECT_EQ(dig("api.anthropic.com +short"), "203.0.113.10\n");
  EXPECT_EQ(dig("github.com +short +tcp"), "203.0.113.21\n");
}

// Uncached queries pipelined over TCP each need an upstream connection: against an upstream
// that accepts and never answers, at most 64 are open at once however many queries wait.
TEST_F(ServiceTest, UpstreamTcpConnectionsAreCapped) {
  // The black hole: connections complete into its accept queue, and nobody answers.
  int hole = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(hole, 0);
  sys::UniqueFd hole_fd(hole);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(hole, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(::listen(hole, 1024), 0);
  socklen_t len = sizeof at;
  ASSERT_EQ(::getsockname(hole, reinterpret_cast<sockaddr*>(&at), &len), 0);
  ServiceOptions o;
  o.listen = *IpAddress::parse("127.0.0.1");
  o.port = port_ = freePort();
  o.upstreams = {*Endpoint::parse("127.0.0.1:" + std::to_string(ntohs(at.sin_port)), 53)};
  o.policy = HostPolicy({".github.com"}, {});
  start(std::move(o));

  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  sys::UniqueFd client(s);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port_);
  ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  std::string burst;
  for (int i = 0; i < 300; ++i) {
    dns::Question q;
    q.name = "q" + std::to_string(i) + ".github.com";
    q.type = 1;
    std::string wire = dns::buildQuery(static_cast<uint16_t>(i), q);
    burst.push_back(static_cast<char>(wire.size() >> 8));
    burst.push_back(static_cast<char>(wire.size() & 0xFF));
    burst += wire;
  }
  ASSERT_EQ(::send(s, burst.data(), burst.size(), MSG_NOSIGNAL), static_cast<ssize_t>(burst.size()));
  // Long enough for the first sends and a retry round (1.5 s per try).
  ::usleep(2500 * 1000);
  int opened = 0;
  for (;;) {
    int c = ::accept4(hole, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) break;
    ::close(c);
    ++opened;
  }
  EXPECT_GT(opened, 0) << "queries went upstream over TCP";
  EXPECT_LE(opened, 64) << "upstream connections opened while all were still open";
}

}  // namespace
}  // namespace km::net
