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
#include "core/sys.h"
#include "substrate/local/local.h"

namespace km::substrate::local {
namespace {

// "KM" in the high half: far above the ids distributions hand out (< 60000 for people, the
// 65534 nobody), below 2^31 (some tools misread larger ids). 65536 sandboxes per host.
constexpr uint32_t kFirstSandboxId = 0x4B4D0000;
constexpr uint32_t kSandboxIdCount = 0x10000;

// Ids used by the host: accounts and groups (third field) and subordinate ranges
// (user:start:count) that rootless containers map to.
void addIds(const std::string& path, std::set<uint32_t>& ids) {
  std::istringstream in(fs::readFile(path).value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    try {
      ids.insert(static_cast<uint32_t>(std::stoul(line.substr(b + 1))));
    } catch (...) {  // a malformed line names no id
    }
  }
}

bool inSubordinateRange(const std::string& path, uint32_t id) {
  std::istringstream in(fs::readFile(path).value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    try {
      uint64_t start = std::stoull(line.substr(a + 1, b - a - 1));
      uint64_t count = std::stoull(line.substr(b + 1));
      if (id >= start && id < start + count) return true;
    } catch (...) {
    }
  }
  return false;
}

std::string claimPath(uint32_t id) { return std::string(kIdRegistry) + "/" + std::to_string(id); }

std::string claimText(std::string_view km_home, std::string_view sandbox) {
  return fs::absolutePath(km_home) + "\t" + std::string(sandbox) + "\n";
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
  std::set<uint32_t> taken;
  addIds("/etc/passwd", taken);
  addIds("/etc/group", taken);
  uint32_t start = 0;
  if (::getrandom(&start, sizeof start, 0) != sizeof start) start = static_cast<uint32_t>(::getpid());
  std::string claim = claimText(km_home, sandbox);
  for (uint32_t i = 0; i < kSandboxIdCount; ++i) {
    uint32_t id = kFirstSandboxId + (start + i) % kSandboxIdCount;
    if (taken.count(id) != 0 || inSubordinateRange("/etc/subuid", id) ||
        inSubordinateRange("/etc/subgid", id)) {
      continue;
    }
    sys::UniqueFd fd(::open(claimPath(id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      if (errno == EEXIST) continue;  // another sandbox's
      return sys::errnoError("open", claimPath(id), errno);
    }
    KM_TRY(sys::writeAll(fd.get(), claim, claimPath(id)));
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
