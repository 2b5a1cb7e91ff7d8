// `extends` resolution: lookup order, merge semantics, diamonds (and upstream's quirk),
// cycles, the depth limit, and that errors inside parents point at the parent's file.
// Every profile tree is written into a ScopedTempDir and loaded through profile::load.
#include "profile/extends.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "doc/yaml_io.h"
#include "profile/profile.h"
#include "support/profile_fixtures.h"
#include "support/temp_dir.h"

namespace km::profile {
namespace {

using km::test::ScopedTempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kComplete = km::test::kCompleteProfile;

// A profile named `name` with `extends: <extends>` (YAML text, e.g. "base" or "[a, b]") and
// `spec` (YAML lines already indented by two spaces, or empty).
std::string child(const std::string& name, const std::string& extends,
                  const std::string& spec = "") {
  std::string out =
      "apiVersion: klankermaker.ai/v1alpha2\nkind: SandboxProfile\nmetadata:\n  name: " + name +
      "\nextends: " + extends + "\n";
  if (!spec.empty()) out += "spec:\n" + spec;
  return out;
}

// The node at a dotted path of map keys, or nullptr.
const doc::Node* at(const doc::Node& root, std::string_view dotted) {
  const doc::Node* n = &root;
  while (!dotted.empty()) {
    size_t dot = dotted.find('.');
    std::string key(dotted.substr(0, dot));
    dotted = dot == std::string_view::npos ? "" : dotted.substr(dot + 1);
    if (!n->isMap()) return nullptr;
    n = n->find(key);
    if (!n) return nullptr;
  }
  return n;
}

std::vector<std::string> texts(const doc::Node* seq) {
  std::vector<std::string> out;
  if (!seq) return out;
  for (const auto& i : seq->items()) out.push_back(i.text());
  return out;
}

// 1-based line of the first line of `text` containing `needle` (0 if none).
uint32_t lineOf(std::string_view text, std::string_view needle) {
  size_t pos = text.find(needle);
  if (pos == std::string_view::npos) return 0;
  uint32_t line = 1;
  for (size_t i = 0; i < pos; ++i) line += text[i] == '\n';
  return line;
}

std::string allMessages(const Loaded& l) {
  std::string out;
  for (const auto& d : l.diagnostics.all()) out += d.format() + "\n";
  return out;
}

const doc::Diagnostic* firstErrorContaining(const Loaded& l, std::string_view needle) {
  for (const auto& d : l.diagnostics.all())
    if (d.isError() && d.message.find(needle) != std::string::npos) return &d;
  return nullptr;
}

Loaded mustLoad(const std::string& file, LoadOptions options = {}) {
  auto l = load(file, options);
  EXPECT_TRUE(l.has_value()) << file;
  return l ? std::move(*l) : Loaded{};
}

doc::Node yaml(std::string_view text) {
  doc::Node n;
  doc::Diagnostics d;
  EXPECT_TRUE(doc::parseYaml(text, "test.yaml", n, d));
  return n;
}

// --- lookup ------------------------------------------------------------------------------

TEST(ExtendsTest, ResolvesSingleParentByNameFromDeclaringDirectory) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  std::string leaf =
      dir.write("child.yaml", child("child", "base", "  runtime:\n    instanceType: t3.medium\n"));

  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.medium");  // child wins
  EXPECT_EQ(l.profile.spec.lifecycle.ttl, "4h");                 // from the parent
  EXPECT_EQ(l.profile.metadata.name, "child");
}

TEST(ExtendsTest, ResolvesNamesWithSlashesUnderDeclaringDirectory) {
  ScopedTempDir dir;
  dir.write("base/full.yaml", std::string(kComplete));
  dir.write("base/os/x.yaml", child("x", "[]", "  runtime:\n    ami: ubuntu-24.04\n"));
  std::string leaf = dir.write("leaf.yaml", child("leaf", "[base/full, base/os/x]"));

  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.runtime.ami.value_or(""), "ubuntu-24.04");
}

