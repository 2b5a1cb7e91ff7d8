// cli::guarded (the last-resort catch: an escaped exception is a BUG, exit 70) and cli::run's
// exit codes for commands that need no operator config. The full command surface is
// exercised against the real binary in tests/e2e/.
#include "cli/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "support/run_km.h"

namespace km::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::internal::CaptureStderr;
using ::testing::internal::GetCapturedStderr;

using test::RunResult;
using test::runKm;

TEST(GuardedTest, ReturnsTheBodysExitCode) {
  EXPECT_EQ(guarded([] { return 0; }), 0);
  EXPECT_EQ(guarded([] { return 1; }), 1);
  EXPECT_EQ(guarded([] { return 2; }), 2);
  EXPECT_EQ(guarded([] { return 42; }), 42);
}

TEST(GuardedTest, StdExceptionBecomesBugExit70) {
  CaptureStderr();
  int code = guarded([]() -> int { throw std::runtime_error("kaboom"); });
  std::string err = GetCapturedStderr();
  EXPECT_EQ(code, kExitBug);
  EXPECT_EQ(code, 70);
  EXPECT_THAT(err, HasSubstr("BUG"));
  EXPECT_THAT(err, HasSubstr("kaboom"));
}

TEST(GuardedTest, NonStandardExceptionBecomesBugExit70) {
  CaptureStderr();
  int code = guarded([]() -> int { throw 42; });
  std::string err = GetCapturedStderr();
  EXPECT_EQ(code, 70);
  EXPECT_THAT(err, HasSubstr("BUG"));
}

TEST(GuardedTest, NothingIsPrintedWhenTheBodySucceeds) {
  CaptureStderr();
  EXPECT_EQ(guarded([] { return 0; }), 0);
  EXPECT_EQ(GetCapturedStderr(), "");
}

TEST(RunTest, VersionPrintsVersionAndExitsZero) {
  RunResult r = runKm({"--version"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("km "));
}

TEST(RunTest, UnknownCommandIsAUsageError) {
  RunResult r = runKm({"frobnicate"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("frobnicate"));
  EXPECT_THAT(r.err, HasSubstr("--help"));
}

TEST(RunTest, UnknownFlagIsAUsageErrorNamingTheCommand) {
  RunResult r = runKm({"schema", "--no-such-flag"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--no-such-flag"));
  EXPECT_THAT(r.err, HasSubstr("km schema --help"));
}

TEST(RunTest, HelpDescribesKmNotTheHelpCommand) {
  RunResult r = runKm({"help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("Usage: km [OPTIONS]"));
  EXPECT_THAT(r.out, HasSubstr("validate"));
  EXPECT_THAT(r.out, HasSubstr("completion"));
}

TEST(RunTest, HelpOfASubcommandShowsItsFullUsageName) {
  RunResult r = runKm({"help", "profile", "show"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("Usage: km profile show"));
  EXPECT_THAT(r.out, HasSubstr("--resolved"));
}

TEST(RunTest, HelpOfAnUnknownCommandIsAUsageError) {
  RunResult r = runKm({"help", "nope"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("nope"));
}

TEST(RunTest, NoCommandPrintsHelpAndIsAUsageError) {
  RunResult r = runKm({});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.out, HasSubstr("Usage: km"));
}

TEST(RunTest, SchemaNeedsNoConfigAndPrintsJson) {
  RunResult r = runKm({"--config", "/nonexistent/km-config.yaml", "schema"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"$schema\""));
}

TEST(RunTest, MissingExplicitConfigFailsCommandsThatNeedIt) {
  RunResult r = runKm({"--config", "/nonexistent/km-config.yaml", "config", "show"});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/km-config.yaml"));
}

}  // namespace
}  // namespace km::cli
