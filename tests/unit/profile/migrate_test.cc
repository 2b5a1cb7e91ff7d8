// v1alpha1 → v1alpha2 migration (profile/migrate.cc): each rule on its own (value at the new
// path with its original mark, old path gone, one warning at the old key's line), the
// inlined Claude settings.json lift, conflicts, idempotence, documents left alone, the
// README's goose example end to end through loadText, and `km profile migrate` + `km validate`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "doc/yaml_io.h"
#include "profile/profile.h"
#include "support/temp_dir.h"
#include "support/test_paths.h"

namespace km::profile {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using km::test::ScopedTempDir;

constexpr std::string_view kSettingsKey = "/home/sandbox/.claude/settings.json";
const std::string kSettingsPath = R"(spec.execution.configFiles["/home/sandbox/.claude/settings.json"])";

// The goose profile from the upstream README (klankermaker.ai/v1alpha1), with the sections
// the README leaves out for brevity (sidecars, command/network logs, allowedHosts) filled in
// as upstream's full goose profile has them, so it is a complete profile.
constexpr std::string_view kGooseV1 = R"(apiVersion: klankermaker.ai/v1alpha1
kind: SandboxProfile
metadata:
  name: goose
  prefix: gebpfgk
spec:
  lifecycle:
    ttl: "4h"
    idleTimeout: "1h"
    teardownPolicy: stop
  runtime:
    substrate: ec2
    spot: false
    instanceType: t3.medium
    region: us-east-1
    rootVolumeSize: 15
    hibernation: true
    mountEFS: true
    efsMountPoint: /shared
    additionalVolume:
      size: 20
      mountPoint: /data
  execution:
    shell: /bin/bash
    workingDir: /workspace
    useBedrock: true
    privileged: false
    env:
      GOOSE_PROVIDER: aws_bedrock
      GOOSE_MODEL: us.anthropic.claude-opus-4-6-v1
    configFiles:
      "/home/sandbox/.claude/settings.json": |
        {"trustedDirectories":["/home/sandbox","/workspace"]}
    initCommands:
      - "yum install -y git nodejs npm python3 jq tmux"
      - "npm install -g @anthropic-ai/claude-code"
  budget:
    compute: { maxSpendUSD: 0.50 }
    ai:      { maxSpendUSD: 1.00 }
    warningThreshold: 0.80
  network:
    enforcement: both
    egress:
      allowedDNSSuffixes:
        - .amazonaws.com
        - .anthropic.com
        - .github.com
        - .githubusercontent.com
        - .npmjs.org
        - .pypi.org
      allowedHosts: []
  sourceAccess:
    mode: allowlist
    github:
      allowedRepos: [my-org/api, my-org/infra]
      allowedRefs:  [main, "feature/*", "fix/*"]
  identity:
    roleSessionDuration: "1h"
    allowedRegions: [us-east-1]
    sessionPolicy: minimal
  cli:
    notifyEmailEnabled: true
    notifySlackEnabled: true
    notifySlackPerSandbox: true
    notifySlackInboundEnabled: true
    notifySlackTranscriptEnabled: true
  sidecars:
    dnsProxy: {enabled: true, image: km-dns-proxy:latest}
    httpProxy: {enabled: true, image: km-http-proxy:latest}
    auditLog: {enabled: true, image: km-audit-log:latest}
    tracing: {enabled: true, image: km-tracing:latest}
  observability:
    commandLog: {destination: cloudwatch, logGroup: /klanker-maker/sandboxes}
    networkLog: {destination: cloudwatch, logGroup: /klanker-maker/network}
    claudeTelemetry:
      enabled: true
      logPrompts: true
      logToolDetails: true
    tlsCapture:
      enabled: true
      libraries: [openssl]
  email:
    signing: required
    verifyInbound: required
    encryption: required
)";

// The smallest v1alpha1 document the rules need: apiVersion plus `spec_lines` (YAML already
// indented by two spaces).
std::string v1(const std::string& spec_lines) {
  return "apiVersion: klankermaker.ai/v1alpha1\nkind: SandboxProfile\nmetadata:\n  name: t\nspec:\n" +
         spec_lines;
}

struct Migrated {
  bool migrated = false;
  doc::Node root;
  doc::Diagnostics notes;
};

