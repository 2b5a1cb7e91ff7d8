// The last steps before a sandbox process runs its command (private to local): drop to the
// sandbox user (or reduced root), drop capabilities, set no_new_privs, load the seccomp
// filter. Called in a freshly forked child; on failure the child must not exec.
#pragma once

#include <string_view>
#include <vector>

#include "core/result.h"
#include "substrate/local/local.h"

namespace km::substrate::local {

// Capabilities `--root` keeps (a container-style default without NET_RAW and MKNOD);
// everything else is dropped from the bounding set. Unprivileged users keep none.
const std::vector<int>& rootCapabilities();

// Drops the bounding set, then switches to `user` (root: uid 0 with rootCapabilities()).
[[nodiscard]] Status dropPrivileges(const SandboxUser& user, bool root);

// Loads the seccomp filter (sets no_new_privs first). The refused calls and why are listed
// in seccomp.cc and docs/sandbox.md.
[[nodiscard]] Status loadSeccompFilter();

// The names of the system calls the filter refuses (for docs and tests).
std::vector<std::string_view> refusedSyscalls();

}  // namespace km::substrate::local
