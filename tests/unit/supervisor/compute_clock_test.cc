// Running time as compute spend: exact at any granularity, paused time free, and the moment a
// pool runs out known ahead.
#include <gtest/gtest.h>

#include "supervisor/compute_clock.h"

namespace km::supervisor {
namespace {

constexpr int64_t kHour = 3'600'000;

TEST(ComputeClock, ChargesRunningTimeAtTheHourlyRate) {
  ComputeClock c(41'600);  // t3.medium on-demand, $0.0416/h
  EXPECT_EQ(c.take(0), 0) << "not running yet";
  c.run(1'000);
  EXPECT_EQ(c.take(1'000 + kHour), 41'600);
  EXPECT_EQ(c.take(1'000 + kHour), 0) << "taken once";
  EXPECT_EQ(c.take(1'000 + 2 * kHour), 41'600);
}

TEST(ComputeClock, ManySmallTakesChargeWhatOneLargeOneWould) {
  ComputeClock one(12'500), many(12'500);  // 12,500 µ$/h: 0.00347 µ$ a millisecond
  one.run(0);
  many.run(0);
  Micros sum = 0;
  for (int64_t t = 7; t <= 10 * kHour; t += 7'919) sum += many.take(t);
  int64_t last = (10 * kHour / 7'919) * 7'919 + 7;
  EXPECT_EQ(sum, one.take(last));
  EXPECT_EQ(sum, 12'500 * last / kHour) << "the remainder carried, nothing lost or added";
}

TEST(ComputeClock, PausedAndStoppedTimeIsFree) {
  ComputeClock c(36'000);  // 10 µ$ a second
  c.run(0);
  c.halt(10'000);           // 10 s
  c.halt(20'000);           // already halted: nothing
  c.run(100'000);           // 90 s paused
  EXPECT_EQ(c.take(105'000), 150) << "10 s + 5 s";
  c.run(106'000);           // already running: keeps its start
  EXPECT_EQ(c.take(110'000), 50);
  c.halt(120'000);
  EXPECT_FALSE(c.running());
  EXPECT_EQ(c.take(999'000), 100) << "held until taken, nothing after the halt";
  EXPECT_EQ(c.take(5), 0) << "a clock that went backwards counts nothing";
}

TEST(ComputeClock, KnowsWhenAPoolRunsOut) {
  ComputeClock c(36'000);  // 10 µ$ a second
  EXPECT_FALSE(c.reaches(0, 1'000)) << "halted";
  c.run(0);
  EXPECT_EQ(c.reaches(0, 1'000), 100'000);
  EXPECT_EQ(c.reaches(50'000, 1'000), 100'000) << "from the start of the untaken time";
  EXPECT_EQ(c.take(40'000), 400);
  EXPECT_EQ(c.reaches(40'000, 600), 100'000);
  EXPECT_EQ(c.reaches(40'000, 0), 40'000) << "nothing left: now";
  // At that moment exactly the pool is used up: the take costs what was available.
  EXPECT_EQ(c.take(*c.reaches(40'000, 600)), 600);

  ComputeClock odd(7);  // 7 µ$/h: a micro-dollar every 514,285.7 ms
  odd.run(0);
  auto at = odd.reaches(0, 3);
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, 1'542'858);
  EXPECT_EQ(odd.take(*at - 1), 2) << "a millisecond early is not yet enough";
  EXPECT_EQ(odd.take(*at), 1);
  EXPECT_FALSE(ComputeClock(0).reaches(0, 1)) << "free";
}

}  // namespace
}  // namespace km::supervisor