Migrated migrate(std::string_view yaml) {
  Migrated m;
  doc::Diagnostics parse;
  EXPECT_TRUE(doc::parseYaml(yaml, "t.yaml", m.root, parse)) << yaml;
  m.migrated = migrateDocument(m.root, m.notes);
  return m;
}

// The node at a dotted path of map keys (keys themselves hold no dots), or nullptr.
const doc::Node* at(const doc::Node& root, std::string_view dotted) {
  const doc::Node* n = &root;
  while (n && !dotted.empty()) {
    size_t dot = dotted.find('.');
    std::string key(dotted.substr(0, dot));
    dotted = dot == std::string_view::npos ? "" : dotted.substr(dot + 1);
    n = n->isMap() ? n->find(key) : nullptr;
  }
  return n;
}

const doc::Node* settingsEntry(const doc::Node& root) {
  const doc::Node* files = at(root, "spec.execution.configFiles");
  return files ? files->find(kSettingsKey) : nullptr;
}

std::vector<std::string> texts(const doc::Node* seq) {
  std::vector<std::string> out;
  if (!seq) return out;
  for (const auto& i : seq->items()) out.push_back(i.text());
  return out;
}

std::vector<std::string> notePaths(const doc::Diagnostics& notes) {
  std::vector<std::string> out;
  for (const auto& d : notes.all()) out.push_back(d.path);
  return out;
}

// The one diagnostic with `path` (fails the test when there is not exactly one).
doc::Diagnostic noteFor(const doc::Diagnostics& notes, const std::string& path) {
  std::vector<doc::Diagnostic> found;
  for (const auto& d : notes.all())
    if (d.path == path) found.push_back(d);
  EXPECT_EQ(found.size(), 1u) << "notes for " << path;
  return found.empty() ? doc::Diagnostic{} : found.front();
}

std::string allNotes(const doc::Diagnostics& notes) {
  std::string out;
  for (const auto& d : notes.all()) out += d.format() + "\n";
  return out;
}

uint32_t lineOf(std::string_view text, std::string_view needle) {
  size_t pos = text.find(needle);
  if (pos == std::string_view::npos) return 0;
  uint32_t line = 1;
  for (size_t i = 0; i < pos; ++i) line += text[i] == '\n';
  return line;
}

// ---- apiVersion and documents left alone ----

TEST(MigrateTest, BumpsApiVersionKeepingTheDomain) {
  std::string text = "apiVersion: example.org/v1alpha1\nkind: SandboxProfile\n";
  Migrated m = migrate(text);
  ASSERT_TRUE(m.migrated);
  EXPECT_EQ(m.root.find("apiVersion")->text(), "example.org/v1alpha2");
  doc::Diagnostic note = noteFor(m.notes, "apiVersion");
  EXPECT_FALSE(note.isError());
  EXPECT_EQ(note.line, 1u);
  EXPECT_THAT(note.message, HasSubstr("example.org/v1alpha1"));
  EXPECT_THAT(note.message, HasSubstr("example.org/v1alpha2"));
}

TEST(MigrateTest, LeavesDocumentsThatAreNotV1alpha1Untouched) {
  const std::string kCases[] = {
      "apiVersion: klankermaker.ai/v1alpha2\nspec:\n  identity: {roleSessionDuration: 1h}\n  cli: {notifyOnIdle: true}\n",
      "apiVersion: v1alpha1\nspec:\n  identity: {roleSessionDuration: 1h}\n",
      "apiVersion: [klankermaker.ai/v1alpha1]\nspec:\n  cli: {notifyOnIdle: true}\n",
      "kind: SandboxProfile\nspec:\n  identity: {roleSessionDuration: 1h}\n",
      "apiVersion: klankermaker.ai/v1alpha1x\nspec:\n  cli: {notifyOnIdle: true}\n",
  };
  for (const std::string& text : kCases) {
    SCOPED_TRACE(text);
    Migrated m = migrate(text);
    doc::Node original;
    doc::Diagnostics ignored;
    ASSERT_TRUE(doc::parseYaml(text, "t.yaml", original, ignored));
    EXPECT_FALSE(m.migrated);
    EXPECT_THAT(m.notes.all(), IsEmpty());
    EXPECT_EQ(doc::emitYaml(m.root), doc::emitYaml(original));
  }
}