TEST(ExtendsTest, ParentsOwnParentsAreLookedUpInTheParentsDirectoryFirst) {
  ScopedTempDir dir;
  ScopedTempDir search;
  dir.write("base/os/y.yaml", std::string(kComplete));
  dir.write("base/os/x.yaml", child("x", "y", "  runtime:\n    ami: ubuntu-24.04\n"));
  // A decoy on the search path: base/os/x's own directory must win over it.
  search.write("y.yaml", child("decoy", "[]", "  runtime:\n    instanceType: decoy.large\n"));
  std::string leaf = dir.write("leaf.yaml", child("leaf", "base/os/x"));

  Loaded l = mustLoad(leaf, {.search_paths = {search.path()}});
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.small");
  EXPECT_EQ(l.profile.spec.runtime.ami.value_or(""), "ubuntu-24.04");
}

TEST(ExtendsTest, SearchesDeclaringDirectoryThenSearchPathsInOrder) {
  ScopedTempDir leafdir, sp1, sp2;
  leafdir.write("p.yaml", std::string(kComplete));
  sp1.write("p.yaml", child("decoy-p", "[]", "  runtime:\n    instanceType: sp1.p\n"));
  sp1.write("q.yaml", child("q", "[]", "  runtime:\n    region: eu-west-1\n"));
  sp2.write("q.yaml", child("decoy-q", "[]", "  runtime:\n    region: ap-south-1\n"));
  sp2.write("r.yaml", child("r", "[]", "  runtime:\n    spot: true\n"));
  std::string leaf = leafdir.write("leaf.yaml", child("leaf", "[p, q, r]"));

  Loaded l = mustLoad(leaf, {.search_paths = {sp1.path(), sp2.path()}});
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.small");  // leaf dir beats sp1
  EXPECT_EQ(l.profile.spec.runtime.region, "eu-west-1");        // sp1 beats sp2
  EXPECT_EQ(l.profile.spec.runtime.spot, true);                 // only in sp2
}

TEST(ExtendsTest, BuiltinNamesShadowFilesOfTheSameName) {
  ScopedTempDir dir;
  dir.write("sealed.yaml", child("not-sealed", "[]", "  runtime:\n    instanceType: t3.2xlarge\n"));
  std::string leaf = dir.write("leaf.yaml", child("leaf", "sealed"));

  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.micro");  // the built-in's value
  EXPECT_TRUE(l.profile.spec.network.egress.allowed_hosts.empty());
}

TEST(ExtendsTest, BuiltinParentIsMergedUnderTheChild) {
  ScopedTempDir dir;
  std::string leaf =
      dir.write("leaf.yaml", child("leaf", "hardened", "  lifecycle:\n    ttl: 2h\n"));
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.lifecycle.ttl, "2h");
  EXPECT_EQ(l.profile.spec.lifecycle.idle_timeout, "1h");
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.small");
}

TEST(ExtendsTest, LoadByNameFindsFileOnSearchPath) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  dir.write("team/dev.yaml", child("dev", "base", "  lifecycle:\n    ttl: 6h\n"));
  // team/dev's parent "base" is not in team/, only on the search path.
  Loaded l = mustLoad("team/dev", {.search_paths = {dir.path()}});
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.lifecycle.ttl, "6h");
}

// --- merge semantics ---------------------------------------------------------------------

TEST(ExtendsTest, FoldsParentsLeftToRightWithChildLast) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  dir.write("a.yaml",
            child("a", "[]", "  runtime:\n    instanceType: a.large\n    region: eu-west-1\n"));
  dir.write("b.yaml", child("b", "[]", "  runtime:\n    instanceType: b.large\n"));
  std::string leaf =
      dir.write("leaf.yaml", child("leaf", "[base, a, b]", "  runtime:\n    region: us-west-2\n"));

  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "b.large");  // b is after a
  EXPECT_EQ(l.profile.spec.runtime.region, "us-west-2");       // child last
  EXPECT_EQ(l.profile.metadata.name, "leaf");
}

TEST(ExtendsTest, MapsMergeKeyByKey) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  dir.write("p.yaml", child("p", "base", "  execution:\n    env: {A: \"1\", B: \"2\"}\n"));
  std::string leaf =
      dir.write("leaf.yaml", child("leaf", "p", "  execution:\n    env: {B: \"3\", C: \"4\"}\n"));

  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  using Entry = std::pair<std::string, std::string>;
  EXPECT_THAT(l.profile.spec.execution.env,
              ElementsAre(Entry{"A", "1"}, Entry{"B", "3"}, Entry{"C", "4"}));
  EXPECT_EQ(l.profile.spec.execution.shell, "/bin/bash");  // sibling keys of the parent kept
}

