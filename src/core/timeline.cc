#include "core/timeline.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

namespace km {
namespace {

// Reads exactly `n` decimal digits at `pos`; nullopt on anything else.
std::optional<int> digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "YYYY-MM-DDTHH:MM:SS.mmm" followed by "Z" (UTC) or nothing (local time); sets `len` to the
// characters used.
std::optional<int64_t> parseTime(std::string_view s, size_t& len) {
  auto year = digits(s, 0, 4), mon = digits(s, 5, 2), day = digits(s, 8, 2);
  auto hour = digits(s, 11, 2), min = digits(s, 14, 2), sec = digits(s, 17, 2), ms = digits(s, 20, 3);
  if (!year || !mon || !day || !hour || !min || !sec || !ms) return std::nullopt;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.') {
    return std::nullopt;
  }
  if (*mon < 1 || *mon > 12 || *day < 1 || *day > 31 || *hour > 23 || *min > 59 || *sec > 60) {
    return std::nullopt;
  }
  tm t{};
  t.tm_year = *year - 1900;
  t.tm_mon = *mon - 1;
  t.tm_mday = *day;
  t.tm_hour = *hour;
  t.tm_min = *min;
  t.tm_sec = *sec;
  bool utc = s.size() > 23 && s[23] == 'Z';
  time_t secs;
  if (utc) {
    secs = ::timegm(&t);
  } else {
    t.tm_isdst = -1;  // whatever the local rules said at that time
    secs = ::mktime(&t);
  }
  if (secs == static_cast<time_t>(-1)) return std::nullopt;
  len = utc ? 24 : 23;
  return static_cast<int64_t>(secs) * 1000 + *ms;
}

}  // namespace

TimelineEntry parseLogLine(std::string_view line) {
  TimelineEntry e;
  e.source = "supervisor";
  size_t len = 0;
  auto time = parseTime(line, len);
  // Then " LEVEL [LOGGER] MESSAGE".
  size_t level_end = std::string_view::npos, logger_end = std::string_view::npos;
  if (time && len < line.size() && line[len] == ' ') {
    level_end = line.find(' ', len + 1);
    if (level_end != std::string_view::npos && level_end > len + 1 && level_end + 1 < line.size() &&
        line[level_end + 1] == '[') {
      logger_end = line.find("] ", level_end + 2);
      if (logger_end == std::string_view::npos && line.back() == ']') logger_end = line.size() - 1;
    }
  }
  if (logger_end == std::string_view::npos) {
    e.message = std::string(line);
    return e;
  }
  e.time_ms = *time;
  e.kind = std::string(line.substr(len + 1, level_end - len - 1));
  e.logger = std::string(line.substr(level_end + 2, logger_end - level_end - 2));
  if (logger_end + 2 <= line.size()) e.message = std::string(line.substr(logger_end + 2));
  return e;
}

std::string formatTimeMs(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  time_t t = static_cast<time_t>(secs);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms - secs * 1000));
  return buf;
}

void TimelineMerge::queue(TimelineEntry entry) {
  if (!entry.time_ms) {
    emit_(entry);
    return;
  }
  // After every entry of the same or an earlier time: equal times keep their queue order.
  auto at = std::upper_bound(queue_.begin(), queue_.end(), *entry.time_ms,
                             [](int64_t t, const TimelineEntry& e) { return t < *e.time_ms; });
  queue_.insert(at, std::move(entry));
}

void TimelineMerge::stream(const TimelineEntry& line) {
  if (line.time_ms) {
    while (!queue_.empty() && *queue_.front().time_ms < *line.time_ms) {
      emit_(queue_.front());
      queue_.pop_front();
    }
  }
  emit_(line);
}

void TimelineMerge::flush() {
  while (!queue_.empty()) {
    emit_(queue_.front());
    queue_.pop_front();
  }
}

}  // namespace km
