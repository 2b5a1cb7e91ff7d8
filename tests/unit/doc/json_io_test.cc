#include "doc/json_io.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "doc/yaml_io.h"

namespace km::doc {
namespace {

Node fromYaml(std::string_view text) {
  Node root;
  Diagnostics diags;
  EXPECT_TRUE(parseYaml(text, "j.yaml", root, diags)) << text;
  return root;
}

TEST(JsonIoTest, WritesEveryKindWithNumbersAsNumbers) {
  Node n = fromYaml("s: hello\ni: -42\nf: 0.50\nb: true\nz: ~\nl: [1, two]\nm: {k: v}\nq: \"7\"\n");
  EXPECT_EQ(toJson(n, -1),
            R"({"s":"hello","i":-42,"f":0.5,"b":true,"z":null,"l":[1,"two"],"m":{"k":"v"},"q":"7"})");
}

TEST(JsonIoTest, KeepsDocumentOrderOfKeys) {
  Node n = fromYaml("zeta: 1\nalpha: 2\nmid: 3\n");
  EXPECT_EQ(toJson(n, -1), R"({"zeta":1,"alpha":2,"mid":3})");
}

TEST(JsonIoTest, IntegersInEveryYamlBaseBecomeTheirValue) {
  Node n = fromYaml("hex: 0x1F\noct: 0o17\ndec: 010\nplus: +5\n");
  EXPECT_EQ(toJson(n, -1), R"({"hex":31,"oct":15,"dec":10,"plus":5})");
}

TEST(JsonIoTest, ValuesJsonCannotHoldStayText) {
  Node n = fromYaml("inf: .inf\nnan: .NaN\nhuge: 99999999999999999999\n");
  EXPECT_EQ(toJson(n, -1), R"({"inf":".inf","nan":".NaN","huge":"99999999999999999999"})");
}

TEST(JsonIoTest, IndentsWhenAsked) {
  Node n = fromYaml("a: [1]\n");
  EXPECT_EQ(toJson(n), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(toJson(Node::map(), -1), "{}");
  EXPECT_EQ(toJson(Node::seq(), -1), "[]");
}

TEST(JsonIoTest, InvalidUtf8IsReplacedNotThrown) {
  Node n = Node::map();
  n.set("bad", Node::string(std::string("a\xFF" "b")));
  std::string out;
  EXPECT_NO_THROW(out = toJson(n, -1));
  EXPECT_EQ(out, "{\"bad\":\"a\xEF\xBF\xBD" "b\"}");
}

TEST(JsonIoTest, OutputParsesBackToTheSameStructure) {
  Node n = fromYaml("a: \"line\\nbreak \\\"quoted\\\"\"\nb: [{c: 1.25}, false]\n");
  auto j = nlohmann::json::parse(toJson(n));
  EXPECT_EQ(j["a"], "line\nbreak \"quoted\"");
  EXPECT_DOUBLE_EQ(j["b"][0]["c"].get<double>(), 1.25);
  EXPECT_EQ(j["b"][1], false);
}

}  // namespace
}  // namespace km::doc
