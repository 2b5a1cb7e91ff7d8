// ReceivePackCommands on bodies real `git push` sent (fixtures/README.md says how each was made).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "github/github.h"

namespace km::github {
namespace {

using State = ReceivePackCommands::State;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(KM_SOURCE_DIR) + "/tests/unit/github/fixtures/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

ReceivePackCommands read(const std::string& body) {
  ReceivePackCommands whole;
  whole.feed(body);
  // The same, split at every byte and one byte at a time.
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    ReceivePackCommands c;
    c.feed(std::string_view(body).substr(0, cut));
    c.feed(std::string_view(body).substr(cut));
    EXPECT_EQ(c.state(), whole.state()) << cut;
    EXPECT_EQ(c.consumed(), whole.consumed()) << cut;
    EXPECT_EQ(c.updates().size(), whole.updates().size()) << cut;
    EXPECT_EQ(c.error(), whole.error()) << cut;
  }
  ReceivePackCommands bytes;
  for (char ch : body) bytes.feed(std::string_view(&ch, 1));
  EXPECT_EQ(bytes.state(), whole.state());
  EXPECT_EQ(bytes.consumed(), whole.consumed());
  return whole;
}

TEST(ReceivePackFixture, CreateBranchInEmptyRepository) {
  std::string body = fixture("receive_pack_create.bin");
  auto c = read(body);
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 1u);
  EXPECT_EQ(c.updates()[0].old_oid, std::string(40, '0'));
  EXPECT_EQ(c.updates()[0].new_oid, "ed6c0b7af2eba8f51b7d21157cd6c03acf5e101e");
  EXPECT_EQ(c.updates()[0].refname, "refs/heads/main");
  EXPECT_TRUE(c.updates()[0].creates());
  EXPECT_EQ(c.capabilities(), " report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5");
  EXPECT_EQ(c.consumed(), 179u);
  EXPECT_EQ(body.substr(c.consumed(), 4), "PACK");
}

TEST(ReceivePackFixture, UpdateBranchAndCreateTag) {
  std::string body = fixture("receive_pack_update_tag.bin");
  auto c = read(body);
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 2u);
  EXPECT_EQ(c.updates()[0].refname, "refs/heads/main");
  EXPECT_EQ(c.updates()[0].old_oid, "ed6c0b7af2eba8f51b7d21157cd6c03acf5e101e");
  EXPECT_EQ(c.updates()[0].new_oid, "f9ebf66588fa39e4cf28c41a483001e4420ec739");
  EXPECT_EQ(c.updates()[1].refname, "refs/tags/v1");
  EXPECT_TRUE(c.updates()[1].creates());
  EXPECT_EQ(body.substr(c.consumed(), 4), "PACK");
  // Under the default allowedRefs, the branch may move but the tag may not.
  auto refs = *RefAllowlist::parse({});
  EXPECT_TRUE(refs.allows(c.updates()[0].refname));
  EXPECT_FALSE(refs.allows(c.updates()[1].refname));
}

TEST(ReceivePackFixture, DeleteTagSendsNoPack) {
  std::string body = fixture("receive_pack_delete.bin");
  auto c = read(body);
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 1u);
  EXPECT_TRUE(c.updates()[0].deletes());
  EXPECT_EQ(c.updates()[0].refname, "refs/tags/v1");
  EXPECT_EQ(c.consumed(), body.size());
}

TEST(ReceivePackFixture, PushOptionsFollowTheCommandSection) {
  std::string body = fixture("receive_pack_push_options.bin");
  auto c = read(body);
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 1u);
  EXPECT_EQ(c.updates()[0].refname, "refs/heads/feat");
  EXPECT_TRUE(c.hasCapability("push-options"));
  EXPECT_TRUE(c.hasCapability("atomic"));
  EXPECT_EQ(body.substr(c.consumed(), 11), "000bci.skip");
}

TEST(ReceivePackFixture, SignedPushIsRefused) {
  auto c = read(fixture("receive_pack_push_cert.bin"));
  ASSERT_EQ(c.state(), State::kRefused);
  EXPECT_NE(c.error().find("--signed"), std::string::npos);
  // The capabilities are known all the same, so the refusal can use side-band.
  EXPECT_TRUE(c.hasCapability("side-band-64k"));
}

TEST(ReceivePackFixture, Sha256Repository) {
  std::string body = fixture("receive_pack_sha256_create.bin");
  auto c = read(body);
  ASSERT_EQ(c.state(), State::kDone) << c.error();
  ASSERT_EQ(c.updates().size(), 1u);
  EXPECT_EQ(c.updates()[0].old_oid, std::string(64, '0'));
  EXPECT_EQ(c.updates()[0].new_oid, "6ebe6420ec4efad14698e89e9a84e5cabc05d94c00fa31fd5f2c1dee757805b8");
  EXPECT_TRUE(c.hasCapability("object-format=sha256"));
  EXPECT_EQ(body.substr(c.consumed(), 4), "PACK");
}

TEST(ReceivePackFixture, EveryTruncationNeedsMoreOrIsRefusedNeverDone) {
  // A body cut before its flush is never mistaken for a whole command section.
  for (auto name : {"receive_pack_create.bin", "receive_pack_update_tag.bin", "receive_pack_sha256_create.bin"}) {
    std::string body = fixture(name);
    ReceivePackCommands whole;
    whole.feed(body);
    for (size_t len = 0; len < whole.consumed(); ++len) {
      ReceivePackCommands c;
      EXPECT_EQ(c.feed(std::string_view(body).substr(0, len)), State::kNeedMore) << name << " " << len;
    }
  }
}

}  // namespace
}  // namespace km::github
