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

// A duration typed on the command line (--ttl, --idle, km extend), as upstream's Go CLI
// accepts them: "0", or one or more decimal numbers (fraction allowed) each with a unit
// ns, us, µs, ms, s, m, h, plus d (24h) as profiles write it: "1h30m", "1.5h", "90s", "2d".
// No sign. Rounded up to whole seconds; at most Go's limit (int64 nanoseconds, ~292 years).
// InvalidArgument saying what is accepted, or that the value is too long.
[[nodiscard]] Result<std::chrono::seconds> parseFlagDuration(std::string_view text);

// Shortest exact rendering: 5400s → "90m", 7200s → "2h", 0 → "0".
std::string formatDuration(std::chrono::seconds d);

}  // namespace km
