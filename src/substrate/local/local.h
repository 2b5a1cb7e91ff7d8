// km::substrate::local (private to substrate: other modules use substrate.h, which this
// implements) — sandboxes on this Linux host: namespaces (mount, pid, net, uts, ipc,
// cgroup), a copy-on-write overlay of the host root, cgroup limits (v2 where the controllers
// are, v1 on hybrid hosts), an unprivileged user, no capabilities and a seccomp filter.
// Each kernel concern has its own file and verbs; local_substrate.cc follows them like a recipe.
// Needs root. Functions are thread-compatible. Only StagedInit::stage() forks a copy of the
// caller that runs km's code, so its caller must be single-threaded; everything else forks
// children that make only system calls until they exec (StagedInit::spawn, runSession),
// safe from a multi-threaded caller such as a supervisor with its service threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "substrate/local/cgroup.h"
#include "substrate/local/layout.h"
#include "substrate/substrate.h"

namespace km::substrate::local {

// Fails early (PermissionDenied, saying how to fix it) when this process is not root.
[[nodiscard]] Status requireRoot(std::string_view what);

// The unprivileged account agents run as inside the sandbox: a uid/gid of its own, from a
// range no host account or subordinate range uses, claimed host-wide in kIdRegistry.
struct SandboxUser {
  std::string name = "sandbox";
  uid_t uid = 0;
  gid_t gid = 0;
};
inline constexpr const char* kIdRegistry = "/var/lib/km-uids";

// The sandbox user recorded in `layout.user_file`; NotFound when none was claimed yet.
[[nodiscard]] Result<SandboxUser> sandboxUser(const Layout& layout);
// The recorded user, or a newly claimed one (recorded in `layout.user_file`) for sandbox
// `sandbox` of `km_home`. Unavailable when the range is used up.
[[nodiscard]] Result<SandboxUser> claimSandboxUser(const Layout& layout, std::string_view km_home,
                                                   std::string_view sandbox);
// Gives the id back (only if the claim is this sandbox's).
void releaseSandboxUser(const SandboxUser& user, std::string_view km_home, std::string_view sandbox);
// The claims made for sandboxes of `km_home` (for doctor).
struct UidClaim {
  uint32_t uid = 0;
  std::string sandbox;
};
std::vector<UidClaim> uidClaims(std::string_view km_home);

struct ConfigFile {
  std::string path;  // absolute, inside the sandbox
  std::string content;
};

// What the sandbox's first process needs to build its world.
struct LaunchSpec {
  std::string hostname;
  std::string working_dir;            // persistent (bind of layout.workspace)
  std::vector<ConfigFile> config_files;  // written when `first_start`
  SandboxUser user;
  std::string km_home;                // hidden inside the sandbox
  bool first_start = true;
  std::string resolv_conf;            // /etc/resolv.conf, written at every start when set (finishLaunch)
  std::string volume_mount;           // where layout.volume is mounted inside ("" = none)
  std::string ca_cert;                // the sandbox's CA (PEM), trusted inside from the first start
  // The overlay's lower directories, top first: an image's unpacked layers (image::Store);
  // empty for the host's root ("/").
  std::vector<std::string> lower_dirs;
};

struct Launched {
  pid_t init_pid = 0;        // pid of the sandbox's PID 1, as the host sees it
  uint64_t init_start = 0;   // its kernel start time
};

// A sandbox init made before its plan is known: the pid, mount, net, uts and ipc
// namespaces exist and loopback is up; it waits for its layout and spec. `km create` stages
// one while it is still loading the profile, so the kernel's namespace work overlaps it.
// An unused StagedInit kills its process when destroyed. Move-only.
class StagedInit {
 public:
  // A child of the caller (single-threaded, root). Its stdio is /dev/null and it keeps no
  // other descriptor of the caller's. Returns at once: the child makes its namespaces while
  // the caller goes on; namespacesReady() waits for them.
  [[nodiscard]] static Result<StagedInit> stage();
  // The same, from any caller, threads or not: the child execs this binary as `km-init`
  // (spawnedInitMain) before running any of km's code, so nothing a thread of the caller held
  // (a lock, a half-written buffer) comes with it. An exec slower than stage().
  [[nodiscard]] static Result<StagedInit> spawn();
  // Waits until the namespaces exist (at once when they already do); the init's error if it
  // could not make them.
  [[nodiscard]] Status namespacesReady();
  StagedInit() = default;
  StagedInit(StagedInit&& o) noexcept;
  StagedInit& operator=(StagedInit&& o) noexcept;
  StagedInit(const StagedInit&) = delete;
  StagedInit& operator=(const StagedInit&) = delete;
  ~StagedInit();

