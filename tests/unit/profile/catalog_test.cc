// profile::listProfiles (km profile list): built-ins first, then the files on the search
// paths with their status; non-profile YAML skipped; symlink loops scanned once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

#include "profile/profile.h"
#include "support/profile_fixtures.h"
#include "support/temp_dir.h"

namespace km::profile {
namespace {

using km::test::ScopedTempDir;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr std::string_view kValid = km::test::kCompleteProfile;

constexpr std::string_view kAbstract = R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: frag
  abstract: true
spec:
  lifecycle: {ttl: 2h}
)";

constexpr std::string_view kInvalid = R"(apiVersion: klankermaker.ai/v1alpha2
kind: SandboxProfile
metadata:
  name: broken
spec:
  lifecycle: {ttl: 1h}
)";

std::vector<CatalogEntry> list(const std::string& dir) {
  LoadOptions options;
  options.search_paths = {dir};
  return listProfiles(options);
}

// Entries after the built-ins.
std::vector<CatalogEntry> files(const std::vector<CatalogEntry>& all) {
  return {all.begin() + static_cast<std::ptrdiff_t>(builtinNames().size()), all.end()};
}

std::vector<std::string> names(const std::vector<CatalogEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

const CatalogEntry* byName(const std::vector<CatalogEntry>& entries, std::string_view name) {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

TEST(CatalogTest, ListsBuiltinsFirstInUpstreamOrder) {
  ScopedTempDir dir;
  dir.write("mine.yaml", std::string(kValid));
  auto all = list(dir.path());
  ASSERT_EQ(all.size(), builtinNames().size() + 1);
  std::vector<CatalogEntry> builtins(all.begin(), all.begin() + 8);
  EXPECT_THAT(names(builtins), ElementsAreArray(builtinNames()));
  for (const auto& e : builtins) {
    EXPECT_EQ(e.source, "built-in");
    EXPECT_EQ(e.status, "valid") << e.name;
  }
  EXPECT_EQ(all.back().name, "mine");
  EXPECT_EQ(all.back().source, dir.path() + "/mine.yaml");
}

TEST(CatalogTest, WithoutSearchPathsListsOnlyBuiltins) {
  EXPECT_EQ(names(listProfiles(LoadOptions{})), builtinNames());
}

TEST(CatalogTest, ReportsValidAbstractInvalidAndShadowedStatuses) {
  ScopedTempDir dir;
  dir.write("good.yaml", std::string(kValid));
  dir.write("base/frag.yaml", std::string(kAbstract));
  dir.write("broken.yaml", std::string(kInvalid));
  dir.write("sealed.yaml", std::string(kValid));
  auto rows = files(list(dir.path()));
  EXPECT_THAT(names(rows), ElementsAre("base/frag", "broken", "good", "sealed"));

  const CatalogEntry* good = byName(rows, "good");
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->status, "valid");
  EXPECT_EQ(good->ttl, "4h");
  EXPECT_EQ(good->idle_timeout, "1h");
  EXPECT_EQ(good->enforcement, "proxy");

  const CatalogEntry* frag = byName(rows, "base/frag");
  ASSERT_NE(frag, nullptr);
  EXPECT_EQ(frag->status, "abstract");
  EXPECT_EQ(frag->ttl, "-");

  EXPECT_EQ(byName(rows, "broken")->status, "invalid");
  EXPECT_EQ(byName(rows, "sealed")->status, "valid, shadowed by built-in");
}

TEST(CatalogTest, SkipsYamlThatIsNotAProfile) {
  ScopedTempDir dir;
  dir.write("config.yaml", "profileSearchPaths: [a]\n");
  dir.write("notes.yml", std::string(kValid));  // only *.yaml is listed
  dir.write("good.yaml", std::string(kValid));
  EXPECT_THAT(names(files(list(dir.path()))), ElementsAre("good"));
}

TEST(CatalogTest, ListsEachFileOnceThroughASymlinkLoop) {
  ScopedTempDir dir;
  dir.write("good.yaml", std::string(kValid));
  dir.write("sub/other.yaml", std::string(kValid));
  ASSERT_EQ(::symlink(".", (dir.path() + "/loop").c_str()), 0);
  ASSERT_EQ(::symlink("..", (dir.path() + "/sub/up").c_str()), 0);
  EXPECT_THAT(names(files(list(dir.path()))), ElementsAre("good", "sub/other"));
}

}  // namespace
}  // namespace km::profile
