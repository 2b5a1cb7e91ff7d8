// Where identities come from, unwrapping the data key with the age CLI, and decryptSopsYaml
// end to end on files wrapped by the real age at test time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "secrets/secrets.h"
#include "secrets_fixtures.h"
#include "sops_writer.h"
#include "support/temp_dir.h"

namespace km::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace km::secrets::test;

std::function<const char*(const char*)> fakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(DefaultSopsKeysTest, EnvironmentFileFirstThenTheUsersSopsKeysFile) {
  km::test::ScopedTempDir home;
  std::string keys = home.write(".config/sops/age/keys.txt", "AGE-SECRET-KEY-1...\n");
  EXPECT_THAT(defaultSopsKeys(fakeEnv({{"HOME", home.path()}})).age_identity_files, ElementsAre(keys));
  EXPECT_THAT(defaultSopsKeys(fakeEnv({{"HOME", home.path()}, {"SOPS_AGE_KEY_FILE", "/run/k.txt"}})).age_identity_files,
              ElementsAre("/run/k.txt", keys));
  // Named even when missing, so that the error says which file was tried.
  EXPECT_THAT(defaultSopsKeys(fakeEnv({{"SOPS_AGE_KEY_FILE", "/nonexistent/k.txt"}})).age_identity_files,
              ElementsAre("/nonexistent/k.txt"));
  EXPECT_THAT(defaultSopsKeys(fakeEnv({{"HOME", home.path()}, {"SOPS_AGE_KEY_FILE", keys}})).age_identity_files,
              ElementsAre(keys));
}

TEST(DefaultSopsKeysTest, XdgConfigHomeReplacesHomeWhenAbsolute) {
  km::test::ScopedTempDir xdg, home;
  std::string in_xdg = xdg.write("sops/age/keys.txt", "x\n");
  std::string in_home = home.write(".config/sops/age/keys.txt", "x\n");
  EXPECT_THAT(defaultSopsKeys(fakeEnv({{"HOME", home.path()}, {"XDG_CONFIG_HOME", xdg.path()}})).age_identity_files,
              ElementsAre(in_xdg));
  EXPECT_THAT(defaultSopsKeys(fakeEnv({{"HOME", home.path()}, {"XDG_CONFIG_HOME", "relative"}})).age_identity_files,
              ElementsAre(in_home));
  EXPECT_TRUE(defaultSopsKeys(fakeEnv({})).age_identity_files.empty());
  EXPECT_EQ(defaultSopsKeys(fakeEnv({})).age_program, "/usr/bin/age");
}

SopsFile fileFor(std::vector<AgeRecipient> age, std::vector<std::string> others = {}) {
  SopsFile f;
  f.source = "s.yaml";
  f.age = std::move(age);
  f.other_key_types = std::move(others);
  return f;
}

TEST(DecryptDataKeyTest, NoIdentityFileSaysHowToProvideOne) {
  auto key = decryptDataKey(fileFor({{"age1xyz", "armored", 3}}), SopsKeys{});
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(key.error().message(), HasSubstr("s.yaml: no age identity file"));
  EXPECT_THAT(key.error().message(), HasSubstr("age1xyz"));
  EXPECT_THAT(key.error().message(), HasSubstr("SOPS_AGE_KEY_FILE"));
  EXPECT_THAT(key.error().message(), HasSubstr("~/.config/sops/age/keys.txt"));
}

TEST(DecryptDataKeyTest, FilesWithoutAgeRecipientsNameTheirKeyTypes) {
  auto key = decryptDataKey(fileFor({}, {"pgp", "kms"}), SopsKeys{{"/k.txt"}});
  ASSERT_FALSE(key);
  EXPECT_THAT(key.error().message(), HasSubstr("s.yaml: is encrypted only for pgp, kms keys"));
  key = decryptDataKey(fileFor({}), SopsKeys{{"/k.txt"}});
  ASSERT_FALSE(key);
  EXPECT_THAT(key.error().message(), HasSubstr("has no recipients"));
}

TEST(DecryptDataKeyTest, MissingAgeProgramIsUnavailable) {
  SopsKeys keys{{"/k.txt"}, "/nonexistent/bin/age"};
  auto key = decryptDataKey(fileFor({{"age1xyz", "armored", 3}}), keys);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(key.error().message(), HasSubstr("apt-get install age"));
}

TEST(DecryptDataKeyTest, AMissingIdentityFileIsNamedWithAgesComplaint) {
  KM_SKIP_WITHOUT_AGE();
  auto key = decryptDataKey(fileFor({{kSopsTestRecipient, readFixture("keysource_mock_key.age"), 3}}),
                            SopsKeys{{"/nonexistent/keys.txt"}});
  ASSERT_FALSE(key);
  EXPECT_THAT(key.error().message(), HasSubstr("/nonexistent/keys.txt"));
  EXPECT_THAT(key.error().message(), HasSubstr("age said \"age: error:"));
}

// A flat bundle of every type, wrapped for sops's test recipient by the real age.
TEST(DecryptSopsYamlTest, EveryTypeEndToEndThroughAge) {
  KM_SKIP_WITHOUT_AGE();
  SopsWriter w;
  std::string body = "DATABASE_URL: " + w.value("postgres://u:p@db/x", "DATABASE_URL:") + "\n";
  body += "WORKERS: " + w.value("8", "WORKERS:", "int") + "\n";
  body += "RATE: " + w.value("0.25", "RATE:", "float") + "\n";
  body += "DEBUG: " + w.value("False", "DEBUG:", "bool") + "\n";
  body += "REGION_unencrypted: eu-west-1\n";
  w.hashBytes("eu-west-1");
  std::string age = "    age:\n" + ageEntry(kSopsTestRecipient, ageWrap(testDataKey(), kSopsTestRecipient));
  auto s = decryptSopsYaml(w.file(body, age), "bundle.yaml", SopsKeys{{fixturePath("age_keys.txt")}});
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->size(), 5u);
  EXPECT_EQ((*s)[0].name, "DATABASE_URL");
  EXPECT_EQ((*s)[0].value, "postgres://u:p@db/x");
  EXPECT_EQ((*s)[1].value, "8");
  EXPECT_EQ((*s)[2].value, "0.25");
  EXPECT_EQ((*s)[3].value, "false");
  EXPECT_EQ((*s)[4].name, "REGION_unencrypted");
  EXPECT_EQ((*s)[4].value, "eu-west-1");
}

TEST(DecryptSopsYamlTest, AWrappedKeyOfTheWrongSizeIsRefused) {
  KM_SKIP_WITHOUT_AGE();
  SopsWriter w;
  std::string body = "A: " + w.value("x", "A:") + "\n";
  std::string age = "    age:\n" + ageEntry(kSopsTestRecipient, ageWrap("sixteen byte key", kSopsTestRecipient));
  auto s = decryptSopsYaml(w.file(body, age), "bundle.yaml", SopsKeys{{fixturePath("age_keys.txt")}});
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("decrypts to 16 bytes, not a 32-byte sops data key"));
}

}  // namespace
}  // namespace km::secrets
