#include "core/duration.h"

#include <limits>

namespace km {

Result<std::chrono::seconds> parseDuration(std::string_view text, bool allow_days) {
  auto bad = [&] {
    return invalidArgument("\"" + std::string(text) + "\" is not a duration; write a number and one unit (" +
                           std::string(allow_days ? "s, m, h or d" : "s, m or h") + "), e.g. 30m or 4h");
  };
  if (text == "0") return std::chrono::seconds(0);
  if (text.size() < 2) return bad();
  char unit = text.back();
  int64_t mult = 0;
  switch (unit) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = allow_days ? 86400 : 0; break;
    default: break;
  }
  if (mult == 0) return bad();
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return bad();
    if (n > (std::numeric_limits<int64_t>::max() / 86400 - 9) / 10) {
      return invalidArgument("duration \"" + std::string(text) + "\" is too long");
    }
    n = n * 10 + (c - '0');
  }
  return std::chrono::seconds(n * mult);
}

Result<std::chrono::seconds> parseFlagDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return invalidArgument("\"" + std::string(text) + "\" is not a duration (" + std::string(why) +
                           "); write numbers with units (h, m, s, ms, d), e.g. 30m, 1h30m, 2d");
  };
  if (text == "0") return std::chrono::seconds(0);
  if (text.empty()) return bad("it is empty");
  if (text[0] == '-' || text[0] == '+') return bad("no sign is allowed");
  // Whole nanoseconds, as Go keeps them; a double would round long values.
  constexpr unsigned __int128 kMaxNs = static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max());
  unsigned __int128 total = 0;
  size_t i = 0;
  auto tooLong = [&] {
    return invalidArgument("duration \"" + std::string(text) + "\" is too long (at most about 292 years)");
  };
  while (i < text.size()) {
    unsigned __int128 whole = 0, frac = 0, scale = 1;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
      if (whole > kMaxNs) return tooLong();
      ++i;
      ++digits;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (scale < static_cast<unsigned __int128>(1e18)) {  // finer digits cannot matter
          frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
          scale *= 10;
        }
        ++i;
        ++digits;
      }
    }
    if (digits == 0) return bad("a number must come before each unit");
    size_t unit_start = i;
    while (i < text.size() && !(text[i] >= '0' && text[i] <= '9') && text[i] != '.') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    uint64_t ns = 0;
    if (unit == "ns") ns = 1;
    else if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") ns = 1000;
    else if (unit == "ms") ns = 1000000;
    else if (unit == "s") ns = 1000000000ULL;
    else if (unit == "m") ns = 60ULL * 1000000000ULL;
    else if (unit == "h") ns = 3600ULL * 1000000000ULL;
    else if (unit == "d") ns = 86400ULL * 1000000000ULL;
    else if (unit.empty()) return bad("a unit must follow each number");
    else return bad("unknown unit \"" + std::string(unit) + "\"");
    unsigned __int128 part = whole * ns + frac * ns / scale;
    if (whole > kMaxNs / ns || part > kMaxNs) return tooLong();
    total += part;
    if (total > kMaxNs) return tooLong();
  }
  uint64_t ns = static_cast<uint64_t>(total);
  return std::chrono::seconds(static_cast<int64_t>((ns + 999999999ULL) / 1000000000ULL));
}

std::string formatDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s == 0) return "0";
  if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace km
