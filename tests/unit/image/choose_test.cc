#include "image/choose.h"

#include <gtest/gtest.h>

namespace km::image {
namespace {

ChooseInput debianHost() {
  ChooseInput in;
  in.host = {"debian", "12", "Debian GNU/Linux 12 (bookworm)"};
  for (const auto& [k, v] : defaultAmiImages()) in.ami_images[k] = v;
  return in;
}

TEST(ChooseImage, HostWhenTheProfileNamesNoOs) {
  auto c = chooseImage(debianHost());
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->host);
}

TEST(ChooseImage, AmiThroughTheTable) {
  ChooseInput in = debianHost();
  in.ami = "ubuntu-24.04";
  auto c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->host);
  EXPECT_EQ(c->image, "docker.io/library/ubuntu:24.04");
  EXPECT_EQ(c->os, "ubuntu-24.04");
  // The operator's table wins over the defaults.
  in.ami_images["ubuntu-24.04"] = "127.0.0.1:5000/mirror/ubuntu:24.04";
  c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->image, "127.0.0.1:5000/mirror/ubuntu:24.04");
  // An empty ami is upstream's default.
  in.ami = "";
  c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->image, "docker.io/library/amazonlinux:2023");
}

TEST(ChooseImage, AmiOfTheHostsOwnOsKeepsTheHost) {
  ChooseInput in = debianHost();
  in.host = {"ubuntu", "24.04", "Ubuntu 24.04 LTS"};
  in.ami = "ubuntu-24.04";
  auto c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->host);
  in.ami = "ubuntu-22.04";
  c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->host);
}

TEST(ChooseImage, FlagThenProfileImageThenAmi) {
  ChooseInput in = debianHost();
  in.ami = "amazon-linux-2023";
  in.profile_image = "localhost/tools:latest";
  in.flag = "debian:bookworm";
  auto c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->image, "debian:bookworm");
  EXPECT_EQ(c->why, "--image");
  in.flag.reset();
  c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->image, "localhost/tools:latest");
  in.profile_image = "host";
  c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->host);
  in.flag = "host";
  in.profile_image = "x";
  c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->host);
}

TEST(ChooseImage, PackageManagersTheHostLacksMeanUpstreamsDefault) {
  ChooseInput in = debianHost();
  in.missing_tools = {"dnf"};
  auto c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->host);
  EXPECT_EQ(c->image, "docker.io/library/amazonlinux:2023");
  EXPECT_NE(c->why.find("dnf"), std::string::npos);
}

TEST(ChooseImage, RawAmiWithoutAMappingSaysWhatToSet) {
  ChooseInput in = debianHost();
  in.ami = "ami-0a9d213b92dabc044";
  auto c = chooseImage(in);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("images.ami"), std::string::npos) << c.error().message();
  EXPECT_NE(c.error().message().find("ami-0a9d213b92dabc044"), std::string::npos);
  EXPECT_EQ(c.error().message().find('\n'), std::string::npos) << "one line";
  in.ami_images["ami-0a9d213b92dabc044"] = "r.example/dlami:1";
  c = chooseImage(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->image, "r.example/dlami:1");
}

TEST(ChooseImage, OsRelease) {
  OsRelease os = parseOsRelease("NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID='2023'\nPRETTY_NAME=\"Amazon Linux 2023\"\n");
  EXPECT_EQ(os.id, "amzn");
  EXPECT_EQ(os.version_id, "2023");
  EXPECT_EQ(os.pretty_name, "Amazon Linux 2023");
  EXPECT_TRUE(amiIsHost("amazon-linux-2023", os));
  EXPECT_FALSE(amiIsHost("ubuntu-24.04", os));
}

}  // namespace
}  // namespace km::image
