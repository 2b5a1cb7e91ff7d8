// audit::Writer: records added between flushes go to a rotating file in one append; a write
// that fails drops its batch and is counted, and the dropped lines are not written later.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "core/fs.h"
#include "support/temp_dir.h"

namespace km::audit {
namespace {

using Clock = std::chrono::steady_clock;

DnsRecord query(int i) {
  DnsRecord e;
  e.client = "10.213.0.2:40000";
  e.transport = "udp";
  e.name = "q" + std::to_string(i) + ".example";
  e.type = "A";
  e.reason = "not in the allowlist";
  e.rcode = "NXDOMAIN";
  return e;
}

TEST(AuditWriterTest, WithoutAPathNothingIsKept) {
  Writer log;
  EXPECT_FALSE(log.enabled());
  log.add(query(0));
  log.flush(Clock::now());
  EXPECT_EQ(log.bytesWritten(), 0u);
  EXPECT_EQ(log.failedWrites(), 0u);
}

TEST(AuditWriterTest, ATurnsLinesGoInOneAppendAndRotate) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/network.log";
  auto log = Writer::open(path, {.max_file_bytes = 1024, .max_files = 2});
  ASSERT_TRUE(log) << log.error().message();
  for (int i = 0; i < 3; ++i) (*log)->add(query(i));
  (*log)->flush(Clock::now());
  std::string text = *fs::readFile(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_NE(text.find(R"("name":"q2.example")"), std::string::npos) << text;
  for (int turn = 0; turn < 20; ++turn) {
    for (int i = 0; i < 3; ++i) (*log)->add(query(i));
    (*log)->flush(Clock::now());
  }
  EXPECT_GT((*log)->rotations(), 0u);
  EXPECT_FALSE(fs::exists(path + ".2"));
  EXPECT_EQ((*log)->failedWrites(), 0u);
}

TEST(AuditWriterTest, AFailedWriteDropsItsBatchCountsItAndIsNotRetried) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/network.log";
  auto opened = Writer::open(path, {.max_file_bytes = 512, .max_files = 2});
  ASSERT_TRUE(opened);
  Writer& log = **opened;
  // Fill the live file, then put a directory where it must be rotated to.
  while (log.rotations() == 0 && log.fileBytes() < 400) {
    log.add(query(0));
    log.flush(Clock::now());
  }
  std::string before = *fs::readFile(path);
  std::filesystem::create_directories(path + ".1/in-the-way");
  auto t = Clock::now();
  for (int turn = 0; turn < 50; ++turn) {
    log.add(query(1000 + turn));
    log.add(query(2000 + turn));
    log.flush(t);
  }
  EXPECT_EQ(log.failedWrites(), 50u);
  EXPECT_EQ(log.droppedLines(), 100u);
  EXPECT_EQ(*fs::readFile(path), before);  // nothing past the limit, nothing torn
  // Once the way is clear the next batch is written, and only it: nothing was kept back.
  std::filesystem::remove_all(path + ".1");
  log.add(query(3000));
  log.flush(t);
  EXPECT_EQ(log.failedWrites(), 50u);
  std::string now = *fs::readFile(path);
  EXPECT_NE(now.find("q3000.example"), std::string::npos) << now;
  EXPECT_EQ(now.find("q1000.example"), std::string::npos) << now;
  EXPECT_EQ(std::count(now.begin(), now.end(), '\n'), 1);
}

TEST(AuditWriterTest, ServicesOnSeveralThreadsWriteWholeLines) {
  test::ScopedTempDir dir;
  std::string path = dir.path() + "/network.log";
  auto log = Writer::open(path, {.max_file_bytes = 1 << 20, .max_files = 2});
  ASSERT_TRUE(log);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        (*log)->add(query(t * 1000 + i));
        if (i % 10 == 0) (*log)->flush(Clock::now());
      }
    });
  }
  for (auto& th : threads) th.join();
  (*log)->flush(Clock::now());
  std::string text = *fs::readFile(path);
  size_t lines = 0;
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1, ++lines) {
    ASSERT_TRUE(decode(std::string_view(text).substr(at, nl - at))) << text.substr(at, nl - at);
  }
  EXPECT_EQ(lines, 600u);
}

}  // namespace
}  // namespace km::audit
