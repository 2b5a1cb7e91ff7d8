#include "store/ledger.h"

#include <limits>

namespace km::store {

std::string_view poolName(Pool p) { return p == Pool::kAi ? "ai" : "compute"; }

Micros PoolState::available() const {
  if (!capped()) return std::numeric_limits<Micros>::max();
  Micros left = limit - spent - reserved;
  return left > 0 ? left : 0;
}

bool pastThreshold(const PoolState& pool) {
  if (!pool.capped()) return false;
  // spent / limit >= ppm / 1e6, in 128 bits (limits reach 9.2e18 µ$).
  return static_cast<__int128>(pool.spent) * kPpmOne >=
         static_cast<__int128>(pool.limit) * pool.warning_threshold;
}

PoolChange addSpend(PoolState pool, Micros cost) {
  PoolChange out;
  bool was_exhausted = pool.exhausted();
  if (cost > 0) {
    pool.spent = cost > std::numeric_limits<Micros>::max() - pool.spent ? std::numeric_limits<Micros>::max()
                                                                        : pool.spent + cost;
  }
  if (!pool.warned && pastThreshold(pool)) {
    pool.warned = true;
    out.crossed_warning = true;
  }
  out.reached_limit = !was_exhausted && pool.exhausted();
  out.pool = pool;
  return out;
}

PoolState addLimit(PoolState pool, Micros amount) {
  pool.limit = amount > std::numeric_limits<Micros>::max() - pool.limit ? std::numeric_limits<Micros>::max()
                                                                       : pool.limit + amount;
  if (!pastThreshold(pool)) pool.warned = false;
  return pool;
}

}  // namespace km::store
