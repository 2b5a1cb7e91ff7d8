#include "substrate/local/rootfs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/beneath.h"
#include "core/fs.h"
#include "core/sys.h"

namespace km::substrate::local {
namespace {

Status doMount(const char* source, const std::string& target, const char* type,
               unsigned long flags, const std::string& data = "") {
  if (::mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) {
    return sys::errnoError("mount", std::string(type ? type : source ? source : "") + ", " + target,
                           errno);
  }
  return ok();
}

// A read-only bind: bind first, then remount the bind read-only (one call cannot do both).
Status bindReadOnly(const std::string& source, const std::string& target, bool recursive) {
  unsigned long rec = recursive ? MS_REC : 0;
  KM_TRY(doMount(source.c_str(), target, nullptr, MS_BIND | rec));
  return doMount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | rec);
}

// Inside the fresh tmpfs at `dev` (nothing of the sandbox's is in it).
Status buildDev(const std::string& dev) {
  // The same character devices as the host's (one mknod each; cheaper than a bind mount).
  struct Device {
    const char* name;
    unsigned major, minor;
  };
  for (Device d : {Device{"null", 1, 3}, Device{"zero", 1, 5}, Device{"full", 1, 7},
                   Device{"random", 1, 8}, Device{"urandom", 1, 9}, Device{"tty", 5, 0}}) {
    std::string target = dev + "/" + d.name;
    if (::mknod(target.c_str(), S_IFCHR | 0666, makedev(d.major, d.minor)) != 0) {
      return sys::errnoError("mknod", target, errno);
    }
    ::chmod(target.c_str(), 0666);  // mknod's mode is reduced by the umask
  }
  KM_TRY(sys::makeDirs(dev + "/pts", 0755));
  // A private devpts with a cap of its own: ptys come from one pool shared by every devpts
  // instance on the host, and one sandbox must not drain it for the others.
  KM_TRY(doMount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620,max=" + std::to_string(kPtysPerSandbox)));
  KM_TRY(sys::makeDirs(dev + "/shm", 01777));
  KM_TRY(doMount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
  KM_TRY(sys::makeDirs(dev + "/mqueue", 0755));
  struct Link {
    const char* target;
    const char* name;
  };
  for (Link l : {Link{"pts/ptmx", "ptmx"}, Link{"/proc/self/fd", "fd"},
                 Link{"/proc/self/fd/0", "stdin"}, Link{"/proc/self/fd/1", "stdout"},
                 Link{"/proc/self/fd/2", "stderr"}}) {
    if (::symlink(l.target, (dev + "/" + l.name).c_str()) != 0) {
      return sys::errnoError("symlink", dev + "/" + l.name, errno);
    }
  }
  return ok();
}

// On the fresh proc mount at `proc`.
Status maskProc(const std::string& proc) {
  // Kernel knobs stay read-only even for --root; dumps of kernel memory are masked.
  for (const char* p : {"sys", "sysrq-trigger", "irq", "bus", "fs"}) {
    std::string path = proc + "/" + p;
    if (fs::exists(path)) KM_TRY(bindReadOnly(path, path, true));
  }
  for (const char* p : {"kcore", "keys", "timer_list", "kallsyms"}) {
    std::string path = proc + "/" + p;
    if (fs::exists(path)) KM_TRY(doMount("/dev/null", path, nullptr, MS_BIND));
  }
  return ok();
}

// A directory inside the new root, made when missing, reached without following any symlink:
// the overlay's upper layer is the sandbox's, and here (before pivot_root) an absolute link
// would resolve against the host's root. Mounts go onto the fd (/proc/self/fd/N), so the
// place cannot be swapped between lookup and mount either.
struct Target {
  sys::UniqueFd fd;
  std::string path;   // for messages
  std::string proc;   // /proc/self/fd/N
};
Result<Target> target(int root_fd, const std::string& root, std::string_view inside, mode_t mode) {
  std::string rel(inside);
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  Target t;
  t.path = root + "/" + rel;
  if (rel.empty()) {
    return invalidArgument("cannot mount over the sandbox's root itself");
  }
  auto fd = beneath::openDir(root_fd, rel, /*create=*/true, mode, std::nullopt);
  if (!fd) return std::move(fd).error().context("inside the sandbox");
  t.fd = std::move(*fd);
  t.proc = "/proc/self/fd/" + std::to_string(t.fd.get());
  return t;
}

// Bind `source` (a directory of km's) at `inside`, without setuid or device files: the files
// behind these binds sit on the host's disk, and must never become a setuid program or a
// device node there.
Status bindDir(int root_fd, const std::string& root, const std::string& source, std::string_view inside) {
  auto t = target(root_fd, root, inside, 0755);
  if (!t) return std::move(t).error();
  if (::mount(source.c_str(), t->proc.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return sys::errnoError("mount", "bind " + source + ", " + t->path, errno);
  }
  // A bind keeps its source mount's flags: from the disk store (mounted nosuid,nodev) it has
  // them already; plain directories on the host's root need the remount. (A remount
  // applies to the new mount at the place, which the fd no longer names.)
  struct statvfs vfs {};
  if (::statvfs(t->path.c_str(), &vfs) == 0 && (vfs.f_flag & ST_NOSUID) != 0 && (vfs.f_flag & ST_NODEV) != 0) {
    return ok();
  }
  if (::mount(nullptr, t->path.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    return sys::errnoError("mount", "remount nosuid,nodev " + t->path, errno);
  }
  return ok();
}

Status mountAt(int root_fd, const std::string& root, std::string_view inside, mode_t mode, const char* type,
               unsigned long flags, const std::string& data) {
  auto t = target(root_fd, root, inside, mode);
  if (!t) return std::move(t).error();
  if (::mount(type, t->proc.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) {
    return sys::errnoError("mount", std::string(type) + ", " + t->path, errno);
  }
  return ok();
}

}  // namespace

Status buildRootfs(const Layout& layout, const LaunchSpec& spec) {
  const std::string& root = layout.root;
  // Nothing done here may propagate back to the host's mounts.
  KM_TRY(doMount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE));
  // nosuid,nodev on the root too: a device node or setuid file on the host's root
  // filesystem (outside /dev) must not become usable inside.
  // The lower layers: the host's root, or an image's layers (read-only, shared by every
  // sandbox of that image).
  std::string lower;
  for (const auto& d : spec.lower_dirs) lower += (lower.empty() ? "" : ":") + d;
  if (lower.empty()) lower = "/";
  std::string options = "lowerdir=" + lower + ",upperdir=" + layout.upper + ",workdir=" + layout.work;
  if (options.size() >= 4096) {
    return invalidArgument("the image has too many layers for one overlay mount (" + std::to_string(spec.lower_dirs.size()) +
                           "); bake it into fewer");
  }
  KM_TRY(doMount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, options));
  auto root_fd = sys::open(root, O_PATH | O_DIRECTORY);
  if (!root_fd) return std::move(root_fd).error();
  int rfd = root_fd->get();
  // km's own state (other sandboxes' files, the fleet database) is invisible inside. A
  // symlink on the way there means the sandbox replaced a directory of the host's path: then
  // the path does not lead to the host's state, but refuse rather than guess.
  if (!spec.km_home.empty() && spec.km_home != "/") {
    std::string rel = spec.km_home.substr(1);
    auto hidden = beneath::openDir(rfd, rel, /*create=*/false, 0, std::nullopt);
    if (hidden) {
      std::string proc = "/proc/self/fd/" + std::to_string(hidden->get());
      if (::mount("tmpfs", proc.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=4k") != 0) {
        return sys::errnoError("mount", "tmpfs over " + spec.km_home, errno);
      }
    } else if (hidden.error().code() != ErrorCode::kNotFound) {
      return std::move(hidden).error().context("hiding km's state directory " + spec.km_home);
    }
  }
  KM_TRY(mountAt(rfd, root, "/tmp", 01777, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
  KM_TRY(mountAt(rfd, root, "/run", 0755, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"));
  // Host users' homes are not the sandbox's business: /home holds only the sandbox user.
  KM_TRY(mountAt(rfd, root, "/home", 0755, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"));
  KM_TRY(bindDir(rfd, root, layout.home, "/home/" + spec.user.name));
  KM_TRY(bindDir(rfd, root, layout.root_home, "/root"));
  KM_TRY(bindDir(rfd, root, layout.workspace, spec.working_dir));
  if (!spec.volume_mount.empty()) KM_TRY(bindDir(rfd, root, layout.volume, spec.volume_mount));
  KM_TRY(mountAt(rfd, root, "/dev", 0755, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m"));
  KM_TRY(buildDev(root + "/dev"));
  KM_TRY(mountAt(rfd, root, "/proc", 0555, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));
  KM_TRY(maskProc(root + "/proc"));
  KM_TRY(mountAt(rfd, root, "/sys", 0555, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));
  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only ours.
  if (::chdir(root.c_str()) != 0) return sys::errnoError("chdir", root, errno);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys::errnoError("pivot_root", root, errno);
  if (::umount2(".", MNT_DETACH) != 0) return sys::errnoError("umount2", "old root", errno);
  if (::chdir("/") != 0) return sys::errnoError("chdir", "/", errno);
  return ok();
}

namespace {

// Replaces the line for `name` in a passwd/group style file, keeping every other line.
std::string upsertLine(const std::string& text, const std::string& name, const std::string& line) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + pos, end - pos);
    if (!(l.size() > name.size() && l.substr(0, name.size()) == name && l[name.size()] == ':')) {
      out.append(l);
      out.push_back('\n');
    }
    pos = end + 1;
  }
  return out + line + "\n";
}

// Files km writes into the sandbox's root as its init (real root, every capability): the
// root's contents are the sandbox's, so nothing on the way may be a link it planted. Each
// file is replaced (written beside it, renamed over it), never written through.
constexpr std::pair<uid_t, gid_t> kRootOwner{0, 0};

Status upsertFile(int root_fd, std::string_view rel, const std::string& name, const std::string& line) {
  auto text = beneath::readFile(root_fd, rel, 16 << 20);
  if (!text && text.error().code() != ErrorCode::kNotFound) return std::move(text).error();
  return beneath::writeFile(root_fd, rel, upsertLine(text.value_or(""), name, line), 0644, kRootOwner);
}

}  // namespace

Status writeFirstStartFiles(const LaunchSpec& spec) {
  auto root = sys::open("/", O_PATH | O_DIRECTORY);
  if (!root) return std::move(root).error();
  int rfd = root->get();
  auto etc = beneath::openDir(rfd, "etc", /*create=*/true, 0755, kRootOwner);
  if (!etc) return std::move(etc).error();
  const auto& u = spec.user;
  std::string home = "/home/" + u.name;
  std::string shell = fs::exists("/bin/bash") ? "/bin/bash" : "/bin/sh";
  KM_TRY(upsertFile(etc->get(), "passwd", u.name,
                    u.name + ":x:" + std::to_string(u.uid) + ":" + std::to_string(u.gid) +
                        ":km sandbox:" + home + ":" + shell));
  KM_TRY(upsertFile(etc->get(), "group", u.name, u.name + ":x:" + std::to_string(u.gid) + ":"));
  auto hosts = beneath::readFile(etc->get(), "hosts", 16 << 20);
  std::string text = hosts ? *hosts : "127.0.0.1 localhost\n";
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  text += "127.0.1.1 " + spec.hostname + "\n";
  KM_TRY(beneath::writeFile(etc->get(), "hosts", text, 0644, kRootOwner));
  for (const auto& f : spec.config_files) {
    // Files for the agent (under its home or the working dir) belong to it, and so do the
    // directories made for them there.
    auto under = [&](const std::string& d) {
      return f.path.size() > d.size() && f.path.compare(0, d.size(), d) == 0 && f.path[d.size()] == '/';
    };
    bool agents = under(home) || under(spec.working_dir);
    std::pair<uid_t, gid_t> owner = agents ? std::pair<uid_t, gid_t>{u.uid, u.gid} : kRootOwner;
    std::string rel = f.path.substr(f.path.find_first_not_of('/'));
    std::string dir = rel.find('/') == std::string::npos ? "" : rel.substr(0, rel.rfind('/'));
    if (!dir.empty()) {
      auto made = beneath::openDir(rfd, dir, /*create=*/true, 0755, owner);
      if (!made) return std::move(made).error().context("configFiles " + f.path);
    }
    if (auto s = beneath::writeFile(rfd, rel, f.content, 0644, owner); !s) {
      return std::move(s).error().context("configFiles " + f.path);
    }
  }
  return ok();
}

namespace {

// The OS trust stores km extends, as the sandbox sees them, with the directory whose files
// that OS's store-rebuild command (update-ca-certificates, update-ca-trust) folds back in.
struct OsStore {
  const char* bundle;
  const char* anchors;
  const char* anchor_name;
};
constexpr OsStore kOsStores[] = {
    {"etc/ssl/certs/ca-certificates.crt", "usr/local/share/ca-certificates", "km-proxy-ca.crt"},  // Debian, Ubuntu
    {"etc/pki/tls/certs/ca-bundle.crt", "etc/pki/ca-trust/source/anchors", "km-sandbox-ca.pem"},    // Fedora, Amazon Linux
};

// What km writes before each CA it adds to an OS store. A clone's first start finds its
// source's CA by it (and those of the source's own ancestors) and leaves them out, so that a
// clone trusts its own CA only. Text outside a PEM block is ignored by every PEM reader.
constexpr const char* kUpstreamCaDir = "usr/local/share/ca-certificates";
constexpr const char* kUpstreamCaName = "km-proxy-ca.crt";
constexpr std::string_view kCaMarker = "# km sandbox CA (added by km at first start; a clone drops it)\n";
constexpr std::string_view kPemEnd = "-----END CERTIFICATE-----";

// The byte ranges of `text` that are CAs km added (marker to the end of the certificate's
// last line), in order.
std::vector<std::pair<size_t, size_t>> markedBlocks(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t at = text.find(kCaMarker); at != std::string_view::npos; at = text.find(kCaMarker, at)) {
    size_t end = text.find(kPemEnd, at + kCaMarker.size());
    end = end == std::string_view::npos ? text.size() : end + kPemEnd.size();
    if (end < text.size() && text[end] == '\r') ++end;
    if (end < text.size() && text[end] == '\n') ++end;
    out.emplace_back(at, end);
    at = end;
  }
  return out;
}

// Adds the marked `block` (marker + CA) to the OS bundle `rel`, leaving out the CAs km added
// before (a clone's source's); nothing to do when the bundle already ends with `block` alone.
// NotFound when this OS has no such bundle. The path is resolved as the sandbox sees it (a
// link, like Fedora's, is followed, but never out of the sandbox's root, through /proc, onto
// another mount or out of /etc); the file it leads to is then replaced by a copy (sendfile,
// inside the kernel) with the block appended, owned and moded as it was less any set-id bit.
// Appending in place would be simpler but slower: overlayfs copies a lower file up first and
// syncs that copy to disk, milliseconds at every create.
constexpr off_t kMaxOsBundleBytes = off_t{16} << 20;

Status appendToBundle(int root_fd, const char* rel, const std::string& block) {
  const std::string shown = std::string("/") + rel;
  int raw = sys::openat2(root_fd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK,
                         RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (raw < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return notFound(shown + " is missing");
    if (err == EXDEV) return invalidArgument(shown + " leads (by a symbolic link) onto another mount; the OS trust store must be a file of the sandbox's own root");
    if (err == ENXIO || err == ENODEV) return invalidArgument(shown + " is not a regular file");
    if (err == ELOOP) return invalidArgument(shown + ": too many levels of symbolic links");
    return sys::errnoError("openat2", shown, err);
  }
  sys::UniqueFd in(raw);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return sys::errnoError("fstat", shown, errno);
  if (!S_ISREG(st.st_mode)) return invalidArgument(shown + " is not a regular file");
  // A trust store is well under a megabyte; a clone's source could have left anything here.
  if (st.st_size > kMaxOsBundleBytes) {
    return invalidArgument(shown + " is larger than " + std::to_string(kMaxOsBundleBytes >> 20) + " MiB");
  }
  // Where the path led: the file's own directory and name below the root, which must be in
  // /etc (a clone's source may have pointed the store's name at any file of its root).
  std::string self = "/proc/self/fd/" + std::to_string(in.get());
  char where[PATH_MAX];
  ssize_t len = ::readlink(self.c_str(), where, sizeof where - 1);
  if (len < 2 || where[0] != '/') return sys::errnoError("readlink", self, len < 0 ? errno : ENOENT);
  std::string real(where + 1, static_cast<size_t>(len - 1));
  if (real.rfind("etc/", 0) != 0) {
    return invalidArgument(shown + " leads to /" + real + ", outside /etc; the OS trust store must be a file under /etc");
  }
  size_t slash = real.rfind('/');
  std::string dir = real.substr(0, slash);
  std::string name = real.substr(slash + 1);
  // The CAs km added before, found in a read-only map of the file.
  std::vector<std::pair<size_t, size_t>> marked;
  char last = '\n';
  const size_t size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, in.get(), 0);
    if (map == MAP_FAILED) return sys::errnoError("mmap", shown, errno);
    std::string_view text(static_cast<const char*>(map), size);
    marked = markedBlocks(text);
    bool done = marked.size() == 1 && marked[0].second == size && text.substr(marked[0].first) == block;
    ::munmap(map, size);
    if (done) return ok();  // a first start that ran before
  }
  // What is kept: the ranges between marked blocks.
  std::vector<std::pair<off_t, off_t>> keep;
  size_t from = 0;
  for (const auto& [b, e] : marked) {
    if (b > from) keep.emplace_back(static_cast<off_t>(from), static_cast<off_t>(b));
    from = e;
  }
  if (from < size) keep.emplace_back(static_cast<off_t>(from), static_cast<off_t>(size));
  if (!keep.empty() && ::pread(in.get(), &last, 1, keep.back().second - 1) != 1) {
    return sys::errnoError("read", shown, errno);
  }
  auto dir_fd = beneath::openDir(root_fd, dir, /*create=*/false, 0, std::nullopt);
  if (!dir_fd) return std::move(dir_fd).error().context(shown);
  const std::string tmp = "." + name + ".km-tmp";
  const std::string tmp_shown = "/" + dir + "/" + tmp;
  if (::unlinkat(dir_fd->get(), tmp.c_str(), 0) != 0 && errno != ENOENT) {
    return invalidArgument(tmp_shown + " is in the way (km writes the trust store's new copy there): " +
                           std::strerror(errno) + "; remove it");
  }
  sys::UniqueFd out(::openat(dir_fd->get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return sys::errnoError("openat", tmp_shown, errno);
  auto fail = [&](Error e) -> Status {
    ::unlinkat(dir_fd->get(), tmp.c_str(), 0);
    return e;
  };
  for (auto [off, stop] : keep) {
    while (off < stop) {
      ssize_t n = ::sendfile(out.get(), in.get(), &off, static_cast<size_t>(stop - off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(sys::errnoError("sendfile", shown, n < 0 ? errno : EIO));
    }
  }
  std::string add = last != '\n' ? "\n" + block : block;
  if (auto s = sys::writeAll(out.get(), add, shown); !s) return fail(std::move(s).error());
  if (::fchown(out.get(), st.st_uid, st.st_gid) != 0 || ::fchmod(out.get(), st.st_mode & 0777) != 0) {
    return fail(sys::errnoError("fchown/fchmod", tmp_shown, errno));
  }
  out.reset();
  if (::renameat(dir_fd->get(), tmp.c_str(), dir_fd->get(), name.c_str()) != 0) {
    return fail(sys::errnoError("renameat", "/" + real, errno));
  }
  return ok();
}

}  // namespace

Status installCaCertificate(const std::string& pem) {
  auto root = sys::open("/", O_PATH | O_DIRECTORY);
  if (!root) return std::move(root).error();
  int rfd = root->get();
  std::string ca = pem;
  if (!ca.empty() && ca.back() != '\n') ca.push_back('\n');
  auto km_dir = beneath::openDir(rfd, "etc/km", /*create=*/true, 0755, kRootOwner);
  if (!km_dir) return std::move(km_dir).error().context("the sandbox's CA");
  KM_TRY(beneath::writeFile(rfd, std::string(kCaFile + 1), ca, 0644, kRootOwner));
  const char* bundle = nullptr;
  const std::string block = std::string(kCaMarker) + ca;
  for (const OsStore& store : kOsStores) {
    Status added = appendToBundle(rfd, store.bundle, block);
    if (!added && added.error().code() == ErrorCode::kNotFound) continue;  // not this OS's
    if (!added) return std::move(added).error().context("adding the sandbox's CA to the OS trust store");
    if (bundle == nullptr) bundle = store.bundle;
    // Where the OS's rebuild command finds it again (a package update that rebuilds the store
    // keeps the CA), when that directory exists.
    if (auto anchors = beneath::openDir(rfd, store.anchors, /*create=*/false, 0, std::nullopt)) {
      // Marked too: the rebuilt store then holds the marked block, which a clone drops.
      KM_TRY(beneath::writeFile(anchors->get(), store.anchor_name, block, 0644, kRootOwner));
    }
  }
  // Where upstream's sandboxes keep it, on every OS: its profiles read it there
  // (`cat /usr/local/share/ca-certificates/km-proxy-ca.crt >> …`, CODEX_CA_CERTIFICATE).
  auto upstream = beneath::openDir(rfd, kUpstreamCaDir, /*create=*/true, 0755, kRootOwner);
  if (!upstream) return std::move(upstream).error().context("the sandbox's CA");
  KM_TRY(beneath::writeFile(upstream->get(), kUpstreamCaName, block, 0644, kRootOwner));
  if (bundle == nullptr) {
    // No OS store: the bundle is the CA alone.
    return beneath::writeFile(rfd, std::string(kCaBundle + 1), ca, 0644, kRootOwner);
  }
  // The bundle is the OS store itself (which now holds the CA), by a link made under a
  // temporary name and renamed over whatever was there.
  const std::string target = std::string("/") + bundle;
  const std::string tmp = ".ca-bundle.pem.km-tmp";
  if (::unlinkat(km_dir->get(), tmp.c_str(), 0) != 0 && errno != ENOENT) {
    return invalidArgument("/etc/km/" + tmp + " is in the way (km makes " + kCaBundle + " there first): " +
                           std::strerror(errno) + "; remove it");
  }
  if (::symlinkat(target.c_str(), km_dir->get(), tmp.c_str()) != 0) {
    return sys::errnoError("symlinkat", "/etc/km/" + tmp, errno);
  }
  if (::renameat(km_dir->get(), tmp.c_str(), km_dir->get(), "ca-bundle.pem") != 0) {
    int err = errno;
    ::unlinkat(km_dir->get(), tmp.c_str(), 0);
    return sys::errnoError("renameat", kCaBundle, err);
  }
  return ok();
}

Status writeResolvConf(const std::string& text) {
  auto root = sys::open("/", O_PATH | O_DIRECTORY);
  if (!root) return std::move(root).error();
  return beneath::writeFile(root->get(), "etc/resolv.conf", text, 0644, kRootOwner);
}

}  // namespace km::substrate::local
