#include "core/fd_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace km::fdops {

std::string procFdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<FdStat> statFd(int fd, std::string_view subject) {
  struct statx sx {};
  if (retryEintr([&] {
        return ::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
                       STATX_BASIC_STATS | STATX_MNT_ID, &sx);
      }) != 0) {
    return sys::errnoError("statx", subject, errno);
  }
  FdStat out;
  struct stat& st = out.st;
  st.st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  st.st_ino = sx.stx_ino;
  st.st_mode = sx.stx_mode;
  st.st_nlink = sx.stx_nlink;
  st.st_uid = sx.stx_uid;
  st.st_gid = sx.stx_gid;
  st.st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
  st.st_size = static_cast<off_t>(sx.stx_size);
  st.st_blksize = sx.stx_blksize;
  st.st_blocks = static_cast<blkcnt_t>(sx.stx_blocks);
  st.st_atim = {sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec};
  st.st_mtim = {sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
  st.st_ctim = {sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec};
  out.has_mnt_id = (sx.stx_mask & STATX_MNT_ID) != 0;
  out.mnt_id = sx.stx_mnt_id;
  return out;
}

Result<sys::UniqueFd> openAt(int dir_fd, const char* name, int flags, std::string_view subject,
                             mode_t mode) {
  int fd = retryEintr([&] { return ::openat(dir_fd, name, flags | O_CLOEXEC, mode); });
  if (fd < 0) return sys::errnoError("openat", subject, errno);
  return sys::UniqueFd(fd);
}

Result<sys::UniqueFd> reopenRegularForRead(int opath_fd, const struct stat& expect,
                                           std::string_view subject) {
  if (!S_ISREG(expect.st_mode))
    return invalidArgument(std::string(subject) + ": not a regular file");
  // O_NONBLOCK and O_NOCTTY cost nothing on a regular file and keep the open harmless should
  // the kernel ever hand us something else; the fstat below then refuses it.
  std::string proc = procFdPath(opath_fd);
  auto fd = openAt(AT_FDCWD, proc.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY, subject);
  if (!fd) return std::move(fd).error();
  auto now = statFd(fd->get(), subject);
  if (!now) return std::move(now).error();
  if (!S_ISREG(now->st.st_mode) || !sameInode(now->st, expect)) {
    return unavailable(std::string(subject) + ": changed while being opened");
  }
  return fd;
}

Result<std::vector<std::string>> readDirNames(int dir_fd, std::string_view subject) {
  std::vector<std::string> names;
  constexpr size_t kBufBytes = 32 * 1024;
  auto buf = std::make_unique<char[]>(kBufBytes);
  for (;;) {
    ssize_t n = retryEintr([&] { return ::getdents64(dir_fd, buf.get(), kBufBytes); });
    if (n < 0) return sys::errnoError("getdents64", subject, errno);
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      // The kernel aligns each record; memcpy the header so we never read it misaligned.
      struct dirent64 head;
      std::memcpy(&head, buf.get() + off, offsetof(struct dirent64, d_name));
      const char* name = buf.get() + off + offsetof(struct dirent64, d_name);
      off += head.d_reclen;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
      names.emplace_back(name);
    }
  }
  return names;
}

}  // namespace km::fdops
