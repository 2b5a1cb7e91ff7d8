// km::Clock — the one seam between policy and time. Code that decides by the time of day
// (TTL deadlines, idle timeouts, rate limits) takes a Clock& and never reads the system
// clock itself, so its decisions are unit-tested with a clock the test moves.
#pragma once

#include <cstdint>

namespace km {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: milliseconds since the Unix epoch (what the fleet store records).
  virtual int64_t nowMs() const = 0;
};

// The system's real-time clock.
const Clock& systemClock();

}  // namespace km
