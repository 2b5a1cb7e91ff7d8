#include "net/service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/check.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/warning_pacer.h"
#include "net/audit_records.h"
#include "net/dns/resolver.h"

namespace km::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxTcpClients = 64;
// Answers waiting for a TCP client that does not read: past kTcpOutPause its further queries
// wait unread; past kTcpOutLimit (answers to queries already sent upstream) it is
// disconnected. So 64 clients hold at most a few MiB of the supervisor's memory.
constexpr size_t kTcpOutPause = 64 << 10;
// Connections to the upstreams open at once (one per query forwarded over TCP): a sandbox
// pipelining uncached TCP queries must not open thousands against a shared resolver. A
// forward past the cap is not sent now; the query's retry timer sends it again later, or it
// ends in SERVFAIL.
constexpr size_t kMaxTcpUpstreams = 64;
constexpr size_t kTcpOutLimit = 256 << 10;
constexpr auto kTcpIdle = std::chrono::seconds(10);
constexpr auto kSweepEvery = std::chrono::seconds(60);
// Allowed connects are queued without waking us (cheaper per connect); read them this often
// while the sandbox is busy. A read that finds nothing doubles the wait, up to kDrainIdle:
// an idle sandbox costs the host a wakeup every 1.6 s, not five a second. A DNS query or a
// record read brings the wait back to kDrainEvery (connects follow lookups), and the
// programs wake us anyway once a CPU's log is half full, so nothing is lost meanwhile.
constexpr auto kDrainEvery = std::chrono::milliseconds(200);
constexpr auto kDrainIdle = std::chrono::milliseconds(1600);
constexpr uint32_t kSweepGraceSeconds = 600;

sockaddr_storage toSockaddr(const IpAddress& ip, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (ip.v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, ip.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, ip.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  }
  return ss;
}

Endpoint fromSockaddr(const sockaddr_storage& ss) {
  Endpoint e;
  if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    e.ip.v6 = true;
    std::memcpy(e.ip.bytes.data(), &s6->sin6_addr, 16);
    e.port = ntohs(s6->sin6_port);
  } else {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    std::memcpy(e.ip.bytes.data(), &s4->sin_addr, 4);
    e.port = ntohs(s4->sin_port);
  }
  return e;
}

std::string withLength(const std::string& msg) {
  std::string out;
  out.push_back(static_cast<char>(msg.size() >> 8));
  out.push_back(static_cast<char>(msg.size() & 0xFF));
  return out + msg;
}

}  // namespace

struct Service::Impl {
  struct Conn {
    sys::UniqueFd fd;
    bool upstream = false;
    uint64_t token = 0;  // client connections: the resolver's client token
    std::string in, out;
    Clock::time_point deadline;
  };

  ServiceOptions o;
  EgressGate* gate;  // null without eBPF enforcement
  ResolutionTable& names;
  audit::Writer& audit;
  dns::Resolver resolver;
  sys::UniqueFd udp, tcp, up4, up6, epoll, wake;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::unordered_map<int, Conn> conns;
  std::unordered_map<uint64_t, int> tcp_client_fd;  // token → fd
  size_t tcp_upstreams = 0;                         // upstream connections in `conns`
  std::unordered_map<uint64_t, sockaddr_storage> udp_clients;
  uint64_t next_token = 1;
  WarningPacer allow_warnings;  // EgressGate::allow failures
  Clock::time_point next_sweep, next_drain;
  Clock::duration drain_wait = kDrainEvery;

  Impl(ServiceOptions opts, EgressGate* g, ResolutionTable& n, audit::Writer& a)
      : o(std::move(opts)), gate(g), names(n), audit(a), resolver(resolverOptions(o), std::random_device{}()) {}

  static dns::Resolver::Options resolverOptions(const ServiceOptions& o) {
    dns::Resolver::Options r;
    r.policy = o.policy;
    r.allowed_cidrs = o.allowed_cidrs;
    r.upstreams = o.upstreams.size();
    return r;
  }

