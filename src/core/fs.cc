#include "core/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace km::fs {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

// open(path, O_RDONLY | O_CLOEXEC | extra_flags) retrying EINTR; the caller closes the fd.
// NotFound, PermissionDenied or Unavailable naming the path.
Result<int> openForReading(const std::string& path, int extra_flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | extra_flags);
  } while (fd < 0 && errno == EINTR);
  if (fd >= 0) return fd;
  int err = errno;
  std::string msg = "open(" + path + "): " + errnoText(err);
  if (err == ENOENT) return notFound(msg);
  if (err == EACCES) return permissionDenied(msg);
  return unavailable(msg);
}

}  // namespace

Result<std::string> readFile(const std::string& path, size_t max_bytes) {
  auto opened = openForReading(path, 0);
  if (!opened) return std::move(opened).error();
  int fd = *opened;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return invalidArgument(path + " is a directory, not a file");
  }
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return unavailable("read(" + path + "): " + errnoText(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_bytes) {
      ::close(fd);
      return invalidArgument(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return data;
}

Result<std::string> readTail(const std::string& path, size_t max_bytes) {
  auto opened = openForReading(path, O_NONBLOCK);
  if (!opened) return std::move(opened).error();
  int fd = *opened;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalidArgument(path + " is not a regular file");
  }
  off_t from = st.st_size > static_cast<off_t>(max_bytes) ? st.st_size - static_cast<off_t>(max_bytes) : 0;
  std::string data(static_cast<size_t>(st.st_size - from), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd, data.data() + got, data.size() - got, from + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return unavailable("read(" + path + "): " + errnoText(err));
    }
    if (n == 0) break;  // shrank meanwhile
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  if (from > 0) {
    size_t nl = data.find('\n');
    data.erase(0, nl == std::string::npos ? 0 : nl + 1);
  }
  return data;
}

Status writeFileAtomic(const std::string& path_arg, std::string_view data) {
  // Replace what a symlink points at, not the link; keep an existing file's permissions
  // (a profile may hold secrets in its env and be 0600).
  std::string path = path_arg;
  if (char* real = ::realpath(path_arg.c_str(), nullptr)) {
    path = real;
    std::free(real);
  }
  mode_t mode = 0644;
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) mode = existing.st_mode & 07777;
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd;
  do {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return unavailable("open(" + tmp + "): " + errnoText(errno));
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return unavailable("fchmod(" + tmp + "): " + errnoText(err));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return unavailable("write(" + tmp + "): " + errnoText(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return unavailable("fsync(" + tmp + "): " + errnoText(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return unavailable("rename(" + tmp + ", " + path + "): " + errnoText(err));
  }
  return ok();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool isDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string expandHome(std::string_view path) {
  if (path == "~" || path.substr(0, 2) == "~/") {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + std::string(path.substr(1));
  }
  return std::string(path);
}

std::string dirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string stemName(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (std::string_view ext : {".yaml", ".yml"}) {
    if (base.size() > ext.size() && base.substr(base.size() - ext.size()) == ext) {
      return std::string(base.substr(0, base.size() - ext.size()));
    }
  }
  return std::string(base);
}

std::string absolutePath(std::string_view path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(std::filesystem::path(path), ec);
  if (ec) return std::string(path);
  return p.lexically_normal().string();
}

}  // namespace km::fs
