// The supervisor's AI budget over the ledger (the FakeLedger here; the SQLite ledger keeps the
// same contract): what the proxy sees, and the events a pool's spend raises.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "fakes/fake_ledger.h"
#include "supervisor/ai_budget.h"

namespace km::supervisor {
namespace {

// The budget's asynchronous calls, waited for (the proxy awaits them on its io_context).
struct Answer {
  std::optional<int64_t> hold;
  std::string refused;
  Micros seen = -1;  // what the sizer was shown; -1 when it was not asked
};
Answer reserveNow(LedgerBudget& b, Micros amount) {
  std::promise<Answer> p;
  auto seen = std::make_shared<Micros>(-1);
  b.reserve([seen, amount](Micros available) -> net::proxy::AiBudget::Size {
    *seen = available;
    return {amount, false};
  }, [&p, seen](net::proxy::Reservation r) { p.set_value({r.hold, r.refused, *seen}); });
  return p.get_future().get();
}
// What the pool has left, as the sizer sees it (which declines, holding nothing).
Micros availableNow(LedgerBudget& b) {
  std::promise<Micros> p;
  auto seen = std::make_shared<Micros>(-1);
  b.reserve([seen](Micros available) -> net::proxy::AiBudget::Size {
    *seen = available;
    return {};
  }, [&p, seen](net::proxy::Reservation r) {
    EXPECT_FALSE(r.hold);
    p.set_value(*seen);
  });
  return p.get_future().get();
}
void settleNow(LedgerBudget& b, int64_t hold, net::proxy::AiCall call) {
  std::promise<void> p;
  b.settle(hold, std::move(call), [&p] { p.set_value(); });
  p.get_future().get();
}

struct Fixture {
  Fixture(Micros limit) {
    auto l = std::make_unique<km::test::FakeLedger>();
    ledger = l.get();
    EXPECT_TRUE(l->setLimit("sb-1", store::Pool::kAi, limit, 800'000));
    budget = std::make_unique<LedgerBudget>(
        std::move(l), "sb-1", [this](std::string_view kind, const std::string& d, Micros limit) {
          events.push_back(std::string(kind) + ": " + d);
          limits.push_back(limit);
        },
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
  std::vector<Micros> limits;
};

TEST(LedgerBudget, ReservesSettlesAndRecordsTheCall) {
  Fixture f(1'000'000);
  EXPECT_EQ(availableNow(*f.budget), 1'000'000);
  Answer a = reserveNow(*f.budget, 600'000);
  ASSERT_TRUE(a.hold) << a.refused;
  EXPECT_EQ(a.seen, 1'000'000) << "the sizer sees what is left";
  EXPECT_EQ(availableNow(*f.budget), 400'000);
  Answer over = reserveNow(*f.budget, 400'001);
  EXPECT_FALSE(over.hold) << "never more than is left";
  EXPECT_NE(over.refused.find("held by calls in flight"), std::string::npos) << over.refused;
  settleNow(*f.budget, *a.hold, f.call(500'000));
  EXPECT_EQ(availableNow(*f.budget), 500'000) << "ops are applied in order";
  auto events = f.ledger->usage("sb-1", 0, 10);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].provider, "anthropic");
  EXPECT_EQ((*events)[0].api, std::string(meter::apiName(meter::Api::kAnthropicMessages)));
  EXPECT_EQ((*events)[0].input_tokens, 10);
  EXPECT_EQ((*events)[0].at_ms, 42);
  EXPECT_TRUE(f.events.empty());
}

TEST(LedgerBudget, AnswersRunOnTheWritersThreadAfterTheCommit) {
  Fixture f(1'000'000);
  std::promise<std::thread::id> where;
  std::promise<size_t> events_then;
  f.budget->reserve([](Micros) -> net::proxy::AiBudget::Size { return {1, false}; },
                    [&](net::proxy::Reservation r) {
                      where.set_value(std::this_thread::get_id());
                      EXPECT_TRUE(r.hold);
                    });
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id()) << "never inside the call";
  // A settlement's answer comes once its usage event is in the ledger.
  Answer a = reserveNow(*f.budget, 10);
  f.budget->settle(*a.hold, f.call(10), [&] { events_then.set_value(f.ledger->usage("sb-1", 0, 10)->size()); });
  EXPECT_EQ(events_then.get_future().get(), 1u);
}

TEST(LedgerBudget, WarnsOnceAtTheThresholdAndBlocksAtTheLimit) {
  Fixture f(1'000'000);
  settleNow(*f.budget, *reserveNow(*f.budget, 800'000).hold, f.call(800'000));
  ASSERT_EQ(f.events.size(), 1u) << "the event fires before the settlement's answer";
  EXPECT_NE(f.events[0].find("budget-warning: AI spend $0.80 of $1.00"), std::string::npos) << f.events[0];
  settleNow(*f.budget, *reserveNow(*f.budget, 100'000).hold, f.call(100'000));
  EXPECT_EQ(f.events.size(), 1u);
  settleNow(*f.budget, *reserveNow(*f.budget, 100'000).hold, f.call(100'000));
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_NE(f.events[1].find("budget-exhausted"), std::string::npos);
  Answer a = reserveNow(*f.budget, 1);
  EXPECT_FALSE(a.hold);
  EXPECT_EQ(a.seen, -1) << "a used-up pool is refused before sizing";
  EXPECT_NE(a.refused.find("used up ($1.00 of $1.00)"), std::string::npos) << a.refused;
  EXPECT_NE(a.refused.find("km budget add sb-1 --ai USD"), std::string::npos) << a.refused;
}

TEST(LedgerBudget, ReleaseGivesBackAndLedgerErrorsFailClosed) {
  Fixture f(1'000'000);
  Answer a = reserveNow(*f.budget, 1'000'000);
  ASSERT_TRUE(a.hold);
  f.budget->release(*a.hold);
  EXPECT_EQ(availableNow(*f.budget), 1'000'000);
  // One failed commit: the batch is written again op by op, nothing lost.
  f.ledger->failNext(unavailable("disk gone"));
  EXPECT_EQ(availableNow(*f.budget), 1'000'000);
  // A ledger that keeps failing: no call gets budget.
  f.ledger->failAll(unavailable("disk gone"));
  Answer failed = reserveNow(*f.budget, 1);
  EXPECT_FALSE(failed.hold);
  EXPECT_NE(failed.refused.find("disk gone"), std::string::npos) << failed.refused;
  EXPECT_NE(failed.refused.find("refused until it can"), std::string::npos) << failed.refused;
  f.ledger->failAll(std::nullopt);
  EXPECT_TRUE(reserveNow(*f.budget, 1).hold);
}

TEST(LedgerBudget, CallsFromManyThreadsNeverPassTheLimitAndEveryCallIsRecorded) {
  Fixture f(1'000'000);
  std::vector<std::thread> threads;
  std::atomic<int> admitted{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (auto h = reserveNow(*f.budget, 3'000).hold) {
          ++admitted;
          settleNow(*f.budget, *h, f.call(3'000));
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

TEST(LedgerBudget, CallsQueuedAtOnceAreWrittenTogetherAndStopAtTheLimit) {
  // What the proxy does: many reservations queued without waiting, each sized to what the
  // ones before it left.
  Fixture f(1'000'000);
  std::mutex mu;
  std::vector<int64_t> holds;
  int refused = 0;
  std::atomic<int> answered{0};
  for (int i = 0; i < 400; ++i) {
    f.budget->reserve([](Micros available) -> net::proxy::AiBudget::Size {
      if (available == 0) return {};
      return {std::min<Micros>(available, 3'000), false};
    },
                      [&](net::proxy::Reservation r) {
                        std::lock_guard lock(mu);
                        if (r.hold) {
                          holds.push_back(*r.hold);
                        } else {
                          ++refused;
                        }
                        ++answered;
                      });
  }
  f.budget->flush();
  EXPECT_EQ(answered.load(), 400);
  EXPECT_EQ(holds.size(), 334u) << "333 of 3,000 and the last 1,000";
  EXPECT_EQ(refused, 66);
  for (int64_t h : holds) f.budget->settle(h, f.call(1'000), nullptr);
  f.budget->flush();
  EXPECT_EQ(f.ledger->usage("sb-1", 0, 1000)->size(), 334u);
  EXPECT_EQ((*f.ledger->pool("sb-1", store::Pool::kAi))->spent, 334'000);
}

TEST(LedgerBudget, APoolThatPaysForNoCallIsUsedUpOncePerLimit) {
  Fixture f(1'000'000);
  settleNow(*f.budget, *reserveNow(*f.budget, 990'000).hold, f.call(990'000));
  // A call in flight holds money it may give back: the pool is not used up while it runs.
  Answer inflight = reserveNow(*f.budget, 5'000);
  ASSERT_TRUE(inflight.hold);
  auto declineAll = [&] {
    std::promise<net::proxy::Reservation> p;
    f.budget->reserve([](Micros available) -> net::proxy::AiBudget::Size { return {std::nullopt, available < 20'000}; },
                      [&p](net::proxy::Reservation r) { p.set_value(r); });
    return p.get_future().get();
  };
  EXPECT_FALSE(declineAll().hold);
  EXPECT_EQ(f.events.size(), 1u) << "only the warning: a call is in flight";
  f.budget->release(*inflight.hold);
  EXPECT_FALSE(declineAll().hold);
  ASSERT_EQ(f.events.size(), 2u) << "the warning, then used up";
  EXPECT_EQ(f.limits[1], 1'000'000) << "the limit it was used up at";
  EXPECT_EQ(f.events[1], "budget-exhausted: AI spend $0.99 of $1.00: the $0.01 left pays for no call");
  EXPECT_FALSE(declineAll().hold);
  EXPECT_EQ(f.events.size(), 2u) << "said once";
  ASSERT_TRUE(f.ledger->addToLimit("sb-1", store::Pool::kAi, 5'000));
  EXPECT_FALSE(declineAll().hold);
  EXPECT_EQ(f.events.size(), 3u) << "a top-up that still pays for no call is used up again";
  // A declined call that is not for want of money says nothing.
  std::promise<void> p;
  f.budget->reserve([](Micros) -> net::proxy::AiBudget::Size { return {}; }, [&p](net::proxy::Reservation) { p.set_value(); });
  p.get_future().get();
  EXPECT_EQ(f.events.size(), 3u);
}

}  // namespace
}  // namespace km::supervisor
