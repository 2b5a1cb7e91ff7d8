#include "core/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/prctl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/subprocess.h"

extern char** environ;

namespace km::sys {

Error errnoError(std::string_view call, std::string_view subject, int err) {
  std::string msg = std::string(call) + "(" + std::string(subject) + "): " + std::strerror(err);
  switch (err) {
    case ENOENT: return notFound(std::move(msg));
    case EACCES:
    case EPERM: return permissionDenied(std::move(msg));
    case EINVAL: return invalidArgument(std::move(msg));
    default: return unavailable(std::move(msg));
  }
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(std::exchange(o.fd_, -1));
  return *this;
}

UniqueFd::~UniqueFd() { reset(); }

void UniqueFd::reset(int fd) {
  // close(2) must not be retried on EINTR on Linux: the fd is already gone.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> open(const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errnoError("open", path, errno);
  return UniqueFd(fd);
}

Result<std::pair<UniqueFd, UniqueFd>> pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errnoError("pipe2", "", errno);
  return std::pair<UniqueFd, UniqueFd>{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Status writeAll(int fd, std::string_view data, std::string_view subject) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("write", subject, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Result<std::string> readAll(int fd, std::string_view subject, size_t max_bytes) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("read", subject, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return invalidArgument(std::string(subject) + ": more than " + std::to_string(max_bytes) +
                             " bytes");
    }
  }
  return out;
}

Status replaceFile(const std::string& path, std::string_view data, mode_t mode) {
  auto fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (!fd) return std::move(fd).error();
  return writeAll(fd->get(), data, path);
}

Status writeFile(const std::string& path, std::string_view data) {
  auto fd = open(path, O_WRONLY);
  if (!fd) return std::move(fd).error();
  // Kernel interface files take one write; report their errno (EINVAL, EBUSY) as such.
  ssize_t n;
  do {
    n = ::write(fd->get(), data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errnoError("write", path + " <- " + std::string(data), errno);
  if (static_cast<size_t>(n) != data.size()) return unavailable("short write to " + path);
  return ok();
}

Status makeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return invalidArgument("makeDirs: empty path");
  // Usually only the last component is missing: try it first, walk up only on ENOENT.
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return ok();
  if (errno != ENOENT) return errnoError("mkdir", path, errno);
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return errnoError("mkdir", path, ENOENT);
  KM_TRY(makeDirs(path.substr(0, slash), 0755));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return errnoError("mkdir", path, errno);
  return ok();
}

Status runProgram(const std::vector<std::string>& args) {
  if (args.empty()) return invalidArgument("runProgram: no program");
  auto ran = runStreaming(args, {});
  if (!ran) return std::move(ran).error();
  if (ran->exit_code == 0) return ok();
  return unavailable(args[0] + " failed (exit " + std::to_string(ran->exit_code) + ")" +
                     (ran->tail.empty() ? "" : ": " + ran->tail));
}

std::optional<uint64_t> processStartTime(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  char* p = std::strrchr(buf, ')');
  if (p == nullptr) return std::nullopt;
  ++p;
  // After ')': field 3 (state) is the 1st token; field 22 (starttime) is the 20th.
  int field = 2;
  char* save = nullptr;
  for (char* tok = ::strtok_r(p, " ", &save); tok != nullptr; tok = ::strtok_r(nullptr, " ", &save)) {
    ++field;
    if (field == 3 && tok[0] == 'Z') return std::nullopt;  // a zombie no longer runs
    if (field == 22) return std::strtoull(tok, nullptr, 10);
  }
  return std::nullopt;
}

bool processAlive(pid_t pid, uint64_t start_time) {
  auto st = processStartTime(pid);
  if (!st) return false;
  return start_time == 0 || *st == start_time;
}

Result<UniqueFd> pidfdOpen(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0 && errno == ESRCH) return notFound("no process " + std::to_string(pid));
  if (fd < 0) return errnoError("pidfd_open", std::to_string(pid), errno);
  return UniqueFd(fd);
}

int openat2(int dir_fd, const char* rel, int flags, uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve;
  int fd;
  do {
    fd = static_cast<int>(::syscall(SYS_openat2, dir_fd, rel, &how, sizeof how));
  } while (fd < 0 && errno == EINTR);
  return fd;
}

Result<int> waitPid(pid_t pid, int options) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, options);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errnoError("waitpid", std::to_string(pid), errno);
  if (r == 0) return -1;  // WNOHANG and still running
  return status;
}

int exitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

void closeFdsFrom(int lowest, int keep) {
  auto closeRange = [](unsigned first, unsigned last) {
    return ::syscall(SYS_close_range, first, last, 0U) == 0;
  };
  bool done;
  if (keep >= lowest) {
    done = (keep == lowest || closeRange(static_cast<unsigned>(lowest), static_cast<unsigned>(keep - 1))) &&
           closeRange(static_cast<unsigned>(keep + 1), ~0U);
  } else {
    done = closeRange(static_cast<unsigned>(lowest), ~0U);
  }
  if (done) return;
  // Kernels before 5.9: close what /proc/self/fd lists.
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return;
  int self = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd >= lowest && fd != keep && fd != self && e->d_name[0] != '.') ::close(fd);
  }
  ::closedir(d);
}

int onlineCpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int64_t totalMemoryBytes() {
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return 0;
  return static_cast<int64_t>(si.totalram) * si.mem_unit;
}

bool replaceCommandLine(const std::vector<std::string>& args, bool drop_environment) {
  std::optional<std::string> stat;
  {
    int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n <= 0) return false;
    stat.emplace(buf, static_cast<size_t>(n));
  }
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return false;
  std::vector<uint64_t> field(3, 0);  // field[n] is field n of proc(5); 1 and 2 unused
  std::string_view rest(*stat);
  rest.remove_prefix(paren + 2);
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    field.push_back(std::strtoull(std::string(rest.substr(0, sp)).c_str(), nullptr, 10));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  if (field.size() <= 51) return false;
  uint64_t arg_start = field[48], arg_end = field[49], env_start = field[50], env_end = field[51];
  std::string text;
  for (const auto& a : args) text.append(a).push_back('\0');
  if (text.empty() || arg_end < arg_start + text.size()) return false;
  if (drop_environment) {
    ::clearenv();
    if (env_end > env_start) std::memset(reinterpret_cast<void*>(env_start), 0, env_end - env_start);
  }
  std::memset(reinterpret_cast<void*>(arg_start), 0, arg_end - arg_start);
  std::memcpy(reinterpret_cast<void*>(arg_start), text.data(), text.size());
  prctl_mm_map map{};
  map.start_code = field[26];
  map.end_code = field[27];
  map.start_stack = field[28];
  map.start_data = field[45];
  map.end_data = field[46];
  map.start_brk = field[47];
  map.brk = static_cast<uint64_t>(::syscall(SYS_brk, 0));
  map.arg_start = arg_start;
  map.arg_end = arg_start + text.size();
  map.env_start = env_start;
  map.env_end = drop_environment ? env_start : env_end;  // none of the old environment left to show
  map.exe_fd = static_cast<uint32_t>(-1);
  ::prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0);
  return true;
}

}  // namespace km::sys
