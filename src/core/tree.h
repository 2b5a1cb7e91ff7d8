// km::tree — host-side copy, removal and owner changes of trees a sandbox can write to
// (overlay upper dirs, workspaces, homes), safe while the sandbox still changes them: fd-relative,
// no symlink followed, no mount entered, bounded fds at any depth, one name per syscall.
// Thread-safe (no shared state). Needs /proc; for plain trees, not an overlay's merged view.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace km::tree {

// Each function takes a path whose components above the last are trusted host paths (opened
// normally); the last component and everything below it are attacker-controlled. Inodes are
// pinned with O_PATH fds and reached through /proc/self/fd for reopen, chmod and xattrs. An
// overlay's merged view would not work: its files report the devices of their layers.

// Maps exactly one uid and one gid; every other id is kept.
struct IdMap {
  uid_t from_uid = 0;
  uid_t to_uid = 0;
  gid_t from_gid = 0;
  gid_t to_gid = 0;
};

struct CopyOptions {
  // Applied to the owners of the copy (the source is never changed).
  std::optional<IdMap> id_map;
};

// Removes `path` and everything below it; a symlink (at `path` or below) is unlinked, never
// followed. A missing `path` is fine. Fails without descending when a directory below is a
// mount point ("… is a mount point; unmount it first"), and when a directory is moved out from
// under the walk. Entries that appear while it runs are removed by up to a few extra passes;
// a tree that keeps changing fails with Unavailable. Errors name the path relative to `path`.
[[nodiscard]] Status removeTree(const std::string& path);

// Copies `from` to `to`, which must not exist (InvalidArgument if it does; NotFound if `from`
// is missing). Keeps directories, file data (holes stay holes; copy_file_range lets
// reflinking file systems share extents), symlinks as symlinks, hard links within the tree,
// character and block devices (overlay whiteouts are 0:0), FIFOs, owners (through
// opts.id_map), permission bits with setuid/setgid/sticky, access and modification times and
// every extended attribute (trusted.overlay.* included). Sockets are skipped. An entry that
// vanishes during the copy is skipped; the copy never reads anything outside `from`. `to`
// stays 0700 until everything below it is copied. On failure the partial copy is left for
// the caller to remove (removeTree).
[[nodiscard]] Status copyTree(const std::string& from, const std::string& to,
                              const CopyOptions& opts = {});

// InvalidArgument (naming the start of the path) when a directory below `path` is more than
// `max_depth` levels below it; stops there, so the cost is bounded by the first such branch.
// No symlink followed, no mount entered.
[[nodiscard]] Status checkDepth(const std::string& path, size_t max_depth);

// The disk space (allocated blocks) of `path` and everything below it, each inode once; no
// symlink followed, no mount entered, any depth. NotFound when `path` is missing.
[[nodiscard]] Result<int64_t> diskUsage(const std::string& path);

// Changes the owner of every entry of `root` (itself included; symlinks themselves, never
// their targets) owned by map.from_uid to map.to_uid, and group map.from_gid to map.to_gid.
// Regular files keep their setuid/setgid bits (chown clears them; they are put back). File
// capabilities (security.capability) are cleared by the kernel on chown and not restored.
// NotFound if `root` is missing; mount points below fail as in removeTree.
[[nodiscard]] Status remapOwners(const std::string& root, const IdMap& map);

}  // namespace km::tree
