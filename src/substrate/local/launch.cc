// The sandbox's birth: one fork into a new pid namespace makes init (PID 1); it unshares the
// other namespaces and brings loopback up (this part may run ahead, before the plan exists:
// StagedInit), waits until the caller has put it into the sandbox's cgroups and sent its
// layout and spec, roots a new cgroup namespace there, builds the filesystem and then only
// reaps.
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <linux/prctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/fs.h"
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
    } else if (info.si_pid == 0 && info.si_code == SI_USER) {
      // Only a signal from outside the sandbox ends it: kill(2) from an ancestor pid
      // namespace (the supervisor) arrives as SI_USER with si_pid 0. A process inside can
      // queue a signal claiming si_pid 0 (rt_sigqueueinfo), but never with SI_USER.
      ::kill(-1, SIGKILL);
      while (::waitpid(-1, nullptr, 0) > 0) {
      }
      ::_exit(0);
    }
  }
}

bool readExactly(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t got = ::read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

// One length-prefixed message from the go pipe (framed as putField frames a field: a 4-byte
// length, then the bytes); nullopt at end-of-file or on a short read.
std::optional<std::string> readMessage(int fd, size_t limit) {
  uint32_t n = 0;
  if (!readExactly(fd, &n, sizeof n) || n > limit) return std::nullopt;
  std::string out(n, '\0');
  if (n > 0 && !readExactly(fd, out.data(), n)) return std::nullopt;
  return out;
}

[[noreturn]] void initMain(const Layout& layout, LaunchSpec spec, int go_fd, int ready_fd) {
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
  if (spec.first_start) {
    if (auto s = writeFirstStartFiles(spec); !s) report(s.error());
    if (!spec.ca_cert.empty()) {
      if (auto s = installCaCertificate(spec.ca_cert); !s) report(s.error());
    }
  }
  // The root is built while the supervisor sets up the network; the resolver's address
  // follows once it has (finishLaunch). End-of-file instead: the start was abandoned.
  auto resolv = readMessage(go_fd, 1 << 20);
  if (!resolv) ::_exit(1);
  ::close(go_fd);
  spec.resolv_conf = std::move(*resolv);
  if (!spec.resolv_conf.empty()) {
    if (auto s = writeResolvConf(spec.resolv_conf); !s) report(s.error());
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

// The layout and spec travel to a staged init as length-prefixed fields.
void putField(std::string& out, std::string_view field) {
  auto n = static_cast<uint32_t>(field.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(field);
}

class FieldReader {
 public:
  explicit FieldReader(std::string_view data) : rest_(data) {}
  std::string next() {
    uint32_t n = 0;
    if (rest_.size() < sizeof n) return fail();
    std::memcpy(&n, rest_.data(), sizeof n);
    rest_.remove_prefix(sizeof n);
    if (rest_.size() < n) return fail();
    std::string out(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return out;
  }
  uint64_t number() {
    std::string text = next();
    uint64_t v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') {
        fail();
        return 0;
      }
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  }
  bool ok() const { return ok_ && rest_.empty(); }
  bool failed() const { return !ok_; }

 private:
  std::string fail() {
    ok_ = false;
    rest_ = {};
    return {};
  }
  std::string_view rest_;
  bool ok_ = true;
};

std::string encodeLaunch(const Layout& l, const LaunchSpec& s) {
  std::string out;
  for (const std::string* f : {&l.dir, &l.disk_name, &l.disk, &l.volume_name, &l.volume, &l.upper,
                               &l.work, &l.root, &l.workspace, &l.home, &l.root_home,
                               &l.control_socket, &l.supervisor_log, &l.init_log, &l.user_file,
                               &l.plan_file, &l.init_file, &l.net_file, &l.network_log, &s.hostname,
                               &s.working_dir, &s.user.name, &s.km_home, &s.volume_mount, &s.ca_cert}) {
    putField(out, *f);
  }
  putField(out, std::to_string(s.user.uid));
  putField(out, std::to_string(s.user.gid));
  putField(out, s.first_start ? "1" : "0");
  putField(out, std::to_string(s.config_files.size()));
  for (const auto& f : s.config_files) {
    putField(out, f.path);
    putField(out, f.content);
  }
  putField(out, std::to_string(s.lower_dirs.size()));
  for (const auto& d : s.lower_dirs) putField(out, d);
  return out;
}

bool decodeLaunch(std::string_view data, Layout& l, LaunchSpec& s) {
  FieldReader r(data);
  for (std::string* f : {&l.dir, &l.disk_name, &l.disk, &l.volume_name, &l.volume, &l.upper,
                         &l.work, &l.root, &l.workspace, &l.home, &l.root_home, &l.control_socket,
                         &l.supervisor_log, &l.init_log, &l.user_file, &l.plan_file, &l.init_file,
                         &l.net_file, &l.network_log, &s.hostname, &s.working_dir, &s.user.name,
                         &s.km_home, &s.volume_mount, &s.ca_cert}) {
    *f = r.next();
  }
  s.user.uid = static_cast<uid_t>(r.number());
  s.user.gid = static_cast<gid_t>(r.number());
  s.first_start = r.number() == 1;
  uint64_t files = r.number();
  for (uint64_t i = 0; i < files && !r.failed(); ++i) {
    ConfigFile f;
    f.path = r.next();
    f.content = r.next();
    s.config_files.push_back(std::move(f));
  }
  uint64_t lowers = r.number();
  for (uint64_t i = 0; i < lowers && !r.failed(); ++i) s.lower_dirs.push_back(r.next());
  return r.ok();
}

// The staged init is a fork of km (`km create …` or `km supervise …`), so its command line
// and environment are the operator's, and /proc/1/cmdline is readable by anyone inside:
// both become a plain "km-init".
void plainCommandLine() { (void)sys::replaceCommandLine({"km-init"}, true); }

// The staged init before its spec arrives: namespaces, loopback, then wait.
[[noreturn]] void stagedMain(int go_fd, int ready_fd) {
  plainCommandLine();
  // Keep nothing of the creator's: its stdout may be a pipe a shell reads to the end, and
  // its other pipes would never see end-of-file while this process holds them.
  int go = ::fcntl(go_fd, F_DUPFD_CLOEXEC, 10);
  int ready = ::fcntl(ready_fd, F_DUPFD_CLOEXEC, 10);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (go < 0 || ready < 0 || null_fd < 0) ::_exit(127);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
  ::dup3(go, 3, O_CLOEXEC);
  ::dup3(ready, 4, O_CLOEXEC);
  sys::closeFdsFrom(5);
  go = 3;
  ready = 4;
  // The host's mount namespace, for a fresh copy at launch when what it should show (the
  // disk store, mounted by the first create of a home or after a reboot) came after us.
  int host_mnt = ::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  auto fail = [&](const Error& e) {
    (void)sys::writeAll(ready, "error: " + e.message(), "ready pipe");
    ::_exit(1);
  };
  // A session of its own: it was forked before the supervisor left the creator's session,
  // and a Ctrl-C or hangup meant for the creator's terminal must not reach the sandbox.
  ::setsid();
  if (::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
    fail(sys::errnoError("unshare", "sandbox namespaces", errno));
  }
  if (auto s = loopbackUp(); !s) fail(s.error());
  // No MPTCP in the sandbox: its extra subflows would be connections the eBPF connect checks
  // never saw (net sysctls written here apply to this process's new network namespace).
  if (::access("/proc/sys/net/mptcp/enabled", F_OK) == 0) {
    if (auto s = sys::writeFile("/proc/sys/net/mptcp/enabled", "0"); !s) fail(s.error());
  }
  // Interfaces that arrive later (the veth) get no IPv6: the sandbox's network is IPv4 only,
  // and the kernel's own neighbour and multicast chatter would fill the network log with
  // refusals. Loopback, made with the namespace, keeps ::1.
  if (::access("/proc/sys/net/ipv6/conf/default/disable_ipv6", F_OK) == 0) {
    if (auto s = sys::writeFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"); !s) fail(s.error());
  }
  // Tell the stager the namespaces exist (its next step may put a veth into ours).
  if (!sys::writeAll(ready, "s", "ready pipe")) ::_exit(1);
  // The spec comes once the parent has moved us into the sandbox's cgroups, so the new
  // cgroup namespace is rooted at the sandbox's own cgroup. End-of-file without one: the
  // sandbox was never made (an invalid profile, say).
  auto message = readMessage(go, 64 << 20);
  if (!message || message->empty()) ::_exit(0);
  Layout layout;
  LaunchSpec spec;
  if (!decodeLaunch(*message, layout, spec)) fail(internalError("malformed launch spec"));
  *message = std::string();
  if (::unshare(CLONE_NEWCGROUP) != 0) fail(sys::errnoError("unshare", "cgroup namespace", errno));
  if (::access(layout.upper.c_str(), F_OK) != 0 && host_mnt >= 0) {
    if (::setns(host_mnt, CLONE_NEWNS) != 0 || ::unshare(CLONE_NEWNS) != 0) {
      fail(sys::errnoError("setns/unshare", "a fresh mount namespace", errno));
    }
  }
  if (host_mnt >= 0) ::close(host_mnt);
  initMain(layout, std::move(spec), go, ready);
}

}  // namespace

Result<StagedInit> StagedInit::stage() { return start(/*exec=*/false); }
Result<StagedInit> StagedInit::spawn() { return start(/*exec=*/true); }

Result<StagedInit> StagedInit::start(bool exec) {
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
  // For exec, everything the child uses exists before the fork: it makes only system calls
  // until its exec (the caller may have other threads, holding locks the child would
  // inherit held).
  static constexpr char kExe[] = "/proc/self/exe";
  char name[] = "km-init";
  char* argv[] = {name, nullptr};
  char* envp[] = {nullptr};
  if (::unshare(CLONE_NEWPID) != 0) return sys::errnoError("unshare", "pid namespace", errno);
  pid_t init = ::fork();
  int fork_errno = errno;
  if (init == 0 && !exec) stagedMain(go_read.get(), ready_write.get());
  if (init == 0) {
    int g = ::fcntl(go_read.get(), F_DUPFD, 10);
    int r = ::fcntl(ready_write.get(), F_DUPFD, 10);
    if (g < 0 || r < 0 || ::dup2(g, kStagedGoFd) < 0 || ::dup2(r, kStagedReadyFd) < 0) ::_exit(127);
    ::execve(kExe, argv, envp);
    ::_exit(127);
  }
  if (::setns(own_pid_ns->get(), CLONE_NEWPID) != 0) {
    // Never expected (it is our own namespace); later children would land in the sandbox.
    KM_CHECK(false) << "setns back to the supervisor's pid namespace failed: " << std::strerror(errno);
  }
  if (init < 0) return sys::errnoError("fork", "sandbox init", fork_errno);
  StagedInit out;
  out.pid_ = init;
  out.go_fd_ = go_write.release();
  out.ready_fd_ = ready_read.release();
  return out;
}

bool isSpawnedInit(int argc, char** argv) {
  return argc == 1 && argv[0] != nullptr && std::strcmp(argv[0], "km-init") == 0 &&
         ::fcntl(kStagedGoFd, F_GETFD) >= 0 && ::fcntl(kStagedReadyFd, F_GETFD) >= 0;
}

void spawnedInitMain() { stagedMain(kStagedGoFd, kStagedReadyFd); }

Status StagedInit::namespacesReady() {
  if (ready_) return ok();
  if (ready_fd_ < 0) return internalError("no staged sandbox init");
  // "s" once its namespaces exist, or the error that stopped it.
  char first = 0;
  ssize_t n;
  do {
    n = ::read(ready_fd_, &first, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1 && first == 's') {
    ready_ = true;
    return ok();
  }
  std::string why(n == 1 ? 1 : 0, first);
  if (auto rest = sys::readAll(ready_fd_, "ready pipe", 64 << 10)) why += *rest;
  if (why.rfind("error: ", 0) == 0) return unavailable(why.substr(7));  // ~StagedInit reaps it
  return unavailable("sandbox init ended while making its namespaces");
}

StagedInit::StagedInit(StagedInit&& o) noexcept
    : pid_(std::exchange(o.pid_, 0)),
      ready_(std::exchange(o.ready_, false)),
      go_fd_(std::exchange(o.go_fd_, -1)),
      ready_fd_(std::exchange(o.ready_fd_, -1)) {}

StagedInit& StagedInit::operator=(StagedInit&& o) noexcept {
  if (this != &o) {
    discard();
    pid_ = std::exchange(o.pid_, 0);
    ready_ = std::exchange(o.ready_, false);
    go_fd_ = std::exchange(o.go_fd_, -1);
    ready_fd_ = std::exchange(o.ready_fd_, -1);
  }
  return *this;
}

StagedInit::~StagedInit() { discard(); }

void StagedInit::discard() {
  if (go_fd_ >= 0) ::close(std::exchange(go_fd_, -1));
  if (ready_fd_ >= 0) ::close(std::exchange(ready_fd_, -1));
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    (void)sys::waitPid(pid_);
    pid_ = 0;
  }
}

// GCC 12 warns, wrongly, that destroying `fresh` below frees a non-heap pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
Status beginLaunch(const Layout& layout, const LaunchSpec& spec, const Cgroups& cgroups, StagedInit& staged) {
  if (!staged.valid()) {
    auto fresh = StagedInit::spawn();
    if (!fresh) return std::move(fresh).error();
    staged = std::move(*fresh);
  }
  KM_TRY(staged.namespacesReady());  // on failure the caller's ~StagedInit ends it
  KM_TRY(cgroups.addProcess(staged.pid_));
  // A failed write means init already ended; finishLaunch reads why from its ready pipe.
  std::string message;
  putField(message, encodeLaunch(layout, spec));
  (void)sys::writeAll(staged.go_fd_, message, "go pipe");
  return ok();
}
#pragma GCC diagnostic pop

Result<Launched> finishLaunch(StagedInit& staged, const std::string& resolv_conf) {
  if (!staged.valid() || staged.go_fd_ < 0) return internalError("finishLaunch without beginLaunch");
  pid_t init = staged.pid_;
  std::string message;
  putField(message, resolv_conf);
  (void)sys::writeAll(staged.go_fd_, message, "go pipe");
  ::close(std::exchange(staged.go_fd_, -1));
  auto text = sys::readAll(staged.ready_fd_, "ready pipe", 64 << 10);
  if (!text) return std::move(text).error();
  std::string rest = *text;
  if (rest != "ok") {
    ::kill(init, SIGKILL);
    std::string how;
    if (auto st = sys::waitPid(init); st) {
      how = WIFSIGNALED(*st) ? "killed by signal " + std::to_string(WTERMSIG(*st))
                             : "exit " + std::to_string(sys::exitCodeOf(*st));
    }
    staged.pid_ = 0;
    if (rest.rfind("error: ", 0) == 0) return unavailable(rest.substr(7));
    return unavailable("sandbox init ended during setup (" + how + ", ready pipe said '" + rest + "')");
  }
  Launched out;
  out.init_pid = init;
  out.init_start = sys::processStartTime(init).value_or(0);
  ::close(std::exchange(staged.ready_fd_, -1));
  staged.pid_ = 0;  // it is the sandbox's init now
  return out;
}

}  // namespace km::substrate::local
