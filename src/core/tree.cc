// removeTree and remapOwners: two small visitors over the shared Walker (tree_walk.h).
// copyTree lives in tree_copy.cc.
#include "core/tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <utility>

#include "core/fd_ops.h"
#include "core/tree_walk.h"

namespace km::tree {
namespace {

// Unlinks each entry after the walk has visited it, directories once they are empty.
// Failures caused by the tree changing under us (an entry that turned into a directory, a
// directory that filled up again) only mark the pass as raced; removeTree then walks again.
class RemoveVisitor : public TreeVisitor {
 public:
  bool raced() const { return raced_; }

  Status missingRoot() override { return ok(); }

  Status entry(const Walker& w, int dir_fd, const std::string& name, int,
               const struct stat&) override {
    int rc = fdops::retryEintr([&] { return ::unlinkat(dir_fd, name.c_str(), 0); });
    if (rc == 0 || errno == ENOENT) return ok();
    if (errno == EISDIR) {  // a directory was renamed over the name since we opened it
      raced_ = true;
      return ok();
    }
    if (errno == EBUSY) return unavailable(w.rel(name) + " is a mount point; unmount it first");
    return sys::errnoError("unlinkat", w.rel(name), errno);
  }

  Status enterDir(const Walker&, int, const std::string&, int dir_fd,
                  const struct stat& st) override {
    // Without root a read-only directory (Go's module cache makes them) could not be emptied;
    // its owner may make it writable, and it is going away anyway.
    const mode_t need = S_IWUSR | S_IXUSR;
    if ((st.st_mode & need) != need && st.st_uid == ::geteuid()) {
      (void)fdops::retryEintr([&] { return ::fchmod(dir_fd, (st.st_mode & 07777) | need); });
    }
    return ok();
  }

  Status leaveDir(const Walker&, int) override { return ok(); }

  Status afterDir(const Walker& w, int parent_fd, const std::string& name) override {
    int rc = fdops::retryEintr([&] { return ::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR); });
    if (rc == 0 || errno == ENOENT) return ok();
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) {
      raced_ = true;  // filled again, or the name now holds something else
      return ok();
    }
    if (errno == EBUSY) return unavailable(w.rel(name) + " is a mount point; unmount it first");
    return sys::errnoError("unlinkat", w.rel(name), errno);
  }

 private:
  bool raced_ = false;
};

class RemapVisitor : public TreeVisitor {
 public:
  explicit RemapVisitor(const IdMap& map) : map_(map) {}

  Status missingRoot() override { return notFound("no such file or directory"); }

  Status entry(const Walker& w, int, const std::string& name, int opath_fd,
               const struct stat& st) override {
    if (!wanted(st)) return ok();
    const std::string subject = w.rel(name);
    // AT_EMPTY_PATH on the O_PATH fd changes exactly the inode we stat'ed (for a symlink, the
    // link itself), whatever the name points at by now.
    if (fdops::retryEintr([&] {
          return ::fchownat(opath_fd, "", newUid(st), newGid(st),
                            AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
        }) != 0) {
      return sys::errnoError("fchownat", subject, errno);
    }
    // chown clears setuid/setgid on non-directories; a remap must not change permissions.
    // chmod through /proc reaches the same inode; symlinks never carry these bits.
    if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)) != 0) {
      const std::string proc = fdops::procFdPath(opath_fd);
      if (fdops::retryEintr([&] { return ::chmod(proc.c_str(), st.st_mode & 07777); }) != 0) {
        return sys::errnoError("chmod", subject, errno);
      }
    }
    return ok();
  }

  Status enterDir(const Walker& w, int, const std::string& name, int dir_fd,
                  const struct stat& st) override {
    // Directories keep setgid across chown, so there is nothing to restore.
    if (wanted(st) &&
        fdops::retryEintr([&] { return ::fchown(dir_fd, newUid(st), newGid(st)); }) != 0) {
      return sys::errnoError("fchown", w.rel(name), errno);
    }
    return ok();
  }

  Status leaveDir(const Walker&, int) override { return ok(); }
  Status afterDir(const Walker&, int, const std::string&) override { return ok(); }

 private:
  bool wanted(const struct stat& st) const {
    return st.st_uid == map_.from_uid || st.st_gid == map_.from_gid;
  }
  uid_t newUid(const struct stat& st) const {
    return st.st_uid == map_.from_uid ? map_.to_uid : st.st_uid;
  }
  gid_t newGid(const struct stat& st) const {
    return st.st_gid == map_.from_gid ? map_.to_gid : st.st_gid;
  }

  IdMap map_;
};

