// Files of secrets the host keeps from sandboxes (the operator's keys and tokens). A sandbox
// sees the host's root filesystem except /root, /home and KM_HOME, so such a file must live
// under one of those and be readable by its owner only.
#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"

namespace km::net {

// The content of the secret file at `path` (its real path, symlinks resolved, must be under
// /root, /home or `km_home`; a regular file not readable by group or others; at most
// `max_bytes`). InvalidArgument naming the path and what to change; never the secret.
[[nodiscard]] Result<std::string> readSecretFile(const std::string& path, const std::string& km_home,
                                                 size_t max_bytes = 1 << 20);

// The same, with surrounding whitespace (a trailing newline) removed: a token or key on one
// line. InvalidArgument when nothing is left or what is left has a control character.
[[nodiscard]] Result<std::string> readSecretValue(const std::string& path, const std::string& km_home);

}  // namespace km::net
