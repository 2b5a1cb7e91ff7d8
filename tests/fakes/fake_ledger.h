// FakeLedger: an in-memory store::Ledger for tests of code that spends (the budget module, the
// CLI's budget commands). It keeps the contract of the SQLite ledger (the contract suite in
// tests/unit/store runs against both) and can fail on demand: failNext(error) makes the next
// call return that error and change nothing. Not thread-safe, like every Ledger object.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/ledger.h"

namespace km::test {

class FakeLedger final : public store::Ledger {
 public:
  using Pool = store::Pool;
  using PoolState = store::PoolState;
  using PoolChange = store::PoolChange;
  using Reservation = store::Reservation;
  using UsageEvent = store::UsageEvent;
  using ModelSpend = store::ModelSpend;

  void failNext(Error error) { fail_next_ = std::move(error); }
  // Every call fails with `error` until failAll(nullopt).
  void failAll(std::optional<Error> error) { fail_all_ = std::move(error); }

  Status setLimit(std::string_view sandbox, Pool pool, Micros limit, Ppm threshold) override {
    if (auto e = takeFailure()) return std::move(*e);
    if (limit < 0) return invalidArgument("a budget limit cannot be negative");
    if (threshold < 0 || threshold > kPpmOne) return invalidArgument("a warning threshold must be between 0 and 1");
    auto [it, fresh] = pools_.try_emplace(key(sandbox, pool));
    it->second.limit = limit;
    it->second.warning_threshold = threshold;
    it->second = store::addLimit(it->second, 0);
    return ok();
  }

  Result<PoolState> addToLimit(std::string_view sandbox, Pool pool, Micros amount) override {
    if (auto e = takeFailure()) return std::move(*e);
    if (amount <= 0) return invalidArgument("a top-up must be more than $0");
    auto it = pools_.find(key(sandbox, pool));
    if (it == pools_.end()) return notFound(std::string(sandbox) + " has no budget of that kind");
    if (!it->second.capped()) return invalidArgument("that budget has no limit; nothing to add to");
    it->second = store::addLimit(it->second, amount);
    return it->second;
  }

  Result<std::optional<PoolState>> pool(std::string_view sandbox, Pool pool) override {
    if (auto e = takeFailure()) return std::move(*e);
    auto it = pools_.find(key(sandbox, pool));
    if (it == pools_.end()) return std::optional<PoolState>();
    return std::optional<PoolState>(it->second);
  }

  Result<std::optional<Reservation>> reserve(std::string_view sandbox, Pool pool, Micros amount,
                                             int64_t at_ms) override {
    if (auto e = takeFailure()) return std::move(*e);
    if (amount < 0) return invalidArgument("a reservation cannot be negative");
    PoolState& p = pools_[key(sandbox, pool)];
    if (amount > p.available()) return std::optional<Reservation>();
    p.reserved += amount;
    Reservation r{++last_reservation_, std::string(sandbox), pool, amount, at_ms};
    reservations_[r.id] = r;
    return std::optional<Reservation>(r);
  }

  Result<PoolChange> settle(int64_t id, UsageEvent event) override {
    if (auto e = takeFailure()) return std::move(*e);
    auto r = take(id);
    if (!r) return notFound("reservation " + std::to_string(id) + " is gone (settled or released already)");
    event.sandbox_id = r->sandbox_id;
    event.pool = r->pool;
    return spend(event);
  }

  Status release(int64_t id) override {
    if (auto e = takeFailure()) return std::move(*e);
    if (!take(id)) return notFound("reservation " + std::to_string(id) + " is gone (settled or released already)");
    return ok();
  }

