// Upstream's reference profiles (../shared/reference/profiles): the built-ins and the
// Phase 120 library (abstract base fragments + leaves that extend them) must all load
// cleanly, and resolved leaves must hold exactly what their bases and overrides say.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "doc/yaml_io.h"
#include "profile/profile.h"
#include "support/temp_dir.h"
#include "support/test_paths.h"

namespace km::profile {
namespace {

namespace stdfs = std::filesystem;
using km::test::referenceProfiles;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::string library() { return referenceProfiles() + "/library"; }

std::string allMessages(const Loaded& l) {
  std::string out;
  for (const auto& d : l.diagnostics.all()) out += d.format() + "\n";
  return out;
}

// *.yaml directly in `dir` (recursive: also below it), sorted.
std::vector<std::string> yamlFiles(const std::string& dir, bool recursive) {
  std::vector<std::string> out;
  auto take = [&](const stdfs::directory_entry& e) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") out.push_back(e.path().string());
  };
  if (recursive) {
    for (const auto& e : stdfs::recursive_directory_iterator(dir)) take(e);
  } else {
    for (const auto& e : stdfs::directory_iterator(dir)) take(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Loaded loadLibrary(const std::string& file) {
  auto l = load(file, {.search_paths = {library()}});
  EXPECT_TRUE(l.has_value()) << file;
  return l ? std::move(*l) : Loaded{};
}

// The list at spec.<dotted> of a library file as written (no resolution).
std::vector<std::string> writtenList(const std::string& rel, const std::string& dotted) {
  std::ifstream in(library() + "/" + rel);
  std::stringstream text;
  text << in.rdbuf();
  doc::Node root;
  doc::Diagnostics d;
  EXPECT_TRUE(doc::parseYaml(text.str(), rel, root, d)) << rel;
  const doc::Node* n = root.find("spec");
  std::stringstream keys(dotted);
  for (std::string key; n && std::getline(keys, key, '.');) n = n->isMap() ? n->find(key) : nullptr;
  std::vector<std::string> out;
  if (n)
    for (const auto& i : n->items()) out.push_back(i.text());
  return out;
}

// a ++ b without later duplicates (upstream's concatDedup).
std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  for (const auto& s : b)
    if (std::find(a.begin(), a.end(), s) == a.end()) a.push_back(s);
  return a;
}

std::string envValue(const Profile& p, const std::string& key) {
  for (const auto& [k, v] : p.spec.execution.env)
    if (k == key) return v;
  return "<unset>";
}

TEST(ReferenceProfilesTest, EveryUpstreamBuiltinFileValidates) {
  KM_SKIP_WITHOUT_SHARED();
  std::vector<std::string> files = yamlFiles(referenceProfiles() + "/builtins", false);
  ASSERT_EQ(files.size(), 8u);
  for (const auto& f : files) {
    auto l = load(f, {});
    ASSERT_TRUE(l.has_value()) << f;
    EXPECT_EQ(l->diagnostics.errorCount(), 0u) << f << ":\n" << allMessages(*l);
    EXPECT_FALSE(l->abstract) << f;
  }
}

TEST(ReferenceProfilesTest, EveryLibraryLeafValidatesWithLibraryOnSearchPath) {
  KM_SKIP_WITHOUT_SHARED();
  std::vector<std::string> files = yamlFiles(library(), false);
  ASSERT_EQ(files.size(), 15u);  // learner desktop github h1 spot + 10 gpu leaves
  for (const auto& f : files) {
    Loaded l = loadLibrary(f);
    EXPECT_FALSE(l.abstract) << f;
    EXPECT_EQ(l.diagnostics.errorCount(), 0u) << f << ":\n" << allMessages(l);
    EXPECT_EQ(l.document.find("extends"), nullptr) << f;
  }
}

TEST(ReferenceProfilesTest, LibraryLeavesAlsoResolveFromTheirOwnDirectoryAlone) {
  KM_SKIP_WITHOUT_SHARED();
  // The declaring file's directory is searched first, so no search path is needed.
  for (const auto& f : yamlFiles(library(), false)) {
    auto l = load(f, {});
    ASSERT_TRUE(l.has_value()) << f;
    EXPECT_EQ(l->diagnostics.errorCount(), 0u) << f << ":\n" << allMessages(*l);
  }
}

TEST(ReferenceProfilesTest, BaseFragmentsLoadAsAbstract) {
  KM_SKIP_WITHOUT_SHARED();
  std::vector<std::string> files = yamlFiles(library() + "/base", true);
  ASSERT_EQ(files.size(), 8u);
  for (const auto& f : files) {
    Loaded l = loadLibrary(f);
    EXPECT_TRUE(l.abstract) << f;
    EXPECT_EQ(l.diagnostics.errorCount(), 0u) << f << ":\n" << allMessages(l);
  }
}

TEST(ReferenceProfilesTest, LibraryLeavesByNameThroughSearchPath) {
  KM_SKIP_WITHOUT_SHARED();
  auto l = load("learner", {.search_paths = {library()}});
  ASSERT_TRUE(l.has_value());
  EXPECT_TRUE(l->ok()) << allMessages(*l);
  EXPECT_EQ(l->profile.metadata.name, "learner");
}

TEST(ReferenceProfilesTest, LearnerMergesItsFiveBases) {
  KM_SKIP_WITHOUT_SHARED();
  Loaded l = loadLibrary(library() + "/learner.yaml");
  ASSERT_TRUE(l.ok()) << allMessages(l);
  const Profile& p = l.profile;
  EXPECT_EQ(l.document.find("extends"), nullptr);
  EXPECT_FALSE(p.metadata.abstract.has_value());
  EXPECT_EQ(p.metadata.name, "learner");
  EXPECT_EQ(p.metadata.prefix.value_or(""), "learn");

  // initCommands: base/os/redhat's, then base/userinit's (the leaf writes none).
  std::vector<std::string> want =
      concat(writtenList("base/os/redhat.yaml", "execution.initCommands"),
             writtenList("base/userinit.yaml", "execution.initCommands"));
  ASSERT_EQ(want.size(), 4u + 15u);
  EXPECT_THAT(p.spec.execution.init_commands, ElementsAreArray(want));
  EXPECT_THAT(p.spec.execution.init_commands.front(), ::testing::StartsWith("yum install -y git"));

  // base/os/redhat
  EXPECT_EQ(p.spec.runtime.ami.value_or(""), "amazon-linux-2023");
  // base/network/safenetwork
  EXPECT_EQ(p.spec.network.enforcement.value_or(""), "both");
  EXPECT_THAT(p.spec.network.egress.allowed_dns_suffixes, ElementsAre("*"));
  EXPECT_THAT(p.spec.network.egress.allowed_hosts, ElementsAre("*"));
  // base/userinit: env and the leaf's env are merged by key.
  EXPECT_EQ(envValue(p, "GOOSE_MODE"), "auto");
  EXPECT_EQ(envValue(p, "SANDBOX_MODE"), "learn-v2-direct-api");
  EXPECT_THAT(p.spec.execution.rsync_paths,
              ElementsAre(".gitconfig", ".config/goose", ".claude", ".claude.json", ".codex"));
  EXPECT_EQ(p.spec.execution.config_files.size(), 2u);
  // base/platform, with the leaf's budget overrides.
  ASSERT_TRUE(p.spec.budget && p.spec.budget->compute && p.spec.budget->ai);
  EXPECT_EQ(p.spec.budget->compute->max_spend_usd.micros, 10'000'000);  // leaf: 10.00
  EXPECT_EQ(p.spec.budget->ai->max_spend_usd.micros, 0);                // leaf: 0 over 2.00
  ASSERT_TRUE(p.spec.budget->warning_threshold);
  EXPECT_EQ(p.spec.budget->warning_threshold->ppm, 800'000);  // platform's 0.80
  EXPECT_EQ(p.spec.sidecars.http_proxy.image, "km-http-proxy:latest");
  EXPECT_EQ(p.spec.iam.role_session_duration, "1h");
  ASSERT_TRUE(p.spec.agent && p.spec.agent->claude);
  EXPECT_EQ(p.spec.agent->default_agent.value_or(""), "claude");
  EXPECT_THAT(p.spec.agent->claude->args, ElementsAre("--dangerously-skip-permissions"));
  ASSERT_TRUE(p.spec.email);
  EXPECT_THAT(p.spec.email->allowed_senders, ElementsAre("*"));
  // base/slack-persandbox plus the leaf's notification block.
  ASSERT_TRUE(p.spec.notification && p.spec.notification->slack && p.spec.notification->email);
  EXPECT_EQ(p.spec.notification->slack->enabled, true);
  EXPECT_EQ(p.spec.notification->slack->per_sandbox, true);
  EXPECT_EQ(p.spec.notification->slack->channel_name.value_or(""), "sb-{alias}");
  EXPECT_EQ(p.spec.notification->email->enabled, false);
  // The leaf's own values.
  EXPECT_EQ(p.spec.runtime.instance_type, "t3.2xlarge");
  EXPECT_EQ(p.spec.lifecycle.ttl, "8h");
  EXPECT_EQ(p.spec.observability.learn_mode, true);
  EXPECT_EQ(p.spec.observability.claude_telemetry->log_prompts, true);  // platform
}

TEST(ReferenceProfilesTest, LeafListsAreUnionedWithARealBase) {
  KM_SKIP_WITHOUT_SHARED();
  km::test::ScopedTempDir dir;
  std::string leaf = dir.write("leaf.yaml", R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata: {name: locked-plus}
extends: [sealed, base/network/locked]
spec:
  network:
    egress:
      allowedDNSSuffixes: [".example.org", ".github.com"]
      allowedHosts: [api.example.org]
)");
  Loaded l = loadLibrary(leaf);
  ASSERT_TRUE(l.ok()) << allMessages(l);
  std::vector<std::string> locked =
      writtenList("base/network/locked.yaml", "network.egress.allowedDNSSuffixes");
  ASSERT_GT(locked.size(), 20u);
  EXPECT_THAT(l.profile.spec.network.egress.allowed_dns_suffixes,
              ElementsAreArray(concat(locked, {".example.org", ".github.com"})));
  EXPECT_EQ(l.profile.spec.network.egress.allowed_dns_suffixes.size(), locked.size() + 1);
  EXPECT_EQ(l.profile.spec.network.enforcement.value_or(""), "both");  // locked over sealed's proxy
  EXPECT_EQ(l.profile.spec.lifecycle.ttl, "1h");                       // sealed
}

TEST(ReferenceProfilesTest, GpuLeavesFoldServesInitCommandsAppendAtTheEnd) {
  KM_SKIP_WITHOUT_SHARED();
  const std::vector<std::string> serve =
      writtenList("base/gpu/serve.yaml", "execution.initCommandsAppend");
  ASSERT_GE(serve.size(), 5u);
  const std::vector<std::string> bases =
      concat(writtenList("base/os/debian.yaml", "execution.initCommands"),
             writtenList("base/userinit.yaml", "execution.initCommands"));
  std::vector<std::string> gpus;
  for (const auto& f : yamlFiles(library(), false))
    if (stdfs::path(f).filename().string().rfind("gpu-", 0) == 0) gpus.push_back(f);
  ASSERT_EQ(gpus.size(), 10u);
  for (const auto& f : gpus) {
    Loaded l = loadLibrary(f);
    ASSERT_TRUE(l.ok()) << f << ":\n" << allMessages(l);
    std::string rel = stdfs::path(f).filename().string();
    // bases' initCommands, the leaf's, then serve's append followed by the leaf's own append.
    std::vector<std::string> want = concat(bases, writtenList(rel, "execution.initCommands"));
    want = concat(want, concat(serve, writtenList(rel, "execution.initCommandsAppend")));
    EXPECT_THAT(l.profile.spec.execution.init_commands, ElementsAreArray(want)) << f;
    EXPECT_TRUE(l.profile.spec.execution.init_commands_append.empty()) << f;
    const doc::Node* exec = l.document.find("spec")->find("execution");
    EXPECT_EQ(exec->find("initCommandsAppend"), nullptr) << f;
    EXPECT_EQ(l.profile.spec.runtime.ami.value_or(""), "ami-0a9d213b92dabc044")
        << f;  // serve over debian
  }
}

TEST(ReferenceProfilesTest, GpuRehearsalAppendsItsOwnCommandAfterServes) {
  KM_SKIP_WITHOUT_SHARED();
  Loaded l = loadLibrary(library() + "/gpu-rehearsal-cpu.yaml");
  ASSERT_TRUE(l.ok()) << allMessages(l);
  const auto& cmds = l.profile.spec.execution.init_commands;
  ASSERT_FALSE(cmds.empty());
  EXPECT_THAT(cmds.back(), ::testing::StartsWith("systemctl disable --now vllm.service"));
  EXPECT_EQ(cmds[cmds.size() - 2], "systemctl enable --now bifrost.service || true");
}

}  // namespace
}  // namespace km::profile
