#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/fs.h"
#include "core/sys.h"
#include "core/tree.h"
#include "fleet/fleet.h"
#include "substrate/local/local.h"
#include "supervisor/supervisor.h"

namespace km::fleet {

namespace local = substrate::local;

Result<std::unique_ptr<store::FleetStore>> openStore(const std::string& km_home) {
  if (!fs::isDirectory(km_home)) {
    if (auto s = sys::makeDirs(km_home, 0700); !s) {
      return std::move(s).error().context("creating the km state directory (--home / KM_HOME)");
    }
  }
  return store::openSqlite(km_home + "/fleet.db");
}

namespace {

Result<plan::SandboxPlan> planOf(const store::SandboxRecord& rec) {
  return plan::fromJson(rec.plan_json, "the stored plan of " + rec.id);
}

// The source of a clone, frozen while its disk is copied (unless it already was): nothing
// inside can change the tree while km reads it.
class FrozenWhile {
 public:
  explicit FrozenWhile(local::Cgroups cg) : cg_(std::move(cg)) {
    if (!cg_.processes().empty() && !cg_.frozen()) thaw_ = static_cast<bool>(cg_.freeze(true));
  }
  ~FrozenWhile() {
    if (thaw_) (void)cg_.freeze(false);
  }
  FrozenWhile(const FrozenWhile&) = delete;
  FrozenWhile& operator=(const FrozenWhile&) = delete;

