// The structural rules of SandboxProfile (profile/schema.cc): for every required field, enum,
// pattern, bound and type a failing example whose error is checked for its field path, its
// line and column, and the key phrase of its message. Semantic rules are switched off so
// only the schema speaks. Also: encoding back to YAML, and the JSON Schema compared against
// upstream's.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "doc/json_io.h"
#include "doc/yaml_io.h"
#include "profile/profile.h"
#include "support/test_paths.h"

namespace km::profile {
namespace {

using doc::Diagnostic;

// All eight required spec sections, each with only its required fields. `spec` is the last
// top-level key, so text appended at two-space indent lands in spec.
constexpr std::string_view kMinimal = R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: minimal
spec:
  lifecycle:
    ttl: "4h"
    idleTimeout: "1h"
    teardownPolicy: destroy
  runtime:
    substrate: local
    instanceType: t3.medium
    region: us-east-1
  execution:
    shell: /bin/bash
    workingDir: /workspace
  sourceAccess:
    mode: none
  network:
    egress:
      allowedDNSSuffixes: []
      allowedHosts: []
  iam:
    roleSessionDuration: "1h"
    allowedRegions: [us-east-1]
  sidecars:
    dnsProxy: {enabled: true, image: km-dns-proxy:latest}
    httpProxy: {enabled: true, image: km-http-proxy:latest}
    auditLog: {enabled: true, image: km-audit-log:latest}
    tracing: {enabled: true, image: km-tracing:latest}
  observability:
    commandLog: {destination: stdout}
    networkLog: {destination: stdout}
)";

size_t occurrences(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The minimal profile with edits applied. Each edit names text that must occur exactly once.
class Yaml {
 public:
  Yaml() : text_(kMinimal) {}

  Yaml& replace(std::string_view from, std::string_view to) {
    EXPECT_EQ(occurrences(text_, from), 1u) << "\"" << from << "\" in\n" << text_;
    size_t at = text_.find(from);
    if (at != std::string::npos) text_.replace(at, from.size(), to);
    return *this;
  }
  Yaml& removeLine(std::string_view line) { return replace(std::string(line) + "\n", ""); }
  // Lines appended at the end of the document, i.e. inside spec at two-space indent.
  Yaml& append(std::string_view lines) {
    text_ += lines;
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

struct Position {
  uint32_t line = 0;
  uint32_t column = 0;
};

// Where `marked` points in `text`: `marked` is a snippet occurring exactly once, with a ^ in
// front of the character meant ("ttl: \"^4h30m\"").
Position positionOf(const std::string& text, std::string_view marked) {
  size_t caret = marked.find('^');
  EXPECT_NE(caret, std::string_view::npos) << marked;
  std::string needle = std::string(marked.substr(0, caret)) + std::string(marked.substr(caret + 1));
  EXPECT_EQ(occurrences(text, needle), 1u) << "\"" << needle << "\" in\n" << text;
  size_t at = text.find(needle);
  if (at == std::string::npos) return {};
  at += caret;
  Position p{1, 1};
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

Loaded loadStructural(const std::string& yaml) {
  LoadOptions options;
  options.semantics = false;  // semantic rules are tested in semantic_test.cc
  return loadText(yaml, "p.yaml", options);
}

std::string dump(const doc::Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.all()) out += "\n  " + d.format();
  return out;
}

// Exactly one diagnostic: an error at `path`, located at the ^ of `where`, whose message
// contains `phrase`.
void checkOneError(const std::string& yaml, std::string_view path, std::string_view where,
                   std::string_view phrase) {
  Loaded l = loadStructural(yaml);
  ASSERT_EQ(l.diagnostics.all().size(), 1u) << yaml << dump(l.diagnostics);
  const Diagnostic& d = l.diagnostics.all().front();
  EXPECT_TRUE(d.isError()) << d.format();
  EXPECT_EQ(d.file, "p.yaml");
  EXPECT_EQ(d.path, path) << d.format();
  Position want = positionOf(yaml, where);
  EXPECT_EQ(d.line, want.line) << d.format();
  EXPECT_EQ(d.column, want.column) << d.format();
  EXPECT_NE(d.message.find(phrase), std::string::npos) << "message lacks \"" << phrase << "\": " << d.format();
}

#define EXPECT_SCHEMA_ERROR(yaml, path, where, phrase) \
  do {                                                 \
    SCOPED_TRACE(path);                                \
    checkOneError((yaml), (path), (where), (phrase));  \
  } while (0)

void expectValid(const std::string& yaml) {
  Loaded l = loadStructural(yaml);
  EXPECT_TRUE(l.diagnostics.all().empty()) << yaml << dump(l.diagnostics);
}

#define EXPECT_SCHEMA_VALID(yaml) \
  do {                            \
    SCOPED_TRACE(yaml);           \
    expectValid(yaml);            \
  } while (0)

// ---- the minimal profile ---------------------------------------------------------------

TEST(ProfileSchemaTest, MinimalProfileWithAllEightSectionsHasNoDiagnostics) {
  Loaded l = loadStructural(Yaml().text());
  EXPECT_TRUE(l.diagnostics.all().empty()) << dump(l.diagnostics);
  EXPECT_EQ(l.profile.api_version, "klankermaker.ai/v1alpha2");
  EXPECT_EQ(l.profile.metadata.name, "minimal");
  EXPECT_EQ(l.profile.spec.lifecycle.ttl, "4h");
  EXPECT_EQ(l.profile.spec.runtime.substrate, "local");
  EXPECT_EQ(l.profile.spec.iam.allowed_regions, (Strings{"us-east-1"}));
  EXPECT_TRUE(l.profile.spec.sidecars.tracing.enabled);
  EXPECT_EQ(l.profile.spec.observability.network_log.destination, "stdout");
}

TEST(ProfileSchemaTest, NonMappingRootIsRefused) {
  for (const char* text : {"- a\n- b\n", "just a string\n", "42\n"}) {
    Loaded l = loadStructural(text);
    ASSERT_EQ(l.diagnostics.errorCount(), 1u) << text << dump(l.diagnostics);
    const Diagnostic& d = l.diagnostics.all().front();
    EXPECT_EQ(d.line, 1u) << d.format();
    EXPECT_NE(d.message.find("a profile is a YAML mapping with apiVersion, kind, metadata and spec"),
              std::string::npos)
        << d.format();
  }
}

TEST(ProfileSchemaTest, YamlProblemsSurfaceThroughTheLoader) {
  Loaded dup = loadStructural(Yaml().append("  lifecycle: {}\n").text());
  ASSERT_EQ(dup.diagnostics.errorCount(), 1u) << dump(dup.diagnostics);
  EXPECT_NE(dup.diagnostics.all()[0].message.find("appears twice"), std::string::npos);
  Loaded empty = loadStructural("");
  ASSERT_EQ(empty.diagnostics.errorCount(), 1u);
  EXPECT_NE(empty.diagnostics.all()[0].message.find("empty"), std::string::npos);
}

// ---- required fields -------------------------------------------------------------------

TEST(ProfileSchemaTest, EachMissingTopLevelFieldIsReportedWithAnExample) {
  EXPECT_SCHEMA_ERROR(Yaml().removeLine("apiVersion: klankermaker.ai/v1alpha2").text(), "apiVersion",
                      "^kind: SandboxProfile",
                      "required field \"apiVersion\" is missing; add it, e.g. apiVersion: klankermaker.ai/v1alpha2");
  EXPECT_SCHEMA_ERROR(Yaml().removeLine("kind: SandboxProfile").text(), "kind", "^apiVersion",
                      "required field \"kind\" is missing; add it, e.g. kind: SandboxProfile");
  EXPECT_SCHEMA_ERROR(Yaml().replace("metadata:\n  name: minimal\n", "").text(), "metadata", "^apiVersion",
                      "required field \"metadata\" is missing; add it, e.g. metadata: {name: my-profile}");
  std::string no_spec(kMinimal.substr(0, kMinimal.find("spec:")));
  EXPECT_SCHEMA_ERROR(no_spec, "spec", "^apiVersion", "required field \"spec\" is missing; add it, e.g. spec: {lifecycle:");
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  labels: {}\n").text(), "metadata.name",
                      "  ^labels: {}", "required field \"name\" is missing; add it, e.g. name: my-profile");
}

// Removes spec section `name` (its header line and its indented body).
std::string withoutSection(std::string_view name) {
  std::string text(kMinimal);
  std::string header = "  " + std::string(name) + ":\n";
  size_t start = text.find(header);
  EXPECT_NE(start, std::string::npos) << name;
  size_t end = start + header.size();
  while (end < text.size() && text.compare(end, 4, "    ") == 0) end = text.find('\n', end) + 1;
  text.erase(start, end - start);
  return text;
}

TEST(ProfileSchemaTest, EachMissingSpecSectionIsReportedWithAnExample) {
  const std::vector<std::pair<std::string, std::string>> sections = {
      {"lifecycle", "lifecycle: {ttl: \"4h\", idleTimeout: \"1h\", teardownPolicy: destroy}"},
      {"runtime", "runtime: {substrate: local, instanceType: t3.medium, region: us-east-1}"},
      {"execution", "execution: {shell: /bin/bash, workingDir: /workspace}"},
      {"sourceAccess", "sourceAccess: {mode: none}"},
      {"network", "network: {egress: {allowedDNSSuffixes: [], allowedHosts: []}}"},
      {"iam", "iam: {roleSessionDuration: \"1h\", allowedRegions: [us-east-1]}"},
      {"sidecars", "sidecars: {dnsProxy:"},
      {"observability", "observability: {commandLog: {destination: stdout}, networkLog: {destination: stdout}}"},
  };
  for (const auto& [name, example] : sections) {
    std::string text = withoutSection(name);
    // spec's mapping starts at its first remaining key.
    std::string first = name == "lifecycle" ? "  ^runtime:" : "  ^lifecycle:";
    EXPECT_SCHEMA_ERROR(text, "spec." + name, first,
                        "required field \"" + name + "\" is missing; add it, e.g. " + example);
  }
}

TEST(ProfileSchemaTest, EachMissingRequiredFieldInsideASectionIsReported) {
  struct Case {
    std::string remove, path, where, phrase;
  };
  const std::vector<Case> cases = {
      {"    ttl: \"4h\"", "spec.lifecycle.ttl", "    ^idleTimeout", "e.g. ttl: \"4h\""},
      {"    idleTimeout: \"1h\"", "spec.lifecycle.idleTimeout", "    ^ttl", "e.g. idleTimeout: \"1h\""},
      {"    teardownPolicy: destroy", "spec.lifecycle.teardownPolicy", "    ^ttl", "e.g. teardownPolicy: destroy"},
      {"    substrate: local", "spec.runtime.substrate", "    ^instanceType", "e.g. substrate: local"},
      {"    instanceType: t3.medium", "spec.runtime.instanceType", "    ^substrate", "e.g. instanceType: t3.medium"},
      {"    region: us-east-1", "spec.runtime.region", "    ^substrate", "e.g. region: us-east-1"},
      {"    shell: /bin/bash", "spec.execution.shell", "    ^workingDir", "e.g. shell: /bin/bash"},
      {"    workingDir: /workspace", "spec.execution.workingDir", "    ^shell", "e.g. workingDir: /workspace"},
      {"      allowedDNSSuffixes: []", "spec.network.egress.allowedDNSSuffixes", "      ^allowedHosts",
       "e.g. allowedDNSSuffixes: []"},
      {"      allowedHosts: []", "spec.network.egress.allowedHosts", "      ^allowedDNSSuffixes",
       "e.g. allowedHosts: []"},
      {"    roleSessionDuration: \"1h\"", "spec.iam.roleSessionDuration", "    ^allowedRegions",
       "e.g. roleSessionDuration: \"1h\""},
      {"    allowedRegions: [us-east-1]", "spec.iam.allowedRegions", "    ^roleSessionDuration",
       "e.g. allowedRegions: [us-east-1]"},
      {"    dnsProxy: {enabled: true, image: km-dns-proxy:latest}", "spec.sidecars.dnsProxy", "    ^httpProxy",
       "e.g. dnsProxy: {enabled: true, image: km-dns-proxy:latest}"},
      {"    httpProxy: {enabled: true, image: km-http-proxy:latest}", "spec.sidecars.httpProxy", "    ^dnsProxy",
       "e.g. httpProxy: {enabled: true, image: km-http-proxy:latest}"},
      {"    auditLog: {enabled: true, image: km-audit-log:latest}", "spec.sidecars.auditLog", "    ^dnsProxy",
       "e.g. auditLog: {enabled: true, image: km-audit-log:latest}"},
      {"    tracing: {enabled: true, image: km-tracing:latest}", "spec.sidecars.tracing", "    ^dnsProxy",
       "e.g. tracing: {enabled: true, image: km-tracing:latest}"},
      {"    commandLog: {destination: stdout}", "spec.observability.commandLog", "    ^networkLog",
       "e.g. commandLog: {destination: stdout}"},
      {"    networkLog: {destination: stdout}", "spec.observability.networkLog", "    ^commandLog",
       "e.g. networkLog: {destination: stdout}"},
  };
  for (const auto& c : cases) {
    EXPECT_SCHEMA_ERROR(Yaml().removeLine(c.remove).text(), c.path, c.where,
                        "required field \"" + c.path.substr(c.path.rfind('.') + 1) + "\" is missing; add it, " + c.phrase);
  }
  EXPECT_SCHEMA_ERROR(Yaml().replace("    mode: none\n", "    github: {allowedRepos: []}\n").text(),
                      "spec.sourceAccess.mode", "    ^github", "required field \"mode\" is missing; add it, e.g. mode: allowlist");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    egress:\n      allowedDNSSuffixes: []\n      allowedHosts: []\n",
                                     "    httpsOnly: true\n").text(),
                      "spec.network.egress", "    ^httpsOnly",
                      "required field \"egress\" is missing; add it, e.g. egress: {allowedDNSSuffixes: [], allowedHosts: []}");
}

TEST(ProfileSchemaTest, RequiredFieldsOfOptionalBlocksAreReportedWhenTheBlockIsWritten) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("{enabled: true, image: km-tracing:latest}", "{image: km-tracing:latest}").text(),
                      "spec.sidecars.tracing.enabled", "    tracing: ^{image", "required field \"enabled\" is missing; add it, e.g. enabled: true");
  EXPECT_SCHEMA_ERROR(Yaml().replace("{enabled: true, image: km-tracing:latest}", "{enabled: false}").text(),
                      "spec.sidecars.tracing.image", "    tracing: ^{enabled", "required field \"image\" is missing; add it, e.g. image: km-dns-proxy:latest");
  EXPECT_SCHEMA_ERROR(Yaml().replace("networkLog: {destination: stdout}", "networkLog: {logGroup: /x}").text(),
                      "spec.observability.networkLog.destination", "networkLog: ^{logGroup", "required field \"destination\" is missing; add it, e.g. destination: stdout");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    mode: none\n", "    mode: allowlist\n    github: {allowedRefs: [main]}\n").text(),
                      "spec.sourceAccess.github.allowedRepos", "github: ^{allowedRefs", "required field \"allowedRepos\" is missing; add it, e.g. allowedRepos: [my-org/api]");
  EXPECT_SCHEMA_ERROR(Yaml().append("    tlsCapture: {libraries: [openssl]}\n").text(),  // into observability
                      "spec.observability.tlsCapture.enabled", "tlsCapture: ^{libraries", "required field \"enabled\" is missing; add it, e.g. enabled: true");
  EXPECT_SCHEMA_ERROR(Yaml().append("  budget:\n    compute: {}\n").text(), "spec.budget.compute.maxSpendUSD",
                      "compute: ^{}", "required field \"maxSpendUSD\" is missing; add it, e.g. maxSpendUSD: 1.00");
  EXPECT_SCHEMA_ERROR(Yaml().append("  budget:\n    ai: {}\n").text(), "spec.budget.ai.maxSpendUSD",
                      "ai: ^{}", "required field \"maxSpendUSD\" is missing");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1\n", "    region: us-east-1\n    additionalVolume: {mountPoint: /data}\n").text(),
                      "spec.runtime.additionalVolume.size", "additionalVolume: ^{mountPoint", "required field \"size\" is missing; add it, e.g. size: 20");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1\n", "    region: us-east-1\n    additionalVolume: {size: 20}\n").text(),
                      "spec.runtime.additionalVolume.mountPoint", "additionalVolume: ^{size", "required field \"mountPoint\" is missing; add it, e.g. mountPoint: /data");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1\n", "    region: us-east-1\n    additionalSnapshots: [{mountPoint: /d}]\n").text(),
                      "spec.runtime.additionalSnapshots[0].snapshotId", "additionalSnapshots: [^{mountPoint", "required field \"snapshotId\" is missing; add it, e.g. snapshotId: snap-0123abcd");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1\n", "    region: us-east-1\n    additionalSnapshots: [{snapshotId: snap-0123abcd}]\n").text(),
                      "spec.runtime.additionalSnapshots[0].mountPoint", "additionalSnapshots: [^{snapshotId", "required field \"mountPoint\" is missing; add it, e.g. mountPoint: /data2");
}

