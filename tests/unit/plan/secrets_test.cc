// Masked secrets in the plan: bound names become sentinels in the env and masked secrets with
// their hosts and values; the operator's secrets reach every sandbox with the proxy unless the
// profile defines the name; the bundle joins the env; bad bindings fail with the reason. The
// printed plan never holds a value, and the plan document keeps everything.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "plan/compile_steps.h"
#include "plan/plan.h"
#include "unit/plan/plan_fixtures.h"

namespace km::plan {
namespace {

using test::optionsWithId;

// The profile loaded and defaulted; warnings (a binding of a name the profile lacks) allowed.
profile::Profile profileFrom(std::string_view yaml) {
  profile::Loaded l = profile::loadText(yaml, "test.yaml", {});
  EXPECT_TRUE(l.ok()) << yaml;
  return profile::withDefaults(l.profile);
}

std::string profileYaml(const std::string& enforcement, const std::string& hosts) {
  return R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: s, prefix: sx}
spec:
  lifecycle: {ttl: 1h, idleTimeout: 30m, teardownPolicy: destroy}
  runtime: {substrate: local, instanceType: t3.small, region: us-east-1}
  execution:
    shell: /bin/bash
    workingDir: /workspace
    env: {MYKEY: real-my, PLAIN: visible}
  sourceAccess: {mode: none}
  network:
    enforcement: )" + enforcement + R"(
    egress: {allowedDNSSuffixes: [], allowedHosts: [api.example.com]}
  iam: {roleSessionDuration: 1h, allowedRegions: [us-east-1]}
  sidecars:
    dnsProxy: {enabled: true, image: d}
    httpProxy: {enabled: true, image: h}
    auditLog: {enabled: true, image: a}
    tracing: {enabled: true, image: t}
  observability:
    commandLog: {destination: stdout}
    networkLog: {destination: stdout}
  secrets:
    hosts: )" + hosts + "\n";
}

std::string envOf(const SandboxPlan& p, const std::string& name) {
  for (const auto& [k, v] : p.env) {
    if (k == name) return v;
  }
  return "(unset)";
}

TEST(MaskSecretsTest, ABoundEnvValueBecomesASentinel) {
  auto plan = compile(profileFrom(profileYaml("proxy", "{MYKEY: [api.example.com]}")), optionsWithId());
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->secrets.size(), 1u);
  const MaskedSecret& s = plan->secrets[0];
  EXPECT_EQ(s.name, "MYKEY");
  EXPECT_EQ(s.value, "real-my");
  EXPECT_EQ(s.hosts, std::vector<std::string>{"api.example.com"});
  EXPECT_TRUE(s.file.empty());
  EXPECT_TRUE(s.sentinel.starts_with("km-sentinel-")) << s.sentinel;
  EXPECT_EQ(s.sentinel.size(), std::string("km-sentinel-").size() + 32);
  EXPECT_EQ(envOf(*plan, "MYKEY"), s.sentinel);
  EXPECT_EQ(envOf(*plan, "PLAIN"), "visible");
  // The secret's host is intercepted (the proxy must read its requests).
  EXPECT_TRUE(plan->network.interceptHosts().allows("api.example.com"));
  // Printed: no value; stored: all of it.
  SandboxPlan shown = withoutSecretValues(*plan);
  EXPECT_EQ(shown.secrets[0].value, "(hidden)");
  EXPECT_EQ(toJson(shown).find("real-my"), std::string::npos);
  auto back = fromJson(toJson(*plan), "test");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->secrets[0].value, "real-my");
  EXPECT_EQ(back->secrets[0].sentinel, s.sentinel);
  EXPECT_EQ(back->network.secret_hosts, std::vector<std::string>{"api.example.com"});
}

TEST(MaskSecretsTest, SentinelsDifferPerSandboxAndKeepKnownPrefixes) {
  EXPECT_NE(newSentinel(""), newSentinel(""));
  EXPECT_TRUE(newSentinel("sk-ant-api03-xyz").starts_with("sk-ant-km-sentinel-"));
  EXPECT_TRUE(newSentinel("sk-proj-xyz").starts_with("sk-proj-km-sentinel-"));
  EXPECT_TRUE(newSentinel("ghp_xyz").starts_with("ghp_km-sentinel-"));
  EXPECT_TRUE(newSentinel("secret").starts_with("km-sentinel-"));
  EXPECT_EQ(knownKeyPrefix("sk-ant-api03-abc"), "sk-ant-");
  EXPECT_EQ(knownKeyPrefix("github_pat_x"), "github_pat_");
  EXPECT_EQ(knownKeyPrefix("hunter2"), "");
}

