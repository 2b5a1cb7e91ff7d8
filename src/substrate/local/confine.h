// The last steps before a sandbox process runs its command (private to local): drop to the
// sandbox user (or reduced root), drop capabilities, set no_new_privs, load the seccomp
// filter. Everything that allocates or reads files is prepared in the parent (Confinement);
// the forked child then only makes system calls, so it is safe after a fork from a
// multi-threaded process (the supervisor).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "substrate/local/local.h"

namespace km::substrate::local {

// Capabilities `--root` keeps (a container-style default without NET_RAW and MKNOD);
// everything else is dropped from the bounding set. Unprivileged users keep none.
const std::vector<int>& rootCapabilities();

// The seccomp program, compiled once per process from the rules in seccomp.cc (libseccomp
// allocates, so it cannot run in a forked child). Thread-safe; the result lives as long as
// the process.
[[nodiscard]] Result<const std::vector<sock_filter>*> seccompProgram();

// The names of the system calls the filter refuses outright (for docs and tests).
std::vector<std::string_view> refusedSyscalls();

// What a child needs to confine itself, prepared in the parent (nothing in it is computed
// in the child).
struct Confinement {
  SandboxUser user;
  bool root = false;
  int last_cap = 0;                          // /proc/sys/kernel/cap_last_cap
  uint64_t keep_mask = 0;                    // bit N: capability N stays (root: rootCapabilities())
  const std::vector<sock_filter>* filter = nullptr;
};
[[nodiscard]] Result<Confinement> prepareConfinement(const SandboxUser& user, bool root);

// In the child: drops the bounding set, then switches to the user (root: uid 0 with
// rootCapabilities()), sets no_new_privs and installs the filter. System calls only; on
// failure returns the call that failed and its errno (the child reports and exits).
struct ConfineFailure {
  const char* call = nullptr;
  int err = 0;
};
ConfineFailure applyConfinement(const Confinement& c);

}  // namespace km::substrate::local
