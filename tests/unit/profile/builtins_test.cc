// The eight built-in profiles (upstream's fixed order and key values) and withDefaults().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "profile/profile.h"

namespace km::profile {
namespace {

using ::testing::ElementsAre;

std::string allMessages(const Loaded& l) {
  std::string out;
  for (const auto& d : l.diagnostics.all()) out += d.format() + "\n";
  return out;
}

Loaded loadBuiltin(const std::string& name) {
  auto l = load(name, {});
  EXPECT_TRUE(l.has_value()) << name;
  return l ? std::move(*l) : Loaded{};
}

// A valid profile without the optional fields withDefaults fills in.
constexpr std::string_view kMinimal = R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: minimal}
spec:
  lifecycle: {ttl: 4h, idleTimeout: 1h, teardownPolicy: destroy}
  runtime: {substrate: ec2, instanceType: t3.small, region: us-east-1}
  execution:
    shell: /bin/bash
    workingDir: /workspace
    initCommands: [a, b]
    initCommandsAppend: [b, c]
  sourceAccess: {mode: none}
  network: {egress: {allowedDNSSuffixes: [], allowedHosts: []}}
  iam: {roleSessionDuration: 1h, allowedRegions: [us-east-1]}
  sidecars:
    dnsProxy: {enabled: true, image: d}
    httpProxy: {enabled: true, image: h}
    auditLog: {enabled: true, image: a}
    tracing: {enabled: true, image: t}
  observability:
    commandLog: {destination: stdout}
    networkLog: {destination: stdout}
)";

TEST(BuiltinsTest, NamesAreInUpstreamsFixedOrder) {
  EXPECT_THAT(builtinNames(), ElementsAre("open-dev", "restricted-dev", "hardened", "sealed",
                                          "goose", "ao", "codex", "learn"));
}

TEST(BuiltinsTest, IsBuiltinKnowsExactlyTheEightNames) {
  for (const auto& n : builtinNames()) EXPECT_TRUE(isBuiltin(n)) << n;
  EXPECT_FALSE(isBuiltin("nope"));
  EXPECT_FALSE(isBuiltin("sealed.yaml"));
  EXPECT_FALSE(isBuiltin(""));
}

TEST(BuiltinsTest, EveryBuiltinValidatesWithNoErrors) {
  for (const auto& n : builtinNames()) {
    Loaded l = loadBuiltin(n);
    EXPECT_EQ(l.diagnostics.errorCount(), 0u) << n << ":\n" << allMessages(l);
    EXPECT_FALSE(l.abstract) << n;
    EXPECT_EQ(l.source, n);
    EXPECT_EQ(l.profile.metadata.name, n);
    EXPECT_EQ(l.profile.api_version, "klankermaker.ai/v1alpha2") << n;
  }
}

TEST(BuiltinsTest, LifecyclesMatchUpstream) {
  struct Want {
    const char* name;
    const char* ttl;
    const char* idle;
    const char* teardown;
  };
  const Want wants[] = {
      {"open-dev", "24h", "4h", "destroy"}, {"restricted-dev", "8h", "2h", "destroy"},
      {"hardened", "4h", "1h", "destroy"},  {"sealed", "1h", "30m", "destroy"},
      {"goose", "4h", "1h", "stop"},        {"ao", "8h", "1h", "stop"},
      {"codex", "4h", "30m", "stop"},       {"learn", "8h", "1h", "stop"},
  };
  for (const auto& w : wants) {
    Loaded l = loadBuiltin(w.name);
    EXPECT_EQ(l.profile.spec.lifecycle.ttl, w.ttl) << w.name;
    EXPECT_EQ(l.profile.spec.lifecycle.idle_timeout, w.idle) << w.name;
    EXPECT_EQ(l.profile.spec.lifecycle.teardown_policy, w.teardown) << w.name;
  }
}

