#include "core/subprocess.h"

#include <gtest/gtest.h>

namespace km {
namespace {

using std::chrono::milliseconds;

TEST(SubprocessTest, FeedsStdinAndCapturesBothOutputs) {
  auto c = runCaptured({"/bin/sh", "-c", "tr a-z A-Z; echo warn >&2; exit 3"}, "hello\n", 1 << 20, milliseconds(10000));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->out, "HELLO\n");
  EXPECT_EQ(c->err, "warn\n");
  EXPECT_EQ(c->exit_code, 3);
}

TEST(SubprocessTest, LargeInputAndOutputDoNotDeadlockAndOutputIsBounded) {
  std::string big(1 << 20, 'x');  // more than a pipe holds, both ways
  auto c = runCaptured({"/bin/cat"}, big, 1000, milliseconds(20000));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->out.size(), 1000u);
  EXPECT_TRUE(c->out_cut);
  EXPECT_EQ(c->exit_code, 0);
  // A child that never reads its input is fine.
  auto d = runCaptured({"/bin/true"}, big, 1000, milliseconds(20000));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->exit_code, 0);
}

TEST(SubprocessTest, SignalsTimeoutsAndMissingPrograms) {
  auto k = runCaptured({"/bin/sh", "-c", "kill -9 $$"}, "", 100, milliseconds(10000));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->exit_code, 128 + 9);
  auto slow = runCaptured({"/bin/sleep", "5"}, "", 100, milliseconds(200));
  ASSERT_FALSE(slow);
  EXPECT_NE(slow.error().message().find("did not finish"), std::string::npos);
  EXPECT_FALSE(runCaptured({"/nonexistent/program"}, "", 100, milliseconds(1000)));
}

}  // namespace
}  // namespace km
