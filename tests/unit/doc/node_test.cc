#include "doc/node.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "doc/diagnostic.h"

namespace km::doc {
namespace {

using Kind = Node::Kind;

TEST(NodeTest, ClassifiesPlainScalarsByTheYaml12CoreSchema) {
  EXPECT_EQ(Node::classifyPlain(""), Kind::kNull);
  EXPECT_EQ(Node::classifyPlain("~"), Kind::kNull);
  EXPECT_EQ(Node::classifyPlain("null"), Kind::kNull);
  EXPECT_EQ(Node::classifyPlain("NULL"), Kind::kNull);
  for (const char* b : {"true", "True", "TRUE", "false", "False", "FALSE"})
    EXPECT_EQ(Node::classifyPlain(b), Kind::kBool) << b;
  // YAML 1.1 booleans are plain strings in 1.2.
  for (const char* s : {"yes", "no", "on", "off", "y", "n", "tRUE"})
    EXPECT_EQ(Node::classifyPlain(s), Kind::kString) << s;
  for (const char* i : {"0", "42", "-7", "+3", "0x1F", "0o17", "010"})
    EXPECT_EQ(Node::classifyPlain(i), Kind::kInt) << i;
  for (const char* f : {"1.5", "-0.5", ".5", "1.", "1e3", "2.5E-3", ".inf", "-.Inf", ".nan"})
    EXPECT_EQ(Node::classifyPlain(f), Kind::kFloat) << f;
  for (const char* s : {"1.2.3", "4h", "0x", "0xZZ", "us-east-1", "1_000", "-", "."})
    EXPECT_EQ(Node::classifyPlain(s), Kind::kString) << s;
}

TEST(NodeTest, VeryLongDigitStringsAreStringsNotNumbers) {
  EXPECT_EQ(Node::classifyPlain(std::string(65, '1')), Kind::kString);
  EXPECT_EQ(Node::classifyPlain(std::string(30, '1')), Kind::kInt);
}

TEST(NodeTest, ParsesCoreIntegersInTheirYamlBase) {
  EXPECT_EQ(parseCoreInt("0"), 0);
  EXPECT_EQ(parseCoreInt("010"), 10);  // not octal in YAML 1.2
  EXPECT_EQ(parseCoreInt("-7"), -7);
  EXPECT_EQ(parseCoreInt("+7"), 7);
  EXPECT_EQ(parseCoreInt("0o17"), 15);
  EXPECT_EQ(parseCoreInt("0x1F"), 31);
  EXPECT_EQ(parseCoreInt("0xff"), 255);
  EXPECT_EQ(parseCoreInt("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parseCoreInt("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(parseCoreInt("9223372036854775808"), std::nullopt);
  EXPECT_EQ(parseCoreInt("0x8000000000000000"), std::nullopt);
  for (const char* bad : {"", "-", "+-1", "1.5", "0o8", "0x", "0xg", "12a", " 1", "--1"})
    EXPECT_EQ(parseCoreInt(bad), std::nullopt) << bad;
}

TEST(NodeTest, ScalarFactoriesKeepKindTextAndMark) {
  auto file = std::make_shared<const std::string>("x.yaml");
  Node n = Node::integer(-42, Mark{file, 3, 7});
  EXPECT_EQ(n.kind(), Kind::kInt);
  EXPECT_EQ(n.text(), "-42");
  EXPECT_EQ(n.mark().line, 3u);
  EXPECT_EQ(n.mark().column, 7u);
  EXPECT_EQ(n.mark().fileName(), "x.yaml");
  EXPECT_EQ(Node::boolean(true).text(), "true");
  EXPECT_TRUE(Node::boolean(true).asBool());
  EXPECT_FALSE(Node::boolean(false).asBool());
  EXPECT_EQ(Node::number("0.50").kind(), Kind::kFloat);
  EXPECT_EQ(Node::string("hi").kind(), Kind::kString);
  EXPECT_TRUE(Node::null().isNull());
  EXPECT_TRUE(Node::null().isScalar());
  EXPECT_FALSE(Node::seq().isScalar());
  EXPECT_EQ(Node().kind(), Kind::kNull);
  EXPECT_EQ(Mark{}.fileName(), "");
}

TEST(NodeTest, MapKeepsInsertionOrderAndSetReplacesInPlace) {
  Node m = Node::map();
  m.set("b", Node::integer(1));
  m.set("a", Node::integer(2));
  m.set("b", Node::integer(3));
  ASSERT_EQ(m.entries().size(), 2u);
  EXPECT_EQ(m.entries()[0].key, "b");
  EXPECT_EQ(m.entries()[0].value.text(), "3");
  EXPECT_EQ(m.entries()[1].key, "a");
  ASSERT_NE(m.find("a"), nullptr);
  EXPECT_EQ(m.find("missing"), nullptr);
  EXPECT_NE(m.findEntry("b"), nullptr);
  EXPECT_TRUE(m.erase("b"));
  EXPECT_FALSE(m.erase("b"));
  ASSERT_EQ(m.entries().size(), 1u);
  EXPECT_EQ(m.entries()[0].key, "a");
}

TEST(NodeTest, SameValueComparesDeeplyIgnoringMarksAndMapOrder) {
  auto file = std::make_shared<const std::string>("f");
  Node a = Node::map();
  a.set("x", Node::integer(1, Mark{file, 1, 1}));
  a.set("y", Node::seq()).push(Node::string("s"));
  Node b = Node::map(Mark{file, 9, 9});
  b.set("y", Node::seq()).push(Node::string("s", Mark{file, 5, 5}));
  b.set("x", Node::integer(1));
  EXPECT_TRUE(a.sameValue(b));
  EXPECT_TRUE(b.sameValue(a));

  Node c = b;
  c.find("y")->push(Node::string("t"));
  EXPECT_FALSE(a.sameValue(c));
  // Same text, different kind: the string "1" is not the number 1.
  EXPECT_FALSE(Node::string("1").sameValue(Node::integer(1)));
  EXPECT_FALSE(Node::boolean(true).sameValue(Node::boolean(false)));
  EXPECT_TRUE(Node::null().sameValue(Node::null()));
  Node d = Node::map();
  d.set("x", Node::integer(1));
  d.set("z", Node::seq());
  EXPECT_FALSE(a.sameValue(d));
}

TEST(NodeTest, KindNamesReadAsEnglish) {
  EXPECT_EQ(Node::string("").kindName(), "a string");
  EXPECT_EQ(Node::seq().kindName(), "a list");
  EXPECT_EQ(Node::map().kindName(), "a mapping");
  EXPECT_EQ(Node::integer(1).kindName(), "a whole number");
  EXPECT_EQ(Node::number("1.5").kindName(), "a number");
  EXPECT_EQ(Node::boolean(true).kindName(), "a boolean");
  EXPECT_EQ(Node::null().kindName(), "nothing (null)");
}

Node sampleTree() {
  auto file = std::make_shared<const std::string>("t.yaml");
  Node root = Node::map(Mark{file, 1, 1});
  Node& spec = root.set("spec", Node::map(Mark{file, 2, 3}));
  Node& hosts = spec.set("hosts", Node::seq(Mark{file, 3, 5}));
  hosts.push(Node::string("a", Mark{file, 4, 7}));
  hosts.push(Node::string("b", Mark{file, 5, 7}));
  spec.set("/etc/x.conf", Node::string("v", Mark{file, 6, 5}));
  return root;
}

TEST(NodeTest, LocateFollowsDottedPathsIndexesAndQuotedKeys) {
  Node root = sampleTree();
  EXPECT_EQ(locate(root, "spec.hosts[1]")->text(), "b");
  EXPECT_EQ(locate(root, "spec.hosts[1]")->mark().line, 5u);
  EXPECT_EQ(locate(root, "spec[\"/etc/x.conf\"]")->text(), "v");
  EXPECT_EQ(locate(root, "")->mark().line, 1u);
}

TEST(NodeTest, LocateStopsAtTheDeepestExistingAncestor) {
  Node root = sampleTree();
  EXPECT_EQ(locate(root, "spec.missing.deeper")->mark().line, 2u);
  EXPECT_EQ(locate(root, "spec.hosts[7]")->mark().line, 3u);
  EXPECT_EQ(locate(root, "spec.hosts.x")->mark().line, 3u);  // a list has no keys
  EXPECT_EQ(locate(root, "spec.hosts[0].x")->mark().line, 4u);
  EXPECT_EQ(locate(root, "nothing")->mark().line, 1u);
}

TEST(DiagnosticTest, ChildPathQuotesKeysThatAreNotIdentifiers) {
  EXPECT_EQ(childPath("", "spec"), "spec");
  EXPECT_EQ(childPath("spec", "network"), "spec.network");
  EXPECT_EQ(childPath("spec.execution.configFiles", "/etc/x.conf"),
            "spec.execution.configFiles[\"/etc/x.conf\"]");
  EXPECT_EQ(childPath("limits", "github_pr"), "limits.github_pr");
  EXPECT_EQ(indexPath("spec.hosts", 2), "spec.hosts[2]");
}

TEST(DiagnosticTest, FormatLeavesOutUnknownParts) {
  auto file = std::make_shared<const std::string>("p.yaml");
  Diagnostics d;
  d.error(Mark{file, 3, 5}, "spec.x", "bad");
  d.warning(Mark{file, 0, 0}, "", "note");
  d.error(Mark{}, "", "bare");
  ASSERT_EQ(d.all().size(), 3u);
  EXPECT_EQ(d.all()[0].format(), "p.yaml:3:5: spec.x: bad");
  EXPECT_EQ(d.all()[1].format(), "p.yaml: note");
  EXPECT_EQ(d.all()[2].format(), "bare");
  EXPECT_EQ(d.errorCount(), 2u);
  EXPECT_EQ(d.warningCount(), 1u);
  EXPECT_TRUE(d.hasErrors());
}

TEST(DiagnosticTest, TheSameProblemReportedTwiceIsKeptOnce) {
  auto file = std::make_shared<const std::string>("p.yaml");
  Diagnostics a;
  a.error(Mark{file, 1, 1}, "x", "bad");
  a.error(Mark{file, 1, 1}, "x", "bad");
  EXPECT_EQ(a.all().size(), 1u);
  Diagnostics b;
  b.error(Mark{file, 1, 1}, "x", "bad");
  b.error(Mark{file, 2, 1}, "x", "bad");
  a.append(b);
  EXPECT_EQ(a.all().size(), 2u);
  Diagnostics none;
  EXPECT_FALSE(none.hasErrors());
}

}  // namespace
}  // namespace km::doc
