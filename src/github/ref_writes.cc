// Which GitHub requests change refs outside git's push, and how km judges them: REST calls
// that name the ref in the path or the body, ones km cannot judge (refused), GraphQL
// mutations that write refs, and git's endpoints however their path is spelt.
#include <algorithm>
#include <array>

#include "core/strings.h"
#include "github/github.h"
#include "github/path.h"

namespace km::github {
namespace {

bool is(std::string_view segment, std::string_view word) { return equalsIgnoringAsciiCase(segment, word); }

}  // namespace

GitEndpoint gitEndpoint(std::string_view host, std::string_view target) {
  if (host != "github.com") return GitEndpoint::kNone;
  auto path = detail::decodePath(target.substr(0, target.find('?')));
  if (!path || path->segments.size() < 3) return GitEndpoint::kNone;
  // Anything past owner/repo that says receive-pack is taken for a push, whatever its case,
  // slashes or position: a server that routes it so must not get it unread.
  bool receive = false, upload = false;
  for (size_t i = 2; i < path->segments.size(); ++i) {
    std::string s = toLower(path->segments[i]);
    receive = receive || s.find("receive-pack") != std::string::npos;
    upload = upload || s.find("upload-pack") != std::string::npos;
  }
  return receive ? GitEndpoint::kReceivePack : upload ? GitEndpoint::kUploadPack : GitEndpoint::kOther;
}

RefWrite refWriteOf(std::string_view method, std::string_view host, std::string_view target) {
  RefWrite w;
  if (host != "api.github.com" || method == "GET" || method == "HEAD" || method == "OPTIONS") return w;
  auto path = detail::decodePath(target.substr(0, target.find('?')));
  if (!path) return w;
  const auto& s = path->segments;
  if (s.size() < 3 || !is(s[0], "repos")) return w;
  auto refuse = [&](std::string why) {
    w.kind = RefWrite::Kind::kRefused;
    w.why = std::move(why);
    return w;
  };
  const size_t n = s.size();
  if (n == 3 && (method == "DELETE" || method == "PATCH")) {
    return refuse("changing or deleting the repository itself (its name, default branch, visibility)");
  }
  if (n >= 5 && is(s[3], "git") && is(s[4], "refs")) {
    if (n == 5 && method == "POST") {
      w.kind = RefWrite::Kind::kRefInBody;
      w.body_key = "ref";
      return w;
    }
    if (n > 5 && (method == "PATCH" || method == "DELETE" || method == "POST")) {
      w.kind = RefWrite::Kind::kRef;
      w.ref = "refs";
      for (size_t i = 5; i < n; ++i) w.ref += "/" + s[i];
      w.deletes = method == "DELETE";
      return w;
    }
    return refuse("this git/refs call");
  }
  if (n >= 4 && is(s[3], "contents") && (method == "PUT" || method == "DELETE")) {
    w.kind = RefWrite::Kind::kRefInBody;
    w.body_key = "branch";
    w.body_prefix = "refs/heads/";
    return w;
  }
  if (n == 4 && is(s[3], "merges") && method == "POST") {
    w.kind = RefWrite::Kind::kRefInBody;
    w.body_key = "base";
    w.body_prefix = "refs/heads/";
    return w;
  }
  if (n == 4 && is(s[3], "merge-upstream") && method == "POST") {
    w.kind = RefWrite::Kind::kRefInBody;
    w.body_key = "branch";
    w.body_prefix = "refs/heads/";
    return w;
  }
  if (n == 4 && is(s[3], "releases") && method == "POST") {
    w.kind = RefWrite::Kind::kRefInBody;
    w.body_key = "tag_name";
    w.body_prefix = "refs/tags/";
    return w;
  }
  if (n == 6 && is(s[3], "pulls") && is(s[5], "merge")) {
    return refuse("merging a pull request through the API (km cannot see its base branch; push the merge to an "
                  "allowed branch instead)");
  }
  if (n == 6 && is(s[3], "pulls") && is(s[5], "update-branch")) {
    return refuse("updating a pull request's branch through the API (km cannot see which branch)");
  }
  if (n >= 5 && is(s[3], "branches")) {
    return refuse("changing a branch's protection or name through the API");
  }
  if (n >= 4 && (is(s[3], "rulesets") || is(s[3], "transfer") || is(s[3], "rename"))) {
    return refuse("changing the repository's rules or owner through the API");
  }
  return w;
}

bool mutationWritesRefs(std::string_view field) {
  static constexpr std::array<std::string_view, 16> kFields = {
      "createRef", "updateRef", "updateRefs", "deleteRef", "mergeBranch", "mergePullRequest", "createCommitOnBranch",
      "enablePullRequestAutoMerge", "revertPullRequest", "updatePullRequestBranch", "createBranchProtectionRule",
      "updateBranchProtectionRule", "deleteBranchProtectionRule", "updateRepository", "archiveRepository",
      "createRepositoryRuleset"};
  return std::find(kFields.begin(), kFields.end(), field) != kFields.end();
}

}  // namespace km::github