TEST(MigrateTest, MigratingTwiceChangesNothingTheSecondTime) {
  const std::string kCases[] = {
      std::string(kGooseV1),
      v1("  execution:\n    configFiles:\n      \"/home/sandbox/.claude/settings.json\": '{\"model\": \"opus\", "
         "\"autoApprove\": [\"Read\"]}'\n  cli: {notifyOnIdle: true, noBedrock: true, bogus: 1}\n"),
  };
  for (const std::string& text : kCases) {
    SCOPED_TRACE(text);
    Migrated once = migrate(text);
    ASSERT_TRUE(once.migrated);
    std::string first = doc::emitYaml(once.root);
    doc::Diagnostics again;
    EXPECT_FALSE(migrateDocument(once.root, again));
    EXPECT_THAT(again.all(), IsEmpty());
    EXPECT_EQ(doc::emitYaml(once.root), first);
    // The emitted text reads back as v1alpha2 too (what `km profile migrate -w` writes).
    Migrated reread = migrate(first);
    EXPECT_FALSE(reread.migrated);
  }
}

// ---- spec.identity → spec.iam ----

TEST(MigrateIdentityTest, RenamesIdentityToIamAndDropsSessionPolicy) {
  std::string text = v1("  lifecycle: {ttl: 1h}\n  identity:\n    roleSessionDuration: \"1h\"\n"
                        "    sessionPolicy: minimal\n  sidecars: {}\n");
  Migrated m = migrate(text);
  const doc::Node* iam = at(m.root, "spec.iam");
  ASSERT_NE(iam, nullptr);
  EXPECT_EQ(at(m.root, "spec.identity"), nullptr);
  EXPECT_EQ(at(m.root, "spec.iam.sessionPolicy"), nullptr);
  EXPECT_EQ(iam->find("roleSessionDuration")->text(), "1h");
  EXPECT_EQ(iam->find("roleSessionDuration")->mark().line, lineOf(text, "roleSessionDuration"));
  // Renamed in place: the section keeps its position and its key's line.
  const auto& spec = at(m.root, "spec")->entries();
  ASSERT_EQ(spec.size(), 3u);
  EXPECT_EQ(spec[1].key, "iam");
  EXPECT_EQ(spec[1].key_mark.line, lineOf(text, "identity:"));

  doc::Diagnostic renamed = noteFor(m.notes, "spec.identity");
  EXPECT_EQ(renamed.message, "v1alpha1 section renamed to spec.iam");
  EXPECT_EQ(renamed.line, lineOf(text, "identity:"));
  doc::Diagnostic dropped = noteFor(m.notes, "spec.identity.sessionPolicy");
  EXPECT_EQ(dropped.message, "v1alpha1 field dropped: no longer used");
  EXPECT_EQ(dropped.line, lineOf(text, "sessionPolicy"));
}

TEST(MigrateIdentityTest, MergesIntoAnExistingIamWhichWinsConflicts) {
  std::string text = v1("  iam:\n    roleSessionDuration: 2h\n  identity:\n    roleSessionDuration: 1h\n"
                        "    allowedRegions: [eu-west-1]\n");
  Migrated m = migrate(text);
  EXPECT_EQ(at(m.root, "spec.identity"), nullptr);
  EXPECT_EQ(at(m.root, "spec.iam.roleSessionDuration")->text(), "2h");
  EXPECT_THAT(texts(at(m.root, "spec.iam.allowedRegions")), ElementsAre("eu-west-1"));
  EXPECT_EQ(at(m.root, "spec.iam.allowedRegions")->mark().line, lineOf(text, "eu-west-1"));
  EXPECT_THAT(noteFor(m.notes, "spec.identity").message, HasSubstr("merged into the spec.iam"));
  doc::Diagnostic conflict = noteFor(m.notes, "spec.identity.roleSessionDuration");
  EXPECT_EQ(conflict.line, lineOf(text, "roleSessionDuration: 1h"));
  EXPECT_EQ(conflict.message,
            "v1alpha1 field moved to spec.iam.roleSessionDuration, which is already set; kept "
            "spec.iam.roleSessionDuration and dropped this old value");
}

