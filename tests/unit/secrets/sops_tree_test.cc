// decryptSopsTree and secretsFromTree on files written by the test SopsWriter: every value
// type, the encryption rules, the MAC's coverage, and the bundle's shape.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "secrets/secrets.h"
#include "sops_writer.h"

namespace km::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::SopsWriter;
using test::testDataKey;

Result<std::vector<Secret>> open(const std::string& text) {
  auto file = parseSopsFile(text, "s.yaml");
  if (!file) return std::move(file).error();
  auto tree = decryptSopsTree(*file, testDataKey());
  if (!tree) return std::move(tree).error();
  return secretsFromTree(*tree, "s.yaml");
}

std::string valueOf(const std::vector<Secret>& s, const std::string& name) {
  for (const auto& e : s)
    if (e.name == name) return e.value;
  return "<missing>";
}

TEST(SopsTreeTest, EveryTypeDecryptsToItsText) {
  SopsWriter w;
  std::string body;
  body += "STR: " + w.value("hello world", "STR:") + "\n";
  body += "MULTILINE: " + w.value("line 1\nline 2\n", "MULTILINE:") + "\n";
  body += "UNICODE: " + w.value("h\xc3\xa9llo \xe2\x9c\x93", "UNICODE:") + "\n";
  body += "INT: " + w.value("42", "INT:", "int") + "\n";
  body += "NEG: " + w.value("-7", "NEG:", "int") + "\n";
  // sops hashes a float in Go's shortest form; the variable keeps the text as encrypted.
  body += "FLOAT: " + w.value("1.50", "FLOAT:", "float", "1.5") + "\n";
  body += "BIG: " + w.value("1234568000", "BIG:", "float") + "\n";
  body += "YES: " + w.value("True", "YES:", "bool") + "\n";
  body += "NO: " + w.value("False", "NO:", "bool") + "\n";
  body += "RAW: " + w.value("raw\x01" "bytes", "RAW:", "bytes") + "\n";
  body += "EMPTY: \"\"\n";  // sops leaves an empty string unencrypted
  auto s = open(w.file(body));
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->size(), 11u);
  EXPECT_EQ((*s)[0].name, "STR");  // file order
  EXPECT_EQ(valueOf(*s, "STR"), "hello world");
  EXPECT_EQ(valueOf(*s, "MULTILINE"), "line 1\nline 2\n");
  EXPECT_EQ(valueOf(*s, "UNICODE"), "h\xc3\xa9llo \xe2\x9c\x93");
  EXPECT_EQ(valueOf(*s, "INT"), "42");
  EXPECT_EQ(valueOf(*s, "NEG"), "-7");
  EXPECT_EQ(valueOf(*s, "FLOAT"), "1.50");
  EXPECT_EQ(valueOf(*s, "BIG"), "1234568000");
  EXPECT_EQ(valueOf(*s, "YES"), "true");
  EXPECT_EQ(valueOf(*s, "NO"), "false");
  EXPECT_EQ(valueOf(*s, "RAW"), "raw\x01" "bytes");
  EXPECT_EQ(valueOf(*s, "EMPTY"), "");
}

TEST(SopsTreeTest, UnencryptedSuffixKeepsValuesAsWrittenAndInTheMac) {
  SopsWriter w;
  std::string body = "TOKEN: " + w.value("s3cr3t", "TOKEN:") + "\n";
  body += "PORT_unencrypted: 0x1F\n";
  w.hashBytes("31");  // Go's YAML reads 0x1F as the int 31
  body += "RATIO_unencrypted: 1.50\n";
  w.hashBytes("1.5");
  body += "FLAG_unencrypted: True\n";
  w.hashBytes("True");
  body += "NAME_unencrypted: plain text\n";
  w.hashBytes("plain text");
  auto s = open(w.file(body));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(valueOf(*s, "TOKEN"), "s3cr3t");
  EXPECT_EQ(valueOf(*s, "PORT_unencrypted"), "0x1F");
  EXPECT_EQ(valueOf(*s, "RATIO_unencrypted"), "1.50");
  EXPECT_EQ(valueOf(*s, "FLAG_unencrypted"), "True");
  EXPECT_EQ(valueOf(*s, "NAME_unencrypted"), "plain text");
}

