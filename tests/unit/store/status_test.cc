#include <gtest/gtest.h>

#include "store/store.h"

namespace km::store {
namespace {

TEST(StatusTest, EveryStatusRoundTripsThroughItsName) {
  for (SandboxStatus s : {SandboxStatus::kCreating, SandboxStatus::kRunning, SandboxStatus::kPaused,
                          SandboxStatus::kStopped, SandboxStatus::kFailed,
                          SandboxStatus::kDestroying}) {
    auto parsed = parseStatus(statusName(s));
    ASSERT_TRUE(parsed) << statusName(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(statusName(SandboxStatus::kRunning), "running");
}

TEST(StatusTest, UnknownNamesDoNotParse) {
  EXPECT_FALSE(parseStatus("Running"));
  EXPECT_FALSE(parseStatus(""));
  EXPECT_FALSE(parseStatus("hibernating"));
}

TEST(StatusTest, NowIsUnixMilliseconds) {
  EXPECT_GT(nowMs(), 1'600'000'000'000);  // after 2020
  EXPECT_LT(nowMs(), 4'102'444'800'000);  // before 2100
}

}  // namespace
}  // namespace km::store
