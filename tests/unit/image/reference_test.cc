#include "image/reference.h"

#include <gtest/gtest.h>

namespace km::image {
namespace {

TEST(Reference, CanonicalNames) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (Case c : {Case{"debian", "docker.io/library/debian:latest"},
                 Case{"debian:bookworm", "docker.io/library/debian:bookworm"},
                 Case{"docker://ubuntu:24.04", "docker.io/library/ubuntu:24.04"},
                 Case{"library/debian:12", "docker.io/library/debian:12"},
                 Case{"amazonlinux/amazonlinux:2023", "docker.io/amazonlinux/amazonlinux:2023"},
                 Case{"public.ecr.aws/amazonlinux/amazonlinux:2023", "public.ecr.aws/amazonlinux/amazonlinux:2023"},
                 Case{"127.0.0.1:5000/km-test/debian:bookworm", "127.0.0.1:5000/km-test/debian:bookworm"},
                 Case{"localhost/tools", "localhost/tools:latest"},
                 Case{"localhost:5000/a/b/c:v1.2-rc_3", "localhost:5000/a/b/c:v1.2-rc_3"},
                 Case{"my__repo-x/y.z", "docker.io/my__repo-x/y.z:latest"}}) {
    auto r = parseReference(c.in);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(r->str(), c.out) << c.in;
    // The canonical name reads back as itself.
    auto again = parseReference(r->str());
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *r);
  }
}

TEST(Reference, Digests) {
  std::string d = "sha256:" + std::string(64, 'a');
  auto r = parseReference("ubuntu@" + d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->digest, d);
  EXPECT_EQ(r->str(), "docker.io/library/ubuntu@" + d);
  auto both = parseReference("r.example:5000/x:1@" + d);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->tag, "1");
  EXPECT_EQ(both->str(), "r.example:5000/x:1@" + d);
  EXPECT_TRUE(isDigest(d));
  EXPECT_FALSE(isDigest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(isDigest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(isDigest("sha512:" + std::string(64, 'a')));
  EXPECT_EQ(digestHex(d), std::string(64, 'a'));
}

TEST(Reference, Refusals) {
  struct Case {
    std::string in;
    const char* says;
  };
  for (const Case& c : {Case{"", "empty"}, Case{"Debian", "lower case"}, Case{"debian:", "tag"},
                        Case{"debian:-x", "tag"}, Case{"debian:" + std::string(129, 'a'), "tag"},
                        Case{"debian@sha256:abc", "digest"}, Case{"oci:/tmp/x:y", "registries only"},
                        Case{"dir:/tmp/x", "registries only"}, Case{"a//b", "empty"}, Case{"a/-b", "lowercase"},
                        Case{"r.example:99999/x", "registry"}, Case{"deb ian", "space"},
                        Case{"x:5000/", "missing"}, Case{"a/" + std::string(260, 'b'), "255"}}) {
    auto r = parseReference(c.in);
    ASSERT_FALSE(r) << c.in << " was accepted as " << r->str();
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << c.in << ": " << r.error().message();
    EXPECT_NE(r.error().message().find("image reference like"), std::string::npos) << "the accepted form is shown";
  }
}

}  // namespace
}  // namespace km::image
