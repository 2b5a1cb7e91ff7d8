#include "core/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "support/temp_dir.h"

namespace km::fs {
namespace {

mode_t modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(FsTest, AtomicWriteKeepsAnExistingFilesPermissions) {
  test::ScopedTempDir dir;
  std::string p = dir.write("secret.yaml", "old");
  ASSERT_EQ(::chmod(p.c_str(), 0600), 0);
  ASSERT_TRUE(writeFileAtomic(p, "new"));
  EXPECT_EQ(*readFile(p), "new");
  EXPECT_EQ(modeOf(p), 0600u);
}

TEST(FsTest, AtomicWriteReplacesASymlinksTargetNotTheLink) {
  test::ScopedTempDir dir;
  std::string target = dir.write("real.yaml", "old");
  std::string link = dir.path() + "/link.yaml";
  std::filesystem::create_symlink(target, link);
  ASSERT_TRUE(writeFileAtomic(link, "new"));
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(*readFile(target), "new");
}

TEST(FsTest, AtomicWriteCreatesNewFilesWorldReadable) {
  test::ScopedTempDir dir;
  std::string p = dir.path() + "/fresh.yaml";
  ASSERT_TRUE(writeFileAtomic(p, "x"));
  EXPECT_EQ(modeOf(p), 0644u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator{}),
            1);  // no temp file left behind
}

TEST(FsTest, ReadFileSaysWhatIsMissing) {
  auto r = readFile("/nonexistent-km/x.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("/nonexistent-km/x.yaml"), std::string::npos);
}

TEST(FsTest, ReadTailGivesWholeLinesOfTheEndOrAllOfASmallFile) {
  test::ScopedTempDir dir;
  std::string p = dir.write("log", "first line\nsecond\nthird\n");
  EXPECT_EQ(*readTail(p, 100), "first line\nsecond\nthird\n");
  EXPECT_EQ(*readTail(p, 10), "third\n");  // "ond\nthird\n" starts mid-line: cut to the line
  EXPECT_EQ(*readTail(p, 0), "");
  EXPECT_EQ(readTail(dir.path() + "/missing", 10).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(readTail(dir.path(), 10).error().code(), ErrorCode::kInvalidArgument);
  std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(readTail(fifo, 10).error().code(), ErrorCode::kInvalidArgument);  // never waits
}

}  // namespace
}  // namespace km::fs
