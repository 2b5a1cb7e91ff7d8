// km::store — the spend ledger: each sandbox's budget pools (AI and compute), the
// reservations of AI calls in flight, and one usage event per metered call. Ledger is the
// interface (SQLite here, in the fleet database; DynamoDB for fleets later); every operation
// that checks and changes a pool is one atomic step, so parallel calls (threads or processes)
// can never together pass a pool's limit. Amounts are integer micro-dollars.
// One Ledger object per thread, like FleetStore; any number of processes may share a database.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/result.h"

namespace km::store {

enum class Pool : uint8_t { kAi, kCompute };
std::string_view poolName(Pool p);  // "ai", "compute"

// A pool's state. limit 0 = no cap (spend is still counted).
struct PoolState {
  Micros limit = 0;
  Micros spent = 0;     // settled
  Micros reserved = 0;  // held by calls in flight
  Ppm warning_threshold = 800'000;
  bool warned = false;  // the threshold's one warning was given (cleared when a top-up lifts
                        // spent below it again)
  bool capped() const { return limit > 0; }
  // What a new reservation may take (INT64_MAX when uncapped; 0 when none).
  Micros available() const;
  bool exhausted() const { return capped() && spent >= limit; }
  bool operator==(const PoolState&) const = default;
};

// One metered AI call (or a compute charge), as settled.
struct UsageEvent {
  int64_t id = 0;  // assigned by the ledger, increasing
  std::string sandbox_id;
  Pool pool = Pool::kAi;
  int64_t at_ms = 0;
  std::string provider;    // anthropic, openai, bedrock (empty for compute)
  std::string api;         // meter::apiName
  std::string model;       // the price table's name for it
  std::string request_id;  // the provider's id for the call; may be empty
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_5m_tokens = 0;
  int64_t cache_write_1h_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t reasoning_tokens = 0;
  int64_t web_search_requests = 0;
  Micros cost = 0;
  // Why the charge is not the provider's complete usage ("cut short", "unknown model priced as
  // claude-opus-4"...); empty for an exact one.
  std::string note;
  bool operator==(const UsageEvent&) const = default;
};

// What settle and charge report: the pool after the step, and whether this step crossed the
// warning threshold (true once per crossing, to exactly one caller) or used the pool up.
struct PoolChange {
  PoolState pool;
  bool crossed_warning = false;
  bool reached_limit = false;  // spent reached the limit with this step
};

struct Reservation {
  int64_t id = 0;
  std::string sandbox_id;
  Pool pool = Pool::kAi;
  Micros amount = 0;
  int64_t at_ms = 0;
};

// Spend of one sandbox by model (AI pool), summed over its usage events.
struct ModelSpend {
  std::string provider;
  std::string model;
  int64_t calls = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_write_5m_tokens = 0;
  int64_t cache_write_1h_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t reasoning_tokens = 0;
  int64_t web_search_requests = 0;
  Micros cost = 0;
  bool operator==(const ModelSpend&) const = default;
};

// The rules both ledgers apply (the SQLite one and the tests' fake):
// Whether the pool's spend is at or past its warning threshold (never, uncapped).
bool pastThreshold(const PoolState& pool);
// `pool` with `cost` (>= 0) added to its spend; crossed_warning when that passed the threshold
// and no warning was given yet (then `warned` is set), reached_limit when it reached the limit.
PoolChange addSpend(PoolState pool, Micros cost);
// `pool` after a top-up of `amount`: the limit raised, `warned` cleared when the spend is
// below the new threshold.
PoolState addLimit(PoolState pool, Micros amount);

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Sets a pool's limit and warning threshold (a sandbox's profile at create), keeping what
  // was spent. Makes the pool when missing. InvalidArgument for a negative limit or a
  // threshold outside 0..1.
  [[nodiscard]] virtual Status setLimit(std::string_view sandbox, Pool pool, Micros limit, Ppm warning_threshold) = 0;
  // Adds `amount` (> 0) to a capped pool's limit (a top-up); clears `warned` when spent is
  // below the threshold of the new limit. NotFound when the sandbox has no such pool;
  // InvalidArgument for an uncapped pool (nothing to add to) or amount <= 0.
  [[nodiscard]] virtual Result<PoolState> addToLimit(std::string_view sandbox, Pool pool, Micros amount) = 0;
  // The pool, or nullopt when the sandbox has none.
  [[nodiscard]] virtual Result<std::optional<PoolState>> pool(std::string_view sandbox, Pool pool) = 0;

  // Holds `amount` (>= 0) of the pool for a call in flight, when spent + reserved + amount
  // stays within the limit (always, uncapped): the reservation, or nullopt when it does not
  // fit (nothing changes). A missing pool is an uncapped one, made now.
  [[nodiscard]] virtual Result<std::optional<Reservation>> reserve(std::string_view sandbox, Pool pool, Micros amount,
                                                                   int64_t at_ms) = 0;
  // Ends reservation `id`: its amount is released and `event` (sandbox and pool taken from
  // the reservation, id assigned) is recorded with its cost added to the pool's spend — in one
  // transaction. NotFound when the reservation is gone (settled or released already): then
  // nothing is recorded.
  [[nodiscard]] virtual Result<PoolChange> settle(int64_t reservation_id, UsageEvent event) = 0;
  // Ends reservation `id` without a charge (the call failed before anything was produced).
  // NotFound when it is gone.
  [[nodiscard]] virtual Status release(int64_t reservation_id) = 0;
  // Releases every reservation of `sandbox` (a supervisor starting again: the calls that held
  // them died with the last one). Returns how many.
  [[nodiscard]] virtual Result<int64_t> releaseAll(std::string_view sandbox) = 0;

  // Adds spend without a reservation (compute time, charged as it passes): `event` recorded
  // (provider/model may be empty), its cost added to the pool.
  [[nodiscard]] virtual Result<PoolChange> charge(Pool pool, UsageEvent event) = 0;

  // The sandbox's usage events (both pools) with id > after_id, oldest first, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<UsageEvent>> usage(std::string_view sandbox, int64_t after_id,
                                                              size_t limit) = 0;
  // The sandbox's AI spend by provider and model, most expensive first.
  [[nodiscard]] virtual Result<std::vector<ModelSpend>> spendByModel(std::string_view sandbox) = 0;
  // The sandbox's reservations in flight, oldest first.
  [[nodiscard]] virtual Result<std::vector<Reservation>> reservations(std::string_view sandbox) = 0;
  // Forgets a sandbox's pools and reservations (destroy); its usage events stay (history).
  [[nodiscard]] virtual Status removePools(std::string_view sandbox) = 0;

  // Runs `ops` (calls on this ledger) as one transaction: all of their changes are kept, or,
  // when `ops` returns an error, none (that error is returned). Each call inside sees the
  // ones before it. A commit per batch instead of per call is what lets a busy supervisor
  // record tens of thousands of calls a second. Not reentrant.
  [[nodiscard]] virtual Status batch(const std::function<Status()>& ops) = 0;
};

// The ledger in the fleet database at `path` (the same file as openSqlite's, made and
// migrated the same way).
[[nodiscard]] Result<std::unique_ptr<Ledger>> openSqliteLedger(const std::string& path);

}  // namespace km::store