 private:
  local::Cgroups cg_;
  bool thaw_ = false;
};

// A clone's disk (and additional volume): a copy of `seed`'s whose files of the seed's user
// now belong to `user`. (A new sandbox's empty disks are the supervisor's to make.)
Status makeDisks(const Env& env, const local::Disks& disks, const plan::SandboxPlan& p,
                 const local::Layout& layout, const local::Layout& seed, const local::SandboxUser& user) {
  bool volume = !p.resources.volume_mount.empty();
  auto seed_user = local::sandboxUser(seed);
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
    FrozenWhile frozen(local::Cgroups::existing(local::detectCgroups(), local::cgroupGroup(env.km_home),
                                                seed.disk_name));
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

// Creates the row and directory, makes the sandbox's disk (from another sandbox's for a
// clone), then starts the supervisor and waits for it. Cleans up everything on failure.
Result<store::SandboxRecord> createFrom(const Env& env, store::FleetStore& store,
                                        const CreateInput& in, const local::Layout* seed) {
  KM_TRY(local::requireRoot("km create"));
  if (in.prepared == nullptr) return internalError("creating a sandbox needs a supervisor forked before the store was opened");
  const plan::SandboxPlan& p = in.plan;
  store::SandboxRecord rec;
  rec.id = p.id;
  rec.alias = p.alias;
  rec.profile_name = in.profile_name;
  rec.profile_yaml = in.profile_yaml;
  rec.plan_json = plan::toJson(p);
  rec.substrate = p.substrate;
  rec.region = p.region;
  rec.status = store::SandboxStatus::kCreating;
  rec.idle_timeout_s = p.idle_timeout_seconds;
  rec.cloned_from = in.cloned_from;
  rec.created_at_ms = store::nowMs();
  local::Layout layout = local::Layout::forSandbox(env.km_home, p.id);
  if (in.plan.alias) {
    // Checked again by the insert; this spares building a sandbox for a taken alias.
    if (auto taken = store.resolve(*in.plan.alias); taken && taken->alias == in.plan.alias) {
      return invalidArgument("alias '" + *in.plan.alias + "' is already used by " + taken->id);
    }
  }
  auto disks = local::Disks::prepare(env.km_home, env.disk);
  if (!disks) return std::move(disks).error();
  if (auto s = sys::makeDirs(local::Layout::sandboxesDir(env.km_home), 0700); !s) {
    return std::move(s).error();
  }
  if (::mkdir(layout.dir.c_str(), 0700) != 0) return sys::errnoError("mkdir", layout.dir, errno);
  // Whatever fails from here, teardown removes what exists (it is idempotent).
  auto removeFiles = [&](Error e) -> Result<store::SandboxRecord> {
    (void)local::teardown(env.km_home, p.id, 0, 0);
    return e;
  };
  if (auto s = sys::replaceFile(layout.plan_file, rec.plan_json + "\n", 0600); !s) {
    return removeFiles(std::move(s).error());
  }
  if (seed != nullptr) {
    // A clone's user is claimed now: its copied files must become that user's.
    auto user = local::claimSandboxUser(layout, env.km_home, p.id);
    if (!user) return removeFiles(std::move(user).error());
    if (auto s = makeDisks(env, *disks, p, layout, *seed, *user); !s) {
      return removeFiles(std::move(s).error().context("copying the source's disk"));
    }
  }
  auto cleanup = [&](Error e) -> Result<store::SandboxRecord> {
    (void)local::teardown(env.km_home, p.id, 0, 0);
    (void)store.remove(p.id);
    return e;
  };
  supervisor::Options so;
  so.km_home = env.km_home;
  so.store_path = env.km_home + "/fleet.db";
  so.id = p.id;
  // The row is written while the supervisor builds the sandbox (two cores, no waiting).
  bool inserted = false;
  auto insert = [&]() -> Status {
    auto r = store.insert(rec);
    if (!r) return std::move(r).error();
    inserted = true;
    return ok();
  };
  auto started = in.prepared->start(so, p, layout.supervisor_log, insert);
  if (!started) {
    // The supervisor keeps its logs in $KM_HOME/failed/ID and tears down what it made before
    // reporting; one that died first left them in the sandbox's directory, kept here. What
    // it logged (a crash report, say) goes into the message, naming where the file stays.
    Error e = std::move(started).error().context("starting " + p.id);
    if (fs::isDirectory(layout.dir)) (void)supervisor::keepFailedLogs(env.km_home, p.id);
    std::string kept = layout.failed_logs + "/supervisor.log";
    auto log = fs::readTail(kept, 4000);
    if (log && !log->empty()) {
      e = Error(e.code(), e.message() + "\n--- last lines of " + kept + " ---\n" + *log);
    }
    return inserted ? cleanup(std::move(e)) : removeFiles(std::move(e));
  }
  auto row = store.modify(p.id, [&](store::SandboxRecord& r) -> Status {
    r.status = store::SandboxStatus::kRunning;
    r.supervisor_pid = started->supervisor_pid;
    r.supervisor_start = started->supervisor_start;
    r.init_pid = started->init_pid;
    r.init_start = started->init_start;
    r.started_at_ms = store::nowMs();
    r.last_activity_ms = r.started_at_ms;
    r.ttl_deadline_ms = p.ttl_seconds > 0 ? r.started_at_ms + p.ttl_seconds * 1000 : 0;
    return ok();
  });
  if (!row) return std::move(row).error();
  (void)store.addEvent(p.id, in.cloned_from ? "cloned" : "created",
                       "init pid " + std::to_string(started->init_pid) +
                           (in.cloned_from ? " from " + *in.cloned_from : ""));
  return *row;
}

}  // namespace

Result<store::SandboxRecord> create(const Env& env, store::FleetStore& store, const CreateInput& input) {
  return createFrom(env, store, input, nullptr);
}

Result<std::vector<store::SandboxRecord>> clone(const Env& env, store::FleetStore& store,
                                                const std::string& source,
                                                const std::optional<std::string>& alias, int count,
                                                bool copy_disk, std::vector<supervisor::Prepared>& prepared) {
  if (count < 1 || count > 100) return invalidArgument("--count: expected 1 to 100");
  auto src = store.resolve(source);
  if (!src) return std::move(src).error();
  auto base = planOf(*src);
  if (!base) return std::move(base).error();
  std::string prefix = src->id.substr(0, src->id.rfind('-'));
  local::Layout seed = local::Layout::forSandbox(env.km_home, src->id);
  std::vector<store::SandboxRecord> out;
  for (int i = 0; i < count; ++i) {
    CreateInput in;
    in.plan = *base;
    in.plan.id = plan::newSandboxId(prefix);
    in.plan.hostname = in.plan.id;
    in.plan.alias = alias;
    if (alias && count > 1) in.plan.alias = *alias + "-" + std::to_string(i + 1);
    in.profile_name = src->profile_name;
    in.profile_yaml = src->profile_yaml;
    in.cloned_from = src->id;
    if (static_cast<size_t>(i) >= prepared.size()) return internalError("fewer forked supervisors than clones");
    in.prepared = &prepared[static_cast<size_t>(i)];
    auto made = createFrom(env, store, in, copy_disk ? &seed : nullptr);
    if (!made) return std::move(made).error().context("clone " + std::to_string(i + 1) + " of " + src->id);
    out.push_back(*made);
  }
  return out;
}

Health health(const store::SandboxRecord& r) {
  Health h;
  h.supervisor_alive = r.supervisor_pid > 0 &&
                       sys::processAlive(static_cast<pid_t>(r.supervisor_pid), r.supervisor_start);
  h.init_alive = r.init_pid > 0 && sys::processAlive(static_cast<pid_t>(r.init_pid), r.init_start);
  using S = store::SandboxStatus;
  bool should_run = r.status == S::kRunning || r.status == S::kPaused;
  if (should_run && !h.init_alive) {
    h.summary = "its processes are gone";
  } else if (!h.supervisor_alive && r.status != S::kFailed) {
    h.summary = std::string("its supervisor is not running") +
                (h.init_alive ? " (the sandbox still runs; TTL and idle are not enforced)" : "");
  }
  if (!h.summary.empty()) h.summary += " — run `km doctor --fix`";
  return h;
}

namespace {

Result<int> enter(const Env& env, const std::string& id, const plan::SandboxPlan& p, pid_t init_pid,
                  uint64_t init_start, const ExecInput& in) {
  local::Layout layout = local::Layout::forSandbox(env.km_home, id);
  auto user = local::sandboxUser(layout);
  if (!user) return std::move(user).error();
  local::Cgroups cg = local::Cgroups::existing(local::detectCgroups(), local::cgroupGroup(env.km_home), id);
  if (cg.frozen()) return invalidArgument(id + " is paused; run `km resume " + id + "` first");
  local::EnterSpec e;
  e.init_pid = init_pid;
  e.init_start = init_start;
  e.user = *user;
  e.root = in.root;
  e.workdir = in.workdir.empty() ? p.working_dir : in.workdir;
  for (const auto& [k, v] : p.env) e.env.push_back(k + "=" + v);
  e.env.insert(e.env.end(), in.env.begin(), in.env.end());
  e.argv = in.argv;
  if (e.argv.empty()) e.argv = {p.shell.empty() ? "/bin/bash" : p.shell, "-l"};
  local::SessionIo io;
  if (in.terminal) io.terminal = *in.terminal ? local::Terminal::kAlways : local::Terminal::kNever;
  return local::runSession(e, cg, io);
}

}  // namespace

std::optional<Result<int>> execById(const Env& env, const std::string& id, const ExecInput& in) {
  local::Layout layout = local::Layout::forSandbox(env.km_home, id);
  auto init = fs::readFile(layout.init_file, 128);
  if (!init) return std::nullopt;
  long long pid = 0;
  unsigned long long start = 0;
  if (std::sscanf(init->c_str(), "%lld %llu", &pid, &start) != 2 || pid <= 0 ||
      !sys::processAlive(static_cast<pid_t>(pid), start)) {
    return std::nullopt;
  }
  auto text = fs::readFile(layout.plan_file);
  if (!text) return std::nullopt;
  auto p = plan::fromJson(*text, layout.plan_file);
  if (!p) return std::nullopt;
  return enter(env, id, *p, static_cast<pid_t>(pid), start, in);
}

Result<int> exec(const Env& env, const store::SandboxRecord& rec, const ExecInput& in) {
  using S = store::SandboxStatus;
  if (rec.status != S::kRunning) {
    return invalidArgument(rec.id + " is " + std::string(store::statusName(rec.status)) +
                           "; run `km resume " + rec.id + "` first");
  }
  auto p = planOf(rec);
  if (!p) return std::move(p).error();
  return enter(env, rec.id, *p, static_cast<pid_t>(rec.init_pid), rec.init_start, in);
}

}  // namespace km::fleet