  Result<int64_t> releaseAll(std::string_view sandbox) override {
    if (auto e = takeFailure()) return std::move(*e);
    int64_t n = 0;
    for (auto it = reservations_.begin(); it != reservations_.end();) {
      if (it->second.sandbox_id == sandbox) {
        it = reservations_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    for (auto& [k, p] : pools_) {
      if (k.first == sandbox) p.reserved = 0;
    }
    return n;
  }

  Result<PoolChange> charge(Pool pool, UsageEvent event) override {
    if (auto e = takeFailure()) return std::move(*e);
    if (event.cost < 0) return invalidArgument("a charge cannot be negative");
    event.pool = pool;
    return spend(event);
  }

  Result<std::vector<UsageEvent>> usage(std::string_view sandbox, int64_t after_id, size_t limit) override {
    if (auto e = takeFailure()) return std::move(*e);
    std::vector<UsageEvent> out;
    for (const auto& e : events_) {
      if (out.size() >= limit) break;
      if (e.sandbox_id == sandbox && e.id > after_id) out.push_back(e);
    }
    return out;
  }

  Result<std::vector<ModelSpend>> spendByModel(std::string_view sandbox) override {
    if (auto e = takeFailure()) return std::move(*e);
    std::map<std::pair<std::string, std::string>, ModelSpend> by;
    for (const auto& e : events_) {
      if (e.sandbox_id != sandbox || e.pool != Pool::kAi) continue;
      ModelSpend& m = by[{e.provider, e.model}];
      m.provider = e.provider;
      m.model = e.model;
      ++m.calls;
      m.input_tokens += e.input_tokens;
      m.output_tokens += e.output_tokens;
      m.cache_write_5m_tokens += e.cache_write_5m_tokens;
      m.cache_write_1h_tokens += e.cache_write_1h_tokens;
      m.cache_read_tokens += e.cache_read_tokens;
      m.reasoning_tokens += e.reasoning_tokens;
      m.web_search_requests += e.web_search_requests;
      m.cost += e.cost;
    }
    std::vector<ModelSpend> out;
    for (auto& [k, m] : by) out.push_back(std::move(m));
    std::stable_sort(out.begin(), out.end(), [](const ModelSpend& a, const ModelSpend& b) { return a.cost > b.cost; });
    return out;
  }

  Result<std::vector<Reservation>> reservations(std::string_view sandbox) override {
    if (auto e = takeFailure()) return std::move(*e);
    std::vector<Reservation> out;
    for (const auto& [id, r] : reservations_) {
      if (r.sandbox_id == sandbox) out.push_back(r);
    }
    return out;
  }

  Status batch(const std::function<Status()>& ops) override {
    if (auto e = takeFailure()) return std::move(*e);
    // All or nothing, as the SQLite ledger's transaction.
    auto pools = pools_;
    auto reservations = reservations_;
    auto events = events_;
    auto last_reservation = last_reservation_, last_event = last_event_;
    Status st = ops();
    if (!st) {
      pools_ = std::move(pools);
      reservations_ = std::move(reservations);
      events_ = std::move(events);
      last_reservation_ = last_reservation;
      last_event_ = last_event;
    }
    return st;
  }

  Status removePools(std::string_view sandbox) override {
    if (auto e = takeFailure()) return std::move(*e);
    for (auto it = reservations_.begin(); it != reservations_.end();) {
      it = it->second.sandbox_id == sandbox ? reservations_.erase(it) : std::next(it);
    }
    for (auto it = pools_.begin(); it != pools_.end();) {
      it = it->first.first == sandbox ? pools_.erase(it) : std::next(it);
    }
    return ok();
  }

 private:
  static std::pair<std::string, Pool> key(std::string_view sandbox, Pool pool) { return {std::string(sandbox), pool}; }

  std::optional<Error> takeFailure() {
    if (fail_all_) return fail_all_;
    return std::exchange(fail_next_, std::nullopt);
  }

  std::optional<Reservation> take(int64_t id) {
    auto it = reservations_.find(id);
    if (it == reservations_.end()) return std::nullopt;
    Reservation r = it->second;
    reservations_.erase(it);
    if (auto p = pools_.find(key(r.sandbox_id, r.pool)); p != pools_.end()) {
      p->second.reserved = p->second.reserved > r.amount ? p->second.reserved - r.amount : 0;
    }
    return r;
  }

  PoolChange spend(UsageEvent& e) {
    e.id = ++last_event_;
    events_.push_back(e);
    PoolState& p = pools_[key(e.sandbox_id, e.pool)];
    PoolChange change = store::addSpend(p, e.cost);
    p = change.pool;
    return change;
  }

  std::map<std::pair<std::string, Pool>, PoolState> pools_;
  std::map<int64_t, Reservation> reservations_;
  std::vector<UsageEvent> events_;
  int64_t last_reservation_ = 0;
  int64_t last_event_ = 0;
  std::optional<Error> fail_next_;
  std::optional<Error> fail_all_;
};

}  // namespace km::test
