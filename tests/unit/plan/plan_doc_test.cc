// A plan as a document: fixed camelCase keys, exact round trips through Node, JSON and YAML,
// and a strict reader that refuses anything km did not write.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doc/json_io.h"
#include "doc/yaml_io.h"
#include "plan/plan.h"
#include "unit/plan/plan_fixtures.h"

namespace km::plan {
namespace {

using doc::Node;

SandboxPlan fullPlan() {
  SandboxPlan p;
  p.id = "sb-0123abcd";
  p.alias = "my-box";
  p.profile_name = "open-dev";
  p.hostname = p.id;
  p.substrate = Substrate::kLocal;
  p.requested_substrate = "ec2";
  p.substrate_note = "profile asks for ec2 (not configured here); running on local";
  p.region = "us-east-1";
  p.instance_type = "t3.medium";
  p.ttl_seconds = 14400;
  p.idle_timeout_seconds = 3600;
  p.teardown_policy = TeardownPolicy::kDestroy;
  p.resources.cpu_millis = 500;
  p.resources.memory_bytes = int64_t{1} << 33;
  p.resources.pids = 4096;
  p.resources.disk_bytes = int64_t{20} << 30;
  p.resources.source = "spec.runtime.resources (cpus), instanceType t3.medium";
  p.resources.disk_source = "spec.runtime.rootVolumeSize";
  p.resources.volume_mount = "/data";
  p.resources.volume_bytes = int64_t{1} << 30;
  p.logs.max_file_bytes = 1 << 20;
  p.logs.max_files = 3;
  p.user = "sandbox";
  p.shell = "/bin/bash";
  p.working_dir = "/workspace";
  p.env = {{"ZED", "1"}, {"ALPHA", "true"}, {"EMPTY", ""}};
  p.config_files = {{"/etc/a.conf", "line 1\nline 2\n"}, {"/home/sandbox/.b", "123"}};
  p.init_commands = {"echo one", "null", "42"};
  net::NetworkPolicyText policy;
  policy.enforcement = "both";
  policy.allowed_dns_suffixes = {".example.com", "*"};
  policy.allowed_hosts = {"api.example.com"};
  policy.dns_upstreams = {"192.0.2.53:53", "[2001:db8::53]:53"};
  policy.subnet_pool = "10.213.0.0/16";
  policy.allowed_cidrs = {"10.20.0.0/16"};
  policy.ai_endpoints = {"llm.internal"};
  p.network = *net::NetworkSpec::compile(policy);
  p.budget = {2'500'000, 700'000, 650'000, 41'600, "t3.medium on-demand"};
  p.hibernation = true;
  p.metering.endpoints = {{"llm.internal", "anthropic"}, {"gw.example", "openai"}};
  p.metering.pricing_yaml = "anthropic:\n  m: {input: 1}\n";
  p.metering.pricing_origin = "/etc/km/prices.yaml";
  p.metering.bedrock_credentials_file = "/root/.aws/credentials";
  p.metering.bedrock_profile = "km";
  p.source.enforced = true;
  p.source.allowed_repos = {"o/r", "team/*"};
  p.source.allowed_refs = {"main"};
  p.source.allow_ref_deletion = true;
  p.source.api_url = "https://github.example/api/v3";
  p.source.app_id = 42;
  p.source.private_key_file = "/root/.km/app.pem";
  p.source.installations = {{"o", 7}, {"team", 8}};
  p.secrets = {{"MYKEY", "km-sentinel-00", {"api.example.com"}, "", "real"},
               {"OPKEY", "sk-km-sentinel-11", {"a.example", "b.example"}, "/root/.km/op", ""}};
  p.quotas = {{"github_pr", -1, 3, 10, "block"}, {"github_comment", 5, -1, -1, "warn"}};
  p.image = {"localhost/tools:latest", "sha256:" + std::string(64, 'b'),
             {"sha256:" + std::string(64, 'c'), "local:" + std::string(32, 'd')}, true, "--image", "Debian GNU/Linux 12"};
  return p;
}

void expectSame(const SandboxPlan& a, const SandboxPlan& b) {
  EXPECT_EQ(doc::toJson(toNode(a)), doc::toJson(toNode(b)));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.alias, b.alias);
  EXPECT_EQ(a.resources.cpu_millis, b.resources.cpu_millis);
  EXPECT_EQ(a.resources.memory_bytes, b.resources.memory_bytes);
  EXPECT_EQ(a.resources.source, b.resources.source);
  EXPECT_EQ(a.resources.disk_bytes, b.resources.disk_bytes);
  EXPECT_EQ(a.resources.disk_source, b.resources.disk_source);
  EXPECT_EQ(a.resources.volume_mount, b.resources.volume_mount);
  EXPECT_EQ(a.resources.volume_bytes, b.resources.volume_bytes);
  EXPECT_EQ(a.logs.max_file_bytes, b.logs.max_file_bytes);
  EXPECT_EQ(a.logs.max_files, b.logs.max_files);
  EXPECT_EQ(a.env, b.env);
  ASSERT_EQ(a.config_files.size(), b.config_files.size());
  for (size_t i = 0; i < a.config_files.size(); ++i) {
    EXPECT_EQ(a.config_files[i].path, b.config_files[i].path);
    EXPECT_EQ(a.config_files[i].content, b.config_files[i].content);
  }
  EXPECT_EQ(a.init_commands, b.init_commands);
  EXPECT_EQ(a.network.enforcement, b.network.enforcement);
  EXPECT_EQ(a.network.allowed_dns_suffixes, b.network.allowed_dns_suffixes);
  EXPECT_EQ(a.network.allowed_hosts, b.network.allowed_hosts);
  net::NetworkPolicyText at = a.network.text(), bt = b.network.text();
  EXPECT_EQ(at.dns_upstreams, bt.dns_upstreams);
  EXPECT_EQ(at.subnet_pool, bt.subnet_pool);
  EXPECT_EQ(at.allowed_cidrs, bt.allowed_cidrs);
  EXPECT_EQ(a.network.ai_endpoints, b.network.ai_endpoints);
  EXPECT_EQ(a.budget.ai_limit, b.budget.ai_limit);
  EXPECT_EQ(a.budget.compute_limit, b.budget.compute_limit);
  EXPECT_EQ(a.budget.warning_threshold, b.budget.warning_threshold);
  ASSERT_EQ(a.metering.endpoints.size(), b.metering.endpoints.size());
  for (size_t i = 0; i < a.metering.endpoints.size(); ++i) {
    EXPECT_EQ(a.metering.endpoints[i].host, b.metering.endpoints[i].host);
    EXPECT_EQ(a.metering.endpoints[i].provider, b.metering.endpoints[i].provider);
  }
  EXPECT_EQ(a.metering.pricing_yaml, b.metering.pricing_yaml);
  EXPECT_EQ(a.metering.pricing_origin, b.metering.pricing_origin);
  EXPECT_EQ(a.metering.bedrock_credentials_file, b.metering.bedrock_credentials_file);
  EXPECT_EQ(a.metering.bedrock_profile, b.metering.bedrock_profile);
  EXPECT_EQ(a.source.enforced, b.source.enforced);
  EXPECT_EQ(a.source.allowed_repos, b.source.allowed_repos);
  EXPECT_EQ(a.source.allowed_refs, b.source.allowed_refs);
  EXPECT_EQ(a.source.allow_ref_deletion, b.source.allow_ref_deletion);
  EXPECT_EQ(a.source.api_url, b.source.api_url);
  EXPECT_EQ(a.source.app_id, b.source.app_id);
  EXPECT_EQ(a.source.private_key_file, b.source.private_key_file);
  EXPECT_EQ(a.source.token_file, b.source.token_file);
  ASSERT_EQ(a.source.installations.size(), b.source.installations.size());
  for (size_t i = 0; i < a.source.installations.size(); ++i) {
    EXPECT_EQ(a.source.installations[i].owner, b.source.installations[i].owner);
    EXPECT_EQ(a.source.installations[i].id, b.source.installations[i].id);
  }
  ASSERT_EQ(a.secrets.size(), b.secrets.size());
  for (size_t i = 0; i < a.secrets.size(); ++i) {
    EXPECT_EQ(a.secrets[i].name, b.secrets[i].name);
    EXPECT_EQ(a.secrets[i].sentinel, b.secrets[i].sentinel);
    EXPECT_EQ(a.secrets[i].hosts, b.secrets[i].hosts);
    EXPECT_EQ(a.secrets[i].file, b.secrets[i].file);
    EXPECT_EQ(a.secrets[i].value, b.secrets[i].value);
  }
  ASSERT_EQ(a.quotas.size(), b.quotas.size());
  for (size_t i = 0; i < a.quotas.size(); ++i) {
    EXPECT_EQ(a.quotas[i].action, b.quotas[i].action);
    EXPECT_EQ(a.quotas[i].lifetime, b.quotas[i].lifetime);
    EXPECT_EQ(a.quotas[i].per_hour, b.quotas[i].per_hour);
    EXPECT_EQ(a.quotas[i].per_day, b.quotas[i].per_day);
    EXPECT_EQ(a.quotas[i].on_breach, b.quotas[i].on_breach);
  }
  EXPECT_EQ(a.image.name, b.image.name);
  EXPECT_EQ(a.image.id, b.image.id);
  EXPECT_EQ(a.image.layers, b.image.layers);
  EXPECT_EQ(a.image.on_host, b.image.on_host);
  EXPECT_EQ(a.image.why, b.image.why);
  EXPECT_EQ(a.image.os, b.image.os);
}

TEST(PlanDocTest, KeysAreCamelCaseInAFixedOrder) {
  Node n = toNode(fullPlan());
  std::vector<std::string> keys;
  for (const auto& e : n.entries()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "planVersion", "id", "alias", "profileName", "hostname", "substrate", "requestedSubstrate",
                      "substrateNote", "region", "instanceType", "ttlSeconds", "idleTimeoutSeconds",
                      "teardownPolicy", "hibernation", "resources", "user", "shell", "workingDir", "env", "configFiles",
                      "initCommands", "enforcement", "allowedDNSSuffixes", "allowedHosts", "dnsUpstreams",
                      "subnetPool", "allowedCIDRs", "aiEndpoints", "httpsOnly", "aiProviders", "proxyPorts", "interceptGitHub", "gitHubAllowed", "secretHosts", "tlsExtraCAFile", "logs",
                      "budget", "metering", "source", "secrets", "quotas", "image"}));
  std::vector<std::string> resource_keys;
  for (const auto& e : n.find("resources")->entries()) resource_keys.push_back(e.key);
  EXPECT_EQ(resource_keys, (std::vector<std::string>{"cpuMillis", "memoryBytes", "pids", "diskBytes", "source",
                                                     "diskSource", "volumeMount", "volumeBytes"}));
  EXPECT_EQ(n.find("planVersion")->text(), "10");
  EXPECT_EQ(n.find("resources")->find("memoryBytes")->kind(), Node::Kind::kInt);
  EXPECT_EQ(n.find("env")->entries().front().key, "ZED");  // order kept
}

