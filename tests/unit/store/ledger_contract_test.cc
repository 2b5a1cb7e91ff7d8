// The Ledger contract (store/ledger.h), run against the SQLite ledger and the in-memory
// FakeLedger. What only SQLite has (processes sharing the file, a killed writer) is at the end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fakes/fake_ledger.h"
#include "store/ledger.h"
#include "support/temp_dir.h"

namespace km::store {
namespace {

constexpr Micros kDollar = kMicrosPerDollar;

struct SqliteBackend {
  static std::string name() { return "Sqlite"; }
  std::unique_ptr<Ledger> make() {
    auto opened = openSqliteLedger(dir.path() + "/fleet.db");
    EXPECT_TRUE(opened) << opened.error().message();
    return opened ? std::move(*opened) : nullptr;
  }
  km::test::ScopedTempDir dir;
};

struct FakeBackend {
  static std::string name() { return "Fake"; }
  std::unique_ptr<Ledger> make() { return std::make_unique<km::test::FakeLedger>(); }
};

struct BackendName {
  template <class T>
  static std::string GetName(int) { return T::name(); }
};

UsageEvent call(Micros cost, std::string model = "claude-sonnet-4-5", int64_t input = 100, int64_t output = 20) {
  UsageEvent e;
  e.at_ms = 1'000;
  e.provider = "anthropic";
  e.api = "anthropic-messages";
  e.model = std::move(model);
  e.request_id = "msg_1";
  e.input_tokens = input;
  e.output_tokens = output;
  e.cost = cost;
  return e;
}

template <class Backend>
class LedgerContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = backend_.make();
    ASSERT_NE(ledger_, nullptr);
  }
  Ledger& ledger() { return *ledger_; }

  PoolState poolOf(const std::string& sb, Pool p = Pool::kAi) {
    auto got = ledger().pool(sb, p);
    EXPECT_TRUE(got && *got) << sb;
    return got && *got ? **got : PoolState{};
  }
  Reservation reserveOk(const std::string& sb, Micros amount) {
    auto r = ledger().reserve(sb, Pool::kAi, amount, 5);
    EXPECT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r && *r) << "reserving " << amount << " was refused";
    return r && *r ? **r : Reservation{};
  }
  PoolChange settleOk(int64_t id, Micros cost) {
    auto c = ledger().settle(id, call(cost));
    EXPECT_TRUE(c) << c.error().message();
    return c ? *c : PoolChange{};
  }

  Backend backend_;
  std::unique_ptr<Ledger> ledger_;
};

using Backends = ::testing::Types<SqliteBackend, FakeBackend>;
TYPED_TEST_SUITE(LedgerContractTest, Backends, BackendName);

