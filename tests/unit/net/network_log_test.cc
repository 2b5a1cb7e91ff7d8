// NetworkLog: lines gathered per turn go to a rotating file; a write that fails drops its
// batch and is counted, and the dropped lines are not written later.
#include "net/network_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "core/fs.h"
#include "support/temp_dir.h"

namespace km::net {
namespace {

using Clock = std::chrono::steady_clock;

dns::LogEntry query(int i) {
  dns::LogEntry e;
  e.client = "10.213.0.2:40000";
  e.transport = "udp";
  e.name = "q" + std::to_string(i) + ".example";
  e.type = "A";
  e.reason = "not in the allowlist";
  e.rcode = "NXDOMAIN";
  return e;
}

TEST(NetworkLogTest, WithoutAPathNothingIsKept) {
  NetworkLog log;
  EXPECT_FALSE(log.enabled());
  log.dns(query(0));
  log.flush(Clock::now());
  EXPECT_EQ(log.file(), nullptr);
  EXPECT_EQ(log.failedWrites(), 0u);
}

TEST(NetworkLogTest, ATurnsLinesGoInOneAppendAndRotate) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/network.log";
  auto log = NetworkLog::open(path, {.max_file_bytes = 1024, .max_files = 2});
  ASSERT_TRUE(log) << log.error().message();
  for (int i = 0; i < 3; ++i) log->dns(query(i));
  log->flush(Clock::now());
  std::string text = *fs::readFile(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_NE(text.find(R"("name":"q2.example")"), std::string::npos) << text;
  for (int turn = 0; turn < 20; ++turn) {
    for (int i = 0; i < 3; ++i) log->dns(query(i));
    log->flush(Clock::now());
  }
  EXPECT_GT(log->file()->rotations(), 0u);
  EXPECT_FALSE(fs::exists(path + ".2"));
  EXPECT_EQ(log->failedWrites(), 0u);
}

TEST(NetworkLogTest, AFailedWriteDropsItsBatchCountsItAndIsNotRetried) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/network.log";
  auto log = NetworkLog::open(path, {.max_file_bytes = 512, .max_files = 2});
  ASSERT_TRUE(log);
  // Fill the live file, then put a directory where it must be rotated to.
  while (log->file()->rotations() == 0 && log->file()->fileBytes() < 400) {
    log->dns(query(0));
    log->flush(Clock::now());
  }
  std::string before = *fs::readFile(path);
  std::filesystem::create_directories(path + ".1/in-the-way");
  auto t = Clock::now();
  for (int turn = 0; turn < 50; ++turn) {
    log->dns(query(1000 + turn));
    log->dns(query(2000 + turn));
    log->flush(t);
  }
  EXPECT_EQ(log->failedWrites(), 50u);
  EXPECT_EQ(log->droppedLines(), 100u);
  EXPECT_EQ(*fs::readFile(path), before);  // nothing past the limit, nothing torn
  // Once the way is clear the next batch is written, and only it: nothing was kept back.
  std::filesystem::remove_all(path + ".1");
  log->dns(query(3000));
  log->flush(t);
  EXPECT_EQ(log->failedWrites(), 50u);
  std::string now = *fs::readFile(path);
  EXPECT_NE(now.find("q3000.example"), std::string::npos) << now;
  EXPECT_EQ(now.find("q1000.example"), std::string::npos) << now;
  EXPECT_EQ(std::count(now.begin(), now.end(), '\n'), 1);
}

}  // namespace
}  // namespace km::net
