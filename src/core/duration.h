// Durations as profiles write them: a number and one unit (s, m, h, d), e.g. "30m", "4h".
// Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace km {

// "0" → 0s; "90s", "30m", "4h", "2d" → seconds. With `allow_days` false, "d" is refused.
// InvalidArgument, saying the accepted form, for anything else (including "1h30m").
[[nodiscard]] Result<std::chrono::seconds> parseDuration(std::string_view text,
                                                         bool allow_days = true);

// Shortest exact rendering: 5400s → "90m", 7200s → "2h", 0 → "0".
std::string formatDuration(std::chrono::seconds d);

}  // namespace km
