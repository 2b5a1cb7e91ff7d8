// Where a sandbox's files and pins are: the log paths other modules get through local.h are
// the layout's, and a sandbox's pin directory is its home's prefix plus its id (what doctor's
// scan of the pins, pinnedSandboxes, relies on).
#include <gtest/gtest.h>

#include <string>

#include "substrate/local/layout.h"
#include "substrate/local/local.h"

namespace km::substrate::local {
namespace {

TEST(LayoutTest, SandboxLogsAreTheLayoutsFiles) {
  Layout l = Layout::forSandbox("/var/lib/km", "sb-1f2e3d4c");
  SandboxLogs logs = sandboxLogs("/var/lib/km", "sb-1f2e3d4c");
  EXPECT_EQ(logs.dir, l.dir);
  EXPECT_EQ(logs.supervisor, l.supervisor_log);
  EXPECT_EQ(logs.init, l.init_log);
  EXPECT_EQ(logs.network, l.network_log);
  EXPECT_EQ(logs.failed, l.failed_logs);
  EXPECT_EQ(logs.failed_top, Layout::failedDir("/var/lib/km"));
  // keepFailedLogs moves the logs by name out of `dir` into `failed`, under `failed_top`.
  for (const std::string* log : {&logs.supervisor, &logs.init}) {
    EXPECT_EQ(log->substr(0, log->rfind('/')), logs.dir) << *log;
  }
  EXPECT_EQ(logs.failed.substr(0, logs.failed.rfind('/')), logs.failed_top);
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
