// The sandbox's birth: a helper joins the cgroups and unshares every namespace, its child
// becomes PID 1 (init), builds the filesystem and then only reaps. The caller is made a
// child subreaper so init is its child once the helper exits.
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/sys.h"
#include "substrate/local/local.h"
#include "substrate/local/rootfs.h"

namespace km::substrate::local {
namespace {

Status loopbackUp() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return sys::errnoError("socket", "lo", errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int rc = ::ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ::ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int err = errno;
  ::close(s);
  if (rc != 0) return sys::errnoError("ioctl", "SIOCSIFFLAGS lo", err);
  return ok();
}

// PID 1: reap every orphan; on SIGTERM end the sandbox (killing everything else first).
[[noreturn]] void serveAsInit() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  for (;;) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&set, &info);
    // EINTR happens when the cgroup is frozen and thawed (km pause): not a request to stop.
    if (sig < 0) continue;
    if (sig == SIGCHLD) {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    } else if (info.si_pid == 0) {
      // Only a signal from outside the sandbox (the supervisor: si_pid 0 from an ancestor
      // pid namespace) ends it; a process inside cannot stop its init this way.
      ::kill(-1, SIGKILL);
      while (::waitpid(-1, nullptr, 0) > 0) {
      }
      ::_exit(0);
    }
  }
}

[[noreturn]] void initMain(const Layout& layout, const LaunchSpec& spec, int ready_fd) {
  auto report = [&](const Error& e) {
    std::string msg = "error: " + e.message();
    (void)sys::writeAll(ready_fd, msg, "ready pipe");
    ::_exit(1);
  };
  ::prctl(PR_SET_NAME, "km-init", 0, 0, 0);
  if (auto s = buildRootfs(layout, spec); !s) report(s.error());
  if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    report(sys::errnoError("sethostname", spec.hostname, errno));
  }
  if (auto s = loopbackUp(); !s) report(s.error());
  if (spec.first_start) {
    if (auto s = writeFirstStartFiles(spec); !s) report(s.error());
  }
  // The OOM killer takes the sandbox's processes, never its init; nothing inside may read
  // init's memory or file descriptors.
  (void)sys::writeFile("/proc/self/oom_score_adj", "-1000");
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  (void)sys::writeAll(ready_fd, "ok", "ready pipe");
  sys::closeFdsFrom(0);
  serveAsInit();
}

}  // namespace

Result<Launched> launch(const Layout& layout, const LaunchSpec& spec, const Cgroups& cgroups) {
  KM_TRY(requireRoot("starting a local sandbox"));
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return sys::errnoError("prctl", "PR_SET_CHILD_SUBREAPER", errno);
  }
  auto pipe = sys::pipe();
  if (!pipe) return std::move(pipe).error();
  auto [read_end, write_end] = std::move(*pipe);
  pid_t helper = ::fork();
  if (helper < 0) return sys::errnoError("fork", "sandbox helper", errno);
  if (helper == 0) {
    read_end.reset();
    auto fail = [&](const Error& e) {
      (void)sys::writeAll(write_end.get(), "error: " + e.message(), "ready pipe");
      ::_exit(1);
    };
    // Join the cgroups first so the new cgroup namespace is rooted at the sandbox's own.
    if (auto s = cgroups.addProcess(0); !s) fail(s.error());
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC |
                CLONE_NEWCGROUP;
    if (::unshare(flags) != 0) fail(sys::errnoError("unshare", "sandbox namespaces", errno));
    pid_t init = ::fork();
    if (init < 0) fail(sys::errnoError("fork", "sandbox init", errno));
    if (init == 0) initMain(layout, spec, write_end.get());
    // Tell the caller init's pid (as the host sees it), then leave it to the subreaper.
    std::string msg = "pid " + std::to_string(init) + "\n";
    (void)sys::writeAll(write_end.get(), msg, "ready pipe");
    ::_exit(0);
  }
  write_end.reset();
  auto helper_status = sys::waitPid(helper);
  auto text = sys::readAll(read_end.get(), "ready pipe", 64 << 10);
  if (!text) return std::move(text).error();
  pid_t init = 0;
  std::string rest = *text;
  if (rest.rfind("pid ", 0) == 0) {
    size_t nl = rest.find('\n');
    init = static_cast<pid_t>(std::atoi(rest.substr(4, nl - 4).c_str()));
    rest = nl == std::string::npos ? "" : rest.substr(nl + 1);
  }
  if (rest != "ok") {
    std::string how;
    if (init > 0) {
      ::kill(init, SIGKILL);
      // We are init's subreaper, so its wait status tells how it ended.
      if (auto st = sys::waitPid(init); st && rest.rfind("error: ", 0) != 0) {
        how = WIFSIGNALED(*st) ? "killed by signal " + std::to_string(WTERMSIG(*st))
                               : "exit " + std::to_string(sys::exitCodeOf(*st));
      }
    }
    if (rest.rfind("error: ", 0) == 0) return unavailable(rest.substr(7));
    return unavailable("sandbox init ended during setup (" + (how.empty() ? "no init" : how) +
                       (helper_status ? ", helper exit " +
                                            std::to_string(sys::exitCodeOf(*helper_status))
                                      : std::string()) +
                       ", ready pipe said '" + rest + "')");
  }
  Launched out;
  out.init_pid = init;
  out.init_start = sys::processStartTime(init).value_or(0);
  return out;
}

}  // namespace km::substrate::local
