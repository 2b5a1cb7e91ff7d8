// km::audit::ExecAudit — the command log of one sandbox: eBPF programs on the kernel's exec
// and exit tracepoints (bpf/exec.bpf.c) that record every program executed by a process in
// the sandbox's cgroup (or a cgroup below it), and a thread that turns their records into
// ExecRecord / ExitRecord lines of a Writer (redacted there). Whoever starts a process inside
// — km exec, a shell, a script, an agent, root — it is seen: the programs look at the
// kernel's task, not at anything the sandbox can change.
//
// One set of programs serves every sandbox of the host: the first supervisor loads it and
// pins it under /sys/fs/bpf/km/exec-audit-TAG (TAG: this build's programs and the kernel), the
// others open the pins; each sandbox registers its cgroup's id and a ring buffer of its own.
// The programs are attached (links pinned there too) only while some sandbox is registered;
// when the last one stops they stay loaded, detached, for the next. Without bpffs a
// supervisor loads a private set. Needs root and a kernel with BTF (/sys/kernel/btf/vmlinux).
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
  // Opens the shared programs (loading them the first time) for a sandbox whose init is at pid
  // namespace level `ns_level` (1 when km runs in the host's first namespace): the pids
  // recorded are those inside. Unavailable, saying what is missing, when the kernel cannot
  // (no BTF, no BPF).
  [[nodiscard]] static Result<std::unique_ptr<ExecAudit>> load(uint32_t ns_level);
  ~ExecAudit();  // stop(), then the links and maps go
  ExecAudit(const ExecAudit&) = delete;
  ExecAudit& operator=(const ExecAudit&) = delete;

  // Attaches to the execs and exits of processes under `cgroup_v2_dir` and starts the thread
  // that writes their records to `out` (which must outlive stop()). The thread reads every
  // 100 ms, or sooner when the ring buffer is filling.
  [[nodiscard]] Status start(const std::string& cgroup_v2_dir, Writer& out);
  // Unregisters the sandbox, stops the thread after a last read and flushes `out`; the
  // programs are detached when no sandbox is left. Idempotent.
  void stop();

  // Drops the registrations of sandboxes whose cgroup is gone (their supervisor died and they
  // were destroyed without it), detaching the programs when none is left, and older builds'
  // unused sets. `cgroup_v2_any` is any directory of the cgroup2 hierarchy. Best effort.
  static void sweep(const std::string& cgroup_v2_any);

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
