// The supervisor's two starts — forked by km create (serveNew) or started by
// `km supervise ID` (run) — and what they share: signals, the control socket, the log.
// Both end in the control loop (control_loop.cc), in the same process.
#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "core/clock.h"
#include "net/net.h"
#include "net/proxy/proxy.h"
#include "supervisor/control_loop.h"
#include "supervisor/report.h"
#include "supervisor/runtime.h"
#include "supervisor/serve.h"

namespace km::supervisor {
namespace {

constexpr std::string_view kLog = "km.supervisor";
using store::SandboxStatus;

Result<sys::UniqueFd> listenOn(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return invalidArgument("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ::unlink(path.c_str());
  sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return sys::errnoError("socket", path, errno);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return sys::errnoError("bind", path, errno);
  }
  ::chmod(path.c_str(), 0600);
  if (::listen(fd.get(), 16) != 0) return sys::errnoError("listen", path, errno);
  return fd;
}

// Blocks the signals the loop reads from a signalfd; returns that fd.
sys::UniqueFd setUpSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t term;
  sigemptyset(&term);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&term, sig);
  return sys::UniqueFd(::signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK));
}

// The supervisor's log (its stderr is the file too, for crash reports) is rotated and capped
// like the sandbox's network log: warnings a sandbox can provoke must not fill the disk.
void logToRotatingFile(const Options& o, const Runtime& rt) {
  if (Status s = log::toRotatingFile(rt.files().supervisor_log, rt.plan().logs.rotation()); !s) {
    log::warn(kLog, o.id + ": " + s.error().message() + "; logging to stderr");
  }
}

void reportTo(int& fd, const std::string& text) {
  if (fd < 0) return;
  (void)sys::writeAll(fd, text, "ready pipe");
  ::close(fd);
  fd = -1;
}

// Tops up the pool of spare sandbox CAs (net::proxy::fillCaPool) once the creating command
// has exited, so that the next create takes a spare (a rename) instead of making a CA (OpenSSL's
// first use in a process costs milliseconds): `km fill-ca-pool`, which runs only on otherwise
// idle CPUs. Spawned (no copy of this process) and reaped from a short-lived thread, after the
// creator is gone so that nothing on a create's way waits for it. Best effort.
// Waits until the process behind `pidfd` has exited, or `timeout_ms` passed (-1: no limit).
void awaitExit(int pidfd, int timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
  }
}

void refillCaPool(sys::UniqueFd creator, const std::string& km_home) {
  const std::string pool = net::proxy::caPoolDir(km_home);
  if (!creator.valid() || net::proxy::caPoolSize(pool) >= net::proxy::kCaPoolTarget) return;
  std::thread([creator = std::move(creator), km_home] {
    awaitExit(creator.get(), -1);
    if (net::proxy::caPoolSize(net::proxy::caPoolDir(km_home)) >= net::proxy::kCaPoolTarget) return;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t files;
    if (posix_spawnattr_init(&attr) != 0) return;
    if (posix_spawn_file_actions_init(&files) != 0) {
      posix_spawnattr_destroy(&attr);
      return;
    }
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    for (int fd = 0; fd < 3; ++fd) posix_spawn_file_actions_addopen(&files, fd, "/dev/null", O_RDWR, 0);
    std::string home = km_home;
    std::string argv0 = "km", home_flag = "--home", command = "fill-ca-pool";
    char* argv[] = {argv0.data(), home_flag.data(), home.data(), command.data(), nullptr};
    char* no_env[] = {nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/proc/self/exe", &files, &attr, argv, no_env);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      log::warn(kLog, "starting km fill-ca-pool: " + std::string(std::strerror(rc)));
      return;
    }
    (void)sys::waitPid(pid);
  }).detach();
}

int serve(store::FleetStore& st, Runtime& rt, sys::UniqueFd listener, int signal_fd) {
  ControlLoop loop(st, rt, systemClock(), std::move(listener), signal_fd);
  return loop.run();
}

// The row km create writes while the sandbox is built; it may be a moment behind our report.
Result<std::optional<store::SandboxRecord>> awaitRow(store::FleetStore& st, const std::string& id) {
  auto rec = st.get(id);
  for (int i = 0; rec && !rec->has_value() && i < 250; ++i) {
    ::usleep(20000);
    rec = st.get(id);
  }
  return rec;
}

}  // namespace