// ---- the old spec.agent block ----

TEST(MigrateAgentTest, DropsTheOldAgentFieldsAndTheEmptiedBlock) {
  std::string text = v1("  agent:\n    maxConcurrentTasks: 1\n    taskTimeout: \"30m\"\n"
                        "    allowedTools:\n      - bash\n      - read_file\n");
  Migrated m = migrate(text);
  EXPECT_EQ(at(m.root, "spec.agent"), nullptr);
  EXPECT_EQ(noteFor(m.notes, "spec.agent.maxConcurrentTasks").message, "v1alpha1 field dropped: no longer used");
  EXPECT_EQ(noteFor(m.notes, "spec.agent.maxConcurrentTasks").line, lineOf(text, "maxConcurrentTasks"));
  EXPECT_EQ(noteFor(m.notes, "spec.agent.taskTimeout").line, lineOf(text, "taskTimeout"));
  doc::Diagnostic tools = noteFor(m.notes, "spec.agent.allowedTools");
  EXPECT_EQ(tools.line, lineOf(text, "allowedTools"));
  EXPECT_THAT(tools.message, HasSubstr("v1alpha1 field dropped"));
  EXPECT_THAT(tools.message, HasSubstr("[bash, read_file]"));
  EXPECT_THAT(tools.message, HasSubstr("spec.agent.claude.tools.autoApprove"));
}

TEST(MigrateAgentTest, AllowedToolsNeverBecomeAutoApprovals) {
  // allowedTools was never enforced upstream; auto-approving its tools would widen the sandbox.
  Migrated m = migrate(v1("  agent:\n    allowedTools: [bash]\n    claude: {args: [--verbose]}\n"));
  EXPECT_EQ(at(m.root, "spec.agent.claude.tools"), nullptr);
  EXPECT_EQ(at(m.root, "spec.agent.allowedTools"), nullptr);
  EXPECT_THAT(texts(at(m.root, "spec.agent.claude.args")), ElementsAre("--verbose"));
}

TEST(MigrateAgentTest, CliAgentBecomesTheDefaultOfTheNewAgentBlock) {
  Migrated m = migrate(v1("  agent:\n    taskTimeout: 60m\n  cli:\n    agent: codex\n"));
  const doc::Node* agent = at(m.root, "spec.agent");
  ASSERT_NE(agent, nullptr);
  ASSERT_EQ(agent->entries().size(), 1u);
  EXPECT_EQ(agent->find("default")->text(), "codex");
  EXPECT_EQ(at(m.root, "spec.cli"), nullptr);
}

// ---- spec.cli → spec.notification, runtime.vscode, agent ----

struct CliCase {
  std::string_view from;
  std::string_view value;  // YAML flow text
  std::string_view to;     // under spec
};

constexpr CliCase kCliCases[] = {
    {"notifyOnPermission", "true", "notification.events.onPermission"},
    {"notifyOnIdle", "false", "notification.events.onIdle"},
    {"notifyCooldownSeconds", "300", "notification.events.cooldownSeconds"},
    {"notifyEmailEnabled", "true", "notification.email.enabled"},
    {"notificationEmailAddress", "ops@example.com", "notification.email.address"},
    {"notifySlackEnabled", "true", "notification.slack.enabled"},
    {"notifySlackPerSandbox", "true", "notification.slack.perSandbox"},
    {"notifySlackChannelOverride", "C0123ABC", "notification.slack.channelOverride"},
    {"slackArchiveOnDestroy", "false", "notification.slack.archiveOnDestroy"},
    {"notifySlackInboundEnabled", "true", "notification.slack.inbound.enabled"},
    {"notifySlackInboundMentionOnly", "true", "notification.slack.inbound.mentionOnly"},
    {"notifySlackInboundReactAlways", "false", "notification.slack.inbound.reactAlways"},
    {"notifySlackTranscriptEnabled", "true", "notification.slack.transcript.enabled"},
    {"notifySlackInviteEmails", "[a@example.com, b@example.com]", "notification.slack.invites.emails"},
    {"useSlackConnect", "false", "notification.slack.invites.useConnect"},
    {"vscodeEnabled", "false", "runtime.vscode.enabled"},
    {"agent", "codex", "agent.default"},
    {"claudeArgs", "[--verbose]", "agent.claude.args"},
    {"codexArgs", "[--full-auto]", "agent.codex.args"},
};

