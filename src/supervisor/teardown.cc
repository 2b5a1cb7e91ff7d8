// Removing a sandbox from this host: the one teardown that `km destroy` (through the
// supervisor or, with none, itself), TTL expiry and `km doctor --fix` all use. Each step is
// idempotent and the directory with km's records goes last, so a teardown that fails part-way
// (a process stuck in the kernel, a busy mount) can run again until it completes.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/sys.h"
#include "core/tree.h"
#include "net/bpf/gate.h"
#include "substrate/local/disk.h"
#include "substrate/local/local.h"
#include "supervisor/supervisor.h"

namespace km::supervisor {

namespace local = substrate::local;

namespace {

// Ends every process in the supervisor's cgroup but the caller (which moves out first): a
// supervisor that outlived its sandbox, or the one asking.
Status endSupervisors(const local::Cgroups& cg) {
  using namespace std::chrono_literals;
  pid_t self = ::getpid();
  for (pid_t p : cg.processes()) {
    if (p == self) KM_TRY(cg.leave());
  }
  for (int i = 0; i < 5000; ++i) {
    auto left = cg.processes();
    if (left.empty()) return ok();
    for (pid_t p : left) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(1ms);
  }
  return unavailable("a supervisor process survived SIGKILL for 5 s");
}

}  // namespace

Status teardown(const std::string& km_home, const std::string& id, pid_t init_pid, uint64_t init_start) {
  KM_TRY(local::requireRoot("removing a sandbox"));
  local::HostCgroups host = local::detectCgroups();
  std::string group = local::cgroupGroup(km_home);
  local::Cgroups sandbox = local::Cgroups::existing(host, group, id);
  local::Cgroups supervisor = local::Cgroups::existing(host, group, id, local::CgroupPart::kSupervisor);
  if (sandbox.frozen()) (void)sandbox.freeze(false);  // SIGKILL must be deliverable
  KM_TRY(local::killAll(init_pid, init_start, sandbox));
  KM_TRY(endSupervisors(supervisor));
  KM_TRY(sandbox.remove());
  KM_TRY(supervisor.remove());
  KM_TRY(net::EgressGate::removePins(net::EgressGate::pinDir(local::homeTag(km_home), id)));
  local::Layout layout = local::Layout::forSandbox(km_home, id);
  auto disks = local::Disks::attach(km_home);
  if (!disks) return std::move(disks).error();
  KM_TRY(disks->remove(layout.volume_name));
  KM_TRY(disks->remove(layout.disk_name));
  if (auto user = local::sandboxUser(layout)) local::releaseSandboxUser(*user, km_home, id);
  return tree::removeTree(layout.dir);
}

}  // namespace km::supervisor
