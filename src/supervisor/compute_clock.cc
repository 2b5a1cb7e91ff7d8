#include "supervisor/compute_clock.h"

#include <algorithm>
#include <limits>

namespace km::supervisor {

void ComputeClock::run(int64_t now_ms) {
  if (!since_ms_) since_ms_ = now_ms;
}

void ComputeClock::halt(int64_t now_ms) {
  if (!since_ms_) return;
  held_ms_ += std::max<int64_t>(0, now_ms - *since_ms_);
  since_ms_.reset();
}

Micros ComputeClock::take(int64_t now_ms) {
  int64_t ms = held_ms_;
  if (since_ms_) {
    ms += std::max<int64_t>(0, now_ms - *since_ms_);
    since_ms_ = std::max(*since_ms_, now_ms);
  }
  held_ms_ = 0;
  // rate × ms / ms-per-hour, the remainder carried: 128 bits (years at any rate fit).
  __int128 num = static_cast<__int128>(per_hour_) * ms + carry_;
  carry_ = static_cast<int64_t>(num % kMsPerHour);
  __int128 cost = num / kMsPerHour;
  return cost > std::numeric_limits<Micros>::max() ? std::numeric_limits<Micros>::max() : static_cast<Micros>(cost);
}

std::optional<int64_t> ComputeClock::reaches(int64_t now_ms, Micros available) const {
  if (!since_ms_ || per_hour_ == 0) return std::nullopt;
  if (available <= 0) return now_ms;
  // The least total ms whose cost (with the carry) is `available`: ceil((available × h − carry) / rate).
  __int128 need = static_cast<__int128>(available) * kMsPerHour - carry_;
  __int128 ms = (need + per_hour_ - 1) / per_hour_ - held_ms_;
  __int128 at = static_cast<__int128>(*since_ms_) + std::max<__int128>(0, ms);
  if (at > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  return std::max<int64_t>(now_ms, static_cast<int64_t>(at));
}

}  // namespace km::supervisor
