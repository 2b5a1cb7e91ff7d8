#include "core/tree_walk.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "core/fd_ops.h"

namespace km::tree {

std::string Walker::rel(std::string_view name) const {
  if (depth() == 0) return ".";
  if (rel_.empty()) return std::string(name);
  std::string out = rel_;
  out += '/';
  out += name;
  return out;
}

Status Walker::run(int parent_fd, const std::string& root_name, TreeVisitor& v) {
  parent_fd_ = parent_fd;
  cur_.reset();
  rel_.clear();
  stack_.clear();
  // Depth 0 is the trusted parent; its one pending entry is the root.
  stack_.push_back(Frame{{root_name}, "", 0, 0, 0});
  for (;;) {
    Frame& top = stack_.back();
    if (!top.pending.empty()) {
      std::string name = std::move(top.pending.back());
      top.pending.pop_back();
      KM_TRY(visitEntry(name, v));
    } else if (depth() == 0) {
      return ok();
    } else {
      KM_TRY(climb(v));
    }
  }
}

Status Walker::visitEntry(const std::string& name, TreeVisitor& v) {
  const std::string subject = rel(name);
  const int dir = curFd();
  // O_PATH|O_NOFOLLOW pins the inode the name points at now, with no side effect whatever it
  // is (a FIFO does not block, a device is not opened, a symlink is the link itself). From
  // here on type, owner and mount are read from this fd, so a rename racing with us can
  // change what the name means but not what we act on.
  int raw = fdops::retryEintr(
      [&] { return ::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC); });
  if (raw < 0) {
    // Vanished since readdir (the tree may be live): nothing to do. A missing root is the
    // visitor's call (fine for removal, an error for copy).
    if (errno == ENOENT) return depth() == 0 ? v.missingRoot() : ok();
    return sys::errnoError("openat", subject, errno);
  }
  sys::UniqueFd opath(raw);
  auto fs = fdops::statFd(opath.get(), subject);
  if (!fs) return std::move(fs).error();
  const struct stat st = fs->st;

  if (depth() == 0) {
    root_dev_ = st.st_dev;
    root_mnt_id_ = fs->mnt_id;
    root_has_mnt_id_ = fs->has_mnt_id;
  } else if (st.st_dev != root_dev_ ||
             (root_has_mnt_id_ && fs->has_mnt_id && fs->mnt_id != root_mnt_id_)) {
    // st_dev alone misses a bind mount of the same file system; the mount id does not.
    return unavailable(subject + " is a mount point; unmount it first");
  }

  if (!S_ISDIR(st.st_mode)) return v.entry(*this, dir, name, opath.get(), st);

  // "." through the O_PATH fd reopens exactly the directory we stat'ed, for reading.
  auto child = fdops::openAt(opath.get(), ".", O_RDONLY | O_DIRECTORY, subject);
  if (!child) return std::move(child).error();
  opath.reset();
  KM_TRY(v.enterDir(*this, dir, name, child->get(), st));
  // Reading all names now lets us close this directory while we are below it, so the number
  // of open fds does not grow with depth. Memory grows with the entries still pending on the
  // path from the root, which the tree's own size bounds.
  auto names = fdops::readDirNames(child->get(), subject);
  if (!names) return std::move(names).error();

  Frame frame{std::move(*names), name, st.st_dev, st.st_ino, rel_.size()};
  if (depth() >= 1) {
    if (!rel_.empty()) rel_ += '/';
    rel_ += name;
  }
  stack_.push_back(std::move(frame));
  cur_ = std::move(*child);  // closes the parent's fd; climb() reopens it through ".."
  return ok();
}

Status Walker::climb(TreeVisitor& v) {
  KM_TRY(v.leaveDir(*this, cur_.get()));
  sys::UniqueFd up;
  if (depth() > 1) {
    const std::string here = relHere();
    auto parent =
        fdops::openAt(cur_.get(), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, here + "/..");
    if (!parent) return std::move(parent).error();
    auto ps = fdops::statFd(parent->get(), here + "/..");
    if (!ps) return std::move(ps).error();
    // If the directory was renamed elsewhere while we were inside it, ".." is no longer the
    // directory whose remaining entries we hold. Carrying on would apply them to the wrong
    // directory, so stop.
    const Frame& expected = stack_[stack_.size() - 2];
    if (ps->st.st_dev != expected.dev || ps->st.st_ino != expected.ino) {
      return unavailable(here +
                         " was moved while being walked (its parent is no longer the "
                         "directory it was entered from); refusing to continue");
    }
    up = std::move(*parent);
  }
  std::string name = std::move(stack_.back().name);
  rel_.resize(stack_.back().rel_len);
  stack_.pop_back();
  cur_ = std::move(up);  // at depth 0 this leaves cur_ empty and curFd() is the parent
  return v.afterDir(*this, curFd(), name);
}

Result<RootedPath> openParent(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p.empty() || p == "/") return invalidArgument("refusing to walk '" + path + "'");
  size_t slash = p.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
  std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
  if (name == "." || name == "..") {
    return invalidArgument("refusing to walk '" + path + "': name its directory instead");
  }
  auto fd = sys::open(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return std::move(fd).error();
  return RootedPath{std::move(*fd), std::move(name)};
}

}  // namespace km::tree