TEST(ExtendsTest, ListsConcatenateDroppingLaterDuplicates) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  std::string leaf =
      dir.write("leaf.yaml", child("leaf", "base",
                                   "  network:\n    egress:\n      allowedHosts: [x.example, "
                                   "base.example.com, y.example, x.example]\n"));
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_THAT(l.profile.spec.network.egress.allowed_hosts,
              ElementsAre("base.example.com", "x.example", "y.example"));
  EXPECT_THAT(l.profile.spec.network.egress.allowed_dns_suffixes, ElementsAre(".base.example"));
}

TEST(ExtendsTest, ChildCannotNarrowParentsList) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  dir.write("wide.yaml",
            child("wide", "base", "  iam:\n    allowedRegions: [us-east-1, us-west-2]\n"));
  std::string leaf =
      dir.write("leaf.yaml", child("leaf", "wide", "  iam:\n    allowedRegions: [us-east-1]\n"));
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_THAT(l.profile.spec.iam.allowed_regions, ElementsAre("us-east-1", "us-west-2"));
}

TEST(ExtendsTest, ObjectListItemsAreDeduplicatedByDeepEquality) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  dir.write("p.yaml", child("p", "base",
                            "  runtime:\n    additionalSnapshots:\n"
                            "      - {snapshotId: snap-0123456789abcdef0, mountPoint: /data1}\n"));
  // The same object written in another style and key order, plus a new one.
  std::string leaf =
      dir.write("leaf.yaml",
                child("leaf", "p",
                      "  runtime:\n    additionalSnapshots:\n"
                      "      - mountPoint: /data1\n        snapshotId: \"snap-0123456789abcdef0\"\n"
                      "      - {snapshotId: snap-0123456789abcdef1, mountPoint: /data2}\n"));
  Loaded l = mustLoad(leaf);
  const auto& snaps = l.profile.spec.runtime.additional_snapshots;
  ASSERT_EQ(snaps.size(), 2u) << allMessages(l);
  EXPECT_EQ(snaps[0].mount_point, "/data1");
  EXPECT_EQ(snaps[1].mount_point, "/data2");
  EXPECT_TRUE(l.ok()) << allMessages(l);  // a kept duplicate would trip the duplicate-mount rule
}

TEST(ExtendsTest, ObjectListItemsThatDifferAreKept) {
  doc::Node merged = mergeNodes(yaml("[{a: 1, b: 2}]"), yaml("[{a: 1, b: 3}, {b: 2, a: 1}]"));
  ASSERT_TRUE(merged.isSeq());
  ASSERT_EQ(merged.items().size(), 2u);
  EXPECT_EQ(merged.items()[1].find("b")->text(), "3");
}

TEST(ExtendsTest, ScalarsLastWins) {
  doc::Node merged = mergeNodes(yaml("{a: 1, b: x, c: true}"), yaml("{a: 2, c: false}"));
  EXPECT_EQ(merged.find("a")->text(), "2");
  EXPECT_EQ(merged.find("b")->text(), "x");
  EXPECT_EQ(merged.find("c")->text(), "false");
}

TEST(ExtendsTest, TypeMismatchLaterValueWins) {
  doc::Node merged = mergeNodes(yaml("{m: {k: v}, l: [1, 2], s: text, n: 3}"),
                                yaml("{m: scalar, l: {k: v}, s: [a], n: null}"));
  EXPECT_EQ(merged.find("m")->kind(), doc::Node::Kind::kString);
  EXPECT_EQ(merged.find("m")->text(), "scalar");
  EXPECT_TRUE(merged.find("l")->isMap());
  EXPECT_THAT(texts(merged.find("s")), ElementsAre("a"));
  EXPECT_TRUE(merged.find("n")->isNull());
}

TEST(ExtendsTest, TypeMismatchThroughLoadIsReportedByTheSchema) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  std::string leaf =
      dir.write("leaf.yaml",
                child("leaf", "base", "  network:\n    egress:\n      allowedHosts: everything\n"));
  Loaded l = mustLoad(leaf);
  EXPECT_FALSE(l.ok());  // the child's string replaced the parent's list; the schema rejects it
  const doc::Diagnostic* e = nullptr;
  for (const auto& d : l.diagnostics.all())
    if (d.isError() && d.path == "spec.network.egress.allowedHosts") e = &d;
  ASSERT_NE(e, nullptr) << allMessages(l);
  EXPECT_EQ(e->file, leaf);
}

