#include "supervisor/lifecycle.h"

#include <algorithm>

#include "core/log.h"

namespace km::supervisor {
namespace {

constexpr std::string_view kLog = "km.supervisor";

bool moved(const ActivitySample& before, const ActivitySample& now) {
  return now.cpu_ns > before.cpu_ns + kIdleCpuNoiseNs || now.processes != before.processes ||
         now.net_bytes != before.net_bytes;
}

}  // namespace

int64_t idleSampleIntervalMs(int64_t idle_timeout_s) {
  if (idle_timeout_s <= 0) return kHousekeepingMs;
  return std::clamp<int64_t>(idle_timeout_s * 1000 / 8, 1000, kMaxIdleSampleMs);
}

std::string_view triggerName(Trigger t) {
  switch (t) {
    case Trigger::kTtl: return "ttl";
    case Trigger::kIdle: return "idle";
    case Trigger::kNone: break;
  }
  return "none";
}

Decision decide(const LifecycleView& v, plan::TeardownPolicy policy) {
  Trigger t = Trigger::kNone;
  if (v.ttl_deadline_ms > 0 && v.now_ms >= v.ttl_deadline_ms) {
    t = Trigger::kTtl;
  } else if (v.idle_timeout_s > 0 && v.running && !v.paused &&
             v.now_ms - v.last_activity_ms >= v.idle_timeout_s * 1000) {
    t = Trigger::kIdle;
  }
  if (t == Trigger::kNone) return {};
  if (v.locked) return {t, Action::kSkipLocked};
  switch (policy) {
    case plan::TeardownPolicy::kStop: return {t, Action::kStop};
    case plan::TeardownPolicy::kRetain: return {t, Action::kRetain};
    case plan::TeardownPolicy::kDestroy: break;
  }
  return {t, Action::kDestroy};
}

Lifecycle::Lifecycle(std::string id, plan::TeardownPolicy policy, const Clock& clock,
                     store::FleetStore& store, LifecycleTarget& target)
    : id_(std::move(id)), policy_(policy), clock_(clock), store_(store), target_(target),
      last_activity_ms_(clock.nowMs()) {}

void Lifecycle::restarted() {
  last_activity_ms_ = clock_.nowMs();
  previous_.reset();
  disarmed_deadline_ms_ = 0;
}

Lifecycle::Step Lifecycle::check() {
  const int64_t now = clock_.nowMs();
  Step step;
  auto rec = store_.get(id_);
  if (!rec) {
    log::warn(kLog, id_ + ": reading its row: " + rec.error().message() + "; trying again later");
    step.next_ms = now + kHousekeepingMs;
    return step;
  }
  if (!rec->has_value()) {
    log::info(kLog, id_ + ": the sandbox's row is gone; supervisor exiting");
    step.done = true;
    return step;
  }
  const store::SandboxRecord& row = **rec;
  const bool paused = row.status == store::SandboxStatus::kPaused;
  if (row.idle_timeout_s > 0 && target_.running() && !paused) {
    ActivitySample s = target_.sample();
    if (!previous_ || moved(*previous_, s)) last_activity_ms_ = now;
    previous_ = s;
  }
  if (paused) last_activity_ms_ = now;  // a paused sandbox is not idle, it is paused
  last_activity_ms_ = std::max(last_activity_ms_, row.last_activity_ms);
  LifecycleView view;
  view.now_ms = now;
  view.ttl_deadline_ms = row.ttl_deadline_ms == disarmed_deadline_ms_ ? 0 : row.ttl_deadline_ms;
  view.idle_timeout_s = row.idle_timeout_s;
  view.last_activity_ms = last_activity_ms_;
  view.locked = row.locked;
  view.running = target_.running();
  view.paused = paused;
  step.decision = decide(view, policy_);
  if (step.decision.trigger != Trigger::kNone) {
    step.decision = act(step.decision, row);  // a lock that landed meanwhile makes it a skip
    if (step.decision.action == Action::kDestroy) {
      step.done = true;  // a failed teardown is finished by `km destroy` or `km doctor --fix`
      return step;
    }
  } else if (last_activity_ms_ > row.last_activity_ms && last_activity_ms_ - saved_activity_ms_ >= kActivitySaveMs) {
    saved_activity_ms_ = last_activity_ms_;
    (void)store_.modify(id_, [&](store::SandboxRecord& x) -> Status {
      x.last_activity_ms = std::max(x.last_activity_ms, last_activity_ms_);
      return ok();
    });
  }
  step.next_ms = next(row, now);
  return step;
}

Decision Lifecycle::act(Decision d, const store::SandboxRecord& row) {
  std::string what(triggerName(d.trigger));
  if (d.action == Action::kDestroy) {
    // Claim the row before tearing down: a `km lock` that lands after the decision either
    // wins (the sandbox stays) or is refused (it sees `destroying`); it never succeeds on a
    // sandbox that is going away.
    bool locked_now = false;
    (void)store_.modify(id_, [&](store::SandboxRecord& x) -> Status {
      if (x.locked) {
        locked_now = true;
        return invalidArgument("locked");
      }
      x.status = store::SandboxStatus::kDestroying;
      return ok();
    });
    if (locked_now) d.action = Action::kSkipLocked;
  }
  if (d.action == Action::kSkipLocked) {
    log::info(kLog, id_ + ": " + what + " expired; skipped: the sandbox is locked");
    (void)store_.addEvent(id_, what + "-expired", "skipped: sandbox is locked");
    disarm(d.trigger, row.ttl_deadline_ms);
    return d;
  }
  std::string policy(plan::teardownPolicyName(policy_));
  log::info(kLog, id_ + ": " + what + " expired; teardownPolicy " + policy +
                      (d.action == Action::kStop ? ": stopping" : d.action == Action::kRetain ? ": nothing to do" : ": destroying"));
  (void)store_.addEvent(id_, what + "-expired", "teardownPolicy " + policy);
  Status s = ok();
  switch (d.action) {
    case Action::kStop:
      disarm(d.trigger, row.ttl_deadline_ms);
      if (target_.running()) s = target_.stop(what + " expired");
      break;
    case Action::kRetain:
      disarm(d.trigger, row.ttl_deadline_ms);
      break;
    case Action::kDestroy:
      s = target_.destroy(what + " expired");
      break;
    case Action::kNone:
    case Action::kSkipLocked:
      break;
  }
  if (!s) log::error(kLog, id_ + ": " + what + " teardown: " + s.error().message());
  return d;
}

void Lifecycle::disarm(Trigger t, int64_t deadline_ms) {
  const int64_t now = clock_.nowMs();
  // Remembered here first: if the row cannot be written, this trigger must still not fire
  // again at the next look (it would stop or log every time).
  if (t == Trigger::kTtl) disarmed_deadline_ms_ = deadline_ms;
  last_activity_ms_ = now;
  auto r = store_.modify(id_, [&](store::SandboxRecord& x) -> Status {
    if (t == Trigger::kTtl && x.ttl_deadline_ms == deadline_ms) x.ttl_deadline_ms = 0;
    x.last_activity_ms = std::max(x.last_activity_ms, now);
    return ok();
  });
  if (!r) {
    log::error(kLog, id_ + ": recording that its " + std::string(triggerName(t)) +
                         " expiry was handled: " + r.error().message());
  }
}

int64_t Lifecycle::next(const store::SandboxRecord& row, int64_t now) const {
  int64_t at = now + kHousekeepingMs;
  if (row.ttl_deadline_ms > 0 && row.ttl_deadline_ms != disarmed_deadline_ms_) {
    at = std::min(at, std::max(row.ttl_deadline_ms, now + 1));
  }
  if (row.idle_timeout_s > 0 && target_.running() && row.status != store::SandboxStatus::kPaused) {
    at = std::min(at, now + idleSampleIntervalMs(row.idle_timeout_s));
    at = std::min(at, std::max(last_activity_ms_ + row.idle_timeout_s * 1000, now + 1));
  }
  return at;
}

}  // namespace km::supervisor
