// km's exec audit: raw tracepoints on every exec and every process exit of the host, which
// record only those of tasks under a registered sandbox's cgroup (or a cgroup below it), each
// to that sandbox's own ring buffer.
//   sched_process_exec  the command line (from the new image's argument area), the name the
//                       caller gave the file, the file's own path (walked up to the top of
//                       the mount tree), the working directory (walked up to the task's root,
//                       crossing mounts), pid and parent pid in the sandbox's namespace, uid
//   sched_process_exit  for a process whose exec was recorded, once its last thread is gone:
//                       the exit code and how long it ran
// Records go to a ring buffer; the reader is woken only when it is filling, and otherwise
// reads on its own clock, so an exec costs no context switch. A record that does not fit is
// counted (lost), never waited for.
// Kernel structures are declared here with only the fields read, relocated by libbpf against
// the running kernel's BTF (CO-RE): no vmlinux.h, no kernel headers beyond UAPI.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "audit/bpf/exec_shared.h"

char LICENSE[] SEC("license") = "GPL";

#define KM_PAI __attribute__((preserve_access_index))

struct qstr {
  const unsigned char* name;
} KM_PAI;
struct dentry {
  struct dentry* d_parent;
  struct qstr d_name;
} KM_PAI;
struct vfsmount {
  struct dentry* mnt_root;
} KM_PAI;
struct mount {
  struct mount* mnt_parent;
  struct dentry* mnt_mountpoint;
  struct vfsmount mnt;
} KM_PAI;
struct path {
  struct vfsmount* mnt;
  struct dentry* dentry;
} KM_PAI;
struct fs_struct {
  struct path root;
  struct path pwd;
} KM_PAI;
struct mm_struct {
  unsigned long arg_start;
  unsigned long arg_end;
} KM_PAI;
struct upid {
  int nr;
  void* ns;
} KM_PAI;
struct pid {
  unsigned int level;
  struct upid numbers[1];
} KM_PAI;
typedef struct {
  unsigned int val;
} kuid_t;
struct cred {
  kuid_t uid;
} KM_PAI;
typedef struct {
  int counter;
} atomic_t;
struct signal_struct {
  atomic_t live;
} KM_PAI;
struct task_struct {
  int tgid;
  struct task_struct* real_parent;
  struct mm_struct* mm;
  struct fs_struct* fs;
  const struct cred* cred;
  struct pid* thread_pid;
  int exit_code;
  struct signal_struct* signal;
} KM_PAI;
struct file {
  struct path f_path;
} KM_PAI;
struct linux_binprm {
  const char* filename;
  struct file* file;
} KM_PAI;

// Every sandbox of the host shares these programs (loaded once, pinned; see exec_audit.cc).
// A sandbox is named by its cgroup's id; its entry says its pid namespace level and counts
// what its ring could not take, and its ring is its own (a sandbox that floods fills only
// its ring).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KM_EXEC_SANDBOXES);
  __type(key, __u64);
  __type(value, struct km_sandbox);
} km_exec_sandboxes SEC(".maps");

struct km_ring {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, KM_EXEC_RING_BYTES);
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, KM_EXEC_SANDBOXES);
  __type(key, __u64);
  __array(values, struct km_ring);
} km_exec_rings SEC(".maps");

// Where an exec record is assembled before it is copied to the ring at its real size.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct km_exec_event);
} km_exec_scratch SEC(".maps");

// Processes whose exec was recorded (host tgid → when, and whose), so their exit is too.
struct km_live {
  __u64 exec_ts_ns;
  __u64 sandbox;  // the cgroup id the exec was recorded under
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KM_EXEC_TRACKED);
  __type(key, __u32);
  __type(value, struct km_live);
} km_exec_live SEC(".maps");

// The sandbox the current task is in: the outermost of its cgroup's ancestors (itself
// included) that is registered, so cgroups a root shell makes below a sandbox's count too.
// 0 when none (a host process: a few lookups, then nothing).
static __always_inline __u64 currentSandbox(struct km_sandbox** entry) {
  for (int level = 1; level < KM_EXEC_CGROUP_DEPTH; ++level) {
    __u64 id = bpf_get_current_ancestor_cgroup_id(level);
    if (id == 0) return 0;  // deeper than the task's own cgroup
    struct km_sandbox* s = bpf_map_lookup_elem(&km_exec_sandboxes, &id);
    if (s) {
      *entry = s;
      return id;
    }
  }
  return 0;
}

static __always_inline void countLost(struct km_sandbox* s) {
  if (s) __sync_fetch_and_add(&s->lost, 1);
}

