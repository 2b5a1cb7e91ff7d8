// cgroups of a local sandbox. The host is probed at run time: each controller (memory, cpu,
// pids) is used from cgroup v2 when the v2 hierarchy offers it, else from its v1 hierarchy,
// else it is reported as not enforceable — km never claims a limit it cannot apply. On hybrid
// hosts (v2 mounted at /sys/fs/cgroup/unified with no useful controllers) the sandbox also
// gets a v2 cgroup for grouping, freezing and eBPF. Names: <hierarchy>/<group>/<sandbox id>,
// where the group (cgroupGroup) is per state directory, so fleets of different KM_HOMEs on
// one host never see each other's cgroups as leaks. Under the sandbox's directory are two
// leaves: `sandbox` (its processes; memory and pids limits; the root of its cgroup namespace,
// where eBPF attaches) and `supervisor` (km's per-sandbox work: resolver, proxy; limits of its
// own, so the sandbox cannot starve or OOM-kill it). The CPU limit sits on the sandbox's
// directory above both, so the work a sandbox causes its supervisor is charged to it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sys.h"

namespace km::substrate::local {

enum class CgroupVersion { kNone, kV1, kV2 };
std::string_view versionName(CgroupVersion v);

struct HostCgroups {
  std::string v2_root;        // cgroup2 mount point, "" when none
  std::string v1_memory, v1_cpu, v1_cpuacct, v1_pids, v1_freezer;  // v1 mount points or ""
  CgroupVersion memory = CgroupVersion::kNone;
  CgroupVersion cpu = CgroupVersion::kNone;
  CgroupVersion pids = CgroupVersion::kNone;
  CgroupVersion freezer = CgroupVersion::kNone;  // v2: cgroup.freeze (core, no controller)
  bool hybrid() const;  // some limits from v1 while a v2 hierarchy exists
};

// Reads /proc/self/mountinfo and the v2 root's cgroup.controllers.
HostCgroups detectCgroups();
// The decision itself, from a mountinfo text and the v2 root's cgroup.controllers text.
// `v2_has_stat` says whether the v2 root has cgroup.stat (cgroup.freeze exists: Linux 5.2+).
HostCgroups parseCgroupMounts(std::string_view mountinfo, std::string_view v2_controllers,
                              bool v2_has_stat);

// "km/<8 hex>": the parent of every cgroup of the sandboxes kept under `km_home`.
std::string cgroupGroup(std::string_view km_home);
// The "<8 hex>" alone: the home's tag (also in its eBPF pin names).
std::string homeTag(std::string_view km_home);

struct Limits {
  int64_t cpu_millis = 0;    // 0 = none
  int64_t memory_bytes = 0;  // 0 = none
  int64_t pids = 0;          // 0 = none
};

// The two leaves of a sandbox's cgroup directory.
enum class CgroupPart { kSandbox, kSupervisor };

// What a supervisor may use, whatever its sandbox does (it is one process with a few
// threads; the proxy's buffers are the largest part).
inline constexpr int64_t kSupervisorMemoryBytes = int64_t{512} << 20;
inline constexpr int64_t kSupervisorPids = 64;

// The cgroup directories of one sandbox. Plain data naming kernel objects that outlive any
// one process (the supervisor may restart), so removal is explicit (remove()), not RAII.
class Cgroups {
 public:
  // Creates the sandbox's leaf (and its parents) and writes the limits: cpu on the sandbox's
  // directory, memory and pids on the leaf. On failure removes what it made.
  [[nodiscard]] static Result<Cgroups> create(const HostCgroups& host, std::string_view group,
                                              std::string_view id, const Limits& limits);
  // The supervisor's leaf, with kSupervisorMemoryBytes / kSupervisorPids and a CPU weight
  // above the sandbox's (DNS stays responsive while the sandbox burns its CPU share).
  // Existing directories are fine (a restarted supervisor).
  [[nodiscard]] static Result<Cgroups> createSupervisor(const HostCgroups& host, std::string_view group,
                                                        std::string_view id);
  // The directories a sandbox of this id has (or would have) on this host.
  static Cgroups existing(const HostCgroups& host, std::string_view group, std::string_view id,
                          CgroupPart part = CgroupPart::kSandbox);

  // Moves `pid` (0 = the caller) into every directory.
  [[nodiscard]] Status addProcess(pid_t pid) const;
  // Moves the caller back to each hierarchy's root cgroup (a supervisor leaving the
  // directory it is about to remove).
  [[nodiscard]] Status leave() const;
  [[nodiscard]] Status freeze(bool frozen) const;
  bool frozen() const;
  // CPU time used by the sandbox so far, and its memory in use now.
  std::optional<uint64_t> cpuUsageNs() const;
  std::optional<int64_t> memoryBytes() const;
  // Number of times the memory limit's OOM killer fired.
  std::optional<int64_t> oomKills() const;
  // A non-blocking descriptor that becomes readable when the sandbox's memory cgroup records
  // an OOM kill (read it empty, then look at oomKills()): inotify on memory.events (v2), or
  // an eventfd registered through cgroup.event_control on memory.oom_control (v1). It may
  // also wake for other memory events. Unavailable when the host has no memory controller.
  [[nodiscard]] Result<sys::UniqueFd> watchMemoryEvents() const;
  // Pids in the sandbox (from the v2 dir, else the first v1 dir).
  std::vector<pid_t> processes() const;
  // Removes the leaf's directories (they must be empty), then the sandbox's directory and
  // the group's once nothing else is in them. Missing ones are fine.
  [[nodiscard]] Status remove() const;
  // Which of the directories exist now.
  std::vector<std::string> existingDirs() const;
  const std::vector<std::string>& dirs() const { return dirs_; }
  // The sandbox's cgroup v2 directory (where eBPF programs attach); "" when the host has none.
  const std::string& v2Dir() const { return v2_; }

 private:
  [[nodiscard]] static Result<Cgroups> make(const HostCgroups& host, std::string_view group,
                                            std::string_view id, CgroupPart part);
  HostCgroups host_;
  std::string id_;
  std::string group_;
  std::string leaf_;
  std::vector<std::string> dirs_;  // every directory, v2 first when present
  std::string v2_, mem_, cpu_, cpuacct_, pids_, freezer_;  // "" when not used
};

// Every sandbox cgroup directory (<mount>/<group>/<id>, above the leaves) of `group` on this
// host (for doctor).
std::vector<std::string> listKmCgroups(const HostCgroups& host, std::string_view group);

}  // namespace km::substrate::local
