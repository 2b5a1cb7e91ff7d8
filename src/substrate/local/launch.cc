// The sandbox's birth: one fork into a new pid namespace makes init (PID 1); it unshares the
// other namespaces, waits until the caller has put it into the sandbox's cgroups, roots a
// new cgroup namespace there, builds the filesystem and then only reaps.
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/check.h"
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
  auto go = sys::pipe();
  if (!go) return std::move(go).error();
  auto ready = sys::pipe();
  if (!ready) return std::move(ready).error();
  auto [go_read, go_write] = std::move(*go);
  auto [ready_read, ready_write] = std::move(*ready);
  // One fork makes init: a new pid namespace applies to the caller's next child, and the
  // caller switches back to its own right after, so only init lands in it.
  auto own_pid_ns = sys::open("/proc/self/ns/pid", O_RDONLY);
  if (!own_pid_ns) return std::move(own_pid_ns).error();
  if (::unshare(CLONE_NEWPID) != 0) return sys::errnoError("unshare", "pid namespace", errno);
  pid_t init = ::fork();
  int fork_errno = errno;
  if (init == 0) {
    go_write.reset();
    ready_read.reset();
    auto fail = [&](const Error& e) {
      (void)sys::writeAll(ready_write.get(), "error: " + e.message(), "ready pipe");
      ::_exit(1);
    };
    if (::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
      fail(sys::errnoError("unshare", "sandbox namespaces", errno));
    }
    // Wait until the parent has moved us into the sandbox's cgroups, so the new cgroup
    // namespace is rooted at the sandbox's own cgroup.
    char byte = 0;
    if (::read(go_read.get(), &byte, 1) != 1 || byte != 'g') ::_exit(1);
    go_read.reset();
    if (::unshare(CLONE_NEWCGROUP) != 0) fail(sys::errnoError("unshare", "cgroup namespace", errno));
    initMain(layout, spec, ready_write.get());
  }
  if (::setns(own_pid_ns->get(), CLONE_NEWPID) != 0) {
    // Never expected (it is our own namespace); later children would land in the sandbox.
    KM_CHECK(false) << "setns back to the supervisor's pid namespace failed: " << std::strerror(errno);
  }
  if (init < 0) return sys::errnoError("fork", "sandbox init", fork_errno);
  go_read.reset();
  ready_write.reset();
  auto abandon = [&](Error e) -> Result<Launched> {
    ::kill(init, SIGKILL);
    (void)sys::waitPid(init);
    return e;
  };
  if (auto s = cgroups.addProcess(init); !s) return abandon(std::move(s).error());
  if (auto s = sys::writeAll(go_write.get(), "g", "go pipe"); !s) return abandon(std::move(s).error());
  go_write.reset();
  auto text = sys::readAll(ready_read.get(), "ready pipe", 64 << 10);
  if (!text) return abandon(std::move(text).error());
  std::string rest = *text;
  if (rest != "ok") {
    ::kill(init, SIGKILL);
    std::string how;
    if (auto st = sys::waitPid(init); st) {
      how = WIFSIGNALED(*st) ? "killed by signal " + std::to_string(WTERMSIG(*st))
                             : "exit " + std::to_string(sys::exitCodeOf(*st));
    }
    if (rest.rfind("error: ", 0) == 0) return unavailable(rest.substr(7));
    return unavailable("sandbox init ended during setup (" + how + ", ready pipe said '" + rest + "')");
  }
  Launched out;
  out.init_pid = init;
  out.init_start = sys::processStartTime(init).value_or(0);
  return out;
}

}  // namespace km::substrate::local
