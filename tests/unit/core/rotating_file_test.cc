// RotatingFile: rotation order and names, the bound on disk, continuing a file after a
// restart, records larger than a file, and failures (no directory, no permission, a rename
// that cannot happen).
#include "core/rotating_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/fs.h"
#include "support/temp_dir.h"

namespace km {
namespace {

std::string record(int i, size_t width = 10) {
  std::string s = "r" + std::to_string(i);
  s.resize(width - 1, '.');
  return s + "\n";
}

std::string contents(const std::string& path) { return fs::readFile(path).value_or("<missing>"); }

uint64_t sizeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Bytes in `path` and every rotated file beside it.
uint64_t bytesOnDisk(const std::string& path) {
  uint64_t total = 0;
  for (int i = 0; i < 10; ++i) total += sizeOf(rotatedPath(path, i));
  return total;
}

TEST(RotatingFileTest, RotatesByRenamingOldestLastAndDropsTheOldest) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  // Three 10-byte records per file, three files.
  auto f = RotatingFile::open(path, {.max_file_bytes = 30, .max_files = 3});
  ASSERT_TRUE(f) << f.error().message();
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(f->append(record(i)));
  // r0..r2 filled the first file and were dropped at the third rotation.
  EXPECT_EQ(contents(rotatedPath(path, 2)), record(3) + record(4) + record(5));
  EXPECT_EQ(contents(rotatedPath(path, 1)), record(6) + record(7) + record(8));
  // The live file is rotated only before a write that would not fit, not once it is full.
  EXPECT_EQ(contents(path), record(9) + record(10) + record(11));
  EXPECT_FALSE(fs::exists(rotatedPath(path, 3)));
  EXPECT_EQ(f->rotations(), 3u);
  EXPECT_EQ(f->bytesWritten(), 120u);
  EXPECT_EQ(f->fileBytes(), 30u);
  ASSERT_TRUE(f->append(record(12)));
  EXPECT_EQ(f->rotations(), 4u);
  EXPECT_EQ(contents(rotatedPath(path, 2)), record(6) + record(7) + record(8));
  EXPECT_EQ(contents(rotatedPath(path, 1)), record(9) + record(10) + record(11));
  EXPECT_EQ(contents(path), record(12));
  EXPECT_EQ(f->fileBytes(), 10u);
}

TEST(RotatingFileTest, NamesAreThePathThenDotNumbers) {
  EXPECT_EQ(rotatedPath("/x/network.log", 0), "/x/network.log");
  EXPECT_EQ(rotatedPath("/x/network.log", 1), "/x/network.log.1");
  EXPECT_EQ(rotatedPath("/x/network.log", 3), "/x/network.log.3");
}

TEST(RotatingFileTest, ABatchIsSplitBetweenRecordsAndNothingOfItIsLost) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto f = RotatingFile::open(path, {.max_file_bytes = 25, .max_files = 4});
  ASSERT_TRUE(f);
  std::string batch;
  for (int i = 0; i < 7; ++i) batch += record(i);
  ASSERT_TRUE(f->append(batch));  // 70 bytes, two records (20 bytes) per file
  EXPECT_EQ(contents(rotatedPath(path, 3)), record(0) + record(1));
  EXPECT_EQ(contents(rotatedPath(path, 2)), record(2) + record(3));
  EXPECT_EQ(contents(rotatedPath(path, 1)), record(4) + record(5));
  EXPECT_EQ(contents(path), record(6));
  EXPECT_EQ(f->rotations(), 3u);
}

TEST(RotatingFileTest, DiskUseNeverPassesFilesTimesFileSize) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  const RotationLimits limits{.max_file_bytes = 1000, .max_files = 4};
  auto f = RotatingFile::open(path, limits);
  ASSERT_TRUE(f);
  uint64_t appended = 0;
  for (int i = 0; i < 2000; ++i) {
    // Records of varied sizes, and batches of one to four of them.
    std::string batch;
    for (int j = 0; j <= i % 4; ++j) batch += record(i * 4 + j, 20 + (i * 7 + j * 13) % 90);
    ASSERT_TRUE(f->append(batch));
    appended += batch.size();
    ASSERT_LE(bytesOnDisk(path), limits.max_file_bytes * limits.max_files) << "after batch " << i;
    ASSERT_LE(f->fileBytes(), limits.max_file_bytes);
  }
  EXPECT_EQ(f->bytesWritten(), appended);
  EXPECT_GT(f->rotations(), 100u);
  EXPECT_FALSE(fs::exists(rotatedPath(path, 4)));
  // Each file still holds whole records only.
  for (int i = 0; i < 4; ++i) {
    std::string text = contents(rotatedPath(path, i));
    EXPECT_TRUE(text.empty() || text.back() == '\n') << rotatedPath(path, i);
  }
}

