// How profile::load reads its argument: explicit paths, relative files (with or without a
// .yaml/.yml ending, found in the cwd then the search path), names (built-in, NAME.yaml in
// the search path) — ".yaml" added at most once — and errors that name where km looked.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "profile/profile.h"
#include "support/profile_fixtures.h"
#include "support/temp_dir.h"

namespace km::profile {
namespace {

using km::test::ScopedTempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::string named(const std::string& name) {
  return "apiVersion: klankermaker.ai/v1alpha2\nkind: SandboxProfile\nmetadata:\n  name: " + name +
         "\nextends: sealed\n";
}

// Runs the test body with the cwd in a scratch directory, restored afterwards.
class LoadNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char buf[4096];
    ASSERT_NE(::getcwd(buf, sizeof buf), nullptr);
    old_cwd_ = buf;
    ASSERT_EQ(::chdir(cwd_.path().c_str()), 0);
  }
  void TearDown() override { ASSERT_EQ(::chdir(old_cwd_.c_str()), 0); }

  std::string nameOf(std::string_view arg, const LoadOptions& o) {
    auto l = load(arg, o);
    if (!l) return "error: " + l.error().message();
    return l->profile.metadata.name;
  }
  std::string errorOf(std::string_view arg, const LoadOptions& o) {
    auto l = load(arg, o);
    return l ? "" : l.error().message();
  }

  ScopedTempDir cwd_, search_;
  std::string old_cwd_;
};

TEST_F(LoadNamesTest, RelativeFilesComeFromTheCwdThenTheSearchPath) {
  cwd_.write("here.yaml", named("here"));
  search_.write("there.yaml", named("there"));
  search_.write("team/dev.yaml", named("dev"));
  search_.write("x.yml", named("yml"));
  LoadOptions o{.search_paths = {search_.path()}};
  EXPECT_EQ(nameOf("here.yaml", o), "here");
  EXPECT_EQ(nameOf("there.yaml", o), "there");  // a bare file name, found on the search path
  EXPECT_EQ(nameOf("team/dev", o), "dev");      // a catalog name: .yaml added once
  EXPECT_EQ(nameOf("team/dev.yaml", o), "dev");
  EXPECT_EQ(nameOf("x.yml", o), "yml");
  EXPECT_EQ(nameOf(search_.path() + "/there.yaml", o), "there");
}

TEST_F(LoadNamesTest, ExplicitPathsAreOnlyThatPath) {
  search_.write("there.yaml", named("there"));
  LoadOptions o{.search_paths = {search_.path()}};
  std::string err = errorOf("./there.yaml", o);
  EXPECT_THAT(err, HasSubstr("no profile file ./there.yaml (looked for ./there.yaml)"));
  EXPECT_THAT(err, Not(HasSubstr(search_.path())));
  EXPECT_THAT(errorOf("../nope/x.yaml", o), HasSubstr("check the path"));
}

TEST_F(LoadNamesTest, YamlIsNeverAddedTwice) {
  LoadOptions o{.search_paths = {search_.path()}};
  for (const char* arg : {"./missing.yaml", "missing.yaml", "missing.yml", "team/missing", "missing"}) {
    std::string err = errorOf(arg, o);
    EXPECT_THAT(err, Not(HasSubstr(".yaml.yaml"))) << arg;
    EXPECT_THAT(err, Not(HasSubstr(".yml.yaml"))) << arg;
    EXPECT_THAT(err, Not(HasSubstr("/./"))) << arg;
  }
  EXPECT_THAT(errorOf("missing.yaml", o), HasSubstr(search_.path() + "/missing.yaml"));
  EXPECT_THAT(errorOf("missing", o), HasSubstr(search_.path() + "/missing.yaml"));
  EXPECT_THAT(errorOf("missing", o), HasSubstr("not a built-in (open-dev"));
}

TEST_F(LoadNamesTest, NamesAreBuiltInsFirstThenTheSearchPathThenAFileByThatName) {
  search_.write("sealed.yaml", named("shadow"));
  search_.write("mine.yaml", named("mine"));
  cwd_.write("mine", named("cwd-file"));
  cwd_.write("plain", named("plain"));
  LoadOptions o{.search_paths = {search_.path()}};
  EXPECT_EQ(nameOf("sealed", o), "sealed");
  EXPECT_EQ(nameOf("mine", o), "mine");
  EXPECT_EQ(nameOf("plain", o), "plain");
}

TEST_F(LoadNamesTest, ADirectoryIsRefusedByName) {
  cwd_.write("dir.yaml/inner.yaml", named("inner"));
  auto l = load("dir.yaml", {});
  ASSERT_FALSE(l);
  EXPECT_THAT(l.error().message(), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace km::profile
