// The lifecycle policy with a clock the test moves and an in-memory store: TTL and idle
// expiry under each teardownPolicy, locks, km extend, disarm failures, and when the
// supervisor wakes next. No sleeps.
#include "supervisor/lifecycle.h"

#include <gtest/gtest.h>

#include <utility>

#include "fakes/fake_fleet_store.h"
#include "fleet/fleet.h"

namespace km::supervisor {
namespace {

using plan::TeardownPolicy;

class FakeClock final : public Clock {
 public:
  int64_t nowMs() const override { return now; }
  int64_t now = 1'700'000'000'000;
};

// Delegates to the fake store, with modify() failing while `fail_modify` is set.
class FlakyStore final : public store::FleetStore {
 public:
  test::FakeFleetStore inner;
  bool fail_modify = false;
  int modifies = 0;
  Result<store::SandboxRecord> insert(store::SandboxRecord r) override { return inner.insert(std::move(r)); }
  // Runs once, right after the next get(): a CLI's change landing just after the look.
  std::function<void()> after_get;
  Result<std::optional<store::SandboxRecord>> get(std::string_view id) override {
    auto r = inner.get(id);
    if (after_get) std::exchange(after_get, nullptr)();
    return r;
  }
  Result<store::SandboxRecord> resolve(std::string_view ref) override { return inner.resolve(ref); }
  Result<std::vector<store::SandboxRecord>> list() override { return inner.list(); }
  Result<store::SandboxRecord> modify(std::string_view id,
                                      const std::function<Status(store::SandboxRecord&)>& change) override {
    ++modifies;
    if (fail_modify) return unavailable("database is locked");
    return inner.modify(id, change);
  }
  Status remove(std::string_view id) override { return inner.remove(id); }
  Status addEvent(std::string_view id, std::string_view kind, std::string_view detail, int64_t at) override {
    return inner.addEvent(id, kind, detail, at);
  }
  Result<std::vector<store::Event>> events(std::string_view id, size_t limit) override {
    return inner.events(id, limit);
  }
};

class FakeTarget final : public LifecycleTarget {
 public:
  bool running() const override { return is_running; }
  ActivitySample sample() override {
    ++samples;
    return counters;
  }
  Status stop(std::string_view reason) override {
    stops.emplace_back(reason);
    is_running = false;
    return ok();
  }
  Status destroy(std::string_view reason) override {
    destroys.emplace_back(reason);
    is_running = false;
    return destroy_result;
  }
  bool is_running = true;
  ActivitySample counters;
  int samples = 0;
  std::vector<std::string> stops, destroys;
  Status destroy_result = ok();
};

class LifecycleTest : public ::testing::Test {
 protected:
  void insertRow(int64_t ttl_in_ms, int64_t idle_s, bool locked = false) {
    store::SandboxRecord r;
    r.id = "sb-0000abcd";
    r.status = store::SandboxStatus::kRunning;
    r.ttl_deadline_ms = ttl_in_ms > 0 ? clock.now + ttl_in_ms : 0;
    r.idle_timeout_s = idle_s;
    r.locked = locked;
    r.last_activity_ms = clock.now;
    ASSERT_TRUE(db.insert(r));
  }
  store::SandboxRecord row() { return **db.get("sb-0000abcd"); }
  std::vector<std::string> eventKinds() {
    std::vector<std::string> out;
    auto events = db.events("sb-0000abcd", 100);
    for (const auto& e : *events) out.push_back(e.kind + ":" + e.detail);
    return out;
  }
  Lifecycle make(TeardownPolicy p) { return Lifecycle("sb-0000abcd", p, clock, db, target); }