  bool valid() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  friend Status beginLaunch(const Layout&, const LaunchSpec&, const Cgroups&, StagedInit&);
  friend Result<Launched> finishLaunch(StagedInit&, const std::string&);
  [[nodiscard]] static Result<StagedInit> start(bool exec);
  void discard();
  pid_t pid_ = 0;
  bool ready_ = false;
  int go_fd_ = -1;     // spec to the init; closing it without a spec ends the init
  int ready_fd_ = -1;  // "ok" or "error: …" from the init
};

// The process spawn() made: argv is exactly {"km-init"} and the staged init's pipes are open
// (fds 3 and 4). main() checks this first and runs spawnedInitMain(), which never returns.
inline constexpr int kStagedGoFd = 3, kStagedReadyFd = 4;
bool isSpawnedInit(int argc, char** argv);
[[noreturn]] void spawnedInitMain();

// A launch in two steps, so that the caller sets up the network while init builds the root.
// beginLaunch moves `staged` (or, when it is not valid, an init from StagedInit::spawn()) into
// `cgroups` and hands it the layout and spec (its resolv_conf unused): init at once mounts the
// overlay root, /workspace, /tmp, /proc, /dev, /sys, sets the hostname and writes a first
// start's files. finishLaunch hands it /etc/resolv.conf (`resolv_conf`; left alone when empty)
// and returns once init is ready; on failure nothing runs and the error says which step
// failed. Between the two, destroying `staged` ends the init.
[[nodiscard]] Status beginLaunch(const Layout& layout, const LaunchSpec& spec, const Cgroups& cgroups,
                                 StagedInit& staged);
[[nodiscard]] Result<Launched> finishLaunch(StagedInit& staged, const std::string& resolv_conf);

// A command to run inside a running sandbox.
struct EnterSpec {
  pid_t init_pid = 0;
  uint64_t init_start = 0;
  SandboxUser user;
  bool root = false;                      // uid 0 with a reduced capability set
  std::string workdir;                    // default: /
  std::vector<std::string> env;           // "K=V", after the defaults (PATH, HOME, USER…)
  std::vector<std::string> argv;          // argv[0] searched in the sandbox's PATH
};

using substrate::SessionIo;
using substrate::Terminal;

// Runs `spec.argv` inside the running sandbox and relays its I/O until it exits. With a
// terminal the command gets a new pty in the sandbox's own devpts as its controlling
// terminal (the caller's terminal is in raw mode meanwhile and restored on return; window
// size follows it), else pipes; its stderr shares the pty with stdout. The caller stays in
// its own namespaces and cgroups and may be multi-threaded. Output still arriving from
// processes the command left behind is relayed for a moment after it exits, then cut.
// Returns the exit code (128+N when killed by signal N); NotFound when argv[0] is not a
// command inside; Unavailable when the sandbox is gone or a step of entering it failed.
[[nodiscard]] Result<int> runSession(const EnterSpec& spec, const Cgroups& cgroups, const SessionIo& io);

// Ends every process of the sandbox: SIGKILL to its init (the kernel then kills the whole
// pid namespace) and to anything left in its cgroups; waits until the cgroups are empty.
[[nodiscard]] Status killAll(pid_t init_pid, uint64_t init_start, const Cgroups& cgroups);
// SIGKILL to every process in `cgroups` (again to any that arrive) until none is left and
// `also_done` holds, then waits until each one signalled has exited (a zombie or reaped), not
// only left the cgroup. Unavailable, naming `what`, after 5 s.
[[nodiscard]] Status killCgroupProcesses(const Cgroups& cgroups, const std::function<bool()>& also_done,
                                         std::string_view what);

// Removes everything sandbox `id` of `km_home` has on this host, in this order: its
// processes (SIGKILL, thawed first; `init_pid`/`init_start` as recorded, 0 when unknown —
// its cgroups are emptied either way), every process of its supervisor's cgroup but the
// caller, the host end of its veth (so it is gone on return, not when the kernel gets to the
// dead network namespace), both cgroups, its eBPF pins, its disk and additional volume, its
// claimed uid, and its directory of km's records. Each step is idempotent, so a teardown that
// failed part-way is finished by running it again. The fleet row is the caller's. Needs root
// (PermissionDenied otherwise); the first failing step's error otherwise.
[[nodiscard]] Status teardown(const std::string& km_home, const std::string& id, pid_t init_pid,
                              uint64_t init_start);

// Where the eBPF maps of sandbox `id` of `km_home` are pinned (the only place that derives
// it: net::EgressGate::pinDir with the home's tag).
std::string pinDir(std::string_view km_home, std::string_view id);
// The ids of `km_home`'s sandboxes that have a pin directory, in no order (for doctor).
std::vector<std::string> pinnedSandboxes(std::string_view km_home);

// km's records about sandbox `id` of `km_home` (the layout's paths).
SandboxFiles sandboxFiles(std::string_view km_home, std::string_view id);

// The local substrate (substrate::open's implementation).
std::unique_ptr<Substrate> makeSubstrate(Options options);

}  // namespace km::substrate::local
