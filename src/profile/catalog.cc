// `km profile list`: the built-ins, then every profile file on the search paths.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "core/fs.h"
#include "core/strings.h"
#include "profile/profile.h"

namespace km::profile {
namespace {

constexpr int kMaxScanDepth = 6;

struct ProfileFile {
  std::string name;  // relative to the search dir, without ".yaml"
  std::string path;
};

// (st_dev, st_ino) of directories already scanned: a `loop -> .` symlink resolves to one of
// them, so without this the same files would be listed once per level of the depth bound.
using VisitedDirs = std::set<std::pair<dev_t, ino_t>>;

// *.yaml files under `dir`, recursively (bounded depth), names sorted within each directory.
void scan(const std::string& dir, const std::string& rel, int depth, VisitedDirs& visited,
          std::vector<ProfileFile>& out) {
  if (depth > kMaxScanDepth) return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !visited.emplace(st.st_dev, st.st_ino).second) return;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return;
  std::vector<std::string> names;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  // ec set mid-way: keep what was read, as readdir(3) stopping early would.
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string path = dir + "/" + n;
    std::string name = rel.empty() ? n : rel + "/" + n;
    if (fs::isDirectory(path)) {
      scan(path, name, depth + 1, visited, out);
    } else if (n.size() > 5 && endsWith(n, ".yaml")) {
      out.push_back({name.substr(0, name.size() - 5), path});
    }
  }
}

// YAML beside the profiles that is not a profile at all (no apiVersion, no kind) is
// someone else's file, not an invalid profile.
bool isForeignYaml(const Loaded& l) {
  return l.document.isMap() && !l.document.find("apiVersion") && !l.document.find("kind");
}

void addEntry(const std::string& name, const std::string& source, const std::string& arg,
              const LoadOptions& options, std::vector<CatalogEntry>& out) {
  const bool builtin = source == "built-in";
  auto l = load(arg, options);
  if (l && !builtin && isForeignYaml(*l)) return;
  CatalogEntry e{name, source, "-", "-", "-", "valid"};
  if (!l) {
    e.status = "unreadable";
  } else if (l->abstract) {
    e.status = "abstract";
  } else {
    const Spec& s = l->profile.spec;
    e.ttl = s.lifecycle.ttl.empty() ? "-" : s.lifecycle.ttl;
    e.idle_timeout = s.lifecycle.idle_timeout.empty() ? "-" : s.lifecycle.idle_timeout;
    e.enforcement = s.network.enforcement.value_or("proxy");
    if (!l->ok()) e.status = "invalid";
  }
  // Built-in names win over files of the same name (as in extends), so say so.
  if (!builtin && isBuiltin(name)) e.status += ", shadowed by built-in";
  out.push_back(std::move(e));
}

}  // namespace

std::vector<CatalogEntry> listProfiles(const LoadOptions& options) {
  std::vector<CatalogEntry> out;
  for (const auto& n : builtinNames()) addEntry(n, "built-in", n, options, out);
  for (const auto& dir : options.search_paths) {
    // Per search path: a directory named twice is listed twice, as before the loop fix.
    VisitedDirs visited;
    std::vector<ProfileFile> files;
    scan(dir, "", 0, visited, files);
    for (const auto& f : files) addEntry(f.name, f.path, f.path, options, out);
  }
  return out;
}

}  // namespace km::profile
