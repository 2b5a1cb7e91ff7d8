#include "substrate/local/rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

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

Status buildDev(const std::string& dev) {
  KM_TRY(doMount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m"));
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
  KM_TRY(doMount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620"));
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

Status buildProc(const std::string& proc) {
  KM_TRY(doMount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
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

// Bind `source` (created if missing) at `target` inside the new root.
Status bindDir(const std::string& source, const std::string& target) {
  KM_TRY(sys::makeDirs(target, 0755));
  return doMount(source.c_str(), target, nullptr, MS_BIND);
}

}  // namespace

Status buildRootfs(const Layout& layout, const LaunchSpec& spec) {
  const std::string& root = layout.root;
  // Nothing done here may propagate back to the host's mounts.
  KM_TRY(doMount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE));
  KM_TRY(doMount("overlay", root, "overlay", 0,
                 "lowerdir=/,upperdir=" + layout.upper + ",workdir=" + layout.work));
  // km's own state (other sandboxes' files, the fleet database) is invisible inside.
  std::string hidden = root + spec.km_home;
  if (!spec.km_home.empty() && spec.km_home != "/" && fs::isDirectory(hidden)) {
    KM_TRY(doMount("tmpfs", hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "mode=755,size=4k"));
  }
  KM_TRY(sys::makeDirs(root + "/tmp", 01777));
  KM_TRY(doMount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
  KM_TRY(sys::makeDirs(root + "/run", 0755));
  KM_TRY(doMount("tmpfs", root + "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"));
  // Host users' homes are not the sandbox's business: /home holds only the sandbox user.
  KM_TRY(sys::makeDirs(root + "/home", 0755));
  KM_TRY(doMount("tmpfs", root + "/home", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"));
  KM_TRY(bindDir(layout.home, root + "/home/" + spec.user.name));
  KM_TRY(bindDir(layout.root_home, root + "/root"));
  KM_TRY(bindDir(layout.workspace, root + spec.working_dir));
  KM_TRY(sys::makeDirs(root + "/dev", 0755));
  KM_TRY(buildDev(root + "/dev"));
  KM_TRY(sys::makeDirs(root + "/proc", 0555));
  KM_TRY(buildProc(root + "/proc"));
  KM_TRY(sys::makeDirs(root + "/sys", 0555));
  KM_TRY(doMount("sysfs", root + "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only ours.
  if (::chdir(root.c_str()) != 0) return sys::errnoError("chdir", root, errno);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys::errnoError("pivot_root", root, errno);
  if (::umount2(".", MNT_DETACH) != 0) return sys::errnoError("umount2", "old root", errno);
  if (::chdir("/") != 0) return sys::errnoError("chdir", "/", errno);
  return ok();
}

namespace {

// Replaces the line for `name` in a passwd/group style file, keeping every other line.
Status upsertLine(const std::string& path, const std::string& name, const std::string& line) {
  std::string text = fs::readFile(path).value_or("");
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
  out += line + "\n";
  return sys::replaceFile(path, out);
}

}  // namespace

Status writeFirstStartFiles(const LaunchSpec& spec) {
  const auto& u = spec.user;
  std::string home = "/home/" + u.name;
  std::string shell = fs::exists("/bin/bash") ? "/bin/bash" : "/bin/sh";
  KM_TRY(upsertLine("/etc/passwd", u.name,
                    u.name + ":x:" + std::to_string(u.uid) + ":" + std::to_string(u.gid) +
                        ":km sandbox:" + home + ":" + shell));
  KM_TRY(upsertLine("/etc/group", u.name, u.name + ":x:" + std::to_string(u.gid) + ":"));
  std::string hosts = fs::readFile("/etc/hosts").value_or("127.0.0.1 localhost\n");
  if (!hosts.empty() && hosts.back() != '\n') hosts.push_back('\n');
  hosts += "127.0.1.1 " + spec.hostname + "\n";
  KM_TRY(sys::replaceFile("/etc/hosts", hosts));
  for (const auto& f : spec.config_files) {
    std::string dir = fs::dirName(f.path);
    KM_TRY(sys::makeDirs(dir, 0755));
    KM_TRY(sys::replaceFile(f.path, f.content));
    // Files for the agent (under its home or the working dir) belong to it.
    auto under = [&](const std::string& d) {
      return f.path.size() > d.size() && f.path.compare(0, d.size(), d) == 0 && f.path[d.size()] == '/';
    };
    if (under(home) || under(spec.working_dir)) {
      if (::chown(f.path.c_str(), u.uid, u.gid) != 0) return sys::errnoError("chown", f.path, errno);
    }
  }
  return ok();
}

}  // namespace km::substrate::local