// --- diamonds and cycles -----------------------------------------------------------------

TEST(ExtendsTest, DiamondResolvesSharedBaseOnceWithoutFalseCycle) {
  ScopedTempDir dir;
  // An unknown key in the shared base: reported once, though reached through both parents.
  std::string base_text = std::string(kComplete) + "  artifacts:\n    bogusKey: 1\n";
  std::string base = dir.write("base.yaml", base_text);
  dir.write("a.yaml", child("a", "base",
                            "  runtime:\n    instanceType: t3.medium\n"
                            "  network:\n    egress:\n      allowedHosts: [a.example]\n"));
  dir.write("b.yaml",
            child("b", "base", "  network:\n    egress:\n      allowedHosts: [b.example]\n"));
  std::string leaf = dir.write("d.yaml", child("d", "[a, b]"));

  Loaded l = mustLoad(leaf);
  EXPECT_EQ(firstErrorContaining(l, "circular"), nullptr) << allMessages(l);
  ASSERT_EQ(l.diagnostics.errorCount(), 1u) << allMessages(l);
  const doc::Diagnostic& only = l.diagnostics.all().front();
  EXPECT_EQ(only.file, base);
  EXPECT_EQ(only.line, lineOf(base_text, "bogusKey"));
  EXPECT_THAT(l.profile.spec.network.egress.allowed_hosts,
              ElementsAre("base.example.com", "a.example", "b.example"));
}

TEST(ExtendsTest, DiamondReproducesUpstreamQuirkLaterSiblingReassertsBaseScalars) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));  // instanceType t3.small
  dir.write("a.yaml", child("a", "base", "  runtime:\n    instanceType: t3.medium\n"));
  dir.write("b.yaml", child("b", "base", "  lifecycle:\n    ttl: 6h\n"));
  std::string leaf = dir.write("d.yaml", child("d", "[a, b]"));

  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  // b's resolved map carries base's t3.small and is folded after a: a's override is lost.
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.small");
  EXPECT_EQ(l.profile.spec.lifecycle.ttl, "6h");
}

TEST(ExtendsTest, CycleIsReportedWithChainAtTheExtendsEntry) {
  ScopedTempDir dir;
  std::string a = dir.write("a.yaml", child("a", "b"));
  std::string b_text = child("b", "\n  - a");
  std::string b = dir.write("b.yaml", b_text);

  Loaded l = mustLoad(a);
  EXPECT_FALSE(l.ok());
  const doc::Diagnostic* e = firstErrorContaining(l, "circular");
  ASSERT_NE(e, nullptr) << allMessages(l);
  EXPECT_THAT(e->message, HasSubstr(a + " → " + b + " → " + a));
  EXPECT_EQ(e->file, b);
  EXPECT_EQ(e->line, lineOf(b_text, "  - a"));
  EXPECT_EQ(e->column, 5u);
  EXPECT_EQ(e->path, "extends[0]");
}

TEST(ExtendsTest, SelfExtendsIsACycle) {
  ScopedTempDir dir;
  std::string text = child("a", "a");
  std::string a = dir.write("a.yaml", text);
  Loaded l = mustLoad(a);
  const doc::Diagnostic* e = firstErrorContaining(l, "circular");
  ASSERT_NE(e, nullptr) << allMessages(l);
  EXPECT_EQ(e->file, a);
  EXPECT_EQ(e->line, lineOf(text, "extends:"));
  EXPECT_EQ(e->column, 10u);
  EXPECT_EQ(e->path, "extends");
}

// --- depth -------------------------------------------------------------------------------

// p0 (the leaf) extends p1 ... extends p<n-1>, which is complete: n profiles in all.
std::string writeChain(const ScopedTempDir& dir, int n) {
  for (int i = 0; i + 1 < n; ++i)
    dir.write("p" + std::to_string(i) + ".yaml",
              child("p" + std::to_string(i), "p" + std::to_string(i + 1)));
  dir.write("p" + std::to_string(n - 1) + ".yaml", std::string(kComplete));
  return dir.path() + "/p0.yaml";
}

