// km::supervisor — the per-sandbox data-plane process (`km supervise ID`). It owns one
// sandbox from create to destroy: starts it, enforces its TTL and idle timeout even when no
// CLI runs, and answers its control socket (stop, resume, pause, destroy). It runs detached in
// its own session and survives the CLI; if it dies the sandbox keeps running and a new
// supervisor adopts it (`km doctor --fix`). One poll loop, plus the sandbox's network
// service thread (net::Service: resolver, eBPF events).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sys.h"
#include "plan/plan.h"

namespace km::supervisor {

struct Options {
  std::string km_home;        // $KM_HOME
  std::string store_path;     // the fleet database
  std::string id;             // the sandbox
  int ready_fd = -1;          // gets "ok" or "error: …" once the sandbox is ready, then closed
  std::chrono::milliseconds tick{1000};  // how often deadlines and activity are checked
  // Take over this running init instead of looking at the row's status (the second half of
  // startForked), and serve on this already-listening control socket.
  pid_t adopt_pid = 0;
  uint64_t adopt_start = 0;
  int listen_fd = -1;
  int dns_udp_fd = -1, dns_tcp_fd = -1;  // the resolver's sockets, kept across the exec
  // How to run `km supervise` again (startForked execs it once the sandbox is ready).
  std::string km_binary;
  std::vector<std::string> global_args;
};

// Supervises until the sandbox is destroyed. Returns the process exit code (0 after a
// destroy; 1 when the sandbox could not be started, after reporting on ready_fd).
int run(const Options& options);

// Starts `km supervise` for `id` as a detached process (new session, output appended to the
// sandbox's supervisor.log) and waits until it reports ready. `km_binary` is the km
// executable; `global_args` are passed before `supervise` (--home, --config). Unavailable
// with the supervisor's message (and the tail of the init log when an init command failed).
[[nodiscard]] Status spawn(const std::string& km_binary, const std::vector<std::string>& global_args,
                           const std::string& id, const std::string& log_path);

// What a freshly started sandbox's row must record.
struct Started {
  pid_t supervisor_pid = 0;
  uint64_t supervisor_start = 0;
  pid_t init_pid = 0;
  uint64_t init_start = 0;
};

// The fast start used by `km create` and `km clone`: forks this process (no exec, no store
// access before the sandbox is ready); the detached child builds the sandbox from `plan`,
// reports, then execs `km supervise ID --adopt …` (a clean process: an SQLite connection
// must never cross a fork) which supervises it. The row must exist (status
// creating); the caller records the returned pids and marks it running. On failure the
// child has already removed everything it made. The caller must be single-threaded.
// `meanwhile` runs in the caller while the child builds the sandbox (km create writes the
// row then); if it fails, the new sandbox is killed and its error returned.
[[nodiscard]] Result<Started> startForked(const Options& options, const plan::SandboxPlan& plan,
                                          const std::string& log_path,
                                          const std::function<Status()>& meanwhile);

// A supervisor forked ahead of time, at the start of `km create`, so the fork (copying the
// CLI's page tables) overlaps the profile loading instead of following it. The child waits
// for start(); if the object is destroyed unused, the child sees end-of-file and exits.
class Prepared {
 public:
  [[nodiscard]] static Result<Prepared> fork();
  // As startForked, with the already forked child.
  [[nodiscard]] Result<Started> start(const Options& options, const plan::SandboxPlan& plan,
                                      const std::string& log_path,
                                      const std::function<Status()>& meanwhile);
  Prepared(Prepared&&) noexcept = default;
  Prepared& operator=(Prepared&&) noexcept = default;

 private:
  Prepared(sys::UniqueFd plan_write, sys::UniqueFd ready_read)
      : plan_write_(std::move(plan_write)), ready_read_(std::move(ready_read)) {}
  sys::UniqueFd plan_write_;
  sys::UniqueFd ready_read_;
};

// How many failed creates' logs $KM_HOME/failed keeps, and for how long.
inline constexpr size_t kFailedLogsKept = 20;
inline constexpr std::chrono::seconds kFailedLogsMaxAge{7 * 24 * 3600};

// Moves the logs of sandbox `id` (init.log and supervisor.log, with their rotated files) out
// of its directory into $KM_HOME/failed/<id>/, for a create that failed: teardown removes
// the directory, and the error message names the kept files. Then prunes $KM_HOME/failed to
// the newest kFailedLogsKept directories, none older than kFailedLogsMaxAge. Returns the
// directory; NotFound when the sandbox's directory is gone, the failing call otherwise.
[[nodiscard]] Result<std::string> keepFailedLogs(const std::string& km_home, const std::string& id);

// Sends one command to a supervisor's control socket and returns its reply text.
// Commands: ping, stop, resume, pause, destroy. Unavailable when nobody answers.
[[nodiscard]] Result<std::string> request(const std::string& socket_path, std::string_view command,
                                          std::chrono::milliseconds timeout);

}  // namespace km::supervisor
