// km logs over rotated files, run in-process against a temporary KM_HOME holding one
// sandbox record and its log files (no sandbox is started). Following is LogReader's job and
// is tested there (tests/unit/core/log_reader_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fleet/fleet.h"
#include "store/store.h"
#include "support/run_km.h"
#include "support/temp_dir.h"

namespace km::cli {
namespace {

using ::testing::HasSubstr;
using test::runKm;

class LogsCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = fleet::openStore(home_.path());
    ASSERT_TRUE(store) << store.error().message();
    store::SandboxRecord r;
    r.id = "sb-0123abcd";
    r.profile_name = "open-dev";
    r.substrate = "local";
    r.status = store::SandboxStatus::kStopped;
    auto inserted = (*store)->insert(r);
    ASSERT_TRUE(inserted) << inserted.error().message();
  }
  // Writes `text` to the sandbox's file `name` (as RotatingFile would have left it).
  void write(const std::string& name, const std::string& text) {
    home_.write("sandboxes/sb-0123abcd/" + name, text);
  }
  test::RunResult logs(std::vector<std::string> args) {
    args.insert(args.begin(), {"--home", home_.path(), "logs", "sb-0123abcd"});
    return runKm(args);
  }

  test::ScopedTempDir home_;
};

std::string dnsLine(const std::string& name) {
  return R"({"time":"2026-11-29T12:42:49.249740Z","layer":"dns","client":"10.213.0.2:39087","transport":"udp","name":")" +
         name + R"(","type":"A","decision":"deny","reason":"not in the allowlist","rcode":"NXDOMAIN","cached":false,"addresses":[]})" + "\n";
}

TEST_F(LogsCmdTest, NetworkJsonPrintsTheRotatedFilesOldestFirstThenTheLiveOne) {
  write("network.log.2", dnsLine("a.example"));
  write("network.log.1", dnsLine("b.example") + dnsLine("c.example"));
  write("network.log", dnsLine("d.example"));
  auto r = logs({"--network", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, dnsLine("a.example") + dnsLine("b.example") + dnsLine("c.example") + dnsLine("d.example"));
}

TEST_F(LogsCmdTest, NetworkTextReadsTheRotatedFilesTooAndHoldsAPartialLine) {
  write("network.log.1", dnsLine("a.example"));
  write("network.log", dnsLine("b.example") + R"({"time":"2026-11-29T12:4)");
  auto r = logs({"--network"});
  ASSERT_EQ(r.code, 0) << r.err;
  size_t a = r.out.find("a.example A NXDOMAIN"), b = r.out.find("b.example A NXDOMAIN");
  ASSERT_NE(a, std::string::npos) << r.out;
  ASSERT_NE(b, std::string::npos) << r.out;
  EXPECT_LT(a, b);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
}

TEST_F(LogsCmdTest, SupervisorAndInitLogsAreReadAcrossRotatedFilesToo) {
  write("supervisor.log.1", "started\n");
  write("supervisor.log", "stopped\n");
  write("init.log.1", "$ apt-get update\n");
  write("init.log", "$ make\n");
  auto sup = logs({});
  ASSERT_EQ(sup.code, 0) << sup.err;
  EXPECT_EQ(sup.out, "started\nstopped\n");
  auto init = logs({"--init"});
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_EQ(init.out, "$ apt-get update\n$ make\n");
}

TEST_F(LogsCmdTest, NothingLoggedYetPrintsNothing) {
  write("supervisor.log", "");
  auto r = logs({"--network"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(LogsCmdTest, HelpSaysTheNetworkLogIsRotatedAndReadAcrossFiles) {
  auto r = runKm({"logs", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("default 16 MiB"));
  EXPECT_THAT(r.out, HasSubstr("logs.maxFiles, default 4"));
  EXPECT_THAT(r.out, HasSubstr("read in order across the files"));
}

}  // namespace
}  // namespace km::cli
