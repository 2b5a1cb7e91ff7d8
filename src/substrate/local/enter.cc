// Entering a running sandbox: a child of the caller joins the sandbox's cgroups, then its
// namespaces (through init's pidfd, all at once), confines itself and execs. The caller
// never leaves its own namespaces or cgroups: it is the host side of the session.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <thread>

#include "core/check.h"
#include "core/sys.h"
#include "substrate/local/confine.h"
#include "substrate/local/spawn.h"

extern char** environ;

namespace km::substrate::local {
namespace {

constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::vector<std::string> buildEnv(const EnterSpec& spec) {
  std::string home = spec.root ? "/root" : "/home/" + spec.user.name;
  std::string user = spec.root ? "root" : spec.user.name;
  std::vector<std::string> env = {std::string("PATH=") + kPath, "HOME=" + home, "USER=" + user,
                                  "LOGNAME=" + user, "LANG=C.UTF-8"};
  if (const char* term = ::getenv("TERM")) env.push_back(std::string("TERM=") + term);
  for (const auto& kv : spec.env) {
    std::string key = kv.substr(0, kv.find('='));
    std::erase_if(env, [&](const std::string& e) { return e.compare(0, key.size() + 1, key + "=") == 0; });
    env.push_back(kv);
  }
  return env;
}

// Everything the child uses, made before the fork: the child only makes system calls.
struct ChildPlan {
  const Confinement* confine = nullptr;
  int init_pidfd = -1;
  std::vector<int> cgroup_procs;  // cgroup.procs of each of the sandbox's cgroups, for writing
  ChildStdio stdio;
  const char* workdir = nullptr;
  std::vector<char*> argv, envp;
  int err_fd = -1;
};

// "<kind><errno> <step>" to the parent, then exit; the parent words the message. Only
// write(2) here: the caller may have had other threads, so nothing that locks or allocates.
[[noreturn]] void childFail(int err_fd, char kind, const char* step, int err) {
  char buf[320];
  size_t n = 0;
  buf[n++] = kind;
  char digits[12];
  size_t d = 0;
  unsigned v = static_cast<unsigned>(err);
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && d < sizeof digits);
  while (d > 0) buf[n++] = digits[--d];
  buf[n++] = ' ';
  for (const char* c = step; *c != '\0' && n < sizeof buf; ++c) buf[n++] = *c;
  (void)!::write(err_fd, buf, n);
  ::_exit(127);
}

[[noreturn]] void childMain(const ChildPlan& p) {
  int err_fd = p.err_fd;
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU}) {
    ::signal(sig, SIG_DFL);
  }
  // Cgroups first: a process may only move between cgroups inside its cgroup namespace.
  for (int fd : p.cgroup_procs) {
    if (::write(fd, "0", 1) != 1) childFail(err_fd, 'E', "joining the sandbox's cgroups", errno);
  }
  if (::setns(p.init_pidfd, CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWNS) != 0) {
    childFail(err_fd, 'E', "setns(sandbox namespaces)", errno);
  }
  // A session of its own: the caller's terminal is not this process's controlling terminal,
  // so /dev/tty inside can never reach it.
  if (::setsid() < 0) childFail(err_fd, 'E', "setsid", errno);
  int moved[3];
  for (int i = 0; i < 3; ++i) {  // above 2 first, so overlapping fds cannot clobber each other
    moved[i] = ::fcntl(p.stdio.fd[i], F_DUPFD, 10);
    if (moved[i] < 0) childFail(err_fd, 'E', "dup(stdio)", errno);
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(moved[i], i) < 0) childFail(err_fd, 'E', "dup2(stdio)", errno);
  }
  if (p.stdio.controlling_terminal && ::ioctl(0, TIOCSCTTY, 0) != 0) {
    childFail(err_fd, 'E', "ioctl(TIOCSCTTY)", errno);
  }
  ConfineFailure f = applyConfinement(*p.confine);
  if (f.call != nullptr) childFail(err_fd, 'E', f.call, f.err);
  // After dropping privileges: the directory must be one the sandbox user may enter.
  if (::chdir(p.workdir) != 0) childFail(err_fd, 'E', p.workdir, errno);
  sys::closeFdsFrom(3, err_fd);
  // execvp searches PATH from the new environment, i.e. inside the sandbox.
  environ = const_cast<char**>(p.envp.data());
  ::execvp(p.argv[0], p.argv.data());
  int err = errno;
  // 'I': a file that is there but whose #! interpreter is not (ENOENT from the kernel for
  // the interpreter), as a shell's "bad interpreter". Only access(2): a system call.
  if (err == ENOENT && std::strchr(p.argv[0], '/') != nullptr && ::access(p.argv[0], F_OK) == 0) {
    childFail(err_fd, 'I', p.argv[0], err);
  }
  // 'X': the command itself, not the way into the sandbox, failed.
  childFail(err_fd, 'X', p.argv[0], err);
}

}  // namespace

