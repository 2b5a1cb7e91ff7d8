// The sandbox's lifetime rules (private to supervisor): its TTL, its idle timeout, the
// teardownPolicy they apply, a lock that suspends them, and `km extend` moving the deadline.
// The decision is a pure function of the row and the clock; Lifecycle adds what it remembers
// between looks (last activity, counters) and the writes to the fleet store. No timers here:
// check() returns when to look next and the control loop sets its timer to that.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "plan/plan.h"
#include "store/store.h"

namespace km::supervisor {

// Counters that move when anything happens inside: CPU time, the process count, bytes on
// the network. Activity is a change of any of them (CPU by more than kIdleCpuNoiseNs).
struct ActivitySample {
  uint64_t cpu_ns = 0;
  uint64_t processes = 0;
  uint64_t net_bytes = 0;
};
inline constexpr uint64_t kIdleCpuNoiseNs = 200'000;

// How often an idle timeout samples the counters: an eighth of the timeout, between 1 s and
// 5 min. Idleness is therefore noticed at most that much late; nothing is polled between.
int64_t idleSampleIntervalMs(int64_t idle_timeout_s);
inline constexpr int64_t kMaxIdleSampleMs = 300'000;
// With no deadline near, the row is still read this often (a row removed behind the
// supervisor's back, an OOM count where no memory events can be watched).
inline constexpr int64_t kHousekeepingMs = 300'000;
// Last activity is written to the row at most this often (km status shows it).
inline constexpr int64_t kActivitySaveMs = 10'000;

enum class Trigger { kNone, kTtl, kIdle };
enum class Action { kNone, kSkipLocked, kStop, kDestroy, kRetain };
struct Decision {
  Trigger trigger = Trigger::kNone;
  Action action = Action::kNone;
};
std::string_view triggerName(Trigger t);  // "ttl", "idle"

// What the row and the sandbox say now.
struct LifecycleView {
  int64_t now_ms = 0;
  int64_t ttl_deadline_ms = 0;   // 0: none
  int64_t idle_timeout_s = 0;    // 0: none
  int64_t last_activity_ms = 0;  // newest known activity
  bool locked = false;
  bool running = false;
  bool paused = false;
};

// The pure rule: an expired TTL first, then idleness of a running, unpaused sandbox; a locked
// sandbox's triggers are skipped; otherwise the policy's action.
Decision decide(const LifecycleView& view, plan::TeardownPolicy policy);

// What the lifecycle acts on: the sandbox (Runtime in the supervisor, a fake in tests).
class LifecycleTarget {
 public:
  virtual ~LifecycleTarget() = default;
  virtual bool running() const = 0;
  virtual ActivitySample sample() = 0;
  [[nodiscard]] virtual Status stop(std::string_view reason) = 0;
  [[nodiscard]] virtual Status destroy(std::string_view reason) = 0;
};

class Lifecycle {
 public:
  Lifecycle(std::string id, plan::TeardownPolicy policy, const Clock& clock, store::FleetStore& store,
            LifecycleTarget& target);

  struct Step {
    bool done = false;    // the sandbox was destroyed, or its row is gone: the supervisor ends
    int64_t next_ms = 0;  // when to look again (wall clock, ms)
    Decision decision;    // what this look did
  };
  // Reads the row, samples activity when an idle timeout wants it, acts on an expiry.
  // A store that cannot be read is retried at the next housekeeping look. A trigger whose
  // disarm cannot be recorded is remembered here, so it does not fire again at every look.
  Step check();
  // The sandbox just started or resumed: idleness counts from now.
  void restarted();

 private:
  Decision act(Decision d, const store::SandboxRecord& row);
  void disarm(Trigger t, int64_t deadline_ms);
  int64_t next(const store::SandboxRecord& row, int64_t now) const;

  std::string id_;
  plan::TeardownPolicy policy_;
  const Clock& clock_;
  store::FleetStore& store_;
  LifecycleTarget& target_;
  int64_t last_activity_ms_;
  int64_t saved_activity_ms_ = 0;
  std::optional<ActivitySample> previous_;
  int64_t disarmed_deadline_ms_ = 0;  // a TTL deadline already acted on (if the row kept it)
};

}  // namespace km::supervisor
