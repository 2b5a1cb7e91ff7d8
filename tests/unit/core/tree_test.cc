// km::tree on quiet trees: what removal, copy and owner remap keep, change and refuse.
// The depth, mount and race behaviours are in tree_depth_test.cc and tree_race_test.cc.
#include "core/tree.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tree_fixtures.h"

namespace km::tree {
namespace {

using test::readText;
using test::TreeScratch;
using test::writeText;

struct stat lstatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

std::string linkTarget(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

void setTimes(const std::string& path, time_t atime, time_t mtime) {
  const struct timespec ts[2] = {{atime, 111}, {mtime, 222}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

std::string xattrOf(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof buf);
  return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
}

// An outside directory with a secret, and a tree with links pointing at it.
struct TreeWithOutsideLinks {
  explicit TreeWithOutsideLinks(const TreeScratch& s) : outside(s / "outside"), tree(s / "tree") {
    std::filesystem::create_directories(outside + "/sub");
    writeText(outside + "/secret.txt", "SECRET-3f9a");
    writeText(outside + "/sub/also-secret.txt", "SECRET-3f9a too");
    std::filesystem::create_directories(tree + "/a/b");
    writeText(tree + "/a/b/file.txt", "inside");
    ::symlink(outside.c_str(), (tree + "/a/to-dir").c_str());
    ::symlink((outside + "/secret.txt").c_str(), (tree + "/a/b/to-file").c_str());
    ::symlink("../../../outside", (tree + "/a/b/relative").c_str());
  }
  std::string outside, tree;
};

TEST(TreeTest, RemoveTreeUnlinksSymlinksAndLeavesTheirTargets) {
  TreeScratch s;
  TreeWithOutsideLinks t(s);
  ASSERT_TRUE(removeTree(t.tree));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(t.tree)));
  EXPECT_EQ(readText(t.outside + "/secret.txt"), "SECRET-3f9a");
  EXPECT_EQ(readText(t.outside + "/sub/also-secret.txt"), "SECRET-3f9a too");
  EXPECT_TRUE(removeTree(t.tree)) << "a missing path is fine";
  EXPECT_TRUE(removeTree(s / "no/such/parent"));
}

TEST(TreeTest, RemoveTreeOnASymlinkRootRemovesOnlyTheLink) {
  TreeScratch s;
  TreeWithOutsideLinks t(s);
  std::string root_link = s / "root-link";
  ASSERT_EQ(::symlink(t.outside.c_str(), root_link.c_str()), 0);
  ASSERT_TRUE(removeTree(root_link + "/"));  // a trailing slash still names the link
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(root_link)));
  EXPECT_EQ(readText(t.outside + "/secret.txt"), "SECRET-3f9a");
}

TEST(TreeTest, RemoveTreeEmptiesReadOnlyDirectories) {
  TreeScratch s;
  std::filesystem::create_directories(s / "t/ro/inner");
  writeText(s / "t/ro/inner/f", "x");
  ::chmod((s / "t/ro/inner").c_str(), 0555);
  ::chmod((s / "t/ro").c_str(), 0555);
  ASSERT_TRUE(removeTree(s / "t"));
  EXPECT_FALSE(std::filesystem::exists(s / "t"));
}