  Status watch(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return sys::errnoError("epoll_ctl", "network service", errno);
    return ok();
  }
  void rewatch(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, fd, &ev);
  }

  Status setUp() {
    socklen_t len = 0;
    sockaddr_storage addr = toSockaddr(o.listen, o.port, len);
    int family = o.listen.v6 ? AF_INET6 : AF_INET;
    std::string where = "resolver on " + Endpoint{o.listen, o.port}.toString();
    udp.reset(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!udp.valid()) return sys::errnoError("socket", where + " (udp)", errno);
    if (::bind(udp.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      return sys::errnoError("bind", where + " (udp)", errno);
    }
    tcp.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!tcp.valid()) return sys::errnoError("socket", where + " (tcp)", errno);
    int one = 1;
    ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(tcp.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      return sys::errnoError("bind", where + " (tcp)", errno);
    }
    if (::listen(tcp.get(), 64) != 0) return sys::errnoError("listen", where + " (tcp)", errno);
    up4.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    up6.reset(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));  // may fail: no IPv6
    epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!epoll.valid() || !wake.valid() || !up4.valid()) return sys::errnoError("epoll/eventfd/socket", "network service", errno);
    for (int fd : {udp.get(), tcp.get(), up4.get(), wake.get()}) KM_TRY(watch(fd, EPOLLIN));
    if (up6.valid()) KM_TRY(watch(up6.get(), EPOLLIN));
    if (gate) KM_TRY(watch(gate->eventsFd(), EPOLLIN));
    if (o.nflog) KM_TRY(watch(o.nflog->fd(), EPOLLIN));
    resolver.on_log = [this](const dns::LogEntry& e) {
      if (audit.enabled()) audit.add(dnsRecord(e));
    };
    resolver.on_address = [this](const std::string& name, const IpAddress& ip, uint32_t ttl) {
      names.record(ip, name, ttl, Clock::now());
      if (gate) {
        bool proxied = o.redirect_to_proxy && (needsProxy(name) || o.proxy_extra.allows(name));
        // A full allow map fails every new address the sandbox resolves: paced.
        if (auto s = gate->allow(ip, ttl, proxied); !s && allow_warnings.due(Clock::now())) {
          uint64_t n = allow_warnings.take();
          log::warn("net", s.error().message() +
                               (n > 1 ? " (" + std::to_string(n) + " such failures since the last warning)" : ""));
        }
      }
    };
    next_sweep = Clock::now() + kSweepEvery;
    next_drain = gate ? Clock::now() + kDrainEvery : Clock::time_point::max();
    return ok();
  }

  // The sandbox is doing something: read its allowed connects soon again.
  void busy() {
    if (!gate || drain_wait == kDrainEvery) return;
    drain_wait = kDrainEvery;
    next_drain = std::min(next_drain, Clock::now() + kDrainEvery);
  }

  void closeConn(int fd) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    if (!it->second.upstream) tcp_client_fd.erase(it->second.token);
    else --tcp_upstreams;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    conns.erase(it);
  }

  void flush(Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        c.out.clear();
        return;
      }
      c.out.erase(0, static_cast<size_t>(n));
    }
    rewatch(c.fd.get(), EPOLLIN | (c.out.empty() ? 0u : uint32_t{EPOLLOUT}));
  }

  void apply(dns::Resolver::Output out) {
    for (auto& r : out.replies) {
      if (r.client.tcp) {
        auto it = tcp_client_fd.find(r.client.token);
        if (it == tcp_client_fd.end()) continue;  // the client hung up
        int fd = it->second;
        Conn& c = conns[fd];
        if (c.out.size() + 2 + r.bytes.size() > kTcpOutLimit) {
          labels.erase(fd);
          closeConn(fd);  // it asks and never reads: not a DNS client
          continue;
        }
        c.out += withLength(r.bytes);
        flush(c);
      } else {
        auto it = udp_clients.find(r.client.token);
        if (it == udp_clients.end()) continue;
        udp_out.push_back({it->second, std::move(r.bytes)});
        udp_clients.erase(it);
      }
    }
    for (auto& f : out.forwards) {
      if (o.upstreams.empty()) break;
      const Endpoint& up = o.upstreams[f.upstream % o.upstreams.size()];
      socklen_t len = 0;
      sockaddr_storage addr = toSockaddr(up.ip, up.port, len);
      if (!f.tcp) {
        int fd = up.ip.v6 ? up6.get() : up4.get();
        if (fd >= 0) (void)::sendto(fd, f.bytes.data(), f.bytes.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
        continue;
      }
      if (tcp_upstreams >= kMaxTcpUpstreams) continue;
      int fd = ::socket(up.ip.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        continue;
      }
      Conn c;
      c.fd.reset(fd);
      c.upstream = true;
      ++tcp_upstreams;
      c.out = withLength(f.bytes);
      c.deadline = Clock::now() + kTcpIdle;
      conns.emplace(fd, std::move(c));
      (void)watch(fd, EPOLLIN | EPOLLOUT);
    }
  }

  // UDP answers of this loop turn, sent together (sendmmsg).
  struct UdpReply {
    sockaddr_storage to;
    std::string bytes;
  };
  std::vector<UdpReply> udp_out;

  void flushUdp() {
    for (size_t at = 0; at < udp_out.size();) {
      constexpr size_t kBatch = 64;
      mmsghdr msgs[kBatch];
      iovec iov[kBatch];
      size_t n = std::min(kBatch, udp_out.size() - at);
      for (size_t i = 0; i < n; ++i) {
        UdpReply& r = udp_out[at + i];
        iov[i] = {r.bytes.data(), r.bytes.size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_name = &r.to;
        msgs[i].msg_hdr.msg_namelen = r.to.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int sent = ::sendmmsg(udp.get(), msgs, static_cast<unsigned>(n), MSG_NOSIGNAL);
      // A datagram the socket would not take is dropped (the client retries).
      at += sent > 0 ? static_cast<size_t>(sent) : 1;
    }
    udp_out.clear();
  }

  // Queries arrive in batches (recvmmsg): one syscall for many on a busy resolver.
  static constexpr size_t kRecvBatch = 32;
  static constexpr size_t kMaxQuery = 4096;  // larger UDP queries are truncated, then refused
  std::vector<char> recv_buf = std::vector<char>(kRecvBatch * kMaxQuery);

  void onUdpQuery() {
    for (int turn = 0; turn < 8; ++turn) {
      mmsghdr msgs[kRecvBatch];
      iovec iov[kRecvBatch];
      sockaddr_storage from[kRecvBatch];
      for (size_t i = 0; i < kRecvBatch; ++i) {
        iov[i] = {recv_buf.data() + i * kMaxQuery, kMaxQuery};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = ::recvmmsg(udp.get(), msgs, kRecvBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      Clock::time_point now = Clock::now();
      for (int i = 0; i < n; ++i) {
        uint64_t token = next_token++;
        udp_clients[token] = from[i];
        dns::Resolver::Client client{token, false, fromSockaddr(from[i]).toString()};
        auto out = resolver.query({reinterpret_cast<uint8_t*>(iov[i].iov_base), msgs[i].msg_len}, client, now);
        bool answered_later = !out.forwards.empty();
        bool answered_now = !out.replies.empty();
        apply(std::move(out));
        if (!answered_now && !answered_later) udp_clients.erase(token);
      }
      flushUdp();
      if (static_cast<size_t>(n) < kRecvBatch) return;
    }
  }

  void onUpstreamUdp(int fd) {
    for (int i = 0; i < 64; ++i) {
      char buf[65536];
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      Endpoint src = fromSockaddr(from);
      bool known = false;
      for (const auto& u : o.upstreams) known |= u.ip == src.ip && u.port == src.port;
      if (!known) continue;  // only the configured upstreams may answer
      apply(resolver.upstreamAnswer({reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n)}, Clock::now()));
    }
  }

  void onAccept() {
    for (;;) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      int fd = ::accept4(tcp.get(), reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      if (tcp_client_fd.size() >= kMaxTcpClients) {
        ::close(fd);
        continue;
      }
      // A fixed send buffer (no autotuning up to megabytes): what a client leaves unread
      // stays small in the kernel too.
      int sndbuf = static_cast<int>(kTcpOutPause);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
      Conn c;
      c.fd.reset(fd);
      c.token = next_token++;
      c.deadline = Clock::now() + kTcpIdle;
      c.in.reserve(512);
      tcp_client_fd[c.token] = fd;
      std::string label = fromSockaddr(from).toString();
      conns.emplace(fd, std::move(c));
      labels[fd] = label;
      (void)watch(fd, EPOLLIN);
    }
  }
  std::unordered_map<int, std::string> labels;

  void onConn(int fd, uint32_t events) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    Conn& c = it->second;
    if (events & EPOLLOUT) flush(c);
    bool ended = false;  // end of stream, an error, or more than DNS would send
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      char buf[16384];
      for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<size_t>(n));
          if (c.in.size() > 70000) {  // more than one maximal message: not DNS
            labels.erase(fd);
            closeConn(fd);
            return;
          }
          continue;
        }
        ended = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      c.deadline = Clock::now() + kTcpIdle;
    }
    // The messages that arrived, also when the stream ended right after them (an upstream
    // that answers and closes at once). A client with kTcpOutPause of answers unread has its
    // next queries wait until it reads.
    if (!messages(fd, c) || ended) {
      if (conns.count(fd) != 0) {
        labels.erase(fd);
        closeConn(fd);
      }
    }
  }

  // Handles the complete messages in `c.in`; false when `c` is gone (closed meanwhile).
  bool messages(int fd, Conn& c) {
    while (c.in.size() >= 2 && (c.upstream || c.out.size() < kTcpOutPause)) {
      size_t len = (static_cast<uint8_t>(c.in[0]) << 8) | static_cast<uint8_t>(c.in[1]);
      if (c.in.size() < 2 + len) break;
      std::string msg = c.in.substr(2, len);
      c.in.erase(0, 2 + len);
      std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
      if (c.upstream) {
        apply(resolver.upstreamAnswer(bytes, Clock::now()));
        labels.erase(fd);
        closeConn(fd);
        return false;
      }
      dns::Resolver::Client client{c.token, true, labels[fd]};
      apply(resolver.query(bytes, client, Clock::now()));
      if (conns.find(fd) == conns.end()) return false;
    }
    return true;
  }

  int timeoutMs(Clock::time_point now) const {
    Clock::time_point next = std::min(next_sweep, next_drain);
    if (auto d = resolver.nextDeadline(); d && *d < next) next = *d;
    for (const auto& [fd, c] : conns) {
      if (c.deadline < next) next = c.deadline;
    }
    if (next <= now) return 0;
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(next - now).count());
  }

  // The allowed name `ip` was resolved for, "" when none (for connect lines).
  std::string nameOf(const IpAddress& ip) const { return names.lookup(ip, Clock::now()).value_or(""); }
  void logGate(const GateEvent& g) {
    if (audit.enabled()) audit.add(gateRecord(g, nameOf(g.address), monotonicNs(), std::chrono::system_clock::now()));
  }

  void run() {
    std::function<void(const GateEvent&)> sink = [this](const GateEvent& g) { logGate(g); };
    std::function<void(const NfLog::Entry&)> nf_sink = [this](const NfLog::Entry& n) {
      if (audit.enabled()) audit.add(nfRecord(n, nameOf(n.dest), std::chrono::system_clock::now()));
    };
    while (!stopping.load()) {
      epoll_event events[32];
      int n = ::epoll_wait(epoll.get(), events, 32, timeoutMs(Clock::now()));
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake.get()) return;
        if (fd == udp.get() || fd == tcp.get()) busy();
        if (fd == udp.get()) onUdpQuery();
        else if (fd == tcp.get()) onAccept();
        else if (fd == up4.get() || (up6.valid() && fd == up6.get())) onUpstreamUdp(fd);
        else if (gate && fd == gate->eventsFd()) {
          if (gate->drain(sink) > 0) busy();
        }
        else if (o.nflog && fd == o.nflog->fd()) o.nflog->drain(nf_sink);
        else onConn(fd, events[i].events);
      }
      Clock::time_point now = Clock::now();
      apply(resolver.tick(now));
      flushUdp();
      std::vector<int> stale;
      for (const auto& [fd, c] : conns) {
        if (c.deadline <= now) stale.push_back(fd);
      }
      for (int fd : stale) {
        labels.erase(fd);
        closeConn(fd);
      }
      if (gate && now >= next_drain) {
        drain_wait = gate->drain(sink) > 0 ? kDrainEvery : std::min<Clock::duration>(drain_wait * 2, kDrainIdle);
        next_drain = now + drain_wait;
      }
      if (now >= next_sweep) {
        if (gate) {
          gate->sweep(kSweepGraceSeconds);
          gate->drain(sink);
        }
        names.sweep(now);
        next_sweep = now + kSweepEvery;
      }
      audit.flush(now);
    }
  }

  void stop() {
    if (!thread.joinable()) return;
    stopping.store(true);
    uint64_t one = 1;
    (void)::write(wake.get(), &one, sizeof one);
    thread.join();
    if (gate) {
      // What the programs queued since the last tick still goes to the log.
      std::function<void(const GateEvent&)> sink = [this](const GateEvent& g) { logGate(g); };
      gate->drain(sink);
    }
    flushUdp();
    audit.flush(Clock::now());
  }
};

Service::Service(ServiceOptions options, EgressGate* gate, ResolutionTable& names, audit::Writer& audit)
    : impl_(std::make_unique<Impl>(std::move(options), gate, names, audit)) {}

Service::~Service() { stop(); }

Status Service::start() {
  KM_CHECK(!impl_->thread.joinable()) << "the resolver service was started twice";
  KM_TRY(impl_->setUp());
  Impl* raw = impl_.get();
  impl_->thread = std::thread([raw] { raw->run(); });
  return ok();
}

void Service::stop() { impl_->stop(); }

}  // namespace km::net