TEST(RotatingFileTest, ReopeningContinuesTheExistingFile) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  {
    auto f = RotatingFile::open(path, {.max_file_bytes = 30, .max_files = 2});
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->append(record(0) + record(1)));
  }
  auto f = RotatingFile::open(path, {.max_file_bytes = 30, .max_files = 2});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->fileBytes(), 20u);
  EXPECT_EQ(f->bytesWritten(), 0u);
  ASSERT_TRUE(f->append(record(2)));
  EXPECT_EQ(contents(path), record(0) + record(1) + record(2));
  // The size it found counts: the next record does not fit and rotates.
  ASSERT_TRUE(f->append(record(3)));
  EXPECT_EQ(f->rotations(), 1u);
  EXPECT_EQ(contents(rotatedPath(path, 1)), record(0) + record(1) + record(2));
  EXPECT_EQ(contents(path), record(3));
}

TEST(RotatingFileTest, NewFilesAreOwnerOnly) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto f = RotatingFile::open(path, {.max_file_bytes = 10, .max_files = 2});
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->append(record(0) + record(1)));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(RotatingFileTest, ReopeningWithFewerFilesRemovesTheExtraOnes) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  {
    auto f = RotatingFile::open(path, {.max_file_bytes = 10, .max_files = 5});
    ASSERT_TRUE(f);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(f->append(record(i)));
    ASSERT_TRUE(fs::exists(rotatedPath(path, 4)));
  }
  auto f = RotatingFile::open(path, {.max_file_bytes = 10, .max_files = 2});
  ASSERT_TRUE(f);
  EXPECT_TRUE(fs::exists(rotatedPath(path, 1)));
  EXPECT_FALSE(fs::exists(rotatedPath(path, 2)));
  EXPECT_FALSE(fs::exists(rotatedPath(path, 3)));
  EXPECT_FALSE(fs::exists(rotatedPath(path, 4)));
}

TEST(RotatingFileTest, ARecordLargerThanAFileGetsAFreshFileOfItsOwnWhole) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto f = RotatingFile::open(path, {.max_file_bytes = 30, .max_files = 3});
  ASSERT_TRUE(f);
  std::string big = record(1, 100);
  // Records before and after it in the same batch are kept too.
  ASSERT_TRUE(f->append(record(0) + big + record(2)));
  EXPECT_EQ(contents(rotatedPath(path, 2)), record(0));
  EXPECT_EQ(contents(rotatedPath(path, 1)), big);
  EXPECT_EQ(contents(path), record(2));
  // Bound: each file holds at most max(max_file_bytes, its one record).
  EXPECT_LE(bytesOnDisk(path), 2 * 30u + big.size());
  // Into an empty live file it goes without a rotation.
  auto g = RotatingFile::open(dir.path() + "/other.log", {.max_file_bytes = 30, .max_files = 3});
  ASSERT_TRUE(g);
  ASSERT_TRUE(g->append(big));
  EXPECT_EQ(g->rotations(), 0u);
  ASSERT_TRUE(g->append(record(3)));  // and the next append moves it out
  EXPECT_EQ(g->rotations(), 1u);
  EXPECT_EQ(contents(dir.path() + "/other.log.1"), big);
  EXPECT_EQ(contents(dir.path() + "/other.log"), record(3));
}

TEST(RotatingFileTest, OneFileKeptMeansStartingOver) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto f = RotatingFile::open(path, {.max_file_bytes = 20, .max_files = 1});
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->append(record(0) + record(1) + record(2)));
  EXPECT_EQ(contents(path), record(2));
  EXPECT_FALSE(fs::exists(rotatedPath(path, 1)));
  EXPECT_EQ(f->rotations(), 1u);
}

TEST(RotatingFileTest, RejectsLimitsThatCannotHoldAnything) {
  test::ScopedTempDir dir;
  auto zero = RotatingFile::open(dir.path() + "/a.log", {.max_file_bytes = 0, .max_files = 4});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code(), ErrorCode::kInvalidArgument);
  auto none = RotatingFile::open(dir.path() + "/a.log", {.max_file_bytes = 100, .max_files = 0});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kInvalidArgument);
}

TEST(RotatingFileTest, AMissingDirectoryIsNotFoundAndNamesThePath) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/gone/net.log";
  auto f = RotatingFile::open(path, {});
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(f.error().message().find(path), std::string::npos) << f.error().message();
}

TEST(RotatingFileTest, AnUnwritableDirectoryIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere; the missing-directory test covers open errors";
  test::ScopedTempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  auto f = RotatingFile::open(dir.path() + "/net.log", {});
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kPermissionDenied);
}

TEST(RotatingFileTest, AFailedRotationWritesNothingPastTheLimitAndIsRetried) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto f = RotatingFile::open(path, {.max_file_bytes = 20, .max_files = 2});
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->append(record(0) + record(1)));
  // A non-empty directory where the rotated file must go: rename(2) fails even for root.
  std::filesystem::create_directories(rotatedPath(path, 1) + "/in-the-way");
  for (int i = 0; i < 3; ++i) {
    Status s = f->append(record(2 + i));
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find("rename"), std::string::npos) << s.error().message();
  }
  EXPECT_EQ(contents(path), record(0) + record(1));
  EXPECT_EQ(f->rotations(), 0u);
  std::filesystem::remove_all(rotatedPath(path, 1));
  ASSERT_TRUE(f->append(record(5)));
  EXPECT_EQ(contents(rotatedPath(path, 1)), record(0) + record(1));
  EXPECT_EQ(contents(path), record(5));
}

}  // namespace
}  // namespace km
