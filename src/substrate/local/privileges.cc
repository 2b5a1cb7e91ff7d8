#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
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

namespace {

int lastCapability() {
  auto text = fs::readFile("/proc/sys/kernel/cap_last_cap", 64);
  if (text) return std::atoi(text->c_str());
  return CAP_LAST_CAP;
}

Status setCapabilities(const std::vector<int>& keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int cap : keep) {
    data[cap / 32].effective |= 1U << (cap % 32);
    data[cap / 32].permitted |= 1U << (cap % 32);
  }
  if (::syscall(SYS_capset, &header, data) != 0) return sys::errnoError("capset", "", errno);
  return ok();
}

}  // namespace

Status dropPrivileges(const SandboxUser& user, bool root) {
  const std::vector<int> none;
  const std::vector<int>& keep = root ? rootCapabilities() : none;
  // The bounding set limits what any later execve can regain; dropping needs CAP_SETPCAP,
  // which we still have as real root here.
  int last = lastCapability();
  for (int cap = 0; cap <= last; ++cap) {
    if (std::find(keep.begin(), keep.end(), cap) != keep.end()) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return sys::errnoError("prctl", "PR_CAPBSET_DROP " + std::to_string(cap), errno);
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return sys::errnoError("prctl", "PR_CAP_AMBIENT_CLEAR_ALL", errno);
  }
  if (root) {
    if (::setgroups(0, nullptr) != 0) return sys::errnoError("setgroups", "root", errno);
    return setCapabilities(keep);
  }
  gid_t gid = user.gid;
  if (::setgroups(1, &gid) != 0) return sys::errnoError("setgroups", user.name, errno);
  if (::setresgid(gid, gid, gid) != 0) return sys::errnoError("setresgid", user.name, errno);
  // Leaving uid 0 clears the permitted and effective sets (no SECBIT_KEEP_CAPS).
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    return sys::errnoError("setresuid", user.name, errno);
  }
  return ok();
}

}  // namespace km::substrate::local
