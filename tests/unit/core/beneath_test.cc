// km::beneath: writing and reading below a root fd in a tree whose names a hostile process
// controls. Symlinks are replaced or refused, never followed; FIFOs never block.
#include "core/beneath.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree_fixtures.h"

namespace km::beneath {
namespace {

using test::readText;
using test::TreeScratch;
using test::writeText;

// A root directory (opened as the caller would) next to an outside directory with a file a
// sandbox would love to overwrite or read.
struct Fixture {
  Fixture() : root(s / "root"), outside(s / "outside") {
    std::filesystem::create_directories(root);
    std::filesystem::create_directories(outside);
    writeText(outside + "/passwd", "root:x:0:0");
    fd = sys::UniqueFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  TreeScratch s;
  std::string root, outside;
  sys::UniqueFd fd;
};

struct stat lstatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

TEST(BeneathTest, WriteFileReplacesASymlinkInsteadOfWritingThroughIt) {
  Fixture f;
  ASSERT_EQ(::symlink((f.outside + "/passwd").c_str(), (f.root + "/notes").c_str()), 0);
  ASSERT_TRUE(writeFile(f.fd.get(), "notes", "mine", 0600));
  EXPECT_EQ(readText(f.outside + "/passwd"), "root:x:0:0");
  struct stat st = lstatOf(f.root + "/notes");
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(readText(f.root + "/notes"), "mine");
}

TEST(BeneathTest, WriteFileRefusesAnIntermediateSymlinkToOutside) {
  Fixture f;
  ASSERT_EQ(::symlink(f.outside.c_str(), (f.root + "/etc").c_str()), 0);
  auto r = writeFile(f.fd.get(), "etc/passwd", "pwned", 0644);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("etc is a symlink; refusing to follow it"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(readText(f.outside + "/passwd"), "root:x:0:0");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(f.outside), {}), 1)
      << "nothing (not even a temp file) was created outside";
  auto d = openDir(f.fd.get(), "etc/x", /*create=*/true, 0755);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_FALSE(std::filesystem::exists(f.outside + "/x"));
}

TEST(BeneathTest, WriteFileCreatesMissingDirectoriesWithModeAndOwner) {
  Fixture f;
  ::umask(077);  // the modes asked for are exact, whatever the umask
  ASSERT_TRUE(writeFile(f.fd.get(), "a/b/c.txt", "deep", 0640));
  ::umask(022);
  EXPECT_EQ(readText(f.root + "/a/b/c.txt"), "deep");
  EXPECT_EQ(lstatOf(f.root + "/a").st_mode & 07777, 0755u);
  EXPECT_EQ(lstatOf(f.root + "/a/b").st_mode & 07777, 0755u);
  EXPECT_EQ(lstatOf(f.root + "/a/b/c.txt").st_mode & 07777, 0640u);
  auto d = openDir(f.fd.get(), "x/y", /*create=*/true, 0711);
  ASSERT_TRUE(d);
  EXPECT_EQ(lstatOf(f.root + "/x/y").st_mode & 07777, 0711u);
  struct stat opened {};
  ASSERT_EQ(::fstat(d->get(), &opened), 0);
  EXPECT_EQ(opened.st_ino, lstatOf(f.root + "/x/y").st_ino);
}

TEST(BeneathTest, WriteFileGivesNewDirectoriesAndTheFileTheOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to other ids needs root";
  Fixture f;
  std::filesystem::create_directories(f.root + "/existing");
  ASSERT_TRUE(writeFile(f.fd.get(), "existing/new/f", "x", 04755, Owner{1234, 1235}));
  EXPECT_EQ(lstatOf(f.root + "/existing").st_uid, 0u) << "existing directories are left alone";
  for (const char* rel : {"/existing/new", "/existing/new/f"}) {
    EXPECT_EQ(lstatOf(f.root + rel).st_uid, 1234u) << rel;
    EXPECT_EQ(lstatOf(f.root + rel).st_gid, 1235u) << rel;
  }
  EXPECT_EQ(lstatOf(f.root + "/existing/new/f").st_mode & 07777, 04755u)
      << "mode set after chown, which clears setuid";
}

TEST(BeneathTest, RejectsDotDotEmptyAndAbsoluteComponents) {
  Fixture f;
  for (const char* rel :
       {"..", "../outside/passwd", "a/../b", "/etc/passwd", "a//b", "a/", ".", "./a", ""}) {
    auto w = writeFile(f.fd.get(), rel, "x", 0644);
    ASSERT_FALSE(w) << rel;
    EXPECT_EQ(w.error().code(), ErrorCode::kInvalidArgument) << rel;
    auto r = readFile(f.fd.get(), rel, 100);
    ASSERT_FALSE(r) << rel;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << rel;
  }
  EXPECT_EQ(openDir(f.fd.get(), "..", false, 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(openDir(f.fd.get(), "", false, 0)) << "\"\" is the root itself";
  EXPECT_EQ(readText(f.outside + "/passwd"), "root:x:0:0");
}

TEST(BeneathTest, WriteFileRefusesADirectoryInTheWayAndLeavesNoTempFile) {
  Fixture f;
  std::filesystem::create_directories(f.root + "/d/inner");
  auto r = writeFile(f.fd.get(), "d", "x", 0644);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(std::filesystem::is_directory(f.root + "/d/inner"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(f.root), {}), 1);
  writeText(f.root + "/file", "x");
  EXPECT_EQ(writeFile(f.fd.get(), "file/below", "x", 0644).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST(BeneathTest, ReadFileReadsRegularFilesAndRefusesTheRest) {
  Fixture f;
  std::filesystem::create_directories(f.root + "/dir");
  writeText(f.root + "/dir/ok", "content");
  ASSERT_EQ(::symlink((f.outside + "/passwd").c_str(), (f.root + "/link").c_str()), 0);
  ASSERT_EQ(::symlink(f.outside.c_str(), (f.root + "/linkdir").c_str()), 0);
  ASSERT_EQ(::mkfifo((f.root + "/fifo").c_str(), 0600), 0);

  auto ok = readFile(f.fd.get(), "dir/ok", 100);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "content");
  EXPECT_EQ(readFile(f.fd.get(), "dir/ok", 3).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(readFile(f.fd.get(), "dir/missing", 100).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(readFile(f.fd.get(), "nodir/missing", 100).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(readFile(f.fd.get(), "link", 100).error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(readFile(f.fd.get(), "linkdir/passwd", 100).error().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(readFile(f.fd.get(), "dir", 100).error().code(), ErrorCode::kInvalidArgument);
  // A FIFO opened for reading would wait for a writer forever: check in a child with a
  // deadline so a regression fails instead of hanging the suite.
  int rc = test::runInChild(
      [&] {
        auto r = readFile(f.fd.get(), "fifo", 100);
        return !r && r.error().code() == ErrorCode::kInvalidArgument ? 0 : 1;
      },
      10);
  EXPECT_EQ(rc, 0) << "142 = killed by SIGALRM: readFile blocked on the FIFO";
}

TEST(BeneathTest, OpenDirWithoutCreateReportsWhatIsInTheWay) {
  Fixture f;
  writeText(f.root + "/file", "x");
  EXPECT_EQ(openDir(f.fd.get(), "missing", false, 0).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(openDir(f.fd.get(), "file", false, 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(f.root + "/missing"));
}

}  // namespace
}  // namespace km::beneath
