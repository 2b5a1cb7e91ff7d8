// image::Store without a registry: images baked from an upper directory made here, then found,
// stacked, removed and pruned. (Pulls are exercised by the root integration test against a
// local registry.) Root: bake keeps owners and whiteouts.
#include "image/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "image/push.h"
#include "support/temp_dir.h"

namespace km::image {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (bake keeps owners and whiteouts)";
    upper_ = tmp_.path() + "/upper";
    std::filesystem::create_directories(upper_ + "/etc");
    std::filesystem::create_directories(upper_ + "/opt/tool");
    std::ofstream(upper_ + "/opt/tool/bin") << "built by initCommands\n";
    std::ofstream(upper_ + "/etc/hosts") << "127.0.1.1 sb-old\n";
    std::ofstream(upper_ + "/etc/os-release") << "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Baked Debian\"\n";
    ASSERT_EQ(::mknod((upper_ + "/etc/motd").c_str(), S_IFCHR, makedev(0, 0)), 0);
    ::symlink("/etc/shadow", (upper_ + "/opt/link").c_str());
  }
  Reference name(const std::string& text) {
    auto r = parseReference(text);
    EXPECT_TRUE(r) << text;
    return *r;
  }
  test::ScopedTempDir tmp_;
  std::string upper_;
};

TEST_F(StoreTest, BakeOnTheHostThenFindStackAndRemove) {
  Store store(tmp_.path() + "/home");
  auto baked = store.bake(upper_, std::nullopt, name("localhost/tools"), "bake of sb-test");
  ASSERT_TRUE(baked) << baked.error().message();
  EXPECT_TRUE(baked->on_host);
  EXPECT_EQ(baked->parent, "host");
  ASSERT_EQ(baked->layers.size(), 1u);
  EXPECT_EQ(baked->names, std::vector<std::string>{"localhost/tools:latest"});
  EXPECT_EQ(baked->os.pretty_name, "Baked Debian") << "the layer's own os-release wins over the host's";
  // The layer is a copy: whiteouts and links kept, per-sandbox files dropped.
  std::string layer = store.layerDir(baked->layers[0]);
  struct stat s {};
  ASSERT_EQ(::lstat((layer + "/etc/motd").c_str(), &s), 0);
  EXPECT_TRUE(S_ISCHR(s.st_mode));
  ASSERT_EQ(::lstat((layer + "/opt/link").c_str(), &s), 0);
  EXPECT_TRUE(S_ISLNK(s.st_mode));
  EXPECT_FALSE(std::filesystem::exists(layer + "/etc/hosts"));
  EXPECT_TRUE(std::filesystem::exists(layer + "/opt/tool/bin"));
  // Stacked top first, the host's root last.
  auto dirs = store.lowerDirs(*baked);
  ASSERT_TRUE(dirs);
  EXPECT_EQ(*dirs, (std::vector<std::string>{layer, "/"}));
  // Found by its short name, full name and id prefix.
  for (std::string n : {std::string("tools"), std::string("localhost/tools:latest"),
                        std::string(digestHex(baked->id).substr(0, 12)), baked->id}) {
    auto f = store.find(n);
    ASSERT_TRUE(f) << n;
    ASSERT_TRUE(*f) << n;
    EXPECT_EQ((*f)->id, baked->id) << n;
  }
  auto none = store.find("debian:bookworm");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  // A bake on top of it stacks both layers.
  std::filesystem::remove(upper_ + "/etc/hosts");
  auto child = store.bake(upper_, *baked, name("localhost/tools2"), "bake of sb-test2");
  ASSERT_TRUE(child) << child.error().message();
  EXPECT_EQ(child->parent, baked->id);
  ASSERT_EQ(child->layers.size(), 2u);
  EXPECT_EQ(child->layers[0], baked->layers[0]);
  auto child_dirs = store.lowerDirs(*child);
  ASSERT_TRUE(child_dirs);
  EXPECT_EQ(child_dirs->size(), 3u);
  EXPECT_EQ(child_dirs->back(), "/");

  // Removal is refused for an image in use and for a parent.
  auto in_use = store.remove("tools2", {child->id});
  ASSERT_FALSE(in_use);
  EXPECT_EQ(in_use.error().code(), ErrorCode::kPermissionDenied);
  auto parent = store.remove("tools", {});
  ASSERT_FALSE(parent);
  EXPECT_NE(parent.error().message().find("parent"), std::string::npos) << parent.error().message();
  // Prune keeps what records and sandboxes need.
  auto kept = store.prune({}, {});
  ASSERT_TRUE(kept);
  EXPECT_TRUE(kept->layers.empty());
  ASSERT_TRUE(store.remove("tools2", {}));
  ASSERT_TRUE(store.remove("tools", {}));
  auto list = store.list();
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  // A layer a sandbox still runs on survives prune; the other goes.
  auto pruned = store.prune({}, {child->layers[1]});
  ASSERT_TRUE(pruned) << pruned.error().message();
  EXPECT_EQ(pruned->layers, std::vector<std::string>{baked->layers[0]});
  EXPECT_TRUE(std::filesystem::exists(store.layerDir(child->layers[1])));
  EXPECT_FALSE(std::filesystem::exists(layer));
}

