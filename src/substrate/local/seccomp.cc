// The sandbox's seccomp filter: compiled once with libseccomp, exported as a BPF program and
// installed by each new sandbox process with one prctl (no allocation in the child).
#include <errno.h>
#include <linux/fs.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

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
    // io_uring: a second system-call interface whose operations this filter cannot see
    // (as Docker's default profile refuses it)
    "io_uring_setup", "io_uring_enter", "io_uring_register",
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

// The kernel reads an ioctl request as a 32-bit unsigned int; the filter sees the whole
// register, so every comparison masks the upper half away (else a caller could set high
// bits and slip past an exact match).
constexpr scmp_datum_t kLow32 = 0xffffffffULL;

// ioctl requests refused (EPERM):
//  - TIOCSTI / TIOCLINUX push bytes into a terminal's input queue;
//  - FS_IOC_FSSETXATTR can change a file's project id, which disk accounting keys on;
//  - every btrfs ioctl (type 0x94): a subvolume or snapshot made inside the sandbox's disk
//    would be a new quota group with no limit, and the rest is administration.
struct IoctlRule {
  scmp_datum_t mask;
  scmp_datum_t value;
};
constexpr IoctlRule kRefusedIoctls[] = {
    {kLow32, TIOCSTI},
    {kLow32, TIOCLINUX},
    {kLow32, FS_IOC_FSSETXATTR},
    {0xff00, 0x9400},
};

// Socket families a sandbox may open: local, IPv4, IPv6 and netlink (ip(8), getaddrinfo).
// Every other family is answered EAFNOSUPPORT: vsock above all (not network-namespaced: a
// channel to the hypervisor that no network layer sees), and the rest (packet, alg, xdp,
// bluetooth, can, tipc, …) are kernel surface no agent needs.
constexpr int kLastAllowedFamily = AF_NETLINK;  // 16; AF_UNIX 1, AF_INET 2, AF_INET6 10
constexpr bool familyAllowed(int f) { return f == AF_UNIX || f == AF_INET || f == AF_INET6 || f == AF_NETLINK; }

Result<std::vector<sock_filter>> compile() {
  // Default allow; calls of a foreign architecture (i386, x32 on x86_64) are killed by
  // libseccomp's bad-arch action, so a 32-bit syscall cannot slip past the list.
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return unavailable("seccomp_init failed");
  struct Release {
    scmp_filter_ctx c;
    ~Release() { ::seccomp_release(c); }
  } release{ctx};
  auto fail = [](std::string what, int rc) { return sys::errnoError("seccomp", what, -rc); };
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
  for (const IoctlRule& r : kRefusedIoctls) {
    if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                    SCMP_A1(SCMP_CMP_MASKED_EQ, r.mask, r.value));
        rc < 0) {
      return fail("ioctl", rc);
    }
  }
  // socket(family, …): refused for every family below AF_NETLINK that is not allowed (on the
  // low 32 bits, which the kernel reads as the int), and for any register value above it (a
  // larger family, or high bits set over an allowed one).
  for (int f = 0; f < kLastAllowedFamily; ++f) {
    if (familyAllowed(f)) continue;
    if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                    SCMP_A0(SCMP_CMP_MASKED_EQ, kLow32, static_cast<scmp_datum_t>(f)));
        rc < 0) {
      return fail("socket", rc);
    }
  }
  if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                  SCMP_A0(SCMP_CMP_GT, static_cast<scmp_datum_t>(kLastAllowedFamily), scmp_datum_t{0}));
      rc < 0) {
    return fail("socket", rc);
  }
  // libseccomp 2.5 exports only to a file descriptor: a memfd, read back.
  sys::UniqueFd mem(::memfd_create("km-seccomp", MFD_CLOEXEC));
  if (!mem.valid()) return sys::errnoError("memfd_create", "seccomp program", errno);
  if (int rc = ::seccomp_export_bpf(ctx, mem.get()); rc < 0) return fail("export", rc);
  if (::lseek(mem.get(), 0, SEEK_SET) != 0) return sys::errnoError("lseek", "seccomp program", errno);
  auto bytes = sys::readAll(mem.get(), "seccomp program", 1 << 20);
  if (!bytes) return std::move(bytes).error();
  if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0) {
    return internalError("libseccomp exported a program of " + std::to_string(bytes->size()) + " bytes");
  }
  std::vector<sock_filter> prog(bytes->size() / sizeof(sock_filter));
  std::memcpy(prog.data(), bytes->data(), bytes->size());
  return prog;
}

}  // namespace

std::vector<std::string_view> refusedSyscalls() {
  return {std::begin(kRefused), std::end(kRefused)};
}

Result<const std::vector<sock_filter>*> seccompProgram() {
  static std::once_flag once;
  static Result<std::vector<sock_filter>> compiled = internalError("not compiled");
  std::call_once(once, [] { compiled = compile(); });
  if (!compiled) return compiled.error();
  return &*compiled;
}

}  // namespace km::substrate::local
