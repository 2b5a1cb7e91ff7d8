// km::fleet — operations on sandboxes that the CLI (and later `km serve`) call: create from a
// compiled plan, lifecycle (stop, resume, pause, lock, unlock, extend, clone, destroy), exec,
// health and doctor. It ties the store, the local substrate and the supervisors together;
// parsing and printing stay in cli. Single-threaded callers; any number of processes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"
#include "plan/plan.h"
#include "store/store.h"
#include "substrate/substrate.h"
#include "supervisor/supervisor.h"

namespace km::fleet {

// How this km process was started, so supervisors it spawns see the same state and config.
struct Env {
  std::string km_home;
  std::string km_binary;                 // /proc/self/exe resolved
  std::vector<std::string> global_args;  // --home H [--config C]
  // The operator config's `disk` (create and clone make the home's disk store with it).
  substrate::DiskSettings disk;
};

// Opens $KM_HOME/fleet.db, creating $KM_HOME (0700) when missing.
[[nodiscard]] Result<std::unique_ptr<store::FleetStore>> openStore(const std::string& km_home);

// Creates and starts a sandbox from `plan` and waits until it is ready (init commands done).
// On failure nothing is left behind. Returns the stored row.
struct CreateInput {
  plan::SandboxPlan plan;
  // The new sandbox's supervisor, forked at the start of the command before the fleet store
  // was opened (see supervisor::Prepared). Required.
  supervisor::Prepared* prepared = nullptr;
  std::string profile_name;
  // The resolved profile as YAML, for the row. Rendered while the supervisor builds the
  // sandbox (on the other CPU), not before: it is not needed to build it.
  std::function<std::string()> profile_yaml;
  std::optional<std::string> cloned_from;
  // More of the caller's work that can run while the supervisor builds (warnings to print).
  std::function<void()> meanwhile;
};
[[nodiscard]] Result<store::SandboxRecord> create(const Env& env, store::FleetStore& store,
                                                  const CreateInput& input);

// The liveness the kernel reports, next to what the store says.
struct Health {
  bool supervisor_alive = false;
  bool init_alive = false;
  std::string summary;  // "" when store and kernel agree, else one line for the user
};
Health health(const store::SandboxRecord& record);

// User-requested lifecycle. Locked sandboxes refuse stop, pause and destroy
// (InvalidArgument naming `km unlock`). A missing supervisor is Unavailable pointing at
// `km doctor --fix`, except for destroy, which then tears down itself.
[[nodiscard]] Status stop(const Env& env, store::FleetStore& store, const std::string& id);
[[nodiscard]] Status pause(const Env& env, store::FleetStore& store, const std::string& id);
[[nodiscard]] Status resume(const Env& env, store::FleetStore& store, const std::string& id);
[[nodiscard]] Status destroy(const Env& env, store::FleetStore& store, const std::string& id);
[[nodiscard]] Status setLocked(store::FleetStore& store, const std::string& id, bool locked);
// After an unlock: tells the sandbox's supervisor, which suspends it at once if a budget ran
// out while it was locked. Best effort (a sandbox without a running supervisor is left as is).
void noteUnlocked(const Env& env, store::FleetStore& store, const std::string& id);
// Moves the TTL deadline `seconds` later (from now when the sandbox had none).
[[nodiscard]] Result<store::SandboxRecord> extend(store::FleetStore& store, const std::string& id,
                                                  int64_t seconds);
// New sandboxes from `source`'s stored profile and plan, each starting with a copy of its
// disk (overlay upper dir, workspace, homes, additional volume): a snapshot where the disk
// store enforces sizes, else a copy that follows no symlink, made while the source is
// frozen. Files of the source's user belong to each clone's own user. `alias` gets "-1",
// "-2"… suffixes when count > 1. With `copy_disk` false (upstream's --no-copy) each clone
// starts from an empty disk, like a fresh create from the source's profile. `prepared`: one
// supervisor per clone, forked before the store was opened.
[[nodiscard]] Result<std::vector<store::SandboxRecord>> clone(
    const Env& env, store::FleetStore& store, const std::string& source,
    const std::optional<std::string>& alias, int count, bool copy_disk,
    std::vector<supervisor::Prepared>& prepared);

// The OS images this home's sandboxes run on: image ids, their layers, and which sandboxes
// use each id (km image rm and prune keep them).
struct ImagesInUse {
  std::set<std::string> ids;
  std::set<std::string> layers;
  std::map<std::string, std::vector<std::string>> by_id;  // image id → sandbox ids
};
[[nodiscard]] Result<ImagesInUse> imagesInUse(store::FleetStore& store);

// Makes image `name` of sandbox `id`'s writes on top of the image it runs on (or the host's
// root): see substrate::Substrate::bake.
[[nodiscard]] Result<image::ImageRecord> bake(const Env& env, store::FleetStore& store, const std::string& id,
                                              image::Store& images, const image::Reference& name);

// Runs a command inside a running sandbox and relays this process's stdin, stdout and stderr
// to it (see substrate::Sandbox::enter): a pty when `terminal` says so (default: when
// stdin and stdout are terminals), else pipes. Returns the command's exit code.
struct ExecInput {
  bool root = false;
  std::vector<std::string> env;  // K=V
  std::string workdir;           // default: the plan's working dir
  std::vector<std::string> argv;  // empty: the profile's shell as a login shell (km shell)
  std::optional<bool> terminal;  // nullopt: automatic
  // Told (before the command starts) when the sandbox has no supervisor running.
  std::function<void(const std::string&)> warn;
};
[[nodiscard]] Result<int> exec(const Env& env, const store::SandboxRecord& record,
                               const ExecInput& input);
// The same for an exact sandbox id without opening the store: reads the plan and the running
// init that the sandbox's directory records (the kernel confirms pid and start time).
// nullopt (nothing done) when they are missing or stale: the caller then goes through the
// store. Otherwise the command ran (or failed to start), whatever the result.
[[nodiscard]] std::optional<Result<int>> execById(const Env& env, const std::string& id,
                                                  const ExecInput& input);

// The contents of regular file `path` inside a running or paused sandbox (see
// substrate::Sandbox::readFile): at most `max_bytes`, the end of it when `tail`; nullopt when
// absent. InvalidArgument naming the state when the sandbox is neither running nor paused.
[[nodiscard]] Result<std::optional<std::string>> readFile(const Env& env, const store::SandboxRecord& record,
                                                          const std::string& path, size_t max_bytes, bool tail = false);

// Drift between the store and the kernel. Each finding says what was wrong and, with `fix`,
// what was done.
struct Finding {
  std::string subject;  // sandbox id, cgroup dir, directory
  std::string problem;
  std::string action;   // "" when not fixed
  bool fixed = false;
};
// km's records about the sandbox of `record` (its logs, for km logs).
[[nodiscard]] Result<substrate::SandboxFiles> sandboxFiles(const Env& env, const store::SandboxRecord& record);

// How the home's substrate enforces limits (km doctor, km status).
using HostLimits = substrate::HostReport;
HostLimits hostLimits(const Env& env);
[[nodiscard]] Result<std::vector<Finding>> doctor(const Env& env, store::FleetStore& store, bool fix);

}  // namespace km::fleet