  FakeClock clock;
  FlakyStore db;
  FakeTarget target;
};

TEST(DecideTest, TtlFirstThenIdleLockedSkippedPolicyApplied) {
  LifecycleView v;
  v.now_ms = 10'000;
  v.running = true;
  EXPECT_EQ(decide(v, TeardownPolicy::kDestroy).trigger, Trigger::kNone);
  v.ttl_deadline_ms = 10'000;  // due exactly now
  EXPECT_EQ(decide(v, TeardownPolicy::kDestroy).action, Action::kDestroy);
  EXPECT_EQ(decide(v, TeardownPolicy::kStop).action, Action::kStop);
  EXPECT_EQ(decide(v, TeardownPolicy::kRetain).action, Action::kRetain);
  v.locked = true;
  EXPECT_EQ(decide(v, TeardownPolicy::kDestroy).action, Action::kSkipLocked);
  v.locked = false;
  v.ttl_deadline_ms = 10'001;
  v.idle_timeout_s = 5;
  v.last_activity_ms = 5'001;
  EXPECT_EQ(decide(v, TeardownPolicy::kDestroy).trigger, Trigger::kNone);  // 4.999 s idle
  v.last_activity_ms = 5'000;
  EXPECT_EQ(decide(v, TeardownPolicy::kDestroy).trigger, Trigger::kIdle);
  v.paused = true;
  EXPECT_EQ(decide(v, TeardownPolicy::kDestroy).trigger, Trigger::kNone);
  v.paused = false;
  v.running = false;  // a stopped sandbox is not idle
  EXPECT_EQ(decide(v, TeardownPolicy::kDestroy).trigger, Trigger::kNone);
  v.ttl_deadline_ms = 9'000;  // but its TTL still applies
  EXPECT_EQ(decide(v, TeardownPolicy::kStop).trigger, Trigger::kTtl);
}

TEST(DecideTest, IdleSampleIntervalIsAnEighthBetweenOneSecondAndFiveMinutes) {
  EXPECT_EQ(idleSampleIntervalMs(1), 1000);
  EXPECT_EQ(idleSampleIntervalMs(16), 2000);
  EXPECT_EQ(idleSampleIntervalMs(3600), 300'000);
  EXPECT_EQ(idleSampleIntervalMs(86400), 300'000);
  EXPECT_EQ(idleSampleIntervalMs(0), kHousekeepingMs);
}

TEST_F(LifecycleTest, TtlDestroyWakesAtTheDeadlineAndDestroys) {
  insertRow(5'000, 0);
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  auto step = lc.check();
  EXPECT_FALSE(step.done);
  EXPECT_EQ(step.next_ms, clock.now + 5'000);  // no look before the deadline
  EXPECT_EQ(target.samples, 0);                // no idle timeout: nothing sampled
  clock.now += 5'000;
  step = lc.check();
  EXPECT_TRUE(step.done);
  ASSERT_EQ(target.destroys.size(), 1u);
  EXPECT_EQ(target.destroys[0], "ttl expired");
  EXPECT_EQ(eventKinds().back(), "ttl-expired:teardownPolicy destroy");
}

TEST_F(LifecycleTest, TtlDestroyMarksTheRowSoALateLockIsRefused) {
  insertRow(5'000, 0);
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  clock.now += 5'000;
  EXPECT_TRUE(lc.check().done);
  ASSERT_EQ(target.destroys.size(), 1u);
  EXPECT_EQ(row().status, store::SandboxStatus::kDestroying);
  auto locked = fleet::setLocked(db, "sb-0000abcd", true);
  ASSERT_FALSE(locked);
  EXPECT_NE(locked.error().message().find("being destroyed"), std::string::npos);
  EXPECT_FALSE(row().locked);
  EXPECT_TRUE(fleet::setLocked(db, "sb-0000abcd", false));  // unlocking is never refused
}

TEST_F(LifecycleTest, ALockLandingAfterTheLookStillWinsOverTheTtl) {
  insertRow(5'000, 0);
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  clock.now += 5'000;
  db.after_get = [&] { ASSERT_TRUE(fleet::setLocked(db, "sb-0000abcd", true)); };
  auto step = lc.check();
  EXPECT_FALSE(step.done);
  EXPECT_TRUE(target.destroys.empty());
  EXPECT_EQ(row().status, store::SandboxStatus::kRunning);
  EXPECT_EQ(eventKinds().back(), "ttl-expired:skipped: sandbox is locked");
}

TEST_F(LifecycleTest, TtlStopDisarmsTheDeadlineOnce) {
  insertRow(1'000, 0);
  Lifecycle lc = make(TeardownPolicy::kStop);
  clock.now += 1'000;
  auto step = lc.check();
  EXPECT_FALSE(step.done);
  EXPECT_EQ(target.stops, std::vector<std::string>{"ttl expired"});
  EXPECT_EQ(row().ttl_deadline_ms, 0);
  EXPECT_EQ(step.next_ms, clock.now + kHousekeepingMs);
  clock.now += 120'000;
  lc.check();
  EXPECT_EQ(target.stops.size(), 1u);
}

TEST_F(LifecycleTest, RetainRecordsTheExpiryAndKeepsRunning) {
  insertRow(1'000, 0);
  Lifecycle lc = make(TeardownPolicy::kRetain);
  clock.now += 2'000;
  lc.check();
  EXPECT_TRUE(target.is_running);
  EXPECT_TRUE(target.stops.empty());
  EXPECT_TRUE(target.destroys.empty());
  EXPECT_EQ(row().ttl_deadline_ms, 0);
  EXPECT_EQ(eventKinds().back(), "ttl-expired:teardownPolicy retain");
}

TEST_F(LifecycleTest, LockedSandboxIsSkippedOnceThenUnlockedIdleApplies) {
  insertRow(1'000, 1, /*locked=*/true);
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  clock.now += 1'000;
  lc.check();
  EXPECT_TRUE(target.destroys.empty());
  EXPECT_EQ(row().ttl_deadline_ms, 0);
  EXPECT_EQ(eventKinds().back(), "ttl-expired:skipped: sandbox is locked");
  ASSERT_TRUE(db.modify("sb-0000abcd", [](store::SandboxRecord& r) -> Status {
    r.locked = false;
    return ok();
  }));
  clock.now += 1'000;  // counters unchanged since the last sample: idle for 1 s
  lc.check();
  ASSERT_EQ(target.destroys.size(), 1u);
  EXPECT_EQ(target.destroys[0], "idle expired");
}

TEST_F(LifecycleTest, ExtendMovesTheDeadlineAndTheOldOneDoesNothing) {
  insertRow(5'000, 0);
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  EXPECT_EQ(lc.check().next_ms, clock.now + 5'000);
  const int64_t later = clock.now + 50'000;
  ASSERT_TRUE(db.modify("sb-0000abcd", [&](store::SandboxRecord& r) -> Status {
    r.ttl_deadline_ms = later;  // km extend
    return ok();
  }));
  clock.now += 5'000;  // the old deadline
  auto step = lc.check();
  EXPECT_TRUE(target.destroys.empty());
  EXPECT_EQ(step.next_ms, later);
  clock.now = later;
  EXPECT_TRUE(lc.check().done);
}

TEST_F(LifecycleTest, FailedDisarmDoesNotFireAgainAtEveryLook) {
  insertRow(1'000, 0, /*locked=*/true);
  Lifecycle lc = make(TeardownPolicy::kStop);
  db.fail_modify = true;
  clock.now += 1'000;
  lc.check();
  EXPECT_EQ(row().ttl_deadline_ms, clock.now);  // the row still has it
  size_t events = eventKinds().size();
  for (int i = 0; i < 5; ++i) {
    clock.now += 1'000;
    auto step = lc.check();
    EXPECT_EQ(step.decision.trigger, Trigger::kNone);
    EXPECT_EQ(step.next_ms, clock.now + kHousekeepingMs);  // no busy wake on the old deadline
  }
  EXPECT_EQ(eventKinds().size(), events);
  EXPECT_TRUE(target.stops.empty());
}

TEST_F(LifecycleTest, IdleSamplesAtAnEighthAndActivityPostponesIt) {
  insertRow(0, 8);  // 8 s idle timeout: a sample each second
  Lifecycle lc = make(TeardownPolicy::kStop);
  auto step = lc.check();
  EXPECT_EQ(target.samples, 1);
  EXPECT_EQ(step.next_ms, clock.now + 1'000);
  for (int i = 0; i < 20; ++i) {  // busy: CPU moves by 1 ms a second
    clock.now += 1'000;
    target.counters.cpu_ns += 1'000'000;
    EXPECT_EQ(lc.check().decision.trigger, Trigger::kNone);
  }
  // A tiny CPU change (below the noise floor) is not activity; 8 s later it is idle.
  for (int i = 0; i < 7; ++i) {
    clock.now += 1'000;
    target.counters.cpu_ns += 1'000;
    EXPECT_EQ(lc.check().decision.trigger, Trigger::kNone) << i;
  }
  clock.now += 1'000;
  EXPECT_EQ(lc.check().decision.action, Action::kStop);
  EXPECT_EQ(target.stops, std::vector<std::string>{"idle expired"});
  // Stopped: nothing to sample until it runs again.
  int samples = target.samples;
  auto after = lc.check();
  EXPECT_EQ(target.samples, samples);
  EXPECT_EQ(after.next_ms, clock.now + kHousekeepingMs);
}

TEST_F(LifecycleTest, PausedIsNotIdleAndActivityIsSavedAtMostEveryTenSeconds) {
  insertRow(0, 4);
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  lc.check();
  ASSERT_TRUE(db.modify("sb-0000abcd", [](store::SandboxRecord& r) -> Status {
    r.status = store::SandboxStatus::kPaused;
    return ok();
  }));
  int writes = db.modifies;
  for (int i = 0; i < 30; ++i) {
    clock.now += 1'000;
    EXPECT_EQ(lc.check().decision.trigger, Trigger::kNone);
  }
  EXPECT_LE(db.modifies - writes, 3);  // 30 s of activity: at most one write per 10 s
  EXPECT_GE(row().last_activity_ms, clock.now - kActivitySaveMs);
}

TEST_F(LifecycleTest, RowGoneEndsTheSupervisorAndUnreadableStoreRetriesLater) {
  insertRow(0, 0);
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  db.inner.failNext(unavailable("disk I/O error"));
  auto step = lc.check();
  EXPECT_FALSE(step.done);
  EXPECT_EQ(step.next_ms, clock.now + kHousekeepingMs);
  ASSERT_TRUE(db.remove("sb-0000abcd"));
  EXPECT_TRUE(lc.check().done);
  EXPECT_TRUE(target.destroys.empty());
}

TEST_F(LifecycleTest, FailedDestroyStillEndsTheSupervisor) {
  insertRow(1'000, 0);
  target.destroy_result = unavailable("a mount is busy");
  Lifecycle lc = make(TeardownPolicy::kDestroy);
  clock.now += 1'000;
  EXPECT_TRUE(lc.check().done);  // km destroy / km doctor --fix finish the teardown
}

}  // namespace
}  // namespace km::supervisor
