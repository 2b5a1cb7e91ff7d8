// copyTree: a visitor over the shared Walker that mirrors each source entry into a
// destination tree it walks in step (one destination directory fd at a time, climbed with
// ".." and checked, like the source side).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/fd_ops.h"
#include "core/tree.h"
#include "core/tree_meta.h"
#include "core/tree_walk.h"

namespace km::tree {
namespace {

class CopyVisitor : public TreeVisitor {
 public:
  CopyVisitor(int dst_parent, std::string dst_root, const CopyOptions& opts)
      : dst_parent_(dst_parent), dst_root_(std::move(dst_root)), opts_(opts) {}

  Status missingRoot() override { return notFound("no such file or directory"); }

  Status entry(const Walker& w, int, const std::string& name, int opath_fd,
               const struct stat& st) override {
    const std::string subject = w.rel(name);
    const std::string& dname = w.depth() == 0 ? dst_root_ : name;
    if (S_ISSOCK(st.st_mode)) return ok();  // a socket is only meaningful to its live owner

    // A hard link to an inode already copied becomes a link to that copy. Entries with one
    // link (nearly all) never touch the map.
    const bool linked = st.st_nlink > 1 && w.depth() > 0;
    const std::pair<dev_t, ino_t> key{st.st_dev, st.st_ino};
    if (linked) {
      auto it = links_.find(key);
      if (it != links_.end()) {
        KM_TRY(linkToCopy(it->second.rel, dname, subject));
        if (--it->second.links_left == 0) links_.erase(it);
        return ok();
      }
    }

    if (S_ISREG(st.st_mode)) {
      KM_TRY(copyRegular(opath_fd, st, dname, subject));
    } else if (S_ISLNK(st.st_mode)) {
      KM_TRY(copySymlink(opath_fd, st, dname, subject));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      KM_TRY(copySpecial(opath_fd, st, dname, subject));
    } else {
      return unavailable(subject + ": unsupported file type");
    }
    if (linked) links_.emplace(key, FirstCopy{subject, st.st_nlink - 1});
    return ok();
  }

  Status enterDir(const Walker& w, int, const std::string& name, int,
                  const struct stat& st) override {
    const std::string subject = w.rel(name);
    const std::string& dname = w.depth() == 0 ? dst_root_ : name;
    // A destination inside the source would be walked into and copied into itself forever.
    if (!dst_ids_.empty() && std::make_pair(st.st_dev, st.st_ino) == dst_ids_.front()) {
      return invalidArgument(subject + " is the copy itself: the destination is inside the source");
    }
    // Writable by us until leaveDir gives it the source's mode (which may be read-only).
    if (fdops::retryEintr([&] { return ::mkdirat(dstFd(), dname.c_str(), 0700); }) != 0) {
      if (errno == EEXIST && w.depth() == 0)
        return invalidArgument("the destination already exists");
      return sys::errnoError("mkdirat", subject, errno);
    }
    auto dir = fdops::openAt(dstFd(), dname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW, subject);
    if (!dir) return std::move(dir).error();
    auto ds = fdops::statFd(dir->get(), subject);
    if (!ds) return std::move(ds).error();
    dst_ids_.emplace_back(ds->st.st_dev, ds->st.st_ino);
    dst_cur_ = std::move(*dir);
    return ok();
  }

  Status leaveDir(const Walker& w, int dir_fd) override {
    const std::string subject = w.relHere();
    // Metadata now, after the contents: creating entries would move the mtime, and the
    // source's mode may forbid writing.
    auto fs = fdops::statFd(dir_fd, subject);
    if (!fs) return std::move(fs).error();
    KM_TRY(applyMetadata(Node{dir_fd, false}, Node{dst_cur_.get(), false}, fs->st, opts_.id_map,
                         subject));
    sys::UniqueFd up;
    if (dst_ids_.size() > 1) {
      auto parent = fdops::openAt(dst_cur_.get(), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
                                  subject + "/.. (copy)");
      if (!parent) return std::move(parent).error();
      auto ps = fdops::statFd(parent->get(), subject + "/.. (copy)");
      if (!ps) return std::move(ps).error();
      if (std::make_pair(ps->st.st_dev, ps->st.st_ino) != dst_ids_[dst_ids_.size() - 2]) {
        return unavailable(subject +
                           " of the copy was moved during the copy; refusing to continue");
      }
      up = std::move(*parent);
    }
    dst_ids_.pop_back();
    dst_cur_ = std::move(up);
    return ok();
  }

  Status afterDir(const Walker&, int, const std::string&) override { return ok(); }

 private:
  struct FirstCopy {
    std::string rel;     // where the first link was copied, relative to the roots
    nlink_t links_left;  // links still expected; the entry is dropped at 0
  };

  // The destination directory matching the walker's current one.
  int dstFd() const { return dst_ids_.empty() ? dst_parent_ : dst_cur_.get(); }

