// LogReader over the files RotatingFile keeps: oldest first, every line once and in order
// while the writer rotates between (and during) polls, partial lines held.
#include "core/log_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/rotating_file.h"
#include "support/temp_dir.h"

namespace km {
namespace {

std::string line(int i) { return "line " + std::to_string(i) + "\n"; }

// What one poll delivered.
std::vector<std::string> poll(LogReader& r) {
  std::vector<std::string> out;
  auto n = r.poll([&](std::string_view l) { out.emplace_back(l); });
  if (!n) {
    ADD_FAILURE() << n.error().message();
    return out;
  }
  EXPECT_EQ(*n, out.size());
  return out;
}

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("line " + std::to_string(i));
  return out;
}

TEST(LogReaderTest, ReadsTheRotatedFilesOldestFirstThenTheLiveOne) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto w = RotatingFile::open(path, {.max_file_bytes = 14, .max_files = 4});
  ASSERT_TRUE(w);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(w->append(line(i)));  // two lines per file
  ASSERT_EQ(w->rotations(), 3u);
  LogReader r(path);
  EXPECT_EQ(poll(r), numbered(0, 8));
  EXPECT_EQ(poll(r), std::vector<std::string>{});
}

TEST(LogReaderTest, NothingLoggedYetIsNoErrorAndTheFileIsPickedUpLater) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  LogReader r(path);
  EXPECT_EQ(poll(r), std::vector<std::string>{});
  auto w = RotatingFile::open(path, {.max_file_bytes = 100, .max_files = 2});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(line(0)));
  EXPECT_EQ(poll(r), numbered(0, 1));
}

TEST(LogReaderTest, HoldsAPartialLineUntilItsNewline) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto w = RotatingFile::open(path, {.max_file_bytes = 1000, .max_files = 2});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(line(0) + "line"));
  LogReader r(path);
  EXPECT_EQ(poll(r), numbered(0, 1));
  EXPECT_EQ(r.heldBytes(), 4u);
  ASSERT_TRUE(w->append(" 1"));
  EXPECT_EQ(poll(r), std::vector<std::string>{});
  ASSERT_TRUE(w->append("\n" + line(2)));
  EXPECT_EQ(poll(r), numbered(1, 3));
  EXPECT_EQ(r.heldBytes(), 0u);
}

TEST(LogReaderTest, FollowsTheLiveFileAcrossARotation) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto w = RotatingFile::open(path, {.max_file_bytes = 14, .max_files = 3});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(line(0)));
  LogReader r(path);
  EXPECT_EQ(poll(r), numbered(0, 1));
  // Between two polls the writer finishes the old file, rotates, and starts the new one:
  // the reader must take the old file's last lines before the new file's first.
  ASSERT_TRUE(w->append(line(1) + line(2)));
  ASSERT_EQ(w->rotations(), 1u);
  EXPECT_EQ(poll(r), numbered(1, 3));
  ASSERT_TRUE(w->append(line(3)));
  EXPECT_EQ(poll(r), numbered(3, 4));
}

TEST(LogReaderTest, SeveralRotationsBetweenPollsLoseNothingWhileTheFilesLast) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto w = RotatingFile::open(path, {.max_file_bytes = 14, .max_files = 4});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(line(0)));
  LogReader r(path);
  EXPECT_EQ(poll(r), numbered(0, 1));
  for (int i = 1; i < 7; ++i) ASSERT_TRUE(w->append(line(i)));  // three rotations
  ASSERT_EQ(w->rotations(), 3u);
  EXPECT_EQ(poll(r), numbered(1, 7));
}

TEST(LogReaderTest, AFileRotatedOutBeforeItWasReadIsSkippedTheRestFollowsInOrder) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto w = RotatingFile::open(path, {.max_file_bytes = 14, .max_files = 2});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(line(0)));
  LogReader r(path);
  EXPECT_EQ(poll(r), numbered(0, 1));
  // The reader holds the first file open; it reads it to its end, then goes on with the
  // oldest file left. Lines 2 and 3 were in a file rotated out unread: gone.
  for (int i = 1; i < 8; ++i) ASSERT_TRUE(w->append(line(i)));
  std::vector<std::string> expected = numbered(1, 2);
  for (auto& l : numbered(4, 8)) expected.push_back(l);
  EXPECT_EQ(poll(r), expected);
}

TEST(LogReaderTest, OneFileKeptStillFollows) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  auto w = RotatingFile::open(path, {.max_file_bytes = 14, .max_files = 1});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(line(0) + line(1)));
  LogReader r(path);
  EXPECT_EQ(poll(r), numbered(0, 2));
  ASSERT_TRUE(w->append(line(2)));  // the live file is unlinked and begun again
  EXPECT_EQ(poll(r), numbered(2, 3));
}

TEST(LogReaderTest, AFileTruncatedInPlaceIsReadAgainFromItsStart) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/init.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  std::string first = line(0) + line(1);
  ASSERT_EQ(::write(fd, first.data(), first.size()), static_cast<ssize_t>(first.size()));
  LogReader r(path);
  EXPECT_EQ(poll(r), numbered(0, 2));
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  std::string next = line(2);
  ASSERT_EQ(::write(fd, next.data(), next.size()), static_cast<ssize_t>(next.size()));
  ::close(fd);
  EXPECT_EQ(poll(r), numbered(2, 3));
}

TEST(LogReaderTest, InterleavedAppendsRotationsAndPollsDeliverEveryLineOnceInOrder) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/net.log";
  // Enough files that the writer never gets a whole file ahead of the reader.
  auto w = RotatingFile::open(path, {.max_file_bytes = 64, .max_files = 8});
  ASSERT_TRUE(w);
  LogReader r(path);
  std::mt19937 rng(7);
  std::vector<std::string> seen;
  int next = 0;
  for (int round = 0; round < 500; ++round) {
    // Whole lines only: RotatingFile may rotate between two appends, so a line split over
    // two would be split over two files (HoldsAPartialLineUntilItsNewline covers halves).
    int lines = static_cast<int>(rng() % 4);
    std::string batch;
    for (int i = 0; i < lines; ++i) batch += line(next++);
    if (!batch.empty()) {
      ASSERT_TRUE(w->append(batch));
    }
    if (rng() % 2) {
      auto n = r.poll([&](std::string_view l) { seen.emplace_back(l); });
      ASSERT_TRUE(n) << n.error().message();
    }
  }
  ASSERT_TRUE(r.poll([&](std::string_view l) { seen.emplace_back(l); }));
  EXPECT_GT(w->rotations(), 50u);
  EXPECT_EQ(seen, numbered(0, next));
}

}  // namespace
}  // namespace km