TYPED_TEST(LedgerContractTest, APoolIsMadeBySetLimitAndKeepsItsSpendWhenTheLimitChanges) {
  auto none = this->ledger().pool("sb-1", Pool::kAi);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, 2 * kDollar, 800'000));
  PoolState p = this->poolOf("sb-1");
  EXPECT_EQ(p.limit, 2 * kDollar);
  EXPECT_EQ(p.spent, 0);
  EXPECT_EQ(p.reserved, 0);
  EXPECT_EQ(p.warning_threshold, 800'000);
  EXPECT_FALSE(p.warned);
  auto r = this->reserveOk("sb-1", 300'000);
  this->settleOk(r.id, 250'000);
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, 3 * kDollar, 500'000));
  p = this->poolOf("sb-1");
  EXPECT_EQ(p.limit, 3 * kDollar);
  EXPECT_EQ(p.spent, 250'000);
  EXPECT_EQ(p.warning_threshold, 500'000);
  EXPECT_FALSE(this->ledger().pool("sb-1", Pool::kCompute).value()) << "pools are apart";
}

TYPED_TEST(LedgerContractTest, RefusesNegativeLimitsThresholdsAndReservations) {
  EXPECT_EQ(this->ledger().setLimit("sb-1", Pool::kAi, -1, 800'000).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->ledger().setLimit("sb-1", Pool::kAi, 1, 1'000'001).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->ledger().reserve("sb-1", Pool::kAi, -5, 0).error().code(), ErrorCode::kInvalidArgument);
  auto charged = this->ledger().charge(Pool::kCompute, call(-1));
  EXPECT_FALSE(charged);
}

TYPED_TEST(LedgerContractTest, AReservationFitsWithinTheLimitOrIsRefusedChangingNothing) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  auto a = this->reserveOk("sb-1", 600'000);
  EXPECT_EQ(a.sandbox_id, "sb-1");
  EXPECT_EQ(a.amount, 600'000);
  EXPECT_EQ(this->poolOf("sb-1").reserved, 600'000);
  EXPECT_EQ(this->poolOf("sb-1").available(), 400'000);
  auto refused = this->ledger().reserve("sb-1", Pool::kAi, 400'001, 5);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(*refused);
  EXPECT_EQ(this->poolOf("sb-1").reserved, 600'000);
  auto b = this->reserveOk("sb-1", 400'000);  // exactly what is left
  EXPECT_GT(b.id, a.id);
  EXPECT_EQ(this->poolOf("sb-1").available(), 0);
  auto zero = this->ledger().reserve("sb-1", Pool::kAi, 1, 5);
  ASSERT_TRUE(zero);
  EXPECT_FALSE(*zero);
  auto listed = this->ledger().reservations("sb-1");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, a.id);
  EXPECT_EQ((*listed)[1].amount, 400'000);
}

TYPED_TEST(LedgerContractTest, SettleReleasesTheReservationAndRecordsTheEventOnce) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  auto r = this->reserveOk("sb-1", 500'000);
  UsageEvent e = call(123'456, "claude-opus-4-1", 1000, 200);
  e.sandbox_id = "someone-else";  // the reservation says whose it is
  e.cache_write_5m_tokens = 3;
  e.cache_write_1h_tokens = 4;
  e.cache_read_tokens = 5;
  e.reasoning_tokens = 6;
  e.web_search_requests = 7;
  e.note = "cut short";
  auto c = this->ledger().settle(r.id, e);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->pool.spent, 123'456);
  EXPECT_EQ(c->pool.reserved, 0);
  EXPECT_FALSE(c->crossed_warning);
  EXPECT_FALSE(c->reached_limit);
  EXPECT_EQ(this->poolOf("sb-1"), c->pool);
  auto again = this->ledger().settle(r.id, e);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(this->ledger().release(r.id).error().code(), ErrorCode::kNotFound);
  auto events = this->ledger().usage("sb-1", 0, 100);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  UsageEvent want = e;
  want.id = (*events)[0].id;
  want.sandbox_id = "sb-1";
  want.pool = Pool::kAi;
  EXPECT_EQ((*events)[0], want);
  EXPECT_GT(want.id, 0);
  EXPECT_TRUE(this->ledger().usage("someone-else", 0, 100)->empty());
}

TYPED_TEST(LedgerContractTest, ReleaseGivesTheAmountBackWithoutACharge) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  auto r = this->reserveOk("sb-1", kDollar);
  ASSERT_TRUE(this->ledger().release(r.id));
  EXPECT_EQ(this->poolOf("sb-1").reserved, 0);
  EXPECT_EQ(this->poolOf("sb-1").spent, 0);
  EXPECT_TRUE(this->ledger().usage("sb-1", 0, 10)->empty());
  EXPECT_EQ(this->ledger().release(r.id).error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(this->ledger().settle(r.id, call(1)));
  EXPECT_TRUE(this->ledger().usage("sb-1", 0, 10)->empty()) << "a failed settle records nothing";
}

TYPED_TEST(LedgerContractTest, TheWarningIsGivenOnceWhenTheThresholdIsCrossedAndTheLimitReachedOnce) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  auto spend = [&](Micros cost) {
    auto r = this->reserveOk("sb-1", cost);
    return this->settleOk(r.id, cost);
  };
  PoolChange c = spend(500'000);
  EXPECT_FALSE(c.crossed_warning);
  c = spend(299'999);
  EXPECT_FALSE(c.crossed_warning) << "799,999 of 1,000,000 is under 0.8";
  c = spend(1);
  EXPECT_TRUE(c.crossed_warning) << "exactly 0.8";
  EXPECT_TRUE(c.pool.warned);
  c = spend(100'000);
  EXPECT_FALSE(c.crossed_warning) << "once";
  EXPECT_FALSE(c.reached_limit);
  c = spend(100'000);
  EXPECT_TRUE(c.reached_limit);
  EXPECT_TRUE(c.pool.exhausted());
  auto r = this->ledger().reserve("sb-1", Pool::kAi, 0, 5);
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r) << "a reservation of 0 always fits";
  EXPECT_FALSE(this->settleOk((*r)->id, 0).reached_limit) << "reached once";
}

TYPED_TEST(LedgerContractTest, ATopUpRaisesTheLimitAndReArmsTheWarning) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  auto r = this->reserveOk("sb-1", kDollar);
  ASSERT_TRUE(this->settleOk(r.id, kDollar).reached_limit);
  auto up = this->ledger().addToLimit("sb-1", Pool::kAi, kDollar / 5);
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(up->limit, 1'200'000);
  EXPECT_TRUE(up->warned) << "1.0 of 1.2 is past 0.8";
  up = this->ledger().addToLimit("sb-1", Pool::kAi, 2'300'000);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->limit, 3'500'000);
  EXPECT_FALSE(up->warned) << "1.0 of 3.5 is under 0.8: the next crossing warns again";
  EXPECT_EQ(this->poolOf("sb-1"), *up);
  EXPECT_EQ(this->ledger().addToLimit("sb-1", Pool::kAi, 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(this->ledger().addToLimit("sb-2", Pool::kAi, 1).error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(this->ledger().setLimit("sb-3", Pool::kAi, 0, 800'000));
  EXPECT_EQ(this->ledger().addToLimit("sb-3", Pool::kAi, 1).error().code(), ErrorCode::kInvalidArgument);
}

TYPED_TEST(LedgerContractTest, AnUncappedPoolCountsSpendButNeverRefusesOrWarns) {
  auto r = this->ledger().reserve("sb-1", Pool::kAi, 9 * kDollar, 5);  // no pool yet: uncapped
  ASSERT_TRUE(r && *r);
  PoolChange c = this->settleOk((*r)->id, 7 * kDollar);
  EXPECT_FALSE(c.crossed_warning);
  EXPECT_FALSE(c.reached_limit);
  EXPECT_EQ(this->poolOf("sb-1").spent, 7 * kDollar);
  EXPECT_EQ(this->poolOf("sb-1").limit, 0);
}

TYPED_TEST(LedgerContractTest, ReleaseAllEndsEveryReservationOfOneSandbox) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  ASSERT_TRUE(this->ledger().setLimit("sb-2", Pool::kAi, kDollar, 800'000));
  this->reserveOk("sb-1", 100);
  this->reserveOk("sb-1", 200);
  auto other = this->reserveOk("sb-2", 300);
  auto n = this->ledger().releaseAll("sb-1");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(this->poolOf("sb-1").reserved, 0);
  EXPECT_TRUE(this->ledger().reservations("sb-1")->empty());
  EXPECT_EQ(this->poolOf("sb-2").reserved, 300);
  EXPECT_TRUE(this->ledger().settle(other.id, call(10)));
}

TYPED_TEST(LedgerContractTest, ComputeChargesGoToTheirPoolAndNotIntoTheModelSpend) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kCompute, kDollar, 800'000));
  UsageEvent tick;
  tick.sandbox_id = "sb-1";
  tick.at_ms = 60'000;
  tick.cost = 900'000;
  tick.note = "60 s";
  auto c = this->ledger().charge(Pool::kCompute, tick);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->crossed_warning);
  EXPECT_EQ(this->poolOf("sb-1", Pool::kCompute).spent, 900'000);
  EXPECT_FALSE(this->ledger().pool("sb-1", Pool::kAi).value());
  auto events = this->ledger().usage("sb-1", 0, 10);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].pool, Pool::kCompute);
  EXPECT_TRUE(this->ledger().spendByModel("sb-1")->empty());
}

TYPED_TEST(LedgerContractTest, SpendByModelSumsEveryKindMostExpensiveFirst) {
  auto add = [&](UsageEvent e) {
    auto r = this->reserveOk("sb-1", 0);
    ASSERT_TRUE(this->ledger().settle(r.id, std::move(e)));
  };
  UsageEvent a = call(100, "claude-haiku-4-5", 10, 1);
  a.cache_read_tokens = 7;
  add(a);
  add(call(5'000, "claude-opus-4-1", 50, 5));
  UsageEvent b = call(200, "claude-haiku-4-5", 20, 2);
  b.reasoning_tokens = 1;
  b.web_search_requests = 2;
  add(b);
  UsageEvent gpt = call(300, "gpt-5", 1, 1);
  gpt.provider = "openai";
  add(gpt);
  auto by = this->ledger().spendByModel("sb-1");
  ASSERT_TRUE(by);
  ASSERT_EQ(by->size(), 3u);
  EXPECT_EQ((*by)[0].model, "claude-opus-4-1");
  EXPECT_EQ((*by)[1].model, "claude-haiku-4-5");
  ModelSpend haiku{"anthropic", "claude-haiku-4-5", 2, 30, 3, 0, 0, 7, 1, 2, 300};
  EXPECT_EQ((*by)[1], haiku);
  EXPECT_EQ((*by)[2].provider, "openai");
}

TYPED_TEST(LedgerContractTest, UsagePagesByIdAfterAndLimit) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = this->reserveOk("sb-1", 0);
    ASSERT_TRUE(this->ledger().settle(r.id, call(i)));
  }
  auto all = this->ledger().usage("sb-1", 0, 100);
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_GT((*all)[i].id, (*all)[i - 1].id);
  auto page = this->ledger().usage("sb-1", (*all)[1].id, 2);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, (*all)[2].id);
  EXPECT_EQ((*page)[1].cost, 3);
}

TYPED_TEST(LedgerContractTest, RemovePoolsKeepsTheHistory) {
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  auto r = this->reserveOk("sb-1", 10);
  this->settleOk(r.id, 10);
  auto held = this->reserveOk("sb-1", 20);
  ASSERT_TRUE(this->ledger().removePools("sb-1"));
  EXPECT_FALSE(this->ledger().pool("sb-1", Pool::kAi).value());
  EXPECT_TRUE(this->ledger().reservations("sb-1")->empty());
  EXPECT_FALSE(this->ledger().settle(held.id, call(20)));
  EXPECT_EQ(this->ledger().usage("sb-1", 0, 10)->size(), 1u);
}

// Whatever order reservations, settles (never above what was reserved) and releases come in,
// the settled spend never passes the limit and reserved is the sum of what is held.
TYPED_TEST(LedgerContractTest, RandomTrafficNeverPassesTheLimit) {
  const Micros limit = 5 * kDollar;
  ASSERT_TRUE(this->ledger().setLimit("sb-1", Pool::kAi, limit, 800'000));
  std::mt19937_64 rng(42);
  std::vector<Reservation> held;
  for (int step = 0; step < 600; ++step) {
    int op = static_cast<int>(rng() % 3);
    if (op == 0 || held.empty()) {
      Micros amount = static_cast<Micros>(rng() % 400'000);
      auto r = this->ledger().reserve("sb-1", Pool::kAi, amount, step);
      ASSERT_TRUE(r);
      if (*r) held.push_back(**r);
    } else {
      size_t i = rng() % held.size();
      Reservation r = held[i];
      held.erase(held.begin() + static_cast<ptrdiff_t>(i));
      if (op == 1) {
        ASSERT_TRUE(this->ledger().settle(r.id, call(static_cast<Micros>(rng() % (r.amount + 1)))));
      } else {
        ASSERT_TRUE(this->ledger().release(r.id));
      }
    }
    PoolState p = this->poolOf("sb-1");
    Micros sum = 0;
    for (const auto& r : held) sum += r.amount;
    ASSERT_EQ(p.reserved, sum);
    ASSERT_LE(p.spent + p.reserved, limit);
  }
  EXPECT_GT(this->poolOf("sb-1").spent, limit / 2) << "the traffic did spend";
}

// --- SQLite only: processes sharing the file ------------------------------------------------

class SqliteLedgerTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/fleet.db"; }
  km::test::ScopedTempDir dir_;
};

TEST_F(SqliteLedgerTest, ProcessesReservingAtOnceNeverPassTheLimitTogether) {
  {
    auto l = openSqliteLedger(path());
    ASSERT_TRUE(l) << l.error().message();
    ASSERT_TRUE((*l)->setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  }
  constexpr int kProcs = 6;
  constexpr int kCalls = 40;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      char c;
      (void)!::read(go[0], &c, 1);  // all start together
      auto l = openSqliteLedger(path());
      if (!l) ::_exit(2);
      for (int k = 0; k < kCalls; ++k) {
        auto r = (*l)->reserve("sb-1", Pool::kAi, 9'000, k);
        if (!r) ::_exit(3);
        if (*r && !(*l)->settle((*r)->id, call(9'000))) ::_exit(4);
      }
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(k, &status, 0), k);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto l = openSqliteLedger(path());
  ASSERT_TRUE(l);
  auto p = (*l)->pool("sb-1", Pool::kAi);
  ASSERT_TRUE(p && *p);
  // 240 calls of 9,000 want 2,160,000; 111 fit in 1,000,000 (999,000), no more.
  EXPECT_EQ((*p)->spent, 999'000);
  EXPECT_EQ((*p)->reserved, 0);
  EXPECT_EQ((*l)->usage("sb-1", 0, 1000)->size(), 111u);
}

TEST_F(SqliteLedgerTest, ASettledEventSurvivesAKilledWriter) {
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto l = openSqliteLedger(path());
    if (!l) ::_exit(2);
    auto r = (*l)->reserve("sb-1", Pool::kAi, 50, 1);
    auto held = (*l)->reserve("sb-1", Pool::kAi, 70, 1);
    if (!r || !*r || !held || !*held || !(*l)->settle((*r)->id, call(40))) ::_exit(3);
    (void)!::write(done[1], "x", 1);
    ::pause();  // killed here, connection open, with one reservation in flight
    ::_exit(0);
  }
  ::close(done[1]);
  char c;
  ASSERT_EQ(::read(done[0], &c, 1), 1);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(done[0]);
  auto l = openSqliteLedger(path());
  ASSERT_TRUE(l);
  auto events = (*l)->usage("sb-1", 0, 10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].cost, 40);
  EXPECT_EQ((*l)->pool("sb-1", Pool::kAi).value()->reserved, 70);
  auto released = (*l)->releaseAll("sb-1");  // what a restarting supervisor does
  ASSERT_TRUE(released);
  EXPECT_EQ(*released, 1);
  EXPECT_EQ((*l)->pool("sb-1", Pool::kAi).value()->reserved, 0);
  EXPECT_EQ((*l)->pool("sb-1", Pool::kAi).value()->spent, 40);
}

}  // namespace
}  // namespace km::store

namespace km::store {
namespace {

template <class Backend>
class LedgerBatchTest : public LedgerContractTest<Backend> {};
TYPED_TEST_SUITE(LedgerBatchTest, Backends, BackendName);

TYPED_TEST(LedgerBatchTest, ABatchKeepsAllOrNothing) {
  Ledger& l = this->ledger();
  ASSERT_TRUE(l.setLimit("sb-1", Pool::kAi, kDollar, 800'000));
  int64_t kept = 0;
  Status st = l.batch([&]() -> Status {
    auto a = l.reserve("sb-1", Pool::kAi, 600'000, 1);
    if (!a || !*a) return internalError("reserve");
    auto b = l.reserve("sb-1", Pool::kAi, 600'000, 1);  // sees the first: does not fit
    if (!b || *b) return internalError("the second reservation should not fit");
    auto c = l.settle((*a)->id, call(500'000));
    if (!c) return std::move(c).error();
    kept = (*a)->id;
    return ok();
  });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(this->poolOf("sb-1").spent, 500'000);
  EXPECT_EQ(this->poolOf("sb-1").reserved, 0);
  EXPECT_EQ(l.usage("sb-1", 0, 10)->size(), 1u);
  EXPECT_GT(kept, 0);

  st = l.batch([&]() -> Status {
    auto a = l.reserve("sb-1", Pool::kAi, 100'000, 1);
    if (!a || !*a) return internalError("reserve");
    if (!l.settle((*a)->id, call(100'000))) return internalError("settle");
    return unavailable("the disk went away");  // everything above is undone
  });
  EXPECT_FALSE(st);
  EXPECT_EQ(this->poolOf("sb-1").spent, 500'000);
  EXPECT_EQ(this->poolOf("sb-1").reserved, 0);
  EXPECT_EQ(l.usage("sb-1", 0, 10)->size(), 1u);
  EXPECT_TRUE(l.reservations("sb-1")->empty());
  // And the ledger works on after a failed batch.
  auto r = l.reserve("sb-1", Pool::kAi, 10, 1);
  ASSERT_TRUE(r && *r);
}

}  // namespace
}  // namespace km::store
