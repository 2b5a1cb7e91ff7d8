#include "core/subprocess.h"

#include <gtest/gtest.h>

#include "core/sys.h"

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

namespace km {
namespace {

TEST(RunStreamingTest, LinesAsTheyComeTheTailAndTheExitCode) {
  std::vector<std::string> lines;
  auto r = runStreaming({"sh", "-c", "echo one; echo two >&2; printf 'no newline'; exit 3"},
                        [&](std::string_view l) { lines.emplace_back(l); });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "no newline"}));
  EXPECT_EQ(r->tail, "one\ntwo\nno newline");
}

TEST(RunStreamingTest, TheTailIsTheEndWithoutTrailingNewlines) {
  auto r = runStreaming({"sh", "-c", "seq 1 20000; echo; echo"}, {}, 100);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0);
  ASSERT_EQ(r->tail.rfind("…", 0), 0u) << "a cut tail says so";
  EXPECT_EQ(r->tail.size(), std::string("…").size() + 100);
  EXPECT_EQ(r->tail.substr(r->tail.size() - 6), "\n20000");
}

TEST(RunStreamingTest, SignalsAndMissingPrograms) {
  auto killed = runStreaming({"sh", "-c", "kill -9 $$"}, {});
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->exit_code, 137);
  auto missing = runStreaming({"km-no-such-program"}, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  // sys::runProgram is the same run, failing on a non-zero exit with the tail in its message.
  Status failed = sys::runProgram({"sh", "-c", "echo why; exit 4"});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message(), "sh failed (exit 4): why");
}

}  // namespace
}  // namespace km
