// The local substrate behind substrate.h: a Sandbox is a recipe over this module's verbs
// (cgroups, staged init, launch, runSession, killAll, teardown); the Substrate adds what
// concerns a home rather than one sandbox (records, clones' disks, doctor's leftovers).
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/fs.h"
#include "core/sys.h"
#include "core/tree.h"
#include "image/store.h"
#include "net/net.h"
#include "substrate/local/disk.h"
#include "substrate/local/local.h"
#include "substrate/local/rootfs.h"

namespace km::substrate::local {
namespace {

// Bytes through every interface of init's network namespace.
uint64_t netBytes(pid_t init) {
  auto text = fs::readFile("/proc/" + std::to_string(init) + "/net/dev", 1 << 16);
  if (!text) return 0;
  uint64_t total = 0;
  std::string_view rest(*text);
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::istringstream fields(std::string(line.substr(colon + 1)));
    uint64_t v[16] = {};
    for (auto& x : v) fields >> x;
    total += v[0] + v[8];  // rx bytes, tx bytes
  }
  return total;
}

// A StagedInit handed through the substrate-neutral interface.
class LocalStaged final : public Staged {
 public:
  explicit LocalStaged(StagedInit init) : init(std::move(init)) {}
  StagedInit init;
};

class LocalSandbox final : public Sandbox {
 public:
  LocalSandbox(std::string km_home, const plan::SandboxPlan& plan)
      : km_home_(std::move(km_home)),
        plan_(plan),
        layout_(Layout::forSandbox(km_home_, plan_.id)),
        files_(sandboxFiles(km_home_, plan_.id)),
        host_(detectCgroups()),
        cgroups_(Cgroups::existing(host_, cgroupGroup(km_home_), plan_.id)) {}
  ~LocalSandbox() override { joinDisk(); }

  const SandboxFiles& files() const override { return files_; }

  Result<pid_t> begin(bool first_start, std::unique_ptr<Staged> staged, const std::string& ca_cert) override {
    joinDisk();
    if (auto* mine = dynamic_cast<LocalStaged*>(staged.get())) staged_ = std::move(mine->init);
    staged.reset();
    if (!staged_.valid()) {
      // Not staged ahead (a resume, a restarted supervisor): the caller may have threads by
      // now, so the init is a fresh exec, never a copy of the caller.
      auto fresh = StagedInit::spawn();
      if (!fresh) return std::move(fresh).error();
      staged_ = std::move(*fresh);
    }
    // The disk and user are made on a helper thread while this one makes the cgroups: they
    // do not depend on each other, and both are on the way to a ready sandbox.
    disk_ready_ = internalError("the disk was not prepared");
    disk_thread_ = std::thread([this, first_start] { disk_ready_ = prepareDisk(first_start); });
    Limits limits{plan_.resources.cpu_millis, plan_.resources.memory_bytes, plan_.resources.pids};
    auto cg = Cgroups::create(host_, cgroupGroup(km_home_), plan_.id, limits);
    if (!cg) {
      abandon();
      return std::move(cg).error();
    }
    cgroups_ = *cg;
    joinDisk();
    if (!disk_ready_) {
      Error e = disk_ready_.error();
      abandon();
      return e;
    }
    // Init builds the sandbox's world now, while the caller sets up the network.
    LaunchSpec spec;
    spec.hostname = plan_.hostname;
    spec.working_dir = plan_.working_dir;
    for (const auto& f : plan_.config_files) spec.config_files.push_back({f.path, f.content});
    spec.km_home = fs::absolutePath(km_home_);
    spec.first_start = first_start;
    spec.volume_mount = plan_.resources.volume_mount;
    spec.ca_cert = ca_cert;
    spec.user = user_;
    if (!plan_.image.id.empty()) {
      image::ImageRecord rec;
      rec.id = plan_.image.id;
      rec.names = {plan_.image.name};
      rec.layers = plan_.image.layers;
      rec.on_host = plan_.image.on_host;
      auto dirs = image::Store(spec.km_home).lowerDirs(rec);
      if (!dirs) {
        abandon();
        return std::move(dirs).error();
      }
      spec.lower_dirs = std::move(*dirs);
    }
    if (auto s = beginLaunch(layout_, spec, cgroups_, staged_); !s) {
      abandon();
      return std::move(s).error();
    }
    return staged_.pid();
  }

