// connect()+close() cost with and without km's eBPF egress programs, side by side in one run.
// Root only. In a private network namespace (loopback plus 10.99.0.1 on lo, so the programs'
// loopback shortcut does not apply), two worker processes — one in a bare cgroup v2 group,
// one in a group with the programs attached (as `enforcement: ebpf` attaches them) and
// 10.99.0.1 allowed as the resolver would allow an address it handed out (KM_BENCH_CIDR=1:
// through 10.99.0.0/24 instead) — connect to a listener of their own, accept, and close with
// a reset (no TIME_WAIT). Both run on one CPU and take short rounds in turn, the order
// swapped every pair, while this process drains the decisions as a supervisor would (on
// another CPU when there is one). Prints the median per connect of each and the median of
// the pairs' differences (goal: at most 1 µs added). The kernel's BPF run-time statistics
// stay off while rounds are timed (they read the clock twice around every program run,
// which a sandbox does not pay); more gated rounds with them on then give each program's own
// run time. KM_BENCH_AA=1 puts both workers in the bare group: what the harness itself adds.
// KM_BENCH_BOTH=1 attaches the programs as `enforcement: both` does (a transparent proxy
// port; the connects go to a non-web port of a direct address, as most non-web traffic does).
//
// Usage: connect_bench [CONNECTS_PER_ROUND (1000)] [ROUNDS (200)]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/fs.h"
#include "core/sys.h"
#include "net/bpf/gate.h"
#include "net/link.h"
#include "substrate/local/cgroup.h"

namespace {

constexpr int kRoundTimeoutMs = 120'000;  // a round that takes longer has hung

bool join(const std::string& cg) { return km::sys::writeFile(cg + "/cgroup.procs", "0").has_value(); }

void pinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)::sched_setaffinity(0, sizeof set, &set);
}

// ns per connect+accept+close over `n` connections; -1 when one fails. One thread: on
// loopback the handshake completes inside connect(), so the accept that follows does not
// wait, and nothing crosses CPUs (a second thread accepting made rounds swing by more than
// the cost measured).
double round(int n, int srv, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, "10.99.0.1", &sa.sin_addr);
  linger lg{1, 0};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    ::setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::fprintf(stderr, "connect_bench: connect: %s\n", std::strerror(errno));
      ::close(s);
      return -1;
    }
    int c = ::accept4(srv, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(s);
    if (c < 0) {
      std::fprintf(stderr, "connect_bench: accept: %s\n", std::strerror(errno));
      return -1;
    }
    ::close(c);
  }
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}

// Run time and runs of the programs attached to `cgroup` (kernel BPF statistics, counted
// only while they are on).
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

