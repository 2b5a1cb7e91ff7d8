// The REST calls and GraphQL mutations spec.limits counts.
#include <gtest/gtest.h>

#include "github/github.h"

namespace km::github {
namespace {

Action post(std::string_view target) { return classifyAction("POST", "api.github.com", target); }

TEST(ActionName, IsTheProfilesLimitKey) {
  EXPECT_EQ(actionName(Action::kGithubPr), "github_pr");
  EXPECT_EQ(actionName(Action::kGithubComment), "github_comment");
  EXPECT_EQ(actionName(Action::kGithubReview), "github_review");
  EXPECT_EQ(actionName(Action::kNone), "");
}

TEST(ClassifyAction, CountedRestCalls) {
  EXPECT_EQ(post("/repos/o/r/pulls"), Action::kGithubPr);
  EXPECT_EQ(post("/repos/o/r/pulls/12/reviews"), Action::kGithubReview);
  EXPECT_EQ(post("/repos/o/r/issues/12/comments"), Action::kGithubComment);
  EXPECT_EQ(post("/repos/o/r/pulls/12/comments"), Action::kGithubComment);
  EXPECT_EQ(post("/repos/o/r/pulls/12/comments/3456/replies"), Action::kGithubComment);
}

TEST(ClassifyAction, ToleratesTrailingSlashQueryCaseAndEscapes) {
  EXPECT_EQ(post("/repos/o/r/pulls/"), Action::kGithubPr);
  EXPECT_EQ(post("/repos/o/r/pulls?x=1"), Action::kGithubPr);
  EXPECT_EQ(post("/repos/o/r/pulls/?x=1"), Action::kGithubPr);
  EXPECT_EQ(post("/repos/o/r/issues/1/comments/"), Action::kGithubComment);
  EXPECT_EQ(post("/REPOS/O/R/PULLS"), Action::kGithubPr);
  EXPECT_EQ(post("/repos/o/r/pull%73"), Action::kGithubPr);
  EXPECT_EQ(post("/repos/o/r/pulls/1/Reviews"), Action::kGithubReview);
  // N need not be a number: GitHub's 404 counted is better than a call missed.
  EXPECT_EQ(post("/repos/o/r/pulls/abc/reviews"), Action::kGithubReview);
}

TEST(ClassifyAction, OtherMethodsHostsAndPathsCountNothing) {
  EXPECT_EQ(classifyAction("GET", "api.github.com", "/repos/o/r/pulls"), Action::kNone);
  EXPECT_EQ(classifyAction("PATCH", "api.github.com", "/repos/o/r/pulls/1"), Action::kNone);
  EXPECT_EQ(classifyAction("post", "api.github.com", "/repos/o/r/pulls"), Action::kNone);
  EXPECT_EQ(classifyAction("POST", "github.com", "/repos/o/r/pulls"), Action::kNone);
  EXPECT_EQ(classifyAction("POST", "uploads.github.com", "/repos/o/r/pulls"), Action::kNone);
  for (auto t : {"/repos/o/r/pulls/1", "/repos/o/r/pulls/1/merge", "/repos/o/r/pulls/1/reviews/2/events",
                 "/repos/o/r/pulls/1/requested_reviewers", "/repos/o/r/issues", "/repos/o/r/issues/1",
                 "/repos/o/r/issues/1/labels", "/repos/o/r/issues/comments", "/repos/o/r/pulls/comments",
                 "/repos/o/r/pulls/1/comments/2", "/repos/o/r/pulls/1/comments/2/replies/3", "/repos/o/r",
                 "/repos/o/r/git/refs", "/graphql", "/user/repos", "/", "/pulls", "/x/o/r/pulls",
                 "/repos/o/r/pulls/1/reviews/extra"}) {
    EXPECT_EQ(post(t), Action::kNone) << t;
  }
}

TEST(ClassifyAction, MalformedPathsCountNothingAndRepoOfRefusesThem) {
  for (auto t : {"/repos/o/r/pulls/../pulls", "/repos//o/r/pulls", "/repos/o/r/pulls%00", "repos/o/r/pulls"}) {
    EXPECT_EQ(post(t), Action::kNone) << t;
    EXPECT_FALSE(repoOf("api.github.com", t)) << t;
  }
}

TEST(ClassifyMutation, CountedGraphqlMutations) {
  EXPECT_EQ(classifyMutation("createPullRequest"), Action::kGithubPr);
  EXPECT_EQ(classifyMutation("addComment"), Action::kGithubComment);
  EXPECT_EQ(classifyMutation("addPullRequestReviewComment"), Action::kGithubComment);
  EXPECT_EQ(classifyMutation("addPullRequestReviewThread"), Action::kGithubComment);
  EXPECT_EQ(classifyMutation("addPullRequestReviewThreadReply"), Action::kGithubComment);
  EXPECT_EQ(classifyMutation("addPullRequestReview"), Action::kGithubReview);
  EXPECT_EQ(classifyMutation("submitPullRequestReview"), Action::kNone);
  EXPECT_EQ(classifyMutation("mergePullRequest"), Action::kNone);
  EXPECT_EQ(classifyMutation("createpullrequest"), Action::kNone);  // GraphQL names are case-sensitive
}

}  // namespace
}  // namespace km::github
