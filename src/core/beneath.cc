// One component at a time, each opened with O_NOFOLLOW relative to the directory before it.
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) would resolve a whole path in one call, but
// it cannot create the missing directories, it needs an ENOSYS fallback (containers with
// older seccomp profiles) and EAGAIN retries under concurrent renames, and its errors do not
// say which component was the symlink. The per-component walk gives the same guarantee (each
// step resolves one name inside a directory we hold open) with one code path for reading and
// creating, at a cost of a few syscalls on paths that are a handful of components deep.
#include "core/beneath.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/fd_ops.h"

namespace km::beneath {
namespace {

Result<std::vector<std::string>> components(std::string_view rel, bool allow_empty) {
  std::vector<std::string> out;
  if (rel.empty()) {
    if (allow_empty) return out;
    return invalidArgument("empty path");
  }
  if (rel.find('\0') != std::string_view::npos) return invalidArgument("path contains a NUL byte");
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    std::string_view c =
        rel.substr(start, slash == std::string_view::npos ? rel.npos : slash - start);
    if (c.empty()) {
      return invalidArgument("'" + std::string(rel) +
                             "': empty component (leading, trailing or doubled '/')");
    }
    if (c == "." || c == "..") {
      return invalidArgument("'" + std::string(rel) + "': '" + std::string(c) + "' is not allowed");
    }
    out.emplace_back(c);
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

std::string join(const std::vector<std::string>& comps, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += '/';
    out += comps[i];
  }
  return out;
}

// Why opening `name` in `dir_fd` as a directory failed. O_NOFOLLOW|O_DIRECTORY reports a
// symlink as ENOTDIR (or ELOOP), so look at what is there to say which it was.
Error stepError(int dir_fd, const std::string& name, const std::string& shown, int err) {
  if (err == ENOTDIR || err == ELOOP) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      return permissionDenied(shown + " is a symlink; refusing to follow it");
    }
    return invalidArgument(shown + " is not a directory");
  }
  return sys::errnoError("openat", shown, err);
}

// Opens the first `count` components of `comps` below `root_fd` as in openDir.
Result<sys::UniqueFd> walkDirs(int root_fd, const std::vector<std::string>& comps, size_t count,
                               bool create, mode_t mode, std::optional<Owner> owner) {
  // A fresh fd for the root, so the caller's is never closed or moved.
  auto cur = fdops::openAt(root_fd, ".", O_RDONLY | O_DIRECTORY, ".");
  if (!cur) return std::move(cur).error();
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  for (size_t i = 0; i < count; ++i) {
    const std::string& name = comps[i];
    const std::string shown = join(comps, i + 1);
    int fd = fdops::retryEintr([&] { return ::openat(cur->get(), name.c_str(), kFlags); });
    bool created = false;
    if (fd < 0 && errno == ENOENT && create) {
      // 0700 until owner and mode are set, so nobody else gets in meanwhile. EEXIST: someone
      // made it first; it is then opened (and checked) like any existing directory.
      if (fdops::retryEintr([&] { return ::mkdirat(cur->get(), name.c_str(), 0700); }) == 0) {
        created = true;
      } else if (errno != EEXIST) {
        return sys::errnoError("mkdirat", shown, errno);
      }
      fd = fdops::retryEintr([&] { return ::openat(cur->get(), name.c_str(), kFlags); });
    }
    if (fd < 0) return stepError(cur->get(), name, shown, errno);
    sys::UniqueFd next(fd);
    if (created) {
      if (owner && fdops::retryEintr(
                       [&] { return ::fchown(next.get(), owner->first, owner->second); }) != 0) {
        return sys::errnoError("fchown", shown, errno);
      }
      if (fdops::retryEintr([&] { return ::fchmod(next.get(), mode & 07777); }) != 0)
        return sys::errnoError("fchmod", shown, errno);
    }
    *cur = std::move(next);
  }
  return cur;
}

// A name no one else is likely to pick: ".km-<16 hex digits>.tmp". Unpredictability is
// not what keeps it safe (O_CREAT|O_EXCL|O_NOFOLLOW does); it only makes collisions rare.
std::string tempName() {
  static std::atomic<uint64_t> counter{0};
  uint64_t x = 0;
  if (::getrandom(&x, sizeof x, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof x)) {
    x = (static_cast<uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out = ".km-";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(x >> shift) & 15];
  return out + ".tmp";
}

}  // namespace

