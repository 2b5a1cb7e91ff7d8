// What the exec audit costs a sandbox: fork+exec+wait of /bin/true in a loop, from a process
// in a bare cgroup v2 group and from one in a group the exec audit watches (its programs
// attached, its thread reading the ring and writing a redacted command log, as a supervisor
// runs it), side by side in one run. Root only. Both workers run on one CPU and take short
// rounds in turn, the order swapped every pair, so drift cancels in each pair's difference.
// Prints the median per exec of each and the median of the pairs' differences (goal: at most
// 5 % slower), after the same pairs before the audit was attached (an A/A run: the noise
// floor). The audit's programs also run, and return at the cgroup check, for every exec on
// the host, the bare worker's included: that part is in both figures.
//
// Usage: exec_audit_bench [EXECS_PER_ROUND (200)] [ROUNDS (40)]
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <bpf/bpf.h>

#include "audit/audit.h"
#include "audit/exec_audit.h"
#include "audit/redact.h"
#include "core/fs.h"
#include "core/sys.h"
#include "core/tree.h"
#include "substrate/local/cgroup.h"

namespace {

constexpr int kRoundTimeoutMs = 120'000;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ns per fork+exec+wait of /bin/true over `n`; -1 when one fails.
double round(int n) {
  char* const argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>("bench-arg"), nullptr};
  char* const envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      ::execve("/bin/true", argv, envp);
      ::_exit(127);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
}

// A process in one cgroup, pinned to CPU 0: told a count on its pipe, it runs a round and
// answers the ns per exec; a count of 0, or the pipe closing, ends it.
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
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(0, &set);
      (void)::sched_setaffinity(0, sizeof set, &set);
      int procs = ::open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (procs < 0 || ::write(procs, "0", 1) != 1) ::_exit(4);
      ::close(procs);
      for (;;) {
        int32_t c = 0;
        if (::read(to->first.get(), &c, sizeof c) != sizeof c || c <= 0) ::_exit(0);
        double ns = round(c);
        if (::write(from->second.get(), &ns, sizeof ns) != sizeof ns || ns < 0) ::_exit(5);
      }
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
    cmd_.reset();
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) != 0) return;
      ::usleep(10'000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
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
  pid_t pid_ = -1;
  km::sys::UniqueFd cmd_, out_;
};

struct Pairs {
  std::vector<double> a, b, d;
};

bool measure(const Worker& a, const Worker& b, int n, int rounds, Pairs& out) {
  for (int r = 0; r < rounds; ++r) {
    double x, y;
    if (r % 2 == 0) {
      x = a.run(n);
      y = b.run(n);
    } else {
      y = b.run(n);
      x = a.run(n);
    }
    if (x < 0 || y < 0) return false;
    out.a.push_back(x);
    out.b.push_back(y);
    out.d.push_back(y - x);
  }
  return true;
}

// The newest loaded program called `name` (ours: loaded last): its run time and runs.
std::pair<uint64_t, uint64_t> programStats(const char* name) {
  std::pair<uint64_t, uint64_t> out{0, 0};
  uint32_t id = 0, best = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::strcmp(info.name, name) == 0 && id > best) {
      best = id;
      out = {info.run_time_ns, info.run_cnt};
    }
    ::close(fd);
  }
  return out;
}

bool parseCount(const char* text, long max, int* out) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > max) return false;
  *out = static_cast<int>(v);
  return true;
}

