// Starting one process inside a running sandbox (private to local): the caller stays in its
// own namespaces and cgroups; only the child joins the sandbox's. See session.cc for the I/O
// relay that uses it.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/result.h"
#include "core/sys.h"
#include "substrate/local/local.h"

namespace km::substrate::local {

// The child's standard streams: fds of the caller that become its 0, 1 and 2 (pipes or a
// pty slave, never the caller's own terminal). With `controlling_terminal` fd 0 is a pty
// slave the child makes its controlling terminal (TIOCSCTTY in a new session).
struct ChildStdio {
  int fd[3] = {-1, -1, -1};
  bool controlling_terminal = false;
};

struct Spawned {
  pid_t pid = 0;
  sys::UniqueFd pidfd;  // readable when the child has exited
  // The command itself could not be executed (the child is reaped, pid 0): the status a
  // shell gives — 127 not found, 126 found but not executable — and the message for stderr.
  int exec_status = 0;
  std::string exec_message;
};

// Forks a child of the caller into the sandbox's pid namespace; the child joins the
// sandbox's cgroups and its cgroup, ipc, uts, net and mount namespaces, starts a session of
// its own, takes `stdio`, drops to the sandbox user with km's seccomp filter and execs
// `spec.argv`. Returns once the exec happened, or with `exec_status` 127/126 when the command
// is not there or cannot be executed (as a shell); Unavailable with the failing step when
// entering the sandbox failed (the child already reaped in both cases). The caller reaps
// the returned child. Thread-safe enough for a multi-threaded caller: the child makes only
// system calls.
[[nodiscard]] Result<Spawned> spawnInside(const EnterSpec& spec, const Cgroups& cgroups,
                                          const ChildStdio& stdio);

// The pid of the sandbox's init checked against its start time, as a pidfd (pid reuse
// cannot swap in another process after this). Unavailable when init is gone.
[[nodiscard]] Result<sys::UniqueFd> initPidfd(pid_t init_pid, uint64_t init_start);

}  // namespace km::substrate::local
