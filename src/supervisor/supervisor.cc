// The supervisor's loop: one poll over signals, the control socket, init's pidfd and a tick
// that enforces the TTL and idle timeout.
#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/fs.h"
#include "core/log.h"
#include "doc/json_io.h"
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

// Bytes through every interface of init's network namespace.
uint64_t netBytes(pid_t init) {
  auto text = fs::readFile("/proc/" + std::to_string(init) + "/net/dev", 1 << 16);
  if (!text) return 0;
  std::istringstream in(*text);
  std::string line;
  uint64_t total = 0;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v[16] = {};
    for (auto& x : v) fields >> x;
    total += v[0] + v[8];  // rx bytes, tx bytes
  }
  return total;
}

class Loop {
 public:
  Loop(const Options& o, store::FleetStore& s, Runtime& rt) : opt_(o), store_(s), rt_(rt) {}

  int serve(int listen_fd, int signal_fd) {
    int64_t next_tick = store::nowMs();
    while (!done_) {
      int64_t wait = std::max<int64_t>(0, next_tick - store::nowMs());
      pollfd fds[3] = {{signal_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}, {rt_.initPidfd(), POLLIN, 0}};
      int n = ::poll(fds, rt_.initPidfd() >= 0 ? 3 : 2, static_cast<int>(wait));
      if (n < 0 && errno != EINTR) {
        log::error(kLog, opt_.id + ": poll: " + std::strerror(errno));
        return 1;
      }
      if (n > 0 && (fds[0].revents & POLLIN)) onSignal(signal_fd);
      if (n > 0 && (fds[1].revents & POLLIN)) onClient(listen_fd);
      if (n > 0 && rt_.initPidfd() >= 0 && (fds[2].revents & POLLIN)) {
        if (!done_) rt_.initExited();
      }
      if (store::nowMs() >= next_tick && !done_) {
        tick();
        next_tick = store::nowMs() + opt_.tick.count();
      }
    }
    return 0;
  }

 private:
  void onSignal(int signal_fd) {
    signalfd_siginfo si{};
    while (::read(signal_fd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP) {
        // The supervisor is asked to leave; the sandbox keeps running (doctor re-adopts).
        log::info(kLog, opt_.id + ": supervisor exiting on signal; the sandbox keeps running");
        done_ = true;
      }
    }
  }

  std::string handle(const std::string& cmd) {
    auto reply = [](const Status& s) { return s ? std::string("ok") : "error: " + s.error().message(); };
    if (cmd == "ping") return "ok " + std::string(rt_.running() ? "running" : "stopped");
    if (cmd == "stop") return reply(rt_.running() ? rt_.stop("requested") : ok());
    if (cmd == "pause") return reply(rt_.pause());
    if (cmd == "resume") {
      if (!rt_.running()) return reply(rt_.start(false));
      if (rt_.cgroups().frozen()) return reply(rt_.thaw());
      return "ok already running";
    }
    if (cmd == "destroy") {
      // Done either way: after a failure the row stays `destroying` and `km destroy` or
      // `km doctor --fix` finishes the teardown without us.
      Status s = rt_.destroy("requested");
      done_ = true;
      return reply(s);
    }
    return "error: unknown command '" + cmd + "'";
  }

  void onClient(int listen_fd) {
    sys::UniqueFd client(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!client.valid()) return;
    timeval tv{1, 0};  // a client that connects and says nothing cannot stall the loop
    ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[256];
    ssize_t n = ::recv(client.get(), buf, sizeof buf - 1, 0);
    if (n <= 0) return;
    std::string cmd(buf, static_cast<size_t>(n));
    while (!cmd.empty() && (cmd.back() == '\n' || cmd.back() == '\r')) cmd.pop_back();
    std::string out = handle(cmd) + "\n";
    (void)::send(client.get(), out.data(), out.size(), MSG_NOSIGNAL);
  }

