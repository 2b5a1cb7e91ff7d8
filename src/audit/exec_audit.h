// km::audit::ExecAudit — the command log of one sandbox: eBPF programs on the kernel's exec
// and exit tracepoints (bpf/exec.bpf.c) that record every program executed by a process in
// the sandbox's cgroup (or a cgroup below it), and a thread that turns their records into
// ExecRecord / ExitRecord lines of a Writer (redacted there). Whoever starts a process inside
// — km exec, a shell, a script, an agent, root — it is seen: the programs look at the
// kernel's task, not at anything the sandbox can change.
//
// The programs are attached through links held by this object (not pinned): they run while
// the supervisor that made it runs. Needs root and a kernel with BTF (/sys/kernel/btf/vmlinux).
// Not thread-safe; start/stop from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "audit/audit.h"
#include "core/result.h"

namespace km::audit {

class ExecAudit {
 public:
  // Loads the programs and verifies them for a sandbox whose init is at pid namespace level
  // `ns_level` (1 when km runs in the host's first namespace): the pids recorded are those
  // inside. Unavailable, saying what is missing, when the kernel cannot (no BTF, no BPF).
  [[nodiscard]] static Result<std::unique_ptr<ExecAudit>> load(uint32_t ns_level);
  ~ExecAudit();  // stop(), then the links and maps go
  ExecAudit(const ExecAudit&) = delete;
  ExecAudit& operator=(const ExecAudit&) = delete;

  // Attaches to the execs and exits of processes under `cgroup_v2_dir` and starts the thread
  // that writes their records to `out` (which must outlive stop()). The thread reads every
  // 100 ms, or sooner when the ring buffer is filling.
  [[nodiscard]] Status start(const std::string& cgroup_v2_dir, Writer& out);
  // Stops the thread after a last read, flushes `out` and detaches. Idempotent.
  void stop();

  // Records read and written, and records the kernel could not queue (also written to the log
  // as "gap" records). Cumulative.
  uint64_t recorded() const;
  uint64_t lost() const;

 private:
  struct Impl;
  explicit ExecAudit(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The pid namespace level of process `pid` (0 for the host's first namespace), from the
// NSpid line of /proc/PID/status. NotFound when the process is gone.
[[nodiscard]] Result<uint32_t> pidNamespaceLevel(int pid);

}  // namespace km::audit