TEST(MigrateCliTest, EachCliFieldMovesToItsV1alpha2HomeWithItsMark) {
  for (const CliCase& c : kCliCases) {
    SCOPED_TRACE(std::string(c.from));
    std::string text = v1("  runtime: {substrate: ec2}\n  cli:\n    noBedrock: true\n    " +
                          std::string(c.from) + ": " + std::string(c.value) + "\n");
    const uint32_t line = lineOf(text, std::string(c.from) + ":");
    doc::Node original;
    doc::Diagnostics ignored;
    ASSERT_TRUE(doc::parseYaml(text, "t.yaml", original, ignored));
    Migrated m = migrate(text);

    const doc::Node* moved = at(m.root, "spec." + std::string(c.to));
    ASSERT_NE(moved, nullptr);
    EXPECT_TRUE(moved->sameValue(*at(original, "spec.cli." + std::string(c.from))));
    EXPECT_EQ(moved->mark().line, line);
    EXPECT_EQ(at(m.root, "spec.cli." + std::string(c.from)), nullptr);
    EXPECT_EQ(at(m.root, "spec.cli.noBedrock")->text(), "true");  // the one field cli keeps
    EXPECT_EQ(at(m.root, "spec.runtime.substrate")->text(), "ec2");

    doc::Diagnostic note = noteFor(m.notes, "spec.cli." + std::string(c.from));
    EXPECT_FALSE(note.isError());
    EXPECT_EQ(note.line, line);
    EXPECT_EQ(note.message, "v1alpha1 field moved to spec." + std::string(c.to));
  }
}

TEST(MigrateCliTest, RemovesCliOnceEmptyAndKeepsUnknownKeysForValidation) {
  Migrated emptied = migrate(v1("  cli:\n    notifyOnIdle: true\n"));
  EXPECT_EQ(at(emptied.root, "spec.cli"), nullptr);

  Migrated kept = migrate(v1("  cli:\n    notifyOnIdel: true\n    noBedrock: false\n"));
  EXPECT_EQ(at(kept.root, "spec.cli.notifyOnIdel")->text(), "true");
  EXPECT_EQ(at(kept.root, "spec.cli.noBedrock")->text(), "false");
  EXPECT_THAT(notePaths(kept.notes), ElementsAre("apiVersion"));
}

TEST(MigrateCliTest, ExistingDestinationWinsAndTheOldValueIsReportedDropped) {
  std::string text = v1("  notification:\n    email: {enabled: true}\n  cli:\n    notifyEmailEnabled: false\n");
  Migrated m = migrate(text);
  EXPECT_EQ(at(m.root, "spec.notification.email.enabled")->text(), "true");
  EXPECT_EQ(at(m.root, "spec.cli"), nullptr);
  doc::Diagnostic note = noteFor(m.notes, "spec.cli.notifyEmailEnabled");
  EXPECT_EQ(note.line, lineOf(text, "notifyEmailEnabled"));
  EXPECT_EQ(note.message,
            "v1alpha1 field moved to spec.notification.email.enabled, which is already set; kept "
            "spec.notification.email.enabled and dropped this old value");
}

TEST(MigrateCliTest, LeavesAFieldInPlaceWhenItsDestinationParentIsNotAMapping) {
  Migrated m = migrate(v1("  notification: off\n  cli:\n    notifyOnIdle: true\n    vscodeEnabled: true\n"));
  EXPECT_EQ(at(m.root, "spec.notification")->text(), "off");
  EXPECT_EQ(at(m.root, "spec.cli.notifyOnIdle")->text(), "true");
  EXPECT_EQ(at(m.root, "spec.runtime.vscode.enabled")->text(), "true");
  EXPECT_EQ(at(m.root, "spec.cli.vscodeEnabled"), nullptr);
  EXPECT_THAT(noteFor(m.notes, "spec.cli.notifyOnIdle").message,
              HasSubstr("spec.notification is not a mapping; left in place"));
}

// ---- the inlined Claude settings.json ----

