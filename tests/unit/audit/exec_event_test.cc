#include "audit/exec_event.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "audit/bpf/exec_shared.h"

namespace km::audit {
namespace {

std::string execBytes(km_exec_head h, std::string_view argv, std::string_view path, std::string_view cwd,
                      std::string_view exe = {}) {
  h.kind = KM_EXEC_KIND_EXEC;
  h.argv_len = static_cast<__u16>(argv.size());
  h.path_len = static_cast<__u16>(path.size());
  h.cwd_len = static_cast<__u16>(cwd.size());
  h.exe_len = static_cast<__u16>(exe.size());
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(argv).append(path).append(cwd).append(exe);
  return out;
}

using namespace std::string_view_literals;

TEST(ExecEventTest, AnExecBecomesItsCommandLinePathAndDirectory) {
  km_exec_head h{};
  h.ts_ns = 5'000'000'000;  // 5 s of monotonic time
  h.host_pid = 4242;
  h.pid = 7;
  h.ppid = 1;
  h.uid = 1000;
  std::string bytes = execBytes(h, "ls\0-la\0\0x y\0"sv, "/usr/bin/ls\0"sv, "src\0work\0home\0"sv, "ls\0bin\0usr\0"sv);
  auto r = execEventRecord(bytes.data(), bytes.size(), 1'700'000'000'000'000'000);
  ASSERT_TRUE(r);
  const auto& e = std::get<ExecRecord>(*r);
  EXPECT_EQ(e.argv, (std::vector<std::string>{"ls", "-la", "", "x y"}));
  EXPECT_EQ(e.path, "/usr/bin/ls");
  EXPECT_EQ(e.exe, "/usr/bin/ls");
  EXPECT_EQ(e.cwd, "/home/work/src");
  EXPECT_EQ(e.pid, 7u);
  EXPECT_EQ(e.ppid, 1u);
  EXPECT_EQ(e.host_pid, 4242u);
  EXPECT_EQ(e.uid, 1000u);
  EXPECT_FALSE(e.truncated);
  EXPECT_EQ(formatTime(e.time), "2023-11-14T22:13:25.000000Z");  // 1.7e9 s + 5 s
}

TEST(ExecEventTest, CutPartsAreMarkedAndTheRootIsSlash) {
  km_exec_head h{};
  h.flags = KM_EXEC_ARGV_CUT | KM_EXEC_CWD_CUT;
  std::string bytes = execBytes(h, "python3\0-c\0print(1); x=ghp_abc"sv, "/usr/bin/python3\0"sv, "deep\0"sv);
  auto e = std::get<ExecRecord>(*execEventRecord(bytes.data(), bytes.size(), 0));
  // The cut word (maybe the start of a secret no pattern recognises any more) goes.
  EXPECT_EQ(e.argv, (std::vector<std::string>{"python3", "-c", "print(1); x=..."}));
  EXPECT_EQ(e.cwd, ".../deep");
  EXPECT_TRUE(e.truncated);

  km_exec_head root{};
  std::string at_root = execBytes(root, "true\0"sv, "/bin/true\0"sv, ""sv);
  EXPECT_EQ(std::get<ExecRecord>(*execEventRecord(at_root.data(), at_root.size(), 0)).cwd, "/");
  root.flags = KM_EXEC_CWD_UNKNOWN;
  std::string unknown = execBytes(root, "true\0"sv, "/bin/true\0"sv, ""sv);
  EXPECT_EQ(std::get<ExecRecord>(*execEventRecord(unknown.data(), unknown.size(), 0)).cwd, "");

  // A name longer than kept, and an executable whose path was cut: marked, and truncated.
  km_exec_head named{};
  named.flags = KM_EXEC_PATH_CUT | KM_EXEC_EXE_CUT;
  std::string padded = execBytes(named, "true\0"sv, "/./././b\0"sv, "/"sv.substr(0, 0), "true\0bin\0"sv);
  auto p = std::get<ExecRecord>(*execEventRecord(padded.data(), padded.size(), 0));
  EXPECT_EQ(p.path, "/./././b...");
  EXPECT_EQ(p.exe, ".../bin/true");
  EXPECT_TRUE(p.truncated);
}

TEST(ExecEventTest, ExitsSayStatusOrSignalAndHowLongTheyRan) {
  km_exec_head h{};
  h.kind = KM_EXEC_KIND_EXIT;
  h.pid = 9;
  h.ts_ns = 3'000'000'000;
  h.exec_ts_ns = 1'500'000'000;
  h.exit_code = 3 << 8;
  auto x = std::get<ExitRecord>(*execEventRecord(&h, sizeof h, 0));
  EXPECT_EQ(x.status, 3u);
  EXPECT_FALSE(x.signal);
  EXPECT_EQ(x.duration_us, 1'500'000u);
  h.exit_code = 9;
  x = std::get<ExitRecord>(*execEventRecord(&h, sizeof h, 0));
  EXPECT_EQ(x.signal, 9u);
  EXPECT_FALSE(x.status);
  EXPECT_FALSE(x.core);
  h.exit_code = 0x80 | 11;
  x = std::get<ExitRecord>(*execEventRecord(&h, sizeof h, 0));
  EXPECT_EQ(x.signal, 11u);
  EXPECT_TRUE(x.core);
  h.exec_ts_ns = 0;  // exec time unknown
  EXPECT_EQ(std::get<ExitRecord>(*execEventRecord(&h, sizeof h, 0)).duration_us, 0u);
}

TEST(ExecEventTest, AClockValueNoKernelGivesStillMakesATimeTheLogCanHold) {
  km_exec_head h{};
  h.kind = KM_EXEC_KIND_EXIT;
  h.ts_ns = ~uint64_t{0};  // found by exec_event_fuzz: the line could not be read back
  auto r = execEventRecord(&h, sizeof h, 1'700'000'000'000'000'000);
  ASSERT_TRUE(r);
  EXPECT_TRUE(decode(encode(*r)));
}

TEST(ExecEventTest, ShortOrUnknownRecordsAreRefused) {
  km_exec_head h{};
  EXPECT_FALSE(execEventRecord(&h, sizeof h - 1, 0));
  h.kind = 77;
  EXPECT_FALSE(execEventRecord(&h, sizeof h, 0));
  std::string bytes = execBytes(km_exec_head{}, "a\0"sv, "/a\0"sv, ""sv);
  // Lengths that claim more than the record holds.
  EXPECT_FALSE(execEventRecord(bytes.data(), bytes.size() - 1, 0));
}

}  // namespace
}  // namespace km::audit
