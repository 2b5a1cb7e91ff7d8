#include "substrate/local/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "core/fs.h"
#include "core/sys.h"

namespace km::substrate::local {
namespace {

bool hasWord(std::string_view list, std::string_view word, char sep) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(sep, pos);
    if (end == std::string_view::npos) end = list.size();
    if (list.substr(pos, end - pos) == word) return true;
    pos = end + 1;
  }
  return false;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::optional<std::string> readSmall(const std::string& path) {
  auto r = fs::readFile(path, 1 << 20);
  if (!r) return std::nullopt;
  return *r;
}

std::optional<int64_t> readInt(const std::string& path) {
  auto text = readSmall(path);
  if (!text) return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (...) {  // not a number ("max")
    return std::nullopt;
  }
}

// "key value" lines (cpu.stat, memory.events, cgroup.events).
std::optional<int64_t> readKey(const std::string& path, std::string_view key) {
  auto text = readSmall(path);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string k;
  int64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return std::nullopt;
}

Status makeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return sys::errnoError("mkdir", path, errno);
  }
  return ok();
}

}  // namespace

std::string_view versionName(CgroupVersion v) {
  switch (v) {
    case CgroupVersion::kV1: return "cgroup v1";
    case CgroupVersion::kV2: return "cgroup v2";
    case CgroupVersion::kNone: break;
  }
  return "not available";
}

bool HostCgroups::hybrid() const {
  return !v2_root.empty() && (memory == CgroupVersion::kV1 || cpu == CgroupVersion::kV1 ||
                              pids == CgroupVersion::kV1);
}

HostCgroups parseCgroupMounts(std::string_view mountinfo, std::string_view v2_controllers_text,
                              bool v2_has_stat) {
  HostCgroups h;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    // "... mountpoint opts [optional...] - fstype source superopts"
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream left(line.substr(0, dash)), right(line.substr(dash + 3));
    std::string id, parent, devno, root, mountpoint, fstype, source, superopts;
    left >> id >> parent >> devno >> root >> mountpoint;
    right >> fstype >> source >> superopts;
    if (fstype == "cgroup2" && h.v2_root.empty()) {
      h.v2_root = mountpoint;
    } else if (fstype == "cgroup") {
      if (hasWord(superopts, "memory", ',')) h.v1_memory = mountpoint;
      if (hasWord(superopts, "cpu", ',')) h.v1_cpu = mountpoint;
      if (hasWord(superopts, "cpuacct", ',')) h.v1_cpuacct = mountpoint;
      if (hasWord(superopts, "pids", ',')) h.v1_pids = mountpoint;
      if (hasWord(superopts, "freezer", ',')) h.v1_freezer = mountpoint;
    }
  }
  std::string v2_controllers = h.v2_root.empty() ? "" : trim(std::string(v2_controllers_text));
  auto pick = [&](std::string_view name, const std::string& v1) {
    if (!h.v2_root.empty() && hasWord(v2_controllers, name, ' ')) return CgroupVersion::kV2;
    if (!v1.empty()) return CgroupVersion::kV1;
    return CgroupVersion::kNone;
  };
  h.memory = pick("memory", h.v1_memory);
  h.cpu = pick("cpu", h.v1_cpu);
  h.pids = pick("pids", h.v1_pids);
  // cgroup.freeze is core v2 (Linux 5.2+): no controller to enable.
  if (!h.v2_root.empty() && v2_has_stat) {
    h.freezer = CgroupVersion::kV2;
  } else if (!h.v1_freezer.empty()) {
    h.freezer = CgroupVersion::kV1;
  }
  return h;
}

namespace {

HostCgroups readHostCgroups() {
  std::string info = readSmall("/proc/self/mountinfo").value_or("");
  HostCgroups first = parseCgroupMounts(info, "", false);
  if (first.v2_root.empty()) return first;
  return parseCgroupMounts(info, readSmall(first.v2_root + "/cgroup.controllers").value_or(""),
                           fs::exists(first.v2_root + "/cgroup.stat"));
}

}  // namespace

