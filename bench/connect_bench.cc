// connect()+close() cost with and without km's eBPF egress programs, side by side in one run.
// Root only. In a private network namespace (loopback plus 10.99.0.1 on lo, so the programs'
// loopback shortcut does not apply), two worker processes — one in a bare cgroup v2 group,
// one in a group with the programs attached and 10.99.0.1 allowed as the resolver would allow
// an address it handed out (KM_BENCH_CIDR=1: through 10.99.0.0/24 instead) — connect to a
// listener of their own, accept, and close with a reset (no TIME_WAIT). They take short
// rounds in turn while this process drains the decisions as a supervisor would. Prints the
// median per connect of each and the median of the pairs' differences (goal: at most 1 µs
// added). The kernel's BPF run-time statistics stay off while rounds are timed (they read
// the clock twice around every program run, which a sandbox does not pay); more gated rounds
// with them on then give each program's own run time.
//
// Usage: connect_bench [CONNECTS_PER_ROUND (1000)] [ROUNDS (200)]
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <bpf/bpf.h>
#include <fcntl.h>

#include "core/sys.h"
#include "net/bpf/gate.h"
#include "net/link.h"

namespace {

std::string v2Root() {
  struct stat st {};
  if (::stat("/sys/fs/cgroup/unified/cgroup.procs", &st) == 0) return "/sys/fs/cgroup/unified";
  return "/sys/fs/cgroup";
}

bool join(const std::string& cg) { return km::sys::writeFile(cg + "/cgroup.procs", "0").has_value(); }

// ns per connect+accept+close over `n` connections. One thread: on loopback the handshake
// completes inside connect(), so the accept that follows never waits, and nothing crosses
// CPUs (a second thread accepting made rounds swing by more than the cost measured).
double round(int n, int srv, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, "10.99.0.1", &sa.sin_addr);
  linger lg{1, 0};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::perror("connect");
      std::exit(3);
    }
    int c = ::accept4(srv, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(s);
    if (c >= 0) ::close(c);
  }
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}

// Total run time and runs of the programs attached to `cgroup` (kernel BPF stats).
struct ProgStats {
  std::string name;
  uint64_t ns = 0, runs = 0;
};
std::vector<ProgStats> programStats(const std::string& cgroup) {
  std::vector<ProgStats> out;
  int cg = ::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) return out;
  for (bpf_attach_type type : {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
                               BPF_CGROUP_UDP6_SENDMSG, BPF_CGROUP_INET_EGRESS, BPF_CGROUP_SOCK_OPS}) {
    uint32_t ids[8], count = 8, flags = 0;
    if (bpf_prog_query(cg, type, 0, &flags, ids, &count) != 0) continue;
    for (uint32_t i = 0; i < count; ++i) {
      int fd = bpf_prog_get_fd_by_id(ids[i]);
      if (fd < 0) continue;
      bpf_prog_info info{};
      uint32_t len = sizeof info;
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) out.push_back({info.name, info.run_time_ns, info.run_cnt});
      ::close(fd);
    }
  }
  ::close(cg);
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A measuring process in one cgroup: told a count on `cmd`, it runs a round and answers
// the ns per connect on `out`; a count of 0 ends it.
struct Worker {
  pid_t pid = -1;
  km::sys::UniqueFd cmd, out;

  double run(int count) const {
    int32_t c = count;
    double ns = -1;
    if (::write(cmd.get(), &c, sizeof c) != sizeof c || ::read(out.get(), &ns, sizeof ns) != sizeof ns) return -1;
    return ns;
  }
  void stop() {
    int32_t c = 0;
    (void)!::write(cmd.get(), &c, sizeof c);
    ::waitpid(pid, nullptr, 0);
  }
};

Worker startWorker(const std::string& cgroup) {
  auto to = km::sys::pipe();
  auto from = km::sys::pipe();
  Worker w;
  w.pid = ::fork();
  if (w.pid == 0) {
    from->first.reset();
    to->second.reset();
    // The listener is made before joining, so the server side (the accepted sockets
    // inherit its group) stays outside the sandbox's programs, as a server out there is.
    int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, "10.99.0.1", &sa.sin_addr);
    ::bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(srv, reinterpret_cast<sockaddr*>(&sa), &len);
    ::listen(srv, 64);
    if (!join(cgroup)) ::_exit(4);
    uint16_t port = ntohs(sa.sin_port);
    for (;;) {
      int32_t c = 0;
      if (::read(to->first.get(), &c, sizeof c) != sizeof c || c <= 0) ::_exit(0);
      double ns = round(c, srv, port);
      if (::write(from->second.get(), &ns, sizeof ns) != sizeof ns) ::_exit(5);
    }
  }
  w.cmd = std::move(to->second);
  w.out = std::move(from->first);
  return w;
}

