// The supervisor log line parser and the merge of events with log lines by time (km logs).
#include "core/timeline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace km {
namespace {

// 2026-11-29T12:42:49.249Z
constexpr int64_t kT = 1795956169249;

TEST(ParseLogLineTest, ReadsTimeLevelLoggerAndMessageOfTheFilePattern) {
  TimelineEntry e = parseLogLine("2026-11-29T12:42:49.249Z info [km.supervisor] sb-1: ready, init pid 7");
  ASSERT_TRUE(e.time_ms.has_value());
  EXPECT_EQ(*e.time_ms, kT);
  EXPECT_EQ(e.source, "supervisor");
  EXPECT_EQ(e.kind, "info");
  EXPECT_EQ(e.logger, "km.supervisor");
  EXPECT_EQ(e.message, "sb-1: ready, init pid 7");
}

TEST(ParseLogLineTest, KeepsBracketsInTheMessage) {
  TimelineEntry e = parseLogLine("2026-11-29T12:42:49.249Z warning [km.net] x] [y] z");
  EXPECT_EQ(e.kind, "warning");
  EXPECT_EQ(e.logger, "km.net");
  EXPECT_EQ(e.message, "x] [y] z");
}

TEST(ParseLogLineTest, ReadsALineWithoutZoneAsLocalTime) {
  // What an older km wrote: local time. Whatever the zone here, it is the mktime reading.
  TimelineEntry e = parseLogLine("2026-11-29T12:42:49.249 info [km.supervisor] m");
  ASSERT_TRUE(e.time_ms.has_value());
  tm t{};
  t.tm_year = 126;
  t.tm_mon = 10;
  t.tm_mday = 29;
  t.tm_hour = 12;
  t.tm_min = 42;
  t.tm_sec = 49;
  t.tm_isdst = -1;
  EXPECT_EQ(*e.time_ms, static_cast<int64_t>(::mktime(&t)) * 1000 + 249);
  EXPECT_EQ(e.message, "m");
}

TEST(ParseLogLineTest, LinesOfAnotherShapeHaveNoTimeAndKeepTheirText) {
  for (std::string line : {"", "AddressSanitizer: heap-use-after-free", "warning [km.supervisor] no time",
                           "2026-11-29T12:42:49.249Z", "2026-11-29T12:42:49.249Z info no logger",
                           "2026-13-29T12:42:49.249Z info [x] bad month", "2026-11-29 12:42:49.249Z info [x] m",
                           "2026-11-29T12:4a:49.249Z info [x] m"}) {
    TimelineEntry e = parseLogLine(line);
    EXPECT_FALSE(e.time_ms.has_value()) << line;
    EXPECT_EQ(e.message, line);
    EXPECT_EQ(e.source, "supervisor");
  }
}

TEST(FormatTimeMsTest, WritesUtcWithMilliseconds) {
  EXPECT_EQ(formatTimeMs(kT), "2026-11-29T12:42:49.249Z");
  EXPECT_EQ(formatTimeMs(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(*parseLogLine(formatTimeMs(kT + 5) + " info [a] b").time_ms, kT + 5);
}

TimelineEntry ev(int64_t t, std::string kind) {
  TimelineEntry e;
  e.time_ms = t;
  e.source = "event";
  e.kind = std::move(kind);
  return e;
}

TimelineEntry line(std::optional<int64_t> t, std::string msg) {
  TimelineEntry e;
  e.time_ms = t;
  e.source = "supervisor";
  e.message = std::move(msg);
  return e;
}

class TimelineMergeTest : public ::testing::Test {
 protected:
  std::vector<std::string> seen_;
  TimelineMerge merge_{[this](const TimelineEntry& e) { seen_.push_back(e.kind + e.message); }};
};

TEST_F(TimelineMergeTest, EventsGoBetweenTheLinesByTime) {
  merge_.queue(ev(kT + 30, "stopped"));
  merge_.queue(ev(kT + 10, "created"));  // queued out of order: emitted in time order
  merge_.stream(line(kT, "building"));
  merge_.stream(line(kT + 20, "ready"));
  merge_.stream(line(kT + 40, "stopping done"));
  merge_.queue(ev(kT + 50, "destroyed"));
  merge_.flush();
  EXPECT_EQ(seen_, (std::vector<std::string>{"building", "created", "ready", "stopped", "stopping done",
                                             "destroyed"}));
  EXPECT_EQ(merge_.queued(), 0u);
}

TEST_F(TimelineMergeTest, ALineWithoutTimeStaysAfterTheLineBeforeIt) {
  merge_.queue(ev(kT + 10, "created"));
  merge_.queue(ev(kT + 30, "stopped"));
  merge_.stream(line(kT, "first"));
  merge_.stream(line(std::nullopt, "  a crash report line"));  // not after the events
  merge_.stream(line(kT + 20, "second"));
  merge_.flush();
  EXPECT_EQ(seen_, (std::vector<std::string>{"first", "  a crash report line", "created", "second", "stopped"}));
}

TEST_F(TimelineMergeTest, EqualTimesPutTheLineAfterEventsQueuedEarlierOnlyWhenStrictlyLater) {
  merge_.queue(ev(kT, "a"));
  merge_.queue(ev(kT, "b"));
  merge_.stream(line(kT, "same time"));  // not strictly later: the events wait
  merge_.stream(line(kT + 1, "later"));
  EXPECT_EQ(seen_, (std::vector<std::string>{"same time", "a", "b", "later"}));
}

TEST_F(TimelineMergeTest, LinesKeepFileOrderWhenTheClockSteppedBack) {
  merge_.queue(ev(kT + 15, "event"));
  merge_.stream(line(kT + 20, "before the step"));
  merge_.stream(line(kT + 10, "after the step"));
  merge_.flush();
  EXPECT_EQ(seen_, (std::vector<std::string>{"event", "before the step", "after the step"}));
}

TEST_F(TimelineMergeTest, AnEntryQueuedWithoutTimeIsEmittedAtOnce) {
  merge_.queue(ev(kT + 5, "later"));
  TimelineEntry untimed = ev(0, "now");
  untimed.time_ms.reset();
  merge_.queue(untimed);
  EXPECT_EQ(seen_, (std::vector<std::string>{"now"}));
  merge_.flush();
  EXPECT_EQ(seen_, (std::vector<std::string>{"now", "later"}));
}

}  // namespace
}  // namespace km
