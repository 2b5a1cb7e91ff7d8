#include "core/duration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace km {
namespace {

using std::chrono::seconds;

TEST(DurationTest, ParsesZeroAndEachUnit) {
  EXPECT_EQ(*parseDuration("0"), seconds(0));
  EXPECT_EQ(*parseDuration("0s"), seconds(0));
  EXPECT_EQ(*parseDuration("90s"), seconds(90));
  EXPECT_EQ(*parseDuration("30m"), seconds(1800));
  EXPECT_EQ(*parseDuration("4h"), seconds(4 * 3600));
  EXPECT_EQ(*parseDuration("2d"), seconds(2 * 86400));
  EXPECT_EQ(*parseDuration("007m"), seconds(7 * 60));
}

TEST(DurationTest, RefusesCompoundAndMalformedDurations) {
  for (const char* bad : {"1h30m", "", "h", "4", "4H", "-1h", "+1h", "1.5h", " 4h", "4h ", "4w", "00"}) {
    auto r = parseDuration(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(r.error().message().find("write a number and one unit"), std::string::npos)
        << r.error().message();
  }
}

TEST(DurationTest, RefusesDaysWhenNotAllowedAndSaysWhichUnitsAre) {
  auto r = parseDuration("1d", /*allow_days=*/false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("(s, m or h)"), std::string::npos) << r.error().message();
  EXPECT_EQ(*parseDuration("24h", false), seconds(86400));
  auto with_days = parseDuration("1x");
  ASSERT_FALSE(with_days);
  EXPECT_NE(with_days.error().message().find("s, m, h or d"), std::string::npos);
}

TEST(DurationTest, RefusesValuesThatWouldOverflow) {
  auto r = parseDuration("99999999999999999999d");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("too long"), std::string::npos) << r.error().message();
  EXPECT_FALSE(parseDuration("9223372036854775807s"));
  // Large but representable values still parse exactly.
  EXPECT_EQ(*parseDuration("100000000d"), seconds(int64_t{100000000} * 86400));
}

TEST(DurationTest, FormatsTheShortestExactUnit) {
  EXPECT_EQ(formatDuration(seconds(0)), "0");
  EXPECT_EQ(formatDuration(seconds(45)), "45s");
  EXPECT_EQ(formatDuration(seconds(5400)), "90m");
  EXPECT_EQ(formatDuration(seconds(7200)), "2h");
  EXPECT_EQ(formatDuration(seconds(86400 * 3)), "3d");
  EXPECT_EQ(formatDuration(seconds(3601)), "3601s");
}

TEST(DurationTest, FormatThenParseRoundTrips) {
  for (int64_t s : {1, 59, 60, 61, 3600, 5400, 86400, 90000, 172800}) {
    auto back = parseDuration(formatDuration(seconds(s)));
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, seconds(s));
  }
}


// --- durations typed on the command line (Go's syntax plus d) ---------------------------

TEST(FlagDurationTest, AcceptsWhatGoAcceptsPlusDays) {
  auto secs = [](std::string_view t) { return parseFlagDuration(t).value().count(); };
  EXPECT_EQ(secs("0"), 0);
  EXPECT_EQ(secs("90s"), 90);
  EXPECT_EQ(secs("1h30m"), 5400);
  EXPECT_EQ(secs("1.5h"), 5400);
  EXPECT_EQ(secs("2h45m10s"), 9910);
  EXPECT_EQ(secs("2d"), 172800);
  EXPECT_EQ(secs("1d12h"), 129600);
  EXPECT_EQ(secs("0s"), 0);
  EXPECT_EQ(secs(".5m"), 30);
  EXPECT_EQ(secs("500ms"), 1);  // rounded up to a whole second
  EXPECT_EQ(secs("1500ms"), 2);
  EXPECT_EQ(secs("1000000000ns"), 1);
  EXPECT_EQ(secs("1us"), 1);
  EXPECT_EQ(secs("2562047h"), 2562047LL * 3600);  // Go's largest whole hour
}

TEST(FlagDurationTest, RefusesSignsSpacesUnknownUnitsAndBareNumbers) {
  for (std::string_view bad : {"", "-1h", "+1h", "1h 30m", "1", "h", "5x", "1..5h", "1.h.", "1y", "1H", " 1h"}) {
    auto r = parseFlagDuration(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(r.error().message().find("1h30m"), std::string::npos) << "names the accepted form: " << r.error().message();
  }
}

TEST(FlagDurationTest, RefusesWhatGoCannotHoldWithoutOverflowing) {
  for (std::string_view big : {"99999999999d", "2562048h", "106752d", "9223372037s", "2562047h48m", "99999999999999999999999s",
                               "1h99999999999999999999999m"}) {
    auto r = parseFlagDuration(big);
    ASSERT_FALSE(r) << big;
    EXPECT_NE(r.error().message().find("too long"), std::string::npos) << big << ": " << r.error().message();
  }
  EXPECT_TRUE(parseFlagDuration("9223372036s"));
}

}  // namespace
}  // namespace km
