// Where a sandbox runs: the table of --substrate, the profile's substrate, whether AWS is
// configured and the operator's default, with the note or error each branch produces.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "plan/plan.h"
#include "unit/plan/plan_fixtures.h"

namespace km::plan {
namespace {

struct Row {
  std::string profile_substrate;
  std::optional<std::string> flag;
  bool aws = false;
  std::string default_substrate = "local";
  // Expected: a substrate and note, or an error message (exact).
  std::string substrate;
  std::string note;
  std::string error;
};

void PrintTo(const Row& r, std::ostream* os) {
  *os << "profile=" << r.profile_substrate << " flag=" << r.flag.value_or("(none)") << " aws=" << r.aws
      << " default=" << r.default_substrate;
}

class SubstrateChoiceTest : public ::testing::TestWithParam<Row> {};

TEST_P(SubstrateChoiceTest, ChoosesOrRefuses) {
  const Row& row = GetParam();
  profile::Profile p = test::completeProfile();
  p.spec.runtime.substrate = row.profile_substrate;
  CompileOptions o = test::optionsWithId();
  o.substrate = row.flag;
  o.aws_configured = row.aws;
  o.default_substrate = row.default_substrate;
  auto plan = compile(p, o);
  if (!row.error.empty()) {
    ASSERT_FALSE(plan.has_value()) << "chose " << substrateName(plan->substrate);
    EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(plan.error().message(), row.error);
    return;
  }
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  EXPECT_EQ(substrateName(plan->substrate), row.substrate);
  EXPECT_EQ(plan->substrate_note, row.note);
  EXPECT_EQ(plan->requested_substrate, row.profile_substrate);
}

const char kNoAws[] = "the AWS substrate is not configured (operator config has no aws: section)";

INSTANTIATE_TEST_SUITE_P(
    Table, SubstrateChoiceTest,
    ::testing::Values(
        // No flag: the profile's own substrate when it can run here...
        Row{"local", {}, false, "local", "local", "", ""},
        Row{"ec2", {}, true, "local", "ec2", "", ""},
        Row{"ecs", {}, true, "local", "ecs", "", ""},
        // ...else the operator's default, saying why.
        Row{"ec2", {}, false, "local", "local", "profile asks for ec2 (not configured here); running on local", ""},
        Row{"ecs", {}, false, "local", "local", "profile asks for ecs (not configured here); running on local", ""},
        Row{"docker", {}, false, "local", "local",
            "profile asks for docker (not available yet in this build); running on local", ""},
        Row{"docker", {}, true, "ec2", "ec2",
            "profile asks for docker (not available yet in this build); running on ec2", ""},
        Row{"", {}, false, "local", "local", "profile names no substrate; running on local", ""},
        // An operator default that cannot run here either.
        Row{"ec2", {}, false, "docker", "", "",
            "profile asks for ec2 (not configured here) and the operator config's default substrate \"docker\" is "
            "not available yet in this build; pass --substrate local"},
        Row{"docker", {}, false, "ecs", "", "",
            "profile asks for docker (not available yet in this build) and the operator config's default "
            "substrate \"ecs\" is not configured here; pass --substrate local"},
        Row{"ec2", {}, false, "moon", "", "",
            "profile asks for ec2 (not configured here) and the operator config's default substrate \"moon\" is "
            "not a substrate km knows; pass --substrate local"},
        // --substrate wins over everything, when it can run.
        Row{"ec2", "local", false, "local", "local", "profile asks for ec2; --substrate local overrides it", ""},
        Row{"local", "local", false, "local", "local", "", ""},
        Row{"local", "ec2", true, "local", "ec2", "profile asks for local; --substrate ec2 overrides it", ""},
        Row{"ec2", "ecs", true, "local", "ecs", "profile asks for ec2; --substrate ecs overrides it", ""},
        Row{"local", "ec2", false, "local", "", "", std::string("--substrate ec2: ") + kNoAws},
        Row{"local", "ecs", false, "local", "", "", std::string("--substrate ecs: ") + kNoAws},
        Row{"local", "docker", true, "local", "", "",
            "--substrate docker: the docker substrate is not available yet in this build; use --substrate local"},
        Row{"local", "kubernetes", true, "local", "", "",
            "--substrate: \"kubernetes\" is not a substrate; use one of local, docker, ec2, ecs"},
        Row{"local", "", false, "local", "", "",
            "--substrate: \"\" is not a substrate; use one of local, docker, ec2, ecs"}));

}  // namespace
}  // namespace km::plan