  Result<Running> finish(const std::string& resolv_conf) override {
    auto launched = finishLaunch(staged_, resolv_conf);
    staged_ = {};
    if (!launched) return std::move(launched).error();
    return Running{launched->init_pid, launched->init_start};
  }

  void abandon() override {
    joinDisk();
    staged_ = {};  // ends the staged init, its network namespace (and veth) with it
    (void)cgroups_.remove();
  }

  Status attach(const Running&) override {
    auto user = sandboxUser(layout_);
    if (!user) return std::move(user).error();
    user_ = *user;
    return ok();
  }

  Result<int> enter(const Running& running, const Command& command, const SessionIo& io) override {
    if (cgroups_.frozen()) return invalidArgument(plan_.id + " is paused; run `km resume " + plan_.id + "` first");
    if (user_.uid == 0) {
      auto user = sandboxUser(layout_);
      if (!user) return std::move(user).error();
      user_ = *user;
    }
    EnterSpec e;
    e.init_pid = running.init_pid;
    e.init_start = running.init_start;
    e.user = user_;
    e.root = command.root;
    e.workdir = command.workdir;
    // Well-behaved clients use the proxy's explicit port (the transparent one catches the
    // rest); the command's own env comes after, so it may override them.
    if (net::servesProxy(plan_.network.enforcement)) {
      if (auto host = net::recordedHostAddress(layout_.net_file)) e.env = net::proxyEnvironment(*host);
      // The sandbox's CA, for clients that bring their own trust store (the OS's has it too).
      std::string bundle = kCaBundle;
      for (const char* var : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "PIP_CERT",
                              "AWS_CA_BUNDLE"}) {
        e.env.push_back(std::string(var) + "=" + bundle);
      }
      e.env.push_back(std::string("NODE_EXTRA_CA_CERTS=") + kCaFile);
    }
    e.env.insert(e.env.end(), command.env.begin(), command.env.end());
    e.argv = command.argv;
    return runSession(e, cgroups_, io);
  }

  bool isExecutable(const Running& running, const std::string& path) const override {
    if (path.empty() || path[0] != '/' || !running.valid()) return false;
    auto root = sys::open("/proc/" + std::to_string(running.init_pid) + "/root", O_PATH | O_DIRECTORY);
    if (!root) return false;
    int fd = sys::openat2(root->get(), path.c_str() + 1, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) return false;
    sys::UniqueFd file(fd);
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
  }

