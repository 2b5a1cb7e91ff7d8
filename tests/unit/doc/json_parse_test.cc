// doc::parseJson: JSON text to Node (kinds, key order, duplicates), failures without throwing
// (syntax, bad UTF-8, the depth limit), and round trips through toJson.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "doc/json_io.h"

namespace km::doc {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(JsonParseTest, MapsEveryJsonTypeToItsNodeKind) {
  Node n;
  std::string error;
  ASSERT_TRUE(parseJson(R"({"s": "x", "i": -5, "u": 18446744073709551615, "f": 1.5,
                            "b": true, "z": null, "a": [1, "two"], "o": {"k": false}})",
                        n, &error))
      << error;
  ASSERT_TRUE(n.isMap());
  EXPECT_EQ(n.find("s")->kind(), Node::Kind::kString);
  EXPECT_EQ(n.find("s")->text(), "x");
  EXPECT_EQ(n.find("i")->kind(), Node::Kind::kInt);
  EXPECT_EQ(n.find("i")->text(), "-5");
  EXPECT_EQ(n.find("u")->kind(), Node::Kind::kInt);
  EXPECT_EQ(n.find("u")->text(), "18446744073709551615");
  EXPECT_EQ(n.find("f")->kind(), Node::Kind::kFloat);
  EXPECT_EQ(n.find("f")->text(), "1.5");
  EXPECT_EQ(n.find("b")->kind(), Node::Kind::kBool);
  EXPECT_TRUE(n.find("b")->asBool());
  EXPECT_TRUE(n.find("z")->isNull());
  ASSERT_TRUE(n.find("a")->isSeq());
  ASSERT_EQ(n.find("a")->items().size(), 2u);
  EXPECT_EQ(n.find("a")->items()[1].text(), "two");
  EXPECT_EQ(n.find("o")->find("k")->text(), "false");
}

TEST(JsonParseTest, KeepsKeysInDocumentOrder) {
  Node n;
  ASSERT_TRUE(parseJson(R"({"zeta": 1, "alpha": 2, "mid": 3})", n, nullptr));
  ASSERT_EQ(n.entries().size(), 3u);
  EXPECT_EQ(n.entries()[0].key, "zeta");
  EXPECT_EQ(n.entries()[1].key, "alpha");
  EXPECT_EQ(n.entries()[2].key, "mid");
}

TEST(JsonParseTest, ParsesTopLevelScalarsAndArrays) {
  Node n;
  ASSERT_TRUE(parseJson("[]", n, nullptr));
  EXPECT_TRUE(n.isSeq());
  ASSERT_TRUE(parseJson(" \"hi\" ", n, nullptr));
  EXPECT_EQ(n.kind(), Node::Kind::kString);
  EXPECT_EQ(n.text(), "hi");
}

TEST(JsonParseTest, FailsWithAReasonOnInvalidJsonAndLeavesOutputAlone) {
  for (const std::string text : {"{not json", "", "[1, 2", "{\"a\": 1} trailing", "\"\xff\""}) {
    SCOPED_TRACE(text);
    Node n = Node::string("untouched");
    std::string error;
    EXPECT_FALSE(parseJson(text, n, &error));
    EXPECT_THAT(error, Not(IsEmpty()));
    EXPECT_EQ(n.text(), "untouched");
    EXPECT_FALSE(parseJson(text, n, nullptr));  // a null error pointer is allowed
  }
}

TEST(JsonParseTest, RejectsNestingDeeperThanTheLimit) {
  auto nested = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  Node n;
  // kMaxJsonDepth + 1 arrays: the innermost (empty) one sits at depth kMaxJsonDepth.
  EXPECT_TRUE(parseJson(nested(kMaxJsonDepth + 1), n, nullptr));
  std::string error;
  EXPECT_FALSE(parseJson(nested(kMaxJsonDepth + 2), n, &error));
  EXPECT_THAT(error, HasSubstr("deeper than 64"));
  EXPECT_FALSE(parseJson(nested(100000), n, &error));  // no stack overflow
}

TEST(JsonParseTest, RoundTripsThroughToJson) {
  const std::string text = R"({"model":"opus","n":-3,"big":18446744073709551615,"f":0.25,"l":[true,null]})";
  Node n;
  ASSERT_TRUE(parseJson(text, n, nullptr));
  EXPECT_EQ(toJson(n, -1), text);
}

}  // namespace
}  // namespace km::doc
