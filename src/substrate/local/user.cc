#include <unistd.h>

#include <set>
#include <sstream>

#include "core/fs.h"
#include "core/sys.h"
#include "substrate/local/local.h"

namespace km::substrate::local {
namespace {

constexpr uint32_t kFirstSandboxId = 60000;

// The numeric ids (third field) of a passwd or group file.
std::set<uint32_t> idsIn(const std::string& path) {
  std::set<uint32_t> ids;
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
  return ids;
}

}  // namespace

Status requireRoot(std::string_view what) {
  if (::geteuid() == 0) return ok();
  return permissionDenied(std::string(what) +
                          " needs root: the local substrate creates namespaces, cgroups and "
                          "mounts (run it with sudo)");
}

Result<SandboxUser> sandboxUser(const Layout& layout) {
  SandboxUser u;
  if (auto text = fs::readFile(layout.user_file, 256)) {
    std::istringstream in(*text);
    if (in >> u.uid >> u.gid && u.uid != 0) return u;
    return invalidArgument(layout.user_file + " is damaged (expected \"uid gid\")");
  }
  std::set<uint32_t> users = idsIn("/etc/passwd");
  std::set<uint32_t> groups = idsIn("/etc/group");
  uint32_t id = kFirstSandboxId;
  while (users.count(id) != 0 || groups.count(id) != 0) ++id;
  u.uid = id;
  u.gid = id;
  KM_TRY(sys::replaceFile(layout.user_file, std::to_string(id) + " " + std::to_string(id) + "\n", 0600));
  return u;
}

}  // namespace km::substrate::local
