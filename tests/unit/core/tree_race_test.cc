// km::tree against a sandbox that changes the tree while km works on it: a thread keeps
// exchanging a real directory of the tree with a symlink to an outside directory
// (renameat2 RENAME_EXCHANGE, the attack that made `cp -a` copy host files), or a regular file
// with a FIFO. Whatever the interleaving, nothing outside may be read, removed or chowned,
// and nothing may block.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "core/tree.h"
#include "tree_fixtures.h"

namespace km::tree {
namespace {

using test::readText;
using test::Swapper;
using test::TreeScratch;
using test::writeText;

constexpr int kIterations = 200;
constexpr auto kTimeCap = std::chrono::seconds(20);
constexpr const char* kMarker = "MARKER-outside-7c41e0";

// outside/ holds the marker; tree/real is a directory with a few entries and tree/link a
// symlink to outside. The tree is built under a staging name and renamed into place, so a
// swapper already running never sees it half made.
struct RaceTree {
  RaceTree(const TreeScratch& s, const std::string& name)
      : outside(s / (name + "-outside")), tree(s / name) {
    std::filesystem::create_directories(outside + "/deeper");
    writeText(outside + "/marker", kMarker);
    writeText(outside + "/deeper/marker", kMarker);
  }
  // With `owner`, every entry of the tree (its root included) gets that uid and gid.
  void build(std::optional<uid_t> owner = std::nullopt) const {
    std::string stage = tree + ".stage";
    std::filesystem::create_directories(stage + "/real/sub");
    for (int i = 0; i < 8; ++i) writeText(stage + "/real/f" + std::to_string(i), "inside");
    writeText(stage + "/real/sub/g", "inside");
    std::filesystem::create_symlink(outside, stage + "/link");
    if (owner) {
      ::lchown(stage.c_str(), *owner, *owner);
      for (const auto& e : std::filesystem::recursive_directory_iterator(stage)) {
        ::lchown(e.path().c_str(), *owner, *owner);
      }
    }
    std::filesystem::rename(stage, tree);
  }
  std::string outside, tree;
};

// A pass of removeTree that keeps losing races to the swapper fails; a few more settle it
// (the swapper stops once one of its names is gone).
bool removeUntilGone(const std::string& path) {
  for (int i = 0; i < 10; ++i) {
    if (removeTree(path)) return true;
  }
  return false;
}

bool timeLeft(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start < kTimeCap;
}

TEST(TreeRaceTest, CopyNeverReadsThroughADirectorySwappedForASymlink) {
  TreeScratch s;
  RaceTree t(s, "tree");
  t.build();
  int copies = 0;
  int succeeded = 0;
  {
    Swapper swapper(t.tree + "/real", t.tree + "/link");
    const auto start = std::chrono::steady_clock::now();
    for (; copies < kIterations && timeLeft(start); ++copies) {
      std::string copy = s / ("copy" + std::to_string(copies));
      if (copyTree(t.tree, copy)) ++succeeded;
      std::string text = test::allRegularFileText(copy);
      ASSERT_EQ(text.find(kMarker), std::string::npos) << "copy " << copies << " read outside";
      ASSERT_TRUE(removeTree(copy));
    }
    EXPECT_GT(swapper.swaps(), 0) << "the race never ran";
  }
  EXPECT_GT(succeeded, 0) << "of " << copies << " copies none succeeded";
  EXPECT_EQ(readText(t.outside + "/marker"), kMarker);
}

TEST(TreeRaceTest, RemoveNeverDeletesThroughADirectorySwappedForASymlink) {
  TreeScratch s;
  RaceTree t(s, "tree");
  int removed = 0;
  long swaps = 0;
  {
    Swapper swapper(t.tree + "/real", t.tree + "/link");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIterations && timeLeft(start); ++i) {
      t.build();
      swapper.awaitSwaps(2);
      if (removeTree(t.tree)) ++removed;
      ASSERT_EQ(readText(t.outside + "/marker"), kMarker) << "iteration " << i;
      ASSERT_EQ(readText(t.outside + "/deeper/marker"), kMarker) << "iteration " << i;
      ASSERT_TRUE(removeUntilGone(t.tree));
    }
    swaps = swapper.swaps();
  }
  EXPECT_GT(swaps, 0) << "the race never ran";
  EXPECT_GT(removed, 0);
}

TEST(TreeRaceTest, RemapNeverChownsThroughADirectorySwappedForASymlink) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to other ids needs root";
  TreeScratch s;
  RaceTree t(s, "tree");
  // Everything, outside included, belongs to the id being mapped: following the link even
  // once would show in the outside owners.
  ::lchown(t.outside.c_str(), 1000, 1000);
  for (const auto& e : std::filesystem::recursive_directory_iterator(t.outside)) {
    ::lchown(e.path().c_str(), 1000, 1000);
  }
  int remapped = 0;
  long swaps = 0;
  {
    Swapper swapper(t.tree + "/real", t.tree + "/link");
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIterations && timeLeft(start); ++i) {
      ASSERT_TRUE(removeUntilGone(t.tree));
      t.build(1000);
      swapper.awaitSwaps(2);
      if (remapOwners(t.tree, IdMap{1000, 2000, 1000, 2000})) ++remapped;
      for (const char* rel : {"", "/marker", "/deeper", "/deeper/marker"}) {
        struct stat st {};
        ASSERT_EQ(::lstat((t.outside + rel).c_str(), &st), 0);
        ASSERT_EQ(st.st_uid, 1000u) << "outside" << rel << " was chowned in iteration " << i;
        ASSERT_EQ(st.st_gid, 1000u) << "outside" << rel << " was chowned in iteration " << i;
      }
    }
    swaps = swapper.swaps();
  }
  EXPECT_GT(swaps, 0) << "the race never ran";
  EXPECT_GT(remapped, 0);
}

TEST(TreeRaceTest, CopyIsNeverBlockedByAFifoSwappedInForAFile) {
  TreeScratch s;
  std::filesystem::create_directories(s / "tree");
  writeText(s / "tree/file", "regular");
  ASSERT_EQ(::mkfifo((s / "tree/fifo").c_str(), 0600), 0);
  // In a child with a deadline: a copy that opened the FIFO for reading would wait for a
  // writer forever, and SIGALRM turns that into a failed exit code.
  int rc = test::runInChild(
      [&] {
        Swapper swapper(s / "tree/file", s / "tree/fifo");
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kIterations && timeLeft(start); ++i) {
          std::string copy = s / ("copy" + std::to_string(i));
          Status copied = copyTree(s / "tree", copy);
          if (!copied) return 1;
          // Whatever order the swaps made, each name is one of the two kinds, fully copied.
          for (const char* name : {"/file", "/fifo"}) {
            struct stat st {};
            if (::lstat((copy + name).c_str(), &st) != 0) return 2;
            if (S_ISREG(st.st_mode) && readText(copy + name) != "regular") return 3;
            if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) return 4;
          }
          if (!removeTree(copy)) return 5;
        }
        return swapper.swaps() > 0 ? 0 : 6;
      },
      60);
  EXPECT_EQ(rc, 0) << "142 = killed by SIGALRM: the copy blocked";
}

}  // namespace
}  // namespace km::tree
