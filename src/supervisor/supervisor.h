// km::supervisor — the per-sandbox data-plane process. One process owns one sandbox from
// create to destroy: it builds and starts it, enforces its TTL and idle timeout even when no
// CLI runs, and answers its control socket (ping, stop, resume, pause, destroy). It runs
// detached in its own session and survives the CLI; if it dies the sandbox keeps running and
// a new supervisor (`km supervise ID`, started by `km doctor --fix` or `km resume`) takes it
// over. Inside: one control loop (control_loop.h) and the sandbox's network service threads.
// docs/architecture.md has the whole picture.
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
#include "substrate/substrate.h"

namespace km::supervisor {

struct Options {
  std::string km_home;        // $KM_HOME
  std::string store_path;     // the fleet database
  std::string id;             // the sandbox
  int ready_fd = -1;          // gets one report (supervisor/report.h) once ready, then closed
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

// The supervisor of a new sandbox (km create, km clone), forked at the very start of the
// command: the fork (copying the CLI's page tables) overlaps the profile loading, and the CLI
// has not opened the fleet database yet, so the child may open its own after the fork (an
// SQLite connection must never cross one). The child stages the sandbox's namespaces at once,
// waits for start()'s plan, builds the sandbox, reports, and then supervises it, the same
// process to the end. If the object is destroyed unused, the child sees end-of-file and exits.
class Prepared {
 public:
  [[nodiscard]] static Result<Prepared> fork();
  // Sends the plan (`plan_json` is plan::toJson(plan), which the caller has made already);
  // while the child builds the sandbox, runs `meanwhile` (km create writes the row, status
  // creating). Returns the new processes, which the caller records (status running). On
  // failure the child has already removed everything it made; if `meanwhile` fails, the new
  // sandbox is killed and its error returned.
  [[nodiscard]] Result<Started> start(const Options& options, const plan::SandboxPlan& plan,
                                      std::string_view plan_json, const std::string& log_path,
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

// Moves the logs of a sandbox (`files`' init.log and supervisor.log, with their rotated
// files) out of its directory into its failed_logs directory ($KM_HOME/failed/<id>/), for a create that failed: teardown removes
// the directory, and the error message names the kept files. Then prunes $KM_HOME/failed to
// the newest kFailedLogsKept directories, none older than kFailedLogsMaxAge. Returns the
// directory; NotFound when the sandbox's directory is gone, the failing call otherwise.
[[nodiscard]] Result<std::string> keepFailedLogs(const substrate::SandboxFiles& files);

// Sends one command to a supervisor's control socket and waits for its report. Commands:
// ping, stop, resume, pause, destroy. Returns the sandbox's state for ping ("running",
// "paused", "stopped"), "" otherwise; the supervisor's error with its own code when the
// command failed; Unavailable when nobody answers.
[[nodiscard]] Result<std::string> request(const std::string& socket_path, std::string_view command,
                                          std::chrono::milliseconds timeout);

}  // namespace km::supervisor