static __always_inline __u64 wakeFlags(void* ring) {
  return bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) > KM_EXEC_RING_BYTES / 8 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline __u32 nsPid(struct task_struct* task, __u32 want) {
  struct pid* pid = BPF_CORE_READ(task, thread_pid);
  if (!pid) return 0;
  unsigned int level = BPF_CORE_READ(pid, level);
  if (level < want || want > 31) return 0;
  int nr = 0;
  bpf_core_read(&nr, sizeof nr, &pid->numbers[want].nr);
  return (__u32)nr;
}

static __always_inline void fillHead(struct km_exec_head* h, struct task_struct* task, __u32 kind, __u32 ns_level) {
  h->ts_ns = bpf_ktime_get_ns();
  h->kind = kind;
  h->host_pid = (__u32)BPF_CORE_READ(task, tgid);
  h->pid = nsPid(task, ns_level);
  h->ppid = nsPid(BPF_CORE_READ(task, real_parent), ns_level);
  h->uid = BPF_CORE_READ(task, cred, uid.val);
  h->flags = 0;
  h->argv_len = h->path_len = h->cwd_len = h->exe_len = 0;
  h->exit_code = 0;
  h->pad2 = 0;
  h->exec_ts_ns = 0;
}

// One walk up a path: from (dentry, vfsmnt) to (root_dentry, root_mnt) — or, when no root is
// given, to the top of the mount tree — putting the names innermost first, each
// NUL-terminated, at ev->data[off + used]. Run by bpf_loop, so the verifier checks one step,
// not every step of every walk.
struct walk {
  struct km_exec_event* ev;
  struct dentry* dentry;
  struct vfsmount* vfsmnt;
  struct mount* mnt;
  struct dentry* root_dentry;
  struct vfsmount* root_mnt;
  __u32 off, used;
  int done;
};

static long walkStep(__u32 index, void* ctx) {
  struct walk* w = ctx;
  // Plain locals: BPF_CORE_READ on w->… would relocate struct walk too (not a kernel type).
  struct dentry* dentry = w->dentry;
  struct vfsmount* vfsmnt = w->vfsmnt;
  struct mount* mnt = w->mnt;
  if (w->root_dentry && dentry == w->root_dentry && vfsmnt == w->root_mnt) {
    w->done = 1;
    return 1;
  }
  struct dentry* mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
  if (dentry == mnt_root) {
    struct mount* parent = BPF_CORE_READ(mnt, mnt_parent);
    if (parent == mnt) {  // the top of the mount tree
      w->done = 1;
      return 1;
    }
    w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = parent;
    w->vfsmnt = (struct vfsmount*)((char*)parent + bpf_core_field_offset(struct mount, mnt));
    return 0;
  }
  if (w->used >= KM_EXEC_CWD_MAX) return 1;
  const unsigned char* name = BPF_CORE_READ(dentry, d_name.name);
  __u32 at = (w->off + w->used) & (KM_EXEC_DATA - 1);
  if (at > KM_EXEC_DATA - KM_EXEC_NAME_MAX) return 1;
  struct km_exec_event* ev = w->ev;
  long n = bpf_probe_read_kernel_str(&ev->data[at], KM_EXEC_NAME_MAX, name);
  if (n <= 0) return 1;
  w->used += (__u32)n;
  struct dentry* parent = BPF_CORE_READ(dentry, d_parent);
  if (parent == dentry) {  // a detached directory (deleted, or a lazily unmounted tree)
    w->done = 1;
    return 1;
  }
  w->dentry = parent;
  return 0;
}

// Returns the bytes written; `cut` is set when the walk did not reach its end.
static __always_inline __u32 walkPath(struct km_exec_event* ev, __u32 off, struct dentry* dentry,
                                      struct vfsmount* vfsmnt, struct dentry* root_dentry,
                                      struct vfsmount* root_mnt, int* cut) {
  struct walk w = {
      .ev = ev,
      .dentry = dentry,
      .vfsmnt = vfsmnt,
      .mnt = (struct mount*)((char*)vfsmnt - bpf_core_field_offset(struct mount, mnt)),
      .root_dentry = root_dentry,
      .root_mnt = root_mnt,
      .off = off,
      .used = 0,
      .done = 0,
  };
  bpf_loop(KM_EXEC_CWD_DEPTH, walkStep, &w, 0);
  *cut = !w.done;
  return w.used;
}

// The working directory, up to the task's root.
static __always_inline __u32 readCwd(struct km_exec_event* ev, __u32 off, struct task_struct* task) {
  struct fs_struct* fs = BPF_CORE_READ(task, fs);
  if (!fs) {
    ev->head.flags |= KM_EXEC_CWD_UNKNOWN;
    return 0;
  }
  int cut = 0;
  __u32 used = walkPath(ev, off, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt),
                        BPF_CORE_READ(fs, root.dentry), BPF_CORE_READ(fs, root.mnt), &cut);
  if (cut) ev->head.flags |= KM_EXEC_CWD_CUT;
  return used;
}