uint64_t totalRuns(const std::vector<ProgStats>& stats) {
  uint64_t n = 0;
  for (const auto& s : stats) n += s.runs;
  return n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A measuring process in one cgroup: told a count on `cmd`, it runs a round and answers
// the ns per connect on `out`; a count of 0, or its end of `cmd` closing, ends it.
class Worker {
 public:
  static std::optional<Worker> start(const std::string& cgroup) {
    auto to = km::sys::pipe();
    auto from = km::sys::pipe();
    if (!to || !from) return std::nullopt;
    Worker w;
    w.pid_ = ::fork();
    if (w.pid_ < 0) return std::nullopt;
    if (w.pid_ == 0) {
      from->first.reset();
      to->second.reset();
      ::_exit(serve(cgroup, to->first.get(), from->second.get()));
    }
    w.cmd_ = std::move(to->second);
    w.out_ = std::move(from->first);
    return w;
  }

  Worker() = default;
  Worker(Worker&& o) noexcept : pid_(std::exchange(o.pid_, -1)), cmd_(std::move(o.cmd_)), out_(std::move(o.out_)) {}
  Worker& operator=(Worker&&) = delete;
  ~Worker() {
    if (pid_ <= 0) return;
    cmd_.reset();  // a waiting worker sees end of file and leaves; a stuck one is killed
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) != 0) return;
      ::usleep(10'000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  // ns per connect of a round of `count`, or -1 (the worker failed or took too long).
  double run(int count) const {
    int32_t c = count;
    double ns = -1;
    if (::write(cmd_.get(), &c, sizeof c) != sizeof c) return -1;
    pollfd p{out_.get(), POLLIN, 0};
    if (::poll(&p, 1, kRoundTimeoutMs) != 1) return -1;
    if (::read(out_.get(), &ns, sizeof ns) != sizeof ns) return -1;
    return ns;
  }

 private:
  static int serve(const std::string& cgroup, int cmd, int out) {
    // The listener is made before joining, so the server side (the accepted sockets inherit
    // its group) stays outside the sandbox's programs, as a server out there is.
    int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, "10.99.0.1", &sa.sin_addr);
    socklen_t len = sizeof sa;
    if (srv < 0 || ::bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::getsockname(srv, reinterpret_cast<sockaddr*>(&sa), &len) != 0 || ::listen(srv, 64) != 0) {
      std::fprintf(stderr, "connect_bench: listener: %s\n", std::strerror(errno));
      return 4;
    }
    if (!join(cgroup)) {
      std::fprintf(stderr, "connect_bench: cannot join %s\n", cgroup.c_str());
      return 4;
    }
    uint16_t port = ntohs(sa.sin_port);
    for (;;) {
      int32_t c = 0;
      if (::read(cmd, &c, sizeof c) != sizeof c || c <= 0) return 0;
      double ns = round(c, srv, port);
      if (::write(out, &ns, sizeof ns) != sizeof ns || ns < 0) return 5;
    }
  }

  pid_t pid_ = -1;
  km::sys::UniqueFd cmd_, out_;
};