std::string withSettings(const std::string& json_line, const std::string& more_spec = "") {
  return v1("  execution:\n    shell: /bin/bash\n    configFiles:\n      \"/home/sandbox/.claude/settings.json\": '" +
            json_line + "'\n" + more_spec);
}

TEST(MigrateSettingsTest, LiftsEveryKnownSettingIntoAgentClaude) {
  std::string text = withSettings(
      R"j({"trustedDirectories": ["/workspace"], "autoApprove": ["Bash(ls:*)", "Read"], )j"
      R"j("permissions": {"allow": ["Read"], "deny": ["WebFetch"], "ask": ["Bash(rm:*)"], )j"
      R"j("defaultMode": "acceptEdits"}, "disallowedTools": ["Write", "WebFetch"]})j");
  Migrated m = migrate(text);
  const uint32_t line = lineOf(text, "settings.json");
  EXPECT_THAT(texts(at(m.root, "spec.agent.claude.trustedDirectories")), ElementsAre("/workspace"));
  EXPECT_THAT(texts(at(m.root, "spec.agent.claude.tools.autoApprove")), ElementsAre("Read", "Bash(ls:*)"));
  EXPECT_THAT(texts(at(m.root, "spec.agent.claude.tools.deny")), ElementsAre("WebFetch", "Write"));
  const doc::Node* permissions = at(m.root, "spec.agent.claude.permissions");
  ASSERT_NE(permissions, nullptr);
  ASSERT_TRUE(permissions->isMap());
  EXPECT_THAT(texts(permissions->find("ask")), ElementsAre("Bash(rm:*)"));
  EXPECT_EQ(permissions->find("defaultMode")->text(), "acceptEdits");
  EXPECT_EQ(at(m.root, "spec.agent.claude.trustedDirectories")->mark().line, line);
  // Nothing left: the entry goes, and configFiles with it.
  EXPECT_EQ(at(m.root, "spec.execution.configFiles"), nullptr);
  EXPECT_EQ(at(m.root, "spec.execution.shell")->text(), "/bin/bash");

  EXPECT_EQ(noteFor(m.notes, kSettingsPath + ".trustedDirectories").message,
            "v1alpha1 field moved to spec.agent.claude.trustedDirectories");
  EXPECT_EQ(noteFor(m.notes, kSettingsPath + ".permissions.allow").message,
            "v1alpha1 field moved to spec.agent.claude.tools.autoApprove");
  EXPECT_THAT(noteFor(m.notes, kSettingsPath + ".autoApprove").message, HasSubstr("merged"));
  EXPECT_EQ(noteFor(m.notes, kSettingsPath + ".permissions.ask").message,
            "v1alpha1 field moved to spec.agent.claude.permissions.ask");
  EXPECT_EQ(noteFor(m.notes, kSettingsPath + ".disallowedTools").line, line);
  EXPECT_THAT(noteFor(m.notes, kSettingsPath).message, HasSubstr("file entry removed"));
}

TEST(MigrateSettingsTest, KeepsOtherConfigFilesAndMergesListsWithoutDuplicates) {
  std::string text = withSettings(
      R"j({"permissions": {"allow": ["Read", "Bash(git:*)"]}})j",
      "      /etc/motd: hello\n  agent:\n    claude:\n      tools:\n        autoApprove: [Read]\n");
  Migrated m = migrate(text);
  EXPECT_THAT(texts(at(m.root, "spec.agent.claude.tools.autoApprove")), ElementsAre("Read", "Bash(git:*)"));
  EXPECT_EQ(settingsEntry(m.root), nullptr);
  const doc::Node* files = at(m.root, "spec.execution.configFiles");
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->find("/etc/motd")->text(), "hello");
}

TEST(MigrateSettingsTest, KeepsSettingsKmDoesNotModelInTheFile) {
  std::string text = withSettings(R"({"model": "opus", "trustedDirectories": ["/w"], "env": {"A": "1"}})");
  Migrated m = migrate(text);
  EXPECT_THAT(texts(at(m.root, "spec.agent.claude.trustedDirectories")), ElementsAre("/w"));
  const doc::Node* entry = settingsEntry(m.root);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->text(), R"({"model":"opus","env":{"A":"1"}})");
  doc::Diagnostic note = noteFor(m.notes, kSettingsPath);
  EXPECT_EQ(note.line, lineOf(text, "settings.json"));
  EXPECT_THAT(note.message, HasSubstr("except model, env, kept in the file"));
}

