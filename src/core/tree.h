// km::tree — host-side copy, removal and owner changes of file trees a sandbox can write to
// (overlay upper dirs, workspaces, homes) while the sandbox may still be changing them.
// Every name below the root is attacker-controlled: the walks are fd-relative, never follow
// a symlink, never cross into another mount, never read outside the root, keep a bounded
// number of fds whatever the depth, and never pass a path longer than one component to the
// kernel. The components of the given path above its last one are trusted (host paths).
// Thread-safe: no shared state; concurrent calls on overlapping trees are the caller's race.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/result.h"

namespace km::tree {

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
// vanishes during the copy is skipped; the copy never reads anything outside `from`. On
// failure the partial copy is left for the caller to remove (removeTree).
// Needs /proc (files are reopened and special files' attributes reached via /proc/self/fd).
[[nodiscard]] Status copyTree(const std::string& from, const std::string& to,
                              const CopyOptions& opts = {});

// Changes the owner of every entry of `root` (itself included; symlinks themselves, never
// their targets) owned by map.from_uid to map.to_uid, and group map.from_gid to map.to_gid.
// Regular files keep their setuid/setgid bits (chown clears them; they are put back). File
// capabilities (security.capability) are cleared by the kernel on chown and not restored.
// NotFound if `root` is missing; mount points below fail as in removeTree.
[[nodiscard]] Status remapOwners(const std::string& root, const IdMap& map);

}  // namespace km::tree