TEST(ExtendsTest, ChainOfElevenProfilesResolves) {
  ScopedTempDir dir;
  Loaded l = mustLoad(writeChain(dir, 11));
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_EQ(l.profile.spec.runtime.instance_type, "t3.small");
}

TEST(ExtendsTest, ChainOfTwelveProfilesExceedsDepth) {
  ScopedTempDir dir;
  Loaded l = mustLoad(writeChain(dir, 12));
  EXPECT_FALSE(l.ok());
  const doc::Diagnostic* e = firstErrorContaining(l, "inheritance depth exceeded");
  ASSERT_NE(e, nullptr) << allMessages(l);
  EXPECT_THAT(e->message, HasSubstr("p0.yaml → "));
  EXPECT_THAT(e->message, HasSubstr("p10.yaml → "));
  EXPECT_THAT(e->message, HasSubstr("p11.yaml"));
  EXPECT_EQ(e->file, dir.path() + "/p10.yaml");  // the entry that would go one level too deep
}

// --- bad extends -------------------------------------------------------------------------

TEST(ExtendsTest, MissingParentSaysNotFoundAndWhereItLooked) {
  ScopedTempDir dir, sp;
  std::string text = child("leaf", "nothere");
  std::string leaf = dir.write("leaf.yaml", text);
  Loaded l = mustLoad(leaf, {.search_paths = {sp.path()}});
  EXPECT_FALSE(l.ok());
  const doc::Diagnostic* e = firstErrorContaining(l, "not found");
  ASSERT_NE(e, nullptr) << allMessages(l);
  EXPECT_THAT(e->message, HasSubstr("\"nothere\""));
  EXPECT_THAT(e->message, HasSubstr("built-ins"));
  EXPECT_THAT(e->message, HasSubstr(dir.path() + "/nothere.yaml"));
  EXPECT_THAT(e->message, HasSubstr(sp.path() + "/nothere.yaml"));
  EXPECT_EQ(e->file, leaf);
  EXPECT_EQ(e->line, lineOf(text, "extends:"));
  EXPECT_EQ(e->path, "extends");
}

TEST(ExtendsTest, ExtendsAsNumberIsAnError) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  std::string leaf = dir.write("leaf.yaml", child("leaf", "42"));
  Loaded l = mustLoad(leaf);
  EXPECT_FALSE(l.ok());
  bool found = false;
  for (const auto& d : l.diagnostics.all()) found = found || (d.isError() && d.path == "extends");
  EXPECT_TRUE(found) << allMessages(l);
}

// A failed extends stops the check there (no "required field missing" noise from a partial
// merge), but the parents that could be read are still merged into the document.
TEST(ExtendsTest, NonStringListEntryIsAnErrorButOtherParentsStillMerge) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  std::string leaf = dir.write("leaf.yaml", child("leaf", "[base, {x: 1}]"));
  Loaded l = mustLoad(leaf);
  ASSERT_EQ(l.diagnostics.errorCount(), 1u) << allMessages(l);
  EXPECT_EQ(l.diagnostics.all().front().path, "extends[1]");
  ASSERT_NE(at(l.document, "spec.runtime.instanceType"), nullptr);
  EXPECT_EQ(at(l.document, "spec.runtime.instanceType")->text(), "t3.small");
}

// --- after the merge ---------------------------------------------------------------------

TEST(ExtendsTest, ExtendsAndAbstractAreRemovedAfterMerge) {
  ScopedTempDir dir;
  std::string base = std::string(kComplete);
  base.replace(base.find("  name: base\n"), 13, "  name: base\n  abstract: true\n");
  dir.write("base.yaml", base);
  std::string leaf = dir.write("leaf.yaml", child("leaf", "[base]"));
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_FALSE(l.abstract);
  EXPECT_EQ(at(l.document, "extends"), nullptr);
  ASSERT_NE(at(l.document, "metadata"), nullptr);
  EXPECT_EQ(at(l.document, "metadata.abstract"), nullptr);
  EXPECT_FALSE(l.profile.metadata.abstract.has_value());
}