TEST(BuiltinsTest, SharedSettingsMatchUpstream) {
  for (const auto& n : builtinNames()) {
    const Spec s = loadBuiltin(n).profile.spec;
    EXPECT_EQ(s.runtime.substrate, "ec2") << n;
    EXPECT_EQ(s.runtime.region, "us-east-1") << n;
    EXPECT_EQ(s.iam.role_session_duration, "1h") << n;
    EXPECT_TRUE(s.sidecars.dns_proxy.enabled && s.sidecars.http_proxy.enabled &&
                s.sidecars.audit_log.enabled && s.sidecars.tracing.enabled)
        << n;
    EXPECT_EQ(s.sidecars.dns_proxy.image, "km-dns-proxy:latest") << n;
    EXPECT_EQ(s.sidecars.http_proxy.image, "km-http-proxy:latest") << n;
    EXPECT_EQ(s.sidecars.audit_log.image, "km-audit-log:latest") << n;
    EXPECT_EQ(s.sidecars.tracing.image, "km-tracing:latest") << n;
    EXPECT_EQ(s.observability.command_log.destination, "cloudwatch") << n;
    EXPECT_EQ(s.observability.command_log.log_group.value_or(""), "/klanker-maker/sandboxes") << n;
    EXPECT_EQ(s.observability.network_log.log_group.value_or(""), "/klanker-maker/network") << n;
  }
}

TEST(BuiltinsTest, SealedHasNoSuffixesAndNoHosts) {
  Loaded l = loadBuiltin("sealed");
  EXPECT_TRUE(l.profile.spec.network.egress.allowed_dns_suffixes.empty());
  EXPECT_TRUE(l.profile.spec.network.egress.allowed_hosts.empty());
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.micro");
}

TEST(BuiltinsTest, RuntimeAndPrefixesMatchUpstreamTable) {
  struct Want {
    const char* name;
    const char* instance;
    bool spot;
    const char* prefix;  // "" = not written (sb by default)
    const char* enforcement;
  };
  const Want wants[] = {
      {"open-dev", "t3.medium", true, "", "proxy"},
      {"restricted-dev", "t3.medium", true, "", "proxy"},
      {"hardened", "t3.small", true, "", "proxy"},
      {"sealed", "t3.micro", true, "", "proxy"},
      {"goose", "t3.medium", false, "gebpfgk", "both"},
      {"ao", "t3.large", true, "ao", "both"},
      {"codex", "t3.medium", true, "codex", "proxy"},
      {"learn", "t3.large", false, "learn", "both"},
  };
  for (const auto& w : wants) {
    const Profile p = withDefaults(loadBuiltin(w.name).profile);
    EXPECT_EQ(p.spec.runtime.instance_type, w.instance) << w.name;
    EXPECT_EQ(p.spec.runtime.spot.value_or(false), w.spot) << w.name;
    EXPECT_EQ(p.metadata.prefix.value_or("?"), *w.prefix ? w.prefix : "sb") << w.name;
    EXPECT_EQ(p.spec.network.enforcement.value_or("?"), w.enforcement) << w.name;
  }
}