TEST(PlanDocTest, RoundTripsThroughNodeJsonAndYaml) {
  SandboxPlan p = fullPlan();
  auto direct = fromNode(toNode(p));
  ASSERT_TRUE(direct.has_value()) << direct.error().message();
  expectSame(p, *direct);

  Node from_json;
  std::string error;
  ASSERT_TRUE(doc::parseJson(doc::toJson(toNode(p)), from_json, &error)) << error;
  auto via_json = fromNode(from_json);
  ASSERT_TRUE(via_json.has_value()) << via_json.error().message();
  expectSame(p, *via_json);

  Node from_yaml;
  doc::Diagnostics diags;
  ASSERT_TRUE(doc::parseYaml(doc::emitYaml(toNode(p)), "plan.yaml", from_yaml, diags));
  auto via_yaml = fromNode(from_yaml);
  ASSERT_TRUE(via_yaml.has_value()) << via_yaml.error().message();
  expectSame(p, *via_yaml);
}

TEST(PlanDocTest, JsonCodecRoundTripsEveryPolicyAndNamesWhatFailed) {
  for (TeardownPolicy t : {TeardownPolicy::kDestroy, TeardownPolicy::kStop, TeardownPolicy::kRetain}) {
    SandboxPlan p = fullPlan();
    p.teardown_policy = t;
    std::string text = toJson(p);
    EXPECT_EQ(text.find('\n'), std::string::npos);
    auto back = fromJson(text, "the plan file");
    ASSERT_TRUE(back.has_value()) << back.error().message();
    expectSame(p, *back);
    EXPECT_EQ(back->teardown_policy, t);
  }
  auto bad = fromJson("{\"planVersion\": 2", "the stored plan of sb-1");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message().rfind("the stored plan of sb-1 is not JSON", 0), 0u) << bad.error().message();
  std::string text = toJson(fullPlan());
  size_t at = text.find("\"destroy\"");
  ASSERT_NE(at, std::string::npos);
  auto wrong = fromJson(text.replace(at, 9, "\"explode\""), "plan.json");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message().find("plan.json: teardownPolicy: 'explode'"), std::string::npos)
      << wrong.error().message();
  text = toJson(fullPlan());
  at = text.find("\"local\"", text.find("\"substrate\":"));
  ASSERT_NE(at, std::string::npos) << text;
  auto moon = fromJson(text.replace(at, 7, "\"moon\""), "plan.json");
  ASSERT_FALSE(moon.has_value());
  EXPECT_NE(moon.error().message().find("plan.json: substrate: 'moon' is not local, docker, ec2 or ecs"),
            std::string::npos)
      << moon.error().message();
}