TEST(ExtendsTest, AbstractLeafIsLoadedButNotResolvedOrValidated) {
  ScopedTempDir dir;
  std::string leaf = dir.write(
      "frag.yaml",
      "apiVersion: klankermaker.ai/v1alpha2\nkind: SandboxProfile\nmetadata:\n"
      "  name: frag\n  abstract: true\nextends: nothere\nspec:\n  runtime: {ami: ubuntu-24.04}\n");
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.abstract);
  EXPECT_TRUE(l.ok()) << allMessages(l);
}

TEST(ExtendsTest, ParentsInitCommandsAppendGoesAfterLeafsInitCommandsDeduplicated) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  // Like base/gpu/serve: a parentless fragment (`extends: []` names no parents) whose
  // append survives until the leaf's merge.
  dir.write("svc.yaml",
            child("svc", "[]",
                  "  execution:\n    initCommands: [p1]\n    initCommandsAppend: [z, c1]\n"));
  std::string leaf = dir.write(
      "leaf.yaml", child("leaf", "[base, svc]", "  execution:\n    initCommands: [c1, c2]\n"));
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_THAT(texts(at(l.document, "spec.execution.initCommands")),
              ElementsAre("p1", "c1", "c2", "z"));
  EXPECT_EQ(at(l.document, "spec.execution.initCommandsAppend"), nullptr);
  EXPECT_TRUE(l.profile.spec.execution.init_commands_append.empty());
}

TEST(ExtendsTest, InitCommandsAppendIsFoldedAtEveryNodeThatHasParents) {
  ScopedTempDir dir;
  dir.write("base.yaml", std::string(kComplete));
  // mid has a parent, so (as upstream) its append is folded when mid itself is resolved,
  // before the leaf's own initCommands are concatenated.
  dir.write(
      "mid.yaml",
      child("mid", "base", "  execution:\n    initCommands: [m1]\n    initCommandsAppend: [m2]\n"));
  std::string leaf = dir.write(
      "leaf.yaml",
      child("leaf", "mid", "  execution:\n    initCommands: [c1]\n    initCommandsAppend: [c2]\n"));
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);
  EXPECT_THAT(texts(at(l.document, "spec.execution.initCommands")),
              ElementsAre("m1", "m2", "c1", "c2"));
  EXPECT_EQ(at(l.document, "spec.execution.initCommandsAppend"), nullptr);
}

TEST(ExtendsTest, FoldInitCommandsAppendCreatesInitCommandsWhenAbsent) {
  doc::Node root = yaml("{spec: {execution: {initCommandsAppend: [a, b, a]}}}");
  foldInitCommandsAppend(root);
  EXPECT_THAT(texts(at(root, "spec.execution.initCommands")), ElementsAre("a", "b"));
  EXPECT_EQ(at(root, "spec.execution.initCommandsAppend"), nullptr);
}

// --- errors inside parents ---------------------------------------------------------------

TEST(ExtendsTest, UnknownFieldInParentIsReportedWithParentFileAndLine) {
  ScopedTempDir dir;
  std::string base_text = std::string(kComplete) +
                          "  budget:\n    compute: {maxSpendUSD: 1}\n"
                          "    ai: {maxSpendUSD: 1}\n    warningTreshold: 0.5\n";
  std::string base = dir.write("base.yaml", base_text);
  std::string leaf = dir.write("leaf.yaml", child("leaf", "base"));
  Loaded l = mustLoad(leaf);
  EXPECT_FALSE(l.ok());
  ASSERT_EQ(l.diagnostics.errorCount(), 1u) << allMessages(l);
  const doc::Diagnostic& e = l.diagnostics.all().front();
  EXPECT_EQ(e.file, base);
  EXPECT_EQ(e.line, lineOf(base_text, "warningTreshold"));
  EXPECT_EQ(e.column, 5u);
  EXPECT_EQ(e.path, "spec.budget.warningTreshold");
}

TEST(ExtendsTest, SchemaErrorInParentValueIsAttributedToParentFile) {
  ScopedTempDir dir;
  std::string base_text = std::string(kComplete);
  base_text.replace(base_text.find("ttl: 4h"), 7, "ttl: 4x");
  std::string base = dir.write("base.yaml", base_text);
  std::string leaf =
      dir.write("leaf.yaml", child("leaf", "base", "  runtime:\n    region: us-west-2\n"));
  Loaded l = mustLoad(leaf);
  const doc::Diagnostic* e = nullptr;
  for (const auto& d : l.diagnostics.all())
    if (d.isError() && d.path == "spec.lifecycle.ttl") e = &d;
  ASSERT_NE(e, nullptr) << allMessages(l);
  EXPECT_EQ(e->file, base);
  EXPECT_EQ(e->line, lineOf(base_text, "ttl: 4x"));
}

