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

std::string formatDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s == 0) return "0";
  if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace km