  Result<std::optional<std::string>> readFile(const Running& running, const std::string& path, size_t max_bytes,
                                              bool tail) const override {
    if (path.empty() || path[0] != '/') return invalidArgument("not an absolute path inside the sandbox: " + path);
    if (!running.valid() || !sys::processAlive(running.init_pid, running.init_start)) {
      return unavailable(plan_.id + " is not running");
    }
    auto root = sys::open("/proc/" + std::to_string(running.init_pid) + "/root", O_PATH | O_DIRECTORY);
    if (!root) return std::move(root).error();
    // O_PATH first: nothing is opened for reading (no FIFO wait, no device side effect) until
    // the file is known to be a regular one.
    int fd = sys::openat2(root->get(), path.c_str() + 1, O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) {
      if (errno == ENOENT) return std::optional<std::string>();
      return sys::errnoError("open (in " + plan_.id + ")", path, errno);
    }
    sys::UniqueFd where(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return sys::errnoError("fstat (in " + plan_.id + ")", path, errno);
    if (!S_ISREG(st.st_mode)) return invalidArgument(path + " in " + plan_.id + " is not a regular file");
    // Only the sandbox user's own files: root's reading must not lend the sandbox its eyes
    // (a link to /etc/shadow, which the overlay shows from the host's, is root's).
    auto user = sandboxUser(layout_);
    if (!user) return std::move(user).error();
    if (st.st_uid != user->uid) {
      return permissionDenied(path + " in " + plan_.id + " is not the sandbox user's file (owner uid " +
                              std::to_string(st.st_uid) + ")");
    }
    auto file = sys::open("/proc/self/fd/" + std::to_string(fd), O_RDONLY | O_NOCTTY);
    if (!file) return std::move(file).error();
    off_t size = st.st_size;
    if (tail && size > static_cast<off_t>(max_bytes)) (void)::lseek(file->get(), size - static_cast<off_t>(max_bytes), SEEK_SET);
    std::string out;
    char buf[65536];
    while (out.size() < max_bytes) {
      ssize_t n = ::read(file->get(), buf, std::min(sizeof buf, max_bytes - out.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys::errnoError("read (in " + plan_.id + ")", path, errno);
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return std::optional<std::string>(std::move(out));
  }

  Status stop(const Running& running) override {
    if (cgroups_.frozen()) (void)cgroups_.freeze(false);  // SIGKILL must be deliverable
    KM_TRY(killAll(running.init_pid, running.init_start, cgroups_));
    return cgroups_.remove();
  }

  Status pause() override { return cgroups_.freeze(true); }
  Status resume() override { return cgroups_.freeze(false); }
  bool paused() const override { return cgroups_.frozen(); }

  Usage usage(const Running& running) const override {
    Usage u;
    if (!running.valid()) return u;
    u.cpu_ns = cgroups_.cpuUsageNs().value_or(0);
    u.processes = cgroups_.processes().size();
    u.net_bytes = netBytes(running.init_pid);
    return u;
  }

  std::optional<int64_t> oomKills() const override { return cgroups_.oomKills(); }
  Result<sys::UniqueFd> watchMemoryEvents() const override { return cgroups_.watchMemoryEvents(); }

  Status confineSupervisor() const override {
    auto cg = Cgroups::createSupervisor(host_, cgroupGroup(km_home_), plan_.id);
    if (!cg) return std::move(cg).error();
    return cg->addProcess(0);
  }

  net::NetworkPlacement networkPlacement() const override {
    return {.cgroup_v2_dir = cgroups_.v2Dir(), .pin_dir = pinDir(km_home_, plan_.id), .facts_path = layout_.net_file};
  }

  Status teardown(const Running& running) override {
    joinDisk();
    return local::teardown(km_home_, plan_.id, running.init_pid, running.init_start);
  }

 private:
  void joinDisk() {
    if (disk_thread_.joinable()) disk_thread_.join();
  }

  // The sandbox's disk (made for a new sandbox), its directories, its user (claimed when
  // new) and their owners.
  Status prepareDisk(bool first_start) {
    auto disks = Disks::attach(km_home_);  // mounts the store again after a reboot
    if (!disks) return std::move(disks).error();
    bool volume = !plan_.resources.volume_mount.empty();
    // A new sandbox's disks are made here, while `km create` records its row; a clone's came
    // from its source (reserve made them); a later start finds them.
    for (auto [path, name, bytes] : {std::tuple{&layout_.disk, &layout_.disk_name, plan_.resources.disk_bytes},
                                     std::tuple{&layout_.volume, &layout_.volume_name, plan_.resources.volume_bytes}}) {
      if (path == &layout_.volume && !volume) continue;
      if (fs::isDirectory(*path)) continue;
      if (!first_start) {
        return notFound("the sandbox's disk " + *path + " is missing (" +
                        (disks->enforced() ? "not in the disk store" : disks->unenforcedReason()) + ")");
      }
      KM_TRY(disks->create(*name, bytes));
    }
    for (const std::string* d : {&layout_.upper, &layout_.work, &layout_.root, &layout_.workspace,
                                 &layout_.home, &layout_.root_home}) {
      KM_TRY(sys::makeDirs(*d, 0755));
    }
    auto user = claimSandboxUser(layout_, km_home_, plan_.id);
    if (!user) return std::move(user).error();
    user_ = *user;
    // These directories are km's (the sandbox sees only their contents), so by path is safe.
    for (const std::string* d : {&layout_.workspace, &layout_.home, &layout_.volume}) {
      if (d == &layout_.volume && !volume) continue;
      if (::chown(d->c_str(), user_.uid, user_.gid) != 0) return sys::errnoError("chown", *d, errno);
    }
    return ok();
  }

  std::string km_home_;
  plan::SandboxPlan plan_;
  Layout layout_;
  SandboxFiles files_;
  HostCgroups host_;
  Cgroups cgroups_;
  SandboxUser user_;
  StagedInit staged_;
  std::thread disk_thread_;
  Status disk_ready_ = ok();
};

// The source of a clone, frozen while its disk is copied (unless it already was): nothing
// inside can change the tree while km reads it.
class FrozenWhile {
 public:
  explicit FrozenWhile(Cgroups cg) : cg_(std::move(cg)) {
    if (!cg_.processes().empty() && !cg_.frozen()) thaw_ = static_cast<bool>(cg_.freeze(true));
  }
  ~FrozenWhile() {
    if (thaw_) (void)cg_.freeze(false);
  }
  FrozenWhile(const FrozenWhile&) = delete;
  FrozenWhile& operator=(const FrozenWhile&) = delete;

 private:
  Cgroups cg_;
  bool thaw_ = false;
};

// A clone's disk (and additional volume): a copy of `seed`'s whose files of the seed's user
// now belong to `user`. (A new sandbox's empty disks are made at its first start.)
Status copyDisks(std::string_view km_home, const Disks& disks, const plan::SandboxPlan& p, const Layout& layout,
                 const Layout& seed, const SandboxUser& user) {
  bool volume = !p.resources.volume_mount.empty();
  auto seed_user = sandboxUser(seed);
  if (!seed_user) return std::move(seed_user).error().context("the source's user");
  tree::IdMap map{seed_user->uid, user.uid, seed_user->gid, user.gid};
  struct Part {
    std::string from, to;
    int64_t bytes;
  };
  std::vector<Part> parts = {{seed.disk_name, layout.disk_name, p.resources.disk_bytes}};
  if (volume && fs::exists(seed.volume)) parts.push_back({seed.volume_name, layout.volume_name, p.resources.volume_bytes});
  {
    // Frozen only while its files are read (a snapshot is instant; a copy is not).
    FrozenWhile frozen(Cgroups::existing(detectCgroups(), cgroupGroup(km_home), seed.disk_name));
    for (const Part& part : parts) {
      if (disks.enforced()) {
        // A snapshot is the kernel's copy: atomic, and it follows nothing.
        KM_TRY(disks.snapshot(part.from, part.to, part.bytes));
      } else {
        tree::CopyOptions copy;
        copy.id_map = map;
        KM_TRY(tree::copyTree(disks.path(part.from), disks.path(part.to), copy));
      }
    }
  }
  if (volume && parts.size() == 1) KM_TRY(disks.create(layout.volume_name, p.resources.volume_bytes));
  // The overlay's work dir is the kernel's scratch space, not the sandbox's data.
  KM_TRY(tree::removeTree(layout.work));
  if (!disks.enforced()) return ok();  // the copy mapped the owners already
  for (const Part& part : parts) KM_TRY(tree::remapOwners(disks.path(part.to), map));
  return ok();
}

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

// The names in directory `dir` but . and .. (none when it cannot be read).
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(std::move(name));
    }
    ::closedir(d);
  }
  return out;
}

class LocalSubstrate final : public Substrate {
 public:
  explicit LocalSubstrate(Options options) : o_(std::move(options)) {}