TEST(ExtendsTest, ChildOverrideOfBadParentValueIsClean) {
  ScopedTempDir dir;
  std::string base_text = std::string(kComplete);
  base_text.replace(base_text.find("ttl: 4h"), 7, "ttl: 4x");
  dir.write("base.yaml", base_text);
  std::string leaf = dir.write("leaf.yaml", child("leaf", "base", "  lifecycle:\n    ttl: 4h\n"));
  Loaded l = mustLoad(leaf);
  EXPECT_TRUE(l.ok()) << allMessages(l);  // last wins: the bad value never reaches validation
}

TEST(ExtendsTest, YamlSyntaxErrorInParentIsAttributedToParentAndNotCalledMissing) {
  ScopedTempDir dir;
  std::string base = dir.write("base.yaml", "apiVersion: [unclosed\nkind: SandboxProfile\n");
  std::string leaf = dir.write("leaf.yaml", child("leaf", "base"));
  Loaded l = mustLoad(leaf);
  EXPECT_FALSE(l.ok());
  bool in_parent = false;
  for (const auto& d : l.diagnostics.all())
    in_parent = in_parent || (d.isError() && d.file == base && d.line > 0);
  EXPECT_TRUE(in_parent) << allMessages(l);
  EXPECT_EQ(firstErrorContaining(l, "\"base\" not found"), nullptr) << allMessages(l);
}

TEST(ExtendsTest, ParentThatIsNotAMappingIsAttributedToParent) {
  ScopedTempDir dir;
  std::string base = dir.write("base.yaml", "- just\n- a list\n");
  std::string leaf = dir.write("leaf.yaml", child("leaf", "base"));
  Loaded l = mustLoad(leaf);
  EXPECT_FALSE(l.ok());
  bool in_parent = false;
  for (const auto& d : l.diagnostics.all())
    in_parent = in_parent || (d.isError() && d.file == base);
  EXPECT_TRUE(in_parent) << allMessages(l);
  EXPECT_EQ(firstErrorContaining(l, "\"base\" not found"), nullptr) << allMessages(l);
}

// A missing parent is reported, and so are the leaf's own mistakes, without "required field
// missing" noise for the sections the missing parent would have supplied.
TEST(ExtendsTest, MissingParentStillReportsTheLeafsOwnErrorsButNotMissingSections) {
  ScopedTempDir dir;
  std::string leaf = dir.write(
      "leaf.yaml", child("leaf", "[sealed, nosuch]",
                         "  lifecycle: {ttl: \"1x\"}\n  network:\n    egress: {alowedHosts: []}\n"));
  Loaded l = mustLoad(leaf);
  std::string all = allMessages(l);
  EXPECT_NE(all.find("\"nosuch\" not found"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean \"allowedHosts\""), std::string::npos) << all;
  EXPECT_NE(all.find("spec.lifecycle.ttl"), std::string::npos) << all;
  EXPECT_EQ(all.find("is missing"), std::string::npos) << all;
  EXPECT_EQ(l.diagnostics.errorCount(), 3u) << all;
}

// Large allowlists merge with duplicates dropped and order kept (hash-based, not quadratic).
TEST(ExtendsTest, LargeListsMergeWithoutDuplicatesInOrder) {
  doc::Node base = doc::Node::seq();
  doc::Node more = doc::Node::seq();
  for (int i = 0; i < 20000; ++i) base.push(doc::Node::string(".d" + std::to_string(i) + ".com"));
  for (int i = 10000; i < 30000; ++i) more.push(doc::Node::string(".d" + std::to_string(i) + ".com"));
  doc::Node merged = mergeNodes(base, more);
  ASSERT_EQ(merged.items().size(), 30000u);
  EXPECT_EQ(merged.items()[0].text(), ".d0.com");
  EXPECT_EQ(merged.items()[29999].text(), ".d29999.com");
}

}  // namespace
}  // namespace km::profile
