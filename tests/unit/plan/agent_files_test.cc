#include <gtest/gtest.h>

#include "doc/json_io.h"
#include "plan/compile_steps.h"

namespace km::plan {
namespace {

doc::Node json(const std::string& text) {
  doc::Node n;
  std::string err;
  EXPECT_TRUE(doc::parseJson(text, n, &err)) << err;
  return n;
}

TEST(AgentFilesTest, ClaudeSettingsCarryToolsAndTheProfilesPermissions) {
  profile::Agent agent;
  agent.claude.emplace();
  agent.claude->tools.emplace();
  agent.claude->tools->auto_approve = {"Bash", "Read"};
  agent.claude->tools->deny = {"WebFetch"};
  doc::Node perms = doc::Node::map();
  doc::Node allow = doc::Node::seq();
  allow.push(doc::Node::string("Read"));
  allow.push(doc::Node::string("Edit"));
  perms.set("allow", std::move(allow));
  perms.set("defaultMode", doc::Node::string("acceptEdits"));
  agent.claude->permissions = std::move(perms);
  agent.claude->trusted_directories = {"/workspace", "/home/sandbox"};

  auto files = agentConfigFiles(agent, "/home/sandbox", "sk-ant-api03-0123456789abcdefghijKLMNOPQRST");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "/home/sandbox/.claude/settings.json");
  doc::Node settings = json(files[0].content);
  const doc::Node* p = settings.find("permissions");
  ASSERT_TRUE(p);
  std::vector<std::string> allowed;
  for (const auto& n : p->find("allow")->items()) allowed.push_back(n.text());
  EXPECT_EQ(allowed, (std::vector<std::string>{"Read", "Edit", "Bash"}));  // the profile's first, no duplicate
  EXPECT_EQ(p->find("deny")->items().at(0).text(), "WebFetch");
  EXPECT_EQ(p->find("defaultMode")->text(), "acceptEdits");

  EXPECT_EQ(files[1].path, "/home/sandbox/.claude.json");
  doc::Node state = json(files[1].content);
  EXPECT_EQ(state.find("hasCompletedOnboarding")->text(), "true");
  EXPECT_EQ(state.find("projects")->find("/workspace")->find("hasTrustDialogAccepted")->text(), "true");
  EXPECT_TRUE(state.find("projects")->find("/home/sandbox"));
  // The key the profile gives is approved by its last 20 characters, as Claude Code records it.
  EXPECT_EQ(state.find("customApiKeyResponses")->find("approved")->items().at(0).text(), "abcdefghijKLMNOPQRST");
  EXPECT_TRUE(state.find("customApiKeyResponses")->find("rejected")->items().empty());
}

TEST(AgentFilesTest, NoClaudeBlockWritesNothingAndNoToolsWritesNoSettings) {
  profile::Agent codex_only;
  codex_only.codex.emplace();
  EXPECT_TRUE(agentConfigFiles(codex_only, "/home/sandbox").empty());
  profile::Agent bare;
  bare.claude.emplace();
  auto files = agentConfigFiles(bare, "/home/u");
  ASSERT_EQ(files.size(), 1u);  // onboarding state only
  EXPECT_EQ(files[0].path, "/home/u/.claude.json");
  EXPECT_FALSE(json(files[0].content).find("customApiKeyResponses"));  // no key, no answer
}

}  // namespace
}  // namespace km::plan
