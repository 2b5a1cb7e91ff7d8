// The home's disk store as the first `km create` of a new KM_HOME meets it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "core/fs.h"
#include "core/tree.h"
#include "substrate/local/disk.h"

namespace km::substrate::local {
namespace {

TEST(DiskTest, PreparingMakesAHomeThatDoesNotExistYet) {
  char tmpl[] = "/tmp/km-disk-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string top = tmpl;
  std::string home = top + "/new/home";  // neither level exists
  DiskSettings none;
  none.store = "none";  // no loop device or btrfs: plain directories, no root needed
  auto disks = Disks::prepare(home, none);
  ASSERT_TRUE(disks) << disks.error().message();
  EXPECT_FALSE(disks->enforced());
  struct stat st {};
  ASSERT_EQ(::stat(home.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);  // the state directory is private
  EXPECT_TRUE(fs::exists(home + "/disk.lock"));
  EXPECT_EQ(disks->path("sb-1"), home + "/disk/sb-1");
  (void)tree::removeTree(top);
}

}  // namespace
}  // namespace km::substrate::local