// In a network namespace of its own (loopback plus 10.99.0.1), two workers — one in each
// group — take turns, round by round, the order swapped every pair: drift over seconds
// cancels in each pair's difference. Writes "bare gated paired with_stats" to `out`.
int measure(int n, int rounds, const std::string& bare, const std::string& gated, int out) {
  if (::unshare(CLONE_NEWNET) != 0) return 2;
  auto nl = km::net::Netlink::open();
  if (!nl) return 2;
  auto lo = nl->linkIndex("lo");
  if (!lo || !nl->setUp(*lo) || !nl->addAddress(*lo, *km::net::IpAddress::parse("10.99.0.1"), 32)) return 2;
  Worker a = startWorker(bare), b = startWorker(gated);
  a.run(2000);  // warm up
  b.run(2000);
  std::vector<double> ta, tb, d;
  for (int r = 0; r < rounds; ++r) {
    double x, y;
    if (r % 2 == 0) {
      x = a.run(n);
      y = b.run(n);
    } else {
      y = b.run(n);
      x = a.run(n);
    }
    if (x < 0 || y < 0) return 3;
    ta.push_back(x);
    tb.push_back(y);
    d.push_back(y - x);
  }
  // Then gated rounds with the kernel's per-program run-time counters on (while the fd is
  // open): only these runs are counted. 20,000 connects at least.
  double with_stats = 0;
  int stats_rounds = std::max(1, (20000 + n - 1) / n);
  if (int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME); stats_fd >= 0) {
    for (int r = 0; r < stats_rounds; ++r) with_stats += b.run(n) / stats_rounds;
    ::close(stats_fd);
  }
  a.stop();
  b.stop();
  char line[256];
  std::snprintf(line, sizeof line, "%.1f %.1f %.1f %.1f %d\n", median(ta), median(tb), median(d), with_stats,
                stats_rounds * n);
  return km::sys::writeAll(out, line, "pipe") ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
  if (argc > 3 || n < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: connect_bench [CONNECTS_PER_ROUND (default 1000)] [ROUNDS (default 200)]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "connect_bench: needs root (cgroups, eBPF, namespaces)\n");
    return 77;
  }
  std::string base = v2Root() + "/km-connect-bench-" + std::to_string(::getpid());
  std::string bare = base + "-bare", gated = base + "-gated";
  ::mkdir(bare.c_str(), 0755);
  ::mkdir(gated.c_str(), 0755);
  auto dir = km::net::EgressGate::bpffsDir();
  std::string pins = (dir ? *dir : std::string("/sys/fs/bpf")) + "/connect-bench-" + std::to_string(::getpid());
  auto gate = km::net::EgressGate::attach(gated, pins, *km::net::IpAddress::parse("10.99.0.254"), 0);
  if (!gate) {
    std::fprintf(stderr, "connect_bench: %s\n", gate.error().message().c_str());
    return 1;
  }
  // As the resolver does for an allowed name (the common case); KM_BENCH_CIDR=1 allows the
  // address through a CIDR instead (one trie lookup more).
  if (const char* c = std::getenv("KM_BENCH_CIDR"); c && *c == '1') {
    (void)gate->allowCidr(*km::net::Cidr::parse("10.99.0.0/24"));
  } else {
    (void)gate->allow(*km::net::IpAddress::parse("10.99.0.1"), 86400);
  }
  std::atomic<bool> done{false};
  size_t events = 0;
  std::thread drain([&] {
    std::function<void(const km::net::GateEvent&)> count = [&](const km::net::GateEvent&) { ++events; };
    while (!done.load()) {
      gate->drain(count);
      ::usleep(1000);
    }
    gate->drain(count);
  });

  auto result = km::sys::pipe();
  auto [rd, wr] = std::move(*result);
  pid_t child = ::fork();
  if (child == 0) {
    rd.reset();
    ::_exit(measure(n, rounds, bare, gated, wr.get()));
  }
  wr.reset();
  auto text = km::sys::readAll(rd.get(), "pipe", 1024);
  int status = 0;
  ::waitpid(child, &status, 0);
  done.store(true);
  drain.join();
  std::vector<ProgStats> stats = programStats(gated);
  double bare_ns = 0, gated_ns = 0, paired_ns = 0, stats_ns = 0;
  int stats_connects = 0;
  bool ok = text && std::sscanf(text->c_str(), "%lf %lf %lf %lf %d", &bare_ns, &gated_ns, &paired_ns, &stats_ns,
                                &stats_connects) == 5;
  ::rmdir(bare.c_str());
  ::rmdir(gated.c_str());
  (void)km::net::EgressGate::removePins(pins);
  if (!ok) {
    std::fprintf(stderr, "connect_bench: the measuring child failed (status %d)\n", status);
    return 1;
  }
  std::printf("connect+accept+close, %d per round, %d rounds in turn, medians:\n", n, rounds);
  std::printf("  no programs          %8.0f ns  (%.0f connects/s)\n", bare_ns, 1e9 / bare_ns);
  std::printf("  km eBPF programs     %8.0f ns  (%.0f connects/s)\n", gated_ns, 1e9 / gated_ns);
  std::printf("  added per connect    %8.0f ns  (goal <= 1000 ns; median of the rounds' pairwise differences;"
              " %.1f %% of a bare one)\n",
              paired_ns, 100.0 * paired_ns / bare_ns);
  std::printf("  difference of medians %7.0f ns; %zu decisions drained, %llu not logged (overwritten)\n",
              gated_ns - bare_ns, events, static_cast<unsigned long long>(gate->lostAllowEvents()));
  // The programs' own time (kernel BPF stats) in the extra round, per connect: steadier
  // than the difference of two wall-clock rates, and without the kernel's cost of calling
  // them (but with the statistics' own clock reads, ~0.1 µs per run here).
  if (stats_ns <= 0) {
    std::printf("  (no BPF statistics: bpf_enable_stats failed)\n");
    return 0;
  }
  std::printf("gated again, %d connects with BPF run-time statistics on: %.0f ns per connect\n", stats_connects,
              stats_ns);
  double connects = double(stats_connects);
  double own = 0;
  for (const auto& st : stats) {
    if (!st.runs) continue;
    std::printf("  %-20s %8.0f ns per run, %.2f runs per connect\n", st.name.c_str(), double(st.ns) / st.runs,
                st.runs / connects);
    own += st.ns;
  }
  std::printf("  programs' own time   %8.0f ns per connect\n", own / connects);
  return 0;
}
