// km::substrate::local — sandboxes on this Linux host: namespaces (mount, pid, net, uts, ipc,
// cgroup), a copy-on-write overlay of the host root, cgroup limits (v2 where the controllers
// are, v1 on hybrid hosts), an unprivileged user, no capabilities and a seccomp filter.
// Each kernel concern has its own file and verbs; the supervisor calls them like a recipe.
// Needs root. Functions are thread-compatible; launch/enter fork and must be called from a
// single-threaded process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "substrate/local/cgroup.h"
#include "substrate/local/layout.h"

namespace km::substrate::local {

// Fails early (PermissionDenied, saying how to fix it) when this process is not root.
[[nodiscard]] Status requireRoot(std::string_view what);

// The unprivileged account agents run as inside the sandbox: a uid/gid no host account
// uses, so host files owned by real users are never the sandbox's.
struct SandboxUser {
  std::string name = "sandbox";
  uid_t uid = 0;
  gid_t gid = 0;
};
// Picks the sandbox user for a new sandbox (first id ≥ 60000 free in the host's passwd and
// group files) and records it in `layout.user_file`; later calls read the record.
[[nodiscard]] Result<SandboxUser> sandboxUser(const Layout& layout);

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
  std::string resolv_conf;            // /etc/resolv.conf, written at every start when set
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
  friend Result<Launched> launch(const Layout&, const LaunchSpec&, const Cgroups&, StagedInit);
  void discard();
  pid_t pid_ = 0;
  bool ready_ = false;
  int go_fd_ = -1;     // spec to the init; closing it without a spec ends the init
  int ready_fd_ = -1;  // "ok" or "error: …" from the init
};

// Moves `staged` (or, without one or when it is not valid, a freshly staged init) into `cgroups`, hands it
// the layout and spec, and waits until it has mounted the overlay root, /workspace, /tmp,
// /proc, /dev, /sys, set the hostname and written config files. Returns once init is
// ready; on failure nothing runs and the error says which step failed.
[[nodiscard]] Result<Launched> launch(const Layout& layout, const LaunchSpec& spec,
                                      const Cgroups& cgroups, StagedInit staged);
[[nodiscard]] Result<Launched> launch(const Layout& layout, const LaunchSpec& spec,
                                      const Cgroups& cgroups);

// A command to run inside a running sandbox.
struct EnterSpec {
  pid_t init_pid = 0;
  uint64_t init_start = 0;
  SandboxUser user;
  bool root = false;                      // uid 0 with a reduced capability set
  std::string workdir;                    // default: the working dir
  std::vector<std::string> env;           // "K=V", after the defaults (PATH, HOME, USER…)
  std::vector<std::string> argv;          // argv[0] searched in the sandbox's PATH
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // -1: inherit
};

// Moves the calling process into the sandbox (cgroups and namespaces), runs `spec.argv` in a
// child and returns its exit code (128+N for signal N). The caller stays inside the
// sandbox's namespaces afterwards: use it from a process that only exits next (`km exec`).
// Signals SIGINT/SIGQUIT are ignored while waiting (the terminal sends them to the child);
// SIGTERM/SIGHUP are forwarded.
[[nodiscard]] Result<int> enterAndRun(const EnterSpec& spec, const Cgroups& cgroups);

// Same, from a forked helper, so the caller (the supervisor) stays where it is.
[[nodiscard]] Result<int> runInside(const EnterSpec& spec, const Cgroups& cgroups);

// Ends every process of the sandbox: SIGKILL to its init (the kernel then kills the whole
// pid namespace) and to anything left in its cgroups; waits until the cgroups are empty.
[[nodiscard]] Status killAll(pid_t init_pid, uint64_t init_start, const Cgroups& cgroups);

}  // namespace km::substrate::local
