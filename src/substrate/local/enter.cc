// Entering a running sandbox, as nsenter does: join its cgroups, then its namespaces (mount
// last), fork (a pid namespace applies to children), confine the child and exec.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "core/sys.h"
#include "substrate/local/confine.h"
#include "substrate/local/local.h"

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

[[noreturn]] void failChild(int err_fd, const Error& e) {
  (void)sys::writeAll(err_fd, e.message(), "exec error pipe");
  ::_exit(127);
}

[[noreturn]] void childExec(const EnterSpec& spec, int err_fd) {
  auto fail = [&](const Error& e) { failChild(err_fd, e); };
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) ::signal(sig, SIG_DFL);
  int fds[3] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
  for (int i = 0; i < 3; ++i) {
    if (fds[i] >= 0 && ::dup2(fds[i], i) < 0) fail(sys::errnoError("dup2", "stdio", errno));
  }
  if (::chdir(spec.workdir.c_str()) != 0) fail(sys::errnoError("chdir", spec.workdir, errno));
  std::vector<std::string> env = buildEnv(spec);
  if (auto s = dropPrivileges(spec.user, spec.root); !s) fail(s.error());
  if (auto s = loadSeccompFilter(); !s) fail(s.error());
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  sys::closeFdsFrom(3, err_fd);
  // execvpe searches PATH from the new environment, i.e. inside the sandbox.
  environ = envp.data();
  ::execvp(argv[0], argv.data());
  int err = errno;
  failChild(err_fd, err == ENOENT ? notFound(spec.argv[0] + ": command not found in the sandbox")
                     : sys::errnoError("execve", spec.argv[0], err));
}

pid_t g_child = 0;
void forward(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

Status joinNamespaces(pid_t init) {
  // Mount last: after it, /proc/<init> paths are the sandbox's, not the host's.
  const char* kinds[] = {"cgroup", "ipc", "uts", "net", "pid", "mnt"};
  std::vector<sys::UniqueFd> fds;
  for (const char* kind : kinds) {
    auto fd = sys::open("/proc/" + std::to_string(init) + "/ns/" + kind, O_RDONLY);
    if (!fd) return std::move(fd).error();
    fds.push_back(std::move(*fd));
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (::setns(fds[i].get(), 0) != 0) return sys::errnoError("setns", kinds[i], errno);
  }
  return ok();
}

}  // namespace

Result<int> enterAndRun(const EnterSpec& spec_in, const Cgroups& cgroups) {
  KM_TRY(requireRoot("entering a local sandbox"));
  if (spec_in.argv.empty()) return invalidArgument("no command to run");
  if (!sys::processAlive(spec_in.init_pid, spec_in.init_start)) {
    return unavailable("the sandbox's init process is gone (run `km doctor`)");
  }
  EnterSpec spec = spec_in;
  if (spec.workdir.empty()) spec.workdir = "/";
  KM_TRY(cgroups.addProcess(0));
  KM_TRY(joinNamespaces(spec.init_pid));
  auto pipe = sys::pipe();
  if (!pipe) return std::move(pipe).error();
  auto [err_read, err_write] = std::move(*pipe);
  // Terminal signals reach the child directly (same process group); we only wait.
  struct sigaction ign {}, fwd {}, old_int {}, old_quit {}, old_term {}, old_hup {};
  ign.sa_handler = SIG_IGN;
  fwd.sa_handler = forward;
  ::sigaction(SIGINT, &ign, &old_int);
  ::sigaction(SIGQUIT, &ign, &old_quit);
  ::sigaction(SIGTERM, &fwd, &old_term);
  ::sigaction(SIGHUP, &fwd, &old_hup);
  pid_t child = ::fork();
  if (child < 0) return sys::errnoError("fork", "sandbox command", errno);
  if (child == 0) {
    err_read.reset();
    childExec(spec, err_write.get());
  }
  g_child = child;
  err_write.reset();
  auto message = sys::readAll(err_read.get(), "exec error pipe", 64 << 10);
  auto status = sys::waitPid(child);
  g_child = 0;
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::sigaction(SIGHUP, &old_hup, nullptr);
  if (message && !message->empty()) {
    if (message->find("command not found") != std::string::npos) return notFound(*message);
    return unavailable(*message);
  }
  if (!status) return std::move(status).error();
  return sys::exitCodeOf(*status);
}

Result<int> runInside(const EnterSpec& spec, const Cgroups& cgroups) {
  auto pipe = sys::pipe();
  if (!pipe) return std::move(pipe).error();
  auto [read_end, write_end] = std::move(*pipe);
  pid_t helper = ::fork();
  if (helper < 0) return sys::errnoError("fork", "sandbox entry helper", errno);
  if (helper == 0) {
    read_end.reset();
    auto code = enterAndRun(spec, cgroups);
    if (!code) {
      (void)sys::writeAll(write_end.get(), code.error().message(), "entry pipe");
      ::_exit(126);
    }
    ::_exit(*code);
  }
  write_end.reset();
  auto message = sys::readAll(read_end.get(), "entry pipe", 64 << 10);
  auto status = sys::waitPid(helper);
  if (message && !message->empty()) return unavailable(*message);
  if (!status) return std::move(status).error();
  return sys::exitCodeOf(*status);
}

Status killAll(pid_t init_pid, uint64_t init_start, const Cgroups& cgroups) {
  using namespace std::chrono_literals;
  if (init_pid > 0 && sys::processAlive(init_pid, init_start)) ::kill(init_pid, SIGKILL);
  for (int i = 0; i < 5000; ++i) {  // ≤ 5 s: the kernel tears a pid namespace down quickly
    auto left = cgroups.processes();
    bool init_gone = init_pid <= 0 || !sys::processAlive(init_pid, init_start);
    if (left.empty() && init_gone) return ok();
    for (pid_t p : left) ::kill(p, SIGKILL);
    // Our own child? Reap it so it does not linger as a zombie.
    if (init_pid > 0) (void)::waitpid(init_pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(1ms);
  }
  return unavailable("processes of the sandbox survived SIGKILL for 5 s");
}

}  // namespace km::substrate::local
