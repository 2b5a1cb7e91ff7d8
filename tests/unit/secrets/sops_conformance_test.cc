// Files written by sops itself (fixtures/README.md says which, from where), decrypted with the
// data keys sops's published test keys open, against the plaintext sops's repository documents.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "doc/node.h"
#include "secrets/secrets.h"
#include "secrets_fixtures.h"

namespace km::secrets {
namespace {

using ::testing::HasSubstr;
using namespace km::secrets::test;

Result<doc::Node> openFixture(const std::string& name, const char* key_hex) {
  auto file = parseSopsFile(readFixture(name), name);
  if (!file) return std::move(file).error();
  return decryptSopsTree(*file, fromHex(key_hex));
}

std::string at(const doc::Node& root, std::string_view path) {
  const doc::Node* n = doc::locate(root, path);
  return n ? n->text() : "<missing>";
}

TEST(SopsConformanceTest, ExampleYamlDecryptsToTheDocumentedValuesAndItsMacMatches) {
  auto tree = openFixture("example.yaml", kExampleKeyHex);
  ASSERT_TRUE(tree) << tree.error().message();
  // sops's README shows password c4r1b0u, the RSA key and the array; kpt's sops function e2e
  // test asserts t00m4nys3cr3tzupdated for this file and key.
  EXPECT_EQ(at(*tree, "myapp1"), "t00m4nys3cr3tzupdated");
  EXPECT_EQ(at(*tree, "app2.db.user"), "eve");
  EXPECT_EQ(at(*tree, "app2.db.password"), "c4r1b0u");
  std::string key = at(*tree, "app2.key");
  EXPECT_THAT(key, ::testing::StartsWith("-----BEGIN RSA PRIVATE KEY-----\n"
                                          "MIIBPAIBAAJBAPTMNIyHuZtpLYc7VsHQtwOkWYobkUblmHWRmbXzlAX6K8tMf3Wf\n"));
  EXPECT_THAT(key, ::testing::EndsWith("bKGPkMM4w5blyE1tqGN0T7sJwEx+EUOgacRNqM2ljVA=\n"
                                       "-----END RSA PRIVATE KEY-----\n"));
  EXPECT_EQ(at(*tree, "number"), "1234568000");
  EXPECT_EQ(doc::locate(*tree, "number")->kind(), doc::Node::Kind::kFloat);
  EXPECT_EQ(at(*tree, "an_array[0]"), "secretuser1");
  EXPECT_EQ(at(*tree, "an_array[1]"), "secretuser2");
  EXPECT_EQ(at(*tree, "an_array[3]"), "some other value");
  EXPECT_EQ(at(*tree, "somebooleans[0]"), "true");
  EXPECT_EQ(at(*tree, "somebooleans[1]"), "false");
  EXPECT_EQ(doc::locate(*tree, "somebooleans[1]")->kind(), doc::Node::Kind::kBool);
  EXPECT_EQ(at(*tree, "this.is.a.nested.value"), "with something secret in it");
  EXPECT_EQ(at(*tree, "somelist_unencrypted[2]"), "because of the _encrypted suffix in the key");
  EXPECT_EQ(at(*tree, "nested_unencrypted.this.is.all"), "going to remain in clear text");
  EXPECT_EQ(tree->find("sops"), nullptr);
}

TEST(SopsConformanceTest, ExampleYamlIsNotAFlatBundle) {
  auto tree = openFixture("example.yaml", kExampleKeyHex);
  ASSERT_TRUE(tree) << tree.error().message();
  auto secrets = secretsFromTree(*tree, "example.yaml");
  ASSERT_FALSE(secrets);
  EXPECT_THAT(secrets.error().message(), HasSubstr("example.yaml:2:1:"));
  EXPECT_THAT(secrets.error().message(), HasSubstr("app2 holds a mapping"));
  EXPECT_THAT(secrets.error().message(), HasSubstr("flat"));
  EXPECT_THAT(secrets.error().message(), ::testing::Not(HasSubstr("t00m4nys3cr3tz")));
}

TEST(SopsConformanceTest, AClearValueEditedWithoutSopsFailsTheMac) {
  // The same file in a later commit, where a clear-text list item was edited by hand.
  auto tree = openFixture("example_edited.yaml", kExampleKeyHex);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(tree.error().message(), HasSubstr("example_edited.yaml:38: "));
  EXPECT_THAT(tree.error().message(), HasSubstr("MAC does not match"));
  EXPECT_THAT(tree.error().message(), HasSubstr("was the file edited without sops?"));
}

TEST(SopsConformanceTest, CommentsFileGivesItsTwoVariablesInOrder) {
  auto tree = openFixture("comments.enc.yaml", kCommentsKeyHex);
  ASSERT_TRUE(tree) << tree.error().message();
  auto secrets = secretsFromTree(*tree, "comments.enc.yaml");
  ASSERT_TRUE(secrets) << secrets.error().message();
  ASSERT_EQ(secrets->size(), 2u);  // functional-tests/res/comments.yaml: lorem: ipsum, dolor: sit
  EXPECT_EQ((*secrets)[0].name, "lorem");
  EXPECT_EQ((*secrets)[0].value, "ipsum");
  EXPECT_EQ((*secrets)[1].name, "dolor");
  EXPECT_EQ((*secrets)[1].value, "sit");
}

TEST(SopsConformanceTest, RecentSopsOutputDecrypts) {
  auto tree = openFixture("format.enc.yaml", kFormatKeyHex);
  ASSERT_TRUE(tree) << tree.error().message();
  EXPECT_EQ(at(*tree, "foo"), "bar");
}

TEST(SopsConformanceTest, TheWrongDataKeyFailsOnTheFirstValue) {
  auto tree = openFixture("format.enc.yaml", kCommentsKeyHex);
  ASSERT_FALSE(tree);
  EXPECT_THAT(tree.error().message(), HasSubstr("format.enc.yaml:1:"));
  EXPECT_THAT(tree.error().message(), HasSubstr("authentication tag"));
}

TEST(SopsConformanceTest, TamperedCiphertextFailsItsTag) {
  std::string text = readFixture("format.enc.yaml");
  text.replace(text.find("data:8CvE"), 9, "data:8CvF");
  auto file = parseSopsFile(text, "f.yaml");
  ASSERT_TRUE(file) << file.error().message();
  auto tree = decryptSopsTree(*file, fromHex(kFormatKeyHex));
  ASSERT_FALSE(tree);
  EXPECT_THAT(tree.error().message(), HasSubstr("f.yaml:1:6: foo: the value does not match its authentication tag"));
}

TEST(SopsConformanceTest, TamperedMacOrLastModifiedFailsTheMacTag) {
  for (auto [from, to] : {std::pair<std::string, std::string>{"data:t5sIFo7p", "data:t5sIFo7q"},
                          {"2026-05-22T20:16:23Z", "2026-05-22T20:16:24Z"}}) {
    std::string text = readFixture("format.enc.yaml");
    text.replace(text.find(from), from.size(), to);
    auto file = parseSopsFile(text, "f.yaml");
    ASSERT_TRUE(file) << file.error().message();
    auto tree = decryptSopsTree(*file, fromHex(kFormatKeyHex));
    ASSERT_FALSE(tree) << from;
    EXPECT_THAT(tree.error().message(), HasSubstr("f.yaml:4: "));
    EXPECT_THAT(tree.error().message(), HasSubstr("sops.mac does not match its authentication tag"));
  }
}

TEST(SopsConformanceTest, PgpOnlyFilesAreRefusedNamingTheirKeyTypes) {
  for (const char* name : {"format.enc.yaml", "example.yaml"}) {
    auto secrets = decryptSopsYaml(readFixture(name), name, SopsKeys{{fixturePath("age_keys.txt")}});
    ASSERT_FALSE(secrets) << name;
    EXPECT_THAT(secrets.error().message(), HasSubstr("encrypted only for pgp keys"));
    EXPECT_THAT(secrets.error().message(), HasSubstr("age keys only"));
  }
}

TEST(SopsConformanceTest, AgeRecipientOpensTheFileEndToEnd) {
  KM_SKIP_WITHOUT_AGE();
  // The second recipient is sops's test key; the first (the mock key) is tried and fails first.
  for (const char* identity : {"age_keys.txt", "keysource_mock_identity.txt"}) {
    auto secrets = decryptSopsYaml(readFixture("format_age.enc.yaml"), "format_age.enc.yaml",
                                   SopsKeys{{fixturePath(identity)}});
    ASSERT_TRUE(secrets) << identity << ": " << secrets.error().message();
    ASSERT_EQ(secrets->size(), 1u);
    EXPECT_EQ((*secrets)[0].name, "foo");
    EXPECT_EQ((*secrets)[0].value, "bar");
  }
}

TEST(SopsConformanceTest, IdentityFilesAreTriedInTurn) {
  KM_SKIP_WITHOUT_AGE();
  SopsKeys keys{{fixturePath("keysource_mock_other_identity.txt"), fixturePath("age_keys.txt")}};
  auto secrets = decryptSopsYaml(readFixture("format_age.enc.yaml"), "format_age.enc.yaml", keys);
  ASSERT_TRUE(secrets) << secrets.error().message();
  EXPECT_EQ((*secrets)[0].value, "bar");
}

TEST(SopsConformanceTest, WrongIdentityListsRecipientsIdentitiesAndTheFix) {
  KM_SKIP_WITHOUT_AGE();
  std::string other = fixturePath("keysource_mock_other_identity.txt");
  auto secrets = decryptSopsYaml(readFixture("format_age.enc.yaml"), "format_age.enc.yaml", SopsKeys{{other}});
  ASSERT_FALSE(secrets);
  const std::string& m = secrets.error().message();
  EXPECT_EQ(secrets.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(m, HasSubstr("format_age.enc.yaml"));
  EXPECT_THAT(m, HasSubstr(kMockRecipient));
  EXPECT_THAT(m, HasSubstr(kSopsTestRecipient));
  EXPECT_THAT(m, HasSubstr(other));
  EXPECT_THAT(m, HasSubstr("no identity matched"));
  EXPECT_THAT(m, HasSubstr("pgp recipients, which km does not use"));
  EXPECT_THAT(m, HasSubstr("SOPS_AGE_KEY_FILE"));
}

TEST(SopsConformanceTest, SopsKeysourceTestVectorOpensWithItsIdentityOnly) {
  KM_SKIP_WITHOUT_AGE();
  // age/keysource_test.go: mockEncryptedKey decrypts to "data" with mockIdentity. "data" is
  // 4 bytes, so it is not a sops data key: the error shows that age opened it.
  SopsFile file;
  file.source = "mock.yaml";
  file.age.push_back({kMockRecipient, readFixture("keysource_mock_key.age"), 1});
  auto key = decryptDataKey(file, SopsKeys{{fixturePath("keysource_mock_identity.txt")}});
  ASSERT_FALSE(key);
  EXPECT_THAT(key.error().message(), HasSubstr("decrypts to 4 bytes, not a 32-byte sops data key"));
  key = decryptDataKey(file, SopsKeys{{fixturePath("keysource_mock_other_identity.txt")}});
  ASSERT_FALSE(key);
  EXPECT_THAT(key.error().message(), HasSubstr("no identity matched any of the recipients"));
}

}  // namespace
}  // namespace km::secrets
