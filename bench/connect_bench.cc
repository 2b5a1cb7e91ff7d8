// connect()+close() rate with and without km's eBPF egress programs, side by side in one run.
// Root only. A child in a private network namespace (loopback plus 10.99.0.1 on lo, so the
// programs' loopback shortcut does not apply) connects to a listener of its own, closing each
// connection with a reset (no TIME_WAIT). Rounds alternate between two cgroup v2 groups: one
// bare, one with the programs attached and 10.99.0.1 allowed as the resolver would allow an
// address it handed out (KM_BENCH_CIDR=1: through 10.99.0.0/24 instead), while this process
// drains the decisions as a supervisor would. Prints the median per connect of each, the
// median of the rounds' pairwise differences (goal: at most 1 µs added), and the programs'
// own run time from the kernel's BPF statistics.
//
// Usage: connect_bench [CONNECTS_PER_ROUND] [ROUNDS]
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

// ns per connect+close over `n` connections.
double round(int n, uint16_t port) {
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
    ::close(s);
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

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
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
  // The kernel's per-program run time counters, on while this fd is open.
  int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  std::atomic<bool> done{false};
  size_t events = 0;
  std::thread drain([&] {
    std::function<void(const km::net::GateEvent&)> count = [&](const km::net::GateEvent&) { ++events; };
    while (!done.load()) {
      gate->drain(count);
      ::usleep(1000);
    }
  });

  auto result = km::sys::pipe();
  auto [rd, wr] = std::move(*result);
  pid_t child = ::fork();
  if (child == 0) {
    rd.reset();
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(2);
    auto nl = km::net::Netlink::open();
    auto lo = nl->linkIndex("lo");
    (void)nl->setUp(*lo);
    (void)nl->addAddress(*lo, *km::net::IpAddress::parse("10.99.0.1"), 32);
    int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, "10.99.0.1", &sa.sin_addr);
    ::bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(srv, reinterpret_cast<sockaddr*>(&sa), &len);
    ::listen(srv, 4096);
    std::thread acceptor([srv] {
      for (;;) {
        int c = ::accept4(srv, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        ::close(c);
      }
    });
    acceptor.detach();
    uint16_t port = ntohs(sa.sin_port);
    std::vector<double> a, b;
    join(bare);
    round(2000, port);  // warm up
    for (int r = 0; r < rounds; ++r) {
      join(bare);
      a.push_back(round(n, port));
      join(gated);
      b.push_back(round(n, port));
    }
    // Each gated round against the bare round just before it: the machine's drift cancels.
    std::vector<double> d;
    for (size_t i = 0; i < a.size(); ++i) d.push_back(b[i] - a[i]);
    char line[256];
    std::snprintf(line, sizeof line, "%.1f %.1f %.1f\n", median(a), median(b), median(d));
    (void)km::sys::writeAll(wr.get(), line, "pipe");
    join(v2Root());
    ::_exit(0);
  }
  wr.reset();
  auto text = km::sys::readAll(rd.get(), "pipe", 1024);
  int status = 0;
  ::waitpid(child, &status, 0);
  done.store(true);
  drain.join();
  std::vector<ProgStats> stats = programStats(gated);
  if (stats_fd >= 0) ::close(stats_fd);
  double bare_ns = 0, gated_ns = 0, paired_ns = 0;
  bool ok = text && std::sscanf(text->c_str(), "%lf %lf %lf", &bare_ns, &gated_ns, &paired_ns) == 3;
  ::rmdir(bare.c_str());
  ::rmdir(gated.c_str());
  (void)km::net::EgressGate::removePins(pins);
  if (!ok) {
    std::fprintf(stderr, "connect_bench: the measuring child failed (status %d)\n", status);
    return 1;
  }
  std::printf("connect+close, %d per round, %d rounds interleaved, medians:\n", n, rounds);
  std::printf("  no programs          %8.0f ns  (%.0f connects/s)\n", bare_ns, 1e9 / bare_ns);
  std::printf("  km eBPF programs     %8.0f ns  (%.0f connects/s)\n", gated_ns, 1e9 / gated_ns);
  std::printf("  added per connect    %8.0f ns  (goal <= 1000 ns; median of the rounds' pairwise differences)\n",
              paired_ns);
  std::printf("  difference of medians %7.0f ns; %zu decisions drained, %llu not logged (overwritten)\n",
              gated_ns - bare_ns, events, static_cast<unsigned long long>(gate->lostAllowEvents()));
  // The programs' own time (kernel BPF stats), per gated connect: steadier than the
  // difference of two wall-clock rates, and without the kernel's cost of calling them.
  double connects = double(n) * rounds;
  double own = 0;
  for (const auto& st : stats) {
    if (!st.runs) continue;
    std::printf("  %-20s %8.0f ns per run, %.2f runs per connect\n", st.name.c_str(), double(st.ns) / st.runs,
                st.runs / connects);
    own += st.ns;
  }
  if (stats_fd >= 0) std::printf("  programs' own time   %8.0f ns per connect\n", own / connects);
  return 0;
}