TEST(BuiltinsTest, GooseBudgetAndEmailMatchUpstream) {
  const Spec s = loadBuiltin("goose").profile.spec;
  ASSERT_TRUE(s.budget && s.budget->compute && s.budget->ai);
  EXPECT_EQ(s.budget->compute->max_spend_usd.micros, 500'000);
  EXPECT_EQ(s.budget->ai->max_spend_usd.micros, 1'000'000);
  ASSERT_TRUE(s.email);
  EXPECT_EQ(s.email->signing.value_or(""), "required");
  EXPECT_THAT(s.email->allowed_senders, ElementsAre("self"));
}

// --- withDefaults ------------------------------------------------------------------------

TEST(WithDefaultsTest, FillsUpstreamCodeDefaults) {
  Loaded l = loadText(kMinimal, "minimal.yaml", {});
  ASSERT_TRUE(l.ok()) << allMessages(l);
  ASSERT_FALSE(l.profile.spec.network.enforcement.has_value());
  const Profile p = withDefaults(l.profile);
  EXPECT_EQ(p.spec.network.enforcement.value_or(""), "proxy");
  EXPECT_EQ(p.metadata.prefix.value_or(""), "sb");
  ASSERT_TRUE(p.spec.runtime.vscode.has_value());
  EXPECT_EQ(p.spec.runtime.vscode->enabled, true);
  ASSERT_TRUE(p.spec.agent.has_value());
  EXPECT_EQ(p.spec.agent->default_agent.value_or(""), "claude");
  EXPECT_FALSE(p.spec.budget.has_value());  // no budget is not turned into a zero budget
  EXPECT_THAT(p.spec.execution.init_commands, ElementsAre("a", "b", "c"));
  EXPECT_TRUE(p.spec.execution.init_commands_append.empty());
}

TEST(WithDefaultsTest, WarningThresholdDefaultsWhereBudgetPresent) {
  std::string text(kMinimal);
  text += "  budget:\n    compute: {maxSpendUSD: 1}\n    ai: {maxSpendUSD: 2}\n";
  Loaded l = loadText(text, "budget.yaml", {});
  ASSERT_TRUE(l.ok()) << allMessages(l);
  const Profile p = withDefaults(l.profile);
  ASSERT_TRUE(p.spec.budget && p.spec.budget->warning_threshold);
  EXPECT_EQ(p.spec.budget->warning_threshold->ppm, 800'000);

  // 0 means "use the default", as upstream.
  Loaded zero = loadText(text + "    warningThreshold: 0\n", "zero.yaml", {});
  ASSERT_TRUE(zero.ok()) << allMessages(zero);
  EXPECT_EQ(withDefaults(zero.profile).spec.budget->warning_threshold->ppm, 800'000);
}

TEST(WithDefaultsTest, KeepsWrittenValues) {
  std::string text(kMinimal);
  text.replace(text.find("metadata: {name: minimal}"), 25,
               "metadata: {name: minimal, prefix: dev}");
  text.replace(text.find("network: {egress"), 16, "network: {enforcement: ebpf, egress");
  text +=
      "  budget:\n    compute: {maxSpendUSD: 1}\n    ai: {maxSpendUSD: 2}\n    warningThreshold: "
      "0.5\n";
  text.replace(text.find("region: us-east-1}"), 18, "region: us-east-1, vscode: {enabled: false}}");
  Loaded l = loadText(text, "written.yaml", {});
  ASSERT_TRUE(l.ok()) << allMessages(l);
  const Profile p = withDefaults(l.profile);
  EXPECT_EQ(p.metadata.prefix.value_or(""), "dev");
  EXPECT_EQ(p.spec.network.enforcement.value_or(""), "ebpf");
  EXPECT_EQ(p.spec.budget->warning_threshold->ppm, 500'000);
  EXPECT_EQ(p.spec.runtime.vscode->enabled, false);
}

TEST(WithDefaultsTest, BuiltinsGetEnforcementPrefixVscodeAndThreshold) {
  for (const auto& n : builtinNames()) {
    const Profile p = withDefaults(loadBuiltin(n).profile);
    EXPECT_TRUE(p.spec.network.enforcement.has_value()) << n;
    EXPECT_TRUE(p.metadata.prefix.has_value()) << n;
    ASSERT_TRUE(p.spec.runtime.vscode.has_value()) << n;
    EXPECT_EQ(p.spec.runtime.vscode->enabled, true) << n;
    if (p.spec.budget) {
      ASSERT_TRUE(p.spec.budget->warning_threshold.has_value()) << n;
      EXPECT_EQ(p.spec.budget->warning_threshold->ppm, 800'000) << n;
    }
  }
  // sealed writes no prefix and no budget.
  const Profile sealed = withDefaults(loadBuiltin("sealed").profile);
  EXPECT_EQ(sealed.metadata.prefix.value_or(""), "sb");
  EXPECT_FALSE(sealed.spec.budget.has_value());
}

TEST(WithDefaultsTest, IsIdempotent) {
  for (const auto& n : builtinNames()) {
    const Profile once = withDefaults(loadBuiltin(n).profile);
    const Profile twice = withDefaults(once);
    EXPECT_TRUE(toNode(once).sameValue(toNode(twice))) << n;
  }
}

}  // namespace
}  // namespace km::profile
