// What the forked starts share (private to supervisor).
#pragma once

#include <string>

#include "core/result.h"
#include "core/sys.h"
#include "plan/plan.h"
#include "substrate/substrate.h"
#include "supervisor/supervisor.h"

namespace km::supervisor::detail {

// What a freshly forked supervisor sets up before its plan arrives: the creator is still
// loading the profile then, so none of it is on the way to a ready sandbox.
struct Early {
  sys::UniqueFd signal_fd;  // SIGTERM, SIGINT, SIGHUP (blocked from now on)
  sys::UniqueFd creator;    // pidfd of the creating command (our parent until it exits)
};
Early prepareEarly();

// The body of a freshly forked supervisor: builds the sandbox from `plan`, reports on
// `ready_fd`, then supervises it until it is destroyed. Returns the exit code.
// `staged`: a start made ahead of the plan, if any.
int serveNew(const Options& o, const plan::SandboxPlan& plan, int ready_fd,
             std::unique_ptr<substrate::Staged> staged, Early early);

// Reads the child's report from `ready_read` and turns it into Started; when `side` (the
// caller's work meanwhile) failed, kills the new sandbox and returns that error.
Result<Started> finishStart(const Options& o, plan::Substrate kind, int ready_read, const Status& side,
                            const std::string& log_path);

// In a freshly forked supervisor: a session of its own, stdin from /dev/null, stdout and
// stderr appended to `log_path`. Exits the process (127) when it cannot.
void detachStdio(const std::string& log_path);

}  // namespace km::supervisor::detail
