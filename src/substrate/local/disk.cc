#include "substrate/local/disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/fs.h"
#include "core/strings.h"
#include "core/sys.h"
#include "core/tree.h"

namespace km::substrate::local {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
// btrfs gives the root directory of every subvolume this inode number.
constexpr ino_t kSubvolumeRootIno = 256;

struct StorePaths {
  std::string image, mount, marker, lock;
  explicit StorePaths(std::string_view home)
      : image(std::string(home) + "/disk.img"),
        mount(std::string(home) + "/disk"),
        marker(std::string(home) + "/disk.unenforced"),
        lock(std::string(home) + "/disk.lock") {}
};

bool mountedStore(const std::string& mount) {
  struct statx stx {};
  if (::statx(AT_FDCWD, mount.c_str(), AT_SYMLINK_NOFOLLOW, STATX_INO, &stx) != 0) return false;
  if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0 ||
      (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) == 0) {
    return false;
  }
  struct statfs sfs {};
  return ::statfs(mount.c_str(), &sfs) == 0 && sfs.f_type == BTRFS_SUPER_MAGIC;
}

// Holds an exclusive lock on the home's disk.lock until destroyed.
Result<sys::UniqueFd> lockStore(const StorePaths& p) {
  auto fd = sys::open(p.lock, O_RDWR | O_CREAT, 0600);
  if (!fd) return std::move(fd).error();
  int rc;
  do {
    rc = ::flock(fd->get(), LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return sys::errnoError("flock", p.lock, errno);
  return fd;
}

// A free loop device bound to `image` (autoclear: it detaches when its last user — the
// mount — goes). The returned fd keeps it until the caller has mounted it.
Result<std::pair<std::string, sys::UniqueFd>> attachLoop(const std::string& image) {
  auto backing = sys::open(image, O_RDWR);
  if (!backing) return std::move(backing).error();
  auto control = sys::open("/dev/loop-control", O_RDWR);
  if (!control) return std::move(control).error().context("loop devices");
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(control->get(), LOOP_CTL_GET_FREE);
    if (n < 0) return sys::errnoError("ioctl", "LOOP_CTL_GET_FREE", errno);
    std::string dev = "/dev/loop" + std::to_string(n);
    auto loop = sys::open(dev, O_RDWR);
    if (!loop) return std::move(loop).error();
    loop_config cfg{};
    cfg.fd = static_cast<__u32>(backing->get());
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    std::strncpy(reinterpret_cast<char*>(cfg.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    int rc = ::ioctl(loop->get(), LOOP_CONFIGURE, &cfg);
    if (rc != 0 && errno == EINVAL) {
      cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;  // the backing filesystem refuses direct I/O
      rc = ::ioctl(loop->get(), LOOP_CONFIGURE, &cfg);
    }
    if (rc == 0) return std::pair{dev, std::move(*loop)};
    if (errno != EBUSY) return sys::errnoError("ioctl", "LOOP_CONFIGURE " + dev, errno);
    // Another process took this device between GET_FREE and CONFIGURE: ask again.
  }
  return unavailable("no free loop device after 16 tries");
}

Status mountImage(const StorePaths& p) {
  KM_TRY(sys::makeDirs(p.mount, 0700));
  // Never over disks that live in the directory itself (sandboxes made without the store):
  // they would vanish under the mount.
  if (DIR* d = ::opendir(p.mount.c_str())) {
    bool empty = true;
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") empty = false;
    }
    ::closedir(d);
    if (!empty) {
      return unavailable(p.mount + " holds disks of sandboxes made without the disk store; destroy them "
                         "(or set disk.store: none) before the store can be used");
    }
  }
  auto loop = attachLoop(p.image);
  if (!loop) return std::move(loop).error();
  // nodiscard: freed blocks must not be punched out of the preallocated image, or the host
  // filesystem could run out under a store that believes it has room.
  if (::mount(loop->first.c_str(), p.mount.c_str(), "btrfs", MS_NOSUID | MS_NODEV | MS_NOATIME,
              "nodiscard") != 0) {
    return sys::errnoError("mount", loop->first + " on " + p.mount, errno);
  }
  if (::chmod(p.mount.c_str(), 0700) != 0) return sys::errnoError("chmod", p.mount, errno);
  return ok();
}

int64_t defaultStoreBytes(const std::string& home) {
  struct statvfs vfs {};
  if (::statvfs(home.c_str(), &vfs) != 0) return 0;
  int64_t free_bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  // Preallocated, so modest: other homes and the host need room too (disk.size says more).
  return std::clamp<int64_t>(free_bytes / 10, kGiB, 64 * kGiB);
}

Status makeStore(const StorePaths& p, const std::string& home, const DiskSettings& s) {
  int64_t bytes = s.store_bytes > 0 ? s.store_bytes : defaultStoreBytes(home);
  if (bytes < kGiB / 4) return invalidArgument("disk.size: a store needs at least 256Mi");
  auto image = sys::open(p.image, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (!image) return std::move(image).error();
  auto undo = [&](Error e) -> Status {
    (void)::umount2(p.mount.c_str(), MNT_DETACH);
    ::unlink(p.image.c_str());
    return e;
  };
  // Preallocated, so the host filesystem can never fail a write the store accepted.
  if (::fallocate(image->get(), 0, 0, bytes) != 0) {
    return undo(sys::errnoError("fallocate", p.image + " (" + std::to_string(bytes >> 20) + " MiB)", errno));
  }
  image->reset();
  // -K: no discard (keeps the preallocation); single copies of metadata: the image sits on
  // the host's own storage, a second copy on the same file protects nothing.
  if (auto s = sys::runProgram({"mkfs.btrfs", "-q", "-f", "-K", "-m", "single", "-d", "single",
                                "-L", "km-disk", p.image});
      !s) {
    return undo(std::move(s).error());
  }
  if (auto s = mountImage(p); !s) return undo(std::move(s).error());
  auto root = sys::open(p.mount, O_RDONLY | O_DIRECTORY);
  if (!root) return undo(std::move(root).error());
  btrfs_ioctl_quota_ctl_args q{};
  q.cmd = BTRFS_QUOTA_CTL_ENABLE;
  if (::ioctl(root->get(), BTRFS_IOC_QUOTA_CTL, &q) != 0) {
    return undo(sys::errnoError("ioctl", "BTRFS_IOC_QUOTA_CTL enable on " + p.mount, errno));
  }
  return ok();
}

Result<sys::UniqueFd> openRoot(const std::string& root) {
  return sys::open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

Status checkName(std::string_view name) {
  if (name.empty() || name.size() > BTRFS_SUBVOL_NAME_MAX || name.find('/') != std::string_view::npos ||
      name == "." || name == "..") {
    return invalidArgument("not a disk name: " + std::string(name));
  }
  return ok();
}

Status setLimit(const std::string& path, int64_t limit_bytes) {
  if (limit_bytes <= 0) return ok();
  auto fd = sys::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!fd) return std::move(fd).error();
  btrfs_ioctl_qgroup_limit_args args{};
  args.qgroupid = 0;  // the subvolume `fd` is in
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  args.lim.max_rfer = static_cast<__u64>(limit_bytes);
  if (::ioctl(fd->get(), BTRFS_IOC_QGROUP_LIMIT, &args) != 0) {
    return sys::errnoError("ioctl", "BTRFS_IOC_QGROUP_LIMIT on " + path, errno);
  }
  return ok();
}

}  // namespace

Result<Disks> Disks::attach(std::string_view km_home) {
  StorePaths p(km_home);
  Disks d;
  d.root_ = p.mount;
  if (mountedStore(p.mount)) {
    d.enforced_ = true;
    return d;
  }
  if (fs::exists(p.image)) {
    auto lock = lockStore(p);
    if (!lock) return std::move(lock).error();
    if (!mountedStore(p.mount)) {
      if (auto s = mountImage(p); !s) return std::move(s).error().context("mounting the disk store " + p.image);
    }
    d.enforced_ = true;
    return d;
  }
  d.reason_ = std::string(trim(fs::readFile(p.marker, 4096).value_or("this KM_HOME has no disk store")));
  KM_TRY(sys::makeDirs(p.mount, 0700));
  return d;
}

Result<Disks> Disks::prepare(std::string_view km_home, const DiskSettings& settings) {
  StorePaths p(km_home);
  if (settings.store != "none" && mountedStore(p.mount)) return attach(km_home);  // the usual case
  KM_TRY(sys::makeDirs(std::string(km_home), 0700));  // a new KM_HOME: the first create makes it
  auto lock = lockStore(p);
  if (!lock) return std::move(lock).error();
  if (settings.store == "none") {
    if (!fs::exists(p.image)) {
      (void)sys::replaceFile(p.marker, "disk.store is none in the operator config\n", 0600);
    }
    return attach(km_home);
  }
  if (fs::exists(p.image) || (settings.store == "auto" && fs::exists(p.marker))) return attach(km_home);
  std::string home = fs::absolutePath(km_home);
  Status made = makeStore(p, home, settings);
  if (!made) {
    if (settings.store == "loop") {
      return std::move(made).error().context("making the disk store " + p.image + " (disk.store: loop)");
    }
    (void)sys::replaceFile(p.marker, "no disk store could be made: " + made.error().message() + "\n", 0600);
  } else {
    ::unlink(p.marker.c_str());
  }
  return attach(km_home);
}

std::string Disks::path(std::string_view name) const { return root_ + "/" + std::string(name); }

Status Disks::create(std::string_view name, int64_t limit_bytes) const {
  KM_TRY(checkName(name));
  std::string target = path(name);
  if (!enforced_) {
    if (::mkdir(target.c_str(), 0700) != 0) return sys::errnoError("mkdir", target, errno);
    return ok();
  }
  auto root = openRoot(root_);
  if (!root) return std::move(root).error();
  btrfs_ioctl_vol_args args{};
  std::memcpy(args.name, name.data(), name.size());
  if (::ioctl(root->get(), BTRFS_IOC_SUBVOL_CREATE, &args) != 0) {
    return sys::errnoError("ioctl", "BTRFS_IOC_SUBVOL_CREATE " + target, errno);
  }
  Status made = ::chmod(target.c_str(), 0700) == 0 ? ok() : sys::errnoError("chmod", target, errno);
  if (made) made = setLimit(target, limit_bytes);
  if (!made) {
    (void)remove(name);
    return made;
  }
  return ok();
}

Status Disks::snapshot(std::string_view from, std::string_view to, int64_t limit_bytes) const {
  KM_TRY(checkName(from));
  KM_TRY(checkName(to));
  if (!enforced_) return invalidArgument("plain directories cannot be snapshotted");
  auto root = openRoot(root_);
  if (!root) return std::move(root).error();
  auto source = sys::open(path(from), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!source) return std::move(source).error();
  btrfs_ioctl_vol_args_v2 args{};
  args.fd = source->get();
  std::memcpy(args.name, to.data(), to.size());
  if (::ioctl(root->get(), BTRFS_IOC_SNAP_CREATE_V2, &args) != 0) {
    return sys::errnoError("ioctl", "BTRFS_IOC_SNAP_CREATE_V2 " + path(from) + " -> " + path(to), errno);
  }
  if (auto s = setLimit(path(to), limit_bytes); !s) {
    (void)remove(to);
    return s;
  }
  return ok();
}

Status Disks::remove(std::string_view name) const {
  KM_TRY(checkName(name));
  std::string target = path(name);
  struct stat st {};
  if (::lstat(target.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok();
    return sys::errnoError("stat", target, errno);
  }
  struct statfs sfs {};
  bool subvolume = S_ISDIR(st.st_mode) && st.st_ino == kSubvolumeRootIno &&
                   ::statfs(target.c_str(), &sfs) == 0 && sfs.f_type == BTRFS_SUPER_MAGIC;
  if (!subvolume) return tree::removeTree(target);
  auto root = openRoot(root_);
  if (!root) return std::move(root).error();
  btrfs_ioctl_vol_args args{};
  std::memcpy(args.name, name.data(), name.size());
  if (::ioctl(root->get(), BTRFS_IOC_SNAP_DESTROY, &args) != 0 && errno != ENOENT) {
    return sys::errnoError("ioctl", "BTRFS_IOC_SNAP_DESTROY " + target, errno);
  }
  return ok();
}

DiskStatus describeDisks(std::string_view km_home) {
  using State = DiskStatus::State;
  StorePaths p(km_home);
  if (mountedStore(p.mount)) {
    struct stat st {};
    int64_t bytes = ::stat(p.image.c_str(), &st) == 0 ? st.st_size : 0;
    return {State::kStore, "btrfs store of " + std::to_string(bytes >> 20) + " MiB at " + p.mount + " (quota per sandbox)"};
  }
  if (fs::exists(p.image)) {
    return {State::kStore, "not mounted: " + p.image + " (the next km command that needs it mounts it)"};
  }
  if (auto why = fs::readFile(p.marker, 4096)) return {State::kUnenforced, "not enforced: " + std::string(trim(*why))};
  return {State::kNoStoreYet, "no store yet (the first km create makes it)"};
}

}  // namespace km::substrate::local
