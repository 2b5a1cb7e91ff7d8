// km::sys — the one layer that calls the kernel for the rest of km (STYLE R14): every call
// retries EINTR, reads errno at once and returns a Result whose message names the call, its
// subject and the errno text ("mount(overlay, /var/lib/km/sb-1/root): Invalid argument").
// UniqueFd owns a file descriptor. Functions are thread-safe unless they say otherwise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace km::sys {

// The Error for a failed call: code from errno (ENOENT → NotFound, EACCES/EPERM →
// PermissionDenied, EINVAL → InvalidArgument, else Unavailable).
Error errnoError(std::string_view call, std::string_view subject, int err);

// Owns one fd; closes it on destruction. Move-only, no implicit int conversion.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC added.
[[nodiscard]] Result<UniqueFd> open(const std::string& path, int flags, mode_t mode = 0);
// A close-on-exec pipe: {read end, write end}.
[[nodiscard]] Result<std::pair<UniqueFd, UniqueFd>> pipe();

// Writes all of `data` (retrying short writes and EINTR).
[[nodiscard]] Status writeAll(int fd, std::string_view data, std::string_view subject);
// Reads until EOF (at most `max_bytes`).
[[nodiscard]] Result<std::string> readAll(int fd, std::string_view subject,
                                          size_t max_bytes = 1 << 20);
// Creates or truncates `path` (new files get `mode`) and writes `data`; no fsync. For files
// whose loss in a crash is harmless (inside a sandbox's overlay, runtime records).
[[nodiscard]] Status replaceFile(const std::string& path, std::string_view data, mode_t mode = 0644);
// Opens `path` for writing (no create, no truncate: cgroup and proc files) and writes `data`.
[[nodiscard]] Status writeFile(const std::string& path, std::string_view data);
// Creates `path` with `mode` (and any missing parents with 0755). Existing dirs are fine.
[[nodiscard]] Status makeDirs(const std::string& path, mode_t mode = 0755);

// Runs a program (searched in PATH) with stdin from /dev/null and waits. Unavailable when
// it cannot start or exits non-zero, with the end of what it printed in the message.
[[nodiscard]] Status runProgram(const std::vector<std::string>& argv);

// Kernel start time of `pid` in clock ticks since boot (/proc/PID/stat field 22), or nullopt
// when there is no such process.
std::optional<uint64_t> processStartTime(pid_t pid);
// True when `pid` runs and (if start_time ≠ 0) is the same process that started then.
bool processAlive(pid_t pid, uint64_t start_time);
// A pidfd for `pid` (close-on-exec, as pidfd_open always makes it). NotFound (ESRCH) when
// there is no such process.
[[nodiscard]] Result<UniqueFd> pidfdOpen(pid_t pid);
// openat2(dir_fd, rel, {flags | O_CLOEXEC, resolve}) retrying EINTR: the fd, or -1 with errno
// set (callers tell ENOSPC, ENOENT… apart). For names below a root the caller does not trust,
// e.g. a sandbox's root through /proc/PID/root with RESOLVE_IN_ROOT or RESOLVE_BENEATH.
int openat2(int dir_fd, const char* rel, int flags, uint64_t resolve);
// waitpid(pid) retrying EINTR; returns the raw status.
[[nodiscard]] Result<int> waitPid(pid_t pid, int options = 0);
// The shell convention for a wait status: exit code, or 128 + signal number.
int exitCodeOf(int wait_status);

// Closes every fd ≥ `lowest` except `keep` (close_range, with a /proc/self/fd fallback).
// Async-signal-safe enough for use between fork and exec (no allocation on the fast path).
void closeFdsFrom(int lowest, int keep = -1);

// Rewrites this process's command line in place (what /proc/PID/cmdline and `ps` show) to
// `args` (each NUL-terminated, as argv), zeroing the rest of the original argument area, and
// records the shorter area with PR_SET_MM_MAP (needs no CAP_SYS_RESOURCE; when it fails the
// rest just stays zeroed). With `drop_environment` the environment is cleared (clearenv)
// and its area zeroed too. For a fork of km whose inherited command line (`km create …`)
// or environment would mislead or leak. False when `args` does not fit in the area, which
// is then left as it was. Call it before any thread starts.
bool replaceCommandLine(const std::vector<std::string>& args, bool drop_environment);

// Number of online CPUs and total RAM of this host.
int onlineCpus();
int64_t totalMemoryBytes();

}  // namespace km::sys
