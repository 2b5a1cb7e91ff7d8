// The sandbox user: one uid/gid per sandbox, so per-user kernel limits (inotify instances,
// RLIMIT_NPROC, message queues, keys) are never shared between sandboxes. Ids come from a
// reserved range and are claimed host-wide — across every KM_HOME — by creating a file named
// after the id in kIdRegistry with O_EXCL; the claim names the home and sandbox, so a stale
// one (its sandbox gone) can be told from a live one.
#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <sstream>

#include "core/fs.h"
#include "core/strings.h"
#include "core/sys.h"
#include "substrate/local/local.h"

namespace km::substrate::local {
namespace {

// "KM" in the high half: far above the ids distributions hand out (< 60000 for people, the
// 65534 nobody), below 2^31 (some tools misread larger ids). 65536 sandboxes per host.
constexpr uint32_t kFirstSandboxId = 0x4B4D0000;
constexpr uint32_t kSandboxIdCount = 0x10000;

// Ids the host uses: accounts and groups (the third field of passwd and group lines) and
// the subordinate ranges (user:start:count in subuid, subgid) rootless containers map to.
class HostIds {
 public:
  HostIds() {
    for (const char* path : {"/etc/passwd", "/etc/group"}) {
      forEachLine(path, [&](const std::vector<std::string>& f) {
        if (f.size() > 2) ids_.insert(static_cast<uint32_t>(std::stoul(f[2])));
      });
    }
    for (const char* path : {"/etc/subuid", "/etc/subgid"}) {
      forEachLine(path, [&](const std::vector<std::string>& f) {
        if (f.size() > 2) ranges_.emplace_back(std::stoull(f[1]), std::stoull(f[2]));
      });
    }
  }
  bool taken(uint32_t id) const {
    if (ids_.count(id) != 0) return true;
    for (const auto& [start, count] : ranges_) {
      if (id >= start && id < start + count) return true;
    }
    return false;
  }

 private:
  template <class Fn>
  static void forEachLine(const char* path, Fn fn) {
    std::istringstream in(fs::readFile(path).value_or(""));
    std::string line;
    while (std::getline(in, line)) {
      try {
        fn(split(line, ':'));
      } catch (...) {  // a malformed line names no id
      }
    }
  }
  std::set<uint32_t> ids_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
};

std::string claimPath(uint32_t id) { return std::string(kIdRegistry) + "/" + std::to_string(id); }

std::string claimText(std::string_view km_home, std::string_view sandbox) {
  return fs::absolutePath(km_home) + "\t" + std::string(sandbox) + "\n";
}

// A claim's text in a file of its own in the registry (".claim-<random>"), for linking.
Result<std::string> stageClaim(const std::string& text) {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != sizeof r) r = static_cast<uint64_t>(::getpid());
  std::string path = std::string(kIdRegistry) + "/.claim-" + std::to_string(r);
  sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return sys::errnoError("open", path, errno);
  if (auto s = sys::writeAll(fd.get(), text, path); !s) {
    ::unlink(path.c_str());
    return std::move(s).error();
  }
  return path;
}

Result<SandboxUser> readRecord(const Layout& layout) {
  auto text = fs::readFile(layout.user_file, 256);
  if (!text) return std::move(text).error();
  SandboxUser u;
  std::istringstream in(*text);
  if (in >> u.uid >> u.gid && u.uid != 0) return u;
  return invalidArgument(layout.user_file + " is damaged (expected \"uid gid\")");
}

}  // namespace

Status requireRoot(std::string_view what) {
  if (::geteuid() == 0) return ok();
  return permissionDenied(std::string(what) +
                          " needs root: the local substrate creates namespaces, cgroups and "
                          "mounts (run it with sudo)");
}

Result<SandboxUser> sandboxUser(const Layout& layout) { return readRecord(layout); }

Result<SandboxUser> claimSandboxUser(const Layout& layout, std::string_view km_home, std::string_view sandbox) {
  if (auto existing = readRecord(layout)) return existing;
  KM_TRY(sys::makeDirs(kIdRegistry, 0700));
  HostIds host;
  uint32_t start = 0;
  if (::getrandom(&start, sizeof start, 0) != sizeof start) start = static_cast<uint32_t>(::getpid());
  std::string claim = claimText(km_home, sandbox);
  std::string staged_path;
  struct Unlink {
    std::string& path;
    ~Unlink() {
      if (!path.empty()) ::unlink(path.c_str());
    }
  } unlink_staged{staged_path};
  for (uint32_t i = 0; i < kSandboxIdCount; ++i) {
    uint32_t id = kFirstSandboxId + (start + i) % kSandboxIdCount;
    if (host.taken(id)) continue;
    // The claim appears whole or not at all: written to a file of our own, then linked to
    // its name (link fails if the id is taken), so no crash leaves an empty claim behind.
    if (staged_path.empty()) {
      auto made = stageClaim(claim);
      if (!made) return std::move(made).error();
      staged_path = std::move(*made);
    }
    if (::link(staged_path.c_str(), claimPath(id).c_str()) != 0) {
      if (errno == EEXIST) continue;  // another sandbox's
      return sys::errnoError("link", claimPath(id), errno);
    }
    SandboxUser u;
    u.uid = id;
    u.gid = id;
    if (auto s = sys::replaceFile(layout.user_file, std::to_string(id) + " " + std::to_string(id) + "\n", 0600); !s) {
      ::unlink(claimPath(id).c_str());
      return std::move(s).error();
    }
    return u;
  }
  return unavailable("every sandbox uid in " + std::to_string(kFirstSandboxId) + "+" +
                     std::to_string(kSandboxIdCount) + " is claimed (see " + std::string(kIdRegistry) +
                     "; `km doctor --fix` releases stale claims)");
}

void releaseSandboxUser(const SandboxUser& user, std::string_view km_home, std::string_view sandbox) {
  if (user.uid < kFirstSandboxId || user.uid >= kFirstSandboxId + kSandboxIdCount) return;  // not from the registry
  if (fs::readFile(claimPath(user.uid), 4096).value_or("") == claimText(km_home, sandbox)) {
    ::unlink(claimPath(user.uid).c_str());
  }
}

std::vector<UidClaim> uidClaims(std::string_view km_home) {
  std::vector<UidClaim> out;
  std::string home = fs::absolutePath(km_home);
  DIR* d = ::opendir(kIdRegistry);
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    unsigned long id = std::strtoul(e->d_name, &end, 10);
    if (e->d_name[0] == '.' || end == e->d_name || *end != '\0') continue;
    std::string text = fs::readFile(std::string(kIdRegistry) + "/" + e->d_name, 4096).value_or("");
    size_t tab = text.find('\t');
    if (tab == std::string::npos || text.substr(0, tab) != home) continue;
    std::string sandbox = text.substr(tab + 1);
    while (!sandbox.empty() && sandbox.back() == '\n') sandbox.pop_back();
    out.push_back({static_cast<uint32_t>(id), sandbox});
  }
  ::closedir(d);
  return out;
}

}  // namespace km::substrate::local
