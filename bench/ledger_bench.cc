// The spend ledger's throughput (issue 15's goal: >= 20k usage events per second): one AI call
// is a reservation then its settlement, on the fleet database (WAL, synchronous=NORMAL as km
// opens it). Cases: the raw Ledger, a transaction per operation (one connection; 4 threads on
// connections of their own, which SQLite serialises); charge alone (one usage event); and the
// supervisor's LedgerBudget on the proxy's path (one io_context thread awaiting its answers,
// 1 to 256 calls in flight), which group-commits what is queued while a batch is written.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "net/proxy/budget_wait.h"
#include "store/ledger.h"
#include "supervisor/ai_budget.h"

namespace {

// A fresh directory for the run's database, removed when the program ends.
struct TempDir {
  TempDir() {
    char t[] = "/tmp/km-ledger-bench.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() {
    for (const char* f : {"/fleet.db", "/fleet.db-wal", "/fleet.db-shm"}) ::unlink((path + f).c_str());
    ::rmdir(path.c_str());
  }
  std::string path;
};

std::string tempDb() {
  static TempDir dir;
  return dir.path + "/fleet.db";
}

km::store::UsageEvent call() {
  km::store::UsageEvent e;
  e.at_ms = 1;
  e.provider = "anthropic";
  e.api = "anthropic-messages";
  e.model = "claude-sonnet-4-5";
  e.request_id = "msg_01XFDUDYJgAACzvnptvVoYEL";
  e.input_tokens = 1200;
  e.output_tokens = 340;
  e.cache_read_tokens = 9000;
  e.cost = 11'000;
  return e;
}

void BM_ReserveAndSettle(benchmark::State& state) {
  auto ledger = km::store::openSqliteLedger(tempDb());
  if (!ledger) {
    state.SkipWithError(ledger.error().message().c_str());
    return;
  }
  std::string sb = "kb-bench" + std::to_string(state.thread_index());
  (void)(*ledger)->setLimit(sb, km::store::Pool::kAi, 0, 800'000);
  for (auto _ : state) {
    auto r = (*ledger)->reserve(sb, km::store::Pool::kAi, 50'000, 1);
    if (!r || !*r) {
      state.SkipWithError("reserve failed");
      break;
    }
    auto c = (*ledger)->settle((*r)->id, call());
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ReserveAndSettle)->UseRealTime();
BENCHMARK(BM_ReserveAndSettle)->Threads(4)->UseRealTime();

void BM_ChargeOnly(benchmark::State& state) {
  auto ledger = km::store::openSqliteLedger(tempDb());
  if (!ledger) {
    state.SkipWithError(ledger.error().message().c_str());
    return;
  }
  km::store::UsageEvent e = call();
  e.sandbox_id = "kb-charge";
  for (auto _ : state) {
    auto c = (*ledger)->charge(km::store::Pool::kAi, e);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ChargeOnly)->UseRealTime();

// Usage events recorded 64 to a transaction (Ledger::batch, as the supervisor's writer does).
void BM_ChargeBatched(benchmark::State& state) {
  auto ledger = km::store::openSqliteLedger(tempDb());
  if (!ledger) {
    state.SkipWithError(ledger.error().message().c_str());
    return;
  }
  km::store::UsageEvent e = call();
  e.sandbox_id = "kb-batched";
  for (auto _ : state) {
    auto st = (*ledger)->batch([&]() -> km::Status {
      for (int i = 0; i < 64; ++i) {
        auto c = (*ledger)->charge(km::store::Pool::kAi, e);
        if (!c) return std::move(c).error();
      }
      return km::ok();
    });
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 64);
}
BENCHMARK(BM_ChargeBatched)->UseRealTime();

// The proxy's path: one io_context thread (as the proxy runs) with `range(0)` calls in flight,
// each a coroutine that awaits its reservation, then its settlement, as MeteredCall does.
// 2048 calls per iteration.
void BM_BudgetCalls(benchmark::State& state) {
  namespace asio = boost::asio;
  using km::net::proxy::onBudget;
  using km::net::proxy::Reservation;
  auto ledger = km::store::openSqliteLedger(tempDb());
  if (!ledger) {
    state.SkipWithError(ledger.error().message().c_str());
    return;
  }
  (void)(*ledger)->setLimit("kb-budget", km::store::Pool::kAi, 0, 800'000);
  km::supervisor::LedgerBudget budget(std::move(*ledger), "kb-budget", nullptr, [] { return int64_t{1}; });
  const int in_flight = static_cast<int>(state.range(0));
  constexpr int kCalls = 2048;
  int64_t refused = 0;
  struct Done {};
  auto caller = [&](int calls) -> asio::awaitable<void> {
    for (int i = 0; i < calls; ++i) {
      Reservation r = co_await onBudget<Reservation>([&](std::function<void(Reservation)> done) {
        budget.reserve([](km::Micros) -> km::net::proxy::AiBudget::Size { return {50'000, false}; }, std::move(done));
      });
      if (!r.hold) {
        ++refused;
        continue;
      }
      km::net::proxy::AiCall c;
      c.model = "claude-sonnet-4-5";
      c.usage.input_tokens = 1200;
      c.usage.output_tokens = 340;
      c.cost = 11'000;
      int64_t hold = *r.hold;
      co_await onBudget<Done>([&](std::function<void(Done)> done) {  // no owning captures (see metered.cc)
        budget.settle(hold, c, [done] { done(Done{}); });
      });
    }
  };
  for (auto _ : state) {
    asio::io_context io;
    for (int k = 0; k < in_flight; ++k) {
      asio::co_spawn(io, caller(kCalls / in_flight), asio::detached);
    }
    io.run();
  }
  if (refused) state.SkipWithError("reservations refused");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kCalls);
}
BENCHMARK(BM_BudgetCalls)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