Result<sys::UniqueFd> initPidfd(pid_t init_pid, uint64_t init_start) {
  auto pidfd = sys::pidfdOpen(init_pid);
  if (!pidfd) {
    if (pidfd.error().code() == ErrorCode::kNotFound) {
      return unavailable("the sandbox's init process is gone (run `km doctor`)");
    }
    return std::move(pidfd).error();
  }
  // Checked after opening: a recycled pid is caught by its start time.
  if (!sys::processAlive(init_pid, init_start)) {
    return unavailable("the sandbox's init process is gone (run `km doctor`)");
  }
  return std::move(*pidfd);
}

Result<Spawned> spawnInside(const EnterSpec& spec, const Cgroups& cgroups, const ChildStdio& stdio) {
  KM_TRY(requireRoot("entering a local sandbox"));
  if (spec.argv.empty()) return invalidArgument("no command to run");
  auto init = initPidfd(spec.init_pid, spec.init_start);
  if (!init) return std::move(init).error();
  auto confine = prepareConfinement(spec.user, spec.root);
  if (!confine) return std::move(confine).error();
  std::vector<sys::UniqueFd> procs;
  for (const auto& dir : cgroups.dirs()) {
    auto fd = sys::open(dir + "/cgroup.procs", O_WRONLY);
    if (!fd) return std::move(fd).error().context("the sandbox's cgroups");
    procs.push_back(std::move(*fd));
  }
  std::vector<std::string> env = buildEnv(spec);
  std::string workdir = spec.workdir.empty() ? "/" : spec.workdir;
  ChildPlan plan;
  plan.confine = &*confine;
  plan.init_pidfd = init->get();
  for (const auto& fd : procs) plan.cgroup_procs.push_back(fd.get());
  plan.stdio = stdio;
  plan.workdir = workdir.c_str();
  for (const auto& a : spec.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  for (const auto& e : env) plan.envp.push_back(const_cast<char*>(e.c_str()));
  plan.envp.push_back(nullptr);
  auto pipe = sys::pipe();
  if (!pipe) return std::move(pipe).error();
  auto [err_read, err_write] = std::move(*pipe);
  plan.err_fd = err_write.get();
  // The pid namespace applies to the next child only; the caller switches back at once.
  auto own_pid_ns = sys::open("/proc/self/ns/pid", O_RDONLY);
  if (!own_pid_ns) return std::move(own_pid_ns).error();
  if (::setns(init->get(), CLONE_NEWPID) != 0) return sys::errnoError("setns", "sandbox pid namespace", errno);
  pid_t child = ::fork();
  int fork_errno = errno;
  if (child == 0) childMain(plan);
  if (::setns(own_pid_ns->get(), CLONE_NEWPID) != 0) {
    // Never expected (it is our own namespace); later children would land in the sandbox.
    KM_CHECK(false) << "setns back to the caller's pid namespace failed: " << std::strerror(errno);
  }
  if (child < 0) return sys::errnoError("fork", "sandbox command", fork_errno);
  err_write.reset();
  // End-of-file once the exec happened (the pipe is close-on-exec); a message if it did not.
  auto message = sys::readAll(err_read.get(), "exec error pipe", 4096);
  if (message && !message->empty()) {
    (void)sys::waitPid(child);
    // "<kind><errno> <step>", from childFail.
    size_t space = message->find(' ');
    int err = std::atoi(message->c_str() + 1);
    std::string step = space == std::string::npos ? "" : message->substr(space + 1);
    if ((*message)[0] == 'I') {
      Spawned failed;
      failed.exec_status = 126;
      failed.exec_message = step + ": bad interpreter: its #! line names a program the sandbox does not have";
      return failed;
    }
    if ((*message)[0] == 'X') {
      Spawned failed;
      bool missing = err == ENOENT || err == ENOTDIR;
      failed.exec_status = missing ? 127 : 126;
      failed.exec_message = step + (missing ? ": command not found in the sandbox"
                                            : ": cannot execute in the sandbox: " + std::string(std::strerror(err)));
      return failed;
    }
    return unavailable("starting the command in the sandbox: " + step + ": " + std::strerror(err));
  }
  Spawned out;
  out.pid = child;
  auto pidfd = sys::pidfdOpen(child);
  if (!pidfd) {
    ::kill(child, SIGKILL);
    (void)sys::waitPid(child);
    return std::move(pidfd).error().context("the sandbox command");
  }
  out.pidfd = std::move(*pidfd);
  return out;
}

Status killCgroupProcesses(const Cgroups& cgroups, const std::function<bool()>& also_done, std::string_view what) {
  using namespace std::chrono_literals;
  struct Target {
    sys::UniqueFd fd;
    bool signalled = false;
  };
  std::map<pid_t, Target> targets;
  auto exited = [](const sys::UniqueFd& fd) {
    pollfd p{fd.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;  // readable (or an error): the process has exited
  };
  auto deadline = std::chrono::steady_clock::now() + 5s;  // the kernel tears a pid namespace down quickly
  for (;;) {
    bool done = also_done();
    auto left = cgroups.processes();
    if (left.empty() && done) break;
    for (pid_t p : left) {
      auto it = targets.find(p);
      if (it != targets.end() && !exited(it->second.fd)) continue;
      auto fd = sys::pidfdOpen(p);
      if (fd) targets[p] = Target{std::move(*fd), false};
    }
    // Signalled through its pidfd, and only when still in the cgroup after the pidfd was
    // opened: a pid freed and reused between the read and the open names another process.
    for (pid_t p : cgroups.processes()) {
      auto it = targets.find(p);
      if (it == targets.end()) continue;
      if (::syscall(SYS_pidfd_send_signal, it->second.fd.get(), SIGKILL, nullptr, 0) == 0) it->second.signalled = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return unavailable(std::string(what) + " survived SIGKILL for 5 s");
    }
    std::this_thread::sleep_for(1ms);
  }
  // Off cgroup.procs is not gone: the kernel takes a task off early in its exit, while it may
  // still hold memory, files and namespaces (a pid namespace's init waits there until the
  // namespace is empty). Each process signalled is waited for until it has exited.
  for (auto& [pid, target] : targets) {
    if (!target.signalled) continue;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{target.fd.get(), POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (n > 0 || (n < 0 && errno != EINTR)) break;
      if (left.count() <= 0) return unavailable(std::string(what) + ": process " + std::to_string(pid) + " did not finish exiting in 5 s");
    }
  }
  return ok();
}

Status killAll(pid_t init_pid, uint64_t init_start, const Cgroups& cgroups) {
  if (init_pid > 0 && sys::processAlive(init_pid, init_start)) ::kill(init_pid, SIGKILL);
  bool init_gone = init_pid <= 0;
  // Our own child (the supervisor's) is gone once reaped, not when it looks dead: a zombie
  // reaped by nobody would stay. Someone else's is gone when it is no longer alive.
  auto initGone = [&] {
    if (!init_gone) {
      pid_t r = ::waitpid(init_pid, nullptr, WNOHANG);
      init_gone = r == init_pid || (r < 0 && errno == ECHILD && !sys::processAlive(init_pid, init_start));
    }
    return init_gone;
  };
  return killCgroupProcesses(cgroups, initGone, "processes of the sandbox");
}

}  // namespace km::substrate::local
