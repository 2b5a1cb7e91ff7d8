#include "core/tree_meta.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/fd_ops.h"

namespace km::tree {
namespace {

// A source file that changes size between two xattr calls gets ERANGE; retry a bounded
// number of times rather than loop on a hostile writer.
constexpr int kXattrRetries = 8;

ssize_t listX(Node n, char* buf, size_t size) {
  return fdops::retryEintr([&] {
    if (!n.opath) return ::flistxattr(n.fd, buf, size);
    return ::listxattr(fdops::procFdPath(n.fd).c_str(), buf, size);
  });
}

ssize_t getX(Node n, const char* name, void* buf, size_t size) {
  return fdops::retryEintr([&] {
    if (!n.opath) return ::fgetxattr(n.fd, name, buf, size);
    return ::getxattr(fdops::procFdPath(n.fd).c_str(), name, buf, size);
  });
}

int setX(Node n, const char* name, const void* value, size_t size) {
  return fdops::retryEintr([&] {
    if (!n.opath) return ::fsetxattr(n.fd, name, value, size, 0);
    return ::setxattr(fdops::procFdPath(n.fd).c_str(), name, value, size, 0);
  });
}

// The attribute names of `n`, NUL-separated; empty where the file system has none.
Result<std::vector<char>> listNames(Node n, std::string_view subject) {
  for (int i = 0; i < kXattrRetries; ++i) {
    ssize_t size = listX(n, nullptr, 0);
    if (size < 0 && errno == ENOTSUP) return std::vector<char>{};
    if (size < 0) return sys::errnoError("listxattr", subject, errno);
    std::vector<char> names(static_cast<size_t>(size) + 1);
    ssize_t got = listX(n, names.data(), names.size());
    if (got < 0 && errno == ERANGE) continue;
    if (got < 0) return sys::errnoError("listxattr", subject, errno);
    names.resize(static_cast<size_t>(got));
    return names;
  }
  return unavailable(std::string(subject) + ": extended attributes kept changing");
}

// The value of attribute `name`, or nullopt if it was removed since it was listed.
Result<std::optional<std::string>> getValue(Node n, const char* name, std::string_view subject) {
  for (int i = 0; i < kXattrRetries; ++i) {
    ssize_t size = getX(n, name, nullptr, 0);
    if (size < 0 && errno == ENODATA) return std::optional<std::string>();
    if (size < 0) return sys::errnoError("getxattr", std::string(subject) + " " + name, errno);
    std::string value(static_cast<size_t>(size) + 1, '\0');
    ssize_t got = getX(n, name, value.data(), value.size());
    if (got < 0 && errno == ERANGE) continue;
    if (got < 0 && errno == ENODATA) return std::optional<std::string>();
    if (got < 0) return sys::errnoError("getxattr", std::string(subject) + " " + name, errno);
    value.resize(static_cast<size_t>(got));
    return std::optional<std::string>(std::move(value));
  }
  return unavailable(std::string(subject) + " " + name + ": kept changing");
}

Status copyXattrs(Node from, Node to, std::string_view subject) {
  auto names = listNames(from, subject);
  if (!names) return std::move(names).error();
  const char* end = names->data() + names->size();
  for (const char* name = names->data(); name < end; name += std::strlen(name) + 1) {
    auto value = getValue(from, name, subject);
    if (!value) return std::move(value).error();
    if (!value->has_value()) continue;
    const std::string& v = **value;
    if (setX(to, name, v.data(), v.size()) != 0) {
      return sys::errnoError("setxattr", std::string(subject) + " " + name, errno);
    }
  }
  return ok();
}

// Copies [off, off + len) at the same offset. Returns early, without error, at the source's
// end of file. `use_cfr` is cleared for good when copy_file_range cannot serve this pair.
Status copyRange(int from, int to, off_t off, off_t len, bool& use_cfr, std::string_view subject) {
  loff_t in = off;
  loff_t out = off;
  std::vector<char> buf;
  while (len > 0) {
    if (use_cfr) {
      ssize_t n = fdops::retryEintr(
          [&] { return ::copy_file_range(from, &in, to, &out, static_cast<size_t>(len), 0); });
      if (n == 0) return ok();
      if (n > 0) {
        len -= n;
        continue;
      }
      // Different file systems (before 5.3, or not the same type since 5.19) or a file
      // system without support: the portable loop below does the same job.
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        return sys::errnoError("copy_file_range", subject, errno);
      }
      use_cfr = false;
    }
    if (buf.empty()) buf.resize(128 * 1024);
    size_t want = static_cast<size_t>(std::min<off_t>(len, static_cast<off_t>(buf.size())));
    ssize_t n = fdops::retryEintr([&] { return ::pread(from, buf.data(), want, in); });
    if (n < 0) return sys::errnoError("pread", subject, errno);
    if (n == 0) return ok();
    for (ssize_t done = 0; done < n;) {
      ssize_t w = fdops::retryEintr([&] {
        return ::pwrite(to, buf.data() + done, static_cast<size_t>(n - done), out + done);
      });
      if (w < 0) return sys::errnoError("pwrite", subject, errno);
      done += w;
    }
    in += n;
    out += n;
    len -= n;
  }
  return ok();
}

}  // namespace

