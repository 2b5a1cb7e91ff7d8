// GitHub under spec.sourceAccess as the proxy judges it: repositories named by a request, the
// refs of a push, deletions, and whose token a GraphQL request may get.
#include "net/proxy/github_access.h"

#include <gtest/gtest.h>

namespace km::net::proxy {
namespace {

SourceAccess access(std::vector<std::string> repos, std::vector<std::string> refs, bool deletion = false) {
  SourceAccess a;
  a.allowed_repos = std::move(repos);
  a.allowed_refs = std::move(refs);
  a.allow_ref_deletion = deletion;
  return a;
}

github::RefUpdate update(std::string ref, bool deletes = false) {
  return {std::string(40, '1'), deletes ? std::string(40, '0') : std::string(40, '2'), std::move(ref)};
}

TEST(GithubAccessTest, RepositoriesOutsideTheListAreRefusedOthersPass) {
  GithubAccess gh(access({"Org/Api", "team/*"}, {"main"}));
  auto ok = gh.judge("github.com", "/org/api.git/info/refs?service=git-upload-pack");
  EXPECT_FALSE(ok.refused) << ok.reason;
  EXPECT_EQ(ok.repo, "org/api");
  EXPECT_FALSE(gh.judge("api.github.com", "/repos/team/anything/pulls").refused);
  auto no = gh.judge("github.com", "/org/secret/git-upload-pack");
  EXPECT_TRUE(no.refused);
  EXPECT_EQ(no.status, 403u);
  EXPECT_NE(no.reason.find("org/secret is not in this sandbox's spec.sourceAccess.github.allowedRepos"),
            std::string::npos);
  // No repository named: passes, with no repository for a token.
  auto none = gh.judge("api.github.com", "/user");
  EXPECT_FALSE(none.refused);
  EXPECT_EQ(none.repo, "");
  // A path GitHub could read otherwise: 400.
  auto odd = gh.judge("github.com", "/org/api/../../org/secret/info/refs");
  EXPECT_TRUE(odd.refused);
  EXPECT_EQ(odd.status, 400u);
}

TEST(GithubAccessTest, PushesAreJudgedRefByRef) {
  GithubAccess gh(access({"o/r"}, {"main", "feature/*"}));
  EXPECT_EQ(gh.refuseUpdate(update("refs/heads/main")), "");
  EXPECT_EQ(gh.refuseUpdate(update("refs/heads/feature/a/b")), "");
  EXPECT_NE(gh.refuseUpdate(update("refs/heads/protected")).find("not in spec.sourceAccess.github.allowedRefs"),
            std::string::npos);
  EXPECT_NE(gh.refuseUpdate(update("refs/tags/v1")), "");
  EXPECT_NE(gh.refuseUpdate(update("refs/heads/main", true)).find("allowRefDeletion"), std::string::npos);
  GithubAccess deleting(access({"o/r"}, {"main"}, true));
  EXPECT_EQ(deleting.refuseUpdate(update("refs/heads/main", true)), "");
  EXPECT_NE(deleting.refuseUpdate(update("refs/heads/other", true)), "");
}

TEST(GithubAccessTest, ABrokenListRefusesEverything) {
  GithubAccess gh(access({"not a repo"}, {}));
  auto j = gh.judge("github.com", "/o/r/info/refs");
  EXPECT_TRUE(j.refused);
  EXPECT_NE(j.reason.find("allowedRepos"), std::string::npos);
}

TEST(GithubAccessTest, TheSoleOwnerIsKnownOnlyWhenThereIsOne) {
  EXPECT_EQ(GithubAccess(access({"Org/a", "org/b", "github.com/org/*"}, {})).soleOwner(), "org");
  EXPECT_EQ(GithubAccess(access({"org/a", "other/b"}, {})).soleOwner(), "");
  EXPECT_EQ(GithubAccess(access({"*"}, {})).soleOwner(), "");
  SourceAccess app = access({"o/r"}, {});
  EXPECT_FALSE(GithubAccess(app).hasCredentials());
  app.app_id = 5;
  EXPECT_TRUE(GithubAccess(app).hasCredentials());
  EXPECT_TRUE(GithubAccess(app).scopedTokens());
  SourceAccess file = access({"o/r"}, {});
  file.token_file = "/root/t";
  EXPECT_TRUE(GithubAccess(file).hasCredentials());
  EXPECT_FALSE(GithubAccess(file).scopedTokens());
}

}  // namespace
}  // namespace km::net::proxy
