#include "core/money.h"

#include <gtest/gtest.h>

namespace km {
namespace {

TEST(MoneyTest, ParsesDecimalDollarsExactlyIntoMicros) {
  EXPECT_EQ(*parseDollars("0.50"), 500'000);
  EXPECT_EQ(*parseDollars("10"), 10'000'000);
  EXPECT_EQ(*parseDollars("0.000001"), 1);
  EXPECT_EQ(*parseDollars("1."), 1'000'000);
  EXPECT_EQ(*parseDollars(".5"), 500'000);
  EXPECT_EQ(*parseDollars("-2.25"), -2'250'000);
  // 0.1 + 0.2 style float error cannot happen: 0.3 is exactly 300000 µ$.
  EXPECT_EQ(*parseDollars("0.1") + *parseDollars("0.2"), *parseDollars("0.3"));
}

TEST(MoneyTest, RefusesMoreThanSixDecimalsAndNonDecimals) {
  EXPECT_FALSE(parseDollars("0.1234567"));
  EXPECT_FALSE(parseDollars("1e3"));
  EXPECT_FALSE(parseDollars(""));
  EXPECT_FALSE(parseDollars("."));
  EXPECT_FALSE(parseDollars("abc"));
  EXPECT_FALSE(parseDollars("99999999999999999999"));
  EXPECT_EQ(parseDollars("1e3").error().code(), ErrorCode::kInvalidArgument);
}

TEST(MoneyTest, FormatsWithAtLeastTwoDecimals) {
  EXPECT_EQ(formatDollars(500'000), "0.50");
  EXPECT_EQ(formatDollars(10'000'000), "10.00");
  EXPECT_EQ(formatDollars(1), "0.000001");
  EXPECT_EQ(formatDollars(-2'250'000), "-2.25");
  EXPECT_EQ(formatRatio(800'000), "0.8");
  EXPECT_EQ(formatRatio(1'000'000), "1.0");
}

}  // namespace
}  // namespace km
