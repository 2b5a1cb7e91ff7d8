#include "audit/redact.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace km::audit {
namespace {

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> corpusLines(const std::string& name) {
  std::ifstream in(std::string(KM_SOURCE_DIR) + "/tests/unit/audit/corpus/" + name);
  EXPECT_TRUE(in) << name;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

TEST(RedactTest, EveryEntryOfTheSecretsCorpusIsRedacted) {
  Redactor r;
  auto lines = corpusLines("secrets.tsv");
  ASSERT_GE(lines.size(), 35u);
  for (const auto& line : lines) {
    size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    std::string text = unescape(line.substr(0, tab)), secret = unescape(line.substr(tab + 1));
    std::string out = text;
    EXPECT_GE(r.redact(out), 1u) << text;
    EXPECT_EQ(out.find(secret), std::string::npos) << "secret left in: " << out;
    EXPECT_NE(out.find(kRedacted), std::string::npos) << out;
    // Redacting again changes nothing: the marker is never taken for a secret.
    std::string again = out;
    EXPECT_EQ(r.redact(again), 0u) << again;
    EXPECT_EQ(again, out);
  }
}

TEST(RedactTest, OrdinaryTextIsLeftAlone) {
  Redactor r;
  auto lines = corpusLines("ordinary.txt");
  ASSERT_GE(lines.size(), 35u);
  for (const auto& line : lines) {
    std::string text = unescape(line), out = text;
    EXPECT_EQ(r.redact(out), 0u) << text << " became " << out;
    EXPECT_EQ(out, text);
  }
}

TEST(RedactTest, KeepsWhatSaysWhatTheSecretWas) {
  Redactor r;
  EXPECT_EQ(r.redacted("DB_PASSWORD=correcthorse ./run"), "DB_PASSWORD=[REDACTED] ./run");
  EXPECT_EQ(r.redacted("{\"token\": \"abc123def\"}"), "{\"token\": \"[REDACTED]\"}");
  EXPECT_EQ(r.redacted("https://alice:pw12345@h/x"), "https://alice:[REDACTED]@h/x");
  EXPECT_EQ(r.redacted("Authorization: Bearer abc123.def456"), "Authorization: Bearer [REDACTED]");
  EXPECT_EQ(r.redacted("a AKIAIOSFODNN7EXAMPLE b AKIAIOSFODNN7EXAMPLF c"), "a [REDACTED] b [REDACTED] c");
  EXPECT_EQ(r.redacted("PASSWD=x"), "PASSWD=[REDACTED]");
  EXPECT_EQ(r.redacted("apikey=x1"), "apikey=[REDACTED]");
  EXPECT_EQ(r.redacted("AWS_SECRET_ACCESS_KEY=x"), "AWS_SECRET_ACCESS_KEY=[REDACTED]");
}

TEST(RedactTest, LiteralsAreReplacedWhereverTheyAppear) {
  Redactor r({"s3cr3t-value", "abc", "s3cr3t-value", "other-value"});
  EXPECT_EQ(r.literalCount(), 2u);  // "abc" is too short, the duplicate goes
  EXPECT_EQ(r.redacted("echo xs3cr3t-valuex; echo abc"), "echo x[REDACTED]x; echo abc");
  // The longer literal goes first, so one containing another is not split.
  Redactor nested({"outer-inner-outer", "inner-"});
  EXPECT_EQ(nested.redacted("[outer-inner-outer]"), "[[REDACTED]]");
}

TEST(RedactTest, ArgvValuesAfterASecretFlagOrNameGoWhole) {
  Redactor r;
  std::vector<std::string> argv{"aws", "configure", "set", "aws_secret_access_key", "abc/def+ghi", "--profile", "p"};
  EXPECT_EQ(r.redactArgv(argv), 1u);
  EXPECT_EQ(argv[4], "[REDACTED]");
  EXPECT_EQ(argv[5], "--profile");
  std::vector<std::string> flags{"tool", "--api-key", "k1", "--token", "t0k3n", "--max-tokens", "100",
                                 "--token-file", "/run/t", "--password=pw123456"};
  r.redactArgv(flags);
  EXPECT_EQ(flags[2], "[REDACTED]");
  EXPECT_EQ(flags[4], "[REDACTED]");
  EXPECT_EQ(flags[6], "100");
  EXPECT_EQ(flags[8], "/run/t");
  EXPECT_EQ(flags[9], "--password=[REDACTED]");
  // A word alone is not a name: "echo token foo" keeps foo.
  std::vector<std::string> prose{"echo", "token", "foo", "$TOKEN"};
  EXPECT_EQ(r.redactArgv(prose), 0u);
  EXPECT_EQ(prose[2], "foo");
}

TEST(RedactTest, SecretLookingNames) {
  for (const char* yes : {"GITHUB_TOKEN", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "client-secret",
                          "npm.token", "PRIVATE_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "token"}) {
    EXPECT_TRUE(secretLookingName(yes)) << yes;
  }
  for (const char* no : {"PATH", "PWD", "AWS_ACCESS_KEY_ID", "TOKEN_TYPE", "MAX_TOKENS", "MYTOKEN", "AUTHOR",
                         "KEYBOARD", "SECRET_FILE"}) {
    EXPECT_FALSE(secretLookingName(no)) << no;
  }
}

TEST(RedactTest, CraftedInputEndsAndLeavesNoSecretBehindIt) {
  Redactor r;
  // A private key header without an end, then a very long line: bounded work, the key goes.
  std::string text = "-----BEGIN RSA PRIVATE KEY-----" + std::string(200000, 'A');
  r.redact(text);
  EXPECT_EQ(text, "[REDACTED]");
  // Thousands of candidates: every one replaced, up to the per-pattern bound.
  std::string many;
  for (int i = 0; i < 3000; ++i) many += "AKIAIOSFODNN7EXAMPLE ";
  EXPECT_EQ(r.redact(many), 3000u);
  EXPECT_EQ(many.find("AKIA"), std::string::npos);
}

}  // namespace
}  // namespace km::audit
