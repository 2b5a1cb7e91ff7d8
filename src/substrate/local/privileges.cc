#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/fs.h"
#include "core/sys.h"
#include "substrate/local/confine.h"

namespace km::substrate::local {

const std::vector<int>& rootCapabilities() {
  static const std::vector<int> caps = {
      CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,           CAP_FSETID,      CAP_KILL,
      CAP_SETGID, CAP_SETUID,       CAP_SETPCAP,          CAP_NET_BIND_SERVICE,
      CAP_SYS_CHROOT, CAP_AUDIT_WRITE, CAP_SETFCAP};
  return caps;
}

Result<Confinement> prepareConfinement(const SandboxUser& user, bool root) {
  Confinement c;
  c.user = user;
  c.root = root;
  auto text = fs::readFile("/proc/sys/kernel/cap_last_cap", 64);
  c.last_cap = text ? std::atoi(text->c_str()) : CAP_LAST_CAP;
  auto filter = seccompProgram();
  if (!filter) return std::move(filter).error();
  c.filter = *filter;
  if (root) {
    for (int cap : rootCapabilities()) c.keep_mask |= uint64_t{1} << cap;
  }
  return c;
}

ConfineFailure applyConfinement(const Confinement& c) {
  // The sandbox's processes are the OOM killer's first choice, ahead of its init (whose end
  // stops the sandbox; the init's own -1000 needs CAP_SYS_RESOURCE, which some hosts' root
  // lacks) and of the host's processes. Raising it needs no privilege; inherited by children.
  if (int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); fd >= 0) {
    (void)!::write(fd, "500", 3);
    ::close(fd);
  }
  // The bounding set limits what any later execve can regain; dropping needs CAP_SETPCAP,
  // which we still have as real root here.
  for (int cap = 0; cap <= c.last_cap; ++cap) {
    if ((c.keep_mask >> cap) & 1) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return {"prctl(PR_CAPBSET_DROP)", errno};
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return {"prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno};
  }
  if (c.root) {
    if (::setgroups(0, nullptr) != 0) return {"setgroups", errno};
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    for (int i = 0; i < 2; ++i) {
      data[i].effective = data[i].permitted = static_cast<uint32_t>(c.keep_mask >> (32 * i));
    }
    if (::syscall(SYS_capset, &header, data) != 0) return {"capset", errno};
  } else {
    gid_t gid = c.user.gid;
    if (::setgroups(1, &gid) != 0) return {"setgroups", errno};
    if (::setresgid(gid, gid, gid) != 0) return {"setresgid", errno};
    // Leaving uid 0 clears the permitted and effective sets (no SECBIT_KEEP_CAPS).
    if (::setresuid(c.user.uid, c.user.uid, c.user.uid) != 0) return {"setresuid", errno};
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return {"prctl(PR_SET_NO_NEW_PRIVS)", errno};
  sock_fprog prog{static_cast<unsigned short>(c.filter->size()),
                  const_cast<sock_filter*>(c.filter->data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) return {"prctl(PR_SET_SECCOMP)", errno};
  return {};
}

}  // namespace km::substrate::local