HostCgroups detectCgroups() {
  // A new supervisor reads this while it waits for its plan (it opens the substrate to stage
  // the sandbox's namespaces) and again once the plan is there: the second read would sit
  // on the path to a ready sandbox. A second old answer is as good as a new one; a
  // supervisor that runs for days reads the host afresh.
  static std::mutex mu;
  static std::optional<std::pair<std::chrono::steady_clock::time_point, HostCgroups>> last;
  std::lock_guard<std::mutex> lock(mu);
  auto now = std::chrono::steady_clock::now();
  if (!last || now - last->first > std::chrono::seconds(1)) last.emplace(now, readHostCgroups());
  return last->second;
}

std::string homeTag(std::string_view km_home) {
  // FNV-1a of the absolute state directory: short, stable, and distinct per KM_HOME.
  uint32_t h = 2166136261u;
  for (unsigned char ch : fs::absolutePath(km_home)) {
    h ^= ch;
    h *= 16777619u;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return buf;
}

std::string cgroupGroup(std::string_view km_home) { return "km/" + homeTag(km_home); }

Cgroups Cgroups::existing(const HostCgroups& host, std::string_view group, std::string_view id,
                          CgroupPart part) {
  Cgroups c;
  c.host_ = host;
  c.id_ = std::string(id);
  c.group_ = std::string(group);
  c.leaf_ = part == CgroupPart::kSandbox ? "sandbox" : "supervisor";
  auto dir = [&](const std::string& mount) { return mount + "/" + c.group_ + "/" + c.id_ + "/" + c.leaf_; };
  if (!host.v2_root.empty()) c.v2_ = dir(host.v2_root);
  if (host.memory == CgroupVersion::kV1) c.mem_ = dir(host.v1_memory);
  if (host.cpu == CgroupVersion::kV1) c.cpu_ = dir(host.v1_cpu);
  if (host.pids == CgroupVersion::kV1) c.pids_ = dir(host.v1_pids);
  // Only the sandbox is ever frozen (km pause); its supervisor must keep answering.
  if (host.freezer == CgroupVersion::kV1 && part == CgroupPart::kSandbox) c.freezer_ = dir(host.v1_freezer);
  // CPU usage comes from v2's cpu.stat when there is a v2 dir, else from v1 cpuacct.
  if (c.v2_.empty() && !host.v1_cpuacct.empty()) c.cpuacct_ = dir(host.v1_cpuacct);
  for (const std::string* d : {&c.v2_, &c.mem_, &c.cpu_, &c.cpuacct_, &c.pids_, &c.freezer_}) {
    if (d->empty()) continue;
    bool dup = false;
    for (const auto& have : c.dirs_) dup = dup || have == *d;  // "cpu,cpuacct" share a mount
    if (!dup) c.dirs_.push_back(*d);
  }
  return c;
}

Result<Cgroups> Cgroups::make(const HostCgroups& host, std::string_view group, std::string_view id,
                              CgroupPart part) {
  Cgroups c = existing(host, group, id, part);
  if (c.dirs_.empty()) return unavailable("no cgroup hierarchy is mounted on this host");
  // Parents: "km", "km/<tag>" and the sandbox's directory in every hierarchy.
  std::string top = c.group_.substr(0, c.group_.find('/'));
  std::string tail = "/" + c.group_ + "/" + c.id_ + "/" + c.leaf_;
  auto mountOf = [&](const std::string& d) { return d.substr(0, d.size() - tail.size()); };
  auto parents = [&](const std::string& mount) {
    return std::vector<std::string>{mount + "/" + top, mount + "/" + c.group_, mount + "/" + c.group_ + "/" + c.id_};
  };
  for (int attempt = 0;; ++attempt) {
    Status made = ok();
    for (const auto& d : c.dirs_) {
      for (const std::string& parent : parents(mountOf(d))) {
        if (made) made = makeDir(parent);
      }
    }
    if (made && !c.v2_.empty()) {
      // v2 controllers must be enabled on every ancestor of the leaf.
      std::string enable;
      if (host.memory == CgroupVersion::kV2) enable += " +memory";
      if (host.cpu == CgroupVersion::kV2) enable += " +cpu";
      if (host.pids == CgroupVersion::kV2) enable += " +pids";
      if (!enable.empty()) {
        std::vector<std::string> chain = parents(host.v2_root);
        chain.insert(chain.begin(), host.v2_root);
        for (const std::string& parent : chain) {
          if (made) made = sys::writeFile(parent + "/cgroup.subtree_control", enable.substr(1));
        }
      }
    }
    if (made) {
      for (const auto& d : c.dirs_) {
        if (made && ::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) made = sys::errnoError("mkdir", d, errno);
      }
    }
    if (made) return c;
    // Another sandbox's teardown may have removed an (then empty) parent in between.
    if (made.error().code() != ErrorCode::kNotFound || attempt == 2) return std::move(made).error();
  }
}

Result<Cgroups> Cgroups::create(const HostCgroups& host, std::string_view group,
                                std::string_view id, const Limits& limits) {
  for (const auto& d : existing(host, group, id).dirs_) {
    if (fs::isDirectory(d)) return unavailable(d + " already exists (run `km doctor --fix`)");
  }
  auto made = make(host, group, id, CgroupPart::kSandbox);
  if (!made) return std::move(made).error().context("creating cgroups for " + std::string(id));
  Cgroups c = std::move(*made);
  auto fail = [&](Error e) -> Result<Cgroups> {
    (void)c.remove();
    return std::move(e).context("creating cgroups for " + c.id_);
  };
  auto set = [&](const std::string& dir, std::string_view file, const std::string& value) -> Status {
    return sys::writeFile(dir + "/" + std::string(file), value);
  };
  auto parentOf = [](const std::string& leaf) { return leaf.substr(0, leaf.rfind('/')); };
  if (limits.memory_bytes > 0) {
    std::string bytes = std::to_string(limits.memory_bytes);
    if (host.memory == CgroupVersion::kV2) {
      if (auto s = set(c.v2_, "memory.max", bytes); !s) return fail(std::move(s).error());
      if (fs::exists(c.v2_ + "/memory.swap.max")) (void)set(c.v2_, "memory.swap.max", "0");
    } else if (host.memory == CgroupVersion::kV1) {
      if (auto s = set(c.mem_, "memory.limit_in_bytes", bytes); !s) return fail(std::move(s).error());
      // memory+swap = memory: the sandbox cannot escape its limit into swap.
      if (fs::exists(c.mem_ + "/memory.memsw.limit_in_bytes")) {
        if (auto s = set(c.mem_, "memory.memsw.limit_in_bytes", bytes); !s) {
          return fail(std::move(s).error());
        }
      }
    }
  }
  if (limits.cpu_millis > 0) {
    // Quota per 100 ms period: 1000 millis = one full CPU = 100000 µs. On the sandbox's
    // directory: its supervisor's work for it counts too.
    std::string quota = std::to_string(limits.cpu_millis * 100);
    if (host.cpu == CgroupVersion::kV2) {
      if (auto s = set(parentOf(c.v2_), "cpu.max", quota + " 100000"); !s) return fail(std::move(s).error());
    } else if (host.cpu == CgroupVersion::kV1) {
      if (auto s = set(parentOf(c.cpu_), "cpu.cfs_period_us", "100000"); !s) return fail(std::move(s).error());
      if (auto s = set(parentOf(c.cpu_), "cpu.cfs_quota_us", quota); !s) return fail(std::move(s).error());
    }
  }
  if (limits.pids > 0) {
    const std::string& dir = host.pids == CgroupVersion::kV2 ? c.v2_ : c.pids_;
    if (!dir.empty()) {
      if (auto s = set(dir, "pids.max", std::to_string(limits.pids)); !s) {
        return fail(std::move(s).error());
      }
    }
  }
  return c;
}

Result<Cgroups> Cgroups::createSupervisor(const HostCgroups& host, std::string_view group,
                                          std::string_view id) {
  auto made = make(host, group, id, CgroupPart::kSupervisor);
  if (!made) return std::move(made).error().context("creating the supervisor's cgroup for " + std::string(id));
  Cgroups c = std::move(*made);
  auto set = [&](const std::string& dir, std::string_view file, const std::string& value) -> Status {
    if (dir.empty()) return ok();
    return sys::writeFile(dir + "/" + std::string(file), value);
  };
  std::string memory = std::to_string(kSupervisorMemoryBytes);
  std::string pids = std::to_string(kSupervisorPids);
  Status s = ok();
  if (host.memory == CgroupVersion::kV2) s = set(c.v2_, "memory.max", memory);
  if (s && host.memory == CgroupVersion::kV1) s = set(c.mem_, "memory.limit_in_bytes", memory);
  if (s && host.pids == CgroupVersion::kV2) s = set(c.v2_, "pids.max", pids);
  if (s && host.pids == CgroupVersion::kV1) s = set(c.pids_, "pids.max", pids);
  // Ahead of the sandbox when both want the CPU (defaults: weight 100, shares 1024).
  if (s && host.cpu == CgroupVersion::kV2) s = set(c.v2_, "cpu.weight", "1000");
  if (s && host.cpu == CgroupVersion::kV1) s = set(c.cpu_, "cpu.shares", "10240");
  if (!s) return std::move(s).error().context("limits of the supervisor's cgroup for " + std::string(id));
  return c;
}

Status Cgroups::addProcess(pid_t pid) const {
  std::string text = std::to_string(pid);
  for (const auto& d : dirs_) KM_TRY(sys::writeFile(d + "/cgroup.procs", text));
  return ok();
}

Status Cgroups::leave() const {
  std::string tail = "/" + group_ + "/" + id_ + "/" + leaf_;
  for (const auto& d : dirs_) {
    std::string root = d.substr(0, d.size() - tail.size());
    KM_TRY(sys::writeFile(root + "/cgroup.procs", "0"));
  }
  return ok();
}

Status Cgroups::freeze(bool frozen) const {
  using namespace std::chrono_literals;
  if (!v2_.empty() && host_.freezer == CgroupVersion::kV2) {
    KM_TRY(sys::writeFile(v2_ + "/cgroup.freeze", frozen ? "1" : "0"));
    for (int i = 0; i < 1000; ++i) {  // the kernel freezes asynchronously; ≤ 1 s
      if (readKey(v2_ + "/cgroup.events", "frozen") == (frozen ? 1 : 0)) return ok();
      std::this_thread::sleep_for(1ms);
    }
    return unavailable("cgroup " + v2_ + " did not " + (frozen ? "freeze" : "thaw") + " in 1 s");
  }
  if (!freezer_.empty()) {
    std::string want = frozen ? "FROZEN" : "THAWED";
    for (int i = 0; i < 1000; ++i) {
      KM_TRY(sys::writeFile(freezer_ + "/freezer.state", want));
      if (trim(readSmall(freezer_ + "/freezer.state").value_or("")) == want) return ok();
      std::this_thread::sleep_for(1ms);
    }
    return unavailable("cgroup " + freezer_ + " did not reach " + want + " in 1 s");
  }
  return unavailable("this host has no cgroup freezer (v2 cgroup.freeze or v1 freezer)");
}

bool Cgroups::frozen() const {
  if (!v2_.empty() && host_.freezer == CgroupVersion::kV2) {
    return readKey(v2_ + "/cgroup.events", "frozen") == 1;
  }
  if (!freezer_.empty()) return trim(readSmall(freezer_ + "/freezer.state").value_or("")) == "FROZEN";
  return false;
}

std::optional<uint64_t> Cgroups::cpuUsageNs() const {
  if (!v2_.empty()) {
    if (auto us = readKey(v2_ + "/cpu.stat", "usage_usec")) return static_cast<uint64_t>(*us) * 1000;
  }
  if (!cpuacct_.empty()) {
    if (auto ns = readInt(cpuacct_ + "/cpuacct.usage")) return static_cast<uint64_t>(*ns);
  }
  return std::nullopt;
}

std::optional<int64_t> Cgroups::memoryBytes() const {
  if (host_.memory == CgroupVersion::kV2) return readInt(v2_ + "/memory.current");
  if (!mem_.empty()) return readInt(mem_ + "/memory.usage_in_bytes");
  return std::nullopt;
}

std::optional<int64_t> Cgroups::oomKills() const {
  if (host_.memory == CgroupVersion::kV2) return readKey(v2_ + "/memory.events", "oom_kill");
  if (!mem_.empty()) return readKey(mem_ + "/memory.oom_control", "oom_kill");
  return std::nullopt;
}

Result<sys::UniqueFd> Cgroups::watchMemoryEvents() const {
  if (host_.memory == CgroupVersion::kV2 && !v2_.empty()) {
    std::string file = v2_ + "/memory.events";
    sys::UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd.valid()) return sys::errnoError("inotify_init1", file, errno);
    if (::inotify_add_watch(fd.get(), file.c_str(), IN_MODIFY) < 0) {
      return sys::errnoError("inotify_add_watch", file, errno);
    }
    return fd;
  }
  if (mem_.empty()) return unavailable("the host has no memory cgroup controller");
  sys::UniqueFd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event.valid()) return sys::errnoError("eventfd", mem_, errno);
  auto control = sys::open(mem_ + "/memory.oom_control", O_RDONLY);
  if (!control) return std::move(control).error();
  KM_TRY(sys::writeFile(mem_ + "/cgroup.event_control",
                        std::to_string(event.get()) + " " + std::to_string(control->get())));
  return event;
}

