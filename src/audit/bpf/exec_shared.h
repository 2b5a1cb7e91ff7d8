// What the exec audit programs (exec.bpf.c) and their loader (exec_audit.cc) share: the
// records on the ring buffer. Plain C, fixed-width types, no padding surprises (every field
// aligned to its size).
#ifndef KM_AUDIT_BPF_EXEC_SHARED_H_
#define KM_AUDIT_BPF_EXEC_SHARED_H_

#include <linux/types.h>

#define KM_EXEC_ARGV_MAX 4096   // bytes of the command line kept (NUL-separated arguments)
#define KM_EXEC_PATH_MAX 512    // bytes of the executed file's name kept
#define KM_EXEC_CWD_MAX 1024    // bytes of the working directory's names kept
#define KM_EXEC_NAME_MAX 256    // one directory entry's name, as read
#define KM_EXEC_CWD_DEPTH 48    // directories walked up (and mounts crossed) at most
#define KM_EXEC_DATA 8192       // room for argv, path, cwd and exe one after another
#define KM_EXEC_RING_BYTES (2u << 20)
#define KM_EXEC_TRACKED 65536   // processes whose exit is awaited (all sandboxes)
#define KM_EXEC_SANDBOXES 4096  // sandboxes audited at once on one host
#define KM_EXEC_CGROUP_DEPTH 32 // cgroup levels looked at for a sandbox's

#define KM_EXEC_KIND_EXEC 1
#define KM_EXEC_KIND_EXIT 2

// flags
#define KM_EXEC_ARGV_CUT 1u      // the command line was longer than KM_EXEC_ARGV_MAX
#define KM_EXEC_CWD_CUT 2u       // the directory was deeper or longer than kept
#define KM_EXEC_CWD_UNKNOWN 4u   // no directory could be read
#define KM_EXEC_PATH_CUT 8u      // the name the caller gave was longer than KM_EXEC_PATH_MAX
#define KM_EXEC_EXE_CUT 16u      // the executable's resolved path was deeper or longer than kept
#define KM_EXEC_EXE_UNKNOWN 32u  // the executable's path could not be read

struct km_exec_head {
  __u64 ts_ns;       // CLOCK_MONOTONIC
  __u32 kind;        // KM_EXEC_KIND_*
  __u32 host_pid;    // the thread group id in the host's (km's) pid namespace
  __u32 pid;         // in the sandbox's pid namespace; 0 when the process is outside it
  __u32 ppid;        // the parent's, in the sandbox's pid namespace; 0 when outside
  __u32 uid;
  __u32 flags;
  // exec: the lengths of the four parts of data, in this order: the command line, the name
  // the caller gave, the working directory and the executable file's own path (its names
  // innermost first, walked to the top of the mount tree). Each piece is NUL-terminated.
  __u16 argv_len, path_len, cwd_len, exe_len;
  // exit: the raw exit code (status << 8 | core << 7 | signal) and the run time.
  __s32 exit_code;
  __u32 pad2;
  __u64 exec_ts_ns;  // exit: when the process executed (0 when not known)
};

struct km_exec_event {
  struct km_exec_head head;
  char data[KM_EXEC_DATA];
};

// A registered sandbox (key: its cgroup's id).
struct km_sandbox {
  __u32 ns_level;  // of the sandbox's init: the pids recorded are those inside
  __u32 pad;
  __u64 lost;      // records that did not fit in the sandbox's ring
};

#endif  // KM_AUDIT_BPF_EXEC_SHARED_H_