TEST(SopsTreeTest, AClearValueChangedAfterEncryptionFailsTheMac) {
  SopsWriter w;
  std::string body = "TOKEN: " + w.value("s3cr3t", "TOKEN:") + "\n";
  w.hashBytes("plain text");
  std::string text = w.file(body + "NAME_unencrypted: other text\n");
  auto s = open(text);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("s.yaml:5: the MAC does not match"));
}

TEST(SopsTreeTest, MacOnlyEncryptedLeavesClearValuesOutOfTheMac) {
  static constexpr unsigned char kInit[32] = {0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34,
                                              0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f,
                                              0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69};
  SopsWriter w;
  w.hashBytes(std::string_view(reinterpret_cast<const char*>(kInit), sizeof kInit));
  std::string body = "NOTE_unencrypted: anything\nTOKEN: " + w.value("s3cr3t", "TOKEN:") + "\n";
  auto s = open(w.file(body, "    mac_only_encrypted: true\n"));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(valueOf(*s, "TOKEN"), "s3cr3t");
}

TEST(SopsTreeTest, EncryptedSuffixAndRegexRulesChooseTheEncryptedKeys) {
  struct Case {
    std::string rule, secret_key, clear_key;
  };
  for (const Case& c : {Case{"encrypted_suffix: _secret", "DB_secret", "DB_HOST"},
                        Case{"encrypted_regex: ^(PASSWORD|TOKEN)$", "TOKEN", "TOKENS"},
                        Case{"unencrypted_regex: ^PUBLIC_", "API_KEY", "PUBLIC_URL"}}) {
    SopsWriter w;
    std::string body = c.secret_key + ": " + w.value("s3cr3t", c.secret_key + ":") + "\n";
    body += c.clear_key + ": https://example.test\n";
    w.hashBytes("https://example.test");
    auto s = open(w.file(body, "    " + c.rule + "\n"));
    ASSERT_TRUE(s) << c.rule << ": " << s.error().message();
    EXPECT_EQ(valueOf(*s, c.secret_key), "s3cr3t") << c.rule;
    EXPECT_EQ(valueOf(*s, c.clear_key), "https://example.test") << c.rule;
  }
}

TEST(SopsTreeTest, AValueMovedToAnotherKeyFailsItsTag) {
  SopsWriter w;
  std::string a = w.value("alpha", "A:"), b = w.value("beta", "B:");
  auto s = open(w.file("A: " + b + "\nB: " + a + "\n"));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("s.yaml:1:4: A: the value does not match its authentication tag"));
}

TEST(SopsTreeTest, ReorderedOrDeletedKeysFailTheMac) {
  SopsWriter w1;
  std::string a = w1.value("alpha", "A:"), b = w1.value("beta", "B:");
  auto reordered = open(w1.file("B: " + b + "\nA: " + a + "\n"));
  ASSERT_FALSE(reordered);
  EXPECT_THAT(reordered.error().message(), HasSubstr("the MAC does not match"));
  SopsWriter w2;
  a = w2.value("alpha", "A:"), b = w2.value("beta", "B:");
  auto deleted = open(w2.file("A: " + a + "\n"));
  ASSERT_FALSE(deleted);
  EXPECT_THAT(deleted.error().message(), HasSubstr("the MAC does not match"));
}

TEST(SopsTreeTest, MacTimeIsLastModifiedAsGoWritesIt) {
  SopsWriter w;
  std::string body = "A: " + w.value("alpha", "A:") + "\n";
  auto s = open(w.file(body, "", "2024-01-02T03:04:05.123456+00:00", "2024-01-02T03:04:05Z"));
  ASSERT_TRUE(s) << s.error().message();
  SopsWriter w2;
  body = "A: " + w2.value("alpha", "A:") + "\n";
  s = open(w2.file(body, "", "2024-01-02T03:04:05-07:00"));
  ASSERT_TRUE(s) << s.error().message();
}

TEST(SopsTreeTest, AFileWithoutMacIsRefused) {
  SopsWriter w;
  std::string text =
      "A: " + w.value("alpha", "A:") + "\nsops:\n    lastmodified: \"2024-01-02T03:04:05Z\"\n    mac: \"\"\n";
  auto s = open(text);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("s.yaml: has no sops.mac"));
  EXPECT_THAT(s.error().message(), HasSubstr("--ignore-mac"));
}

