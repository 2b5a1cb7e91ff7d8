// Go's formatting of the values sops hashes into its MAC.
#include <gtest/gtest.h>

#include <limits>

#include "secrets/value_bytes.h"

namespace km::secrets {
namespace {

TEST(ValueBytesTest, FloatsAreFormattedAsGoStrconvFormatFloatF) {
  // Expected strings: strconv.FormatFloat(v, 'f', -1, 64).
  EXPECT_EQ(goFormatFloat(1.5), "1.5");
  EXPECT_EQ(goFormatFloat(1234.56789), "1234.56789");
  EXPECT_EQ(goFormatFloat(1234568000.0), "1234568000");
  EXPECT_EQ(goFormatFloat(0.1), "0.1");
  EXPECT_EQ(goFormatFloat(1e21), "1000000000000000000000");
  EXPECT_EQ(goFormatFloat(1e-7), "0.0000001");
  EXPECT_EQ(goFormatFloat(-0.0), "-0");
  EXPECT_EQ(goFormatFloat(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(goFormatFloat(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(goFormatFloat(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(ValueBytesTest, DecryptedValuesHashInGoCanonicalForm) {
  struct Case {
    const char *type, *plain, *mac, *text;
  };
  for (const Case& c : {Case{"int", "007", "7", "007"}, Case{"int", "+5", "5", "+5"}, Case{"int", "-12", "-12", "-12"},
                        Case{"float", "1.50", "1.5", "1.50"}, Case{"float", "1e3", "1000", "1e3"},
                        Case{"float", "-Inf", "-Inf", "-Inf"}, Case{"bool", "True", "True", "true"},
                        Case{"bool", "t", "True", "true"}, Case{"bool", "0", "False", "false"},
                        Case{"str", "True", "True", "True"}, Case{"time", "2024-01-02T03:04:05Z",
                                                                   "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"}}) {
    auto t = typedValue(c.type, c.plain);
    ASSERT_TRUE(t) << c.type << " " << c.plain << ": " << t.error().message();
    EXPECT_EQ(t->mac_bytes, c.mac) << c.type << " " << c.plain;
    EXPECT_EQ(t->text, c.text) << c.type << " " << c.plain;
  }
  for (auto [type, plain] : {std::pair{"int", "1.5"}, {"int", "+-5"}, {"int", "0x10"}, {"int", "99999999999999999999"},
                             {"float", "abc"}, {"float", "1e999"}, {"float", ""}, {"bool", "yes"}, {"comment", "x"}}) {
    EXPECT_FALSE(typedValue(type, plain)) << type << " " << plain;
  }
}

TEST(ValueBytesTest, ClearValuesHashAsGoYamlReadsThem) {
  using K = doc::Node::Kind;
  EXPECT_EQ(plainMacBytes(doc::scalarNode(K::kInt, "0x1F", {})), "31");
  EXPECT_EQ(plainMacBytes(doc::scalarNode(K::kInt, "0o17", {})), "15");
  EXPECT_EQ(plainMacBytes(doc::scalarNode(K::kFloat, "2.50", {})), "2.5");
  EXPECT_EQ(plainMacBytes(doc::scalarNode(K::kFloat, ".inf", {})), "+Inf");
  EXPECT_EQ(plainMacBytes(doc::scalarNode(K::kBool, "TRUE", {})), "True");
  EXPECT_EQ(plainMacBytes(doc::scalarNode(K::kBool, "false", {})), "False");
  EXPECT_EQ(plainMacBytes(doc::scalarNode(K::kString, "007", {})), "007");
  EXPECT_EQ(plainMacBytes(doc::Node::null()), std::nullopt);
}

}  // namespace
}  // namespace km::secrets
