// km::substrate — where sandboxes run, behind one interface: launch, enter, stop, pause,
// resume, teardown and the limits a plan asks for. The supervisor and the fleet drive
// sandboxes through it alone; `local` (substrate/local: this host's namespaces, cgroups, a
// copy-on-write root and a size-limited disk) is the one implementation this build has.
// Needs what the implementation needs (local: root). A Substrate is thread-safe; a Sandbox
// is thread-compatible (its owner, the supervisor's control loop, calls it from one thread).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sys.h"
#include "image/store.h"
#include "net/net.h"
#include "plan/plan.h"

namespace km::substrate {

// km's own records about one sandbox, on the host. Nothing in them is writable by the sandbox.
struct SandboxFiles {
  std::string dir;             // the sandbox's directory of records (gone once destroyed)
  std::string control_socket;  // its supervisor's control socket
  std::string supervisor_log;
  std::string init_log;        // the output of its initCommands
  std::string plan_file;       // the compiled plan (immutable after create)
  std::string init_file;       // "PID START" of the running init; absent while stopped
  std::string net_file;        // the network's facts while running (net::SandboxNetwork)
  std::string network_log;     // DNS, connect and HTTP decisions, JSON lines
  std::string command_log;     // programs executed inside and their exits, JSON lines
  std::string failed_logs;     // where a failed create's logs are kept ($KM_HOME/failed/<id>)
  std::string failed_top;      // the parent of every kept failed create ($KM_HOME/failed)
};

// A sandbox's first process as the host sees it: pid and kernel start time (0, 0: none).
struct Running {
  pid_t init_pid = 0;
  uint64_t init_start = 0;
  bool valid() const { return init_pid > 0; }
};

// Whether a command gets a terminal: kAuto when the caller's stdin and stdout both are one.
enum class Terminal { kAuto, kAlways, kNever };

// The caller's side of a command's standard streams. These fds are never passed into the
// sandbox: km relays between them and a pty (with a terminal) or pipes (without).
struct SessionIo {
  int in = 0, out = 1, err = 2;
  Terminal terminal = Terminal::kAuto;
  // Forward SIGINT, SIGQUIT, SIGTERM, SIGHUP (and the window size) to the command; off for
  // a caller that reads those signals itself (the supervisor).
  bool forward_signals = true;
  // Bytes relayed to out and err together; the rest is dropped (and a note written once).
  uint64_t output_limit = UINT64_MAX;
};

// A command to run inside a running sandbox.
struct Command {
  bool root = false;               // uid 0 with a reduced capability set; else the sandbox user
  std::string workdir;             // default: /
  std::vector<std::string> env;    // "K=V", after the defaults (PATH, HOME, USER…)
  std::vector<std::string> argv;   // argv[0] searched in the sandbox's PATH
};

// What a running sandbox uses (all 0 when stopped).
struct Usage {
  uint64_t cpu_ns = 0;     // CPU time so far
  size_t processes = 0;    // processes now
  uint64_t net_bytes = 0;  // bytes through its network interfaces so far
};

// A start made before its plan is known (Substrate::stage): the slow kernel work of a start
// overlaps loading the profile. Destroying an unused one ends what it made.
class Staged {
 public:
  virtual ~Staged() = default;
};

// One sandbox of a substrate, made from its plan.
class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual const SandboxFiles& files() const = 0;

  // A start is two steps, so that the caller sets the network up in between.
  // begin(): applies the plan's limits, makes the isolation (from `staged` when it is one of
  // this substrate's, else afresh — safe from a multi-threaded caller), makes the disk and
  // the sandbox user (a new sandbox's on `first_start`; a later start finds them), and has the
  // sandbox's init start building its world — root, working directory, hostname, on a first
  // start the plan's config files and the sandbox's CA `ca_cert` (PEM, when not empty) in its
  // trust store — while the caller goes on. Returns the pid whose network namespace is the
  // sandbox's.
  [[nodiscard]] virtual Result<pid_t> begin(bool first_start, std::unique_ptr<Staged> staged,
                                            const std::string& ca_cert) = 0;
  // finish(): gives the init /etc/resolv.conf = `resolv_conf` (when not empty) and returns
  // once it is ready. On failure nothing runs; call abandon().
  [[nodiscard]] virtual Result<Running> finish(const std::string& resolv_conf) = 0;
  // Undoes a begin() that did not finish: ends its processes and removes its limits.
  virtual void abandon() = 0;
  // Takes over a sandbox a previous supervisor started, whose init still runs.
  [[nodiscard]] virtual Status attach(const Running& running) = 0;

