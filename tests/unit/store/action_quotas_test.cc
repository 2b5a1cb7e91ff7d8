// Action quotas on SQLite (store/action_quotas.h): counts per lifetime, clock hour and UTC day;
// warn lets a breach through, block refuses it uncounted, freeze refuses and freezes every
// action until unfreeze; takes from several connections and threads never overshoot.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/action_quotas.h"
#include "support/temp_dir.h"

namespace km::store {
namespace {

using km::test::ScopedTempDir;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kT0 = 1'800'000'000'000;  // a whole hour (and day) boundary is not needed

class ActionQuotasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto q = openSqliteActionQuotas(path());
    ASSERT_TRUE(q) << q.error().message();
    q_ = std::move(*q);
  }
  std::string path() const { return dir_.path() + "/fleet.db"; }
  ActionTake take(const std::string& action, const ActionLimit& limit, int64_t at = kT0) {
    auto t = q_->take("sb", action, limit, at);
    EXPECT_TRUE(t) << t.error().message();
    return t ? *t : ActionTake{};
  }
  ScopedTempDir dir_;
  std::unique_ptr<ActionQuotas> q_;
};

TEST_F(ActionQuotasTest, BlockRefusesPastTheHourlyLimitUncountedUntilTheNextHour) {
  ActionLimit l{-1, 2, -1, "block"};
  EXPECT_TRUE(take("github_pr", l).allowed);
  auto second = take("github_pr", l);
  EXPECT_TRUE(second.allowed);
  EXPECT_EQ(second.hour, 2);
  auto third = take("github_pr", l);
  EXPECT_FALSE(third.allowed);
  EXPECT_TRUE(third.breached);
  EXPECT_FALSE(third.froze);
  EXPECT_EQ(third.reason, "github_pr quota reached: 2 per hour (spec.limits.github_pr.perHour)");
  EXPECT_EQ(third.hour, 2);  // not counted
  // The next clock hour starts afresh; the lifetime goes on.
  int64_t next_hour = (kT0 / kHour + 1) * kHour;
  auto later = take("github_pr", l, next_hour);
  EXPECT_TRUE(later.allowed);
  EXPECT_EQ(later.hour, 1);
  EXPECT_EQ(later.lifetime, 3);
  // Other sandboxes and actions count apart.
  EXPECT_TRUE(q_->take("other", "github_pr", l, kT0)->allowed);
  EXPECT_TRUE(take("github_comment", l).allowed);
}

TEST_F(ActionQuotasTest, ZeroRefusesTheFirstAndLifetimeAndDayLimitsHold) {
  EXPECT_FALSE(take("github_review", ActionLimit{0, -1, -1, "block"}).allowed);
  ActionLimit life{2, -1, -1, "block"};
  EXPECT_TRUE(take("a", life).allowed);
  EXPECT_TRUE(take("a", life, kT0 + 10 * kHour).allowed);
  auto over = take("a", life, kT0 + 50 * kHour);
  EXPECT_FALSE(over.allowed);
  EXPECT_NE(over.reason.find("lifetime"), std::string::npos);
  ActionLimit day{-1, -1, 1, "block"};
  EXPECT_TRUE(take("b", day).allowed);
  EXPECT_NE(take("b", day).reason.find("per day"), std::string::npos);
}

TEST_F(ActionQuotasTest, WarnLetsTheBreachThroughAndCountsIt) {
  ActionLimit l{-1, 1, -1, "warn"};
  EXPECT_FALSE(take("r", l).breached);
  auto second = take("r", l);
  EXPECT_TRUE(second.allowed);
  EXPECT_TRUE(second.breached);
  EXPECT_EQ(second.hour, 2);
  EXPECT_FALSE(second.reason.empty());
}

TEST_F(ActionQuotasTest, FreezeRefusesEveryActionUntilUnfrozen) {
  ActionLimit l{-1, 1, -1, "freeze"};
  EXPECT_TRUE(take("c", l).allowed);
  auto second = take("c", l);
  EXPECT_FALSE(second.allowed);
  EXPECT_TRUE(second.froze);
  auto frozen = q_->frozen("sb");
  ASSERT_TRUE(frozen && frozen->has_value());
  EXPECT_EQ((*frozen)->reason, second.reason);
  EXPECT_EQ((*frozen)->at_ms, kT0);
  // Any action now, limited or not.
  auto other = take("d", ActionLimit{});
  EXPECT_FALSE(other.allowed);
  EXPECT_NE(other.reason.find("outbound actions are frozen"), std::string::npos);
  EXPECT_EQ(*q_->unfreeze("sb"), true);
  EXPECT_EQ(*q_->unfreeze("sb"), false);
  EXPECT_TRUE(take("d", ActionLimit{}).allowed);
  // By hand, with a reason.
  ASSERT_TRUE(q_->freeze("sb", "incident 42", kT0 + 5));
  auto by_hand = take("d", ActionLimit{});
  EXPECT_FALSE(by_hand.allowed);
  EXPECT_NE(by_hand.reason.find("incident 42"), std::string::npos);
}

TEST_F(ActionQuotasTest, CountsAndForget) {
  ActionLimit none;
  take("x", none);
  take("x", none);
  take("y", none, kT0 + 2 * kHour);
  auto c = q_->counts("sb", kT0 + 2 * kHour);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].action, "x");
  EXPECT_EQ((*c)[0].lifetime, 2);
  EXPECT_EQ((*c)[0].hour, 0);  // an earlier hour
  EXPECT_EQ((*c)[1].action, "y");
  EXPECT_EQ((*c)[1].hour, 1);
  ASSERT_TRUE(q_->forget("sb"));
  EXPECT_TRUE(q_->counts("sb", kT0)->empty());
}

TEST_F(ActionQuotasTest, ParallelTakesNeverOvershoot) {
  constexpr int kThreads = 4, kEach = 10;
  ActionLimit l{-1, 7, -1, "block"};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto q = openSqliteActionQuotas(path());
      ASSERT_TRUE(q);
      for (int k = 0; k < kEach; ++k) {
        auto t = (*q)->take("sb", "github_pr", l, kT0);
        if (t && t->allowed) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 7);
  EXPECT_EQ((*q_->counts("sb", kT0))[0].hour, 7);
}

}  // namespace
}  // namespace km::store