namespace detail {

// The body of a forked supervisor: build, report, then supervise in this same process.
Early prepareEarly() {
  Early e;
  e.signal_fd = setUpSignals();
  e.creator = sys::pidfdOpen(::getppid()).value_or(sys::UniqueFd());  // the CA pool is topped up after it
  // Until the sandbox is ready it logs to the file as stderr, in the file's format (km logs
  // reads the times); its own cgroup and rotating log are not on the path to a ready sandbox.
  // Nothing is logged before stdio is the file (detachStdio).
  log::toStderrAsFile();
  log::raiseVerbosity(1);
  log::prepare(kLog);
  ::tzset();  // the first log line's time would read /etc/localtime after the plan came
  return e;
}

int serveNew(const Options& o, const plan::SandboxPlan& plan, int ready_fd,
             std::unique_ptr<substrate::Staged> staged, Early early) {
  sys::UniqueFd signal_fd = std::move(early.signal_fd);
  sys::UniqueFd creator = std::move(early.creator);
  log::info(kLog, o.id + ": building the sandbox (supervisor pid " + std::to_string(::getpid()) + ")");
  auto where = substrate::open(plan.substrate, {.km_home = o.km_home, .disk = {}});
  if (!where) {
    log::error(kLog, o.id + ": " + where.error().message());
    reportTo(ready_fd, encodeReport(Result<Report>(std::move(where).error())));
    return 1;
  }
  Runtime rt(nullptr, plan, (*where)->sandbox(plan));
  rt.useStaged(std::move(staged));
  rt.useLedger(o.store_path);
  auto fail = [&](Error e) {
    e = rt.failCreate(std::move(e));
    // Its first line: the rest (an init log's tail) is in the kept init.log beside this log,
    // and km create shows both.
    log::error(kLog, o.id + ": create failed: " + e.message().substr(0, e.message().find('\n')));
    reportTo(ready_fd, encodeReport(Result<Report>(std::move(e))));
    return 1;
  };
  if (Status s = rt.start(true); !s) return fail(s.error());
  auto listener = listenOn(rt.files().control_socket);
  if (!listener) return fail(listener.error());
  log::info(kLog, o.id + ": ready, init pid " + std::to_string(rt.initPid()));
  Report ready;
  ready.supervisor_pid = ::getpid();
  ready.supervisor_start = sys::processStartTime(ready.supervisor_pid).value_or(0);
  ready.init_pid = rt.initPid();
  ready.init_start = rt.initStart();
  reportTo(ready_fd, encodeReport(Result<Report>(ready)));
  // The creator now records the sandbox and exits: that is the rest of `km create`'s time.
  // What follows here (cgroup, log, store) can wait for it rather than take a CPU from it;
  // the sandbox and its network already run. Bounded: `km clone --count` goes on creating.
  if (creator.valid()) awaitExit(creator.get(), 250);

  // From here this process supervises for good: its own cgroup and log, and the fleet store,
  // opened only now (the creator forked us before it opened the database, so no SQLite
  // state crossed the fork).
  logToRotatingFile(o, rt);
  if (Status s = rt.enterSupervisorCgroup(); !s) {
    log::warn(kLog, o.id + ": " + s.error().message() + "; supervising from outside the sandbox's cgroup");
  }
  auto st = store::openSqlite(o.store_path);
  if (!st) {
    log::error(kLog, o.id + ": " + st.error().message() + "; the sandbox runs unsupervised until `km doctor --fix`");
    return 1;
  }
  auto rec = awaitRow(**st, o.id);
  if (rec && !rec->has_value()) {
    // Nobody recorded this sandbox (its creator died): do not leave it running.
    log::error(kLog, o.id + ": km create never recorded the sandbox; removing it");
    (void)rt.destroy("its creator never recorded it");
    return 1;
  }
  rt.attachStore(st->get());
  log::info(kLog, o.id + ": supervising (supervisor pid " + std::to_string(::getpid()) + ", init pid " +
                      std::to_string(rt.initPid()) + ")");
  if (net::servesProxy(plan.network.enforcement)) refillCaPool(std::move(creator), o.km_home);  // it took a spare
  return serve(**st, rt, std::move(*listener), signal_fd.get());
}

Result<Started> finishStart(const Options& o, plan::Substrate kind, int ready_read, const Status& side,
                            const std::string& log_path) {
  auto text = sys::readAll(ready_read, "supervisor ready pipe", 1 << 20);
  if (!text) return std::move(text).error();
  auto report = decodeReport(*text, log_path);
  if (!report) return side ? Result<Started>(std::move(report).error()) : Result<Started>(side.error());
  if (report->supervisor_pid <= 0 || report->init_pid <= 0) {
    return unavailable("the supervisor's ready report names no processes (see " + log_path + ")");
  }
  Started out;
  out.supervisor_pid = report->supervisor_pid;
  out.supervisor_start = report->supervisor_start;
  out.init_pid = report->init_pid;
  out.init_start = report->init_start;
  if (!side) {
    // No row to supervise against: end the supervisor (it may not be in the sandbox's
    // supervisor cgroup yet, so teardown could miss it), then the new sandbox.
    if (sys::processAlive(out.supervisor_pid, out.supervisor_start)) ::kill(out.supervisor_pid, SIGKILL);
    if (auto where = substrate::open(kind, {.km_home = o.km_home, .disk = {}})) {
      (void)(*where)->teardown(o.id, {out.init_pid, out.init_start});
    }
    return side.error();
  }
  return out;
}

}  // namespace detail