  // Runs `command` inside the running sandbox and relays `io` until it exits. Returns its
  // exit code (128+N when killed by signal N); NotFound when argv[0] is not a command
  // inside; Unavailable when the sandbox is gone or entering it failed; InvalidArgument
  // when it is paused.
  [[nodiscard]] virtual Result<int> enter(const Running& running, const Command& command,
                                          const SessionIo& io) = 0;
  // Whether `path` (absolute, inside) is an executable regular file in the running
  // sandbox's root; its symlinks are resolved inside that root, never into the host's.
  virtual bool isExecutable(const Running& running, const std::string& path) const = 0;
  // The contents of regular file `path` (absolute, inside) of the running (or paused)
  // sandbox: at most `max_bytes` of its end when `tail`, else of its start; nullopt when it
  // does not exist. Resolved inside the sandbox's root (its symlinks never lead out, /proc's
  // magic links are refused); anything but a regular file is InvalidArgument and a file the
  // sandbox user does not own PermissionDenied, neither opened for reading (a FIFO cannot
  // block the caller; root's reading never reaches what the sandbox user could not read).
  [[nodiscard]] virtual Result<std::optional<std::string>> readFile(const Running& running, const std::string& path,
                                                                    size_t max_bytes, bool tail = false) const = 0;
  // Ends every process of the sandbox (thawed first) and removes its limits. `running` may
  // be invalid (init already gone): whatever is left is ended all the same.
  [[nodiscard]] virtual Status stop(const Running& running) = 0;
  [[nodiscard]] virtual Status pause() = 0;   // freezes every process of the sandbox
  [[nodiscard]] virtual Status resume() = 0;  // thaws them
  virtual bool paused() const = 0;
  virtual Usage usage(const Running& running) const = 0;
  // Processes the memory limit's OOM killer ended so far (nullopt: not known here).
  virtual std::optional<int64_t> oomKills() const = 0;
  // A non-blocking descriptor that becomes readable when oomKills() may have grown (read it
  // empty, then look). Unavailable when the substrate cannot tell.
  [[nodiscard]] virtual Result<sys::UniqueFd> watchMemoryEvents() const = 0;
  // Moves the calling process (the sandbox's supervisor) under the sandbox's accounting,
  // within limits of its own, so the sandbox can neither starve nor OOM-kill it.
  [[nodiscard]] virtual Status confineSupervisor() const = 0;
  // Where the network's eBPF programs attach and keep their pins.
  virtual net::NetworkPlacement networkPlacement() const = 0;
  // Removes everything the sandbox has: processes, limits, network leftovers, disk, user
  // and records. Idempotent; Substrate::teardown does the same without a plan.
  [[nodiscard]] virtual Status teardown(const Running& running) = 0;
};

// How the host enforces what plans ask for, one line each (km doctor, km status).
struct HostReport {
  std::string memory, cpu, pids, freezer;  // e.g. "cgroup v1", "cgroup v2", "not available"
  bool hybrid = false;                     // some limits from cgroup v1 beside a v2 hierarchy
  std::string disk;                        // how disk sizes are kept, or why they are not
  bool disk_enforced = false;
  bool disk_unenforced_known = false;      // sizes are known not to be enforced (no store)
  bool root = false;                       // this process has the privileges sandboxes need
};

// Something of the substrate's with no sandbox of the fleet behind it (km doctor).
struct Leftover {
  std::string subject;  // what it is: a path, a cgroup directory
  std::string problem;
  std::string action;   // "" when not fixed
  bool fixed = false;
};

// The operator's disk settings (config `disk`).
struct DiskSettings {
  std::string store = "auto";  // auto: a size-enforcing store when possible | loop: or fail | none
  int64_t store_bytes = 0;     // size of a new store; 0: a tenth of the free space
};

struct Options {
  std::string km_home;
  DiskSettings disk;
};

class Substrate {
 public:
  virtual ~Substrate() = default;
  virtual plan::Substrate kind() const = 0;
  // Fails early (PermissionDenied, saying how to fix it) when this process may not run
  // sandboxes here; `what` names the command.
  [[nodiscard]] virtual Status requireAccess(std::string_view what) const = 0;
  virtual SandboxFiles files(std::string_view id) const = 0;
  // The sandbox of `plan` (no I/O).
  virtual std::unique_ptr<Sandbox> sandbox(const plan::SandboxPlan& plan) const = 0;
  // Begins a start before its plan is known. The caller must be single-threaded (it may be
  // forked). Unavailable without the privileges; the launch later says what is missing.
  [[nodiscard]] virtual Result<std::unique_ptr<Staged>> stage() const = 0;
  // Makes room for a new sandbox: its directory of records holding `plan_json`, and for a
  // clone (`source` not empty) its disk as a copy of that sandbox's (read while it is
  // frozen; its user's files become the new sandbox's user's). AlreadyExists when the id is
  // taken; on any failure what was made is removed.
  [[nodiscard]] virtual Status reserve(const plan::SandboxPlan& plan, std::string_view plan_json,
                                       std::string_view source) const = 0;
  // Makes image `name` of sandbox `id`'s writes (its overlay upper layer, copied while the
  // sandbox is frozen, without following any symlink) on top of `parent` (nullopt: the host's
  // root) in `images`. The sandbox may be running, paused or stopped; it is left as it was.
  [[nodiscard]] virtual Result<image::ImageRecord> bake(std::string_view id, image::Store& images,
                                                        const std::optional<image::ImageRecord>& parent,
                                                        const image::Reference& name) const = 0;
  // Removes everything sandbox `id` has here (see Sandbox::teardown); `running` as recorded,
  // or invalid when unknown.
  [[nodiscard]] virtual Status teardown(std::string_view id, const Running& running) const = 0;
  virtual HostReport host() const = 0;
  // What the substrate holds for sandboxes not in `known`; with `fix`, removed.
  virtual std::vector<Leftover> leftovers(const std::set<std::string>& known, bool fix) const = 0;
};

// The substrate `kind` for the sandboxes of `options.km_home`. Unavailable for a substrate
// this build does not have. No I/O.
[[nodiscard]] Result<std::unique_ptr<Substrate>> open(plan::Substrate kind, Options options);
// The substrate sandboxes run on when a command does not know yet (km create before the
// profile is read): local.
[[nodiscard]] std::unique_ptr<Substrate> openDefault(Options options);

// A substrate may run km's binary as a helper process (local: a sandbox's init spawned from
// a threaded supervisor). main() asks this first and, when true, calls helperMain(), which
// never returns.
bool isHelperProcess(int argc, char** argv);
[[noreturn]] void helperMain();

}  // namespace km::substrate