  plan::Substrate kind() const override { return plan::Substrate::kLocal; }
  Status requireAccess(std::string_view what) const override { return requireRoot(what); }
  SandboxFiles files(std::string_view id) const override { return sandboxFiles(o_.km_home, id); }
  std::unique_ptr<Sandbox> sandbox(const plan::SandboxPlan& plan) const override {
    return std::make_unique<LocalSandbox>(o_.km_home, plan);
  }

  Result<std::unique_ptr<Staged>> stage() const override {
    auto s = StagedInit::stage();
    if (!s) return std::move(s).error();
    return std::unique_ptr<Staged>(std::make_unique<LocalStaged>(std::move(*s)));
  }

  Result<image::ImageRecord> bake(std::string_view id, image::Store& images,
                                  const std::optional<image::ImageRecord>& parent,
                                  const image::Reference& name) const override {
    KM_TRY(requireRoot("km image bake"));
    Layout layout = Layout::forSandbox(o_.km_home, id);
    if (!fs::isDirectory(layout.upper)) {
      return notFound(std::string(id) + " has no disk to bake (" + layout.upper + " is missing)");
    }
    // Frozen while its writes are read: nothing inside changes the tree meanwhile.
    FrozenWhile frozen(Cgroups::existing(detectCgroups(), cgroupGroup(o_.km_home), layout.disk_name));
    return images.bake(layout.upper, parent, name, "bake of " + std::string(id));
  }