TEST(PlanDocTest, SubstrateNamesRoundTrip) {
  for (Substrate k : {Substrate::kLocal, Substrate::kDocker, Substrate::kEc2, Substrate::kEcs}) {
    EXPECT_EQ(parseSubstrate(substrateName(k)), k) << substrateName(k);
  }
  EXPECT_EQ(parseSubstrate("EC2"), std::nullopt);
  EXPECT_EQ(parseSubstrate(""), std::nullopt);
}

TEST(PlanDocTest, AbsentAliasIsNullAndReadsBackAbsent) {
  SandboxPlan p = fullPlan();
  p.alias.reset();
  Node n = toNode(p);
  EXPECT_TRUE(n.find("alias")->isNull());
  auto back = fromNode(n);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_FALSE(back->alias);
}

TEST(PlanDocTest, CompiledBuiltinRoundTrips) {
  auto loaded = profile::load("goose", {});
  ASSERT_TRUE(loaded.has_value());
  auto plan = compile(profile::withDefaults(loaded->profile), test::optionsWithId("gebpfgk-00000001"));
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  auto back = fromNode(toNode(*plan));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  expectSame(*plan, *back);
}

// toNode(fullPlan()) with one change made by `edit`.
Node edited(void (*edit)(Node&)) {
  Node n = toNode(fullPlan());
  edit(n);
  return n;
}

