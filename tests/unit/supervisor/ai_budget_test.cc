// The supervisor's AI budget over the ledger (the FakeLedger here; the SQLite ledger keeps the
// same contract): what the proxy sees, and the events a pool's spend raises.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fakes/fake_ledger.h"
#include "supervisor/ai_budget.h"

namespace km::supervisor {
namespace {

struct Fixture {
  Fixture(Micros limit) {
    auto l = std::make_unique<km::test::FakeLedger>();
    ledger = l.get();
    EXPECT_TRUE(l->setLimit("sb-1", store::Pool::kAi, limit, 800'000));
    budget = std::make_unique<LedgerBudget>(
        std::move(l), "sb-1", [this](std::string_view kind, const std::string& d) { events.push_back(std::string(kind) + ": " + d); },
        [] { return int64_t{42}; });
  }
  net::proxy::AiCall call(Micros cost) {
    net::proxy::AiCall c;
    c.api = meter::Api::kAnthropicMessages;
    c.model = "claude-sonnet-4-5";
    c.usage.input_tokens = 10;
    c.usage.output_tokens = 3;
    c.cost = cost;
    return c;
  }
  km::test::FakeLedger* ledger;
  std::unique_ptr<LedgerBudget> budget;
  std::vector<std::string> events;
};

TEST(LedgerBudget, ReservesSettlesAndRecordsTheCall) {
  Fixture f(1'000'000);
  EXPECT_EQ(f.budget->available(), 1'000'000);
  auto hold = f.budget->reserve(600'000);
  ASSERT_TRUE(hold);
  EXPECT_EQ(f.budget->available(), 400'000);
  EXPECT_FALSE(f.budget->reserve(400'001)) << "never more than is left";
  f.budget->settle(*hold, f.call(500'000));
  EXPECT_EQ(f.budget->available(), 500'000) << "ops are applied in order";
  auto events = f.ledger->usage("sb-1", 0, 10);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].provider, "anthropic");
  EXPECT_EQ((*events)[0].api, std::string(meter::apiName(meter::Api::kAnthropicMessages)));
  EXPECT_EQ((*events)[0].input_tokens, 10);
  EXPECT_EQ((*events)[0].at_ms, 42);
  EXPECT_TRUE(f.events.empty());
  EXPECT_EQ(f.budget->blocked(), "");
}

TEST(LedgerBudget, WarnsOnceAtTheThresholdAndBlocksAtTheLimit) {
  Fixture f(1'000'000);
  f.budget->settle(*f.budget->reserve(800'000), f.call(800'000));
  f.budget->flush();
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_NE(f.events[0].find("budget-warning: AI spend $0.80 of $1.00"), std::string::npos) << f.events[0];
  f.budget->settle(*f.budget->reserve(100'000), f.call(100'000));
  f.budget->flush();
  EXPECT_EQ(f.events.size(), 1u);
  f.budget->settle(*f.budget->reserve(100'000), f.call(100'000));
  f.budget->flush();
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_NE(f.events[1].find("budget-exhausted"), std::string::npos);
  std::string why = f.budget->blocked();
  EXPECT_NE(why.find("used up ($1.00 of $1.00)"), std::string::npos) << why;
  EXPECT_NE(why.find("km budget add sb-1 --ai USD"), std::string::npos) << why;
}

TEST(LedgerBudget, ReleaseGivesBackAndLedgerErrorsFailClosed) {
  Fixture f(1'000'000);
  auto hold = f.budget->reserve(1'000'000);
  ASSERT_TRUE(hold);
  f.budget->release(*hold);
  EXPECT_EQ(f.budget->available(), 1'000'000);
  // One failed commit: the batch is written again op by op, nothing lost.
  f.ledger->failNext(unavailable("disk gone"));
  EXPECT_EQ(f.budget->available(), 1'000'000);
  // A ledger that keeps failing: no call gets budget.
  f.ledger->failAll(unavailable("disk gone"));
  EXPECT_EQ(f.budget->available(), 0);
  EXPECT_FALSE(f.budget->reserve(1));
  EXPECT_NE(f.budget->blocked().find("cannot be read"), std::string::npos);
  f.ledger->failAll(std::nullopt);
  EXPECT_TRUE(f.budget->reserve(1));
}

TEST(LedgerBudget, ThreadsReservingAtOnceNeverPassTheLimitAndEveryCallIsRecorded) {
  Fixture f(1'000'000);
  std::vector<std::thread> threads;
  std::atomic<int> admitted{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (auto h = f.budget->reserve(3'000)) {
          ++admitted;
          f.budget->settle(*h, f.call(3'000));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  f.budget->flush();
  EXPECT_EQ(admitted.load(), 333) << "1,000,000 / 3,000";
  auto p = f.ledger->pool("sb-1", store::Pool::kAi);
  EXPECT_EQ((*p)->spent, 999'000);
  EXPECT_EQ((*p)->reserved, 0);
  EXPECT_EQ(f.ledger->usage("sb-1", 0, 1000)->size(), 333u);
}

}  // namespace
}  // namespace km::supervisor