  Status reserve(const plan::SandboxPlan& p, std::string_view plan_json, std::string_view source) const override {
    Layout layout = Layout::forSandbox(o_.km_home, p.id);
    auto disks = Disks::prepare(o_.km_home, o_.disk);
    if (!disks) return std::move(disks).error();
    KM_TRY(sys::makeDirs(Layout::sandboxesDir(o_.km_home), 0700));
    if (::mkdir(layout.dir.c_str(), 0700) != 0) return sys::errnoError("mkdir", layout.dir, errno);
    // Whatever fails from here, teardown removes what exists (it is idempotent).
    auto undo = [&](Error e) -> Status {
      (void)local::teardown(o_.km_home, p.id, 0, 0);
      return e;
    };
    if (auto s = sys::replaceFile(layout.plan_file, std::string(plan_json) + "\n", 0600); !s) {
      return undo(std::move(s).error());
    }
    if (!source.empty()) {
      // A clone's user is claimed now: its copied files must become that user's.
      auto user = claimSandboxUser(layout, o_.km_home, p.id);
      if (!user) return undo(std::move(user).error());
      Layout seed = Layout::forSandbox(o_.km_home, source);
      if (auto s = copyDisks(o_.km_home, *disks, p, layout, seed, *user); !s) {
        return undo(std::move(s).error().context("copying the source's disk"));
      }
    }
    return ok();
  }

  Status teardown(std::string_view id, const Running& running) const override {
    return local::teardown(o_.km_home, std::string(id), running.init_pid, running.init_start);
  }

  HostReport host() const override {
    HostCgroups h = detectCgroups();
    HostReport out;
    DiskStatus disk = describeDisks(o_.km_home);
    out.disk = disk.text;
    out.disk_enforced = disk.state == DiskStatus::State::kStore;
    out.disk_unenforced_known = disk.state == DiskStatus::State::kUnenforced;
    out.memory = std::string(versionName(h.memory));
    out.cpu = std::string(versionName(h.cpu));
    out.pids = std::string(versionName(h.pids));
    out.freezer = std::string(versionName(h.freezer));
    out.hybrid = h.hybrid();
    out.root = ::geteuid() == 0;
    return out;
  }

  std::vector<Leftover> leftovers(const std::set<std::string>& known, bool fix) const override;

