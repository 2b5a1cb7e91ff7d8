#include <chrono>
#include <cstdint>

#include "core/sys.h"
#include "fleet/fleet.h"
#include "fleet/substrates.h"
#include "supervisor/supervisor.h"

namespace km::fleet {

using namespace std::chrono_literals;
using S = store::SandboxStatus;

namespace {

Result<store::SandboxRecord> load(store::FleetStore& store, const std::string& id) {
  auto r = store.get(id);
  if (!r) return std::move(r).error();
  if (!r->has_value()) return notFound("no sandbox '" + id + "' (see `km list`)");
  return **r;
}

Status refuseLocked(const store::SandboxRecord& r, std::string_view action) {
  if (!r.locked) return ok();
  return invalidArgument(r.id + " is locked; it cannot be " + std::string(action) +
                         " (run `km unlock " + r.id + "` first)");
}

Status ask(const Env& env, const store::SandboxRecord& r, std::string_view command) {
  Health h = health(r);
  if (!h.supervisor_alive) {
    return unavailable(r.id + ": its supervisor is not running; run `km doctor --fix`");
  }
  auto where = detail::substrateNamed(env, r.substrate);
  if (!where) return std::move(where).error().context(r.id);
  auto reply = supervisor::request((*where)->files(r.id).control_socket, command, 120s);
  if (!reply) return std::move(reply).error().context(r.id);
  return ok();
}

}  // namespace

Status stop(const Env& env, store::FleetStore& store, const std::string& id) {
  auto r = load(store, id);
  if (!r) return std::move(r).error();
  KM_TRY(refuseLocked(*r, "stopped"));
  if (r->status == S::kStopped) return ok();
  return ask(env, *r, "stop");
}

Status pause(const Env& env, store::FleetStore& store, const std::string& id) {
  auto r = load(store, id);
  if (!r) return std::move(r).error();
  KM_TRY(refuseLocked(*r, "paused"));
  if (r->status == S::kPaused) return ok();
  if (r->status != S::kRunning) {
    return invalidArgument(id + " is " + std::string(store::statusName(r->status)) + "; only a running sandbox can be paused");
  }
  return ask(env, *r, "pause");
}

Status resume(const Env& env, store::FleetStore& store, const std::string& id) {
  auto r = load(store, id);
  if (!r) return std::move(r).error();
  Health h = health(*r);
  // A running sandbox is asked too: its supervisor thaws one left frozen (a bake that was
  // killed), and does nothing to one that is not.
  if (!h.supervisor_alive) {
    // A sandbox whose supervisor is gone (host reboot, kill): start a new one. It adopts a
    // sandbox still running, restarts a lost one, and waits for a stopped one's resume.
    auto where = detail::substrateNamed(env, r->substrate);
    if (!where) return std::move(where).error().context(id);
    KM_TRY(supervisor::spawn(env.km_binary, env.global_args, id, (*where)->files(id).supervisor_log));
    auto again = load(store, id);
    if (!again) return std::move(again).error();
    r = std::move(again);
  }
  return ask(env, *r, "resume");
}

Status destroy(const Env& env, store::FleetStore& store, const std::string& id) {
  auto r = load(store, id);
  if (!r) return std::move(r).error();
  KM_TRY(refuseLocked(*r, "destroyed"));
  if (health(*r).supervisor_alive) return ask(env, *r, "destroy");
  // Nobody owns it: tear down here, the same steps the supervisor takes. A failure leaves the
  // row `destroying`; running destroy again finishes the job.
  auto where = detail::substrateNamed(env, r->substrate);
  if (!where) return std::move(where).error().context(id);
  KM_TRY((*where)->requireAccess("km destroy"));
  (void)store.modify(id, [](store::SandboxRecord& rec) -> Status {
    rec.status = S::kDestroying;
    return ok();
  });
  KM_TRY((*where)->teardown(id, {static_cast<pid_t>(r->init_pid), r->init_start}));
  (void)store.addEvent(id, "destroyed", "by the CLI (no supervisor)");
  return store.remove(id);
}

Status setLocked(store::FleetStore& store, const std::string& id, bool locked) {
  auto r = store.modify(id, [&](store::SandboxRecord& rec) -> Status {
    // Its TTL or idle timeout may have started its teardown a moment ago (the supervisor
    // marks the row first, in one transaction with its look at the lock).
    if (locked && rec.status == store::SandboxStatus::kDestroying) {
      return invalidArgument(id + " is being destroyed; it cannot be locked");
    }
    rec.locked = locked;
    return ok();
  });
  if (!r) return std::move(r).error();
  return store.addEvent(id, locked ? "locked" : "unlocked", "");
}

void noteUnlocked(const Env& env, store::FleetStore& store, const std::string& id) {
  auto r = load(store, id);
  if (!r || (r->status != S::kRunning && r->status != S::kPaused)) return;
  (void)ask(env, *r, "unlocked");
}

Result<store::SandboxRecord> extend(store::FleetStore& store, const std::string& id, int64_t seconds) {
  if (seconds <= 0) return invalidArgument("the extension must be longer than 0");
  auto r = store.modify(id, [&](store::SandboxRecord& rec) -> Status {
    if (rec.ttl_deadline_ms == 0) {
      return invalidArgument(id + " has no TTL deadline (ttl 0 never expires, or it already "
                                  "expired); nothing to extend");
    }
    // Go's own limit for one duration (~292 years) also bounds the deadline from now, so
    // repeated extends cannot reach a year no clock or date format handles.
    constexpr int64_t kMaxMs = INT64_MAX / 1000000;
    int64_t now = store::nowMs();
    int64_t base = std::max(rec.ttl_deadline_ms, now);
    if (seconds > kMaxMs / 1000 || base - now > kMaxMs - seconds * 1000) {
      return invalidArgument("extending " + id + " by " + std::to_string(seconds) +
                             "s would put its deadline more than 292 years away");
    }
    rec.ttl_deadline_ms = base + seconds * 1000;
    return ok();
  });
  if (!r) return std::move(r).error();
  (void)store.addEvent(id, "extended", "+" + std::to_string(seconds) + "s");
  return r;
}

}  // namespace km::fleet