TEST(MigrateSettingsTest, KeepsPrettyPrintedLeftoversPrettyPrinted) {
  std::string text = v1(
      "  execution:\n    configFiles:\n      \"/home/sandbox/.claude/settings.json\": |\n"
      "        {\n          \"model\": \"opus\",\n          \"autoApprove\": [\"Read\"]\n        }\n");
  Migrated m = migrate(text);
  ASSERT_NE(settingsEntry(m.root), nullptr);
  EXPECT_EQ(settingsEntry(m.root)->text(), "{\n  \"model\": \"opus\"\n}\n");
}

TEST(MigrateSettingsTest, LeavesInvalidOrNonObjectJsonAloneWithAWarning) {
  for (const std::string json : {"{not json", "[\"Read\"]"}) {
    SCOPED_TRACE(json);
    std::string text = withSettings(json);
    Migrated m = migrate(text);
    ASSERT_NE(settingsEntry(m.root), nullptr);
    EXPECT_EQ(settingsEntry(m.root)->text(), json);
    EXPECT_EQ(at(m.root, "spec.agent"), nullptr);
    doc::Diagnostic note = noteFor(m.notes, kSettingsPath);
    EXPECT_EQ(note.line, lineOf(text, "settings.json"));
    EXPECT_THAT(note.message, HasSubstr("not a JSON object"));
  }
}

TEST(MigrateSettingsTest, LeavesSettingsWithNothingToLiftByteForByte) {
  std::string text = withSettings(R"({ "model" : "opus" })");
  Migrated m = migrate(text);
  EXPECT_EQ(settingsEntry(m.root)->text(), R"({ "model" : "opus" })");
  EXPECT_THAT(notePaths(m.notes), ElementsAre("apiVersion"));
}

TEST(MigrateSettingsTest, ExistingPermissionKeysWin) {
  std::string text = withSettings(R"({"permissions": {"defaultMode": "plan", "ask": ["X"]}})",
                                  "  agent:\n    claude:\n      permissions: {defaultMode: acceptEdits}\n");
  Migrated m = migrate(text);
  EXPECT_EQ(at(m.root, "spec.agent.claude.permissions.defaultMode")->text(), "acceptEdits");
  EXPECT_THAT(texts(at(m.root, "spec.agent.claude.permissions.ask")), ElementsAre("X"));
  EXPECT_THAT(noteFor(m.notes, kSettingsPath + ".permissions.defaultMode").message,
              HasSubstr("already set"));
  EXPECT_EQ(settingsEntry(m.root), nullptr);
}

// ---- end to end ----