TEST(SopsTreeTest, APlainValueWhereSopsEncryptsIsRefused) {
  SopsWriter w;
  auto number = open(w.file("A: 5\n"));
  ASSERT_FALSE(number);
  EXPECT_THAT(number.error().message(), HasSubstr("s.yaml:1:4: A should be encrypted but holds a plain value"));
  SopsWriter w2;
  auto text = open(w2.file("A: hunter2\n"));
  ASSERT_FALSE(text);
  EXPECT_THAT(text.error().message(), HasSubstr("s.yaml:1:4: A: not an ENC["));
  EXPECT_THAT(text.error().message(), Not(HasSubstr("hunter2")));
}

TEST(SopsTreeTest, BadPlaintextForItsTypeIsRefusedWithoutShowingIt) {
  for (const char* type : {"int", "float", "bool"}) {
    SopsWriter w;
    auto s = open(w.file(std::string("A: ") + w.value("hunter2", "A:", type) + "\n"));
    ASSERT_FALSE(s) << type;
    EXPECT_THAT(s.error().message(), HasSubstr("s.yaml:1:4: A: a value of type"));
    EXPECT_THAT(s.error().message(), Not(HasSubstr("hunter2")));
  }
  SopsWriter w;
  auto s = open(w.file(std::string("A: ") + w.value("x", "A:", "blob") + "\n"));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("unknown ENC[...] value type \"blob\""));
}

TEST(SopsTreeTest, NestedMapsAndListsAreDecryptedButAreNotVariables) {
  SopsWriter w;
  std::string body = "OK: " + w.value("fine", "OK:") + "\n";
  body += "db:\n  password: " + w.value("pw", "db:password:") + "\n";
  auto tree_file = parseSopsFile(w.file(body), "s.yaml");
  ASSERT_TRUE(tree_file) << tree_file.error().message();
  auto tree = decryptSopsTree(*tree_file, testDataKey());
  ASSERT_TRUE(tree) << tree.error().message();
  EXPECT_EQ(doc::locate(*tree, "db.password")->text(), "pw");
  auto s = secretsFromTree(*tree, "s.yaml");
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("s.yaml:2:1: db holds a mapping"));
  EXPECT_THAT(s.error().message(), Not(HasSubstr("pw")));

  SopsWriter w2;  // list items are bound to the list's key: "HOSTS:"
  std::string first = w2.value("a", "HOSTS:"), second = w2.value("b", "HOSTS:");  // in MAC order
  body = "HOSTS:\n  - " + first + "\n  - " + second + "\n";
  auto list = open(w2.file(body));
  ASSERT_FALSE(list);
  EXPECT_THAT(list.error().message(), HasSubstr("s.yaml:1:1: HOSTS holds a list"));
}

TEST(SopsTreeTest, KeysThatAreNotVariableNamesAreRefusedWithTheirLine) {
  for (const char* key : {"MY-VAR", "1ABC", "with space", "caf\xc3\xa9"}) {
    SopsWriter w;
    std::string good = w.value("x", "GOOD:"), bad = w.value("y", std::string(key) + ":");  // in MAC order
    std::string body = "GOOD: " + good + "\n\"" + key + "\": " + bad + "\n";
    auto s = open(w.file(body));
    ASSERT_FALSE(s) << key;
    EXPECT_THAT(s.error().message(), HasSubstr("s.yaml:2:1: \"")) << key;
    EXPECT_THAT(s.error().message(), HasSubstr("is not an environment variable name")) << key;
  }
}

TEST(SopsTreeTest, NullValuesAreRefused) {
  SopsWriter w;
  auto s = open(w.file("A:\nB: " + w.value("x", "B:") + "\n"));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("s.yaml:1:1: A has no value (null)"));
}

TEST(SopsTreeTest, TheDataKeyMustBe32Bytes) {
  SopsWriter w;
  auto file = parseSopsFile(w.file("A: " + w.value("x", "A:") + "\n"), "s.yaml");
  ASSERT_TRUE(file);
  auto tree = decryptSopsTree(*file, "short");
  ASSERT_FALSE(tree);
  EXPECT_THAT(tree.error().message(), HasSubstr("5 bytes, not 32"));
}

}  // namespace
}  // namespace km::secrets
