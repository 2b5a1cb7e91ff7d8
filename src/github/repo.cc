// Which repository a request names, and spec.sourceAccess.github.allowedRepos.
#include <algorithm>

#include "core/strings.h"
#include "github/github.h"
#include "github/path.h"

namespace km::github {
namespace {

using detail::isRepoNamePart;

constexpr std::string_view kHosts[] = {"github.com", "api.github.com", "raw.githubusercontent.com",
                                       "codeload.github.com", "codeload.githubusercontent.com"};

Result<std::string> ownerRepo(std::string_view owner, std::string_view repo, bool strip_git, std::string_view target) {
  if (strip_git && endsWith(repo, ".git")) {
    repo.remove_suffix(4);
    // "r.git.git": GitHub might strip one suffix or all; km will not guess which repo it is.
    if (endsWith(repo, ".git")) return invalidArgument("request path " + quoted(target) + " names an ambiguous repository");
  }
  if (!isRepoNamePart(owner) || !isRepoNamePart(repo)) {
    return invalidArgument("request path " + quoted(target) +
                           " names an owner or repository GitHub does not allow (letters, digits, '.', '-', '_')");
  }
  return toLower(owner) + "/" + toLower(repo);
}

}  // namespace

bool isGithubHost(std::string_view host) {
  return std::find(std::begin(kHosts), std::end(kHosts), host) != std::end(kHosts);
}

Result<std::string> repoOf(std::string_view host, std::string_view target) {
  if (!isGithubHost(host)) return std::string();
  auto path = detail::decodePath(target);
  if (!path) return std::move(path).error();
  const auto& segs = path->segments;
  if (host == "api.github.com") {
    // Case-insensitive: were GitHub to route "/REPOS/o/r", it must not pass as naming no repo.
    // "/repositories/{id}/…" reaches a repository by number (where renamed repositories
    // redirect to): it names one, but not one km can check against owner/repo entries.
    if (segs.size() >= 2 && equalsIgnoringAsciiCase(segs[0], "repositories")) {
      return invalidArgument("request path " + quoted(target) + " names a repository by numeric id, which km cannot check");
    }
    if (segs.size() < 3 || !equalsIgnoringAsciiCase(segs[0], "repos")) return std::string();
    return ownerRepo(segs[1], segs[2], /*strip_git=*/false, target);
  }
  if (segs.size() < 2) return std::string();
  return ownerRepo(segs[0], segs[1], /*strip_git=*/true, target);
}

Result<RepoAllowlist> RepoAllowlist::parse(const std::vector<std::string>& entries) {
  RepoAllowlist list;
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string entry = toLower(trim(entries[i]));
    std::string_view e = entry;
    if (startsWith(e, "github.com/")) e.remove_prefix(11);
    if (e == "*") {
      list.all_ = true;
      continue;
    }
    size_t slash = e.find('/');
    std::string_view owner = e.substr(0, slash);
    std::string_view repo = slash == std::string_view::npos ? std::string_view() : e.substr(slash + 1);
    if (endsWith(repo, ".git")) repo.remove_suffix(4);
    bool ok = slash != std::string_view::npos && isRepoNamePart(owner) && (repo == "*" || isRepoNamePart(repo));
    if (!ok) {
      return invalidArgument("spec.sourceAccess.github.allowedRepos[" + std::to_string(i) + "] " +
                             quoted(entries[i]) +
                             ": expected \"*\", \"owner/repo\" or \"owner/*\" (letters, digits, '.', '-', '_')");
    }
    if (repo == "*") {
      list.owners_.emplace_back(owner);
    } else {
      list.exact_.push_back(std::string(owner) + "/" + std::string(repo));
    }
  }
  return list;
}

bool RepoAllowlist::allows(std::string_view repo) const {
  size_t slash = repo.find('/');
  if (slash == std::string_view::npos || !isRepoNamePart(repo.substr(0, slash)) ||
      !isRepoNamePart(repo.substr(slash + 1))) {
    return false;
  }
  if (all_) return true;
  std::string lower = toLower(repo);
  std::string_view owner = std::string_view(lower).substr(0, slash);
  return std::find(exact_.begin(), exact_.end(), lower) != exact_.end() ||
         std::find(owners_.begin(), owners_.end(), owner) != owners_.end();
}

}  // namespace km::github