// ---- apiVersion, kind, metadata --------------------------------------------------------

TEST(ProfileSchemaTest, ApiVersionMustEndInV1alpha2) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("klankermaker.ai/v1alpha2", "foo/v2").text(), "apiVersion",
                      "apiVersion: ^foo/v2", "\"foo/v2\" is not an API version ending in /v1alpha2");
  EXPECT_SCHEMA_ERROR(Yaml().replace("klankermaker.ai/v1alpha2", "v1alpha2").text(), "apiVersion",
                      "apiVersion: ^v1alpha2", "must match ^.+/v1alpha2$");
  EXPECT_SCHEMA_VALID(Yaml().replace("klankermaker.ai/v1alpha2", "foo/v1alpha2").text());
}

TEST(ProfileSchemaTest, KindMustBeSandboxProfile) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("kind: SandboxProfile", "kind: SandboxProfil").text(), "kind",
                      "kind: ^SandboxProfil", "use one of: SandboxProfile (did you mean \"SandboxProfile\"?)");
  EXPECT_SCHEMA_ERROR(Yaml().replace("kind: SandboxProfile", "kind: Pod").text(), "kind", "kind: ^Pod",
                      "\"Pod\" is not allowed; use one of: SandboxProfile");
}

TEST(ProfileSchemaTest, MetadataNameMustNotBeEmpty) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("name: minimal", "name: \"\"").text(), "metadata.name", "name: ^\"\"",
                      "must not be empty");
}

