// WarningPacer: the first occurrence warns at once, later ones are counted into at most one
// warning per interval, and clear() makes the next occurrence warn at once again.
#include "core/warning_pacer.h"

#include <gtest/gtest.h>

namespace km {
namespace {

using namespace std::chrono_literals;

TEST(WarningPacerTest, WarnsAtOnceThenAtMostOncePerIntervalCountingWhatItHeldBack) {
  WarningPacer p(60s);
  WarningPacer::Clock::time_point t{};
  EXPECT_TRUE(p.due(t));
  EXPECT_EQ(p.take(), 1u);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(p.due(t + 1s));
  EXPECT_FALSE(p.due(t + 59s, 5));
  EXPECT_TRUE(p.due(t + 60s));
  EXPECT_EQ(p.take(), 1006u);  // the 1000, the 5, and this one
  EXPECT_FALSE(p.due(t + 61s));
  EXPECT_TRUE(p.active());
}

TEST(WarningPacerTest, ClearMakesTheNextOccurrenceWarnAtOnce) {
  WarningPacer p(60s);
  WarningPacer::Clock::time_point t{};
  EXPECT_TRUE(p.due(t));
  (void)p.take();
  EXPECT_FALSE(p.due(t + 1s));
  p.clear();
  EXPECT_FALSE(p.active());
  EXPECT_TRUE(p.due(t + 2s));
  EXPECT_EQ(p.take(), 1u);  // what was held back before clear() is not carried over
}

}  // namespace
}  // namespace km
