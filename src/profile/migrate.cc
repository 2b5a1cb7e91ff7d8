// v1alpha1 → v1alpha2, in memory, on the Node tree (upstream's cmd/km-profile-migrate).
// Upstream made v1alpha2 a hard break; km migrates every document it reads instead, so old
// profiles keep working and each moved or dropped field is reported once, at the line the
// user wrote. Moved values keep their marks: a later validation error about a moved value
// still points at that line. Where a destination is already set, it wins (the document that
// already speaks v1alpha2 is the newer intent) and the old value is reported as dropped.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/strings.h"
#include "doc/json_io.h"
#include "profile/extends.h"
#include "profile/profile.h"

namespace km::profile {
namespace {

using doc::Diagnostics;
using doc::Mark;
using doc::Node;

constexpr std::string_view kOldVersion = "/v1alpha1";
constexpr std::string_view kNewVersion = "/v1alpha2";
constexpr std::string_view kSettingsFile = "/home/sandbox/.claude/settings.json";

// A spec.cli field and where v1alpha2 keeps it, relative to spec.
struct FieldMove {
  std::string_view from;
  std::string_view to;
};

constexpr FieldMove kCliMoves[] = {
    {"notifyOnPermission", "notification.events.onPermission"},
    {"notifyOnIdle", "notification.events.onIdle"},
    {"notifyCooldownSeconds", "notification.events.cooldownSeconds"},
    {"notifyEmailEnabled", "notification.email.enabled"},
    {"notificationEmailAddress", "notification.email.address"},
    {"notifySlackEnabled", "notification.slack.enabled"},
    {"notifySlackPerSandbox", "notification.slack.perSandbox"},
    {"notifySlackChannelOverride", "notification.slack.channelOverride"},
    {"slackArchiveOnDestroy", "notification.slack.archiveOnDestroy"},
    {"notifySlackInboundEnabled", "notification.slack.inbound.enabled"},
    {"notifySlackInboundMentionOnly", "notification.slack.inbound.mentionOnly"},
    {"notifySlackInboundReactAlways", "notification.slack.inbound.reactAlways"},
    {"notifySlackTranscriptEnabled", "notification.slack.transcript.enabled"},
    {"notifySlackInviteEmails", "notification.slack.invites.emails"},
    {"useSlackConnect", "notification.slack.invites.useConnect"},
    {"vscodeEnabled", "runtime.vscode.enabled"},
    {"agent", "agent.default"},
    {"claudeArgs", "agent.claude.args"},
    {"codexArgs", "agent.codex.args"},
};

std::string specPath(std::string_view rel) { return "spec." + std::string(rel); }

// The map at spec.<dotted>, creating missing (or null) levels as maps marked `at`.
// nullptr when a level exists but is not a map; `blocker` then names it.
Node* ensureMap(Node& spec, std::string_view dotted, const Mark& at, std::string& blocker) {
  Node* cur = &spec;
  std::string walked = "spec";
  for (const std::string& key : split(dotted, '.')) {
    walked = doc::childPath(walked, key);
    Node* next = cur->find(key);
    if (!next) next = &cur->set(key, Node::map(at), at);
    if (next->isNull()) *next = Node::map(next->mark().line ? next->mark() : at);
    if (!next->isMap()) {
      blocker = walked;
      return nullptr;
    }
    cur = next;
  }
  return cur;
}

enum class Placed { kMoved, kMerged, kConflict, kBlocked };

// Puts `value` at spec.<parent>.<leaf> (`parent` is spec-relative and dotted; `leaf` may hold
// any characters). Lists merge when `merge_lists`; otherwise an existing destination wins
// (kConflict). kBlocked when a level on the way is not a mapping.
Placed place(Node& spec, std::string_view parent, std::string_view leaf, Node value, const Mark& key_mark,
             bool merge_lists, std::string& blocker) {
  Node* holder = parent.empty() ? &spec : ensureMap(spec, parent, key_mark, blocker);
  if (!holder) return Placed::kBlocked;
  Node* existing = holder->find(leaf);
  if (!existing) {
    holder->set(std::string(leaf), std::move(value), key_mark);
    return Placed::kMoved;
  }
  if (merge_lists && existing->isSeq() && value.isSeq()) {
    *existing = appendUnique(*existing, value);
    return Placed::kMerged;
  }
  return Placed::kConflict;
}

// "a.b.c" → {"a.b", "c"}.
std::pair<std::string_view, std::string_view> splitLeaf(std::string_view dotted) {
  size_t dot = dotted.rfind('.');
  if (dot == std::string_view::npos) return {"", dotted};
  return {dotted.substr(0, dot), dotted.substr(dot + 1)};
}

// Reports where a moved value went. Returns false when it could not be placed (the caller
// then leaves it where it was, so validation still shows it to the user).
bool reportPlacement(Placed placed, const Mark& at, const std::string& old_path, const std::string& dest,
                     const std::string& blocker, Diagnostics& notes) {
  switch (placed) {
    case Placed::kMoved:
      notes.warning(at, old_path, "v1alpha1 field moved to " + dest);
      return true;
    case Placed::kMerged:
      notes.warning(at, old_path, "v1alpha1 field moved to " + dest + " (merged with the items already there)");
      return true;
    case Placed::kConflict:
      notes.warning(at, old_path, "v1alpha1 field moved to " + dest + ", which is already set; kept " + dest +
                                      " and dropped this old value");
      return true;
    case Placed::kBlocked:
      notes.warning(at, old_path, "v1alpha1 field belongs at " + dest + ", but " + blocker +
                                      " is not a mapping; left in place, fix it by hand");
      return false;
  }
  return false;
}

// Moves entry `key` of spec.<section> to spec-relative `to`; erases it once placed.
void moveField(Node& spec, std::string_view section, std::string_view key, std::string_view to,
               Diagnostics& notes) {
  const doc::MapEntry* entry = spec.find(section)->findEntry(key);
  if (!entry) return;
  const Mark key_mark = entry->key_mark;
  Node value = entry->value;
  auto [parent, leaf] = splitLeaf(to);
  std::string blocker;
  Placed placed = place(spec, parent, leaf, std::move(value), key_mark, false, blocker);
  const std::string old_path = doc::childPath(specPath(section), key);
  // Found again: placing may have appended to spec and so moved the section in memory.
  if (reportPlacement(placed, key_mark, old_path, specPath(to), blocker, notes))
    spec.find(section)->erase(key);
}

void dropField(Node& map, const std::string& map_path, std::string_view key, const std::string& why,
               Diagnostics& notes) {
  const doc::MapEntry* entry = map.findEntry(key);
  if (!entry) return;
  notes.warning(entry->key_mark, doc::childPath(map_path, key), "v1alpha1 field dropped: " + why);
  map.erase(key);
}

void migrateApiVersion(Node& root, Diagnostics& notes) {
  const doc::MapEntry* entry = root.findEntry("apiVersion");
  std::string old_version = entry->value.text();
  std::string new_version = old_version.substr(0, old_version.size() - kOldVersion.size()) +
                            std::string(kNewVersion);
  notes.warning(entry->key_mark, "apiVersion",
                "migrated " + old_version + " to " + new_version +
                    " in memory; `km profile migrate FILE` rewrites the file");
  root.set("apiVersion", Node::string(new_version, entry->value.mark()));
}

// spec.identity → spec.iam, without its dead sessionPolicy.
void migrateIdentity(Node& spec, Diagnostics& notes) {
  Node* identity = spec.find("identity");
  if (!identity) return;
  if (identity->isMap()) dropField(*identity, "spec.identity", "sessionPolicy", "no longer used", notes);
  Node* iam = spec.find("iam");
  if (!iam) {
    for (auto& e : spec.entries()) {
      if (e.key != "identity") continue;
      e.key = "iam";  // renamed in place: same position, key mark and value marks
      notes.warning(e.key_mark, "spec.identity", "v1alpha1 section renamed to spec.iam");
    }
    return;
  }
  const Mark key_mark = spec.findEntry("identity")->key_mark;
  if (!iam->isMap() || !identity->isMap()) {
    notes.warning(key_mark, "spec.identity",
                  "v1alpha1 section renamed to spec.iam, which is already set; kept spec.iam and "
                  "dropped this old value");
  } else {
    notes.warning(key_mark, "spec.identity",
                  "v1alpha1 section renamed to spec.iam; merged into the spec.iam already written");
    for (const auto& e : identity->entries()) {
      if (!iam->find(e.key)) {
        iam->set(e.key, e.value, e.key_mark);  // `iam` and `identity` are siblings: no aliasing
        continue;
      }
      std::string dest = doc::childPath("spec.iam", e.key);
      reportPlacement(Placed::kConflict, e.key_mark, doc::childPath("spec.identity", e.key), dest, "", notes);
    }
  }
  spec.erase("identity");
}

// The v1alpha1 agent block (maxConcurrentTasks, taskTimeout, allowedTools) was never wired
// to anything upstream, and upstream's migrator drops it. allowedTools is deliberately NOT
// turned into agent.claude.tools.autoApprove: "may use" is not "runs without asking", the
// names are Goose/Codex tool names (bash, read_file), and granting auto-approval the profile
// never had would widen a sandbox silently. The warning lists the values so an author who
// wants them can copy them.
void migrateOldAgent(Node& spec, Diagnostics& notes) {
  Node* agent = spec.find("agent");
  if (!agent || !agent->isMap()) return;
  dropField(*agent, "spec.agent", "maxConcurrentTasks", "no longer used", notes);
  dropField(*agent, "spec.agent", "taskTimeout", "no longer used", notes);
  if (const Node* tools = agent->find("allowedTools")) {
    std::vector<std::string> names;
    for (const Node& t : tools->items()) names.push_back(t.text());
    std::string listed = names.empty() ? "" : " [" + join(names, ", ") + "]";
    dropField(*agent, "spec.agent", "allowedTools",
              "it was never enforced, so it is not turned into an auto-approval; to let these tools" +
                  listed + " run without asking, list them in spec.agent.claude.tools.autoApprove",
              notes);
  }
  if (agent->entries().empty()) spec.erase("agent");
}

// Gives every node of parsed settings the settings entry's mark, so a later error about a
// lifted value points at the line that inlined the file. Depth bounded by doc::parseJson.
void markAll(Node& n, const Mark& at) {
  n.setMark(at);
  for (Node& item : n.items()) markAll(item, at);
  for (doc::MapEntry& e : n.entries()) {
    e.key_mark = at;
    markAll(e.value, at);
  }
}

// One settings.json key and where v1alpha2 keeps it. Lists merge with what is already there.
struct SettingsLift {
  std::string_view parent;  // "" = top level of the JSON, else "permissions"
  std::string_view key;
  std::string_view to;
};

constexpr SettingsLift kSettingsLifts[] = {
    {"", "trustedDirectories", "agent.claude.trustedDirectories"},
    {"permissions", "allow", "agent.claude.tools.autoApprove"},
    {"", "autoApprove", "agent.claude.tools.autoApprove"},
    {"permissions", "deny", "agent.claude.tools.deny"},
    {"", "disallowedTools", "agent.claude.tools.deny"},
};

// Moves `holder[key]` to spec.<parent>.<key_to>; erases it from `holder` once placed.
void liftValue(Node& spec, Node& holder, const std::string& key, std::string_view parent,
               std::string_view key_to, const Mark& at, const std::string& json_path, Diagnostics& notes) {
  std::string blocker;
  Placed placed = place(spec, parent, key_to, *holder.find(key), at, true, blocker);
  std::string dest = doc::childPath(specPath(parent), key_to);
  if (reportPlacement(placed, at, doc::childPath(json_path, key), dest, blocker, notes)) holder.erase(key);
}

void liftSettings(Node& spec, Node& settings, const Mark& at, const std::string& entry_path,
                  Diagnostics& notes) {
  const std::string perm_path = doc::childPath(entry_path, "permissions");
  for (const SettingsLift& lift : kSettingsLifts) {
    const std::string key(lift.key);
    const bool nested = !lift.parent.empty();
    Node* holder = nested ? settings.find(lift.parent) : &settings;
    if (!holder || !holder->isMap() || !holder->find(key)) continue;
    auto [to_parent, to_leaf] = splitLeaf(lift.to);
    liftValue(spec, *holder, key, to_parent, to_leaf, at, nested ? perm_path : entry_path, notes);
  }
  // The other permissions keys Claude reads (ask, defaultMode, ...) go over one by one, so a
  // permissions map already written in v1alpha2 keeps its own keys.
  Node* permissions = settings.find("permissions");
  if (!permissions || !permissions->isMap()) return;
  std::vector<std::string> keys;
  for (const auto& e : permissions->entries()) keys.push_back(e.key);
  for (const std::string& k : keys) {
    liftValue(spec, *permissions, k, "agent.claude.permissions", k, at, perm_path, notes);
  }
  if (permissions->entries().empty()) settings.erase("permissions");
}

// Keeps what km does not model (env, hooks, model...) in the file, in the layout it had.
std::string reserialise(const Node& rest, const std::string& original) {
  std::string_view body = trim(original);
  int indent = body.find('\n') == std::string_view::npos ? -1 : 2;
  std::string out = doc::toJson(rest, indent);
  if (!original.empty() && original.back() == '\n') out += '\n';
  return out;
}

// Lifts the inlined Claude settings.json into spec.agent.claude.
void migrateSettings(Node& spec, Diagnostics& notes) {
  Node* exec = spec.find("execution");
  Node* files = exec && exec->isMap() ? exec->find("configFiles") : nullptr;
  const doc::MapEntry* entry = files && files->isMap() ? files->findEntry(kSettingsFile) : nullptr;
  if (!entry || entry->value.kind() != Node::Kind::kString) return;
  const Mark at = entry->key_mark;
  const std::string path = doc::childPath("spec.execution.configFiles", kSettingsFile);
  const std::string text = entry->value.text();
  Node settings;
  if (!doc::parseJson(text, settings, nullptr) || !settings.isMap()) {
    notes.warning(at, path, "v1alpha1 inlined Claude settings are not a JSON object (or nest too deeply); "
                            "left in place, move them to spec.agent.claude by hand");
    return;
  }
  markAll(settings, at);
  const Node before = settings;
  liftSettings(spec, settings, at, path, notes);
  if (settings.sameValue(before)) return;  // nothing v1alpha2 models: the file stays byte for byte
  // `spec` may have grown new entries: find the configFiles map again before touching it.
  files = spec.find("execution")->find("configFiles");
  if (settings.entries().empty()) {
    notes.warning(at, path, "v1alpha1 inlined Claude settings moved to spec.agent.claude; file entry removed");
    files->erase(kSettingsFile);
    if (files->entries().empty()) spec.find("execution")->erase("configFiles");
    return;
  }
  std::vector<std::string> kept;
  for (const auto& e : settings.entries()) kept.push_back(e.key);
  Node& value = *files->find(kSettingsFile);
  value = Node::string(reserialise(settings, text), value.mark());
  notes.warning(at, path, "v1alpha1 inlined Claude settings moved to spec.agent.claude, except " +
                              join(kept, ", ") + ", kept in the file (v1alpha2 has no field for " +
                              (kept.size() == 1 ? "it)" : "them)"));
}

// spec.cli.* → spec.notification.*, spec.runtime.vscode.enabled and spec.agent.*.
void migrateCli(Node& spec, Diagnostics& notes) {
  Node* cli = spec.find("cli");
  if (!cli || !cli->isMap()) return;
  // In document order, so the warnings read top to bottom like the file.
  std::vector<std::string> keys;
  for (const auto& e : cli->entries()) keys.push_back(e.key);
  for (const std::string& key : keys) {
    for (const FieldMove& move : kCliMoves) {
      if (move.from == key) moveField(spec, "cli", move.from, move.to, notes);
    }
  }
  if (spec.find("cli")->entries().empty()) spec.erase("cli");
}

bool isV1alpha1(const Node& root) {
  const Node* version = root.isMap() ? root.find("apiVersion") : nullptr;
  return version && version->kind() == Node::Kind::kString && endsWith(version->text(), kOldVersion);
}

}  // namespace

bool migrateDocument(Node& document, Diagnostics& notes) {
  if (!isV1alpha1(document)) return false;
  migrateApiVersion(document, notes);
  Node* spec = document.find("spec");
  if (!spec || !spec->isMap()) return true;
  migrateIdentity(*spec, notes);
  migrateOldAgent(*spec, notes);  // before anything writes the new spec.agent
  migrateSettings(*spec, notes);
  migrateCli(*spec, notes);
  return true;
}

}  // namespace km::profile