TEST(ProfileSchemaTest, PrefixIsOneToTwelveLowercaseLettersAndDigits) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  name: minimal\n  prefix: Dev\n").text(),
                      "metadata.prefix", "prefix: ^Dev", "\"Dev\" is not a lowercase word of 1 to 12 letters");
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  name: minimal\n  prefix: abcdefghijklm\n").text(),
                      "metadata.prefix", "prefix: ^abcdefghijklm", "must match ^[a-z][a-z0-9]{0,11}$");
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  name: minimal\n  prefix: 1ab\n").text(),
                      "metadata.prefix", "prefix: ^1ab", "is not a lowercase word");
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  name: minimal\n  prefix: sb-x\n").text(),
                      "metadata.prefix", "prefix: ^sb-x", "is not a lowercase word");
  EXPECT_SCHEMA_VALID(Yaml().replace("  name: minimal\n", "  name: minimal\n  prefix: abcdefghijkl\n").text());
  EXPECT_SCHEMA_VALID(Yaml().replace("  name: minimal\n", "  name: minimal\n  prefix: gebpfgk\n").text());
}

TEST(ProfileSchemaTest, MetadataAbstractIsABoolean) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  name: minimal\n  abstract: 1\n").text(),
                      "metadata.abstract", "abstract: ^1", "expected true or false, got a whole number (1)");
}

TEST(ProfileSchemaTest, ExtendsIsANameOrAListOfNames) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("kind: SandboxProfile\n", "kind: SandboxProfile\nextends: 5\n").text(),
                      "extends", "extends: ^5", "or a list of names, got a whole number");
  EXPECT_SCHEMA_ERROR(Yaml().replace("kind: SandboxProfile\n", "kind: SandboxProfile\nextends: {a: b}\n").text(),
                      "extends", "extends: ^{a", "or a list of names, got a mapping");
}

// ---- lifecycle -------------------------------------------------------------------------

TEST(ProfileSchemaTest, TtlIsZeroOrOneNumberAndOneUnit) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("ttl: \"4h\"", "ttl: \"4h30m\"").text(), "spec.lifecycle.ttl",
                      "ttl: ^\"4h30m\"", "\"4h30m\" is not \"0\" or a number and one unit (s, m, h, d)");
  EXPECT_SCHEMA_ERROR(Yaml().replace("ttl: \"4h\"", "ttl: 4 hours").text(), "spec.lifecycle.ttl",
                      "ttl: ^4 hours", "must match ^(0|[0-9]+(s|m|h|d))$");
  EXPECT_SCHEMA_ERROR(Yaml().replace("ttl: \"4h\"", "ttl: \"\"").text(), "spec.lifecycle.ttl",
                      "ttl: ^\"\"", "is not \"0\" or a number");
  for (const char* ok : {"\"0\"", "30s", "15m", "24h", "2d"})
    EXPECT_SCHEMA_VALID(Yaml().replace("ttl: \"4h\"", std::string("ttl: ") + ok).text());
}

TEST(ProfileSchemaTest, UnquotedNumberForADurationSuggestsQuotes) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("ttl: \"4h\"", "ttl: 0").text(), "spec.lifecycle.ttl", "ttl: ^0",
                      "expected a string, got a whole number (0); put it in quotes: \"0\"");
}

// Quoting 90 or 1.5 would still be wrong (a unit is required), so the hint says what is right.
TEST(ProfileSchemaTest, UnquotedNumberThatNeedsAUnitSaysTheFormNotQuotes) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("idleTimeout: \"1h\"", "idleTimeout: 1.5").text(), "spec.lifecycle.idleTimeout",
                      "idleTimeout: ^1.5", "expected a string, got a number (1.5); write a number and one unit");
  EXPECT_SCHEMA_ERROR(Yaml().replace("idleTimeout: \"1h\"", "idleTimeout: 90").text(), "spec.lifecycle.idleTimeout",
                      "idleTimeout: ^90", "expected a string, got a whole number (90); write a number and one unit");
}

TEST(ProfileSchemaTest, IdleTimeoutIsOneNumberAndUnitAndNeverZero) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("idleTimeout: \"1h\"", "idleTimeout: \"4h30m\"").text(),
                      "spec.lifecycle.idleTimeout", "idleTimeout: ^\"4h30m\"", "is not a number and one unit (s, m, h, d)");
  EXPECT_SCHEMA_ERROR(Yaml().replace("idleTimeout: \"1h\"", "idleTimeout: \"0\"").text(),
                      "spec.lifecycle.idleTimeout", "idleTimeout: ^\"0\"", "must match ^[0-9]+(s|m|h|d)$");
  EXPECT_SCHEMA_VALID(Yaml().replace("idleTimeout: \"1h\"", "idleTimeout: 1d").text());
}

TEST(ProfileSchemaTest, TeardownPolicyIsDestroyStopOrRetain) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("teardownPolicy: destroy", "teardownPolicy: delete").text(),
                      "spec.lifecycle.teardownPolicy", "teardownPolicy: ^delete",
                      "\"delete\" is not allowed; use one of: destroy, stop, retain");
  EXPECT_SCHEMA_ERROR(Yaml().replace("teardownPolicy: destroy", "teardownPolicy: destory").text(),
                      "spec.lifecycle.teardownPolicy", "teardownPolicy: ^destory", "did you mean \"destroy\"?");
  for (const char* ok : {"stop", "retain"})
    EXPECT_SCHEMA_VALID(Yaml().replace("teardownPolicy: destroy", std::string("teardownPolicy: ") + ok).text());
}

// ---- runtime ---------------------------------------------------------------------------

std::string withRuntime(std::string_view extra) {
  return Yaml().replace("    region: us-east-1\n", "    region: us-east-1\n" + std::string(extra)).text();
}

TEST(ProfileSchemaTest, SubstrateIsLocalEc2EcsOrDocker) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("substrate: local", "substrate: kubernetes").text(), "spec.runtime.substrate",
                      "substrate: ^kubernetes", "\"kubernetes\" is not allowed; use one of: local, ec2, ecs, docker");
  EXPECT_SCHEMA_ERROR(Yaml().replace("substrate: local", "substrate: EC2").text(), "spec.runtime.substrate",
                      "substrate: ^EC2", "did you mean \"ec2\"?");
  for (const char* ok : {"local", "ec2", "ecs", "docker"})
    EXPECT_SCHEMA_VALID(Yaml().replace("substrate: local", std::string("substrate: ") + ok).text());
}

TEST(ProfileSchemaTest, InstanceTypeLooksLikeFamilyDotSize) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("instanceType: t3.medium", "instanceType: t3medium").text(),
                      "spec.runtime.instanceType", "instanceType: ^t3medium", "\"t3medium\" is not an instance type like t3.medium");
  EXPECT_SCHEMA_ERROR(Yaml().replace("instanceType: t3.medium", "instanceType: \"\"").text(),
                      "spec.runtime.instanceType", "instanceType: ^\"\"", "must not be empty");
  for (const char* ok : {"g6e.12xlarge", "m7i-flex.large", "u-6tb1.metal"})
    EXPECT_SCHEMA_VALID(Yaml().replace("instanceType: t3.medium", std::string("instanceType: ") + ok).text());
}

TEST(ProfileSchemaTest, RegionLooksLikeAnAwsRegion) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1", "    region: us-east").text(), "spec.runtime.region",
                      "    region: ^us-east", "\"us-east\" is not a region like us-east-1");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1", "    region: US-EAST-1").text(), "spec.runtime.region",
                      "    region: ^US-EAST-1", "must match");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1", "    region: \"\"").text(), "spec.runtime.region",
                      "    region: ^\"\"", "must not be empty");
  for (const char* ok : {"eu-central-2", "us-gov-west-1", "ap-southeast-4"})
    EXPECT_SCHEMA_VALID(Yaml().replace("    region: us-east-1", std::string("    region: ") + ok).text());
}

TEST(ProfileSchemaTest, RootVolumeSizeIsNotNegative) {
  EXPECT_SCHEMA_ERROR(withRuntime("    rootVolumeSize: -1\n"), "spec.runtime.rootVolumeSize", "rootVolumeSize: ^-1",
                      "must be at least 0, got -1");
  EXPECT_SCHEMA_ERROR(withRuntime("    rootVolumeSize: 20.5\n"), "spec.runtime.rootVolumeSize",
                      "rootVolumeSize: ^20.5", "expected a whole number, got 20.5");
  EXPECT_SCHEMA_ERROR(withRuntime("    rootVolumeSize: \"20\"\n"), "spec.runtime.rootVolumeSize",
                      "rootVolumeSize: ^\"20\"", "expected a whole number, got a string (20)");
  EXPECT_SCHEMA_VALID(withRuntime("    rootVolumeSize: 0\n"));
}

TEST(ProfileSchemaTest, AdditionalVolumeSizeIsAtLeastOne) {
  EXPECT_SCHEMA_ERROR(withRuntime("    additionalVolume: {size: 0, mountPoint: /data}\n"),
                      "spec.runtime.additionalVolume.size", "{size: ^0", "must be at least 1, got 0");
  EXPECT_SCHEMA_ERROR(withRuntime("    additionalVolume: {size: 1, mountPoint: \"\"}\n"),
                      "spec.runtime.additionalVolume.mountPoint", "mountPoint: ^\"\"", "must not be empty");
  EXPECT_SCHEMA_VALID(withRuntime("    additionalVolume: {size: 20, mountPoint: /data, encrypted: true}\n"));
}

