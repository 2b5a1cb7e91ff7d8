// km::WarningPacer — paces a warning the sandbox can cause at will (a full allow map, a
// network log that cannot be written, allowed connects too fast to log), so that it cannot
// grow the supervisor's log at will instead: the first occurrence is warned about at once,
// later ones are counted and summed up in at most one warning per interval. Used by net and audit.
// Not thread-safe: each pacer belongs to the thread that warns.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

namespace km {

class WarningPacer {
 public:
  using Clock = std::chrono::steady_clock;
  explicit WarningPacer(Clock::duration every = std::chrono::minutes(1)) : every_(every) {}

  // Counts `n` occurrences at `now`. True when a warning is due: the first since clear(),
  // or the first once `every` has passed since the last warning. take() then says how many
  // occurrences that warning covers.
  bool due(Clock::time_point now, uint64_t n = 1) {
    pending_ += n;
    if (warned_ && now < next_) return false;
    warned_ = true;
    next_ = now + every_;
    return true;
  }
  // Occurrences counted since the last warning, these included; starts counting afresh.
  uint64_t take() { return std::exchange(pending_, 0); }
  // Whether a warning was given and the condition has not been cleared since.
  bool active() const { return warned_; }
  // The condition is over: the next occurrence is warned about at once.
  void clear() {
    warned_ = false;
    pending_ = 0;
  }

 private:
  Clock::duration every_;
  Clock::time_point next_{};
  uint64_t pending_ = 0;
  bool warned_ = false;
};

}  // namespace km
