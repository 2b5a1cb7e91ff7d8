// km logs over rotated files, run in-process against a temporary KM_HOME holding one
// sandbox record and its log files (no sandbox is started). Following is LogReader's job and
// is tested there (tests/unit/core/log_reader_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "doc/json_io.h"
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
  void addEvent(const std::string& kind, const std::string& detail, int64_t at_ms) {
    auto store = fleet::openStore(home_.path());
    ASSERT_TRUE(store) << store.error().message();
    ASSERT_TRUE((*store)->addEvent("sb-0123abcd", kind, detail, at_ms));
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

// 2026-11-29T12:42:49.249Z and a supervisor log line written then (+ms).
constexpr int64_t kT = 1795956169249;
std::string supLine(int ms, const std::string& message, const std::string& level = "info") {
  char t[32];
  std::snprintf(t, sizeof t, "2026-11-29T12:42:49.%03dZ", 249 + ms);
  return std::string(t) + " " + level + " [km.supervisor] " + message + "\n";
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST_F(LogsCmdTest, DefaultViewMergesEventsAndSupervisorLinesInTimeOrder) {
  addEvent("created", "init pid 7", kT + 10);
  addEvent("stopped", "requested", kT + 30);
  addEvent("destroyed", "requested", kT + 50);
  write("supervisor.log.1", supLine(0, "sb-0123abcd: building the sandbox"));
  write("supervisor.log", "  a line without a time\n" + supLine(20, "sb-0123abcd: ready, init pid 7") +
                              supLine(40, "sb-0123abcd: stopped (requested)"));
  auto r = logs({});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(linesOf(r.out),
            (std::vector<std::string>{
                "2026-11-29T12:42:49.249Z  info     [km.supervisor] sb-0123abcd: building the sandbox",
                "  a line without a time",
                "2026-11-29T12:42:49.259Z  event    created  init pid 7",
                "2026-11-29T12:42:49.269Z  info     [km.supervisor] sb-0123abcd: ready, init pid 7",
                "2026-11-29T12:42:49.279Z  event    stopped  requested",
                "2026-11-29T12:42:49.289Z  info     [km.supervisor] sb-0123abcd: stopped (requested)",
                "2026-11-29T12:42:49.299Z  event    destroyed  requested",
            }));
}

TEST_F(LogsCmdTest, EventsShowWithoutAnySupervisorLog) {
  addEvent("oom-kill", "1 process killed by the OOM killer", kT);
  auto r = logs({});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "2026-11-29T12:42:49.249Z  event    oom-kill  1 process killed by the OOM killer\n");
}

TEST_F(LogsCmdTest, SandboxTextInTheSupervisorLogAndEventsIsEscaped) {
  addEvent("stopped", "init exited \x1b[2J", kT + 1);
  write("supervisor.log", supLine(0, "quoted \x1b]0;owned\x07 name") + "raw \x1b[31m\n");
  auto r = logs({});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x07'), std::string::npos) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\\x1b]0;owned"));
  EXPECT_THAT(r.out, HasSubstr("raw \\x1b[31m"));
  EXPECT_THAT(r.out, HasSubstr("init exited \\x1b[2J"));
}

// Each line of `out` is one JSON object of ASCII; returns them.
std::vector<doc::Node> jsonLines(const std::string& out) {
  std::vector<doc::Node> nodes;
  for (const std::string& l : linesOf(out)) {
    for (char c : l) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << l;
    doc::Node n;
    std::string err;
    EXPECT_TRUE(doc::parseJson(l, n, &err)) << err << ": " << l;
    EXPECT_TRUE(n.isMap()) << l;
    nodes.push_back(n);
  }
  return nodes;
}

std::string at(const doc::Node& n, const char* key) {
  const doc::Node* v = n.find(key);
  return v ? v->text() : "<missing>";
}

TEST_F(LogsCmdTest, JsonDefaultViewIsOneAsciiObjectPerEntry) {
  addEvent("oom-kill", "1 process killed; limit 64 MiB", kT + 10);
  write("supervisor.log", supLine(0, "name \x1b[2J caf\xc3\xa9 \xff\xfe \xe2\x80\xae", "warning") + "no time here\n");
  auto r = logs({"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto nodes = jsonLines(r.out);
  ASSERT_EQ(nodes.size(), 3u) << r.out;
  EXPECT_EQ(at(nodes[0], "time"), "2026-11-29T12:42:49.249Z");
  EXPECT_EQ(at(nodes[0], "source"), "supervisor");
  EXPECT_EQ(at(nodes[0], "level"), "warning");
  EXPECT_EQ(at(nodes[0], "logger"), "km.supervisor");
  std::string msg = at(nodes[0], "message");
  EXPECT_THAT(msg, HasSubstr("name \x1b[2J caf\xc3\xa9 "));  // the text itself, decoded
  EXPECT_THAT(msg, HasSubstr("\xe2\x80\xae"));
  EXPECT_TRUE(nodes[1].find("time") != nullptr && nodes[1].find("time")->isNull()) << r.out;
  EXPECT_EQ(at(nodes[1], "message"), "no time here");
  EXPECT_EQ(at(nodes[2], "source"), "event");
  EXPECT_EQ(at(nodes[2], "kind"), "oom-kill");
  EXPECT_EQ(at(nodes[2], "message"), "1 process killed; limit 64 MiB");
}

TEST_F(LogsCmdTest, JsonInitLogIsOneObjectPerLine) {
  write("init.log", "$ make\nbuilt \x1b[1mok\xff\n");
  auto r = logs({"--init", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto nodes = jsonLines(r.out);
  ASSERT_EQ(nodes.size(), 2u) << r.out;
  EXPECT_EQ(at(nodes[0], "line"), "$ make");
  EXPECT_THAT(at(nodes[1], "line"), HasSubstr("built \x1b[1mok"));
}

TEST_F(LogsCmdTest, HelpSaysTheNetworkLogIsRotatedAndReadAcrossFiles) {
  auto r = runKm({"logs", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("default 16 MiB"));
  EXPECT_THAT(r.out, HasSubstr("logs.maxFiles, default 4"));
  EXPECT_THAT(r.out, HasSubstr("read in order across the files"));
}

TEST_F(LogsCmdTest, HelpSaysWhatTheDefaultViewAndJsonShowAndWhereFailedCreatesLogsStay) {
  auto r = runKm({"logs", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("merged in time order"));
  EXPECT_THAT(r.out, HasSubstr(R"("source":"event","kind":"oom-kill")"));
  EXPECT_THAT(r.out, HasSubstr("$KM_HOME/failed/ID/"));
  EXPECT_THAT(r.out, HasSubstr("newest 20 kept, none older than 7 days"));
}

}  // namespace
}  // namespace km::cli