TEST(ProfileSchemaTest, AdditionalSnapshotFieldsFollowTheirPatterns) {
  EXPECT_SCHEMA_ERROR(withRuntime("    additionalSnapshots:\n      - {snapshotId: snap-xyz, mountPoint: /d}\n"),
                      "spec.runtime.additionalSnapshots[0].snapshotId", "snapshotId: ^snap-xyz",
                      "\"snap-xyz\" is not a snapshot id like snap-0123abcd");
  EXPECT_SCHEMA_ERROR(withRuntime("    additionalSnapshots:\n      - {snapshotId: snap-0123abcd, mountPoint: data}\n"),
                      "spec.runtime.additionalSnapshots[0].mountPoint", "mountPoint: ^data}", "\"data\" is not an absolute path");
  EXPECT_SCHEMA_ERROR(withRuntime("    additionalSnapshots:\n      - {snapshotId: snap-0123abcd, mountPoint: /d}\n"
                                  "      - {snapshotId: snap-0123abce, mountPoint: /e, device: /dev/sda}\n"),
                      "spec.runtime.additionalSnapshots[1].device", "device: ^/dev/sda", "is not a device /dev/sdf");
  EXPECT_SCHEMA_ERROR(withRuntime("    additionalSnapshots:\n      - {snapshotId: snap-0123abcd, mountPoint: /d, size: 0}\n"),
                      "spec.runtime.additionalSnapshots[0].size", "size: ^0", "must be at least 1, got 0");
  EXPECT_SCHEMA_VALID(withRuntime("    additionalSnapshots:\n      - {snapshotId: snap-0123456789abcdef0, mountPoint: /d, "
                                  "device: /dev/sdp, encrypted: true, size: 100}\n"));
}

TEST(ProfileSchemaTest, AmiIsAKnownNameOrAnImageId) {
  EXPECT_SCHEMA_ERROR(withRuntime("    ami: windows-2022\n"), "spec.runtime.ami", "ami: ^windows-2022",
                      "\"windows-2022\" is not valid; use one of amazon-linux-2023, ubuntu-24.04, ubuntu-22.04, \"\", or an image id like ami-0123abcd");
  EXPECT_SCHEMA_ERROR(withRuntime("    ami: ami-XYZ\n"), "spec.runtime.ami", "ami: ^ami-XYZ", "is not valid");
  for (const char* ok : {"amazon-linux-2023", "ubuntu-24.04", "ubuntu-22.04", "\"\"", "ami-0123abcd"})
    EXPECT_SCHEMA_VALID(withRuntime(std::string("    ami: ") + ok + "\n"));
}

TEST(ProfileSchemaTest, EfsMountPointAndAzPreferenceMustNotBeEmpty) {
  EXPECT_SCHEMA_ERROR(withRuntime("    efsMountPoint: \"\"\n"), "spec.runtime.efsMountPoint",
                      "efsMountPoint: ^\"\"", "must not be empty");
  EXPECT_SCHEMA_ERROR(withRuntime("    azPreference: [us-east-1a, \"\"]\n"), "spec.runtime.azPreference[1]",
                      "us-east-1a, ^\"\"", "must not be empty");
  EXPECT_SCHEMA_VALID(withRuntime("    mountEFS: true\n    efsMountPoint: /shared\n    azPreference: [us-east-1c]\n"));
}

TEST(ProfileSchemaTest, DesktopModeBrowsersAndGeometryAreChecked) {
  EXPECT_SCHEMA_ERROR(withRuntime("    desktop: {enabled: true, mode: tablet}\n"), "spec.runtime.desktop.mode",
                      "mode: ^tablet", "\"tablet\" is not allowed; use one of: kiosk, full");
  EXPECT_SCHEMA_ERROR(withRuntime("    desktop: {enabled: true, browsers: [firefox, safari]}\n"),
                      "spec.runtime.desktop.browsers[1]", "firefox, ^safari",
                      "\"safari\" is not allowed; use one of: firefox, chromium, chrome, brave");
  EXPECT_SCHEMA_ERROR(withRuntime("    desktop: {enabled: true, geometry: 1920X1080}\n"), "spec.runtime.desktop.geometry",
                      "geometry: ^1920X1080", "is not WIDTHxHEIGHT like 1920x1080");
  EXPECT_SCHEMA_VALID(withRuntime("    desktop: {enabled: true, mode: full, browsers: [chrome, brave], geometry: 1280x720}\n"));
}

TEST(ProfileSchemaTest, BooleansRefuseYamlOneOneWords) {
  EXPECT_SCHEMA_ERROR(withRuntime("    spot: yes\n"), "spec.runtime.spot", "spot: ^yes",
                      "expected true or false, got a string (yes); write true");
  EXPECT_SCHEMA_ERROR(withRuntime("    hibernation: off\n"), "spec.runtime.hibernation", "hibernation: ^off",
                      "write false");
  EXPECT_SCHEMA_ERROR(withRuntime("    vscode: {enabled: \"true\"}\n"), "spec.runtime.vscode.enabled",
                      "enabled: ^\"true\"", "write true or false without quotes");
  EXPECT_SCHEMA_VALID(withRuntime("    spot: True\n    hibernation: FALSE\n"));
}

// ---- execution -------------------------------------------------------------------------

TEST(ProfileSchemaTest, ShellAndWorkingDirMustNotBeEmpty) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("shell: /bin/bash", "shell: \"\"").text(), "spec.execution.shell",
                      "shell: ^\"\"", "must not be empty");
  EXPECT_SCHEMA_ERROR(Yaml().replace("workingDir: /workspace", "workingDir: \"\"").text(),
                      "spec.execution.workingDir", "workingDir: ^\"\"", "must not be empty");
}

TEST(ProfileSchemaTest, ListGivenAScalarSuggestsListSyntax) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("    workingDir: /workspace\n", "    workingDir: /workspace\n    initCommands: echo hi\n").text(),
                      "spec.execution.initCommands", "initCommands: ^echo hi",
                      "expected a list, got a string (echo hi); write it as a list: [echo hi]");
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedRegions: [us-east-1]", "allowedRegions: us-east-1").text(),
                      "spec.iam.allowedRegions", "allowedRegions: ^us-east-1", "write it as a list: [us-east-1]");
}

TEST(ProfileSchemaTest, NullForAListSuggestsEmptyBrackets) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedHosts: []", "allowedHosts:").text(), "spec.network.egress.allowedHosts",
                      "      ^allowedHosts:", "expected a list, got nothing; give it a value (write [] for an empty list)");
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedDNSSuffixes: []", "allowedDNSSuffixes: ~").text(),
                      "spec.network.egress.allowedDNSSuffixes", "allowedDNSSuffixes: ^~", "write [] for an empty list");
}

TEST(ProfileSchemaTest, StringMapsNeedStringValues) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("    workingDir: /workspace\n", "    workingDir: /workspace\n    env: {DEBUG: 1}\n").text(),
                      "spec.execution.env.DEBUG", "DEBUG: ^1", "expected a string, got a whole number (1); put it in quotes: \"1\"");
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  name: minimal\n  labels: {team: [a]}\n").text(),
                      "metadata.labels.team", "team: ^[a]", "expected a string, got a list");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    workingDir: /workspace\n", "    workingDir: /workspace\n    configFiles:\n      /etc/x.conf: true\n").text(),
                      "spec.execution.configFiles[\"/etc/x.conf\"]", "/etc/x.conf: ^true", "put it in quotes: \"true\"");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    workingDir: /workspace\n", "    workingDir: /workspace\n    env: [A=1]\n").text(),
                      "spec.execution.env", "env: ^[A=1]", "expected a mapping, got a list");
}

TEST(ProfileSchemaTest, FreeFormMapsAcceptAnyKeysAndText) {
  EXPECT_SCHEMA_VALID(Yaml()
                          .replace("  name: minimal\n", "  name: minimal\n  labels: {anything: goes, \"with space\": \"1\", x.y/z: \"\"}\n")
                          .replace("    workingDir: /workspace\n",
                                   "    workingDir: /workspace\n"
                                   "    env: {WEIRD_name-1: value, EMPTY: \"\"}\n"
                                   "    configFiles:\n"
                                   "      /home/sandbox/.config/x.json: |\n"
                                   "        {\"a\": [1, 2]}\n"
                                   "      relative/ok.txt: \"plain\"\n")
                          .append("  agent:\n"
                                  "    claude:\n"
                                  "      permissions:\n"
                                  "        allow: [\"Bash(git *)\"]\n"
                                  "        nested: {deep: {number: 3, flag: true, nothing: ~}}\n"
                                  "        defaultMode: acceptEdits\n")
                          .text());
}

TEST(ProfileSchemaTest, ClaudePermissionsMustBeAnObject) {
  EXPECT_SCHEMA_ERROR(Yaml().append("  agent:\n    claude:\n      permissions: [Bash]\n").text(),
                      "spec.agent.claude.permissions", "permissions: ^[Bash]", "expected a mapping, got a list");
}

// ---- source access and network ---------------------------------------------------------

TEST(ProfileSchemaTest, SourceAccessModeIsAllowlistOrNone) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("mode: none", "mode: open").text(), "spec.sourceAccess.mode", "mode: ^open",
                      "\"open\" is not allowed; use one of: allowlist, none");
}

std::string withGithub(std::string_view body) {
  return Yaml().replace("    mode: none\n", "    mode: allowlist\n    github:\n" + std::string(body)).text();
}

