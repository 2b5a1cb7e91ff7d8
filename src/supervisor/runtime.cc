#include "supervisor/runtime.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/fs.h"
#include "core/log.h"
#include "net/net.h"
#include "net/proxy/proxy.h"
#include "supervisor/supervisor.h"

namespace km::supervisor {

using store::SandboxStatus;

namespace {
constexpr std::string_view kLog = "km.supervisor";
// What the init commands together may write into init.log on the host (the rest is dropped,
// with a note): a sandbox's output must not fill the host's disk.
constexpr uint64_t kInitLogLimit = 16 << 20;


// The last `lines` lines of a file (of its last 64 KiB), for error messages.
std::string tail(const std::string& path, int lines) {
  std::string text = fs::readTail(path, 64 << 10).value_or("");
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  return text.substr(pos == 0 ? 0 : pos + 1);
}

}  // namespace

Runtime::Runtime(store::FleetStore* store, plan::SandboxPlan plan, std::unique_ptr<substrate::Sandbox> sandbox)
    : store_(store), plan_(std::move(plan)), sandbox_(std::move(sandbox)) {}

void Runtime::publishInit() {
  // `km exec ID` reads this instead of the database (see fleet::exec); the kernel check of
  // pid and start time keeps a stale file harmless.
  const std::string& path = files().init_file;
  if (running()) {
    (void)sys::replaceFile(path, std::to_string(running_.init_pid) + " " + std::to_string(running_.init_start) + "\n",
                           0600);
  } else {
    ::unlink(path.c_str());
  }
}

void Runtime::event(std::string_view kind, std::string_view detail) {
  if (store_ == nullptr) return;
  if (auto s = store_->addEvent(plan_.id, kind, detail); !s) {
    log::warn(kLog, plan_.id + ": recording event " + std::string(kind) + ": " + s.error().message());
  }
}

Status Runtime::setStatus(SandboxStatus status, bool started) {
  if (store_ == nullptr) return internalError("recording the sandbox's status needs the fleet store");
  auto r = store_->modify(plan_.id, [&](store::SandboxRecord& rec) -> Status {
    rec.status = status;
    rec.init_pid = running_.init_pid;
    rec.init_start = running_.init_start;
    rec.supervisor_pid = ::getpid();
    rec.supervisor_start = sys::processStartTime(::getpid()).value_or(0);
    if (started) {
      rec.started_at_ms = store::nowMs();
      rec.last_activity_ms = rec.started_at_ms;
      // Create and resume start the clock: ttl counts from now.
      rec.ttl_deadline_ms = plan_.ttl_seconds > 0 ? rec.started_at_ms + plan_.ttl_seconds * 1000 : 0;
    }
    if (status == SandboxStatus::kStopped) rec.started_at_ms = 0;
    return ok();
  });
  if (!r) return std::move(r).error();
  return ok();
}

Status Runtime::start(bool first_start) {
  // The sandbox trusts its CA from its first start (km create put it in the sandbox's
  // directory).
  std::string ca_cert;
  if (first_start && net::servesProxy(plan_.network.enforcement)) {
    auto ca = net::proxy::ensureSandboxCa(net::proxy::sandboxCaDir(files().dir));
    if (!ca) return std::move(ca).error();
    ca_cert = std::move(ca->cert_pem);
  }
  // The substrate makes the sandbox's isolation (the slow part of a start; `km create` staged
  // it even earlier) and its disk, and starts building its root; this thread sets up the
  // network meanwhile.
  auto net_pid = sandbox_->begin(first_start, std::move(staged_), ca_cert);
  if (!net_pid) return std::move(net_pid).error();
  std::string resolv_conf;
  if (auto s = startNetwork(*net_pid, resolv_conf); !s) {
    stopNetwork();
    // The init may have failed first (its root could not be built), its namespaces gone with
    // it: then its own report says why, not the network's "no such file".
    std::string ns = "/proc/" + std::to_string(*net_pid) + "/ns/net";
    if (::access(ns.c_str(), F_OK) != 0 && errno == ENOENT) {
      auto launched = sandbox_->finish("");
      if (!launched) {
        sandbox_->abandon();
        return std::move(launched).error();
      }
      (void)sandbox_->stop(*launched);  // not expected: an init without namespaces cannot run
    }
    sandbox_->abandon();
    return std::move(s).error().context("setting up the sandbox's network");
  }
  auto launched = sandbox_->finish(resolv_conf);
  if (!launched) {
    stopNetwork();
    sandbox_->abandon();
    return std::move(launched).error();
  }
  running_ = *launched;
  oom_kills_seen_ = 0;  // a new cgroup
  publishInit();
  auto pidfd = sys::pidfdOpen(running_.init_pid);
  if (!pidfd) return std::move(pidfd).error();
  init_pidfd_ = std::move(*pidfd);
  if (first_start) {
    KM_TRY(runInitCommands());
    // The profile's shell is what `km shell` starts: a missing one is the profile's mistake,
    // found now rather than at the first shell (init commands may have installed it).
    if (!plan_.shell.empty() && !sandbox_->isExecutable(running_, plan_.shell)) {
      return invalidArgument("spec.execution.shell " + plan_.shell +
                             " is not an executable file in the sandbox; install it in initCommands, "
                             "or set a shell the host has (e.g. /bin/bash)");
    }
  }
  computeRuns(true);
  // A new sandbox's row is the creating CLI's to write (it has no store here yet).
  if (store_ != nullptr) KM_TRY(setStatus(SandboxStatus::kRunning, true));
  event(first_start ? "created" : "started", "init pid " + std::to_string(running_.init_pid));
  log::info(kLog, plan_.id + ": " + (first_start ? "created" : "started") + ", init pid " +
                      std::to_string(running_.init_pid) + (plan_.ttl_seconds > 0 ? ", ttl " + std::to_string(plan_.ttl_seconds) + "s" : "") +
                      ", teardownPolicy " + std::string(plan::teardownPolicyName(plan_.teardown_policy)));
  return ok();
}

Status Runtime::runInitCommands() {
  if (plan_.init_commands.empty()) return ok();
  const substrate::SandboxFiles& f = files();
  auto log_fd = sys::open(f.init_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!log_fd) return std::move(log_fd).error();
  auto null_fd = sys::open("/dev/null", O_RDONLY);
  if (!null_fd) return std::move(null_fd).error();
  // The profile's shell when the sandbox has it; else /bin/sh (an init command may be what
  // installs the shell; start() refuses a shell still missing afterwards).
  std::string shell = sandbox_->isExecutable(running_, plan_.shell) ? plan_.shell : "/bin/sh";
  for (size_t i = 0; i < plan_.init_commands.size(); ++i) {
    const std::string& cmd = plan_.init_commands[i];
    KM_TRY(sys::writeAll(log_fd->get(), "$ " + cmd + "\n", f.init_log));
    substrate::Command e;
    e.root = true;  // as upstream: init commands prepare the machine as root
    e.workdir = plan_.working_dir;
    for (const auto& [k, v] : plan_.env) e.env.push_back(k + "=" + v);
    e.argv = {shell, "-c", cmd};
    substrate::SessionIo io;
    io.in = null_fd->get();
    io.out = log_fd->get();
    io.err = log_fd->get();
    io.terminal = substrate::Terminal::kNever;
    io.forward_signals = false;  // the supervisor's own signalfd reads them
    off_t used = ::lseek(log_fd->get(), 0, SEEK_END);
    io.output_limit = used < 0 ? 0 : kInitLogLimit - std::min<uint64_t>(kInitLogLimit, static_cast<uint64_t>(used));
    auto code = sandbox_->enter(running_, e, io);
    if (!code) return std::move(code).error().context("init command " + std::to_string(i + 1));
    if (*code != 0) {
      // Read here, named where it will be: a failed first start ends in failCreate(), which
      // moves the logs there before the sandbox's directory goes.
      return unavailable("init command " + std::to_string(i + 1) + " failed (exit " +
                         std::to_string(*code) + "): " + cmd + "\n--- last lines of " +
                         f.failed_logs + "/init.log ---\n" + tail(f.init_log, 20));
    }
  }
  event("init-commands", std::to_string(plan_.init_commands.size()) + " ran");
  return ok();
}

Status Runtime::adopt(pid_t init_pid, uint64_t init_start) {
  substrate::Running running{init_pid, init_start};
  KM_TRY(sandbox_->attach(running));
  auto pidfd = sys::pidfdOpen(init_pid);
  if (!pidfd) return std::move(pidfd).error();
  if (!sys::processAlive(init_pid, init_start)) return unavailable("init is gone");
  running_ = running;
  init_pidfd_ = std::move(*pidfd);
  // Counted from now: what happened while nobody supervised went unrecorded.
  oom_kills_seen_ = sandbox_->oomKills().value_or(0);
  publishInit();
  if (auto s = resumeNetwork(); !s) {
    // The eBPF programs still hold (they need no process); only DNS is down.
    log::error(kLog, plan_.id + ": the resolver could not be restarted: " + s.error().message());
  }
  if (store_ == nullptr) return internalError("adopting needs the fleet store");
  log::info(kLog, plan_.id + ": supervising (supervisor pid " + std::to_string(::getpid()) + ", init pid " +
                      std::to_string(running_.init_pid) + ", adopted: the previous supervisor was gone)");
  auto r = store_->modify(plan_.id, [&](store::SandboxRecord& rec) -> Status {
    rec.supervisor_pid = ::getpid();
    rec.supervisor_start = sys::processStartTime(::getpid()).value_or(0);
    return ok();
  });
  if (!r) return std::move(r).error();
  event("adopted", "new supervisor pid " + std::to_string(::getpid()));
  // Counted from now: the time nobody supervised is not charged.
  if (!sandbox_->paused()) computeRuns(true);
  return ok();
}

Status Runtime::stop(std::string_view reason) {
  checkOomKills(true);  // the cgroup and its count go now
  KM_TRY(sandbox_->stop(running_));
  computeRuns(false);
  running_ = {};
  init_pidfd_.reset();
  publishInit();
  stopNetwork();
  KM_TRY(setStatus(SandboxStatus::kStopped, false));
  event("stopped", reason);
  log::info(kLog, plan_.id + ": stopped (" + std::string(reason) + ")");
  return ok();
}

Status Runtime::pause(std::string_view reason) {
  if (!running()) return invalidArgument("the sandbox is not running");
  KM_TRY(sandbox_->pause());
  computeRuns(false);
  KM_TRY(setStatus(SandboxStatus::kPaused, false));
  event("paused", reason);
  log::info(kLog, plan_.id + ": paused");
  return ok();
}

Status Runtime::thaw() {
  KM_TRY(sandbox_->resume());
  computeRuns(true);
  if (ai_budget_) ai_budget_->rearm();
  KM_TRY(setStatus(SandboxStatus::kRunning, false));
  event("resumed", "from pause");
  log::info(kLog, plan_.id + ": resumed from pause");
  return ok();
}

ActivitySample Runtime::sample() {
  ActivitySample s;
  if (!running()) return s;
  substrate::Usage u = sandbox_->usage(running_);
  s.cpu_ns = u.cpu_ns;
  s.processes = u.processes;
  s.net_bytes = u.net_bytes;
  return s;
}

std::optional<int64_t> Runtime::checkOomKills(bool now) {
  if (!running()) return std::nullopt;
  auto kills = sandbox_->oomKills();
  if (!kills || *kills <= oom_kills_seen_) return std::nullopt;
  // A sandbox that OOM-kills its own children in a loop must not grow the host's store by
  // an event a second: at most one event a minute, carrying every kill since the last
  // (unless the sandbox is stopping, when the last count is recorded at once).
  int64_t at = store::nowMs();
  if (!now && last_oom_event_ms_ != 0 && at - last_oom_event_ms_ < kOomEventIntervalMs) {
    return last_oom_event_ms_ + kOomEventIntervalMs;  // held back until then
  }
  last_oom_event_ms_ = at;
  int64_t added = *kills - oom_kills_seen_;
  oom_kills_seen_ = *kills;
  std::string detail = std::to_string(added) + (added == 1 ? " process" : " processes") +
                       " killed by the OOM killer (" + std::to_string(*kills) + " since start); memory limit " +
                       std::to_string(plan_.resources.memory_bytes >> 20) + " MiB";
  log::warn(kLog, plan_.id + ": oom-kill: " + detail);
  event("oom-kill", detail);
  return std::nullopt;
}

void Runtime::initExited() {
  checkOomKills(true);  // before the cgroup goes: an OOM kill may be what ended init
  // Our child when we started it (not when adopted from a supervisor that died): reaped
  // here, so its status is known and no zombie stays.
  std::string how = "status unknown";
  if (auto status = sys::waitPid(running_.init_pid, WNOHANG); status && *status >= 0) {
    how = WIFSIGNALED(*status) ? "killed by signal " + std::to_string(WTERMSIG(*status))
                               : "exit status " + std::to_string(WEXITSTATUS(*status));
  }
  log::warn(kLog, plan_.id + ": init (pid " + std::to_string(running_.init_pid) + ") exited on its own (" + how +
                      "); stopping the sandbox");
  running_ = {};
  init_pidfd_.reset();
  publishInit();
  stopNetwork();
  computeRuns(false);
  (void)sandbox_->stop(running_);  // what init left behind
  (void)setStatus(SandboxStatus::kStopped, false);
  event("stopped", "init exited unexpectedly (" + how + ")");
}

Status Runtime::enterSupervisorCgroup() { return sandbox_->confineSupervisor(); }

Error Runtime::failCreate(Error e) {
  auto kept = keepFailedLogs(files());
  if (!kept) {
    log::warn(kLog, plan_.id + ": keeping the logs of the failed create: " + kept.error().message());
    e = Error(e.code(), e.message() + "\n(the logs could not be kept in " + files().failed_logs + ": " +
                            kept.error().message() + ")");
  } else {
    log::info(kLog, plan_.id + ": create failed; logs kept in " + *kept);
  }
  std::string first_line = e.message().substr(0, e.message().find('\n'));
  if (Status s = destroy("create failed: " + first_line); !s) {
    log::warn(kLog, plan_.id + ": removing the failed sandbox: " + s.error().message());
  }
  return e;
}

Status Runtime::destroy(std::string_view reason) {
  checkOomKills(true);
  log::info(kLog, plan_.id + ": destroying (" + std::string(reason) + ")");
  if (store_ != nullptr) {
    (void)store_->modify(plan_.id, [](store::SandboxRecord& rec) -> Status {
      rec.status = SandboxStatus::kDestroying;
      return ok();
    });
  }
  data_plane_.reset();  // its services write into the directory teardown removes
  computeRuns(false);
  substrate::Running was = running_;
  running_ = {};
  init_pidfd_.reset();
  KM_TRY(sandbox_->teardown(was));
  event("destroyed", reason);
  return store_ != nullptr ? store_->remove(plan_.id) : ok();
}

}  // namespace km::supervisor
