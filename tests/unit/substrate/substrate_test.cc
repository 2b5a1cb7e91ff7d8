// The substrate interface: which kinds this build opens, and that the local implementation's
// records and placement are its layout's (what the supervisor and fleet now reach only
// through substrate.h). Kernel behaviour is covered by the root integration tests.
#include <gtest/gtest.h>

#include <string>

#include "substrate/local/layout.h"
#include "substrate/local/local.h"
#include "substrate/substrate.h"

namespace km::substrate {
namespace {

TEST(SubstrateTest, OnlyLocalOpensInThisBuild) {
  auto local = open(plan::Substrate::kLocal, {.km_home = "/var/lib/km", .disk = {}});
  ASSERT_TRUE(local.has_value()) << local.error().message();
  EXPECT_EQ((*local)->kind(), plan::Substrate::kLocal);
  EXPECT_EQ(openDefault({.km_home = "/var/lib/km", .disk = {}})->kind(), plan::Substrate::kLocal);
  for (plan::Substrate k : {plan::Substrate::kDocker, plan::Substrate::kEc2, plan::Substrate::kEcs}) {
    auto other = open(k, {.km_home = "/var/lib/km", .disk = {}});
    ASSERT_FALSE(other.has_value()) << plan::substrateName(k);
    EXPECT_EQ(other.error().code(), ErrorCode::kUnavailable);
    EXPECT_NE(other.error().message().find(std::string(plan::substrateName(k))), std::string::npos)
        << other.error().message();
  }
}

TEST(SubstrateTest, LocalRecordsAndPlacementAreTheLayouts) {
  auto sub = open(plan::Substrate::kLocal, {.km_home = "/var/lib/km", .disk = {}});
  ASSERT_TRUE(sub.has_value());
  plan::SandboxPlan p;
  p.id = "sb-1f2e3d4c";
  auto sandbox = (*sub)->sandbox(p);
  local::Layout l = local::Layout::forSandbox("/var/lib/km", p.id);
  EXPECT_EQ(sandbox->files().dir, l.dir);
  EXPECT_EQ(sandbox->files().control_socket, l.control_socket);
  EXPECT_EQ((*sub)->files(p.id).plan_file, l.plan_file);
  net::NetworkPlacement where = sandbox->networkPlacement();
  EXPECT_EQ(where.pin_dir, local::pinDir("/var/lib/km", p.id));
  EXPECT_EQ(where.facts_path, l.net_file);
  // Nothing started: no usage, no executable, nothing paused.
  EXPECT_EQ(sandbox->usage({}).processes, 0u);
  EXPECT_FALSE(sandbox->isExecutable({}, "/bin/sh"));
}

}  // namespace
}  // namespace km::substrate