TEST(ProfileSchemaTest, AllowedReposLookLikeOwnerSlashRepo) {
  EXPECT_SCHEMA_ERROR(withGithub("      allowedRepos: [org/api, \"not a repo\"]\n"),
                      "spec.sourceAccess.github.allowedRepos[1]", "org/api, ^\"not a repo\"",
                      "\"not a repo\" is not a repository like owner/repo, owner/* or *");
  EXPECT_SCHEMA_ERROR(withGithub("      allowedRepos: [gitlab.com/org/api]\n"),
                      "spec.sourceAccess.github.allowedRepos[0]", "[^gitlab.com", "is not a repository");
  EXPECT_SCHEMA_VALID(withGithub("      allowedRepos: [\"*\", org/*, org/repo.js, github.com/org/api, github.com/*]\n"));
}

TEST(ProfileSchemaTest, AllowedRefsAreGitRefNamesOrGlobs) {
  EXPECT_SCHEMA_ERROR(withGithub("      allowedRepos: [org/api]\n      allowedRefs: [main, bad..ref]\n"),
                      "spec.sourceAccess.github.allowedRefs[1]", "main, ^bad..ref",
                      "\"bad..ref\" is not a branch name or glob like main or feature/*");
  EXPECT_SCHEMA_ERROR(withGithub("      allowedRepos: [org/api]\n      allowedRefs: [\"has space\"]\n"),
                      "spec.sourceAccess.github.allowedRefs[0]", "[^\"has space\"", "is not a branch name");
  EXPECT_SCHEMA_ERROR(withGithub("      allowedRepos: [org/api]\n      allowedRefs: [\"ref:colon\"]\n"),
                      "spec.sourceAccess.github.allowedRefs[0]", "[^\"ref:colon\"", "is not a branch name");
  EXPECT_SCHEMA_VALID(withGithub("      allowedRepos: [org/api]\n      allowedRefs: [main, feature/*, fix/*, release-1.2, \"*\"]\n"));
}

TEST(ProfileSchemaTest, AllowedDnsSuffixesAreDomainNames) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedDNSSuffixes: []", "allowedDNSSuffixes: [.github.com, \"*.example.com\"]").text(),
                      "spec.network.egress.allowedDNSSuffixes[1]", ".github.com, ^\"*.example.com\"",
                      "\"*.example.com\" is not a DNS suffix like .example.com");
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedDNSSuffixes: []", "allowedDNSSuffixes: [\"https://x.com\"]").text(),
                      "spec.network.egress.allowedDNSSuffixes[0]", "[^\"https://x.com\"", "is not a DNS suffix");
  EXPECT_SCHEMA_VALID(Yaml().replace("allowedDNSSuffixes: []",
                                     "allowedDNSSuffixes: [.amazonaws.com, github.com, \"*\", .registry.hub.docker.com]").text());
}

TEST(ProfileSchemaTest, AllowedHostsRefusePortsAndWildcardsWithAHintToUseSuffixes) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedHosts: []", "allowedHosts: [\"api.example.com:443\"]").text(),
                      "spec.network.egress.allowedHosts[0]", "[^\"api.example.com:443\"",
                      "is not one exact host name without port or wildcard (put a domain with its subdomains in allowedDNSSuffixes as .example.com)");
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedHosts: []", "allowedHosts: [\"*.x.com\"]").text(),
                      "spec.network.egress.allowedHosts[0]", "[^\"*.x.com\"", "allowedDNSSuffixes");
  EXPECT_SCHEMA_VALID(Yaml().replace("allowedHosts: []", "allowedHosts: [\"*\", api.github.com, \"[2001:db8::1]\"]").text());
}

TEST(ProfileSchemaTest, EnforcementIsProxyEbpfOrBoth) {
  std::string base = Yaml().replace("      allowedHosts: []\n", "      allowedHosts: []\n    enforcement: ebfp\n").text();
  EXPECT_SCHEMA_ERROR(base, "spec.network.enforcement", "enforcement: ^ebfp",
                      "\"ebfp\" is not allowed; use one of: proxy, ebpf, both");
  for (const char* ok : {"proxy", "ebpf", "both"})
    EXPECT_SCHEMA_VALID(Yaml().replace("      allowedHosts: []\n", std::string("      allowedHosts: []\n    enforcement: ") + ok + "\n").text());
}

// ---- iam -------------------------------------------------------------------------------

TEST(ProfileSchemaTest, RoleSessionDurationAllowsSecondsMinutesHoursOnly) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("roleSessionDuration: \"1h\"", "roleSessionDuration: 1d").text(),
                      "spec.iam.roleSessionDuration", "roleSessionDuration: ^1d",
                      "\"1d\" is not a number and one unit (s, m or h) like \"1h\" (must match ^[0-9]+(s|m|h)$)");
  EXPECT_SCHEMA_ERROR(Yaml().replace("roleSessionDuration: \"1h\"", "roleSessionDuration: 4h30m").text(),
                      "spec.iam.roleSessionDuration", "roleSessionDuration: ^4h30m", "is not a number and one unit");
  EXPECT_SCHEMA_VALID(Yaml().replace("roleSessionDuration: \"1h\"", "roleSessionDuration: 900s").text());
}

TEST(ProfileSchemaTest, AllowedRegionsNeedsAtLeastOneRegion) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedRegions: [us-east-1]", "allowedRegions: []").text(),
                      "spec.iam.allowedRegions", "allowedRegions: ^[]", "needs at least 1 item");
  EXPECT_SCHEMA_ERROR(Yaml().replace("allowedRegions: [us-east-1]", "allowedRegions: [us-east-1, moon-base]").text(),
                      "spec.iam.allowedRegions[1]", "us-east-1, ^moon-base", "is not a region like us-east-1");
}

// ---- sidecars and observability --------------------------------------------------------

TEST(ProfileSchemaTest, SidecarImageMustNotBeEmptyAndEnabledIsBoolean) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("image: km-audit-log:latest", "image: \"\"").text(), "spec.sidecars.auditLog.image",
                      "auditLog: {enabled: true, image: ^\"\"", "must not be empty");
  EXPECT_SCHEMA_ERROR(Yaml().replace("dnsProxy: {enabled: true", "dnsProxy: {enabled: yes").text(),
                      "spec.sidecars.dnsProxy.enabled", "dnsProxy: {enabled: ^yes", "write true");
  EXPECT_SCHEMA_ERROR(Yaml().replace("tracing: {enabled: true, image: km-tracing:latest}", "tracing: true").text(),
                      "spec.sidecars.tracing", "tracing: ^true", "expected a mapping, got a boolean (true)");
}

TEST(ProfileSchemaTest, LogDestinationIsCloudwatchS3StdoutOrFile) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("commandLog: {destination: stdout}", "commandLog: {destination: syslog}").text(),
                      "spec.observability.commandLog.destination", "commandLog: {destination: ^syslog",
                      "\"syslog\" is not allowed; use one of: cloudwatch, s3, stdout, file");
  // `file` is km's (the sandbox's rotated log, which every destination is locally).
  EXPECT_SCHEMA_VALID(Yaml().replace("commandLog: {destination: stdout}", "commandLog: {destination: file}").text());
  EXPECT_SCHEMA_VALID(Yaml().replace("commandLog: {destination: stdout}",
                                     "commandLog: {destination: cloudwatch, logGroup: /klanker-maker/sandboxes}")
                          .replace("networkLog: {destination: stdout}", "networkLog: {destination: s3}").text());
}

std::string withObservability(std::string_view extra) {
  return Yaml().append(std::string(extra)).text();  // observability is the last section
}

TEST(ProfileSchemaTest, TlsCaptureLibrariesAreKnownNames) {
  EXPECT_SCHEMA_ERROR(withObservability("    tlsCapture: {enabled: true, libraries: [openssl, boringssl]}\n"),
                      "spec.observability.tlsCapture.libraries[1]", "openssl, ^boringssl",
                      "\"boringssl\" is not allowed; use one of: openssl, gnutls, nss, go, rustls, all");
  EXPECT_SCHEMA_VALID(withObservability("    tlsCapture: {enabled: true, libraries: [all], capturePayloads: false}\n"
                                        "    claudeTelemetry: {enabled: true, logPrompts: false, logToolDetails: true}\n"
                                        "    learnMode: true\n"));
}

// ---- optional sections -----------------------------------------------------------------

TEST(ProfileSchemaTest, ArtifactsMaxSizeIsNotNegative) {
  EXPECT_SCHEMA_ERROR(Yaml().append("  artifacts: {paths: [/workspace/out], maxSizeMB: -1}\n").text(),
                      "spec.artifacts.maxSizeMB", "maxSizeMB: ^-1", "must be at least 0, got -1");
}

TEST(ProfileSchemaTest, BudgetCapsAreNonNegativeExactDollars) {
  EXPECT_SCHEMA_ERROR(Yaml().append("  budget:\n    compute: {maxSpendUSD: -1}\n").text(),
                      "spec.budget.compute.maxSpendUSD", "maxSpendUSD: ^-1", "must be at least 0.00, got -1");
  EXPECT_SCHEMA_ERROR(Yaml().append("  budget:\n    ai: {maxSpendUSD: 0.1234567}\n").text(),
                      "spec.budget.ai.maxSpendUSD", "maxSpendUSD: ^0.1234567",
                      "\"0.1234567\" has more than 6 decimals");
  EXPECT_SCHEMA_ERROR(Yaml().append("  budget:\n    ai: {maxSpendUSD: \"5\"}\n").text(),
                      "spec.budget.ai.maxSpendUSD", "maxSpendUSD: ^\"5\"", "expected a number, got a string (5)");
  EXPECT_SCHEMA_VALID(Yaml().append("  budget:\n    compute: {maxSpendUSD: 0}\n    ai: {maxSpendUSD: 0.000001}\n").text());
}