// Adds up the blocks of every inode once (hard links count once).
class UsageVisitor : public TreeVisitor {
 public:
  Status missingRoot() override { return notFound("no such file or directory"); }
  Status entry(const Walker&, int, const std::string&, int, const struct stat& st) override {
    if (st.st_nlink > 1 && !seen_.insert({st.st_dev, st.st_ino}).second) return ok();
    bytes_ += static_cast<int64_t>(st.st_blocks) * 512;
    return ok();
  }
  Status enterDir(const Walker&, int, const std::string&, int, const struct stat& st) override {
    bytes_ += static_cast<int64_t>(st.st_blocks) * 512;
    return ok();
  }
  Status leaveDir(const Walker&, int) override { return ok(); }
  Status afterDir(const Walker&, int, const std::string&) override { return ok(); }
  int64_t bytes() const { return bytes_; }

 private:
  int64_t bytes_ = 0;
  std::set<std::pair<dev_t, ino_t>> seen_;
};

// Stops at the first directory deeper than the limit.
class DepthVisitor : public TreeVisitor {
 public:
  explicit DepthVisitor(size_t max) : max_(max) {}
  Status missingRoot() override { return notFound("no such file or directory"); }
  Status entry(const Walker&, int, const std::string&, int, const struct stat&) override { return ok(); }
  Status enterDir(const Walker& w, int, const std::string& name, int, const struct stat&) override {
    if (w.depth() >= max_) {
      return invalidArgument("a directory is more than " + std::to_string(max_) + " levels deep (" +
                             w.rel(name).substr(0, 200) + "…)");
    }
    return ok();
  }
  Status leaveDir(const Walker&, int) override { return ok(); }
  Status afterDir(const Walker&, int, const std::string&) override { return ok(); }

 private:
  size_t max_;
};

}  // namespace

Status checkDepth(const std::string& path, size_t max_depth) {
  auto rooted = openParent(path);
  if (!rooted) return std::move(rooted).error().context("measuring " + path);
  DepthVisitor v(max_depth);
  Walker w;
  return w.run(rooted->parent.get(), rooted->name, v);
}

Result<int64_t> diskUsage(const std::string& path) {
  auto rooted = openParent(path);
  if (!rooted) return std::move(rooted).error().context("measuring " + path);
  UsageVisitor v;
  Walker w;
  Status s = w.run(rooted->parent.get(), rooted->name, v);
  if (!s) return std::move(s).error().context("measuring " + path);
  return v.bytes();
}

Status removeTree(const std::string& path) {
  auto root = openParent(path);
  if (!root) {
    if (root.error().code() == ErrorCode::kNotFound) return ok();  // no parent, no tree
    return std::move(root).error().context("removing " + path);
  }
  // A sandbox that is still running can recreate entries behind us; a few passes absorb
  // ordinary stragglers without letting a busy writer keep us here forever.
  constexpr int kPasses = 4;
  for (int pass = 0; pass < kPasses; ++pass) {
    RemoveVisitor v;
    Walker w;
    Status s = w.run(root->parent.get(), root->name, v);
    if (!s) return std::move(s).error().context("removing " + path);
    if (!v.raced()) return ok();
  }
  return unavailable("removing " + path + ": it kept changing while being removed; stop " +
                     "whatever writes into it and retry");
}

Status remapOwners(const std::string& root, const IdMap& map) {
  auto rooted = openParent(root);
  if (!rooted) return std::move(rooted).error().context("changing owners in " + root);
  RemapVisitor v(map);
  Walker w;
  Status s = w.run(rooted->parent.get(), rooted->name, v);
  if (!s) return std::move(s).error().context("changing owners in " + root);
  return ok();
}

}  // namespace km::tree