  Status copyRegular(int opath_fd, const struct stat& st, const std::string& dname,
                     const std::string& subject) {
    auto src = fdops::reopenRegularForRead(opath_fd, st, subject);
    if (!src) return std::move(src).error();
    auto dst = fdops::openAt(dstFd(), dname.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
                             subject, 0600);
    if (!dst) return std::move(dst).error();
    KM_TRY(copyFileData(src->get(), dst->get(), st.st_size, subject));
    return applyMetadata(Node{src->get(), false}, Node{dst->get(), false}, st, opts_.id_map,
                         subject);
  }

  Status copySymlink(int opath_fd, const struct stat& st, const std::string& dname,
                     const std::string& subject) {
    // readlinkat on the O_PATH fd reads the link we stat'ed, not whatever the name is now.
    std::string target(std::max<size_t>(static_cast<size_t>(st.st_size) + 1, 256), '\0');
    for (;;) {
      ssize_t n = fdops::retryEintr(
          [&] { return ::readlinkat(opath_fd, "", target.data(), target.size()); });
      if (n < 0) return sys::errnoError("readlinkat", subject, errno);
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        break;
      }
      if (target.size() > 64 * 1024) return unavailable(subject + ": symlink target too long");
      target.resize(target.size() * 2);
    }
    const int dir = dstFd();
    if (fdops::retryEintr([&] { return ::symlinkat(target.c_str(), dir, dname.c_str()); }) != 0) {
      return sys::errnoError("symlinkat", subject, errno);
    }
    return finishSpecial(opath_fd, st, dname, subject);
  }

  Status copySpecial(int opath_fd, const struct stat& st, const std::string& dname,
                     const std::string& subject) {
    const dev_t rdev = S_ISFIFO(st.st_mode) ? 0 : st.st_rdev;
    const mode_t type = st.st_mode & S_IFMT;
    const int dir = dstFd();
    if (fdops::retryEintr([&] { return ::mknodat(dir, dname.c_str(), type | 0600, rdev); }) != 0) {
      return sys::errnoError("mknodat", subject, errno);
    }
    return finishSpecial(opath_fd, st, dname, subject);
  }

  // Owner, xattrs, mode and times for a symlink, device or FIFO we just created: neither side
  // can be opened for I/O, so both are handled through O_PATH fds.
  Status finishSpecial(int opath_fd, const struct stat& st, const std::string& dname,
                       const std::string& subject) {
    auto dst = fdops::openAt(dstFd(), dname.c_str(), O_PATH | O_NOFOLLOW, subject);
    if (!dst) return std::move(dst).error();
    return applyMetadata(Node{opath_fd, true}, Node{dst->get(), true}, st, opts_.id_map, subject);
  }

  // Links `dname` in the current destination directory to the copy at `rel`. Walks there from
  // the destination root one component at a time (two fds at most): the path may be longer
  // than PATH_MAX, and keeping an fd per linked inode would not be bounded.
  Status linkToCopy(const std::string& rel, const std::string& dname, const std::string& subject) {
    auto dir = fdops::openAt(dst_parent_, dst_root_.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW,
                             "the copy's root");
    if (!dir) return std::move(dir).error();
    size_t start = 0;
    for (size_t slash; (slash = rel.find('/', start)) != std::string::npos; start = slash + 1) {
      const std::string component = rel.substr(start, slash - start);
      auto next = fdops::openAt(dir->get(), component.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW,
                                rel + " (copy)");
      if (!next) return std::move(next).error();
      *dir = std::move(*next);
    }
    const std::string last = rel.substr(start);
    if (fdops::retryEintr(
            [&] { return ::linkat(dir->get(), last.c_str(), dstFd(), dname.c_str(), 0); }) != 0) {
      return sys::errnoError("linkat", subject + " -> " + rel, errno);
    }
    return ok();
  }

  const int dst_parent_;
  const std::string dst_root_;
  const CopyOptions& opts_;
  sys::UniqueFd dst_cur_;  // the destination directory being filled (walk depth ≥ 1)
  std::vector<std::pair<dev_t, ino_t>> dst_ids_;  // identity of each destination dir entered
  std::map<std::pair<dev_t, ino_t>, FirstCopy> links_;
};

}  // namespace

Status copyTree(const std::string& from, const std::string& to, const CopyOptions& opts) {
  const std::string what = "copying " + from + " to " + to;
  auto src = openParent(from);
  if (!src) return std::move(src).error().context(what);
  auto dst = openParent(to);
  if (!dst) return std::move(dst).error().context(what);
  struct stat st {};
  if (::fstatat(dst->parent.get(), dst->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    return invalidArgument(what + ": the destination already exists");
  }
  CopyVisitor v(dst->parent.get(), dst->name, opts);
  Walker w;
  Status s = w.run(src->parent.get(), src->name, v);
  if (!s) return std::move(s).error().context(what);
  return ok();
}

}  // namespace km::tree