TEST(ProfileSchemaTest, WarningThresholdIsBetweenZeroAndOne) {
  EXPECT_SCHEMA_ERROR(Yaml().append("  budget:\n    warningThreshold: 1.5\n").text(), "spec.budget.warningThreshold",
                      "warningThreshold: ^1.5", "must be at most 1.0, got 1.5");
  EXPECT_SCHEMA_ERROR(Yaml().append("  budget:\n    warningThreshold: -0.1\n").text(), "spec.budget.warningThreshold",
                      "warningThreshold: ^-0.1", "must be at least 0.0, got -0.1");
  EXPECT_SCHEMA_VALID(Yaml().append("  budget:\n    warningThreshold: 1\n").text());
}

TEST(ProfileSchemaTest, EmailPoliciesAndAliasAreChecked) {
  for (const char* field : {"signing", "verifyInbound", "encryption"}) {
    std::string text = Yaml().append(std::string("  email:\n    ") + field + ": sometimes\n").text();
    EXPECT_SCHEMA_ERROR(text, std::string("spec.email.") + field, std::string(field) + ": ^sometimes",
                        "\"sometimes\" is not allowed; use one of: required, optional, off");
  }
  EXPECT_SCHEMA_ERROR(Yaml().append("  email:\n    alias: Team\n").text(), "spec.email.alias", "alias: ^Team",
                      "\"Team\" is not an alias like team.agent (lowercase, one dot)");
  EXPECT_SCHEMA_VALID(Yaml().append("  email:\n    signing: required\n    verifyInbound: optional\n    encryption: \"off\"\n"
                                    "    alias: team.agent-1\n    allowedSenders: [self, \"*@example.com\", \"*\"]\n").text());
}

TEST(ProfileSchemaTest, AgentDefaultIsClaudeOrCodex) {
  EXPECT_SCHEMA_ERROR(Yaml().append("  agent:\n    default: goose\n").text(), "spec.agent.default", "default: ^goose",
                      "\"goose\" is not allowed; use one of: claude, codex");
  EXPECT_SCHEMA_VALID(Yaml().append("  agent:\n    default: codex\n    codex: {args: [--full-auto], localBaseURL: \"http://127.0.0.1:8080/v1\", localModel: qwen}\n"
                                    "    claude:\n      trustedDirectories: [/workspace]\n      tools: {autoApprove: [Read], deny: [WebFetch]}\n      args: [--verbose]\n").text());
}

TEST(ProfileSchemaTest, NotificationBoundsAndSlackIdsAreChecked) {
  EXPECT_SCHEMA_ERROR(Yaml().append("  notification:\n    events: {onIdle: true, cooldownSeconds: -1}\n").text(),
                      "spec.notification.events.cooldownSeconds", "cooldownSeconds: ^-1", "must be at least 0, got -1");
  EXPECT_SCHEMA_ERROR(Yaml().append("  notification:\n    slack: {channelOverride: general}\n").text(),
                      "spec.notification.slack.channelOverride", "channelOverride: ^general",
                      "\"general\" is not a Slack channel id like C012AB3CD");
  EXPECT_SCHEMA_ERROR(Yaml().append("  notification:\n    slack:\n      inbound: {allow: [U012AB3CD, bob]}\n").text(),
                      "spec.notification.slack.inbound.allow[1]", "U012AB3CD, ^bob", "\"bob\" is not a Slack user id like U012AB3CD");
  EXPECT_SCHEMA_ERROR(Yaml().append("  notification:\n    slack:\n      inbound: {maxConcurrentThreads: 0}\n").text(),
                      "spec.notification.slack.inbound.maxConcurrentThreads", "maxConcurrentThreads: ^0",
                      "must be at least 1, got 0");
  // format: email is an annotation, as upstream: any string is accepted structurally.
  EXPECT_SCHEMA_VALID(Yaml().append("  notification:\n    email: {enabled: false, address: not-an-address}\n"
                                    "    github: {inbound: {enabled: true}}\n    h1: {inbound: {enabled: false}}\n"
                                    "    slack:\n      enabled: true\n      perSandbox: true\n      channelName: \"sb-{alias}\"\n"
                                    "      archiveOnDestroy: true\n      private: true\n"
                                    "      inbound: {enabled: true, mentionOnly: false, reactAlways: true, allow: [W0123], maxConcurrentThreads: 4}\n"
                                    "      transcript: {enabled: true}\n      invites: {emails: [a@b.co], useConnect: false}\n").text());
}

TEST(ProfileSchemaTest, ActionLimitCountsAreNotNegativeAndOnBreachIsAnEnum) {
  for (const char* window : {"lifetime", "perHour", "perDay"}) {
    std::string text = Yaml().append(std::string("  limits:\n    github_pr: {") + window + ": -1}\n").text();
    EXPECT_SCHEMA_ERROR(text, std::string("spec.limits.github_pr.") + window, std::string(window) + ": ^-1",
                        "must be at least 0, got -1");
  }
  EXPECT_SCHEMA_ERROR(Yaml().append("  limits:\n    slack_post: {onBreach: explode}\n").text(),
                      "spec.limits.slack_post.onBreach", "onBreach: ^explode",
                      "\"explode\" is not allowed; use one of: warn, block, freeze");
  EXPECT_SCHEMA_VALID(Yaml().append("  limits:\n    github_pr: {lifetime: 0, onBreach: block}\n    github_comment: {perHour: 5}\n"
                                    "    github_review: {perDay: 1}\n    email_send: {onBreach: freeze}\n"
                                    "    slack_post: {perHour: 100}\n    h1_comment: {lifetime: 3, onBreach: warn}\n").text());
}

TEST(ProfileSchemaTest, SecretsAndCliFieldsAreTyped) {
  EXPECT_SCHEMA_ERROR(Yaml().append("  secrets: {sopsFile: 5}\n").text(), "spec.secrets.sopsFile", "sopsFile: ^5",
                      "put it in quotes: \"5\"");
  EXPECT_SCHEMA_ERROR(Yaml().append("  cli: {noBedrock: no}\n").text(), "spec.cli.noBedrock", "noBedrock: ^no",
                      "write false");
}

// ---- unknown fields --------------------------------------------------------------------

TEST(ProfileSchemaTest, UnknownFieldSuggestsClosestName) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("      allowedHosts: []\n", "      allowedHosts: []\n      allowedHost: [x.com]\n").text(),
                      "spec.network.egress.allowedHost", "      ^allowedHost:", "unknown field \"allowedHost\"; did you mean \"allowedHosts\"?");
  EXPECT_SCHEMA_ERROR(Yaml().replace("    teardownPolicy: destroy\n", "    teardownPolicy: destroy\n    idleTimout: 2h\n").text(),
                      "spec.lifecycle.idleTimout", "    ^idleTimout", "did you mean \"idleTimeout\"?");
  EXPECT_SCHEMA_ERROR(Yaml().replace("      allowedHosts: []\n", "      allowedHosts: []\n    enforcment: both\n").text(),
                      "spec.network.enforcment", "    ^enforcment", "did you mean \"enforcement\"?");
  EXPECT_SCHEMA_ERROR(Yaml().replace("  name: minimal\n", "  name: minimal\n  lables: {a: b}\n").text(), "metadata.lables",
                      "  ^lables", "did you mean \"labels\"?");
  EXPECT_SCHEMA_ERROR(Yaml().replace("kind: SandboxProfile\n", "kind: SandboxProfile\nextend: base\n").text(), "extend",
                      "^extend:", "did you mean \"extends\"?");
  EXPECT_SCHEMA_ERROR(Yaml().append("  sidecar: {}\n").text(), "spec.sidecar", "  ^sidecar: {}", "did you mean \"sidecars\"?");
  EXPECT_SCHEMA_ERROR(Yaml().replace("km-tracing:latest}", "km-tracing:latest, enabeld: true}").text(),
                      "spec.sidecars.tracing.enabeld", "^enabeld", "unknown field \"enabeld\"");
  EXPECT_SCHEMA_ERROR(Yaml().append("  limits:\n    github_prs: {perDay: 1}\n").text(), "spec.limits.github_prs",
                      "    ^github_prs", "did you mean \"github_pr\"?");
}

TEST(ProfileSchemaTest, UnknownFieldWithoutACloseMatchListsTheAllowedFields) {
  EXPECT_SCHEMA_ERROR(Yaml().replace("    region: us-east-1\n", "    region: us-east-1\n    banana: 1\n").text(),
                      "spec.runtime.banana", "    ^banana",
                      "unknown field \"banana\"; fields allowed here: substrate, spot, instanceType, region, rootVolumeSize");
  // upstream's documented-but-unschema'd fields are refused like upstream's validator does.
  EXPECT_SCHEMA_ERROR(Yaml().replace("    teardownPolicy: destroy\n", "    teardownPolicy: destroy\n    maxLifetime: 48h\n").text(),
                      "spec.lifecycle.maxLifetime", "    ^maxLifetime", "fields allowed here: ttl, idleTimeout, teardownPolicy");
  EXPECT_SCHEMA_ERROR(Yaml().append("  otp: {}\n").text(), "spec.otp", "  ^otp", "unknown field \"otp\"");
  EXPECT_SCHEMA_ERROR(Yaml().append("  cli: {notifyOnIdle: true}\n").text(), "spec.cli.notifyOnIdle", "^notifyOnIdle",
                      "fields allowed here: noBedrock");
}

