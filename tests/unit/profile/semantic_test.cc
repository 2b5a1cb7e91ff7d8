// Semantic rules (profile/semantic.cc, semantic_slack.cc): each rule's failing case with its
// severity, path, line and fix, the boundary that passes, and that fields the schema already
// rejected are never reported a second time. Profiles go through the whole loadText pipeline.
#include "profile/semantic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "profile/instance_types.h"
#include "profile/profile.h"

namespace km::profile {
namespace {

using doc::Diagnostic;

// Strips the indentation common to all non-empty lines (and a leading newline), so tests can
// write indented raw strings.
std::string dedent(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  std::vector<std::string> lines;
  std::stringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  size_t indent = std::string::npos;
  for (const auto& l : lines) {
    size_t first = l.find_first_not_of(' ');
    if (first != std::string::npos) indent = std::min(indent, first);
  }
  std::string out;
  for (const auto& l : lines) {
    out += l.size() > indent ? l.substr(indent) : std::string();
    out += "\n";
  }
  return out;
}

// `text` dedented, then every non-empty line indented by `by` spaces.
std::string indented(std::string_view text, size_t by = 2) {
  std::string out;
  std::stringstream in(dedent(text));
  for (std::string line; std::getline(in, line);) {
    out += line.empty() ? "\n" : std::string(by, ' ') + line + "\n";
  }
  return out;
}

// A minimal valid profile whose spec sections a test can replace, extend or add to.
class ProfileYaml {
 public:
  ProfileYaml() {
    section("lifecycle", R"(
      ttl: "4h"
      idleTimeout: "1h"
      teardownPolicy: destroy)");
    section("runtime", R"(
      substrate: ec2
      instanceType: t3.medium
      region: us-east-1)");
    section("execution", R"(
      shell: /bin/bash
      workingDir: /workspace)");
    section("sourceAccess", "mode: none");
    section("network", R"(
      egress:
        allowedDNSSuffixes: []
        allowedHosts: [])");
    section("iam", R"(
      roleSessionDuration: "1h"
      allowedRegions: [us-east-1])");
    section("sidecars", R"(
      dnsProxy: {enabled: true, image: km-dns-proxy:latest}
      httpProxy: {enabled: true, image: km-http-proxy:latest}
      auditLog: {enabled: true, image: km-audit-log:latest}
      tracing: {enabled: true, image: km-tracing:latest})");
    section("observability", R"(
      commandLog: {destination: stdout}
      networkLog: {destination: stdout})");
  }

  // Replaces spec.<name> (or adds it at the end) with `body`, written relative to the section.
  ProfileYaml& section(const std::string& name, std::string_view body) {
    for (auto& [key, text] : sections_) {
      if (key == name) {
        text = dedent(body);
        return *this;
      }
    }
    sections_.emplace_back(name, dedent(body));
    return *this;
  }

  // Appends lines to spec.<name>, which must exist.
  ProfileYaml& extend(const std::string& name, std::string_view lines) {
    for (auto& [key, text] : sections_) {
      if (key == name) text += dedent(lines);
    }
    return *this;
  }

  std::string text() const {
    std::string out = "apiVersion: klankermaker.ai/v1alpha2\nkind: SandboxProfile\n"
                      "metadata:\n  name: test\nspec:\n";
    for (const auto& [key, body] : sections_) out += "  " + key + ":\n" + indented(body, 4);
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> sections_;
};

struct Checked {
  std::string yaml;
  Loaded loaded;

  const std::vector<Diagnostic>& all() const { return loaded.diagnostics.all(); }

  std::vector<Diagnostic> at(std::string_view path) const {
    std::vector<Diagnostic> out;
    for (const auto& d : all())
      if (d.path == path) out.push_back(d);
    return out;
  }

  // The 1-based line of the first occurrence of `needle` in the YAML (0 if absent).
  uint32_t lineOf(std::string_view needle) const {
    size_t pos = yaml.find(needle);
    if (pos == std::string::npos) return 0;
    auto end = yaml.begin() + static_cast<std::ptrdiff_t>(pos);
    return static_cast<uint32_t>(std::count(yaml.begin(), end, '\n') + 1);
  }