std::vector<pid_t> Cgroups::processes() const {
  std::vector<pid_t> out;
  std::string dir = !v2_.empty() ? v2_ : (dirs_.empty() ? "" : dirs_.front());
  if (dir.empty()) return out;
  auto text = readSmall(dir + "/cgroup.procs");
  if (!text) return out;
  std::istringstream in(*text);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

Status Cgroups::remove() const {
  Status first = ok();
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    if (::rmdir(it->c_str()) != 0 && errno != ENOENT && first) {
      first = sys::errnoError("rmdir", *it, errno);
    }
  }
  if (!first) return first;
  // The sandbox's directory, the group and "km" go too once empty (EBUSY while the other
  // leaf or other sandboxes use them).
  for (const auto& d : dirs_) {
    std::string parent = d.substr(0, d.rfind('/'));
    for (int level = 0; level < 3; ++level) {
      if (::rmdir(parent.c_str()) != 0) break;
      parent = parent.substr(0, parent.rfind('/'));
    }
  }
  return first;
}

std::vector<std::string> Cgroups::existingDirs() const {
  std::vector<std::string> out;
  for (const auto& d : dirs_) {
    if (fs::isDirectory(d)) out.push_back(d);
  }
  return out;
}

std::vector<std::string> listKmCgroups(const HostCgroups& host, std::string_view group) {
  std::vector<std::string> out;
  std::vector<std::string> mounts = {host.v2_root, host.v1_memory, host.v1_cpu, host.v1_cpuacct,
                                     host.v1_pids, host.v1_freezer};
  std::vector<std::string> seen;
  for (const auto& m : mounts) {
    if (m.empty()) continue;
    bool dup = false;
    for (const auto& s : seen) dup = dup || s == m;
    if (dup) continue;
    seen.push_back(m);
    std::string parent = m + "/" + std::string(group);
    DIR* d = ::opendir(parent.c_str());
    if (d == nullptr) continue;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.' || e->d_type != DT_DIR) continue;
      out.push_back(parent + "/" + e->d_name);
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace km::substrate::local
