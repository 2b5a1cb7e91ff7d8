// The walker behind km::tree, driven directly: the order and paths it reports, and that it
// stops when a directory is moved away while the walk is inside it (the ".." check).
#include "core/tree_walk.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>

#include "tree_fixtures.h"

namespace km::tree {
namespace {

using test::TreeScratch;
using test::writeText;

// Records what it sees as "kind:rel@depth"; optionally runs `on_enter` when it enters a
// directory (to change the tree under the walk).
class Recorder : public TreeVisitor {
 public:
  std::vector<std::string> seen;
  std::function<void(const std::string& rel)> on_enter;

  Status missingRoot() override {
    seen.push_back("missing");
    return ok();
  }
  Status entry(const Walker& w, int, const std::string& name, int, const struct stat& st) override {
    seen.push_back(std::string(S_ISLNK(st.st_mode) ? "link:" : "file:") + w.rel(name) + "@" +
                   std::to_string(w.depth()));
    return ok();
  }
  Status enterDir(const Walker& w, int, const std::string& name, int, const struct stat&) override {
    seen.push_back("enter:" + w.rel(name) + "@" + std::to_string(w.depth()));
    if (on_enter) on_enter(w.rel(name));
    return ok();
  }
  Status leaveDir(const Walker& w, int) override {
    seen.push_back("leave:" + w.relHere());
    return ok();
  }
  Status afterDir(const Walker& w, int, const std::string& name) override {
    seen.push_back("after:" + w.rel(name));
    return ok();
  }
};

TEST(TreeWalkTest, ReportsEachEntryOnceWithPathsRelativeToTheRoot) {
  TreeScratch s;
  std::filesystem::create_directories(s / "root/a/b");
  writeText(s / "root/a/b/f", "x");
  writeText(s / "root/top", "x");
  ASSERT_EQ(::symlink("/etc", (s / "root/a/ln").c_str()), 0);
  auto rooted = openParent(s / "root");
  ASSERT_TRUE(rooted);
  Recorder r;
  Walker w;
  ASSERT_TRUE(w.run(rooted->parent.get(), rooted->name, r));
  std::multiset<std::string> seen(r.seen.begin(), r.seen.end());
  std::multiset<std::string> want = {"enter:.@0",   "enter:a@1",  "enter:a/b@2", "file:a/b/f@3",
                                     "link:a/ln@2", "file:top@1", "leave:a/b",   "after:a/b",
                                     "leave:a",     "after:a",    "leave:.",     "after:."};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(r.seen.front(), "enter:.@0");
  EXPECT_EQ(r.seen.back(), "after:.") << "a directory is finished after everything below it";
}

TEST(TreeWalkTest, AMissingRootIsTheVisitorsCall) {
  TreeScratch s;
  auto rooted = openParent(s / "nothing");
  ASSERT_TRUE(rooted);
  Recorder r;
  Walker w;
  ASSERT_TRUE(w.run(rooted->parent.get(), rooted->name, r));
  EXPECT_EQ(r.seen, std::vector<std::string>{"missing"});
}

TEST(TreeWalkTest, StopsWhenTheDirectoryItIsInIsMovedElsewhere) {
  TreeScratch s;
  std::filesystem::create_directories(s / "root/a/b");
  std::filesystem::create_directories(s / "root/c");
  writeText(s / "root/a/b/f", "x");
  writeText(s / "root/a/later", "x");
  auto rooted = openParent(s / "root");
  ASSERT_TRUE(rooted);
  Recorder r;
  // As the walk enters a/b, b moves under c: its ".." is now c, not the a whose remaining
  // entries the walk still holds.
  r.on_enter = [&](const std::string& rel) {
    if (rel == "a/b") ::rename((s / "root/a/b").c_str(), (s / "root/c/b").c_str());
  };
  Walker w;
  Status st = w.run(rooted->parent.get(), rooted->name, r);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("a/b was moved while being walked"), std::string::npos)
      << st.error().message();
  auto entered = std::find(r.seen.begin(), r.seen.end(), "enter:a/b@2");
  ASSERT_NE(entered, r.seen.end());
  EXPECT_EQ(std::find(entered, r.seen.end(), "file:a/later@2"), r.seen.end())
      << "continued in the wrong directory";
  EXPECT_EQ(r.seen.back(), "leave:a/b") << "nothing after the failed climb";
}

TEST(TreeWalkTest, OpenParentRefusesPathsWithoutALastComponent) {
  EXPECT_EQ(openParent("/").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(openParent("").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(openParent("a/..").error().code(), ErrorCode::kInvalidArgument);
  auto rel = openParent("relative-name//");
  ASSERT_TRUE(rel);
  EXPECT_EQ(rel->name, "relative-name");
}

}  // namespace
}  // namespace km::tree