TEST(TreeTest, RemoveTreeRefusesRootAndDotNames) {
  EXPECT_EQ(removeTree("/").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(removeTree("").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(removeTree("/tmp/..").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(removeTree("x/.").error().code(), ErrorCode::kInvalidArgument);
}

TEST(TreeTest, CopyTreeCopiesSymlinksAsLinksAndNeverReadsTheirTargets) {
  TreeScratch s;
  TreeWithOutsideLinks t(s);
  std::string copy = s / "copy";
  ASSERT_TRUE(copyTree(t.tree, copy));
  EXPECT_TRUE(S_ISLNK(lstatOf(copy + "/a/to-dir").st_mode));
  EXPECT_EQ(linkTarget(copy + "/a/to-dir"), t.outside);
  EXPECT_EQ(linkTarget(copy + "/a/b/to-file"), t.outside + "/secret.txt");
  EXPECT_EQ(linkTarget(copy + "/a/b/relative"), "../../../outside");
  EXPECT_EQ(readText(copy + "/a/b/file.txt"), "inside");
  std::string everything = test::allRegularFileText(copy);
  EXPECT_EQ(everything, "inside");
  EXPECT_EQ(everything.find("SECRET"), std::string::npos);
}

TEST(TreeTest, CopyTreeKeepsDataModesTimesAndHardLinks) {
  TreeScratch s;
  std::string t = s / "t";
  std::filesystem::create_directories(t + "/x");
  std::filesystem::create_directories(t + "/y");
  std::filesystem::create_directories(t + "/sticky");
  std::filesystem::create_directories(t + "/ro");
  writeText(t + "/x/a", "linked data");
  writeText(t + "/empty", "");
  writeText(t + "/suid", "#!/bin/true\n");
  writeText(t + "/ro/inside", "read-only dir");
  ASSERT_EQ(::link((t + "/x/a").c_str(), (t + "/y/b").c_str()), 0);
  ASSERT_EQ(::link((t + "/x/a").c_str(), (t + "/x/c").c_str()), 0);
  ASSERT_EQ(::symlink("x/a", (t + "/ln").c_str()), 0);
  ASSERT_EQ(::chmod((t + "/suid").c_str(), 04755), 0);
  ASSERT_EQ(::chmod((t + "/sticky").c_str(), 01777), 0);
  ASSERT_EQ(::chmod((t + "/x/a").c_str(), 0640), 0);
  setTimes(t + "/x/a", 1000000000, 1100000000);
  setTimes(t + "/ln", 1200000000, 1300000000);
  ASSERT_EQ(::chmod((t + "/ro").c_str(), 0555), 0);
  setTimes(t + "/ro", 1400000000, 1500000000);
  setTimes(t + "/x", 1600000000, 1700000000);  // after its entries were made

  std::string c = s / "c";
  ASSERT_TRUE(copyTree(t, c));
  struct stat a = lstatOf(c + "/x/a");  // before reading it moves the atime
  EXPECT_EQ(readText(c + "/x/a"), "linked data");
  EXPECT_EQ(readText(c + "/empty"), "");
  EXPECT_EQ(readText(c + "/ro/inside"), "read-only dir");
  EXPECT_EQ(a.st_nlink, 3u);
  EXPECT_EQ(lstatOf(c + "/y/b").st_ino, a.st_ino);
  EXPECT_EQ(lstatOf(c + "/x/c").st_ino, a.st_ino);
  EXPECT_NE(a.st_ino, lstatOf(t + "/x/a").st_ino) << "linked within the copy, not to the source";
  EXPECT_EQ(a.st_mode & 07777, 0640u);
  EXPECT_EQ(a.st_mtim.tv_sec, 1100000000);
  EXPECT_EQ(a.st_mtim.tv_nsec, 222);
  EXPECT_EQ(a.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(lstatOf(c + "/suid").st_mode & 07777, 04755u);
  EXPECT_EQ(lstatOf(c + "/sticky").st_mode & 07777, 01777u);
  EXPECT_EQ(lstatOf(c + "/ro").st_mode & 07777, 0555u);
  EXPECT_EQ(lstatOf(c + "/ro").st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(lstatOf(c + "/x").st_mtim.tv_sec, 1700000000) << "directory times set after contents";
  EXPECT_EQ(linkTarget(c + "/ln"), "x/a");
  EXPECT_EQ(lstatOf(c + "/ln").st_mtim.tv_sec, 1300000000);
  EXPECT_EQ(lstatOf(c).st_mode & 07777, lstatOf(t).st_mode & 07777);
}

TEST(TreeTest, CopyTreeKeepsSparseFilesSparse) {
  TreeScratch s;
  std::filesystem::create_directories(s / "t");
  std::string f = s / "t/sparse";
  constexpr off_t kSize = 64 << 20;
  {
    int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "middle", 6, kSize / 2), 6);
    ASSERT_EQ(::ftruncate(fd, kSize), 0);
    ::close(fd);
  }
  ASSERT_TRUE(copyTree(s / "t", s / "c"));
  struct stat st = lstatOf(s / "c/sparse");
  EXPECT_EQ(st.st_size, kSize);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the holes were written out";
  int fd = ::open((s / "c/sparse").c_str(), O_RDONLY | O_CLOEXEC);
  char buf[6] = {};
  EXPECT_EQ(::pread(fd, buf, 6, kSize / 2), 6);
  EXPECT_EQ(std::string(buf, 6), "middle");
  EXPECT_EQ(::pread(fd, buf, 6, 0), 6);
  EXPECT_EQ(std::string(buf, 6), std::string(6, '\0'));
  ::close(fd);
}

TEST(TreeTest, CopyTreeCopiesFifosWithoutOpeningThem) {
  TreeScratch s;
  std::filesystem::create_directories(s / "t");
  ASSERT_EQ(::mkfifo((s / "t/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::chmod((s / "t/fifo").c_str(), 0620), 0);  // past the umask
  ASSERT_EQ(::mknodat(AT_FDCWD, (s / "t/sock-like").c_str(), S_IFSOCK | 0600, 0), 0);
  // A FIFO opened for reading would wait for a writer forever; the deadline turns that into
  // a failure instead of a hung test.
  int rc = test::runInChild([&] { return copyTree(s / "t", s / "c") ? 0 : 1; }, 20);
  ASSERT_EQ(rc, 0);
  struct stat st = lstatOf(s / "c/fifo");
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(s / "c/sock-like")))
      << "sockets are skipped";
}

TEST(TreeTest, CopyTreeRefusesAnExistingDestinationAndAMissingSource) {
  TreeScratch s;
  std::filesystem::create_directories(s / "t");
  std::filesystem::create_directories(s / "exists");
  auto r = copyTree(s / "t", s / "exists");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  ::symlink("/nowhere", (s / "dangling").c_str());
  EXPECT_EQ(copyTree(s / "t", s / "dangling").error().code(), ErrorCode::kInvalidArgument);
  auto missing = copyTree(s / "missing", s / "c");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(TreeTest, CopyTreeRefusesADestinationInsideTheSource) {
  TreeScratch s;
  std::filesystem::create_directories(s / "t/sub");
  auto r = copyTree(s / "t", s / "t/sub/copy");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("inside the source"), std::string::npos)
      << r.error().message();
}

TEST(TreeTest, CopyTreeKeepsDevicesOwnersAndExtendedAttributes) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod, chown to other ids and trusted.* xattrs need root";
  TreeScratch s;
  std::string t = s / "t";
  std::filesystem::create_directories(t + "/opaque");
  writeText(t + "/suid", "x");
  ASSERT_EQ(::mknod((t + "/whiteout").c_str(), S_IFCHR | 0000, makedev(0, 0)), 0);
  ASSERT_EQ(::mknod((t + "/blk").c_str(), S_IFBLK | 0640, makedev(7, 3)), 0);
  ASSERT_EQ(::symlink("suid", (t + "/ln").c_str()), 0);
  ASSERT_EQ(::lsetxattr((t + "/opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_EQ(::lsetxattr((t + "/suid").c_str(), "user.note", "hello", 5, 0), 0);
  ASSERT_EQ(::lsetxattr((t + "/ln").c_str(), "trusted.overlay.redirect", "/r", 2, 0), 0);
  ASSERT_EQ(::lsetxattr((t + "/whiteout").c_str(), "trusted.km", "w", 1, 0), 0);
  ASSERT_EQ(::lchown((t + "/suid").c_str(), 1000, 1001), 0);
  ASSERT_EQ(::chmod((t + "/suid").c_str(), 06755), 0);
  ASSERT_EQ(::lchown((t + "/ln").c_str(), 1002, 1003), 0);
  ASSERT_EQ(::lchown((t + "/whiteout").c_str(), 1004, 1005), 0);
  ASSERT_EQ(::lchown((t + "/opaque").c_str(), 1006, 1007), 0);

  std::string c = s / "c";
  ASSERT_TRUE(copyTree(t, c));
  struct stat wo = lstatOf(c + "/whiteout");
  EXPECT_TRUE(S_ISCHR(wo.st_mode));
  EXPECT_EQ(wo.st_rdev, makedev(0, 0));
  EXPECT_EQ(wo.st_uid, 1004u);
  EXPECT_EQ(xattrOf(c + "/whiteout", "trusted.km"), "w");
  struct stat blk = lstatOf(c + "/blk");
  EXPECT_TRUE(S_ISBLK(blk.st_mode));
  EXPECT_EQ(blk.st_rdev, makedev(7, 3));
  EXPECT_EQ(blk.st_mode & 07777, 0640u);
  struct stat suid = lstatOf(c + "/suid");
  EXPECT_EQ(suid.st_uid, 1000u);
  EXPECT_EQ(suid.st_gid, 1001u);
  EXPECT_EQ(suid.st_mode & 07777, 06755u) << "mode is set after chown, which clears setuid";
  EXPECT_EQ(xattrOf(c + "/suid", "user.note"), "hello");
  EXPECT_EQ(xattrOf(c + "/opaque", "trusted.overlay.opaque"), "y");
  EXPECT_EQ(lstatOf(c + "/opaque").st_uid, 1006u);
  EXPECT_EQ(xattrOf(c + "/ln", "trusted.overlay.redirect"), "/r");
  EXPECT_EQ(lstatOf(c + "/ln").st_uid, 1002u);
  EXPECT_EQ(lstatOf(c + "/ln").st_gid, 1003u);
}

TEST(TreeTest, CopyTreeMapsExactlyTheGivenIds) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to other ids needs root";
  TreeScratch s;
  std::string t = s / "t";
  std::filesystem::create_directories(t + "/d");
  writeText(t + "/both", "");
  writeText(t + "/uid-only", "");
  writeText(t + "/other", "");
  ASSERT_EQ(::symlink("both", (t + "/ln").c_str()), 0);
  ASSERT_EQ(::lchown(t.c_str(), 1000, 1000), 0);
  ASSERT_EQ(::lchown((t + "/d").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::lchown((t + "/both").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::lchown((t + "/uid-only").c_str(), 1000, 55), 0);
  ASSERT_EQ(::lchown((t + "/other").c_str(), 1001, 1001), 0);
  ASSERT_EQ(::lchown((t + "/ln").c_str(), 1000, 1000), 0);

  CopyOptions opts;
  opts.id_map = IdMap{1000, 2000, 1000, 3000};
  std::string c = s / "c";
  ASSERT_TRUE(copyTree(t, c, opts));
  for (const char* name : {"", "/d", "/both", "/ln"}) {
    EXPECT_EQ(lstatOf(c + name).st_uid, 2000u) << name;
    EXPECT_EQ(lstatOf(c + name).st_gid, 3000u) << name;
  }
  EXPECT_EQ(lstatOf(c + "/uid-only").st_uid, 2000u);
  EXPECT_EQ(lstatOf(c + "/uid-only").st_gid, 55u);
  EXPECT_EQ(lstatOf(c + "/other").st_uid, 1001u);
  EXPECT_EQ(lstatOf(c + "/other").st_gid, 1001u);
  EXPECT_EQ(lstatOf(t + "/both").st_uid, 1000u) << "the source is not changed";
}

TEST(TreeTest, RemapOwnersChangesMappedIdsKeepsSetuidAndNeverFollowsLinks) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to other ids needs root";
  TreeScratch s;
  TreeWithOutsideLinks t(s);
  for (const auto& e : std::filesystem::recursive_directory_iterator(s.path())) {
    ASSERT_EQ(::lchown(e.path().c_str(), 1000, 1000), 0);
  }
  ASSERT_EQ(::lchown(t.tree.c_str(), 1000, 1000), 0);
  writeText(t.tree + "/suid", "");
  writeText(t.tree + "/root-owned", "");
  ASSERT_EQ(::lchown((t.tree + "/suid").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::chmod((t.tree + "/suid").c_str(), 06755), 0);

  ASSERT_TRUE(remapOwners(t.tree, IdMap{1000, 2000, 1000, 3000}));
  for (const char* rel :
       {"", "/a", "/a/b", "/a/b/file.txt", "/a/to-dir", "/a/b/to-file", "/suid"}) {
    EXPECT_EQ(lstatOf(t.tree + rel).st_uid, 2000u) << rel;
    EXPECT_EQ(lstatOf(t.tree + rel).st_gid, 3000u) << rel;
  }
  EXPECT_EQ(lstatOf(t.tree + "/suid").st_mode & 07777, 06755u);
  EXPECT_EQ(lstatOf(t.tree + "/root-owned").st_uid, 0u);
  EXPECT_EQ(lstatOf(t.outside).st_uid, 1000u) << "a symlink's target is not remapped";
  EXPECT_EQ(lstatOf(t.outside + "/secret.txt").st_uid, 1000u);
  EXPECT_EQ(remapOwners(s / "missing", IdMap{}).error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace km::tree
