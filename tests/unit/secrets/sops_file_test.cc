// parseSopsFile (the metadata) and parseEncValue / openEncValue (one value).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "secrets/enc_value.h"
#include "secrets/secrets.h"
#include "sops_writer.h"

namespace km::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kMeta = "sops:\n    lastmodified: \"2024-01-02T03:04:05Z\"\n    mac: \"\"\n";

std::string parseError(const std::string& text) {
  auto f = parseSopsFile(text, "s.yaml");
  return f ? "<parsed>" : f.error().message();
}

TEST(SopsFileTest, ReadsRecipientsRulesAndMetadata) {
  std::string text = std::string("A: x\n") +
                     "sops:\n"
                     "    age:\n"
                     "        - recipient: age1aaa\n"
                     "          enc: |\n"
                     "            -----BEGIN AGE ENCRYPTED FILE-----\n"
                     "            -----END AGE ENCRYPTED FILE-----\n"
                     "    kms: []\n"
                     "    pgp:\n"
                     "        - fp: ABC\n"
                     "          enc: x\n"
                     "    hc_vault:\n"
                     "        - key_name: k\n"
                     "    lastmodified: \"2024-01-02T03:04:05Z\"\n"
                     "    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n"
                     "    encrypted_regex: ^A$\n"
                     "    version: 3.9.0\n";
  auto f = parseSopsFile(text, "s.yaml");
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_EQ(f->age.size(), 1u);
  EXPECT_EQ(f->age[0].recipient, "age1aaa");
  EXPECT_EQ(f->age[0].line, 4u);
  EXPECT_THAT(f->age[0].enc, HasSubstr("-----END AGE ENCRYPTED FILE-----"));
  EXPECT_EQ(f->other_key_types, (std::vector<std::string>{"pgp", "hc_vault"}));  // kms is empty
  EXPECT_EQ(f->rule, CryptRule::kEncryptedRegex);
  EXPECT_EQ(f->rule_value, "^A$");
  EXPECT_EQ(f->mac_line, 15u);
  EXPECT_EQ(f->last_modified, "2024-01-02T03:04:05Z");
  EXPECT_EQ(f->data.entries().size(), 1u);
  EXPECT_EQ(f->data.find("sops"), nullptr);
}

TEST(SopsFileTest, OneKeyGroupIsReadAndSeveralAreRefused) {
  std::string group = "        - age:\n            - recipient: age1bbb\n              enc: x\n";
  auto one = parseSopsFile("A: x\nsops:\n    key_groups:\n" + group + "    lastmodified: \"2024-01-02T03:04:05Z\"\n",
                           "s.yaml");
  ASSERT_TRUE(one) << one.error().message();
  ASSERT_EQ(one->age.size(), 1u);
  EXPECT_EQ(one->age[0].recipient, "age1bbb");
  std::string two = "A: x\nsops:\n    shamir_threshold: 2\n    key_groups:\n" + group + group +
                    "    lastmodified: \"2024-01-02T03:04:05Z\"\n";
  EXPECT_THAT(parseError(two), HasSubstr("s.yaml:5:9: this file splits its data key between 2 key groups (Shamir"));
}

TEST(SopsFileTest, RefusesWhatIsNotASopsFile) {
  EXPECT_THAT(parseError("a: [1, 2\n"), HasSubstr("s.yaml:"));
  EXPECT_THAT(parseError("a: [1, 2\n"), HasSubstr("a sops file must be the YAML"));
  EXPECT_THAT(parseError("- a\n- b\n"), HasSubstr("the document is not a mapping"));
  EXPECT_THAT(parseError("A: 1\n"), HasSubstr("s.yaml: has no `sops` metadata"));
  EXPECT_THAT(parseError("A: 1\nsops: 3\n"), HasSubstr("s.yaml:2:7: `sops` must be the mapping"));
  EXPECT_THAT(parseError("A: 1\nsops:\n    mac: x\n"), HasSubstr("sops.lastmodified is missing"));
  EXPECT_THAT(parseError("A: 1\nsops:\n    lastmodified: yesterday\n"),
              HasSubstr("s.yaml:3:19: sops.lastmodified is not an RFC 3339 time"));
  EXPECT_THAT(parseError(std::string(2 << 20, '#')),
              HasSubstr("s.yaml: is 2097152 bytes; a sops secrets file may be at most 1 MiB"));
}