void removeGroup(const std::string& dir) {
  for (int i = 0; i < 50; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    ::usleep(20'000);
  }
  std::fprintf(stderr, "exec_audit_bench: could not remove %s: %s\n", dir.c_str(), std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  int n = 200, rounds = 40;
  if ((argc > 1 && !parseCount(argv[1], 100000, &n)) || (argc > 2 && !parseCount(argv[2], 10000, &rounds))) {
    std::fprintf(stderr, "usage: exec_audit_bench [EXECS_PER_ROUND (1..100000)] [ROUNDS (1..10000)]\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "exec_audit_bench: needs root (cgroups, eBPF)\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::string v2_root = km::substrate::local::detectCgroups().v2_root;
  if (v2_root.empty()) {
    std::fprintf(stderr, "exec_audit_bench: no cgroup v2 hierarchy on this host (the audit watches one)\n");
    return 2;
  }
  std::string top = v2_root + "/km-exec-bench-" + std::to_string(::getpid());
  std::string bare = top + "/bare", audited = top + "/audited";
  std::string dir = "/tmp/km-exec-bench-" + std::to_string(::getpid());
  int rc = 0;
  {
    if (::mkdir(top.c_str(), 0755) != 0 || ::mkdir(bare.c_str(), 0755) != 0 || ::mkdir(audited.c_str(), 0755) != 0 ||
        ::mkdir(dir.c_str(), 0700) != 0) {
      std::fprintf(stderr, "exec_audit_bench: cannot make %s or %s: %s\n", top.c_str(), dir.c_str(), std::strerror(errno));
      removeGroup(audited), removeGroup(bare), removeGroup(top), ::rmdir(dir.c_str());
      return 2;
    }
    // Workers first: forked while this process has one thread.
    auto a = Worker::start(bare);
    auto b = Worker::start(audited);
    auto level = km::audit::pidNamespaceLevel(::getpid());
    auto audit = level ? km::audit::ExecAudit::load(*level) : km::Result<std::unique_ptr<km::audit::ExecAudit>>(level.error());
    auto writer = km::audit::Writer::open(dir + "/commands.log", {}, std::make_shared<const km::audit::Redactor>());
    Pairs before, after;
    if (!a || !b || !audit || !writer) {
      std::fprintf(stderr, "exec_audit_bench: setup failed%s\n",
                   !audit ? (": " + audit.error().message()).c_str() : "");
      rc = 3;
    } else if (a->run(200) < 0 || b->run(200) < 0 || !measure(*a, *b, n, rounds / 2 + 1, before)) {
      std::fprintf(stderr, "exec_audit_bench: a round without the audit failed\n");
      rc = 3;
    } else if (auto s = (*audit)->start(audited, **writer); !s) {
      std::fprintf(stderr, "exec_audit_bench: %s\n", s.error().message().c_str());
      rc = 3;
    } else if (!measure(*a, *b, n, rounds, after)) {
      std::fprintf(stderr, "exec_audit_bench: a round with the audit failed\n");
      rc = 3;
    } else {
      // Then audited rounds with the kernel's per-program run-time counters on: the
      // programs' own time per exec, which does not depend on how slow fork is here.
      auto e0 = programStats("km_on_exec"), x0 = programStats("km_on_exit");
      int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
      bool stats_ok = stats_fd >= 0 && b->run(n) >= 0 && b->run(n) >= 0;
      if (stats_fd >= 0) ::close(stats_fd);
      auto e1 = programStats("km_on_exec"), x1 = programStats("km_on_exit");
      (*audit)->stop();
      std::printf("fork+exec+wait of /bin/true, %d per round, medians:\n", n);
      std::printf("  before attaching (A/A)  bare %8.0f ns  other group %8.0f ns  difference %6.0f ns\n",
                  median(before.a), median(before.b), median(before.d));
      std::printf("  bare group              %8.0f ns  (%.0f execs/s)\n", median(after.a), 1e9 / median(after.a));
      std::printf("  audited group           %8.0f ns  (%.0f execs/s)\n", median(after.b), 1e9 / median(after.b));
      std::printf("  added per exec          %8.0f ns  = %.1f %% (goal <= 5 %%; median of the pairs' differences)\n",
                  median(after.d), 100.0 * median(after.d) / median(after.a));
      if (stats_ok && e1.second > e0.second && x1.second > x0.second) {
        std::printf("  programs' own time      exec %.0f ns per run, exit %.0f ns per run (%.0f and %.0f runs per audited"
                    " exec: every exec and exit on the host runs them)\n",
                    double(e1.first - e0.first) / double(e1.second - e0.second),
                    double(x1.first - x0.first) / double(x1.second - x0.second),
                    double(e1.second - e0.second) / (2.0 * n), double(x1.second - x0.second) / (2.0 * n));
      }
      std::printf("  records written %llu, lost %llu; command log %llu bytes\n",
                  static_cast<unsigned long long>((*audit)->recorded()),
                  static_cast<unsigned long long>((*audit)->lost()),
                  static_cast<unsigned long long>((*writer)->bytesWritten()));
    }
  }
  removeGroup(audited);
  removeGroup(bare);
  removeGroup(top);
  (void)km::tree::removeTree(dir);
  return rc;
}
