// Private to core: the one iterative walker behind km::tree's removal, copy and owner remap.
// It holds one fd for the directory being read (plus the trusted parent of the root), climbs
// back with openat("..") and checks it arrived where it came from, opens every entry with
// O_PATH|O_NOFOLLOW so its type and identity are fixed before anyone acts on it, and refuses
// to step into another mount. Not thread-safe; one Walker per walk.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sys.h"

namespace km::tree {

class Walker;

// What a walk does at each step. Any error stops the walk and is returned as is.
class TreeVisitor {
 public:
  virtual ~TreeVisitor() = default;
  // The root does not exist.
  virtual Status missingRoot() = 0;
  // A non-directory `name` in `dir_fd`. `opath_fd` (O_PATH|O_NOFOLLOW) is that very inode and
  // `st` its stat; the name may already point elsewhere, the fd cannot.
  virtual Status entry(const Walker& w, int dir_fd, const std::string& name, int opath_fd,
                       const struct stat& st) = 0;
  // Directory `name` of `parent_fd` was opened as `dir_fd` (O_RDONLY, stat `st`); its entries
  // come next.
  virtual Status enterDir(const Walker& w, int parent_fd, const std::string& name, int dir_fd,
                          const struct stat& st) = 0;
  // Every entry of `dir_fd` was visited; the walk is still inside it.
  virtual Status leaveDir(const Walker& w, int dir_fd) = 0;
  // After climbing out: directory `name` of `parent_fd` is done.
  virtual Status afterDir(const Walker& w, int parent_fd, const std::string& name) = 0;
};

class Walker {
 public:
  Walker() = default;
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  // Walks the entry `root_name` of `parent_fd` (a trusted directory the caller keeps open for
  // the whole walk) and everything below it, depth first. Returns the first error of the walk
  // or of `v`.
  [[nodiscard]] Status run(int parent_fd, const std::string& root_name, TreeVisitor& v);

  // 0 while the root itself is being visited (as an entry of its parent), 1 inside the root.
  size_t depth() const { return stack_.empty() ? 0 : stack_.size() - 1; }
  // Path of `name` in the current directory relative to the root ("." for the root).
  std::string rel(std::string_view name) const;
  // Path of the current directory relative to the root.
  std::string relHere() const { return rel_.empty() ? "." : rel_; }

 private:
  struct Frame {
    std::vector<std::string> pending;  // entry names not yet visited
    std::string name;                  // this directory's name in its parent
    dev_t dev = 0;                     // identity, checked when climbing back into it
    ino_t ino = 0;
    size_t rel_len = 0;  // rel_.size() before this directory's name was added
  };

  int curFd() const { return depth() == 0 ? parent_fd_ : cur_.get(); }
  Status visitEntry(const std::string& name, TreeVisitor& v);
  Status climb(TreeVisitor& v);

  int parent_fd_ = -1;
  sys::UniqueFd cur_;  // the directory being read (depth ≥ 1)
  std::vector<Frame> stack_;
  std::string rel_;
  dev_t root_dev_ = 0;
  uint64_t root_mnt_id_ = 0;
  bool root_has_mnt_id_ = false;
};

// The split of a caller's path into its trusted parent (opened O_DIRECTORY, following
// symlinks: it is a host path) and its last component, which the walk treats as untrusted.
// InvalidArgument for "", "/", and a last component of "." or "..".
struct RootedPath {
  sys::UniqueFd parent;
  std::string name;
};
[[nodiscard]] Result<RootedPath> openParent(const std::string& path);

}  // namespace km::tree