  // An automatic trigger (ttl, idle): skipped for locked sandboxes, else teardownPolicy.
  void trigger(std::string_view what, const store::SandboxRecord& rec) {
    const std::string& policy = rt_.plan().teardown_policy;
    auto disarm = [&] {
      (void)store_.modify(opt_.id, [&](store::SandboxRecord& r) -> Status {
        if (what == "ttl") r.ttl_deadline_ms = 0;
        r.last_activity_ms = store::nowMs();
        return ok();
      });
    };
    if (rec.locked) {
      log::info(kLog, opt_.id + ": " + std::string(what) + " expired; skipped: the sandbox is locked");
      (void)store_.addEvent(opt_.id, std::string(what) + "-expired", "skipped: sandbox is locked");
      disarm();
      return;
    }
    log::info(kLog, opt_.id + ": " + std::string(what) + " expired; teardownPolicy " + policy +
                        (policy == "stop" ? ": stopping" : policy == "retain" ? ": nothing to do" : ": destroying"));
    (void)store_.addEvent(opt_.id, std::string(what) + "-expired", "teardownPolicy " + policy);
    Status s = ok();
    if (policy == "stop") {
      disarm();
      if (rt_.running()) s = rt_.stop(std::string(what) + " expired");
    } else if (policy == "retain") {
      disarm();
    } else {  // destroy, and upstream treats unknown values as destroy
      s = rt_.destroy(std::string(what) + " expired");
      done_ = true;  // a failed teardown is finished by `km doctor --fix`
    }
    if (!s) log::error(kLog, opt_.id + ": " + std::string(what) + " teardown: " + s.error().message());
  }

  void tick() {
    rt_.checkOomKills();
    auto rec = store_.get(opt_.id);
    if (!rec || !rec->has_value()) {
      if (rec) {
        done_ = true;  // the row is gone: someone destroyed the sandbox
        log::info(kLog, opt_.id + ": the sandbox's row is gone; supervisor exiting");
      }
      return;
    }
    const store::SandboxRecord& r = **rec;
    int64_t now = store::nowMs();
    bool active = measureActivity();
    if (active) last_activity_ = now;
    last_activity_ = std::max(last_activity_, r.last_activity_ms);
    if (r.ttl_deadline_ms > 0 && now >= r.ttl_deadline_ms) {
      trigger("ttl", r);
      return;
    }
    bool paused = r.status == SandboxStatus::kPaused;
    if (paused) last_activity_ = now;  // a paused sandbox is not idle, it is paused
    if (r.idle_timeout_s > 0 && rt_.running() && !paused &&
        now - last_activity_ >= r.idle_timeout_s * 1000) {
      trigger("idle", r);
      return;
    }
    if (last_activity_ - saved_activity_ >= 10000) {  // persist at most every 10 s
      saved_activity_ = last_activity_;
      (void)store_.modify(opt_.id, [&](store::SandboxRecord& x) -> Status {
        x.last_activity_ms = std::max(x.last_activity_ms, last_activity_);
        return ok();
      });
    }
  }

  // Activity = CPU time used, a process started or ended, or bytes on the network.
  bool measureActivity() {
    if (!rt_.running()) return false;
    uint64_t cpu = rt_.cgroups().cpuUsageNs().value_or(0);
    size_t procs = rt_.cgroups().processes().size();
    uint64_t net = netBytes(rt_.initPid());
    bool active = cpu > cpu_ + 200000 || procs != procs_ || net != net_;  // > 0.2 ms CPU
    cpu_ = cpu;
    procs_ = procs;
    net_ = net;
    return active;
  }

  const Options& opt_;
  store::FleetStore& store_;
  Runtime& rt_;
  bool done_ = false;
  int64_t last_activity_ = store::nowMs();
  int64_t saved_activity_ = 0;
  uint64_t cpu_ = 0, net_ = 0;
  size_t procs_ = 0;
};

}  // namespace

namespace {

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
void logToRotatingFile(const Options& o, const plan::SandboxPlan& plan) {
  std::string path = substrate::local::Layout::forSandbox(o.km_home, o.id).supervisor_log;
  if (Status s = log::toRotatingFile(path, plan.logs.rotation()); !s) {
    log::warn(kLog, o.id + ": " + s.error().message() + "; logging to stderr");
  }
}

void reportTo(int& fd, const std::string& text) {
  if (fd < 0) return;
  (void)sys::writeAll(fd, text, "ready pipe");
  ::close(fd);
  fd = -1;
}

int serveLoop(const Options& o, store::FleetStore& st, Runtime& rt, int signal_fd) {
  sys::UniqueFd listener;
  if (o.listen_fd >= 0) {
    listener.reset(o.listen_fd);
    ::fcntl(o.listen_fd, F_SETFD, FD_CLOEXEC);
  } else {
    auto l = listenOn(rt.layout().control_socket);
    if (!l) {
      log::error(kLog, o.id + ": " + l.error().message());
      return 1;
    }
    listener = std::move(*l);
  }
  Loop loop(o, st, rt);
  return loop.serve(listener.get(), signal_fd);
}

}  // namespace

