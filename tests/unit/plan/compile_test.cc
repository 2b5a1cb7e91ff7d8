// plan::compile end to end: every built-in profile compiles into the plan its YAML describes;
// identity, execution and network fields are carried over; --alias is checked; configFiles
// paths must stay inside the sandbox.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/duration.h"
#include "plan/compile_steps.h"
#include "plan/plan.h"
#include "profile/profile.h"
#include "unit/plan/plan_fixtures.h"

namespace km::plan {
namespace {

using test::completeProfile;
using test::optionsWithId;
using test::profileFrom;

profile::Profile builtin(const std::string& name) {
  auto loaded = profile::load(name, {});
  EXPECT_TRUE(loaded.has_value()) << name;
  if (!loaded) return {};
  EXPECT_TRUE(loaded->ok()) << name;
  return profile::withDefaults(loaded->profile);
}

TEST(CompileTest, EveryBuiltinCompilesToWhatItsProfileSays) {
  ASSERT_EQ(profile::builtinNames().size(), 8u);
  for (const std::string& name : profile::builtinNames()) {
    SCOPED_TRACE(name);
    profile::Profile p = builtin(name);
    auto plan = compile(p, optionsWithId(*p.metadata.prefix + "-00c0ffee"));
    ASSERT_TRUE(plan.has_value()) << plan.error().message();
    EXPECT_EQ(plan->id, *p.metadata.prefix + "-00c0ffee");
    EXPECT_EQ(plan->hostname, plan->id);
    EXPECT_FALSE(plan->alias);
    EXPECT_EQ(plan->profile_name, name);
    // Every built-in asks for ec2, which is not configured in a default CompileOptions.
    EXPECT_EQ(plan->requested_substrate, "ec2");
    EXPECT_EQ(plan->substrate, Substrate::kLocal);
    EXPECT_EQ(plan->substrate_note, "profile asks for ec2 (not configured here); running on local");
    EXPECT_EQ(plan->region, p.spec.runtime.region);
    EXPECT_EQ(plan->instance_type, p.spec.runtime.instance_type);
    EXPECT_EQ(plan->ttl_seconds, parseDuration(p.spec.lifecycle.ttl)->count());
    EXPECT_EQ(plan->idle_timeout_seconds, parseDuration(p.spec.lifecycle.idle_timeout)->count());
    EXPECT_EQ(teardownPolicyName(plan->teardown_policy), p.spec.lifecycle.teardown_policy);
    auto shape = profile::instanceShape(p.spec.runtime.instance_type);
    ASSERT_TRUE(shape) << p.spec.runtime.instance_type;
    EXPECT_EQ(plan->resources.cpu_millis, shape->vcpus * 1000);
    EXPECT_EQ(plan->resources.memory_bytes, int64_t{shape->memory_mib} << 20);
    EXPECT_EQ(plan->resources.pids, 4096);
    EXPECT_EQ(plan->resources.source, "instanceType " + p.spec.runtime.instance_type);
    EXPECT_EQ(plan->user, "sandbox");
    EXPECT_EQ(plan->shell, p.spec.execution.shell);
    EXPECT_EQ(plan->working_dir, p.spec.execution.working_dir);
    EXPECT_EQ(plan->env, p.spec.execution.env);
    EXPECT_EQ(plan->init_commands, p.spec.execution.init_commands);
    // The profile's configFiles, then the agents' settings its spec.agent synthesizes.
    size_t agent_files = p.spec.agent ? agentConfigFiles(*p.spec.agent, "/home/sandbox").size() : 0;
    EXPECT_EQ(plan->config_files.size(), p.spec.execution.config_files.size() + agent_files);
    EXPECT_EQ(net::enforcementName(plan->network.enforcement), *p.spec.network.enforcement);
    EXPECT_EQ(plan->network.allowed_dns_suffixes, p.spec.network.egress.allowed_dns_suffixes);
    EXPECT_EQ(plan->network.allowed_hosts, p.spec.network.egress.allowed_hosts);
  }
}

TEST(CompileTest, BuiltinsSpotChecks) {
  auto open_dev = compile(builtin("open-dev"), optionsWithId());
  ASSERT_TRUE(open_dev.has_value());
  EXPECT_EQ(open_dev->ttl_seconds, 24 * 3600);
  EXPECT_EQ(open_dev->idle_timeout_seconds, 4 * 3600);
  EXPECT_EQ(open_dev->teardown_policy, TeardownPolicy::kDestroy);
  EXPECT_EQ(open_dev->network.enforcement, net::Enforcement::kProxy);

  auto sealed = compile(builtin("sealed"), optionsWithId());
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(sealed->instance_type, "t3.micro");
  EXPECT_EQ(sealed->resources.cpu_millis, 2000);
  EXPECT_EQ(sealed->resources.memory_bytes, int64_t{1} << 30);
  EXPECT_TRUE(sealed->network.allowed_dns_suffixes.empty());
  EXPECT_TRUE(sealed->network.allowed_hosts.empty());

  auto ao = compile(builtin("ao"), optionsWithId());
  ASSERT_TRUE(ao.has_value());
  EXPECT_EQ(ao->network.enforcement, net::Enforcement::kBoth);
  EXPECT_EQ(ao->teardown_policy, TeardownPolicy::kStop);
  EXPECT_EQ(ao->resources.memory_bytes, int64_t{8} << 30);
  ASSERT_FALSE(ao->env.empty());
  EXPECT_EQ(ao->env.front(), (std::pair<std::string, std::string>{"SANDBOX_MODE", "agent-orchestrator"}));
  ASSERT_FALSE(ao->init_commands.empty());
  EXPECT_EQ(ao->init_commands.front(), "dnf install -y git tmux jq nodejs npm dnf-plugins-core");
}

TEST(CompileTest, CarriesExecutionAndNetworkInOrder) {
  std::string yaml(km::test::kCompleteProfile);
  const std::string line = "  execution: {shell: /bin/bash, workingDir: /workspace}\n";
  ASSERT_NE(yaml.find(line), std::string::npos);
  yaml.replace(yaml.find(line), line.size(), R"(  execution:
    shell: /bin/zsh
    workingDir: /work
    env: {ZED: "1", ALPHA: "2", MIDDLE: "3"}
    configFiles:
      /etc/b.conf: "b"
      /home/sandbox/.a: "a\n"
    initCommands: [one, two]
    initCommandsAppend: [three]
)");
  profile::Profile p = profileFrom(yaml);
  auto plan = compile(p, optionsWithId());
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  EXPECT_EQ(plan->shell, "/bin/zsh");
  EXPECT_EQ(plan->working_dir, "/work");
  EXPECT_EQ(plan->env, (doc::StringMap{{"ZED", "1"}, {"ALPHA", "2"}, {"MIDDLE", "3"}}));
  ASSERT_EQ(plan->config_files.size(), 2u);
  EXPECT_EQ(plan->config_files[0].path, "/etc/b.conf");
  EXPECT_EQ(plan->config_files[0].content, "b");
  EXPECT_EQ(plan->config_files[1].path, "/home/sandbox/.a");
  EXPECT_EQ(plan->config_files[1].content, "a\n");
  EXPECT_EQ(plan->init_commands, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(plan->network.allowed_dns_suffixes, (std::vector<std::string>{".base.example"}));
  EXPECT_EQ(plan->network.allowed_hosts, (std::vector<std::string>{"base.example.com"}));
  EXPECT_EQ(plan->network.enforcement, net::Enforcement::kProxy);  // the default withDefaults made explicit
}

TEST(CompileTest, FoldsInitCommandsAppendWhenDefaultsWereNotApplied) {
  profile::Profile p = completeProfile();
  p.spec.execution.init_commands = {"a", "b"};
  p.spec.execution.init_commands_append = {"b", "c"};
  p.spec.network.enforcement.reset();
  auto plan = compile(p, optionsWithId());
  ASSERT_TRUE(plan.has_value());
  // Same rule as withDefaults: appended after, skipping commands already there.
  EXPECT_EQ(plan->init_commands, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(plan->network.enforcement, net::Enforcement::kProxy);
}

TEST(CompileTest, AliasIsKeptWhenItIsADnsLabel) {
  for (const std::string& alias : std::vector<std::string>{"a", "my-box", "web2", "x" + std::string(62, '1')}) {
    CompileOptions o = optionsWithId();
    o.alias = alias;
    auto plan = compile(completeProfile(), o);
    ASSERT_TRUE(plan.has_value()) << alias << ": " << plan.error().message();
    EXPECT_EQ(plan->alias, alias);
    EXPECT_EQ(plan->hostname, "sb-0123abcd");  // the alias never replaces the id
  }
}

TEST(CompileTest, AliasOutsideTheDnsLabelShapeIsRefusedSayingWhy) {
  for (const std::string& alias : std::vector<std::string>{"", "My-box", "1box", "-box", "box_1", "box.1", "b\xc3\xa9", "box 1",
                            "x" + std::string(63, 'a')}) {
    CompileOptions o = optionsWithId();
    o.alias = alias;
    auto plan = compile(completeProfile(), o);
    ASSERT_FALSE(plan.has_value()) << alias;
    EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(plan.error().message().find("--alias"), std::string::npos) << plan.error().message();
    EXPECT_NE(plan.error().message().find(
                  "an alias is a lowercase letter followed by up to 62 lowercase letters, digits or hyphens "
                  "(^[a-z][a-z0-9-]{0,62}$)"),
              std::string::npos)
        << plan.error().message();
  }
}

TEST(CompileTest, ConfigFilePathsMustStayInsideTheSandbox) {
  for (const char* bad : {"relative/file", "/etc/../../host", "/..", ""}) {
    profile::Profile p = completeProfile();
    p.spec.execution.config_files = {{bad, "x"}};
    auto plan = compile(p, optionsWithId());
    ASSERT_FALSE(plan.has_value()) << bad;
    EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(plan.error().message().find("spec.execution.configFiles"), std::string::npos);
    EXPECT_NE(plan.error().message().find("is not an absolute path inside the sandbox"), std::string::npos);
  }
  profile::Profile ok = completeProfile();
  ok.spec.execution.config_files = {{"/etc/a..b/c...d", "x"}};  // dots in names are fine
  EXPECT_TRUE(compile(ok, optionsWithId()).has_value());
}

TEST(CompileTest, FirstProblemWinsAndNothingIsHalfBuilt) {
  CompileOptions o = optionsWithId();
  o.alias = "Bad";
  o.ttl = "nope";
  auto plan = compile(completeProfile(), o);
  ASSERT_FALSE(plan.has_value());
  EXPECT_NE(plan.error().message().find("--alias"), std::string::npos);
}

TEST(CompileDeathTest, EmptyIdIsABug) {
  EXPECT_DEATH((void)compile(completeProfile(), CompileOptions{}), "newSandboxId");
}

}  // namespace
}  // namespace km::plan

namespace km::plan {
namespace {

using test::completeProfile;
using test::optionsWithId;

TEST(CompileTest, TheNetworkSpecIsParsedOnceAndABadOperatorValueNamesItsKey) {
  CompileOptions o = optionsWithId();
  o.dns_upstreams = {"192.0.2.53", "[2001:db8::53]:5353"};
  o.allowed_cidrs = {"10.20.0.5/16"};
  auto plan = compile(completeProfile(), o);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  ASSERT_EQ(plan->network.dns_upstreams.size(), 2u);
  EXPECT_EQ(plan->network.dns_upstreams[0].port, net::kDnsPort);
  EXPECT_EQ(plan->network.dns_upstreams[1].port, 5353);
  EXPECT_EQ(plan->network.subnet_pool.toString(), "10.213.0.0/16");
  ASSERT_EQ(plan->network.allowed_cidrs.size(), 1u);
  EXPECT_EQ(plan->network.allowed_cidrs[0].toString(), "10.20.0.0/16");

  struct Bad {
    void (*set)(CompileOptions&);
    const char* key;
  } bad[] = {
      {[](CompileOptions& c) { c.allowed_cidrs = {"10.0.0.0/33"}; }, "network.allowCIDRs"},
      {[](CompileOptions& c) { c.subnet_pool = "not-a-cidr"; }, "network.subnetPool"},
      {[](CompileOptions& c) { c.dns_upstreams = {"192.0.2.1:99999"}; }, "dns.upstream"},
  };
  for (const auto& b : bad) {
    CompileOptions c = optionsWithId();
    b.set(c);
    auto r = compile(completeProfile(), c);
    ASSERT_FALSE(r.has_value()) << b.key;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(b.key), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace km::plan

namespace km::plan {
namespace {

TEST(CompileBudgetTest, CarriesTheBudgetAndTheOperatorsMetering) {
  profile::Profile p = test::profileFrom(R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: b, prefix: bb}
extends: hardened
spec:
  runtime: {instanceType: t3.large, spot: true, hibernation: true}
  budget:
    ai: {maxSpendUSD: 1.25}
    compute: {maxSpendUSD: 0.5}
    warningThreshold: 0.9
)");
  CompileOptions o = test::optionsWithId("bb-00c0ffee");
  o.ai_endpoints = {{"llm.internal", "anthropic"}};
  o.pricing_yaml = "compute:\n  instances:\n    t3.large: {onDemand: 0.08, spot: 0.03}\n";
  o.pricing_origin = "/p.yaml";
  auto plan = compile(p, o);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->budget.ai_limit, 1'250'000);
  EXPECT_EQ(plan->budget.compute_limit, 500'000);
  EXPECT_EQ(plan->budget.warning_threshold, 900'000);
  ASSERT_EQ(plan->metering.endpoints.size(), 1u);
  EXPECT_EQ(plan->metering.endpoints[0].provider, "anthropic");
  EXPECT_EQ(plan->network.ai_endpoints, std::vector<std::string>{"llm.internal"});
  EXPECT_EQ(plan->metering.pricing_yaml, o.pricing_yaml);
  EXPECT_TRUE(plan->network.ai_providers);
  EXPECT_EQ(plan->budget.compute_rate, 30'000) << "the operator's spot rate, fixed at create";
  EXPECT_EQ(plan->budget.compute_rate_basis, "t3.large spot");
  EXPECT_TRUE(plan->hibernation);
  o.pricing_yaml = "compute: [1]\n";
  auto bad = compile(p, o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("pricing.file"), std::string::npos) << bad.error().message();

  profile::Profile none = test::profileFrom(R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: n, prefix: nn}
extends: hardened
)");
  auto unbudgeted = compile(none, test::optionsWithId("nn-00c0ffee"));
  ASSERT_TRUE(unbudgeted);
  EXPECT_EQ(unbudgeted->budget.ai_limit, 0);
  EXPECT_EQ(unbudgeted->budget.warning_threshold, 800'000) << "the default";
  EXPECT_EQ(unbudgeted->budget.compute_rate_basis, "") << "no compute budget: running time is not counted";
}

}  // namespace
}  // namespace km::plan
