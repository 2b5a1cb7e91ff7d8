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
#include "substrate/local/disk.h"
#include "supervisor/supervisor.h"

namespace km::supervisor {

namespace local = substrate::local;
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

// Whether `path` is an executable regular file in the sandbox's root, its symlinks resolved
// inside that root (/bin → usr/bin), never into the host's.
bool executableInSandbox(pid_t init_pid, const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  auto root = sys::open("/proc/" + std::to_string(init_pid) + "/root", O_PATH | O_DIRECTORY);
  if (!root) return false;
  int fd = sys::openat2(root->get(), path.c_str() + 1, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return false;
  sys::UniqueFd file(fd);
  struct stat st{};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

// Bytes through every interface of init's network namespace.
uint64_t netBytes(pid_t init) {
  auto text = fs::readFile("/proc/" + std::to_string(init) + "/net/dev", 1 << 16);
  if (!text) return 0;
  uint64_t total = 0;
  std::string_view rest(*text);
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::istringstream fields(std::string(line.substr(colon + 1)));
    uint64_t v[16] = {};
    for (auto& x : v) fields >> x;
    total += v[0] + v[8];  // rx bytes, tx bytes
  }
  return total;
}

}  // namespace

Runtime::Runtime(store::FleetStore* store, std::string km_home, plan::SandboxPlan plan)
    : store_(store),
      km_home_(std::move(km_home)),
      plan_(std::move(plan)),
      layout_(local::Layout::forSandbox(km_home_, plan_.id)),
      host_(local::detectCgroups()),
      cgroups_(local::Cgroups::existing(host_, local::cgroupGroup(km_home_), plan_.id)) {}

void Runtime::publishInit() {
  // `km exec ID` reads this instead of the database (see fleet::exec); the kernel check of
  // pid and start time keeps a stale file harmless.
  if (init_pid_ > 0) {
    (void)sys::replaceFile(layout_.init_file,
                           std::to_string(init_pid_) + " " + std::to_string(init_start_) + "\n", 0600);
  } else {
    ::unlink(layout_.init_file.c_str());
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
    rec.init_pid = init_pid_;
    rec.init_start = init_start_;
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
  // The init makes its namespaces (the slow part of a start) while we make directories and
  // cgroups; `km create` staged it even earlier.
  if (!staged_.valid()) {
    // Not staged by the forked supervisor of `km create`: this process may have threads by
    // now (the network services), so the init is a fresh exec, never a copy of us.
    auto staged = local::StagedInit::spawn();
    if (!staged) return std::move(staged).error();
    staged_ = std::move(*staged);
  }
  // Whatever ends this function, no staged init outlives it: launch() takes it on success,
  // and on any error before that it is ended here, its network namespace (and veth) with it.
  struct EndStaged {
    local::StagedInit& s;
    ~EndStaged() { s = {}; }
  } end_staged{staged_};
  // The disk and user are made on a helper thread while this one makes the cgroups and the
  // network: they do not depend on each other, and both are on the way to a ready sandbox.
  // It is joined before anything forks (launch only writes to the staged init).
  Status disk_ready = internalError("the disk was not prepared");
  std::thread disk_thread([&] { disk_ready = prepareDisk(first_start); });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{disk_thread};
  local::Limits limits{plan_.resources.cpu_millis, plan_.resources.memory_bytes, plan_.resources.pids};
  auto cg = local::Cgroups::create(host_, local::cgroupGroup(km_home_), plan_.id, limits);
  if (!cg) return std::move(cg).error();
  cgroups_ = *cg;
  local::LaunchSpec spec;
  spec.hostname = plan_.hostname;
  spec.working_dir = plan_.working_dir;
  for (const auto& f : plan_.config_files) spec.config_files.push_back({f.path, f.content});
  spec.km_home = fs::absolutePath(km_home_);
  spec.first_start = first_start;
  spec.volume_mount = plan_.resources.volume_mount;
  if (auto s = staged_.namespacesReady(); !s) {
    (void)cgroups_.remove();
    return std::move(s).error();
  }
  if (auto s = startNetwork(staged_.pid(), spec.resolv_conf); !s) {
    stopNetwork();
    (void)cgroups_.remove();
    return std::move(s).error().context("setting up the sandbox's network");
  }
  disk_thread.join();
  if (!disk_ready) {
    stopNetwork();
    (void)cgroups_.remove();
    return std::move(disk_ready).error();
  }
  spec.user = user_;
  auto launched = local::launch(layout_, spec, cgroups_, std::move(staged_));
  if (!launched) {
    stopNetwork();
    (void)cgroups_.remove();
    return std::move(launched).error();
  }
  init_pid_ = launched->init_pid;
  init_start_ = launched->init_start;
  oom_kills_seen_ = 0;  // a new cgroup
  publishInit();
  auto pidfd = sys::pidfdOpen(init_pid_);
  if (!pidfd) return std::move(pidfd).error();
  init_pidfd_ = std::move(*pidfd);
  if (first_start) {
    KM_TRY(runInitCommands());
    // The profile's shell is what `km shell` starts: a missing one is the profile's mistake,
    // found now rather than at the first shell (init commands may have installed it).
    if (!plan_.shell.empty() && !executableInSandbox(init_pid_, plan_.shell)) {
      return invalidArgument("spec.execution.shell " + plan_.shell +
                             " is not an executable file in the sandbox; install it in initCommands, "
                             "or set a shell the host has (e.g. /bin/bash)");
    }
  }
  // A new sandbox's row is the creating CLI's to write (it has no store here yet).
  if (store_ != nullptr) KM_TRY(setStatus(SandboxStatus::kRunning, true));
  event(first_start ? "created" : "started", "init pid " + std::to_string(init_pid_));
  log::info(kLog, plan_.id + ": " + (first_start ? "created" : "started") + ", init pid " +
                      std::to_string(init_pid_) + (plan_.ttl_seconds > 0 ? ", ttl " + std::to_string(plan_.ttl_seconds) + "s" : "") +
                      ", teardownPolicy " + std::string(plan::teardownPolicyName(plan_.teardown_policy)));
  return ok();
}

Status Runtime::prepareDisk(bool first_start) {
  auto disks = local::Disks::attach(km_home_);  // mounts the store again after a reboot
  if (!disks) return std::move(disks).error();
  bool volume = !plan_.resources.volume_mount.empty();
  // A new sandbox's disks are made here, while `km create` records its row; a clone's came
  // from its source (km clone made them); a later start finds them.
  for (auto [path, name, bytes] : {std::tuple{&layout_.disk, &layout_.disk_name, plan_.resources.disk_bytes},
                                   std::tuple{&layout_.volume, &layout_.volume_name, plan_.resources.volume_bytes}}) {
    if (path == &layout_.volume && !volume) continue;
    if (fs::isDirectory(*path)) continue;
    if (!first_start) {
      return notFound("the sandbox's disk " + *path + " is missing (" +
                      (disks->enforced() ? "not in the disk store" : disks->unenforcedReason()) + ")");
    }
    KM_TRY(disks->create(*name, bytes));
  }
  for (const std::string* d : {&layout_.upper, &layout_.work, &layout_.root, &layout_.workspace,
                               &layout_.home, &layout_.root_home}) {
    KM_TRY(sys::makeDirs(*d, 0755));
  }
  auto user = local::claimSandboxUser(layout_, km_home_, plan_.id);
  if (!user) return std::move(user).error();
  user_ = *user;
  // These directories are km's (the sandbox sees only their contents), so by path is safe.
  for (const std::string* d : {&layout_.workspace, &layout_.home, &layout_.volume}) {
    if (d == &layout_.volume && !volume) continue;
    if (::chown(d->c_str(), user_.uid, user_.gid) != 0) return sys::errnoError("chown", *d, errno);
  }
  return ok();
}

Status Runtime::runInitCommands() {
  if (plan_.init_commands.empty()) return ok();
  auto log_fd = sys::open(layout_.init_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!log_fd) return std::move(log_fd).error();
  auto null_fd = sys::open("/dev/null", O_RDONLY);
  if (!null_fd) return std::move(null_fd).error();
  // The profile's shell when the sandbox has it; else /bin/sh (an init command may be what
  // installs the shell; start() refuses a shell still missing afterwards).
  std::string shell = executableInSandbox(init_pid_, plan_.shell) ? plan_.shell : "/bin/sh";
  for (size_t i = 0; i < plan_.init_commands.size(); ++i) {
    const std::string& cmd = plan_.init_commands[i];
    KM_TRY(sys::writeAll(log_fd->get(), "$ " + cmd + "\n", layout_.init_log));
    local::EnterSpec e;
    e.init_pid = init_pid_;
    e.init_start = init_start_;
    e.user = user_;
    e.root = true;  // as upstream: init commands prepare the machine as root
    e.workdir = plan_.working_dir;
    for (const auto& [k, v] : plan_.env) e.env.push_back(k + "=" + v);
    e.argv = {shell, "-c", cmd};
    local::SessionIo io;
    io.in = null_fd->get();
    io.out = log_fd->get();
    io.err = log_fd->get();
    io.terminal = local::Terminal::kNever;
    io.forward_signals = false;  // the supervisor's own signalfd reads them
    off_t used = ::lseek(log_fd->get(), 0, SEEK_END);
    io.output_limit = used < 0 ? 0 : kInitLogLimit - std::min<uint64_t>(kInitLogLimit, static_cast<uint64_t>(used));
    auto code = local::runSession(e, cgroups_, io);
    if (!code) return std::move(code).error().context("init command " + std::to_string(i + 1));
    if (*code != 0) {
      // Read here, named where it will be: a failed first start ends in failCreate(), which
      // moves the logs there before the sandbox's directory goes.
      return unavailable("init command " + std::to_string(i + 1) + " failed (exit " +
                         std::to_string(*code) + "): " + cmd + "\n--- last lines of " +
                         layout_.failed_logs + "/init.log ---\n" + tail(layout_.init_log, 20));
    }
  }
  event("init-commands", std::to_string(plan_.init_commands.size()) + " ran");
  return ok();
}

Status Runtime::adopt(pid_t init_pid, uint64_t init_start) {
  auto user = local::sandboxUser(layout_);
  if (!user) return std::move(user).error();
  user_ = *user;
  auto pidfd = sys::pidfdOpen(init_pid);
  if (!pidfd) return std::move(pidfd).error();
  if (!sys::processAlive(init_pid, init_start)) return unavailable("init is gone");
  init_pid_ = init_pid;
  init_start_ = init_start;
  init_pidfd_ = std::move(*pidfd);
  // Counted from now: what happened while nobody supervised went unrecorded.
  oom_kills_seen_ = cgroups_.oomKills().value_or(0);
  publishInit();
  if (auto s = resumeNetwork(); !s) {
    // The eBPF programs still hold (they need no process); only DNS is down.
    log::error(kLog, plan_.id + ": the resolver could not be restarted: " + s.error().message());
  }
  if (store_ == nullptr) return internalError("adopting needs the fleet store");
  log::info(kLog, plan_.id + ": supervising (supervisor pid " + std::to_string(::getpid()) + ", init pid " +
                      std::to_string(init_pid_) + ", adopted: the previous supervisor was gone)");
  auto r = store_->modify(plan_.id, [&](store::SandboxRecord& rec) -> Status {
    rec.supervisor_pid = ::getpid();
    rec.supervisor_start = sys::processStartTime(::getpid()).value_or(0);
    return ok();
  });
  if (!r) return std::move(r).error();
  event("adopted", "new supervisor pid " + std::to_string(::getpid()));
  return ok();
}

Status Runtime::stop(std::string_view reason) {
  checkOomKills(true);  // the cgroup and its count go now
  if (running()) {
    if (cgroups_.frozen()) (void)cgroups_.freeze(false);  // SIGKILL must be deliverable
    KM_TRY(local::killAll(init_pid_, init_start_, cgroups_));
  }
  init_pid_ = 0;
  init_start_ = 0;
  init_pidfd_.reset();
  publishInit();
  stopNetwork();
  KM_TRY(cgroups_.remove());
  KM_TRY(setStatus(SandboxStatus::kStopped, false));
  event("stopped", reason);
  log::info(kLog, plan_.id + ": stopped (" + std::string(reason) + ")");
  return ok();
}

Status Runtime::pause() {
  if (!running()) return invalidArgument("the sandbox is not running");
  KM_TRY(cgroups_.freeze(true));
  KM_TRY(setStatus(SandboxStatus::kPaused, false));
  event("paused", "");
  log::info(kLog, plan_.id + ": paused");
  return ok();
}

Status Runtime::thaw() {
  KM_TRY(cgroups_.freeze(false));
  KM_TRY(setStatus(SandboxStatus::kRunning, false));
  event("resumed", "from pause");
  log::info(kLog, plan_.id + ": resumed from pause");
  return ok();
}

ActivitySample Runtime::sample() {
  ActivitySample s;
  if (!running()) return s;
  s.cpu_ns = cgroups_.cpuUsageNs().value_or(0);
  s.processes = cgroups_.processes().size();
  s.net_bytes = netBytes(init_pid_);
  return s;
}

std::optional<int64_t> Runtime::checkOomKills(bool now) {
  if (!running()) return std::nullopt;
  auto kills = cgroups_.oomKills();
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
  if (auto status = sys::waitPid(init_pid_, WNOHANG); status && *status >= 0) {
    how = WIFSIGNALED(*status) ? "killed by signal " + std::to_string(WTERMSIG(*status))
                               : "exit status " + std::to_string(WEXITSTATUS(*status));
  }
  log::warn(kLog, plan_.id + ": init (pid " + std::to_string(init_pid_) + ") exited on its own (" + how +
                      "); stopping the sandbox");
  init_pid_ = 0;
  init_start_ = 0;
  init_pidfd_.reset();
  publishInit();
  stopNetwork();
  (void)local::killAll(0, 0, cgroups_);
  (void)cgroups_.remove();
  (void)setStatus(SandboxStatus::kStopped, false);
  event("stopped", "init exited unexpectedly (" + how + ")");
}

Status Runtime::enterSupervisorCgroup() {
  auto cg = local::Cgroups::createSupervisor(host_, local::cgroupGroup(km_home_), plan_.id);
  if (!cg) return std::move(cg).error();
  return cg->addProcess(0);
}

Error Runtime::failCreate(Error e) {
  auto kept = keepFailedLogs(km_home_, plan_.id);
  if (!kept) {
    log::warn(kLog, plan_.id + ": keeping the logs of the failed create: " + kept.error().message());
    e = Error(e.code(), e.message() + "\n(the logs could not be kept in " + layout_.failed_logs + ": " +
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
  pid_t init = init_pid_;
  uint64_t start = init_start_;
  init_pid_ = 0;
  init_start_ = 0;
  init_pidfd_.reset();
  KM_TRY(local::teardown(km_home_, plan_.id, init, start));
  event("destroyed", reason);
  return store_ != nullptr ? store_->remove(plan_.id) : ok();
}

}  // namespace km::supervisor