namespace detail {

// The body of a forked supervisor: start, report, then open the store and serve.
int serveNew(const Options& o, const plan::SandboxPlan& plan, int ready_fd,
             substrate::local::StagedInit staged) {
  sys::UniqueFd signal_fd = setUpSignals();
  // The supervisor's own cgroup and rotating log come after the exec below (`run` with
  // --adopt): not on the path to a ready sandbox. Until then it logs to the file as stderr,
  // in the file's format (km logs reads the times).
  log::toStderrAsFile();
  log::raiseVerbosity(1);
  log::info(kLog, o.id + ": building the sandbox (supervisor pid " + std::to_string(::getpid()) + ")");
  Runtime rt(nullptr, o.km_home, plan);
  rt.useStaged(std::move(staged));
  Status s = rt.start(true);
  if (!s) {
    Error e = rt.failCreate(s.error());
    // Its first line: the rest (an init log's tail) is in the kept init.log beside this log,
    // and km create shows both.
    log::error(kLog, o.id + ": create failed: " + e.message().substr(0, e.message().find('\n')));
    reportTo(ready_fd, "error: " + e.message());
    return 1;
  }
  auto listener = listenOn(rt.layout().control_socket);
  if (!listener) {
    Error e = rt.failCreate(listener.error());
    log::error(kLog, o.id + ": create failed: " + e.message());
    reportTo(ready_fd, "error: " + e.message());
    return 1;
  }
  log::info(kLog, o.id + ": ready, init pid " + std::to_string(rt.initPid()));
  pid_t self = ::getpid();
  reportTo(ready_fd, "ok " + std::to_string(self) + " " +
                         std::to_string(sys::processStartTime(self).value_or(0)) + " " +
                         std::to_string(rt.initPid()) + " " + std::to_string(rt.initStart()));
  // Become `km supervise`: init stays our child across exec, the control socket stays
  // open; the resolver binds its sockets again after the exec.
  int lfd = listener->release();
  ::fcntl(lfd, F_SETFD, 0);
  std::vector<std::string> args = {o.km_binary};
  args.insert(args.end(), o.global_args.begin(), o.global_args.end());
  args.insert(args.end(), {"supervise", o.id, "--adopt",
                           std::to_string(rt.initPid()) + ":" + std::to_string(rt.initStart()),
                           "--listen-fd", std::to_string(lfd)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(o.km_binary.c_str(), argv.data());
  log::error(kLog, o.id + ": " + sys::errnoError("execv", o.km_binary, errno).message() +
                       "; the sandbox runs unsupervised until `km doctor --fix`");
  return 1;
}

Result<Started> finishStart(const Options& o, int ready_read, const Status& side,
                            const std::string& log_path) {
  auto reply = sys::readAll(ready_read, "supervisor ready pipe", 1 << 20);
  if (!reply) return std::move(reply).error();
  if (reply->rfind("error: ", 0) == 0) {
    return side ? Result<Started>(unavailable(reply->substr(7))) : Result<Started>(side.error());
  }
  Started out;
  long long sp = 0, ip = 0;
  unsigned long long ss = 0, is = 0;
  if (std::sscanf(reply->c_str(), "ok %lld %llu %lld %llu", &sp, &ss, &ip, &is) != 4) {
    return unavailable("the supervisor exited before the sandbox was ready (see " + log_path + ")");
  }
  out.supervisor_pid = static_cast<pid_t>(sp);
  out.supervisor_start = ss;
  out.init_pid = static_cast<pid_t>(ip);
  out.init_start = is;
  if (!side) {
    // No row to supervise against: end the supervisor (it has not moved into the sandbox's
    // supervisor cgroup yet, so teardown would miss it), then the new sandbox.
    if (sys::processAlive(out.supervisor_pid, out.supervisor_start)) ::kill(out.supervisor_pid, SIGKILL);
    (void)teardown(o.km_home, o.id, out.init_pid, out.init_start);
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

Result<Started> startForked(const Options& o, const plan::SandboxPlan& plan,
                            const std::string& log_path, const std::function<Status()>& meanwhile) {
  auto pipe = sys::pipe();
  if (!pipe) return std::move(pipe).error();
  auto [read_end, write_end] = std::move(*pipe);
  pid_t child = ::fork();
  if (child < 0) return sys::errnoError("fork", "supervisor", errno);
  if (child == 0) {
    // A second fork: the supervisor is nobody's child here, so it outlives the caller and
    // is never left a zombie of a long-running one.
    if (::fork() != 0) ::_exit(0);
    detail::detachStdio(log_path);
    int ready = ::fcntl(write_end.get(), F_DUPFD_CLOEXEC, 3);
    // Nothing of the caller's (its database connection above all) may stay open here.
    sys::closeFdsFrom(3, ready);
    ::prctl(PR_SET_NAME, "km-supervise", 0, 0, 0);
    Options own = o;
    own.ready_fd = ready;
    std::fflush(nullptr);
    ::_exit(detail::serveNew(own, plan, ready, {}));
  }
  write_end.reset();
  (void)sys::waitPid(child);
  Status side = meanwhile();
  return detail::finishStart(o, read_end.get(), side, log_path);
}

int run(const Options& o) {
  auto report = [&](const std::string& text) {
    if (o.ready_fd >= 0) {
      (void)sys::writeAll(o.ready_fd, text, "ready pipe");
      ::close(o.ready_fd);
    }
  };
  auto fail = [&](const Error& e) {
    log::error(kLog, o.id + ": " + e.message());
    report("error: " + e.message());
    return 1;
  };
  sys::UniqueFd signal_fd = setUpSignals();

  auto st = store::openSqlite(o.store_path);
  if (!st) return fail(st.error());
  auto rec = (*st)->get(o.id);
  // Adopting right after km create forked us: its row may be a moment behind.
  for (int i = 0; o.adopt_pid > 0 && rec && !rec->has_value() && i < 250; ++i) {
    ::usleep(20000);
    rec = (*st)->get(o.id);
  }
  if (!rec) return fail(rec.error());
  if (!rec->has_value()) {
    if (o.adopt_pid > 0) {
      // Nobody recorded this sandbox (its creator died): do not leave it running.
      (void)teardown(o.km_home, o.id, o.adopt_pid, o.adopt_start);
    }
    return fail(notFound("no sandbox " + o.id + " in " + o.store_path));
  }
  store::SandboxRecord r = **rec;
  doc::Node node;
  std::string json_error;
  if (!doc::parseJson(r.plan_json, node, &json_error)) {
    return fail(invalidArgument("the stored plan of " + o.id + " is damaged: " + json_error));
  }
  auto plan = plan::fromNode(node);
  if (!plan) return fail(plan.error());
  logToRotatingFile(o, *plan);
  log::raiseVerbosity(1);  // its lifecycle, at info, goes to its log (km logs shows it)
  Runtime rt(st->get(), o.km_home, *plan);
  if (Status s = rt.enterSupervisorCgroup(); !s) {
    log::warn(kLog, o.id + ": " + s.error().message() + "; supervising from outside the sandbox's cgroup");
  }

  bool init_alive = r.init_pid > 0 && sys::processAlive(static_cast<pid_t>(r.init_pid), r.init_start);
  Status started = ok();
  if (o.adopt_pid > 0) {
    // Second half of startForked: the creating CLI records the row; we only take over.
    started = rt.adopt(o.adopt_pid, o.adopt_start, /*announce=*/false);
    if (!started) return fail(started.error());
    return serveLoop(o, **st, rt, signal_fd.get());
  }
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
        report("ok");
        return 0;
      }
      break;
  }
  if (!started) return fail(started.error());

  report("ok");
  return serveLoop(o, **st, rt, signal_fd.get());
}

}  // namespace km::supervisor
