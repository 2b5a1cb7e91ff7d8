// The agents' own settings, synthesized from spec.agent and written into the sandbox at its
// first start like spec.execution.configFiles (which win: a profile that writes the file
// itself keeps its text).
//   claude: ~/.claude/settings.json  {"permissions": {"allow": tools.autoApprove,
//           "deny": tools.deny, …the profile's free-form `permissions`}}
//           ~/.claude.json           onboarding done, each trustedDirectory trusted, the
//                                    profile's ANTHROPIC_API_KEY approved
//   codex:  nothing yet: its tools lists have no settings equivalent (its args pass through).
#include "plan/compile_steps.h"

#include <algorithm>

#include "doc/json_io.h"

namespace km::plan {
namespace {

void appendUnique(doc::Node& list, const std::vector<std::string>& items) {
  for (const auto& item : items) {
    bool seen = std::any_of(list.items().begin(), list.items().end(),
                            [&](const doc::Node& n) { return n.isScalar() && n.text() == item; });
    if (!seen) list.push(doc::Node::string(item));
  }
}

// `permissions` as the profile wrote it, with allow/deny lists extended by tools.*.
doc::Node claudePermissions(const profile::ClaudeAgent& claude) {
  doc::Node perms = claude.permissions && claude.permissions->isMap() ? *claude.permissions : doc::Node::map();
  auto list = [&](const char* key, const std::vector<std::string>& items) {
    if (items.empty()) return;
    doc::Node* existing = perms.find(key);
    if (!existing || !existing->isSeq()) existing = &perms.set(key, doc::Node::seq());
    appendUnique(*existing, items);
  };
  if (claude.tools) {
    list("allow", claude.tools->auto_approve);
    list("deny", claude.tools->deny);
  }
  return perms;
}

}  // namespace

std::vector<ConfigFile> agentConfigFiles(const profile::Agent& agent, const std::string& home,
                                         std::string_view anthropic_key) {
  std::vector<ConfigFile> out;
  if (!agent.claude) return out;
  const profile::ClaudeAgent& claude = *agent.claude;
  doc::Node settings = doc::Node::map();
  doc::Node perms = claudePermissions(claude);
  if (!perms.entries().empty()) settings.set("permissions", std::move(perms));
  if (!settings.entries().empty()) out.push_back({home + "/.claude/settings.json", doc::toJson(settings) + "\n"});
  // Claude Code asks on first start whether to trust a directory and walks a new user through
  // onboarding; a run has nobody to answer. Trust goes only to the directories named.
  doc::Node state = doc::Node::map();
  state.set("hasCompletedOnboarding", doc::Node::boolean(true));
  doc::Node projects = doc::Node::map();
  for (const auto& dir : claude.trusted_directories) {
    doc::Node project = doc::Node::map();
    project.set("hasTrustDialogAccepted", doc::Node::boolean(true));
    projects.set(dir, std::move(project));
  }
  state.set("projects", std::move(projects));
  // An interactive session asks whether to use an ANTHROPIC_API_KEY it finds in the
  // environment (remembering the answer by the key's last 20 characters); the profile gave it.
  if (!anthropic_key.empty()) {
    doc::Node responses = doc::Node::map();
    doc::Node approved = doc::Node::seq();
    approved.push(doc::Node::string(std::string(anthropic_key.substr(anthropic_key.size() > 20 ? anthropic_key.size() - 20 : 0))));
    responses.set("approved", std::move(approved));
    responses.set("rejected", doc::Node::seq());
    state.set("customApiKeyResponses", std::move(responses));
  }
  out.push_back({home + "/.claude.json", doc::toJson(state) + "\n"});
  return out;
}

}  // namespace km::plan