TEST(SopsFileTest, RefusesMalformedMetadata) {
  EXPECT_THAT(parseError(std::string("A: 1\n") + kMeta + "    age:\n        - recipient: age1x\n"),
              HasSubstr("s.yaml:6:11: an entry of sops.age needs a `recipient` and an `enc`"));
  EXPECT_THAT(parseError(std::string("A: 1\n") + kMeta + "    age: 3\n"), HasSubstr("sops.age must be a list"));
  EXPECT_THAT(parseError(std::string("A: 1\n") + kMeta + "    unencrypted_suffix: _u\n    encrypted_regex: x\n"),
              HasSubstr("s.yaml:6:22: sops allows only one of"));
  EXPECT_THAT(parseError(std::string("A: 1\n") + kMeta + "    unencrypted_comment_regex: sops:nocrypt\n"),
              HasSubstr("sops.unencrypted_comment_regex is not supported"));
  EXPECT_THAT(parseError(std::string("A: 1\n") + kMeta + "    mac_only_encrypted: maybe\n"),
              HasSubstr("sops.mac_only_encrypted must be true or false"));
}

TEST(SopsFileTest, ABadKeyRegexIsReportedWhenDecrypting) {
  test::SopsWriter w;
  auto f = parseSopsFile(w.file("A: x\n", "    encrypted_regex: ^(A\n"), "s.yaml");
  ASSERT_TRUE(f) << f.error().message();
  auto tree = decryptSopsTree(*f, test::testDataKey());
  ASSERT_FALSE(tree);
  EXPECT_THAT(tree.error().message(), HasSubstr("s.yaml: the sops key regex \"^(A\" does not compile"));
}

TEST(EncValueTest, ParsesTheFourFields) {
  auto v = parseEncValue("ENC[AES256_GCM,data:aGk=,iv:AAECAw==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:int]");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->data, "hi");
  EXPECT_EQ(v->iv, std::string("\0\1\2\3", 4));
  EXPECT_EQ(v->tag, std::string(16, '\0'));
  EXPECT_EQ(v->type, "int");
}

TEST(EncValueTest, RefusesMalformedValuesWithoutQuotingThem) {
  const std::string tag = "tag:AAAAAAAAAAAAAAAAAAAAAA==";
  struct Case {
    std::string text, error;
  };
  for (const Case& c : std::vector<Case>{
           {"hunter2", "not an ENC[AES256_GCM"},
           {"ENC[AES256_CBC,data:aGk=,iv:AAEC,tag:x,type:str]", "not an ENC[AES256_GCM"},
           {"ENC[AES256_GCM,data:aGk=,iv:AAECAw==," + tag + "]", "malformed ENC[...] value"},
           {"ENC[AES256_GCM,iv:AAECAw==,data:aGk=," + tag + ",type:str]", "malformed"},
           {"ENC[AES256_GCM,data:,iv:AAECAw==," + tag + ",type:str]", "malformed"},
           {"ENC[AES256_GCM,data:aGk=,iv:AAECAw==," + tag + ",type:str]x", "malformed"},
           {"ENC[AES256_GCM,data:aGk=,iv:AAECAw==," + tag + ",type:str", "malformed"},
           {"ENC[AES256_GCM,data:aGk,iv:AAECAw==," + tag + ",type:str]", "data of this ENC[...] value is not base64"},
           {"ENC[AES256_GCM,data:a-k_,iv:AAECAw==," + tag + ",type:str]", "not base64"},
           {"ENC[AES256_GCM,data:a=Gk,iv:AAECAw==," + tag + ",type:str]", "not base64"},
           {"ENC[AES256_GCM,data:aGk=,iv:AA*CAw==," + tag + ",type:str]", "iv of this ENC[...] value is not base64"},
           {"ENC[AES256_GCM,data:aGk=,iv:AAECAw==,tag:AAAAAAAAAAAAAAAAAAAA,type:str]",
            "tag of this ENC[...] value is 15 bytes, not 16"},
           {"ENC[AES256_GCM,data:aGk=,iv:" + std::string(88, 'A') + "," + tag + ",type:str]",
            "iv of this ENC[...] value is 66 bytes"},
       }) {
    auto v = parseEncValue(c.text);
    ASSERT_FALSE(v) << c.text;
    EXPECT_THAT(v.error().message(), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(v.error().message(), Not(HasSubstr("hunter2")));
    EXPECT_THAT(v.error().message(), Not(HasSubstr("aGk")));
  }
}

TEST(EncValueTest, OpensOnlyWithTheKeyAndPathItWasBoundTo) {
  test::SopsWriter w;
  auto v = parseEncValue(w.enc("s3cr3t", "a:b:", "str"));
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->iv.size(), 32u);
  auto plain = openEncValue(*v, test::testDataKey(), "a:b:");
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(*plain, "s3cr3t");
  EXPECT_FALSE(openEncValue(*v, test::testDataKey(), "a:c:"));
  EXPECT_FALSE(openEncValue(*v, std::string(32, 'k'), "a:b:"));
  auto wrong_size = openEncValue(*v, "short", "a:b:");
  ASSERT_FALSE(wrong_size);
  EXPECT_THAT(wrong_size.error().message(), HasSubstr("5 bytes, not 32"));
}

}  // namespace
}  // namespace km::secrets
