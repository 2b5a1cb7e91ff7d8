// What FakeFleetStore adds to the contract: injected failures and a fixed clock.
#include "fakes/fake_fleet_store.h"

#include <gtest/gtest.h>

#include "unit/store/records.h"

namespace km::test {
namespace {

TEST(FakeFleetStoreTest, FailNextFailsOneCallAndChangesNothing) {
  FakeFleetStore store;
  store.failNext(unavailable("disk full"));
  auto failed = store.insert(sampleRecord("sb-1"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message(), "disk full");
  EXPECT_TRUE(store.list()->empty());
  EXPECT_TRUE(store.insert(sampleRecord("sb-1")));  // only the next call failed
  EXPECT_EQ(store.callCount(), 3);
}

TEST(FakeFleetStoreTest, FailNextAppliesToWhicheverCallComesNext) {
  FakeFleetStore store;
  ASSERT_TRUE(store.insert(sampleRecord("sb-1")));
  store.failNext(internalError("boom"));
  EXPECT_FALSE(store.modify("sb-1", [](store::SandboxRecord& r) {
    r.locked = false;
    return ok();
  }));
  EXPECT_TRUE((*store.get("sb-1"))->locked);
  store.failNext(internalError("boom"));
  EXPECT_FALSE(store.remove("sb-1"));
  EXPECT_TRUE(*store.get("sb-1"));
}

TEST(FakeFleetStoreTest, FixedClockStampsWritesAndEvents) {
  FakeFleetStore store;
  store.setNowMs(42);
  auto r = store.insert(sampleRecord("sb-1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->created_at_ms, 42);
  store.setNowMs(50);
  EXPECT_EQ(store.modify("sb-1", [](store::SandboxRecord&) { return ok(); })->updated_at_ms, 50);
  ASSERT_TRUE(store.addEvent("sb-1", "created", ""));
  EXPECT_EQ((*store.events("sb-1", 1))[0].at_ms, 50);
}

}  // namespace
}  // namespace km::test
