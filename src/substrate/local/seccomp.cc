#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>

#include "core/sys.h"
#include "substrate/local/confine.h"

namespace km::substrate::local {
namespace {

// Calls that would let a process leave or reshape its sandbox, reach the kernel's
// privileged interfaces, or inspect other processes. Answered with EPERM.
constexpr std::string_view kRefused[] = {
    // mounts and filesystem views
    "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr",
    // namespaces
    "unshare", "setns",
    // eBPF, tracing and other processes' memory
    "bpf", "ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open",
    "userfaultfd",
    // kernel images, modules and keyrings
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "add_key", "request_key", "keyctl",
    // host-wide state
    "reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "syslog", "quotactl", "iopl", "ioperm", "open_by_handle_at",
    "name_to_handle_at", "lookup_dcookie", "vhangup",
};

constexpr int kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWPID, CLONE_NEWNET,   CLONE_NEWUTS,
                                   CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWCGROUP};

}  // namespace

std::vector<std::string_view> refusedSyscalls() {
  return {std::begin(kRefused), std::end(kRefused)};
}

Status loadSeccompFilter() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return sys::errnoError("prctl", "PR_SET_NO_NEW_PRIVS", errno);
  }
  // Default allow; calls of a foreign architecture (i386, x32 on x86_64) are killed by
  // libseccomp's bad-arch action, so a 32-bit syscall cannot slip past the list.
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return unavailable("seccomp_init failed");
  auto fail = [&](std::string what, int rc) {
    ::seccomp_release(ctx);
    return sys::errnoError("seccomp", what, -rc);
  };
  for (std::string_view name : kRefused) {
    int nr = ::seccomp_syscall_resolve_name(std::string(name).c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0); rc < 0) {
      return fail(std::string(name), rc);
    }
  }
  // clone() may make threads and processes but no namespaces; clone3 passes its flags in
  // memory the filter cannot read, so it reports ENOSYS and libc falls back to clone().
  for (int flag : kNamespaceFlags) {
    auto bits = static_cast<scmp_datum_t>(flag);
    if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                    SCMP_A0(SCMP_CMP_MASKED_EQ, bits, bits));
        rc < 0) {
      return fail("clone", rc);
    }
  }
  int nr_clone3 = ::seccomp_syscall_resolve_name("clone3");
  if (nr_clone3 != __NR_SCMP_ERROR) {
    if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr_clone3, 0); rc < 0) {
      return fail("clone3", rc);
    }
  }
  int rc = ::seccomp_load(ctx);
  ::seccomp_release(ctx);
  if (rc < 0) return sys::errnoError("seccomp_load", "sandbox filter", -rc);
  return ok();
}

}  // namespace km::substrate::local
