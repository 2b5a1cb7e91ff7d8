// Removing a sandbox from this host: the one teardown that the supervisor (destroy, expiry, a
// failed create), `km destroy` without a supervisor, orphan handling and `km doctor --fix`
// all use. Each step is idempotent and the directory with km's records goes last, so a
// teardown that fails part-way (a process stuck in the kernel, a busy mount) can run again
// until it completes.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "audit/exec_audit.h"
#include "core/fs.h"
#include "core/sys.h"
#include "core/tree.h"
#include "doc/json_io.h"
#include "doc/node.h"
#include "net/bpf/gate.h"
#include "net/link.h"
#include "net/nft.h"
#include "substrate/local/disk.h"
#include "substrate/local/local.h"

namespace km::substrate::local {

namespace {

// Ends every process in the supervisor's cgroup but the caller (which moves out first): a
// supervisor that outlived its sandbox, or the one asking.
Status endSupervisors(const Cgroups& cg) {
  pid_t self = ::getpid();
  for (pid_t p : cg.processes()) {
    if (p == self) KM_TRY(cg.leave());
  }
  return killCgroupProcesses(cg, [] { return true; }, "a supervisor process");
}

// The host end of the sandbox's veth as its supervisor recorded it (net_file, written only by
// km, while the sandbox runs); "" when none is recorded.
std::string recordedVeth(const Layout& layout) {
  auto text = fs::readFile(layout.net_file);
  doc::Node facts;
  if (!text || !doc::parseJson(*text, facts, nullptr)) return "";
  const doc::Node* veth = facts.find("veth");
  std::string name = veth != nullptr ? veth->text() : "";
  // Only a name km gives its veths: a damaged record must not name a host interface.
  if (name.size() <= std::string_view(net::kVethPrefix).size() || !name.starts_with(net::kVethPrefix) ||
      name.find('/') != std::string::npos || name.size() >= 16) {
    return "";
  }
  return name;
}

// Deletes the host end of the sandbox's veth (the kernel deletes its peer with it). Once the
// sandbox's processes are gone it would go with their network namespace anyway, but the
// kernel does that in the background: deleting it here means it is gone when destroy returns.
Status removeVeth(const std::string& name) {
  auto linkExists = [&] { return ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0; };
  if (name.empty() || !linkExists()) return ok();
  auto nl = net::Netlink::open();
  if (!nl) return std::move(nl).error();
  Status s = nl->deleteLink(name);
  if (!s && linkExists()) return s;
  return ok();  // deleted, or the kernel got there first
}

}  // namespace

std::string pinDir(std::string_view km_home, std::string_view id) {
  return net::EgressGate::pinDir(homeTag(km_home), id);
}

std::vector<std::string> pinnedSandboxes(std::string_view km_home) {
  // Every pin directory of this home starts with pinDir(km_home, "") and ends with the id.
  std::string prefix = pinDir(km_home, "");
  std::string parent = prefix.substr(0, prefix.rfind('/'));
  std::string name_prefix = prefix.substr(parent.size() + 1);
  std::vector<std::string> out;
  DIR* d = ::opendir(parent.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() > name_prefix.size() && name.starts_with(name_prefix)) {
      out.emplace_back(name.substr(name_prefix.size()));
    }
  }
  ::closedir(d);
  return out;
}

Status teardown(const std::string& km_home, const std::string& id, pid_t init_pid, uint64_t init_start) {
  KM_TRY(requireRoot("removing a sandbox"));
  HostCgroups host = detectCgroups();
  std::string group = cgroupGroup(km_home);
  Cgroups sandbox = Cgroups::existing(host, group, id);
  Cgroups supervisor = Cgroups::existing(host, group, id, CgroupPart::kSupervisor);
  Layout layout = Layout::forSandbox(km_home, id);
  if (sandbox.frozen()) (void)sandbox.freeze(false);  // SIGKILL must be deliverable
  // Deleting a veth waits for the kernel's RCU grace periods (14-18 ms, the longest step of a
  // teardown) without using a CPU; it runs while the sandbox's processes are killed and
  // reaped (~5 ms), which it does not depend on.
  Status veth = ok();
  std::thread veth_remover([&veth, name = recordedVeth(layout)] { veth = removeVeth(name); });
  Status killed = killAll(init_pid, init_start, sandbox);
  if (killed) killed = endSupervisors(supervisor);
  veth_remover.join();
  KM_TRY(std::move(killed));
  KM_TRY(std::move(veth));
  KM_TRY(sandbox.remove());
  KM_TRY(supervisor.remove());
  // The exec audit's registration of the cgroup (its supervisor's stop has dropped it, unless
  // the supervisor was killed).
  if (!host.v2_root.empty()) audit::ExecAudit::sweep(host.v2_root);
  KM_TRY(net::EgressGate::removePins(pinDir(km_home, id)));
  auto disks = Disks::attach(km_home);
  if (!disks) return std::move(disks).error();
  KM_TRY(disks->remove(layout.volume_name));
  KM_TRY(disks->remove(layout.disk_name));
  if (auto user = sandboxUser(layout)) releaseSandboxUser(*user, km_home, id);
  return tree::removeTree(layout.dir);
}

}  // namespace km::substrate::local