  std::string dump() const {
    std::string out = "diagnostics:\n";
    for (const auto& d : all()) {
      out += std::string(d.isError() ? "  ERROR " : "  WARN ") + d.format() + "\n";
    }
    return out + "yaml:\n" + yaml;
  }
};

Checked check(const ProfileYaml& p) {
  std::string yaml = p.text();
  return {yaml, loadText(yaml, "test.yaml", LoadOptions{})};
}

bool mentions(const Diagnostic& d, std::string_view phrase) {
  return d.message.find(phrase) != std::string::npos;
}

// Asserts the profile produced exactly one diagnostic and returns it.
Diagnostic only(const Checked& c) {
  EXPECT_EQ(c.all().size(), 1u) << c.dump();
  return c.all().empty() ? Diagnostic{} : c.all().front();
}

// A macro, not a function, so a failure names the line of the test that expected it.
#define EXPECT_CLEAN(c) EXPECT_TRUE((c).all().empty()) << (c).dump()

// ---- base ---------------------------------------------------------------------------

TEST(SemanticTest, MinimalProfileHasNoDiagnostics) {
  Checked c = check(ProfileYaml());
  EXPECT_CLEAN(c);
  EXPECT_TRUE(c.loaded.ok());
}

TEST(SemanticTest, BuiltinProfilesRaiseNoSemanticFindings) {
  for (const std::string& name : builtinNames()) {
    auto loaded = load(name, LoadOptions{});
    ASSERT_TRUE(loaded) << name;
    EXPECT_TRUE(loaded->diagnostics.all().empty())
        << name << ": " << loaded->diagnostics.all().front().format();
  }
}

TEST(SemanticTest, WarningsDoNotFailAProfile) {
  Checked c = check(ProfileYaml().section("sourceAccess", R"(
    mode: none
    github: {allowedRepos: [acme/api]})"));
  ASSERT_EQ(c.all().size(), 1u) << c.dump();
  EXPECT_FALSE(c.all().front().isError());
  EXPECT_TRUE(c.loaded.ok());
}

// ---- rule 1: ttl ≥ idleTimeout --------------------------------------------------------

TEST(SemanticTest, TtlShorterThanIdleTimeoutIsAnError) {
  Checked c = check(ProfileYaml().section("lifecycle", R"(
    ttl: "30m"
    idleTimeout: "1h"
    teardownPolicy: destroy)"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.lifecycle.ttl");
  EXPECT_EQ(d.line, c.lineOf("ttl: \"30m\""));
  EXPECT_EQ(d.file, "test.yaml");
  EXPECT_TRUE(mentions(d, "ttl 30m is shorter than idleTimeout 1h")) << d.message;
  EXPECT_TRUE(mentions(d, "raise ttl to at least 1h")) << d.message;
  EXPECT_FALSE(c.loaded.ok());
}

TEST(SemanticTest, TtlEqualToIdleTimeoutIsAccepted) {
  EXPECT_CLEAN(check(ProfileYaml().section("lifecycle", R"(
    ttl: "60m"
    idleTimeout: "1h"
    teardownPolicy: destroy)")));
}

TEST(SemanticTest, TtlZeroMeansNeverExpiresSoAnyIdleTimeoutIsAccepted) {
  EXPECT_CLEAN(check(ProfileYaml().section("lifecycle", R"(
    ttl: "0"
    idleTimeout: "30d"
    teardownPolicy: stop)")));
}

TEST(SemanticTest, TtlDaysAreTwentyFourHours) {
  EXPECT_CLEAN(check(ProfileYaml().section("lifecycle", R"(
    ttl: "1d"
    idleTimeout: "24h"
    teardownPolicy: destroy)")));
  Checked c = check(ProfileYaml().section("lifecycle", R"(
    ttl: "1d"
    idleTimeout: "25h"
    teardownPolicy: destroy)"));
  EXPECT_EQ(only(c).path, "spec.lifecycle.ttl");
}

TEST(SemanticTest, UnparsableTtlIsReportedOnlyByTheSchema) {
  Checked c = check(ProfileYaml().section("lifecycle", R"(
    ttl: "1h30m"
    idleTimeout: "2h"
    teardownPolicy: destroy)"));
  Diagnostic d = only(c);
  EXPECT_EQ(d.path, "spec.lifecycle.ttl");
  EXPECT_FALSE(mentions(d, "shorter than")) << d.message;
}

// ---- rule 4: hibernation needs a root volume larger than RAM ---------------------------

ProfileYaml hibernating(std::string_view instance_type, int root_gib) {
  return ProfileYaml().section("runtime", "substrate: ec2\ninstanceType: " +
                                              std::string(instance_type) +
                                              "\nregion: us-east-1\nhibernation: true\n"
                                              "rootVolumeSize: " + std::to_string(root_gib));
}

TEST(SemanticTest, HibernationWithRootVolumeEqualToRamIsAnError) {
  Checked c = check(hibernating("t3.large", 8));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.rootVolumeSize");
  EXPECT_EQ(d.line, c.lineOf("rootVolumeSize: 8"));
  EXPECT_TRUE(mentions(d, "8 GiB of RAM")) << d.message;
  EXPECT_TRUE(mentions(d, "t3.large")) << d.message;
  EXPECT_TRUE(mentions(d, "raise rootVolumeSize above 8")) << d.message;
  EXPECT_TRUE(mentions(d, "hibernation: false")) << d.message;
}

TEST(SemanticTest, HibernationWithRootVolumeOneAboveRamIsAccepted) {
  EXPECT_CLEAN(check(hibernating("t3.large", 9)));
  EXPECT_CLEAN(check(hibernating("r5.4xlarge", 129)));
}

TEST(SemanticTest, HibernationRootVolumeSmallerThanRamIsAnError) {
  EXPECT_EQ(only(check(hibernating("r5.4xlarge", 100))).path, "spec.runtime.rootVolumeSize");
  EXPECT_EQ(only(check(hibernating("c5.9xlarge", 72))).path, "spec.runtime.rootVolumeSize");
}

TEST(SemanticTest, NanoInstancesCountAsOneGibOfRam) {
  EXPECT_EQ(only(check(hibernating("t3.nano", 1))).path, "spec.runtime.rootVolumeSize");
  EXPECT_CLEAN(check(hibernating("t4g.nano", 2)));
}

TEST(SemanticTest, HibernationRuleSkipsUnknownInstanceTypes) {
  EXPECT_CLEAN(check(hibernating("g6e.12xlarge", 8)));
  EXPECT_CLEAN(check(hibernating("m7i.large", 1)));
}

TEST(SemanticTest, HibernationRuleSkipsTheImageDefaultRootVolume) {
  EXPECT_CLEAN(check(hibernating("t3.large", 0)));
  EXPECT_CLEAN(check(ProfileYaml().extend("runtime", "hibernation: true")));
}

TEST(SemanticTest, RootVolumeSizeIsFreeWithoutHibernation) {
  EXPECT_CLEAN(check(ProfileYaml().extend("runtime", "rootVolumeSize: 2\nhibernation: false")));
  EXPECT_CLEAN(check(ProfileYaml().extend("runtime", "rootVolumeSize: 2")));
}

TEST(InstanceTypesTest, KnowsRamAndVcpusOfTheTabledFamilies) {
  EXPECT_EQ(instanceRamGiB("t3.medium"), 4);
  EXPECT_EQ(instanceRamGiB("t3a.2xlarge"), 32);
  EXPECT_EQ(instanceRamGiB("m5.8xlarge"), 128);
  EXPECT_EQ(instanceRamGiB("c5.large"), 4);
  EXPECT_EQ(instanceRamGiB("r5.large"), 16);
  EXPECT_EQ(instanceRamGiB("t2.nano"), 1);  // 0.5 GiB rounds up
  ASSERT_TRUE(instanceShape("t3.nano"));
  EXPECT_EQ(instanceShape("t3.nano")->memory_mib, 512);
  EXPECT_EQ(instanceShape("t3.xlarge")->vcpus, 4);
  EXPECT_EQ(instanceShape("c5.9xlarge")->vcpus, 36);
  EXPECT_EQ(instanceShape("m5.4xlarge")->vcpus, 16);
}

TEST(InstanceTypesTest, UnknownTypesAreNotGuessed) {
  EXPECT_FALSE(instanceRamGiB("g6e.12xlarge"));
  EXPECT_FALSE(instanceRamGiB("t3.4xlarge"));
  EXPECT_FALSE(instanceRamGiB("T3.LARGE"));
  EXPECT_FALSE(instanceShape(""));
}

// ---- rule 5: eBPF enforcement needs a host kernel -----------------------------------------

ProfileYaml enforcing(std::string_view substrate, std::string_view enforcement) {
  return ProfileYaml()
      .section("runtime", "substrate: " + std::string(substrate) +
                              "\ninstanceType: t3.medium\nregion: us-east-1")
      .extend("network", "enforcement: " + std::string(enforcement));
}

TEST(SemanticTest, EbpfEnforcementOnDockerIsAnError) {
  Checked c = check(enforcing("docker", "ebpf"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.network.enforcement");
  EXPECT_EQ(d.line, c.lineOf("enforcement: ebpf"));
  EXPECT_TRUE(mentions(d, "docker substrate")) << d.message;
  EXPECT_TRUE(mentions(d, "enforcement: proxy")) << d.message;
  EXPECT_TRUE(mentions(d, "ec2 or local")) << d.message;
}

TEST(SemanticTest, BothEnforcementOnEcsIsAnError) {
  Diagnostic d = only(check(enforcing("ecs", "both")));
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.network.enforcement");
  EXPECT_TRUE(mentions(d, "enforcement both")) << d.message;
}

TEST(SemanticTest, EbpfEnforcementOnEc2OrLocalIsAccepted) {
  EXPECT_CLEAN(check(enforcing("ec2", "ebpf")));
  EXPECT_CLEAN(check(enforcing("local", "both")));
  EXPECT_CLEAN(check(enforcing("docker", "proxy")));
}

TEST(SemanticTest, MisspelledEnforcementIsReportedOnlyByTheSchema) {
  Diagnostic d = only(check(enforcing("docker", "ebpff")));
  EXPECT_EQ(d.path, "spec.network.enforcement");
  EXPECT_FALSE(mentions(d, "host kernel")) << d.message;
}

// ---- rule 7: desktop ---------------------------------------------------------------

ProfileYaml desktop(std::string_view desktop_lines, std::string_view ami_line) {
  std::string runtime = "substrate: ec2\ninstanceType: t3.large\nregion: us-east-1\n";
  if (!ami_line.empty()) runtime += std::string(ami_line) + "\n";
  return ProfileYaml().section("runtime", runtime + "desktop:\n" + indented(desktop_lines));
}

TEST(SemanticTest, DesktopOnAmazonLinuxIsAnError) {
  Checked c = check(desktop("enabled: true", "ami: amazon-linux-2023"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.desktop.enabled");
  EXPECT_EQ(d.line, c.lineOf("desktop:") + 1);
  EXPECT_TRUE(mentions(d, "needs an Ubuntu image")) << d.message;
  EXPECT_TRUE(mentions(d, "amazon-linux-2023")) << d.message;
  EXPECT_TRUE(mentions(d, "ami: ubuntu-24.04")) << d.message;
}

TEST(SemanticTest, DesktopWithoutAmiIsAnErrorBecauseTheDefaultIsAmazonLinux) {
  Diagnostic d = only(check(desktop("enabled: true", "")));
  EXPECT_TRUE(d.isError());
  EXPECT_TRUE(mentions(d, "Amazon Linux 2023")) << d.message;
  EXPECT_TRUE(only(check(desktop("enabled: true", "ami: \"\""))).isError());
}

TEST(SemanticTest, DesktopOnRawAmiIdWarns) {
  Diagnostic d = only(check(desktop("enabled: true", "ami: ami-0123456789abcdef0")));
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.desktop.enabled");
  EXPECT_TRUE(mentions(d, "cannot tell offline")) << d.message;
  EXPECT_TRUE(mentions(d, "ami-0123456789abcdef0")) << d.message;
}

TEST(SemanticTest, DesktopOnUbuntuIsAccepted) {
  EXPECT_CLEAN(check(desktop(R"(
    enabled: true
    mode: full
    browsers: [chrome, brave]
    geometry: 1280x720)", "ami: ubuntu-24.04")));
  EXPECT_CLEAN(check(desktop("enabled: true", "ami: ubuntu-22.04")));
}

TEST(SemanticTest, DisabledDesktopIsNotChecked) {
  EXPECT_CLEAN(check(desktop("enabled: false\nbrowsers: []", "ami: amazon-linux-2023")));
  EXPECT_CLEAN(check(desktop("mode: kiosk", "ami: amazon-linux-2023")));  // enabled defaults off
}

TEST(SemanticTest, KioskDesktopWithAnExplicitlyEmptyBrowserListIsAnError) {
  Checked c = check(desktop("enabled: true\nmode: kiosk\nbrowsers: []", "ami: ubuntu-24.04"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.desktop.browsers");
  EXPECT_EQ(d.line, c.lineOf("browsers: []"));
  EXPECT_TRUE(mentions(d, "browsers is empty")) << d.message;
  EXPECT_TRUE(mentions(d, "mode: full")) << d.message;
  // mode defaults to kiosk
  EXPECT_EQ(only(check(desktop("enabled: true\nbrowsers: []", "ami: ubuntu-24.04"))).path,
            "spec.runtime.desktop.browsers");
}

TEST(SemanticTest, KioskDesktopWithoutBrowsersGetsTheFirefoxDefault) {
  EXPECT_CLEAN(check(desktop("enabled: true\nmode: kiosk", "ami: ubuntu-24.04")));
  EXPECT_CLEAN(check(desktop("enabled: true\nmode: full\nbrowsers: []", "ami: ubuntu-24.04")));
}

// ---- rule 8: additionalSnapshots ----------------------------------------------------

ProfileYaml snapshots(std::string_view substrate, std::string_view items) {
  return ProfileYaml().section("runtime", "substrate: " + std::string(substrate) +
                                              "\ninstanceType: t3.medium\nregion: us-east-1\n"
                                              "additionalSnapshots:\n" + indented(items));
}

TEST(SemanticTest, DistinctSnapshotsOnEc2AreAccepted) {
  EXPECT_CLEAN(check(snapshots("ec2", R"(
    - {snapshotId: snap-0123abcd, mountPoint: /data, device: /dev/sdf}
    - {snapshotId: snap-0123abce, mountPoint: /opt/models, device: /dev/sdg}
    - {snapshotId: snap-0123abcf, mountPoint: /mnt/cache})")));
}

TEST(SemanticTest, SnapshotsOffEc2AreOneErrorOnTheList) {
  Checked c = check(snapshots("docker", R"(
    - {snapshotId: snap-0123abcd, mountPoint: /data}
    - {snapshotId: snap-0123abce, mountPoint: /data2})"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.additionalSnapshots");
  EXPECT_EQ(d.line, c.lineOf("- {snapshotId: snap-0123abcd"));
  EXPECT_TRUE(mentions(d, "this profile uses docker")) << d.message;
  EXPECT_TRUE(mentions(d, "substrate: ec2")) << d.message;
  EXPECT_EQ(only(check(snapshots("local", "- {snapshotId: snap-0123abcd, mountPoint: /data}"))).path,
            "spec.runtime.additionalSnapshots");
}

TEST(SemanticTest, SnapshotOnAReservedMountPointIsAnError) {
  for (std::string mount : {"/", "/shared", "/workspace", "/tmp", "/opt", "/home", "/etc"}) {
    Checked c = check(snapshots("ec2", "- {snapshotId: snap-0123abcd, mountPoint: " + mount + "}"));
    Diagnostic d = only(c);
    EXPECT_TRUE(d.isError()) << mount;
    EXPECT_EQ(d.path, "spec.runtime.additionalSnapshots[0].mountPoint") << mount;
    EXPECT_EQ(d.line, c.lineOf("- {snapshotId")) << mount;
    EXPECT_TRUE(mentions(d, "mountPoint " + mount + " is a system or km directory")) << d.message;
  }
  // Only the exact directories are reserved.
  EXPECT_CLEAN(check(snapshots("ec2", "- {snapshotId: snap-0123abcd, mountPoint: /tmp/data}")));
}

TEST(SemanticTest, SnapshotOnTheAdditionalVolumeMountPointIsAnError) {
  Checked c = check(snapshots("ec2", "- {snapshotId: snap-0123abcd, mountPoint: /data}")
                        .extend("runtime", "additionalVolume: {size: 20, mountPoint: /data}"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.additionalSnapshots[0].mountPoint");
  EXPECT_TRUE(mentions(d, "already used by spec.runtime.additionalVolume.mountPoint")) << d.message;
}

TEST(SemanticTest, DuplicateSnapshotMountPointIsAnErrorOnTheLaterSnapshot) {
  Checked c = check(snapshots("ec2", R"(
    - {snapshotId: snap-0123abcd, mountPoint: /data}
    - {snapshotId: snap-0123abce, mountPoint: /data})"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.additionalSnapshots[1].mountPoint");
  EXPECT_EQ(d.line, c.lineOf("snap-0123abce"));
  EXPECT_TRUE(mentions(d, "also used by additionalSnapshots[0]")) << d.message;
}

TEST(SemanticTest, DuplicateSnapshotDeviceIsAnError) {
  Checked c = check(snapshots("ec2", R"(
    - {snapshotId: snap-0123abcd, mountPoint: /data1, device: /dev/sdf}
    - {snapshotId: snap-0123abce, mountPoint: /data2, device: /dev/sdg}
    - {snapshotId: snap-0123abcf, mountPoint: /data3, device: /dev/sdf})"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.runtime.additionalSnapshots[2].device");
  EXPECT_EQ(d.line, c.lineOf("snap-0123abcf"));
  EXPECT_TRUE(mentions(d, "device /dev/sdf is also used by additionalSnapshots[0]")) << d.message;
}

TEST(SemanticTest, SchemaInvalidSnapshotFieldsAreNotReportedAgain) {
  Checked c = check(snapshots("ec2", R"(
    - {snapshotId: snap-0123abcd, mountPoint: data, device: /dev/xvda}
    - {snapshotId: snap-0123abce, mountPoint: data, device: /dev/xvda})"));
  ASSERT_EQ(c.all().size(), 4u) << c.dump();  // pattern errors only, no duplicates reported
  for (const auto& d : c.all()) EXPECT_FALSE(mentions(d, "also used by")) << d.message;
}

// ---- rule 9: sopsFile ---------------------------------------------------------------

TEST(SemanticTest, SopsFileNotEndingInEncYamlIsAnError) {
  Checked c = check(ProfileYaml().section("secrets", "sopsFile: secrets/prod.yaml"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.secrets.sopsFile");
  EXPECT_EQ(d.line, c.lineOf("sopsFile:"));
  EXPECT_TRUE(mentions(d, "must end in .enc.yaml")) << d.message;
  EXPECT_TRUE(mentions(d, "secrets/prod.enc.yaml")) << d.message;
  Diagnostic json = only(check(ProfileYaml().section("secrets", "sopsFile: s.json")));
  EXPECT_TRUE(mentions(json, "s.json.enc.yaml")) << json.message;
}

TEST(SemanticTest, SopsFileEndingInEncYamlIsAccepted) {
  EXPECT_CLEAN(check(ProfileYaml().section("secrets", "sopsFile: secrets/prod.enc.yaml")));
  EXPECT_CLEAN(check(ProfileYaml().section("secrets", "{}")));
}

// ---- km's sourceAccess warnings -----------------------------------------------------------

TEST(SemanticTest, GithubAllowlistWithModeNoneWarns) {
  Checked c = check(ProfileYaml().section("sourceAccess", R"(
    mode: none
    github:
      allowedRepos: [acme/api])"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.sourceAccess.github");
  EXPECT_EQ(d.line, c.lineOf("allowedRepos"));
  EXPECT_TRUE(mentions(d, "is ignored")) << d.message;
  EXPECT_TRUE(mentions(d, "mode: allowlist")) << d.message;
}

TEST(SemanticTest, AllowlistWithEmptyAllowedReposWarns) {
  Checked c = check(ProfileYaml().section("sourceAccess", R"(
    mode: allowlist
    github:
      allowedRepos: [])"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.sourceAccess.github.allowedRepos");
  EXPECT_EQ(d.line, c.lineOf("allowedRepos: []"));
  EXPECT_TRUE(mentions(d, "no repository is reachable")) << d.message;
}

TEST(SemanticTest, AllowlistWithoutGithubBlockIsAcceptedAsNoRepositories) {
  // The sealed and hardened built-ins are written this way on purpose.
  EXPECT_CLEAN(check(ProfileYaml().section("sourceAccess", "mode: allowlist")));
  EXPECT_CLEAN(check(ProfileYaml().section("sourceAccess", R"(
    mode: allowlist
    github: {allowedRepos: ["acme/*"], allowedRefs: [main]})")));
}

// ---- rule 6: Slack --------------------------------------------------------------------

// spec.notification with `slack_lines` under slack and, when given, `email_lines` under email.
ProfileYaml notifying(std::string_view slack_lines, std::string_view email_lines = "") {
  std::string body;
  if (!email_lines.empty()) body += "email:\n" + indented(email_lines);
  body += "slack:\n" + indented(slack_lines);
  return ProfileYaml().section("notification", body);
}

// A per-sandbox channel with every optional feature on: the shape the rules steer towards.
constexpr std::string_view kFullSlack = R"(
  enabled: true
  perSandbox: true
  channelName: "sb-{alias}"
  archiveOnDestroy: false
  private: true
  inbound: {enabled: true, allow: [U012AB3CD], maxConcurrentThreads: 4}
  transcript: {enabled: true}
  invites: {emails: [ops@example.com], useConnect: false})";

TEST(SemanticTest, FullyConfiguredPerSandboxSlackIsAccepted) {
  EXPECT_CLEAN(check(notifying(kFullSlack)));
  EXPECT_CLEAN(check(notifying("enabled: true\nchannelOverride: C0123ABC")));
}

TEST(SemanticTest, PerSandboxWithChannelOverrideIsAnError) {
  Checked c = check(notifying("enabled: true\nperSandbox: true\nchannelOverride: C0123ABC"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.notification.slack");
  EXPECT_EQ(d.line, c.lineOf("slack:") + 1);  // where the slack mapping's content starts
  EXPECT_TRUE(mentions(d, "cannot also choose one")) << d.message;
  EXPECT_TRUE(mentions(d, "remove channelOverride")) << d.message;
}

TEST(SemanticTest, PerSandboxWithSlackExplicitlyDisabledWarns) {
  Checked c = check(notifying("enabled: false\nperSandbox: true"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.notification.slack.perSandbox");
  EXPECT_EQ(d.line, c.lineOf("perSandbox: true"));
  EXPECT_TRUE(mentions(d, "no effect while notification.slack.enabled is false")) << d.message;
  // Not written is not "explicitly false".
  EXPECT_CLEAN(check(notifying("perSandbox: true")));
}

TEST(SemanticTest, ArchiveOnDestroyWithoutPerSandboxWarns) {
  for (std::string value : {"true", "false"}) {
    Checked c = check(notifying("enabled: true\narchiveOnDestroy: " + value));
    Diagnostic d = only(c);
    EXPECT_FALSE(d.isError());
    EXPECT_EQ(d.path, "spec.notification.slack.archiveOnDestroy");
    EXPECT_EQ(d.line, c.lineOf("archiveOnDestroy"));
    EXPECT_TRUE(mentions(d, "only applies to per-sandbox channels")) << d.message;
    EXPECT_TRUE(mentions(d, "set perSandbox: true")) << d.message;
  }
}

TEST(SemanticTest, PrivateWithoutPerSandboxWarns) {
  Checked c = check(notifying("enabled: true\nprivate: true"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.notification.slack.private");
  EXPECT_EQ(d.line, c.lineOf("private: true"));
  EXPECT_CLEAN(check(notifying("enabled: true\nprivate: false")));
}

TEST(SemanticTest, InboundAllowWithoutPerSandboxWarns) {
  Checked c = check(notifying("enabled: true\ninbound:\n  allow: [U012AB3CD]"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.notification.slack.inbound.allow");
  EXPECT_EQ(d.line, c.lineOf("allow:"));
  EXPECT_TRUE(mentions(d, "no effect without a per-sandbox channel")) << d.message;
  EXPECT_CLEAN(check(notifying("enabled: true\ninbound:\n  allow: []")));
}

TEST(SemanticTest, ParallelInboundThreadsWithoutPerSandboxInboundWarn) {
  Checked c = check(notifying("enabled: true\nperSandbox: true\ninbound: {maxConcurrentThreads: 3}"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.notification.slack.inbound.maxConcurrentThreads");
  EXPECT_EQ(d.line, c.lineOf("maxConcurrentThreads"));
  EXPECT_TRUE(mentions(d, "maxConcurrentThreads 3 has no effect")) << d.message;
  EXPECT_EQ(only(check(notifying("enabled: true\ninbound:\n  maxConcurrentThreads: 2"))).path,
            "spec.notification.slack.inbound.maxConcurrentThreads");
}

TEST(SemanticTest, OneInboundThreadNeedsNoPerSandboxInbound) {
  EXPECT_CLEAN(check(notifying("enabled: true\ninbound:\n  maxConcurrentThreads: 1")));
  EXPECT_CLEAN(check(notifying(
      "enabled: true\nperSandbox: true\ninbound: {enabled: true, maxConcurrentThreads: 8}")));
}

TEST(SemanticTest, ChannelNameWithChannelOverrideIsAnError) {
  Checked c = check(notifying("enabled: true\nchannelName: sb-{id}\nchannelOverride: C0123ABC"));
  auto found = c.at("spec.notification.slack.channelName");
  ASSERT_EQ(found.size(), 2u) << c.dump();  // plus the no-perSandbox warning below
  EXPECT_TRUE(found[0].isError());
  EXPECT_EQ(found[0].line, c.lineOf("channelName"));
  EXPECT_TRUE(mentions(found[0], "keep only one")) << found[0].message;
  EXPECT_FALSE(found[1].isError());
}

TEST(SemanticTest, ChannelNameWithoutPerSandboxWarns) {
  Checked c = check(notifying("enabled: true\nchannelName: sb-{alias}"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.notification.slack.channelName");
  EXPECT_EQ(d.line, c.lineOf("channelName"));
  EXPECT_TRUE(mentions(d, "only names per-sandbox channels")) << d.message;
}

TEST(SemanticTest, SlackOffWithEmailDisabledWarnsThatNothingDelivers) {
  Checked c = check(notifying("perSandbox: false", "enabled: false"));
  Diagnostic d = only(c);
  EXPECT_FALSE(d.isError());
  EXPECT_EQ(d.path, "spec.notification");
  EXPECT_EQ(d.line, c.lineOf("email:"));
  EXPECT_TRUE(mentions(d, "no notification channel will deliver")) << d.message;
  EXPECT_EQ(only(check(notifying("enabled: false", "enabled: false"))).path, "spec.notification");
}

TEST(SemanticTest, SomeNotificationChannelLeftOnIsAccepted) {
  EXPECT_CLEAN(check(notifying("enabled: false")));                    // email defaults on
  EXPECT_CLEAN(check(notifying("enabled: false", "address: a@b.co")));  // still on
  EXPECT_CLEAN(check(notifying("enabled: true", "enabled: false")));
  // Slack rules only run when a slack block is written.
  EXPECT_CLEAN(check(ProfileYaml().section("notification", "email: {enabled: false}")));
}

TEST(SemanticTest, InboundNeedsSlackOnAndAPerSandboxChannel) {
  Checked c = check(notifying("inbound: {enabled: true}"));
  auto found = c.at("spec.notification.slack.inbound.enabled");
  ASSERT_EQ(c.all().size(), 2u) << c.dump();
  ASSERT_EQ(found.size(), 2u) << c.dump();
  for (const auto& d : found) {
    EXPECT_TRUE(d.isError());
    EXPECT_EQ(d.line, c.lineOf("inbound:"));
  }
  EXPECT_TRUE(mentions(found[0], "set notification.slack.enabled: true")) << found[0].message;
  EXPECT_TRUE(mentions(found[1], "set notification.slack.perSandbox: true")) << found[1].message;
}

TEST(SemanticTest, InboundWithChannelOverrideIsAnError) {
  Checked c = check(notifying("enabled: true\nchannelOverride: C0123ABC\ninbound: {enabled: true}"));
  auto found = c.at("spec.notification.slack.inbound.enabled");
  ASSERT_EQ(found.size(), 2u) << c.dump();  // no perSandbox, and the override
  EXPECT_TRUE(mentions(found[1], "cannot use a shared channelOverride")) << found[1].message;
}

TEST(SemanticTest, TranscriptHasTheSameThreeRequirementsAsInbound) {
  Checked c = check(notifying("channelOverride: C0123ABC\ntranscript: {enabled: true}"));
  auto found = c.at("spec.notification.slack.transcript.enabled");
  ASSERT_EQ(c.all().size(), 3u) << c.dump();
  ASSERT_EQ(found.size(), 3u) << c.dump();
  for (const auto& d : found) {
    EXPECT_TRUE(d.isError());
    EXPECT_EQ(d.line, c.lineOf("transcript:"));
    EXPECT_TRUE(mentions(d, "transcript streaming")) << d.message;
  }
  EXPECT_TRUE(mentions(found[0], "enabled: true")) << found[0].message;
  EXPECT_TRUE(mentions(found[1], "perSandbox: true")) << found[1].message;
  EXPECT_TRUE(mentions(found[2], "channelOverride")) << found[2].message;
  EXPECT_CLEAN(check(notifying("transcript: {enabled: false}")));
}

TEST(SemanticTest, InviteEmailsNeedSlackEnabled) {
  Checked c = check(notifying("perSandbox: true\ninvites:\n  emails: [ops@example.com]"));
  Diagnostic d = only(c);
  EXPECT_TRUE(d.isError());
  EXPECT_EQ(d.path, "spec.notification.slack.invites.emails");
  EXPECT_EQ(d.line, c.lineOf("emails:"));
  EXPECT_TRUE(mentions(d, "needs notification.slack.enabled: true")) << d.message;
  EXPECT_CLEAN(check(notifying("invites:\n  emails: []")));
}

TEST(SemanticTest, MalformedInviteEmailIsAnErrorAtItsIndex) {
  Checked c = check(notifying(R"(
    enabled: true
    perSandbox: true
    invites:
      emails:
        - ops@example.com
        - "bob at example.com"
        - alice@localhost)"));
  ASSERT_EQ(c.all().size(), 2u) << c.dump();
  auto first = c.at("spec.notification.slack.invites.emails[1]");
  ASSERT_EQ(first.size(), 1u) << c.dump();
  EXPECT_TRUE(first[0].isError());
  EXPECT_EQ(first[0].line, c.lineOf("bob at"));
  EXPECT_TRUE(mentions(first[0], "\"bob at example.com\" is not an email address"))
      << first[0].message;
  auto second = c.at("spec.notification.slack.invites.emails[2]");
  ASSERT_EQ(second.size(), 1u) << c.dump();
  EXPECT_EQ(second[0].line, c.lineOf("alice@localhost"));
}

TEST(SemanticTest, SlackValuesTheSchemaRejectedAreNotReasonedAbout) {
  // "yes" is not a bool: the schema says so, and the rules do not treat it as false.
  Checked c = check(notifying("enabled: \"yes\"\nperSandbox: true\ninbound: {enabled: true}"));
  Diagnostic d = only(c);
  EXPECT_EQ(d.path, "spec.notification.slack.enabled");
  // A bad channel id is a schema error, not also a perSandbox conflict.
  Checked bad_id = check(notifying("enabled: true\nperSandbox: true\nchannelOverride: general"));
  EXPECT_EQ(only(bad_id).path, "spec.notification.slack.channelOverride");
}

TEST(SemanticTest, UnreadableSlackSectionIsReportedOnlyByTheSchema) {
  Checked c = check(ProfileYaml().section("notification", "email: {enabled: false}\nslack: null"));
  EXPECT_EQ(only(c).path, "spec.notification.slack");
  Checked list = check(ProfileYaml().section("notification", "slack: [enabled]"));
  EXPECT_EQ(only(list).path, "spec.notification.slack");
}

}  // namespace
}  // namespace km::profile
