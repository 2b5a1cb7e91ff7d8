// ttl and idle timeout: the profile's lifecycle, overridden by --ttl / --idle in the same
// duration syntax, with errors that name the flag and the accepted form, and the rule that
// the sandbox cannot expire before its idle timer could fire.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "plan/plan.h"
#include "unit/plan/plan_fixtures.h"

namespace km::plan {
namespace {

// The complete profile (ttl 4h, idle 1h) compiled with these flags.
Result<SandboxPlan> withFlags(std::optional<std::string> ttl, std::optional<std::string> idle) {
  CompileOptions o = test::optionsWithId();
  o.ttl = std::move(ttl);
  o.idle_timeout = std::move(idle);
  return compile(test::completeProfile(), o);
}

void expectError(const Result<SandboxPlan>& plan, const std::string& message) {
  ASSERT_FALSE(plan.has_value()) << "expected: " << message;
  EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(plan.error().message(), message);
}

TEST(LifetimeTest, ProfileValuesWithoutFlags) {
  auto plan = withFlags({}, {});
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->ttl_seconds, 4 * 3600);
  EXPECT_EQ(plan->idle_timeout_seconds, 3600);
}

TEST(LifetimeTest, FlagsOverrideEachOnItsOwn) {
  struct Case {
    std::optional<std::string> ttl, idle;
    int64_t ttl_seconds, idle_seconds;
  };
  for (const Case& c : {Case{"8h", {}, 8 * 3600, 3600}, Case{"2d", {}, 2 * 86400, 3600},
                        Case{"0", {}, 0, 3600}, Case{{}, "30m", 4 * 3600, 1800}, Case{{}, "90s", 4 * 3600, 90},
                        Case{"1h", "1h", 3600, 3600}, Case{"0", "3d", 0, 3 * 86400},
                        Case{"10m", "0s", 600, 0}}) {
    auto plan = withFlags(c.ttl, c.idle);
    ASSERT_TRUE(plan.has_value()) << c.ttl.value_or("-") << " " << c.idle.value_or("-") << ": "
                                  << plan.error().message();
    EXPECT_EQ(plan->ttl_seconds, c.ttl_seconds);
    EXPECT_EQ(plan->idle_timeout_seconds, c.idle_seconds);
  }
}

TEST(LifetimeTest, FlagsTakeGoDurations) {
  auto plan = withFlags("1h30m", "1.5m");
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  EXPECT_EQ(plan->ttl_seconds, 5400);
  EXPECT_EQ(plan->idle_timeout_seconds, 90);
}

TEST(LifetimeTest, BadTtlNamesTheFlagAndTheAcceptedForm) {
  for (const char* bad : {"4", "4x", "-1h", "", "h", "4 h", "4H"}) {
    auto plan = withFlags(bad, {});
    ASSERT_FALSE(plan.has_value()) << bad;
    EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(plan.error().message().rfind(std::string("--ttl: \"") + bad + "\" is not a duration (", 0), 0u)
        << plan.error().message();
    EXPECT_NE(plan.error().message().find("e.g. 30m, 1h30m, 2d"), std::string::npos) << plan.error().message();
  }
  expectError(withFlags("99999999999999999999d", {}),
              "--ttl: duration \"99999999999999999999d\" is too long (at most about 292 years)");
}

TEST(LifetimeTest, BadIdleNamesTheFlagAndTheAcceptedForm) {
  // "0" alone means "never" only for the ttl; the profile's idleTimeout refuses it too.
  expectError(withFlags({}, "0"), "--idle: \"0\" means never only for --ttl; give an idle timeout like 30m");
  for (const char* bad : {"30", "soon", ""}) {
    auto plan = withFlags({}, bad);
    ASSERT_FALSE(plan.has_value()) << bad;
    EXPECT_EQ(plan.error().message().rfind(std::string("--idle: \"") + bad + "\" is not a duration (", 0), 0u)
        << plan.error().message();
  }
}

TEST(LifetimeTest, TtlShorterThanIdleIsRefusedNamingWhereEachCameFrom) {
  expectError(withFlags("30m", {}),
              "--ttl 30m is shorter than the idle timeout 1h (spec.lifecycle.idleTimeout); pass a --ttl of at least "
              "1h, a shorter --idle, or --ttl 0 for a sandbox that never expires");
  expectError(withFlags({}, "5h"),
              "spec.lifecycle.ttl 4h is shorter than the idle timeout 5h (--idle); pass a --ttl of at least 5h, a "
              "shorter --idle, or --ttl 0 for a sandbox that never expires");
  expectError(withFlags("1h", "2h"),
              "--ttl 1h is shorter than the idle timeout 2h (--idle); pass a --ttl of at least 2h, a shorter --idle, "
              "or --ttl 0 for a sandbox that never expires");
  // ttl 0 never expires, so any idle timeout fits.
  EXPECT_TRUE(withFlags("0", "30d").has_value());
}

TEST(LifetimeTest, UnvalidatedProfileValuesAreStillChecked) {
  profile::Profile p = test::completeProfile();
  p.spec.lifecycle.ttl = "1h30m";
  auto bad_ttl = compile(p, test::optionsWithId());
  expectError(bad_ttl, "spec.lifecycle.ttl: expected 0 or a number with one unit (s, m, h, d), like 4h; got \"1h30m\"");
  // A flag replaces the bad profile value entirely.
  CompileOptions o = test::optionsWithId();
  o.ttl = "2h";
  EXPECT_TRUE(compile(p, o).has_value());

  profile::Profile clash = test::completeProfile();
  clash.spec.lifecycle.ttl = "30m";
  expectError(compile(clash, test::optionsWithId()),
              "spec.lifecycle.ttl 30m is shorter than the idle timeout 1h (spec.lifecycle.idleTimeout); raise the "
              "ttl, lower the idle timeout, or use ttl \"0\"");
}

}  // namespace
}  // namespace km::plan
