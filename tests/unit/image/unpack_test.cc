// unpackLayer against archives written here with libarchive: whiteouts become overlayfs's,
// digests are checked, and nothing lands outside the layer's directory. Root (owners,
// whiteout device nodes, trusted.* xattrs); skipped otherwise.
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace km::image {
namespace {

struct Entry {
  Entry(std::string n, char t = 'f', std::string d = "", uid_t u = 0, mode_t m = 0644,
        std::vector<std::pair<std::string, std::string>> x = {})
      : name(std::move(n)), type(t), data(std::move(d)), uid(u), mode(m), xattrs(std::move(x)) {}
  std::string name;
  char type;         // f file, d dir, l symlink, h hardlink
  std::string data;  // file content, or link target
  uid_t uid;
  mode_t mode;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// A tar of `entries`, in memory.
std::string tarOf(const std::vector<Entry>& entries) {
  std::vector<char> buf(4 << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const auto& e : entries) {
    archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.name.c_str());
    archive_entry_set_uid(en, e.uid);
    archive_entry_set_gid(en, e.uid);
    archive_entry_set_mtime(en, 1700000000, 0);
    for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(en, k.c_str(), v.data(), v.size());
    switch (e.type) {
      case 'd':
        archive_entry_set_filetype(en, AE_IFDIR);
        archive_entry_set_perm(en, 0755);
        break;
      case 'l':
        archive_entry_set_filetype(en, AE_IFLNK);
        archive_entry_set_symlink(en, e.data.c_str());
        archive_entry_set_perm(en, 0777);
        break;
      case 'h':
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_hardlink(en, e.data.c_str());
        archive_entry_set_perm(en, e.mode);
        break;
      default:
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, e.mode);
        archive_entry_set_size(en, static_cast<la_int64_t>(e.data.size()));
    }
    archive_write_header(a, en);
    if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

// `data` gzip-compressed (libarchive's raw format with the gzip filter).
std::string gzipOf(const std::string& data) {
  std::vector<char> buf(data.size() + (1 << 16));
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  archive_write_add_filter_gzip(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  archive_entry* en = archive_entry_new();
  archive_entry_set_filetype(en, AE_IFREG);
  archive_write_header(a, en);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(en);
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

class Unpack : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (owners, whiteouts, trusted xattrs)";
    dest_ = tmp_.path() + "/layer";
    std::filesystem::create_directory(dest_);
  }
  // Writes `blob` and unpacks it, with the digests computed here unless given.
  Result<LayerStats> unpack(const std::string& tar, bool gzip = true, std::string blob_digest = "",
                            std::string diff_id = "") {
    std::string blob = gzip ? gzipOf(tar) : tar;
    std::string path = tmp_.path() + "/blob";
    std::ofstream(path, std::ios::binary) << blob;
    if (blob_digest.empty()) blob_digest = sha256Of(blob);
    if (diff_id.empty()) diff_id = sha256Of(tar);
    return unpackLayer(path, blob_digest, diff_id, dest_);
  }
  std::string read(const std::string& rel) {
    std::ifstream in(dest_ + "/" + rel);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  test::ScopedTempDir tmp_;
  std::string dest_;
};

TEST_F(Unpack, FilesLinksOwnersAndModes) {
  std::string tar = tarOf({{"./etc/", 'd'},
                           {"./etc/os-release", 'f', "ID=debian\n"},
                           {"usr/bin/tool", 'f', "#!/bin/sh\n", 1234, 04755},
                           {"/abs/file", 'f', "absolute names land inside\n"},
                           {"etc/alias", 'l', "/etc/os-release"},
                           {"etc/hard", 'h', "./etc/os-release"}});
  auto st = unpack(tar);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->entries, 6u);
  EXPECT_EQ(st->tar_bytes, tar.size());
  EXPECT_EQ(read("etc/os-release"), "ID=debian\n");
  EXPECT_EQ(read("abs/file"), "absolute names land inside\n");
  struct stat s {};
  ASSERT_EQ(::lstat((dest_ + "/usr/bin/tool").c_str(), &s), 0);
  EXPECT_EQ(s.st_uid, 1234u) << "owners by number, as in the image";
  EXPECT_EQ(s.st_mode & 07777, 04755u);
  char target[256] = {};
  ASSERT_GT(::readlink((dest_ + "/etc/alias").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "/etc/os-release") << "symlinks are kept as written, not resolved";
  struct stat a {}, b {};
  ASSERT_EQ(::stat((dest_ + "/etc/hard").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest_ + "/etc/os-release").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(Unpack, WhiteoutsBecomeOverlayfsOnes) {
  auto st = unpack(tarOf({{"etc/", 'd'}, {"etc/.wh.motd", 'f'}, {"opt/", 'd'}, {"opt/.wh..wh..opq", 'f'},
                          {"opt/new", 'f', "x"}}),
                   /*gzip=*/false);
  ASSERT_TRUE(st) << st.error().message();
  struct stat s {};
  ASSERT_EQ(::lstat((dest_ + "/etc/motd").c_str(), &s), 0);
  EXPECT_TRUE(S_ISCHR(s.st_mode));
  EXPECT_EQ(s.st_rdev, makedev(0, 0));
  EXPECT_FALSE(std::filesystem::exists(dest_ + "/etc/.wh.motd"));
  char v[8] = {};
  ASSERT_EQ(::getxattr((dest_ + "/opt").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(std::filesystem::exists(dest_ + "/opt/.wh..wh..opq"));
  EXPECT_EQ(read("opt/new"), "x");
}

TEST_F(Unpack, TrustedXattrsInTheArchiveAreDropped) {
  auto st = unpack(tarOf({{"d/", 'd', "", 0, 0755, {{"trusted.overlay.redirect", "/etc"}}},
                          {"d/f", 'f', "x", 0, 0644, {{"trusted.overlay.opaque", "y"}, {"user.keep", "1"}}}}));
  ASSERT_TRUE(st) << st.error().message();
  char v[16] = {};
  EXPECT_LT(::getxattr((dest_ + "/d").c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
  EXPECT_LT(::getxattr((dest_ + "/d/f").c_str(), "trusted.overlay.opaque", v, sizeof v), 0);
  EXPECT_EQ(::getxattr((dest_ + "/d/f").c_str(), "user.keep", v, sizeof v), 1);
}

TEST_F(Unpack, DotDotIsRefused) {
  auto st = unpack(tarOf({{"a/../../escaped", 'f', "x"}}));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find(".."), std::string::npos) << st.error().message();
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/escaped"));
  auto link = unpack(tarOf({{"h", 'h', "../../etc/passwd"}}));
  ASSERT_FALSE(link);
}

TEST_F(Unpack, NothingIsWrittenThroughASymlink) {
  std::string outside = tmp_.path() + "/outside";
  std::filesystem::create_directory(outside);
  auto st = unpack(tarOf({{"evil", 'l', outside}, {"evil/planted", 'f', "x"}}));
  // libarchive either refuses the entry or replaces the link with a directory of the layer's.
  EXPECT_FALSE(std::filesystem::exists(outside + "/planted"));
  if (st) {
    EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::symlink_status(dest_ + "/evil")));
    EXPECT_TRUE(std::filesystem::exists(dest_ + "/evil/planted"));
  }
  // A whiteout through a symlink too.
  std::filesystem::remove_all(dest_);
  std::filesystem::create_directory(dest_);
  auto wh = unpack(tarOf({{"evil", 'l', outside}, {"evil/.wh.x", 'f'}}));
  EXPECT_FALSE(wh);
  EXPECT_FALSE(std::filesystem::exists(outside + "/x"));
}

TEST_F(Unpack, TooDeepIsRefused) {
  std::string deep;
  for (int i = 0; i < 130; ++i) deep += "d/";
  auto st = unpack(tarOf({{deep + "f", 'f', "x"}}));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("deeper than 128"), std::string::npos) << st.error().message();
}

TEST_F(Unpack, FileFlagsAreNotApplied) {
  std::string tar;
  {
    std::vector<char> buf(1 << 16);
    size_t used = 0;
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_memory(a, buf.data(), buf.size(), &used);
    archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, "pinned");
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_set_perm(en, 0644);
    archive_entry_set_size(en, 1);
    archive_entry_copy_fflags_text(en, "schg,sappnd");
    archive_write_header(a, en);
    archive_write_data(a, "x", 1);
    archive_entry_free(en);
    archive_write_close(a);
    archive_write_free(a);
    tar.assign(buf.data(), used);
  }
  ASSERT_NE(tar.find("fflags"), std::string::npos) << "the archive carries the flags";
  auto st = unpack(tar);
  ASSERT_TRUE(st) << st.error().message();
  // An immutable or append-only file could not be removed: prune would fail on it.
  EXPECT_EQ(::unlink((dest_ + "/pinned").c_str()), 0) << std::strerror(errno);
}

TEST_F(Unpack, DigestsAreChecked) {
  std::string tar = tarOf({{"f", 'f', "data"}});
  auto bad_blob = unpack(tar, true, "sha256:" + std::string(64, '0'));
  ASSERT_FALSE(bad_blob);
  EXPECT_NE(bad_blob.error().message().find("pull the image again"), std::string::npos) << bad_blob.error().message();
  std::filesystem::remove_all(dest_);
  std::filesystem::create_directory(dest_);
  auto bad_diff = unpack(tar, true, "", "sha256:" + std::string(64, '1'));
  ASSERT_FALSE(bad_diff);
  EXPECT_NE(bad_diff.error().message().find("diff id"), std::string::npos) << bad_diff.error().message();
}

TEST_F(Unpack, AnArchiveLibarchiveGivesNoReasonForIsRefusedNotACrash) {
  // Found by image_fuzz: libarchive's error string can be null.
  std::ifstream in(std::string(KM_SOURCE_DIR) + "/tests/fuzz/seeds/image/regression-no-error-string", std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(data.empty());
  std::string path = tmp_.path() + "/odd";
  std::ofstream(path, std::ios::binary) << data;
  auto st = unpackLayer(path, sha256Of(data), sha256Of(data), dest_);
  ASSERT_FALSE(st);
  EXPECT_FALSE(st.error().message().empty());
}

TEST_F(Unpack, NotAnArchive) {
  std::string path = tmp_.path() + "/junk";
  std::ofstream(path) << std::string(2000, 'z');
  auto st = unpackLayer(path, sha256Of(std::string(2000, 'z')), sha256Of(std::string(2000, 'z')), dest_);
  ASSERT_FALSE(st);
}

}  // namespace
}  // namespace km::image
