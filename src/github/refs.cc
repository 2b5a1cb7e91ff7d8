// Ref names a push may update: git's own validity rules, and spec.sourceAccess.github.allowedRefs.
#include "core/strings.h"
#include "github/github.h"

namespace km::github {

bool isValidRefName(std::string_view refname) {
  if (!startsWith(refname, "refs/") || refname.size() == 5) return false;
  if (refname.back() == '/' || refname.back() == '.') return false;
  if (refname.find("..") != std::string_view::npos || refname.find("@{") != std::string_view::npos) return false;
  for (unsigned char c : refname) {
    if (c < 0x20 || c == 0x7f) return false;
    switch (c) {
      case ' ': case '~': case '^': case ':': case '?': case '*': case '[': case '\\':
        return false;
      default:
        break;
    }
  }
  std::string_view rest = refname;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view component = rest.substr(0, slash);
    if (component.empty() || component.front() == '.' || endsWith(component, ".lock")) return false;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return true;
}

Result<RefAllowlist> RefAllowlist::parse(const std::vector<std::string>& entries) {
  RefAllowlist list;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    auto where = [&] { return "spec.sourceAccess.github.allowedRefs[" + std::to_string(i) + "] " + quoted(entry); };
    bool clean = !entry.empty();
    for (unsigned char c : entry) clean = clean && c > 0x20 && c != 0x7f;
    if (!clean) {
      return invalidArgument(where() + ": expected a branch glob (\"main\", \"feature/*\") or a full ref glob "
                                       "(\"refs/tags/v*\"), without spaces");
    }
    auto glob = RefGlob::compile(startsWith(entry, "refs/") ? entry : "refs/heads/" + entry);
    if (!glob) return std::move(glob).error().context(where());
    list.globs_.push_back(std::move(*glob));
  }
  if (list.globs_.empty()) list.globs_.push_back(*RefGlob::compile("refs/heads/*"));
  return list;
}

bool RefAllowlist::allows(std::string_view full_refname) const {
  for (const auto& glob : globs_) {
    if (glob.matches(full_refname)) return true;
  }
  return false;
}

}  // namespace km::github