TEST(MaskSecretsTest, OperatorSecretsReachSandboxesThatDoNotDefineTheName) {
  CompileOptions o = optionsWithId();
  o.operator_secrets = {{"ANTHROPIC_API_KEY", "/root/.km/a.key", {"api.anthropic.com"}, "sk-ant-"},
                        {"PLAIN", "/root/.km/p.key", {"x.example.com"}, ""}};
  auto plan = compile(profileFrom(profileYaml("proxy", "{}")), o);
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->secrets.size(), 1u);  // PLAIN is the profile's own
  EXPECT_EQ(plan->secrets[0].file, "/root/.km/a.key");
  EXPECT_TRUE(plan->secrets[0].value.empty());
  EXPECT_TRUE(envOf(*plan, "ANTHROPIC_API_KEY").starts_with("sk-ant-km-sentinel-"));
  EXPECT_EQ(envOf(*plan, "PLAIN"), "visible");
  // Without the proxy, nothing could swap the sentinel: the operator's secrets are not given.
  auto ebpf = compile(profileFrom(profileYaml("ebpf", "{}")), o);
  ASSERT_TRUE(ebpf) << ebpf.error().message();
  EXPECT_TRUE(ebpf->secrets.empty());
  EXPECT_EQ(envOf(*ebpf, "ANTHROPIC_API_KEY"), "(unset)");
}

TEST(MaskSecretsTest, TheBundleJoinsTheEnvAndMayBeBound) {
  CompileOptions o = optionsWithId();
  o.bundle = {{"OPENAI_API_KEY", "sk-proj-real"}, {"DB_URL", "postgres://x"}};
  auto plan = compile(profileFrom(profileYaml("both", "{OPENAI_API_KEY: [api.openai.com]}")), o);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(envOf(*plan, "DB_URL"), "postgres://x");  // unbound: as upstream
  EXPECT_TRUE(envOf(*plan, "OPENAI_API_KEY").starts_with("sk-proj-km-sentinel-"));
  ASSERT_EQ(plan->secrets.size(), 1u);
  EXPECT_EQ(plan->secrets[0].value, "sk-proj-real");
}

TEST(MaskSecretsTest, BadBindingsFailSayingWhy) {
  auto undefined = compile(profileFrom(profileYaml("proxy", "{NOPE: [api.example.com]}")), optionsWithId());
  ASSERT_FALSE(undefined);
  EXPECT_NE(undefined.error().message().find("NOPE is defined neither in spec.execution.env nor in the sopsFile"),
            std::string::npos);
  CompileOptions o = optionsWithId();
  o.operator_secrets = {{"OPKEY", "/root/.km/o", {"api.example.com"}, ""}};
  auto rebound = compile(profileFrom(profileYaml("proxy", "{OPKEY: [evil.example]}")), o);
  ASSERT_FALSE(rebound);
  EXPECT_NE(rebound.error().message().find("OPKEY is the operator's secret"), std::string::npos);
  auto ebpf = compile(profileFrom(profileYaml("ebpf", "{MYKEY: [api.example.com]}")), optionsWithId());
  ASSERT_FALSE(ebpf);
  EXPECT_NE(ebpf.error().message().find("need the proxy"), std::string::npos);
  CompileOptions twice = optionsWithId();
  twice.bundle = {{"MYKEY", "other"}};
  auto dup = compile(profileFrom(profileYaml("proxy", "{}")), twice);
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("MYKEY is defined by both"), std::string::npos);
}

TEST(SourcePlanTest, CarriesTheAllowlistsAndTheOperatorsGithubSettings) {
  std::string yaml = profileYaml("proxy", "{}");
  size_t at = yaml.find("  sourceAccess: {mode: none}");
  yaml.replace(at, std::string("  sourceAccess: {mode: none}").size(),
               "  sourceAccess:\n    mode: allowlist\n    github: {allowedRepos: [o/r], allowedRefs: [main], allowRefDeletion: true}");
  CompileOptions o = optionsWithId();
  o.github.api_url = "https://api.github.com";
  o.github.app_id = 42;
  o.github.private_key_file = "/root/.km/app.pem";
  o.github.installations = {{"o", 7}};
  auto plan = compile(profileFrom(yaml), o);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->source.enforced);
  EXPECT_EQ(plan->source.allowed_repos, std::vector<std::string>{"o/r"});
  EXPECT_EQ(plan->source.allowed_refs, std::vector<std::string>{"main"});
  EXPECT_TRUE(plan->source.allow_ref_deletion);
  EXPECT_EQ(plan->source.app_id, 42);
  EXPECT_TRUE(plan->network.github_allowed);
  EXPECT_TRUE(plan->network.hostPolicy().allows("github.com"));  // reachable, filtered
  auto back = fromJson(toJson(*plan), "test");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->source.installations.size(), 1u);
  EXPECT_EQ(back->source.installations[0].owner, "o");
  EXPECT_EQ(back->source.private_key_file, "/root/.km/app.pem");
  // mode none: nothing enforced, GitHub not made reachable.
  auto none = compile(profileFrom(profileYaml("proxy", "{}")), o);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->source.enforced);
  EXPECT_FALSE(none->network.hostPolicy().allows("github.com"));
}

}  // namespace
}  // namespace km::plan
