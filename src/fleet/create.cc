#include <sys/socket.h>
#include <sys/un.h>

#include <cstdio>
#include <cstring>

#include "core/fs.h"
#include "core/sys.h"
#include "fleet/fleet.h"
#include "fleet/substrates.h"
#include "net/net.h"
#include "net/proxy/proxy.h"
#include "supervisor/supervisor.h"

namespace km::fleet {

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

// Creates the row and directory, makes the sandbox's disk (from another sandbox's for a
// clone), then starts the supervisor and waits for it. Cleans up everything on failure.
Result<store::SandboxRecord> createFrom(const Env& env, store::FleetStore& store,
                                        const CreateInput& in, std::string_view seed) {
  const plan::SandboxPlan& p = in.plan;
  auto where = substrate::open(p.substrate, detail::substrateOptions(env));
  if (!where) return std::move(where).error();
  const substrate::Substrate& sub = **where;
  KM_TRY(sub.requireAccess("km create"));
  if (in.prepared == nullptr) return internalError("creating a sandbox needs a supervisor forked before the store was opened");
  store::SandboxRecord rec;
  rec.id = p.id;
  rec.alias = p.alias;
  rec.profile_name = in.profile_name;
  rec.plan_json = plan::toJson(p);
  rec.substrate = std::string(plan::substrateName(p.substrate));
  rec.region = p.region;
  rec.status = store::SandboxStatus::kCreating;
  rec.idle_timeout_s = p.idle_timeout_seconds;
  rec.cloned_from = in.cloned_from;
  rec.created_at_ms = store::nowMs();
  substrate::SandboxFiles files = sub.files(p.id);
  if (in.plan.alias) {
    // Checked again by the insert; this spares building a sandbox for a taken alias.
    if (auto taken = store.resolve(*in.plan.alias); taken && taken->alias == in.plan.alias) {
      return invalidArgument("alias '" + *in.plan.alias + "' is already used by " + taken->id);
    }
  }
  // The sandbox's directory with its plan (and a clone's copied disk): on failure nothing
  // of it is left.
  KM_TRY(sub.reserve(p, rec.plan_json, seed));
  // The sandbox's CA, here rather than in the supervisor (forked already): a supervisor
  // whose proxy never intercepts then never touches OpenSSL's code (its memory stays small).
  // A spare from the pool when there is one (the supervisor tops the pool up afterwards).
  if (net::servesProxy(p.network.enforcement)) {
    if (auto ca = net::proxy::provideSandboxCa(net::proxy::sandboxCaDir(files.dir), net::proxy::caPoolDir(env.km_home)); !ca) {
      (void)sub.teardown(p.id, {});
      return std::move(ca).error();
    }
  }
  auto removeFiles = [&](Error e) -> Result<store::SandboxRecord> {
    (void)sub.teardown(p.id, {});
    return e;
  };
  auto cleanup = [&](Error e) -> Result<store::SandboxRecord> {
    (void)sub.teardown(p.id, {});
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
    if (in.profile_yaml) rec.profile_yaml = in.profile_yaml();
    auto r = store.insert(rec);
    if (!r) return std::move(r).error();
    inserted = true;
    if (in.meanwhile) in.meanwhile();
    return ok();
  };
  auto started = in.prepared->start(so, p, rec.plan_json, files.supervisor_log, insert);
  if (!started) {
    // The supervisor keeps its logs in $KM_HOME/failed/ID and tears down what it made before
    // reporting; one that died first left them in the sandbox's directory, kept here. What
    // it logged (a crash report, say) goes into the message, naming where the file stays.
    Error e = std::move(started).error().context("starting " + p.id);
    if (fs::isDirectory(files.dir)) (void)supervisor::keepFailedLogs(files);
    std::string kept = files.failed_logs + "/supervisor.log";
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
  return createFrom(env, store, input, "");
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
  std::vector<store::SandboxRecord> out;
  for (int i = 0; i < count; ++i) {
    CreateInput in;
    in.plan = *base;
    in.plan.id = plan::newSandboxId(prefix);
    in.plan.hostname = in.plan.id;
    in.plan.alias = alias;
    if (alias && count > 1) in.plan.alias = *alias + "-" + std::to_string(i + 1);
    in.profile_name = src->profile_name;
    in.profile_yaml = [yaml = src->profile_yaml] { return yaml; };
    in.cloned_from = src->id;
    if (static_cast<size_t>(i) >= prepared.size()) return internalError("fewer forked supervisors than clones");
    in.prepared = &prepared[static_cast<size_t>(i)];
    auto made = createFrom(env, store, in, copy_disk ? std::string_view(src->id) : std::string_view());
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

// Whether the sandbox's supervisor answers on its control socket: a connection is accepted
// (and closed at once: an empty request is no request).
bool supervisorListening(const std::string& socket_path) {
  sockaddr_un sa{};
  if (socket_path.size() >= sizeof sa.sun_path) return true;  // cannot tell: say nothing
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);
  sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return true;
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
}

Result<int> enter(const Env& env, const plan::SandboxPlan& p, substrate::Running running, const ExecInput& in) {
  auto where = substrate::open(p.substrate, detail::substrateOptions(env));
  if (!where) return std::move(where).error();
  // Without its supervisor a sandbox still runs, but nothing records what runs in it and no
  // budget or lifetime is enforced: whoever enters should know.
  if (in.warn && !supervisorListening((*where)->files(p.id).control_socket)) {
    in.warn(p.id + " has no supervisor running: commands are not audited and its budgets and lifetime are not "
                   "enforced until `km doctor --fix` (or `km resume`) starts one");
  }
  substrate::Command c;
  c.root = in.root;
  c.workdir = in.workdir.empty() ? p.working_dir : in.workdir;
  for (const auto& [k, v] : p.env) c.env.push_back(k + "=" + v);
  c.env.insert(c.env.end(), in.env.begin(), in.env.end());
  c.argv = in.argv;
  if (c.argv.empty()) c.argv = {p.shell.empty() ? "/bin/bash" : p.shell, "-l"};
  substrate::SessionIo io;
  if (in.terminal) io.terminal = *in.terminal ? substrate::Terminal::kAlways : substrate::Terminal::kNever;
  return (*where)->sandbox(p)->enter(running, c, io);
}

}  // namespace

std::optional<Result<int>> execById(const Env& env, const std::string& id, const ExecInput& in) {
  substrate::SandboxFiles files = detail::homeSubstrate(env)->files(id);
  auto init = fs::readFile(files.init_file, 128);
  if (!init) return std::nullopt;
  long long pid = 0;
  unsigned long long start = 0;
  if (std::sscanf(init->c_str(), "%lld %llu", &pid, &start) != 2 || pid <= 0 ||
      !sys::processAlive(static_cast<pid_t>(pid), start)) {
    return std::nullopt;
  }
  auto text = fs::readFile(files.plan_file);
  if (!text) return std::nullopt;
  auto p = plan::fromJson(*text, files.plan_file);
  if (!p) return std::nullopt;
  return enter(env, *p, {static_cast<pid_t>(pid), start}, in);
}

Result<int> exec(const Env& env, const store::SandboxRecord& rec, const ExecInput& in) {
  using S = store::SandboxStatus;
  if (rec.status != S::kRunning) {
    return invalidArgument(rec.id + " is " + std::string(store::statusName(rec.status)) +
                           "; run `km resume " + rec.id + "` first");
  }
  auto p = planOf(rec);
  if (!p) return std::move(p).error();
  return enter(env, *p, {static_cast<pid_t>(rec.init_pid), rec.init_start}, in);
}

Result<std::optional<std::string>> readFile(const Env& env, const store::SandboxRecord& rec, const std::string& path,
                                            size_t max_bytes, bool tail) {
  using S = store::SandboxStatus;
  if (rec.status != S::kRunning && rec.status != S::kPaused) {
    return invalidArgument(rec.id + " is " + std::string(store::statusName(rec.status)) + "; run `km resume " + rec.id +
                           "` first");
  }
  auto p = planOf(rec);
  if (!p) return std::move(p).error();
  auto where = substrate::open(p->substrate, detail::substrateOptions(env));
  if (!where) return std::move(where).error();
  return (*where)->sandbox(*p)->readFile({static_cast<pid_t>(rec.init_pid), rec.init_start}, path, max_bytes, tail);
}

}  // namespace km::fleet
