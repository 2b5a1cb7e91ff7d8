// How the host's cgroup layout is read: which hierarchy each limit comes from.
#include "substrate/local/cgroup.h"

#include <gtest/gtest.h>

namespace km::substrate::local {
namespace {

constexpr std::string_view kHybrid =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(CgroupLayoutTest, HybridHostTakesLimitsFromV1AndFreezesInV2) {
  HostCgroups h = parseCgroupMounts(kHybrid, "hugetlb\n", true);
  EXPECT_EQ(h.v2_root, "/sys/fs/cgroup/unified");
  EXPECT_EQ(h.memory, CgroupVersion::kV1);
  EXPECT_EQ(h.cpu, CgroupVersion::kV1);
  EXPECT_EQ(h.pids, CgroupVersion::kV1);
  EXPECT_EQ(h.freezer, CgroupVersion::kV2);
  EXPECT_TRUE(h.hybrid());
  EXPECT_EQ(h.v1_memory, "/sys/fs/cgroup/memory");
  EXPECT_EQ(h.v1_cpuacct, "/sys/fs/cgroup/cpuacct");
}

TEST(CgroupLayoutTest, PureV2HostUsesV2ForEverythingItOffers) {
  HostCgroups h = parseCgroupMounts(
      "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
      "cpuset cpu io memory hugetlb pids rdma misc\n", true);
  EXPECT_EQ(h.memory, CgroupVersion::kV2);
  EXPECT_EQ(h.cpu, CgroupVersion::kV2);
  EXPECT_EQ(h.pids, CgroupVersion::kV2);
  EXPECT_EQ(h.freezer, CgroupVersion::kV2);
  EXPECT_FALSE(h.hybrid());
}

TEST(CgroupLayoutTest, ControllerMissingEverywhereIsReportedNotClaimed) {
  HostCgroups h = parseCgroupMounts(
      "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "cpu memory\n", false);
  EXPECT_EQ(h.pids, CgroupVersion::kNone);
  EXPECT_EQ(h.freezer, CgroupVersion::kNone);  // no cgroup.stat: kernel before 5.2
  EXPECT_EQ(versionName(h.pids), "not available");
}

TEST(CgroupLayoutTest, CombinedCpuCpuacctMountServesBoth) {
  HostCgroups h = parseCgroupMounts(
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", "", false);
  EXPECT_EQ(h.v1_cpu, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(h.v1_cpuacct, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(h.cpu, CgroupVersion::kV1);
  EXPECT_EQ(h.freezer, CgroupVersion::kNone);
  Cgroups c = Cgroups::existing(h, "km/0000abcd", "sb-12345678");
  // One directory per distinct hierarchy: the shared cpu,cpuacct mount appears once.
  EXPECT_EQ(c.dirs().size(), 2u);
}

TEST(CgroupLayoutTest, NamesAreGroupedPerStateDirectory) {
  std::string a = cgroupGroup("/var/lib/km");
  std::string b = cgroupGroup("/tmp/other-home");
  EXPECT_EQ(a.rfind("km/", 0), 0u);
  EXPECT_EQ(a.size(), 11u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, cgroupGroup("/var/lib/km"));
  HostCgroups h = parseCgroupMounts(kHybrid, "hugetlb", true);
  Cgroups c = Cgroups::existing(h, a, "sb-12345678");
  ASSERT_FALSE(c.dirs().empty());
  EXPECT_EQ(c.dirs().front(), "/sys/fs/cgroup/unified/" + a + "/sb-12345678/sandbox");
  EXPECT_EQ(c.v2Dir(), "/sys/fs/cgroup/unified/" + a + "/sb-12345678/sandbox");
}

TEST(CgroupLayoutTest, TheSupervisorHasASiblingLeafThatIsNeverFrozen) {
  HostCgroups h = parseCgroupMounts(kHybrid, "hugetlb", true);
  Cgroups sandbox = Cgroups::existing(h, "km/0000abcd", "sb-12345678");
  Cgroups sup = Cgroups::existing(h, "km/0000abcd", "sb-12345678", CgroupPart::kSupervisor);
  ASSERT_EQ(sandbox.dirs().size(), sup.dirs().size());
  for (size_t i = 0; i < sup.dirs().size(); ++i) {
    const std::string& s = sup.dirs()[i];
    EXPECT_EQ(s.substr(s.rfind('/')), "/supervisor") << s;
    // Same parent (the sandbox's directory, where the CPU limit sits) as the sandbox's leaf.
    EXPECT_EQ(s.substr(0, s.rfind('/')), sandbox.dirs()[i].substr(0, sandbox.dirs()[i].rfind('/')));
  }
}

}  // namespace
}  // namespace km::substrate::local