// In a network namespace of its own (loopback plus 10.99.0.1), the two workers take turns,
// round by round, the order swapped every pair: drift over seconds cancels in each pair's
// difference. Prints the results; returns the exit status.
int measure(int n, int rounds, const std::string& bare, const std::string& gated, bool aa) {
  ::signal(SIGPIPE, SIG_IGN);  // a dead worker is an error from write(), not the end of us
  if (::unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "connect_bench: unshare(CLONE_NEWNET): %s\n", std::strerror(errno));
    return 2;
  }
  bool lo_ready = false;
  if (auto nl = km::net::Netlink::open(); nl) {
    auto lo = nl->linkIndex("lo");
    lo_ready = lo && nl->setUp(*lo) && nl->addAddress(*lo, *km::net::IpAddress::parse("10.99.0.1"), 32);
  }
  if (!lo_ready) {
    std::fprintf(stderr, "connect_bench: cannot set up loopback in the benchmark's namespace\n");
    return 2;
  }
  auto a = Worker::start(bare);
  auto b = Worker::start(aa ? bare : gated);
  if (!a || !b) {
    std::fprintf(stderr, "connect_bench: cannot start the workers\n");
    return 3;
  }
  if (a->run(2000) < 0 || b->run(2000) < 0) return 3;  // warm up
  std::vector<double> ta, tb, d;
  for (int r = 0; r < rounds; ++r) {
    double x, y;
    if (r % 2 == 0) {
      x = a->run(n);
      y = b->run(n);
    } else {
      y = b->run(n);
      x = a->run(n);
    }
    if (x < 0 || y < 0) {
      std::fprintf(stderr, "connect_bench: round %d failed\n", r);
      return 3;
    }
    ta.push_back(x);
    tb.push_back(y);
    d.push_back(y - x);
  }
  // Programs that ran with statistics on during the timed rounds mean they were on anyway
  // (kernel.bpf_stats_enabled=1, or another process holds them on): say so.
  uint64_t runs_while_timed = totalRuns(programStats(gated));

  std::printf("connect+accept+close, %d per round, %d rounds in turn, medians:\n", n, rounds);
  std::printf("  no programs          %8.0f ns  (%.0f connects/s)\n", median(ta), 1e9 / median(ta));
  std::printf("  %-20s %8.0f ns  (%.0f connects/s)\n", aa ? "no programs (A/A)" : "km eBPF programs", median(tb),
              1e9 / median(tb));
  std::printf("  added per connect    %8.0f ns  (goal <= 1000 ns; median of the pairs' differences;"
              " %.1f %% of a bare one)\n",
              median(d), 100.0 * median(d) / median(ta));
  std::printf("  difference of medians %7.0f ns\n", median(tb) - median(ta));
  if (runs_while_timed > 0) {
    std::printf("  WARNING: BPF run-time statistics were on while rounds were timed (%llu runs counted);"
                " the figures above include their clock reads\n",
                static_cast<unsigned long long>(runs_while_timed));
  }
  if (aa) return 0;

  // Then gated rounds with the kernel's per-program run-time counters on (while the fd is
  // open), 20,000 connects at least; what they count is the difference of two snapshots.
  int stats_rounds = std::max(1, (20000 + n - 1) / n);
  std::vector<ProgStats> before = programStats(gated);
  int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (stats_fd < 0) {
    std::printf("  (no per-program figures: bpf_enable_stats: %s)\n", std::strerror(errno));
    return 0;
  }
  double with_stats = 0;
  for (int r = 0; r < stats_rounds; ++r) {
    double ns = b->run(n);
    if (ns < 0) {
      ::close(stats_fd);
      std::fprintf(stderr, "connect_bench: a round with statistics on failed\n");
      return 3;
    }
    with_stats += ns / stats_rounds;
  }
  ::close(stats_fd);
  std::vector<ProgStats> after = programStats(gated);
  double connects = double(stats_rounds) * n;
  std::printf("gated again, %.0f connects with BPF run-time statistics on: %.0f ns per connect\n", connects,
              with_stats);
  double own = 0;
  for (const auto& st : after) {
    uint64_t ns = st.ns, runs = st.runs;
    for (const auto& b0 : before) {
      if (b0.name == st.name) {
        ns -= b0.ns;
        runs -= b0.runs;
      }
    }
    if (!runs) continue;
    std::printf("  %-20s %8.0f ns per run, %.2f runs per connect\n", st.name.c_str(), double(ns) / runs,
                runs / connects);
    own += ns;
  }
  std::printf("  programs' own time   %8.0f ns per connect (including ~0.1 us per run that the statistics cost)\n",
              own / connects);
  return 0;
}

bool parseCount(const char* text, long max, int* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 1 || v > max) return false;
  *out = static_cast<int>(v);
  return true;
}

