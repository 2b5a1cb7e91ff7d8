// Private to core: what copyTree does to one inode once the walk has pinned it: file data
// (holes kept) and metadata (owner, xattrs, mode, times, in the order the kernel needs).
// Thread-safe (acts only on the fds given).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string_view>

#include "core/result.h"
#include "core/tree.h"

namespace km::tree {

// One inode for metadata calls: an ordinary open fd (f* calls), or an O_PATH fd (symlinks,
// devices, FIFOs), reached through /proc/self/fd since f*xattr, fchmod and futimens refuse
// O_PATH fds.
struct Node {
  int fd = -1;
  bool opath = false;
};

// Copies the first `size` bytes of regular file `from` into `to` (empty, same size after),
// skipping holes (SEEK_DATA/SEEK_HOLE) and using copy_file_range where the file systems
// allow it, else read/write. A source that shrinks meanwhile ends the copy early; the copy
// still gets `size` bytes (the rest a hole).
[[nodiscard]] Status copyFileData(int from, int to, off_t size, std::string_view subject);

// Gives `to` the owner (through `map`), every extended attribute of `from`, the permission
// bits (not for symlinks) and the access/modification times of `st`. chown comes first
// because it clears setuid/setgid and security.capability; times come last because the
// other calls move ctime only.
[[nodiscard]] Status applyMetadata(Node from, Node to, const struct stat& st,
                                   const std::optional<IdMap>& map, std::string_view subject);

}  // namespace km::tree
