// A sandbox's running time as compute spend (private to supervisor; pure, no I/O, time passed
// in). The clock runs while the sandbox runs unpaused; take() turns the time since the last
// take into micro-dollars at the hourly rate, exactly: what falls below a micro-dollar is
// carried into the next take, so many small takes charge what one large one would.
#pragma once

#include <cstdint>
#include <optional>

#include "core/money.h"

namespace km::supervisor {

class ComputeClock {
 public:
  explicit ComputeClock(Micros per_hour) : per_hour_(per_hour < 0 ? 0 : per_hour) {}

  Micros perHour() const { return per_hour_; }
  bool running() const { return since_ms_.has_value(); }
  // The sandbox started or resumed at `now_ms` (nothing when it already runs).
  void run(int64_t now_ms);
  // It stopped or paused: the time until `now_ms` waits for the next take.
  void halt(int64_t now_ms);
  // What the time since the last take costs. A clock that went backwards counts 0.
  Micros take(int64_t now_ms);
  // When the time not yet taken, at this rate, will have cost `available` (the moment a pool
  // with that much left is used up, if the sandbox runs on); nullopt when halted or free.
  std::optional<int64_t> reaches(int64_t now_ms, Micros available) const;

 private:
  static constexpr int64_t kMsPerHour = 3'600'000;
  Micros per_hour_;
  std::optional<int64_t> since_ms_;  // running since (or since the last take)
  int64_t held_ms_ = 0;              // run time before the last halt, not taken yet
  int64_t carry_ = 0;                // rate × ms not yet a whole micro-dollar (below kMsPerHour)
};

}  // namespace km::supervisor