// The file executed, walked to the top of the sandbox's mount tree, not to the task's root: a
// chroot, a file descriptor or a path padded with "./" do not hide what ran.
static __always_inline __u32 readExe(struct km_exec_event* ev, __u32 off, struct linux_binprm* bprm) {
  struct file* file = BPF_CORE_READ(bprm, file);
  if (!file) {
    ev->head.flags |= KM_EXEC_EXE_UNKNOWN;
    return 0;
  }
  int cut = 0;
  __u32 used = walkPath(ev, off, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), 0, 0, &cut);
  if (cut) ev->head.flags |= KM_EXEC_EXE_CUT;
  return used;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(km_on_exec, struct task_struct* task, int old_pid, struct linux_binprm* bprm) {
  struct km_sandbox* sandbox = 0;
  __u64 sandbox_id = currentSandbox(&sandbox);
  if (!sandbox_id || !sandbox) return 0;
  void* ring = bpf_map_lookup_elem(&km_exec_rings, &sandbox_id);
  if (!ring) return 0;  // registered, its ring not yet (or no longer)
  __u32 zero = 0;
  struct km_exec_event* ev = bpf_map_lookup_elem(&km_exec_scratch, &zero);
  if (!ev) return 0;
  fillHead(&ev->head, task, KM_EXEC_KIND_EXEC, sandbox->ns_level);

  // The command line, as the new image's argument area holds it (after exec, so a
  // #! script's line is the interpreter's: "/bin/sh ./script arg").
  struct mm_struct* mm = BPF_CORE_READ(task, mm);
  unsigned long start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
  __u32 argv_len = 0;
  if (end > start) {
    unsigned long len = end - start;
    if (len > KM_EXEC_ARGV_MAX) {
      len = KM_EXEC_ARGV_MAX;
      ev->head.flags |= KM_EXEC_ARGV_CUT;
    }
    argv_len = (__u32)len & (KM_EXEC_ARGV_MAX * 2 - 1);
    if (argv_len > KM_EXEC_ARGV_MAX) argv_len = KM_EXEC_ARGV_MAX;
    if (bpf_probe_read_user(ev->data, argv_len, (const void*)start) != 0) argv_len = 0;
  }
  __u32 off = argv_len;

  long n = bpf_probe_read_kernel_str(&ev->data[off & (KM_EXEC_ARGV_MAX * 2 - 1)], KM_EXEC_PATH_MAX,
                                     BPF_CORE_READ(bprm, filename));
  __u32 path_len = n > 0 ? (__u32)n : 0;
  if (path_len == KM_EXEC_PATH_MAX) ev->head.flags |= KM_EXEC_PATH_CUT;  // filled: the name went on
  off += path_len;

  __u32 cwd_len = readCwd(ev, off, task);
  off += cwd_len;
  __u32 exe_len = readExe(ev, off, bprm);
  ev->head.argv_len = (__u16)argv_len;
  ev->head.path_len = (__u16)path_len;
  ev->head.cwd_len = (__u16)cwd_len;
  ev->head.exe_len = (__u16)exe_len;

  __u32 host_pid = ev->head.host_pid;
  struct km_live live = {.exec_ts_ns = ev->head.ts_ns, .sandbox = sandbox_id};
  bpf_map_update_elem(&km_exec_live, &host_pid, &live, BPF_ANY);

  __u64 size = sizeof(struct km_exec_head) + off + exe_len;
  if (size > sizeof(struct km_exec_event)) size = sizeof(struct km_exec_event);
  if (bpf_ringbuf_output(ring, ev, size, wakeFlags(ring)) != 0) countLost(sandbox);
  return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(km_on_exit, struct task_struct* task) {
  // The last thread of the group: live drops to 0 before this tracepoint.
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;
  __u32 host_pid = (__u32)BPF_CORE_READ(task, tgid);
  struct km_live* live = bpf_map_lookup_elem(&km_exec_live, &host_pid);
  if (!live) return 0;  // never executed in a sandbox (a fork, or a process outside)
  __u64 started = live->exec_ts_ns, sandbox_id = live->sandbox;
  bpf_map_delete_elem(&km_exec_live, &host_pid);
  struct km_sandbox* sandbox = bpf_map_lookup_elem(&km_exec_sandboxes, &sandbox_id);
  void* ring = bpf_map_lookup_elem(&km_exec_rings, &sandbox_id);
  if (!sandbox || !ring) return 0;  // the sandbox's audit has stopped
  struct km_exec_head* h = bpf_ringbuf_reserve(ring, sizeof(struct km_exec_head), 0);
  if (!h) {
    countLost(sandbox);
    return 0;
  }
  fillHead(h, task, KM_EXEC_KIND_EXIT, sandbox->ns_level);
  h->exit_code = BPF_CORE_READ(task, exit_code);
  h->exec_ts_ns = started;
  bpf_ringbuf_submit(h, wakeFlags(ring));
  return 0;
}