void expectRefused(const Node& n, const std::string& message) {
  auto plan = fromNode(n);
  ASSERT_FALSE(plan.has_value()) << "accepted; expected: " << message;
  EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(plan.error().message(), message);
}

TEST(PlanDocTest, RefusesGarbage) {
  expectRefused(Node::string("hello"), "not a plan this build wrote: the document: expected a mapping, got a string");
  expectRefused(Node::seq(), "not a plan this build wrote: the document: expected a mapping, got a list");
  expectRefused(Node::map(), "not a plan this build wrote: planVersion: missing");
  Node json;
  ASSERT_TRUE(doc::parseJson(R"({"planVersion": 10, "id": "sb-1"})", json, nullptr));
  expectRefused(json, "not a plan this build wrote: alias: missing");
}

TEST(PlanDocTest, RefusesOtherVersionsUnknownKeysAndWrongTypes) {
  expectRefused(edited([](Node& n) { n.set("planVersion", Node::integer(1)); }),
                "not a plan this build wrote: planVersion 1 (this build reads 10)");
  expectRefused(edited([](Node& n) { n.set("planVersion", Node::string("4")); }),
                "not a plan this build wrote: planVersion: expected a whole number, got a string");
  expectRefused(edited([](Node& n) { n.set("extra", Node::boolean(true)); }),
                "not a plan this build wrote: extra: unknown field");
  expectRefused(edited([](Node& n) { n.erase("hostname"); }), "not a plan this build wrote: hostname: missing");
  expectRefused(edited([](Node& n) { n.set("id", Node::integer(7)); }),
                "not a plan this build wrote: id: expected a string, got a whole number");
  expectRefused(edited([](Node& n) { n.set("alias", Node::seq()); }),
                "not a plan this build wrote: alias: expected a string or null, got a list");
  expectRefused(edited([](Node& n) { n.set("ttlSeconds", Node::integer(-5)); }),
                "not a plan this build wrote: ttlSeconds: expected a whole number ≥ 0, got -5");
  expectRefused(edited([](Node& n) { n.set("ttlSeconds", Node::number("1.5")); }),
                "not a plan this build wrote: ttlSeconds: expected a whole number, got a number");
  expectRefused(edited([](Node& n) { n.set("resources", Node::string("big")); }),
                "not a plan this build wrote: resources: expected a mapping, got a string");
  expectRefused(edited([](Node& n) { n.find("resources")->set("gpus", Node::integer(1)); }),
                "not a plan this build wrote: resources.gpus: unknown field");
  expectRefused(edited([](Node& n) { n.find("resources")->erase("pids"); }),
                "not a plan this build wrote: resources.pids: missing");
  expectRefused(edited([](Node& n) { n.find("env")->set("N", Node::integer(1)); }),
                "not a plan this build wrote: env.N: expected a string, got a whole number");
  expectRefused(edited([](Node& n) { n.find("configFiles")->items()[1] = Node::string("/etc/x"); }),
                "not a plan this build wrote: configFiles[1]: expected a mapping, got a string");
  expectRefused(edited([](Node& n) { n.find("configFiles")->items()[0].set("mode", Node::string("0600")); }),
                "not a plan this build wrote: configFiles[0].mode: unknown field");
  expectRefused(edited([](Node& n) { n.find("initCommands")->items()[2] = Node::integer(42); }),
                "not a plan this build wrote: initCommands[2]: expected a string, got a whole number");
  expectRefused(edited([](Node& n) { n.set("allowedHosts", Node::string("*")); }),
                "not a plan this build wrote: allowedHosts: expected a list, got a string");
}

}  // namespace
}  // namespace km::plan
