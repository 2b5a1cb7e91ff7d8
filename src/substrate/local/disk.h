// A local sandbox's disk: everything it can write (overlay upper dir, workspace, homes, an
// additional volume) lives in a btrfs subvolume whose quota group limits its size, on a
// store km makes per KM_HOME — a preallocated image file, loop-mounted nosuid,nodev at
// $KM_HOME/disk. A write past the limit fails inside the sandbox with EDQUOT ("Disk quota
// exceeded"); metadata (inodes, directories) counts against the same limit. Clones are
// snapshots; removal is the kernel's subvolume delete (no walk of a hostile tree).
//
// Where no store can be made (no loop devices, no btrfs, `disk.store: none`), disks are plain
// directories under $KM_HOME/disk and sizes are not enforced; enforced() says so and why.
// Needs root. Thread-compatible; any number of processes (the store is set up under a lock).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "substrate/substrate.h"

namespace km::substrate::local {

// The operator's choice (config `disk`).
using DiskSettings = substrate::DiskSettings;

class Disks {
 public:
  // The home's store, made and mounted first when needed. With store "loop" a store that
  // cannot be made is an error; with "auto" the reason is remembered
  // ($KM_HOME/disk.unenforced) and disks are plain directories from then on.
  [[nodiscard]] static Result<Disks> prepare(std::string_view km_home, const DiskSettings& settings);
  // The home's store as it was prepared: mounted again if its image exists but is not
  // mounted (after a reboot); plain directories when the home has no store.
  [[nodiscard]] static Result<Disks> attach(std::string_view km_home);

  bool enforced() const { return enforced_; }
  // Why sizes are not enforced ("" when they are).
  const std::string& unenforcedReason() const { return reason_; }
  // $KM_HOME/disk/<name>.
  std::string path(std::string_view name) const;

  // A new empty disk `name` of at most `limit_bytes` (0: no limit). AlreadyExists is an
  // error (Unavailable); the caller owns removal.
  [[nodiscard]] Status create(std::string_view name, int64_t limit_bytes) const;
  // A new disk `to` with the contents of `from` at this instant (a snapshot), limited like
  // create(). InvalidArgument when the store does not enforce (plain directories cannot be
  // snapshotted; the caller copies instead).
  [[nodiscard]] Status snapshot(std::string_view from, std::string_view to, int64_t limit_bytes) const;
  // Removes disk `name` and everything in it; a missing disk is fine. A subvolume goes in one
  // kernel call whatever it holds; a plain directory is removed by km::tree::removeTree.
  [[nodiscard]] Status remove(std::string_view name) const;

 private:
  std::string root_;  // $KM_HOME/disk
  bool enforced_ = false;
  std::string reason_;
};

// How the home's disk sizes are enforced, and a line for people (`km doctor`, `km status`).
struct DiskStatus {
  enum class State { kStore, kNoStoreYet, kUnenforced } state = State::kNoStoreYet;
  std::string text;
};
DiskStatus describeDisks(std::string_view km_home);

}  // namespace km::substrate::local