// rmdir, retried briefly: a group whose last process has just been reaped can still be busy.
void removeGroup(const std::string& dir) {
  for (int i = 0; i < 50; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    ::usleep(20'000);
  }
  std::fprintf(stderr, "connect_bench: could not remove %s: %s\n", dir.c_str(), std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  int n = 1000, rounds = 200;
  if (argc > 3 || (argc > 1 && !parseCount(argv[1], 1'000'000, &n)) ||
      (argc > 2 && !parseCount(argv[2], 100'000, &rounds))) {
    std::fprintf(stderr,
                 "usage: connect_bench [CONNECTS_PER_ROUND (1..1000000, default 1000)] [ROUNDS (1..100000, "
                 "default 200)]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "connect_bench: needs root (cgroups, eBPF, namespaces)\n");
    return 77;
  }
  std::string enabled;
  if (auto t = km::fs::readFile("/proc/sys/kernel/bpf_stats_enabled"); t) enabled = *t;
  if (!enabled.empty() && enabled[0] == '1') {
    std::fprintf(stderr,
                 "connect_bench: kernel.bpf_stats_enabled is 1, so every program run pays the statistics' clock "
                 "reads and the figures would include them; run `sysctl -w kernel.bpf_stats_enabled=0` first\n");
    return 2;
  }
  bool aa = [] {
    const char* v = std::getenv("KM_BENCH_AA");
    return v && *v == '1';
  }();
  std::string v2_root = km::substrate::local::detectCgroups().v2_root;
  if (v2_root.empty()) {
    std::fprintf(stderr, "connect_bench: no cgroup v2 hierarchy on this host (the programs attach to one)\n");
    return 1;
  }
  std::string base = v2_root + "/km-connect-bench-" + std::to_string(::getpid());
  std::string bare = base + "-bare", gated = base + "-gated";
  auto dir = km::net::EgressGate::bpffsDir();
  std::string pins = (dir ? *dir : std::string("/sys/fs/bpf")) + "/connect-bench-" + std::to_string(::getpid());
  if (::mkdir(bare.c_str(), 0755) != 0 || ::mkdir(gated.c_str(), 0755) != 0) {
    std::fprintf(stderr, "connect_bench: cannot make cgroups under %s: %s\n", v2_root.c_str(), std::strerror(errno));
    removeGroup(bare);
    return 1;
  }
  int status = 1;
  {
    // KM_BENCH_BOTH=1: attached as `enforcement: both` attaches them (a transparent proxy
    // port); the listener's port is an ephemeral one, not 80/443, so the connects go direct.
    const char* both = std::getenv("KM_BENCH_BOTH");
    uint16_t proxy_port = both && *both == '1' ? 3129 : 0;
    auto gate = km::net::EgressGate::attach(gated, pins, *km::net::IpAddress::parse("10.99.0.254"), proxy_port);
    if (!gate) {
      std::fprintf(stderr, "connect_bench: %s\n", gate.error().message().c_str());
    } else {
      // As the resolver does for an allowed name (the common case); KM_BENCH_CIDR=1 allows
      // the address through a CIDR instead (a hash miss, then a trie lookup).
      const char* cidr = std::getenv("KM_BENCH_CIDR");
      auto allowed = cidr && *cidr == '1' ? gate->allowCidr(*km::net::Cidr::parse("10.99.0.0/24"))
                                          : gate->allow(*km::net::IpAddress::parse("10.99.0.1"), 86400);
      if (!allowed) std::fprintf(stderr, "connect_bench: %s\n", allowed.error().message().c_str());
      // Measure on the last CPU, drain on the first (when there are two or more). The
      // measuring process is forked before the drain thread starts.
      int cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
      std::fflush(stdout);
      pid_t child = allowed ? ::fork() : -1;
      if (child == 0) {
        if (cpus > 1) pinTo(cpus - 1);
        int rc = measure(n, rounds, bare, gated, aa);
        std::fflush(stdout);
        ::_exit(rc);
      }
      if (child > 0) {
        if (cpus > 1) pinTo(0);
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
        int wstatus = 0;
        ::waitpid(child, &wstatus, 0);
        done.store(true);
        drain.join();
        if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
          status = 0;
          std::printf("%zu decisions drained, %llu allowed connects not logged (overwritten)\n", events,
                      static_cast<unsigned long long>(gate->lostAllowEvents()));
        } else if (WIFEXITED(wstatus)) {
          std::fprintf(stderr, "connect_bench: the measuring process failed (exit status %d)\n",
                       WEXITSTATUS(wstatus));
        } else {
          std::fprintf(stderr, "connect_bench: the measuring process was killed by signal %d\n",
                       WTERMSIG(wstatus));
        }
      } else if (allowed) {
        std::fprintf(stderr, "connect_bench: fork: %s\n", std::strerror(errno));
      }
    }
  }
  removeGroup(bare);
  removeGroup(gated);
  if (auto s = km::net::EgressGate::removePins(pins); !s) std::fprintf(stderr, "connect_bench: %s\n", s.error().message().c_str());
  return status;
}
