#include <dirent.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <sstream>

#include "core/fs.h"
#include "core/sys.h"
#include "fleet/fleet.h"
#include "substrate/local/disk.h"
#include "substrate/local/local.h"
#include "supervisor/supervisor.h"

namespace km::fleet {

namespace local = substrate::local;
using S = store::SandboxStatus;

HostLimits hostLimits(const std::string& km_home) {
  local::HostCgroups h = local::detectCgroups();
  HostLimits out;
  local::DiskStatus disk = local::describeDisks(km_home);
  out.disk = disk.text;
  out.disk_enforced = disk.state == local::DiskStatus::State::kStore;
  out.memory = std::string(local::versionName(h.memory));
  out.cpu = std::string(local::versionName(h.cpu));
  out.pids = std::string(local::versionName(h.pids));
  out.freezer = std::string(local::versionName(h.freezer));
  out.hybrid = h.hybrid();
  out.root = ::geteuid() == 0;
  return out;
}

namespace {

std::string baseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Mount points under `dir` in this (the host's) mount namespace: sandbox mounts live only in
// sandbox namespaces, so any here is a leak.
std::vector<std::string> mountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::istringstream in(fs::readFile("/proc/self/mountinfo").value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mp;
    f >> id >> parent >> dev >> root >> mp;
    if (mp.size() > dir.size() && mp.compare(0, dir.size() + 1, dir + "/") == 0) out.push_back(mp);
  }
  return out;
}

}  // namespace

Result<std::vector<Finding>> doctor(const Env& env, store::FleetStore& store, bool fix) {
  std::vector<Finding> out;
  if (fix) KM_TRY(local::requireRoot("km doctor --fix"));
  auto rows = store.list();
  if (!rows) return std::move(rows).error();
  std::set<std::string> known;
  for (const auto& r : *rows) {
    known.insert(r.id);
    Health h = health(r);
    Finding f{r.id, "", "", false};
    if (r.status == S::kCreating || r.status == S::kDestroying || r.status == S::kFailed) {
      if (h.supervisor_alive) continue;  // a create or destroy is in progress
      f.problem = "left " + std::string(store::statusName(r.status)) + " by a process that died";
      if (fix) {
        Status s = ok();
        (void)store.modify(r.id, [](store::SandboxRecord& x) -> Status {
          x.locked = false;  // an unfinished sandbox holds nothing worth a lock
          return ok();
        });
        s = destroy(env, store, r.id);
        f.fixed = static_cast<bool>(s);
        f.action = s ? "removed it" : "removing failed: " + s.error().message();
      }
    } else if (!h.supervisor_alive) {
      f.problem = h.init_alive ? "supervisor is not running (the sandbox still runs, unsupervised)"
                  : r.status == S::kStopped ? "supervisor is not running (stopped sandbox; TTL not enforced)"
                                            : "supervisor and sandbox processes are gone";
      if (fix) {
        Status s = supervisor::spawn(env.km_binary, env.global_args, r.id,
                                     local::Layout::forSandbox(env.km_home, r.id).supervisor_log);
        f.fixed = static_cast<bool>(s);
        f.action = !s ? "restart failed: " + s.error().message()
                   : h.init_alive ? "started a new supervisor; it adopted the running sandbox"
                   : r.status == S::kStopped ? "started a new supervisor"
                                             : "started a new supervisor; it restarted the sandbox";
      }
    } else if ((r.status == S::kRunning || r.status == S::kPaused) && !h.init_alive) {
      f.problem = "the store says " + std::string(store::statusName(r.status)) + " but its processes are gone";
      if (fix) {
        Status s = resume(env, store, r.id);
        f.fixed = static_cast<bool>(s);
        f.action = s ? "restarted it" : "restart failed: " + s.error().message();
      }
    } else {
      continue;
    }
    out.push_back(std::move(f));
  }
  // Kernel objects and files with no sandbox in the store. Each is removed by the one
  // teardown, which also ends any supervisor still sitting in the sandbox's cgroup.
  local::HostCgroups host = local::detectCgroups();
  std::string group = local::cgroupGroup(env.km_home);
  std::set<std::string> torn;
  auto removeUnknown = [&](Finding& f, const std::string& id) {
    if (!fix) return;
    Status s = torn.count(id) != 0 ? ok() : local::teardown(env.km_home, id, 0, 0);
    torn.insert(id);
    f.fixed = static_cast<bool>(s);
    f.action = s ? "removed it and everything else of " + id : "removal failed: " + s.error().message();
  };
  for (const auto& dir : local::listKmCgroups(host, group)) {
    std::string id = baseName(dir);
    if (known.count(id) != 0) continue;
    auto sup = local::Cgroups::existing(host, group, id, local::CgroupPart::kSupervisor).processes();
    Finding f{dir, "cgroup of no known sandbox" +
                       (sup.empty() ? std::string() : " (its supervisor, pid " + std::to_string(sup.front()) + ", still runs)"),
              "", false};
    removeUnknown(f, id);
    out.push_back(std::move(f));
  }
  // eBPF maps pinned for sandboxes of this home that no longer exist.
  for (const auto& id : local::pinnedSandboxes(env.km_home)) {
    if (known.count(id) != 0) continue;
    Finding f{local::pinDir(env.km_home, id), "eBPF maps pinned for no known sandbox", "", false};
    removeUnknown(f, id);
    out.push_back(std::move(f));
  }
  std::string sandboxes = local::Layout::sandboxesDir(env.km_home);
  for (const auto& mp : mountsUnder(sandboxes)) {
    Finding f{mp, "mounted in the host's mount namespace", "", false};
    if (fix) {
      f.fixed = ::umount2(mp.c_str(), MNT_DETACH) == 0;
      f.action = f.fixed ? "unmounted" : sys::errnoError("umount2", mp, errno).message();
    }
    out.push_back(std::move(f));
  }
  if (DIR* d = ::opendir(sandboxes.c_str())) {
    std::vector<std::string> orphans;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || known.count(name) != 0) continue;
      orphans.push_back(name);
    }
    ::closedir(d);
    for (const auto& name : orphans) {
      Finding f{sandboxes + "/" + name, "directory of no known sandbox", "", false};
      removeUnknown(f, name);
      out.push_back(std::move(f));
    }
  }
  // Disks (and additional volumes) of no known sandbox.
  std::string disks_dir = local::Layout::disksDir(env.km_home);
  if (DIR* d = ::opendir(disks_dir.c_str())) {
    std::vector<std::string> orphans;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      std::string id = name.size() > 7 && name.ends_with(".volume") ? name.substr(0, name.size() - 7) : name;
      if (name == "." || name == ".." || known.count(id) != 0 || torn.count(id) != 0) continue;
      orphans.push_back(name);
    }
    ::closedir(d);
    auto disks = fix && !orphans.empty() ? local::Disks::attach(env.km_home) : Result<local::Disks>(notFound(""));
    for (const auto& name : orphans) {
      Finding f{disks_dir + "/" + name, "disk of no known sandbox", "", false};
      if (fix) {
        Status s = disks ? disks->remove(name) : Status(disks.error());
        f.fixed = static_cast<bool>(s);
        f.action = s ? "removed it" : "removal failed: " + s.error().message();
      }
      out.push_back(std::move(f));
    }
  }
  // Sandbox uids claimed for sandboxes of this home that are gone.
  for (const auto& claim : local::uidClaims(env.km_home)) {
    if (known.count(claim.sandbox) != 0 || torn.count(claim.sandbox) != 0) continue;
    Finding f{std::string(local::kIdRegistry) + "/" + std::to_string(claim.uid),
              "uid claimed for " + claim.sandbox + ", which no longer exists", "", false};
    if (fix) {
      local::SandboxUser u;
      u.uid = claim.uid;
      u.gid = claim.uid;
      local::releaseSandboxUser(u, env.km_home, claim.sandbox);
      f.fixed = true;
      f.action = "released it";
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace km::fleet
