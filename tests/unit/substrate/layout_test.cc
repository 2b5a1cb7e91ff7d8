// Where a sandbox's files and pins are: the log paths other modules get through local.h are
// the layout's, and a sandbox's pin directory is its home's prefix plus its id (what doctor's
// scan of the pins, pinnedSandboxes, relies on).
#include <gtest/gtest.h>

#include <string>

#include "substrate/local/layout.h"
#include "substrate/local/local.h"

namespace km::substrate::local {
namespace {

TEST(LayoutTest, SandboxFilesAreTheLayoutsFiles) {
  Layout l = Layout::forSandbox("/var/lib/km", "sb-1f2e3d4c");
  SandboxFiles files = sandboxFiles("/var/lib/km", "sb-1f2e3d4c");
  EXPECT_EQ(files.dir, l.dir);
  EXPECT_EQ(files.control_socket, l.control_socket);
  EXPECT_EQ(files.supervisor_log, l.supervisor_log);
  EXPECT_EQ(files.init_log, l.init_log);
  EXPECT_EQ(files.plan_file, l.plan_file);
  EXPECT_EQ(files.init_file, l.init_file);
  EXPECT_EQ(files.net_file, l.net_file);
  EXPECT_EQ(files.network_log, l.network_log);
  EXPECT_EQ(files.failed_logs, l.failed_logs);
  EXPECT_EQ(files.failed_top, Layout::failedDir("/var/lib/km"));
  // keepFailedLogs moves the logs by name out of `dir` into `failed_logs`, under `failed_top`.
  for (const std::string* log : {&files.supervisor_log, &files.init_log}) {
    EXPECT_EQ(log->substr(0, log->rfind('/')), files.dir) << *log;
  }
  EXPECT_EQ(files.failed_logs.substr(0, files.failed_logs.rfind('/')), files.failed_top);
}

TEST(LayoutTest, PinDirIsTheHomesPrefixAndTheId) {
  std::string prefix = pinDir("/var/lib/km", "");
  EXPECT_EQ(pinDir("/var/lib/km", "sb-1f2e3d4c"), prefix + "sb-1f2e3d4c");
  EXPECT_NE(prefix.find(homeTag("/var/lib/km")), std::string::npos);
  // Another home's sandbox of the same id is pinned elsewhere.
  EXPECT_NE(pinDir("/tmp/other-home", "sb-1f2e3d4c"), pinDir("/var/lib/km", "sb-1f2e3d4c"));
}

}  // namespace
}  // namespace km::substrate::local
