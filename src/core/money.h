// Money in km: integer micro-dollars (1 USD = 1'000'000 µ$). Never a float in a ledger.
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace km {

using Micros = int64_t;
inline constexpr Micros kMicrosPerDollar = 1'000'000;

// Parses a decimal dollar amount written as text ("0.50", "10", "1e-3" is refused) exactly,
// without going through a double. InvalidArgument for anything that is not a plain decimal,
// more than 6 fractional digits (finer than a micro-dollar), or more than ~9.2e12 dollars.
[[nodiscard]] Result<Micros> parseDollars(std::string_view text);

// "12.345678" style rendering with trailing zeros trimmed to at least 2 decimals ("0.50").
std::string formatDollars(Micros amount);

// Ratios (warning thresholds) are kept as parts per million, parsed the same exact way.
using Ppm = int64_t;
inline constexpr Ppm kPpmOne = 1'000'000;
[[nodiscard]] Result<Ppm> parseRatio(std::string_view text);
std::string formatRatio(Ppm ratio);

}  // namespace km
