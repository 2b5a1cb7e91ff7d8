// km::timeline — one time-ordered view of two sources: entries recorded with a time (a
// sandbox's events) and lines of a log file, some of which carry a time in their text (the
// supervisor's log, written with log.cc's file pattern). Pure logic, no I/O; not
// thread-safe (one reader merges).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace km {

// One entry of the merged view.
struct TimelineEntry {
  std::optional<int64_t> time_ms;  // ms since the Unix epoch; none for a line without a time
  std::string source;              // "event" or "supervisor" (km logs adds "commands", "network")
  std::string kind;                // an event's kind, or a log line's level ("info", "warn"…)
  std::string logger;              // a log line's logger name ("km.supervisor"); "" otherwise
  std::string message;             // an event's detail, a log line's message, or a whole
                                   // line that has no time
  std::string raw;                 // the line an entry was read from, when a reader keeps it
                                   // (an audit record's JSON); "" otherwise
};

// Parses a line written with the file pattern of core/log.cc, "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v"
// (UTC; a line without the "Z" — an older km's — is read as local time). A line of any
// other shape (a crash report, a tool's stderr) becomes an entry without a time whose
// message is the whole line. Never fails.
TimelineEntry parseLogLine(std::string_view line);

// "2026-11-29T12:42:49.249Z" (UTC, milliseconds).
std::string formatTimeMs(int64_t ms);

// Merges timed entries that arrive in batches (queued) with log lines that arrive in file
// order (streamed): each streamed line with a time is emitted after every queued entry
// earlier than it; a line without a time is emitted at once, where it stands in the file.
// Lines keep their file order even when their times do not (a clock step); queued entries
// are emitted in time order (equal times: in the order queued). flush() emits the queue.
class TimelineMerge {
 public:
  using Emit = std::function<void(const TimelineEntry&)>;
  explicit TimelineMerge(Emit emit) : emit_(std::move(emit)) {}

  // Queues an entry that has a time (one without is emitted at once).
  void queue(TimelineEntry entry);
  // Emits the queued entries earlier than `line`, then `line`.
  void stream(const TimelineEntry& line);
  // Emits every queued entry.
  void flush();
  size_t queued() const { return queue_.size(); }

 private:
  Emit emit_;
  std::deque<TimelineEntry> queue_;  // sorted by time
};

}  // namespace km