// ---- all errors at once ----------------------------------------------------------------

TEST(ProfileSchemaTest, EveryIndependentMistakeIsReportedNotOnlyTheFirst) {
  std::string text = Yaml()
                         .replace("name: minimal", "name: \"\"")
                         .replace("ttl: \"4h\"", "ttl: \"4h30m\"")
                         .replace("    teardownPolicy: destroy\n", "    teardownPolicy: destroy\n    idleTimout: 2h\n")
                         .replace("substrate: local", "substrate: kubernetes")
                         .replace("    region: us-east-1\n", "    region: us-east-1\n    rootVolumeSize: -1\n")
                         .text();
  Loaded l = loadStructural(text);
  EXPECT_EQ(l.diagnostics.errorCount(), 5u) << dump(l.diagnostics);
  std::set<std::string> paths;
  for (const auto& d : l.diagnostics.all()) paths.insert(d.path);
  EXPECT_EQ(paths, (std::set<std::string>{"metadata.name", "spec.lifecycle.ttl", "spec.lifecycle.idleTimout",
                                          "spec.runtime.substrate", "spec.runtime.rootVolumeSize"}));
  // Reported in document order.
  for (size_t i = 1; i < l.diagnostics.all().size(); ++i)
    EXPECT_LT(l.diagnostics.all()[i - 1].line, l.diagnostics.all()[i].line) << dump(l.diagnostics);
}

TEST(ProfileSchemaTest, AWrongSectionTypeIsOneErrorNotACascade) {
  Loaded l = loadStructural(Yaml().replace("  sourceAccess:\n    mode: none\n", "  sourceAccess: none\n").text());
  ASSERT_EQ(l.diagnostics.errorCount(), 1u) << dump(l.diagnostics);
  EXPECT_EQ(l.diagnostics.all()[0].path, "spec.sourceAccess");
  EXPECT_NE(l.diagnostics.all()[0].message.find("expected a mapping, got a string (none)"), std::string::npos);
}

// ---- encoding --------------------------------------------------------------------------

doc::Node parseNode(const std::string& text) {
  doc::Node n;
  doc::Diagnostics d;
  EXPECT_TRUE(doc::parseYaml(text, "x.yaml", n, d)) << dump(d);
  return n;
}

std::vector<std::string> keysOf(const doc::Node& map) {
  std::vector<std::string> out;
  for (const auto& e : map.entries()) out.push_back(e.key);
  return out;
}

TEST(ProfileSchemaTest, EncodingTheMinimalProfileGivesItBack) {
  Loaded l = loadStructural(Yaml().text());
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  doc::Node encoded = toNode(l.profile);
  doc::Node original = parseNode(Yaml().text());
  EXPECT_TRUE(encoded.sameValue(original)) << doc::emitYaml(encoded);
  EXPECT_EQ(keysOf(encoded), (std::vector<std::string>{"apiVersion", "kind", "metadata", "spec"}));
  EXPECT_EQ(keysOf(*encoded.find("spec")),
            (std::vector<std::string>{"lifecycle", "runtime", "execution", "sourceAccess", "network", "iam",
                                      "sidecars", "observability"}));
}

TEST(ProfileSchemaTest, EncodingUsesSchemaOrderAndOmitsUnsetOptionals) {
  // Keys written out of order; optional fields left out must not appear when encoded.
  std::string text = Yaml()
                         .replace("    ttl: \"4h\"\n    idleTimeout: \"1h\"\n    teardownPolicy: destroy\n",
                                  "    teardownPolicy: stop\n    ttl: \"4h\"\n    idleTimeout: \"1h\"\n")
                         .replace("    substrate: local\n    instanceType: t3.medium\n    region: us-east-1\n",
                                  "    region: us-east-1\n    spot: false\n    substrate: ec2\n    instanceType: t3.medium\n")
                         .append("  budget:\n    warningThreshold: 0.5\n    ai: {maxSpendUSD: 2.50}\n")
                         .text();
  Loaded l = loadStructural(text);
  ASSERT_TRUE(l.ok()) << dump(l.diagnostics);
  doc::Node encoded = toNode(l.profile);
  EXPECT_TRUE(encoded.sameValue(parseNode(text))) << doc::emitYaml(encoded);
  const doc::Node* spec = encoded.find("spec");
  EXPECT_EQ(keysOf(*spec->find("lifecycle")), (std::vector<std::string>{"ttl", "idleTimeout", "teardownPolicy"}));
  EXPECT_EQ(keysOf(*spec->find("runtime")), (std::vector<std::string>{"substrate", "spot", "instanceType", "region"}));
  EXPECT_EQ(keysOf(*spec->find("budget")), (std::vector<std::string>{"ai", "warningThreshold"}));
  EXPECT_EQ(spec->find("budget")->find("ai")->find("maxSpendUSD")->text(), "2.50");
  EXPECT_EQ(spec->find("budget")->find("warningThreshold")->text(), "0.5");
  EXPECT_EQ(spec->find("runtime")->find("additionalSnapshots"), nullptr);
  EXPECT_EQ(spec->find("execution")->find("env"), nullptr);
  EXPECT_EQ(encoded.find("metadata")->find("labels"), nullptr);
}

TEST(ProfileSchemaTest, EncodedYamlLoadsBackToTheSameProfile) {
  std::string text = Yaml()
                         .replace("    workingDir: /workspace\n",
                                  "    workingDir: /workspace\n    env: {ZED: \"1\", ALPHA: \"true\"}\n"
                                  "    configFiles: {/etc/motd: \"hello\\nworld\\n\"}\n"
                                  "    initCommands: [\"echo 'a: b'\", \"#x\", \"0x1F\"]\n")
                         .append("  agent:\n    claude:\n      permissions: {allow: [Read], n: 1, t: true}\n")
                         .text();
  Loaded first = loadStructural(text);
  ASSERT_TRUE(first.ok()) << dump(first.diagnostics);
  doc::Node encoded = toNode(first.profile);
  EXPECT_TRUE(encoded.sameValue(parseNode(text))) << doc::emitYaml(encoded);
  std::string emitted = doc::emitYaml(encoded);
  Loaded again = loadStructural(emitted);
  ASSERT_TRUE(again.ok()) << emitted << dump(again.diagnostics);
  EXPECT_TRUE(toNode(again.profile).sameValue(encoded)) << emitted;
  EXPECT_EQ(again.profile.spec.execution.env, first.profile.spec.execution.env);  // order kept
  EXPECT_EQ(again.profile.spec.execution.config_files[0].second, "hello\nworld\n");
}

// ---- JSON Schema -----------------------------------------------------------------------

using Json = nlohmann::json;