 private:
  Options o_;
};

// Kernel objects and files with no sandbox in `known`. Each is removed by the one teardown,
// which also ends any supervisor still sitting in the sandbox's cgroup.
std::vector<Leftover> LocalSubstrate::leftovers(const std::set<std::string>& known, bool fix) const {
  const std::string& home = o_.km_home;
  std::vector<Leftover> out;
  HostCgroups host = detectCgroups();
  std::string group = cgroupGroup(home);
  std::set<std::string> torn;
  auto removeUnknown = [&](Leftover& f, const std::string& id) {
    if (!fix) return;
    Status s = torn.count(id) != 0 ? ok() : local::teardown(home, id, 0, 0);
    torn.insert(id);
    f.fixed = static_cast<bool>(s);
    f.action = s ? "removed it and everything else of " + id : "removal failed: " + s.error().message();
  };
  for (const auto& dir : listKmCgroups(host, group)) {
    std::string id = baseName(dir);
    if (known.count(id) != 0) continue;
    auto sup = Cgroups::existing(host, group, id, CgroupPart::kSupervisor).processes();
    Leftover f{dir, "cgroup of no known sandbox" +
                        (sup.empty() ? std::string() : " (its supervisor, pid " + std::to_string(sup.front()) + ", still runs)"),
               "", false};
    removeUnknown(f, id);
    out.push_back(std::move(f));
  }
  // eBPF maps pinned for sandboxes of this home that no longer exist.
  for (const auto& id : pinnedSandboxes(home)) {
    if (known.count(id) != 0) continue;
    Leftover f{pinDir(home, id), "eBPF maps pinned for no known sandbox", "", false};
    removeUnknown(f, id);
    out.push_back(std::move(f));
  }
  std::string sandboxes = Layout::sandboxesDir(home);
  for (const auto& mp : mountsUnder(sandboxes)) {
    Leftover f{mp, "mounted in the host's mount namespace", "", false};
    if (fix) {
      f.fixed = ::umount2(mp.c_str(), MNT_DETACH) == 0;
      f.action = f.fixed ? "unmounted" : sys::errnoError("umount2", mp, errno).message();
    }
    out.push_back(std::move(f));
  }
  for (const auto& name : entries(sandboxes)) {
    if (known.count(name) != 0) continue;
    Leftover f{sandboxes + "/" + name, "directory of no known sandbox", "", false};
    removeUnknown(f, name);
    out.push_back(std::move(f));
  }
  // Disks (and additional volumes) of no known sandbox.
  std::string disks_dir = Layout::disksDir(home);
  std::vector<std::string> orphans;
  for (const auto& name : entries(disks_dir)) {
    std::string id = name.size() > 7 && name.ends_with(".volume") ? name.substr(0, name.size() - 7) : name;
    if (known.count(id) == 0 && torn.count(id) == 0) orphans.push_back(name);
  }
  auto disks = fix && !orphans.empty() ? Disks::attach(home) : Result<Disks>(notFound(""));
  for (const auto& name : orphans) {
    Leftover f{disks_dir + "/" + name, "disk of no known sandbox", "", false};
    if (fix) {
      Status s = disks ? disks->remove(name) : Status(disks.error());
      f.fixed = static_cast<bool>(s);
      f.action = s ? "removed it" : "removal failed: " + s.error().message();
    }
    out.push_back(std::move(f));
  }
  // Sandbox uids claimed for sandboxes of this home that are gone.
  for (const auto& claim : uidClaims(home)) {
    if (known.count(claim.sandbox) != 0 || torn.count(claim.sandbox) != 0) continue;
    Leftover f{std::string(kIdRegistry) + "/" + std::to_string(claim.uid),
               "uid claimed for " + claim.sandbox + ", which no longer exists", "", false};
    if (fix) {
      SandboxUser u;
      u.uid = claim.uid;
      u.gid = claim.uid;
      releaseSandboxUser(u, home, claim.sandbox);
      f.fixed = true;
      f.action = "released it";
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

std::unique_ptr<Substrate> makeSubstrate(Options options) {
  return std::make_unique<LocalSubstrate>(std::move(options));
}

}  // namespace km::substrate::local
