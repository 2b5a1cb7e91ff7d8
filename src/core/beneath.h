// km::beneath — reading and writing files by a relative path below a trusted root directory
// fd, in a tree whose directories a hostile process may swap for symlinks at any moment (a
// sandbox's home or workspace, seen from the host). No symlink is ever followed, no path
// leaves the root, and files are replaced (temp file + rename), never written through.
// Thread-safe: no shared state; the fds passed in are only borrowed.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "core/sys.h"

namespace km::beneath {

// Owner (uid, gid) to give new directories and files.
using Owner = std::pair<uid_t, gid_t>;

// The directory `rel` ("a/b/c") below `root_fd`, opened O_RDONLY|O_DIRECTORY; "" is the root
// itself. The caller owns the returned fd. With `create`, missing directories are made with
// exactly `mode` (umask does not apply) and `owner_for_new`; existing ones are left as they
// are. InvalidArgument for a leading "/", an empty, "." or ".." component, or a component
// that is not a directory; PermissionDenied for a component that is a symlink; NotFound for
// a missing one without `create`.
[[nodiscard]] Result<sys::UniqueFd> openDir(int root_fd, std::string_view rel, bool create,
                                            mode_t mode,
                                            std::optional<Owner> owner_for_new = std::nullopt);

// Makes `rel` a regular file holding `data` with `mode` and `owner` (default: ours): writes a
// temp file in the same directory, then renames it over the name, so whatever was there (a
// file, a symlink to /etc/passwd) is replaced and never written through. Missing parent
// directories are created (0755, `owner`). Errors as openDir; InvalidArgument when `rel`
// names a directory. No fsync: for files whose loss in a crash is harmless.
[[nodiscard]] Status writeFile(int root_fd, std::string_view rel, std::string_view data,
                               mode_t mode, std::optional<Owner> owner = std::nullopt);

// The content of regular file `rel`. NotFound if it is missing; PermissionDenied if it or a
// directory on the way is a symlink; InvalidArgument if it is not a regular file (a FIFO is
// refused without being opened, so this never blocks) or holds more than `max_bytes`.
[[nodiscard]] Result<std::string> readFile(int root_fd, std::string_view rel, size_t max_bytes);

}  // namespace km::beneath