// j[key] without the undefined behaviour of const operator[] on a missing key.
const Json& field(const Json& j, const char* key) {
  static const Json kNull;
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

Json ourSchema() { return Json::parse(doc::toJson(jsonSchema())); }

Json upstreamSchema() {
  std::ifstream in(test::sharedDir() + "/reference/upstream-sandbox-profile.schema.json");
  EXPECT_TRUE(in.good()) << "upstream schema missing under " << test::sharedDir();
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
}

std::set<std::string> stringSet(const Json& j) {
  std::set<std::string> out;
  if (j.is_array())
    for (const auto& v : j) out.insert(v.get<std::string>());
  return out;
}

TEST(ProfileJsonSchemaTest, DeclaresDraft2020AndTheTopLevelShape) {
  Json s = ourSchema();
  EXPECT_EQ(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
  EXPECT_EQ(s["type"], "object");
  EXPECT_EQ(s["additionalProperties"], false);
  EXPECT_EQ(stringSet(s["required"]), (std::set<std::string>{"apiVersion", "kind", "metadata", "spec"}));
  EXPECT_EQ(stringSet(s["properties"]["spec"]["required"]),
            (std::set<std::string>{"lifecycle", "runtime", "execution", "sourceAccess", "network", "iam", "sidecars",
                                   "observability"}));
  EXPECT_EQ(s["properties"]["apiVersion"]["pattern"], "^.+/v1alpha2$");
  EXPECT_EQ(stringSet(s["properties"]["kind"]["enum"]), (std::set<std::string>{"SandboxProfile"}));
}

TEST(ProfileJsonSchemaTest, DefaultsHaveTheFieldsType) {
  Json spec = ourSchema()["properties"]["spec"]["properties"];
  EXPECT_EQ(spec["runtime"]["properties"]["vscode"]["properties"]["enabled"]["default"], true);
  EXPECT_EQ(spec["budget"]["properties"]["warningThreshold"]["default"], 0.8);
  EXPECT_EQ(spec["network"]["properties"]["enforcement"]["default"], "proxy");
  EXPECT_EQ(spec["notification"]["properties"]["slack"]["properties"]["inbound"]["properties"]["maxConcurrentThreads"]
                ["default"],
            1);
}

TEST(ProfileJsonSchemaTest, SubstrateEnumIncludesLocal) {
  Json substrate = ourSchema()["properties"]["spec"]["properties"]["runtime"]["properties"]["substrate"];
  EXPECT_EQ(stringSet(substrate["enum"]), (std::set<std::string>{"local", "ec2", "ecs", "docker"}));
}

// Visits every object schema in `s` with its property path.
template <class F>
void forEachObject(const Json& s, const std::string& path, F&& f) {
  if (!s.is_object()) return;
  if (s.contains("properties")) {
    f(path, s);
    for (const auto& [k, v] : field(s, "properties").items()) forEachObject(v, path + "." + k, f);
  }
  if (s.contains("items")) forEachObject(field(s, "items"), path + "[]", f);
}

TEST(ProfileJsonSchemaTest, ObjectsRefuseUnknownFieldsExceptFreeFormMaps) {
  const std::set<std::string> free_form = {".metadata.labels", ".spec.execution.env", ".spec.execution.configFiles",
                                           ".spec.agent.claude.permissions", ".spec.secrets.hosts"};
  std::set<std::string> seen_free;
  std::function<void(const Json&, const std::string&)> walk = [&](const Json& s, const std::string& path) {
    if (!s.is_object()) return;
    if (s.value("type", "") == "object") {
      if (free_form.count(path)) {
        seen_free.insert(path);
        EXPECT_NE(field(s, "additionalProperties"), false) << path;
      } else {
        EXPECT_EQ(field(s, "additionalProperties"), false) << path;
      }
    }
    if (s.contains("properties"))
      for (const auto& [k, v] : field(s, "properties").items()) walk(v, path + "." + k);
    if (s.contains("items")) walk(field(s, "items"), path + "[]");
  };
  walk(ourSchema(), "");
  EXPECT_EQ(seen_free, free_form);
  Json s = ourSchema();
  EXPECT_EQ(s["properties"]["metadata"]["properties"]["labels"]["additionalProperties"]["type"], "string");
  EXPECT_EQ(s["properties"]["spec"]["properties"]["agent"]["properties"]["claude"]["properties"]["permissions"]
             ["additionalProperties"],
            true);
}

// Resolves upstream's local $refs ("#/$defs/Name").
const Json& deref(const Json& root, const Json& s) {
  if (s.is_object() && s.contains("$ref")) {
    std::string ref = s["$ref"];
    const std::string prefix = "#/$defs/";
    if (ref.rfind(prefix, 0) == 0) return field(field(root, "$defs"), ref.substr(prefix.size()).c_str());
  }
  return s;
}

// Walks upstream's schema and checks that ours has every property with at least upstream's
// constraints (same type, required set, patterns, bounds; enums may add values, like local).
void compareToUpstream(const Json& up_root, const Json& up_in, const Json& ours, const std::string& path,
                       std::set<std::string>& visited) {
  const Json& up = deref(up_root, up_in);
  visited.insert(path);
  if (up.contains("type") && ours.contains("type")) {
    EXPECT_EQ(field(ours, "type"), up["type"]) << path;
  }
  if (up.contains("required")) {
    EXPECT_EQ(stringSet(field(ours, "required")), stringSet(up["required"])) << path;
  } else if (up.contains("properties")) {
    EXPECT_FALSE(ours.contains("required")) << path;
  }
  if (up.contains("additionalProperties")) {
    if (up["additionalProperties"].is_boolean()) {
      EXPECT_EQ(field(ours, "additionalProperties"), up["additionalProperties"]) << path;
    } else {
      EXPECT_EQ(field(field(ours, "additionalProperties"), "type"), field(field(up, "additionalProperties"), "type"))
          << path;
    }
  }
  if (up.contains("pattern")) {
    EXPECT_EQ(field(ours, "pattern"), up["pattern"]) << path;
  }
  if (up.contains("const")) {
    EXPECT_EQ(stringSet(field(ours, "enum")), (std::set<std::string>{up["const"].get<std::string>()})) << path;
  }
  if (up.contains("enum")) {
    std::set<std::string> mine = stringSet(field(ours, "enum"));
    for (const auto& v : up["enum"]) EXPECT_TRUE(mine.count(v.get<std::string>())) << path << " lacks " << v;
  }
  for (const char* bound : {"minimum", "maximum", "minLength", "minItems"}) {
    if (!up.contains(bound)) continue;
    ASSERT_TRUE(ours.contains(bound)) << path << " lacks " << bound;
    EXPECT_DOUBLE_EQ(field(ours, bound).get<double>(), up[bound].get<double>()) << path << " " << bound;
  }
  if (up.contains("format")) {
    EXPECT_EQ(field(ours, "format"), up["format"]) << path;
  }
  if (up.contains("oneOf") && up.contains("type")) {  // runtime.ami: an enum OR a pattern
    ASSERT_TRUE(ours.contains("anyOf")) << path;
    for (const auto& alt : up["oneOf"]) {
      bool found = false;
      for (const auto& mine : field(ours, "anyOf")) found = found || mine == alt;
      EXPECT_TRUE(found) << path << " lacks alternative " << alt;
    }
  } else if (up.contains("oneOf")) {  // extends: a string OR a list of strings
    EXPECT_EQ(field(ours, "oneOf"), up["oneOf"]) << path;
  }
  if (up.contains("items")) {
    ASSERT_TRUE(ours.contains("items")) << path;
    compareToUpstream(up_root, up["items"], field(ours, "items"), path + "[]", visited);
  }
  if (up.contains("properties")) {
    ASSERT_TRUE(ours.contains("properties")) << path;
    for (const auto& [k, v] : up["properties"].items()) {
      ASSERT_TRUE(field(ours, "properties").contains(k)) << path << "." << k << " is in upstream's schema but not in ours";
      compareToUpstream(up_root, v, field(ours, "properties")[k], path + "." + k, visited);
    }
    // km's own fields, documented as km extensions in docs/profiles.md.
    static const std::set<std::string> km_extensions = {".spec.runtime.resources", ".spec.runtime.image", ".spec.secrets.hosts",
                                                        ".spec.sourceAccess.github.allowRefDeletion"};
    for (const auto& [k, v] : field(ours, "properties").items()) {
      EXPECT_TRUE(up["properties"].contains(k) || km_extensions.count(path + "." + k))
          << path << "." << k << " is ours only";
    }
  }
}

TEST(ProfileJsonSchemaTest, HasEveryPropertyAndConstraintOfUpstreamsSchema) {
  KM_SKIP_WITHOUT_SHARED();
  Json up = upstreamSchema();
  ASSERT_TRUE(up.is_object()) << "could not parse upstream's schema";
  std::set<std::string> visited;
  compareToUpstream(up, up, ourSchema(), "", visited);
  // The walk really covered the tree (about 160 property paths upstream).
  EXPECT_GT(visited.size(), 150u);
  EXPECT_TRUE(visited.count(".spec.limits.github_pr.onBreach"));
  EXPECT_TRUE(visited.count(".spec.runtime.additionalSnapshots[].device"));
}

TEST(ProfileJsonSchemaTest, EveryPropertyOfOursIsDescribed) {
  forEachObject(ourSchema(), "", [](const std::string& path, const Json& s) {
    for (const auto& [k, v] : field(s, "properties").items())
      EXPECT_FALSE(v.value("description", "").empty()) << path << "." << k;
  });
}

// std::regex recurses per character: a huge value must be refused by length, not crash.
TEST(ProfileSchemaTest, HugeValuesInPatternFieldsAreRefusedByLengthNotCrashing) {
  std::string huge(200'000, 'k');
  Loaded api = loadStructural(Yaml().replace("klankermaker.ai/v1alpha2", huge + "/v1alpha2").text());
  ASSERT_EQ(api.diagnostics.errorCount(), 1u) << dump(api.diagnostics);
  EXPECT_EQ(api.diagnostics.all()[0].path, "apiVersion");
  EXPECT_NE(api.diagnostics.all()[0].message.find("characters long; at most 1024"), std::string::npos);
  Loaded idle = loadStructural(Yaml().replace("idleTimeout: \"1h\"", "idleTimeout: " + std::string(100'000, '9')).text());
  ASSERT_EQ(idle.diagnostics.errorCount(), 1u) << dump(idle.diagnostics);
  EXPECT_EQ(idle.diagnostics.all()[0].path, "spec.lifecycle.idleTimeout");
  std::string y = Yaml().text();
  size_t at = y.find("allowedDNSSuffixes: []");
  ASSERT_NE(at, std::string::npos);
  y.replace(at, 22, "allowedDNSSuffixes: [" + std::string(300'000, 'a') + "]");
  Loaded s = loadStructural(y);
  ASSERT_EQ(s.diagnostics.errorCount(), 1u) << dump(s.diagnostics);
  EXPECT_EQ(s.diagnostics.all()[0].path, "spec.network.egress.allowedDNSSuffixes[0]");
}

TEST(ProfileSchemaTest, WildcardSuffixSuggestsTheDotForm) {
  std::string y = Yaml().text();
  size_t at = y.find("allowedDNSSuffixes: []");
  ASSERT_NE(at, std::string::npos);
  y.replace(at, 22, "allowedDNSSuffixes: [\"*.example.com\"]");
  Loaded l = loadStructural(y);
  ASSERT_EQ(l.diagnostics.errorCount(), 1u) << dump(l.diagnostics);
  EXPECT_NE(l.diagnostics.all()[0].message.find("did you mean \".example.com\"?"), std::string::npos)
      << l.diagnostics.all()[0].message;
}

}  // namespace
}  // namespace km::profile
