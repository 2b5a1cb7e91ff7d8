// Private to core: fd-relative primitives shared by km::tree and km::beneath. Each one names
// a single component relative to a directory fd (never a path through untrusted names) and
// never follows a symlink. Thread-safe (no shared state; they only touch the fds given).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sys.h"

namespace km::fdops {

// Calls `f` until it does not fail with EINTR (STYLE R14).
template <class F>
auto retryEintr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r < 0 && errno == EINTR);
  return r;
}

// "/proc/self/fd/N". Going through this magic link lands on exactly the inode `fd` refers to
// (even a symlink, which is then not followed further): it is how xattrs, chmod and times
// reach an O_PATH fd, since f*xattr and fchmod refuse O_PATH fds.
std::string procFdPath(int fd);

// What one statx call on an fd says: the usual stat fields plus the mount id (when the
// kernel reports it, 5.8 and later) so a bind mount of the same file system is still seen as
// a different mount.
struct FdStat {
  struct stat st {};
  uint64_t mnt_id = 0;
  bool has_mnt_id = false;
};

// statx(fd, "", AT_EMPTY_PATH); works on O_PATH fds. `subject` names the file in errors.
[[nodiscard]] Result<FdStat> statFd(int fd, std::string_view subject);

// openat(dir_fd, name, flags | O_CLOEXEC) retrying EINTR. Errors name `subject`.
[[nodiscard]] Result<sys::UniqueFd> openAt(int dir_fd, const char* name, int flags,
                                           std::string_view subject, mode_t mode = 0);

// Opens `opath_fd` (an O_PATH fd whose stat is `expect`, a regular file) again for reading,
// through /proc/self/fd so the same inode is opened and never a FIFO or device swapped in
// under the same name. Fails (Unavailable) if the reopened file is not that inode.
[[nodiscard]] Result<sys::UniqueFd> reopenRegularForRead(int opath_fd, const struct stat& expect,
                                                         std::string_view subject);

// Every entry name of directory `dir_fd` except "." and "..", read from the current offset
// to the end (getdents64 on the fd itself: no dup, no DIR*).
[[nodiscard]] Result<std::vector<std::string>> readDirNames(int dir_fd, std::string_view subject);

// True when the two stats are the same inode.
inline bool sameInode(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace km::fdops
