#include "core/money.h"

#include <limits>

namespace km {
namespace {

// Parses [-]digits[.digits] into units of 10^-6. Shared by dollars and ratios.
Result<int64_t> parseMillionths(std::string_view text, std::string_view what) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  auto digits = [](std::string_view d) {
    for (char c : d)
      if (c < '0' || c > '9') return false;
    return true;
  };
  if ((whole.empty() && frac.empty()) || !digits(whole) || !digits(frac) ||
      (dot != std::string_view::npos && frac.empty() && whole.empty())) {
    return invalidArgument("\"" + std::string(text) + "\" is not a plain decimal " +
                           std::string(what) + " (write it like 0.50)");
  }
  if (frac.size() > 6) {
    return invalidArgument("\"" + std::string(text) + "\" has more than 6 decimals; km counts " +
                           std::string(what) + "s in millionths");
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1'000'000 - 1;
  int64_t units = 0;
  for (char c : whole) {
    units = units * 10 + (c - '0');
    if (units > kMax) return invalidArgument("\"" + std::string(text) + "\" is too large");
  }
  int64_t fraction = 0;
  for (size_t i = 0; i < 6; ++i) fraction = fraction * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  int64_t value = units * 1'000'000 + fraction;
  return negative ? -value : value;
}

std::string formatMillionths(int64_t v, size_t min_decimals) {
  std::string sign = v < 0 ? "-" : "";
  uint64_t a = v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  std::string frac = std::to_string(a % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  while (frac.size() > min_decimals && frac.back() == '0') frac.pop_back();
  std::string out = sign + std::to_string(a / 1'000'000);
  if (!frac.empty()) out += "." + frac;
  return out;
}

}  // namespace

Result<Micros> parseDollars(std::string_view text) { return parseMillionths(text, "dollar amount"); }
std::string formatDollars(Micros amount) { return formatMillionths(amount, 2); }
Result<Ppm> parseRatio(std::string_view text) { return parseMillionths(text, "ratio"); }
std::string formatRatio(Ppm ratio) { return formatMillionths(ratio, 1); }

}  // namespace km