TEST(MigrateEndToEndTest, ReadmeGooseExampleLoadsAsAValidV1alpha2Profile) {
  const std::string text(kGooseV1);
  Loaded l = loadText(text, "goose.yaml", LoadOptions{});
  ASSERT_EQ(l.diagnostics.errorCount(), 0u) << allNotes(l.diagnostics);

  const Spec& s = l.profile.spec;
  EXPECT_EQ(l.profile.api_version, "klankermaker.ai/v1alpha2");
  EXPECT_EQ(s.iam.role_session_duration, "1h");
  EXPECT_THAT(s.iam.allowed_regions, ElementsAre("us-east-1"));
  ASSERT_TRUE(s.agent && s.agent->claude);
  EXPECT_THAT(s.agent->claude->trusted_directories, ElementsAre("/home/sandbox", "/workspace"));
  EXPECT_TRUE(s.execution.config_files.empty());
  ASSERT_TRUE(s.notification && s.notification->email && s.notification->slack);
  EXPECT_EQ(s.notification->email->enabled, true);
  EXPECT_EQ(s.notification->slack->enabled, true);
  EXPECT_EQ(s.notification->slack->per_sandbox, true);
  ASSERT_TRUE(s.notification->slack->inbound && s.notification->slack->transcript);
  EXPECT_EQ(s.notification->slack->inbound->enabled, true);
  EXPECT_EQ(s.notification->slack->transcript->enabled, true);
  EXPECT_FALSE(s.cli.has_value());

  // One warning per moved or dropped field, at the line the user wrote it.
  const std::vector<std::pair<std::string, std::string>> kExpected = {
      {"apiVersion", "apiVersion:"},
      {"spec.identity.sessionPolicy", "sessionPolicy:"},
      {"spec.identity", "identity:"},
      {kSettingsPath + ".trustedDirectories", "settings.json"},
      {kSettingsPath, "settings.json"},
      {"spec.cli.notifyEmailEnabled", "notifyEmailEnabled:"},
      {"spec.cli.notifySlackEnabled", "notifySlackEnabled:"},
      {"spec.cli.notifySlackPerSandbox", "notifySlackPerSandbox:"},
      {"spec.cli.notifySlackInboundEnabled", "notifySlackInboundEnabled:"},
      {"spec.cli.notifySlackTranscriptEnabled", "notifySlackTranscriptEnabled:"},
  };
  Migrated m = migrate(text);
  ASSERT_EQ(m.notes.all().size(), kExpected.size()) << allNotes(m.notes);
  for (size_t i = 0; i < kExpected.size(); ++i) {
    const doc::Diagnostic& d = m.notes.all()[i];
    EXPECT_EQ(d.path, kExpected[i].first);
    EXPECT_EQ(d.line, lineOf(text, kExpected[i].second)) << d.path;
    EXPECT_EQ(d.file, "t.yaml");
    EXPECT_FALSE(d.isError());
  }
  // The loader reports the same migration warnings with the real file name.
  for (const auto& [path, needle] : kExpected) {
    bool found = false;
    for (const auto& d : l.diagnostics.all()) found = found || (d.path == path && d.file == "goose.yaml");
    EXPECT_TRUE(found) << path << "\n" << allNotes(l.diagnostics);
  }
}

TEST(MigrateEndToEndTest, ValidationErrorsOnMovedValuesPointAtTheLineTheUserWrote) {
  std::string text(kGooseV1);
  text.replace(text.find("notifySlackPerSandbox: true"), 27, "notifySlackPerSandbox: maybe");
  Loaded l = loadText(text, "goose.yaml", LoadOptions{});
  bool found = false;
  for (const auto& d : l.diagnostics.all()) {
    if (d.isError() && d.path == "spec.notification.slack.perSandbox") {
      found = true;
      EXPECT_EQ(d.line, lineOf(text, "notifySlackPerSandbox"));
    }
  }
  EXPECT_TRUE(found) << allNotes(l.diagnostics);
}

struct KmRun {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the km binary with KM_HOME in `dir` (paths in tests hold no shell metacharacters).
KmRun runKm(const ScopedTempDir& dir, const std::string& args) {
  std::string out = dir.path() + "/stdout.txt";
  std::string err = dir.path() + "/stderr.txt";
  std::string cmd = "KM_HOME=" + dir.path() + "/home " + km::test::kmBinary() + " " + args + " >" + out +
                    " 2>" + err;
  int raw = std::system(cmd.c_str());
  KmRun r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

TEST(MigrateCommandTest, KmProfileMigratePrintsAProfileKmValidateAccepts) {
  ScopedTempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string v1_file = dir.write("goose-v1.yaml", std::string(kGooseV1));

  KmRun migrated = runKm(dir, "profile migrate " + v1_file);
  ASSERT_EQ(migrated.status, 0) << migrated.err;
  EXPECT_THAT(migrated.out, HasSubstr("apiVersion: klankermaker.ai/v1alpha2"));
  EXPECT_THAT(migrated.out, ::testing::Not(HasSubstr("v1alpha1")));
  EXPECT_THAT(migrated.out, ::testing::Not(HasSubstr("identity")));
  EXPECT_THAT(migrated.err, HasSubstr("spec.cli.notifyEmailEnabled"));

  std::string v2_file = dir.write("goose-v2.yaml", migrated.out);
  KmRun validated = runKm(dir, "validate " + v2_file);
  EXPECT_EQ(validated.status, 0) << validated.out << validated.err;
  EXPECT_THAT(validated.out, HasSubstr("valid"));

  KmRun again = runKm(dir, "profile migrate " + v2_file);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("already v1alpha2"));
}

}  // namespace
}  // namespace km::profile