Status copyFileData(int from, int to, off_t size, std::string_view subject) {
  bool use_cfr = true;
  for (off_t pos = 0; pos < size;) {
    off_t data = ::lseek(from, pos, SEEK_DATA);
    off_t hole = size;
    if (data < 0) {
      if (errno == ENXIO) break;  // nothing but a hole (or the file shrank) from here on
      if (errno != EINVAL && errno != EOPNOTSUPP) return sys::errnoError("lseek", subject, errno);
      data = pos;  // no hole support: all data
    } else {
      off_t h = ::lseek(from, data, SEEK_HOLE);
      if (h >= 0) hole = std::min(h, size);
    }
    if (data >= size) break;
    KM_TRY(copyRange(from, to, data, hole - data, use_cfr, subject));
    pos = hole;
  }
  // Sets the length, leaving a trailing hole unallocated.
  if (fdops::retryEintr([&] { return ::ftruncate(to, size); }) != 0) {
    return sys::errnoError("ftruncate", subject, errno);
  }
  return ok();
}

Status applyMetadata(Node from, Node to, const struct stat& st, const std::optional<IdMap>& map,
                     std::string_view subject) {
  uid_t uid = st.st_uid;
  gid_t gid = st.st_gid;
  if (map && uid == map->from_uid) uid = map->to_uid;
  if (map && gid == map->from_gid) gid = map->to_gid;
  int rc = fdops::retryEintr([&] {
    return to.opath ? ::fchownat(to.fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
                    : ::fchown(to.fd, uid, gid);
  });
  if (rc != 0) return sys::errnoError("fchown", subject, errno);

  KM_TRY(copyXattrs(from, to, subject));

  const std::string proc = to.opath ? fdops::procFdPath(to.fd) : std::string();
  if (!S_ISLNK(st.st_mode)) {  // a symlink's mode is fixed at 0777
    const mode_t mode = st.st_mode & 07777;
    rc = fdops::retryEintr(
        [&] { return to.opath ? ::chmod(proc.c_str(), mode) : ::fchmod(to.fd, mode); });
    if (rc != 0) return sys::errnoError("chmod", subject, errno);
  }

  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  // Through the magic link utimensat lands on the inode itself, a symlink included.
  rc = fdops::retryEintr([&] {
    return to.opath ? ::utimensat(AT_FDCWD, proc.c_str(), times, 0) : ::futimens(to.fd, times);
  });
  if (rc != 0) return sys::errnoError("utimensat", subject, errno);
  return ok();
}

}  // namespace km::tree
