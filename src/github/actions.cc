// The actions spec.limits counts, read from REST paths and GraphQL mutation fields.
#include "core/strings.h"
#include "github/github.h"
#include "github/path.h"

namespace km::github {
namespace {

bool is(const std::string& segment, std::string_view word) { return equalsIgnoringAsciiCase(segment, word); }

}  // namespace

std::string_view actionName(Action action) {
  switch (action) {
    case Action::kGithubPr: return "github_pr";
    case Action::kGithubComment: return "github_comment";
    case Action::kGithubReview: return "github_review";
    case Action::kNone: break;
  }
  return "";
}

Action classifyAction(std::string_view method, std::string_view host, std::string_view target) {
  if (method != "POST" || host != "api.github.com") return Action::kNone;
  auto path = detail::decodePath(target);
  if (!path) return Action::kNone;  // repoOf refuses the same path, so it never goes out
  const auto& s = path->segments;
  // s: repos owner repo kind [N [what [ID [replies]]]]
  if (s.size() < 4 || !is(s[0], "repos")) return Action::kNone;
  if (is(s[3], "pulls")) {
    if (s.size() == 4) return Action::kGithubPr;
    if (s.size() == 6 && is(s[5], "reviews")) return Action::kGithubReview;
    if (s.size() == 6 && is(s[5], "comments")) return Action::kGithubComment;
    if (s.size() == 8 && is(s[5], "comments") && is(s[7], "replies")) return Action::kGithubComment;
    return Action::kNone;
  }
  if (is(s[3], "issues") && s.size() == 6 && is(s[5], "comments")) return Action::kGithubComment;
  if (is(s[3], "commits") && s.size() == 6 && is(s[5], "comments")) return Action::kGithubComment;
  return Action::kNone;
}

Action classifyMutation(std::string_view field) {
  if (field == "createPullRequest") return Action::kGithubPr;
  if (field == "addPullRequestReview") return Action::kGithubReview;
  if (field == "addComment" || field == "addPullRequestReviewComment" || field == "addPullRequestReviewThread" ||
      field == "addPullRequestReviewThreadReply" || field == "addDiscussionComment") {
    return Action::kGithubComment;
  }
  return Action::kNone;
}

}  // namespace km::github