Result<sys::UniqueFd> openDir(int root_fd, std::string_view rel, bool create, mode_t mode,
                              std::optional<Owner> owner_for_new) {
  auto comps = components(rel, /*allow_empty=*/true);
  if (!comps) return std::move(comps).error();
  return walkDirs(root_fd, *comps, comps->size(), create, mode, owner_for_new);
}

Status writeFile(int root_fd, std::string_view rel, std::string_view data, mode_t mode,
                 std::optional<Owner> owner) {
  auto comps = components(rel, /*allow_empty=*/false);
  if (!comps) return std::move(comps).error();
  const std::string shown(rel);
  auto parent = walkDirs(root_fd, *comps, comps->size() - 1, /*create=*/true, 0755, owner);
  if (!parent) return std::move(parent).error();
  const int dir = parent->get();

  std::string tmp;
  sys::UniqueFd fd;
  for (int attempt = 0; attempt < 8 && !fd.valid(); ++attempt) {
    tmp = tempName();
    int raw = fdops::retryEintr([&] {
      return ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    });
    if (raw >= 0) {
      fd.reset(raw);
    } else if (errno != EEXIST) {
      return sys::errnoError("openat", shown + " (temporary file)", errno);
    }
  }
  if (!fd.valid()) return unavailable(shown + ": could not create a temporary file");

  // From here on every failure removes the temp file.
  auto fail = [&](Error e) -> Status {
    fdops::retryEintr([&] { return ::unlinkat(dir, tmp.c_str(), 0); });
    return e;
  };
  Status written = sys::writeAll(fd.get(), data, shown);
  if (!written) return fail(std::move(written).error());
  if (owner &&
      fdops::retryEintr([&] { return ::fchown(fd.get(), owner->first, owner->second); }) != 0) {
    return fail(sys::errnoError("fchown", shown, errno));
  }
  // After chown, which would clear setuid/setgid.
  if (fdops::retryEintr([&] { return ::fchmod(fd.get(), mode & 07777); }) != 0)
    return fail(sys::errnoError("fchmod", shown, errno));
  fd.reset();
  // rename replaces the name itself: a symlink there is replaced, not followed.
  const std::string& name = comps->back();
  if (fdops::retryEintr([&] { return ::renameat(dir, tmp.c_str(), dir, name.c_str()); }) != 0) {
    if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
      return fail(invalidArgument(shown + " is a directory"));
    }
    return fail(sys::errnoError("renameat", shown, errno));
  }
  return ok();
}

Result<std::string> readFile(int root_fd, std::string_view rel, size_t max_bytes) {
  auto comps = components(rel, /*allow_empty=*/false);
  if (!comps) return std::move(comps).error();
  const std::string shown(rel);
  auto parent = walkDirs(root_fd, *comps, comps->size() - 1, /*create=*/false, 0, std::nullopt);
  if (!parent) return std::move(parent).error();
  // O_PATH first: nothing is opened for I/O until we know it is a regular file, so a FIFO
  // cannot block us and a device is never opened.
  auto opath = fdops::openAt(parent->get(), comps->back().c_str(), O_PATH | O_NOFOLLOW, shown);
  if (!opath) return std::move(opath).error();
  auto fs = fdops::statFd(opath->get(), shown);
  if (!fs) return std::move(fs).error();
  if (S_ISLNK(fs->st.st_mode))
    return permissionDenied(shown + " is a symlink; refusing to follow it");
  if (!S_ISREG(fs->st.st_mode)) return invalidArgument(shown + " is not a regular file");
  if (static_cast<uint64_t>(fs->st.st_size) > max_bytes) {
    return invalidArgument(shown + ": more than " + std::to_string(max_bytes) + " bytes");
  }
  auto fd = fdops::reopenRegularForRead(opath->get(), fs->st, shown);
  if (!fd) return std::move(fd).error();
  return sys::readAll(fd->get(), shown, max_bytes);
}

}  // namespace km::beneath