void detail::detachStdio(const std::string& log_path) {
  ::setsid();
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null_fd < 0 || log_fd < 0) ::_exit(127);
  ::dup2(null_fd, 0);
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  if (null_fd > 2) ::close(null_fd);
  if (log_fd > 2) ::close(log_fd);
}

int run(const Options& o) {
  int ready_fd = o.ready_fd;
  auto fail = [&](const Error& e) {
    log::error(kLog, o.id + ": " + e.message());
    reportTo(ready_fd, encodeReport(Result<Report>(e)));
    return 1;
  };
  sys::UniqueFd signal_fd = setUpSignals();

  auto st = store::openSqlite(o.store_path);
  if (!st) return fail(st.error());
  auto rec = (*st)->get(o.id);
  if (!rec) return fail(rec.error());
  if (!rec->has_value()) return fail(notFound("no sandbox " + o.id + " in " + o.store_path));
  store::SandboxRecord r = **rec;
  auto plan = plan::fromJson(r.plan_json, "the stored plan of " + o.id);
  if (!plan) return fail(plan.error());
  auto where = substrate::open(plan->substrate, {.km_home = o.km_home, .disk = {}});
  if (!where) return fail(where.error());
  Runtime rt(st->get(), *plan, (*where)->sandbox(*plan));
  rt.useLedger(o.store_path);
  logToRotatingFile(o, rt);
  log::raiseVerbosity(1);  // its lifecycle, at info, goes to its log (km logs shows it)
  if (Status s = rt.enterSupervisorCgroup(); !s) {
    log::warn(kLog, o.id + ": " + s.error().message() + "; supervising from outside the sandbox's cgroup");
  }

  bool init_alive = r.init_pid > 0 && sys::processAlive(static_cast<pid_t>(r.init_pid), r.init_start);
  Status started = ok();
  switch (r.status) {
    case SandboxStatus::kCreating:
      log::info(kLog, o.id + ": building the sandbox (supervisor pid " + std::to_string(::getpid()) + ")");
      started = rt.start(true);
      if (!started) return fail(rt.failCreate(started.error()));
      break;
    case SandboxStatus::kRunning:
    case SandboxStatus::kPaused:
      if (init_alive) {
        started = rt.adopt(static_cast<pid_t>(r.init_pid), r.init_start);
      } else {
        log::warn(kLog, o.id + ": its init (pid " + std::to_string(r.init_pid) + ") is gone; restarting the sandbox");
        (void)rt.stop("recovering: init was gone");
        started = rt.start(false);
        if (started) {
          (void)(*st)->addEvent(o.id, "recovered", "restarted after its init was lost");
          log::info(kLog, o.id + ": recovered: restarted after its init was lost");
        }
      }
      break;
    case SandboxStatus::kStopped:
      log::info(kLog, o.id + ": supervising the stopped sandbox (supervisor pid " + std::to_string(::getpid()) + ")");
      started = rt.stop("supervisor restarted");  // clears stale cgroups, records our pid
      break;
    case SandboxStatus::kDestroying:
    case SandboxStatus::kFailed:
      started = rt.destroy("finishing an interrupted teardown");
      if (started) {
        reportTo(ready_fd, encodeReport(ok()));
        return 0;
      }
      break;
  }
  if (!started) return fail(started.error());
  auto listener = listenOn(rt.files().control_socket);
  if (!listener) return fail(listener.error());
  reportTo(ready_fd, encodeReport(ok()));
  return serve(**st, rt, std::move(*listener), signal_fd.get());
}

}  // namespace km::supervisor
