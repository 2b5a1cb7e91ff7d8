// km::tree on trees a sandbox can make to break a naive walker: chains thousands of levels
// deep (more levels than fds, paths far beyond PATH_MAX) and mounts inside the tree.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <fstream>

#include "core/tree.h"
#include "tree_fixtures.h"

namespace km::tree {
namespace {

using test::TreeScratch;

// Sandbox-made names can be up to 255 bytes; ten are enough to leave PATH_MAX far behind.
constexpr const char* kLevel = "level-dir";
static_assert(2000 * 10 > 4 * PATH_MAX, "the chains must be far deeper than PATH_MAX");

// Lowers this (child) process's fd limit so a walker holding one fd per level fails.
bool limitFds(rlim_t n) {
  struct rlimit lim = {n, n};
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

TEST(TreeDepthTest, RemovesA5000LevelChainWith32Fds) {
  TreeScratch s;
  std::string root = s / "deep";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_TRUE(test::makeChain(root, 5000, kLevel, "bottom"));
  int rc = test::runInChild([&] {
    if (!limitFds(32)) return 2;
    return removeTree(root) ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_FALSE(std::filesystem::exists(root));
}

TEST(TreeDepthTest, MeasuresA5000LevelChainWith32FdsAndHardLinksOnce) {
  TreeScratch s;
  std::string root = s / "deep";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_TRUE(test::makeChain(root, 5000, kLevel, "bottom"));
  std::string big = root + "/big";
  {
    std::ofstream out(big);
    out << std::string(1 << 20, 'x');
  }
  ASSERT_TRUE(diskUsage(root).has_value());
  int64_t before = *diskUsage(root);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(::link(big.c_str(), (root + "/link" + std::to_string(i)).c_str()), 0);
  int rc = test::runInChild([&] {
    if (!limitFds(32)) return 2;
    auto bytes = diskUsage(root);
    return bytes && *bytes == before ? 0 : 1;  // five more names, no more blocks
  });
  EXPECT_EQ(rc, 0);
  EXPECT_GE(before, int64_t{1} << 20);
  EXPECT_FALSE(diskUsage(s / "missing").has_value());
}

TEST(TreeDepthTest, CheckDepthStopsAtTheFirstBranchTooDeep) {
  TreeScratch s;
  std::string root = s / "deep";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_TRUE(test::makeChain(root, 3000, kLevel, "bottom"));
  EXPECT_TRUE(checkDepth(root, 4000));
  Status deep = checkDepth(root, 128);
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message().find("more than 128 levels"), std::string::npos) << deep.error().message();
  EXPECT_FALSE(checkDepth(s / "missing", 10));
}

TEST(TreeDepthTest, CopiesA2000LevelChainWith32Fds) {
  TreeScratch s;
  std::string root = s / "deep";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_TRUE(test::makeChain(root, 2000, kLevel, "bottom"));
  std::string copy = s / "copy";
  int rc = test::runInChild([&] {
    if (!limitFds(32)) return 2;
    return copyTree(root, copy) ? 0 : 1;
  });
  ASSERT_EQ(rc, 0);
  test::ChainEnd end = test::followChain(copy, kLevel);
  EXPECT_EQ(end.levels, 2000);
  EXPECT_EQ(end.leaf_text, "bottom");
}

TEST(TreeDepthTest, RemapsA2000LevelChainWith32Fds) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to other ids needs root";
  TreeScratch s;
  std::string root = s / "deep";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_TRUE(test::makeChain(root, 2000, kLevel, "bottom"));
  const uid_t me = ::geteuid();
  const gid_t my_group = ::getegid();
  int rc = test::runInChild([&] {
    if (!limitFds(32)) return 2;
    return remapOwners(root, IdMap{me, 4321, my_group, 4322}) ? 0 : 1;
  });
  ASSERT_EQ(rc, 0);
  test::ChainEnd end = test::followChain(root, kLevel);
  ASSERT_EQ(end.levels, 2000);
  EXPECT_EQ(end.leaf_stat.st_uid, 4321u);
  EXPECT_EQ(end.leaf_stat.st_gid, 4322u);
  EXPECT_EQ(end.bottom_dir_stat.st_uid, 4321u);
}

// Exit codes of the mount children.
constexpr int kSkip = 77;
constexpr int kRemoveWentIn = 10, kCopyWentIn = 11, kRemapWentIn = 12;
constexpr int kWrongMessage = 13, kMountLost = 14;

// In a child with its own mount namespace (the mount disappears with it), mounts `what` at
// tree/a/mnt and checks that each operation refuses to enter it and names it in the error.
int checkMountRefused(const std::string& tree, const std::string& copy, const std::string& source,
                      const char* fstype, unsigned long flags) {
  if (::unshare(CLONE_NEWNS) != 0) return kSkip;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kSkip;
  const std::string mnt = tree + "/a/mnt";
  if (::mount(source.c_str(), mnt.c_str(), fstype, flags, nullptr) != 0) return kSkip;
  if (!test::writeText(mnt + "/kept", "in the mount")) return kSkip;
  const uid_t owner_before = [&] {
    struct stat st {};
    ::lstat((mnt + "/kept").c_str(), &st);
    return st.st_uid;
  }();
  auto named = [](const Status& s) {
    return !s && s.error().message().find("a/mnt is a mount point; unmount it first") !=
                     std::string::npos;
  };
  Status removed = removeTree(tree);
  if (removed) return kRemoveWentIn;
  if (!named(removed)) return kWrongMessage;
  Status copied = copyTree(tree, copy);
  if (copied) return kCopyWentIn;
  if (!named(copied)) return kWrongMessage;
  Status remapped = remapOwners(tree, IdMap{owner_before, owner_before + 1, 0, 0});
  if (remapped) return kRemapWentIn;
  if (!named(remapped)) return kWrongMessage;
  struct stat st {};
  if (test::readText(mnt + "/kept") != "in the mount" ||
      ::lstat((mnt + "/kept").c_str(), &st) != 0 || st.st_uid != owner_before) {
    return kMountLost;
  }
  return 0;
}

TEST(TreeMountTest, RefusesToEnterATmpfsMountedInside) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  TreeScratch s;
  std::filesystem::create_directories(s / "tree/a/mnt");
  test::writeText(s / "tree/a/file", "x");
  int rc = test::runInChild(
      [&] { return checkMountRefused(s / "tree", s / "copy", "tmpfs", "tmpfs", 0); });
  if (rc == kSkip) GTEST_SKIP() << "could not make a private mount namespace with a tmpfs";
  EXPECT_EQ(rc, 0);
}

TEST(TreeMountTest, RefusesToEnterABindMountOfTheSameFileSystem) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  // Same st_dev inside and out: only the mount id tells them apart.
  TreeScratch s;
  std::filesystem::create_directories(s / "tree/a/mnt");
  std::filesystem::create_directories(s / "outside");
  int rc = test::runInChild(
      [&] { return checkMountRefused(s / "tree", s / "copy", s / "outside", nullptr, MS_BIND); });
  if (rc == kSkip) GTEST_SKIP() << "could not make a private mount namespace with a bind mount";
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(test::readText(s / "outside/kept"), "in the mount");
}

}  // namespace
}  // namespace km::tree