TEST_F(StoreTest, ANameMovesToItsNewestImageAndTheOldOneIsPrunedUnnamed) {
  Store store(tmp_.path() + "/home");
  auto first = store.bake(upper_, std::nullopt, name("localhost/tools"), "first");
  ASSERT_TRUE(first);
  auto second = store.bake(upper_, std::nullopt, name("localhost/tools"), "second");
  ASSERT_TRUE(second);
  auto f = store.find("tools");
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->id, second->id);
  auto all = store.list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  // The unnamed one goes with prune unless a sandbox runs on it.
  auto kept = store.prune({first->id}, {});
  ASSERT_TRUE(kept);
  EXPECT_TRUE(kept->images.empty());
  auto gone = store.prune({}, {});
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->images, std::vector<std::string>{first->id});
  EXPECT_FALSE(std::filesystem::exists(store.layerDir(first->layers[0])));
  EXPECT_TRUE(std::filesystem::exists(store.layerDir(second->layers[0])));
}

TEST_F(StoreTest, AMissingLayerIsNamedWithWhatToDo) {
  Store store(tmp_.path() + "/home");
  auto baked = store.bake(upper_, std::nullopt, name("localhost/tools"), "b");
  ASSERT_TRUE(baked);
  std::filesystem::remove_all(store.layerDir(baked->layers[0]));
  auto dirs = store.lowerDirs(*baked);
  ASSERT_FALSE(dirs);
  EXPECT_NE(dirs.error().message().find("km image pull"), std::string::npos);
}

TEST_F(StoreTest, BakeNeverFollowsTheSandboxsEtcLink) {
  // The sandbox made its /etc a link to a host directory holding files km drops from bakes.
  std::string host = tmp_.path() + "/host-etc";
  std::filesystem::create_directories(host);
  std::ofstream(host + "/hosts") << "keep\n";
  std::ofstream(host + "/resolv.conf") << "keep\n";
  std::filesystem::remove_all(upper_ + "/etc");
  ASSERT_EQ(::symlink(host.c_str(), (upper_ + "/etc").c_str()), 0);
  Store store(tmp_.path() + "/home");
  auto baked = store.bake(upper_, std::nullopt, name("localhost/tools"), "b");
  ASSERT_TRUE(baked) << baked.error().message();
  EXPECT_TRUE(std::filesystem::exists(host + "/hosts"));
  EXPECT_TRUE(std::filesystem::exists(host + "/resolv.conf"));
  EXPECT_TRUE(std::filesystem::is_symlink(store.layerDir(baked->layers[0]) + "/etc")) << "copied as a link";
}

TEST_F(StoreTest, WritesTooDeepToPullAgainAreNotBaked) {
  std::string dir = upper_ + "/var";
  for (int i = 0; i < 140; ++i) dir += "/d";
  std::filesystem::create_directories(dir);
  Store store(tmp_.path() + "/home");
  auto baked = store.bake(upper_, std::nullopt, name("localhost/tools"), "b");
  ASSERT_FALSE(baked);
  EXPECT_NE(baked.error().message().find("128 levels"), std::string::npos) << baked.error().message();
  auto all = store.list();
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(std::filesystem::is_empty(store.dir() + "/layers")) << "nothing was copied";
}

TEST_F(StoreTest, AnImageBakedOnTheHostIsNotPushed) {
  Store store(tmp_.path() + "/home");
  auto baked = store.bake(upper_, std::nullopt, name("localhost/tools"), "b");
  ASSERT_TRUE(baked);
  PullOptions opt;
  opt.skopeo = "/nonexistent/skopeo";  // never reached
  auto pushed = pushImage(store, *baked, name("registry.example:5000/x/tools:1"), opt);
  ASSERT_FALSE(pushed);
  EXPECT_EQ(pushed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(pushed.error().message().find("host"), std::string::npos) << pushed.error().message();
}

TEST_F(StoreTest, ACorruptRecordSaysSo) {
  Store store(tmp_.path() + "/home");
  std::filesystem::create_directories(store.dir() + "/records");
  std::ofstream(store.dir() + "/records/x.json") << "{not json";
  auto all = store.list();
  ASSERT_FALSE(all);
  EXPECT_NE(all.error().message().find("remove it"), std::string::npos) << all.error().message();
}

}  // namespace
}  // namespace km::image
