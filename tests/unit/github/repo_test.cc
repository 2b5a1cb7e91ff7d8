// Which repository a GitHub request names (repoOf), and spec.sourceAccess.github.allowedRepos.
#include <gtest/gtest.h>

#include "github/github.h"

namespace km::github {
namespace {

std::string repo(std::string_view host, std::string_view target) {
  auto r = repoOf(host, target);
  EXPECT_TRUE(r) << host << target << ": " << r.error().message();
  return r ? *r : "<error>";
}

// The request is one km refuses to interpret; returns the reason.
std::string refused(std::string_view host, std::string_view target) {
  auto r = repoOf(host, target);
  EXPECT_FALSE(r) << host << target << " read as " << (r ? *r : "");
  return r ? "" : r.error().message();
}

TEST(IsGithubHost, KnowsGithubsRepositoryHostsOnly) {
  for (auto h : {"github.com", "api.github.com", "raw.githubusercontent.com", "codeload.github.com",
                 "codeload.githubusercontent.com"}) {
    EXPECT_TRUE(isGithubHost(h)) << h;
  }
  for (auto h : {"", "gist.github.com", "evilgithub.com", "github.com.evil.com", "GITHUB.COM", "github.com:443",
                 "objects.githubusercontent.com"}) {
    EXPECT_FALSE(isGithubHost(h)) << h;
  }
}

TEST(RepoOf, GitSmartHttpPathsOnGithubCom) {
  EXPECT_EQ(repo("github.com", "/o/r.git/info/refs?service=git-upload-pack"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r.git/info/refs?service=git-receive-pack"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r/info/refs?service=git-upload-pack"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r.git/git-upload-pack"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r/git-receive-pack"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r/archive/refs/heads/main.tar.gz"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r/"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r.git"), "o/r");
}

TEST(RepoOf, LowercasesOwnerAndRepo) {
  EXPECT_EQ(repo("github.com", "/Octo-Org/My.Repo_1.git/info/refs"), "octo-org/my.repo_1");
  EXPECT_EQ(repo("api.github.com", "/repos/OCTO/R/pulls"), "octo/r");
}

TEST(RepoOf, StripsOneDotGitAndRefusesWhatStillEndsInIt) {
  EXPECT_EQ(repo("github.com", "/o/r.gitx/info/refs"), "o/r.gitx");
  EXPECT_EQ(repo("github.com", "/o/git/info/refs"), "o/git");
  EXPECT_NE(refused("github.com", "/o/r.git.git/info/refs").find("ambiguous"), std::string::npos);
  // ".git" alone leaves an empty repository name.
  refused("github.com", "/o/.git/info/refs");
}

TEST(RepoOf, PathsNamingNoRepository) {
  EXPECT_EQ(repo("github.com", "/"), "");
  EXPECT_EQ(repo("github.com", "/o"), "");
  EXPECT_EQ(repo("github.com", "/o/"), "");
  EXPECT_EQ(repo("github.com", "/?tab=repositories"), "");
  EXPECT_EQ(repo("api.github.com", "/user"), "");
  EXPECT_EQ(repo("api.github.com", "/user/repos?per_page=100"), "");
  EXPECT_EQ(repo("api.github.com", "/graphql"), "");
  EXPECT_EQ(repo("api.github.com", "/repos"), "");
  EXPECT_EQ(repo("api.github.com", "/repos/o"), "");
  EXPECT_EQ(repo("api.github.com", "/repos/o/"), "");
  EXPECT_EQ(repo("api.github.com", "/search/repositories?q=x"), "");
  // Not a GitHub host: nothing to say, whatever the path.
  EXPECT_EQ(repo("example.com", "/o/r"), "");
  EXPECT_EQ(repo("example.com", "/../x"), "");
}

TEST(RepoOf, ApiNamesARepositoryOnlyUnderRepos) {
  EXPECT_EQ(repo("api.github.com", "/repos/o/r"), "o/r");
  EXPECT_EQ(repo("api.github.com", "/repos/o/r/"), "o/r");
  EXPECT_EQ(repo("api.github.com", "/repos/o/r/pulls?state=open"), "o/r");
  EXPECT_EQ(repo("api.github.com", "/repos/o/r/contents/a/b.txt?ref=main"), "o/r");
  // Compare ranges are written with "...": allowed past the repository segments.
  EXPECT_EQ(repo("api.github.com", "/repos/o/r/compare/main...topic"), "o/r");
  EXPECT_EQ(repo("github.com", "/o/r/compare/v1..v2"), "o/r");
  // "/orgs/o/repos" lists an organisation's repositories: not a repository itself.
  EXPECT_EQ(repo("api.github.com", "/orgs/o/repos"), "");
  // api.github.com does not strip ".git".
  EXPECT_EQ(repo("api.github.com", "/repos/o/r.git"), "o/r.git");
  // The "repos" segment is matched without case, so "/REPOS/..." is not a way around the check.
  EXPECT_EQ(repo("api.github.com", "/Repos/o/r/issues"), "o/r");
}

TEST(RepoOf, RefusesRepositoriesNamedByNumericId) {
  // Where GitHub redirects a renamed repository; km cannot tell which owner/repo it is.
  EXPECT_NE(refused("api.github.com", "/repositories/123456/contents/x").find("numeric id"), std::string::npos);
  refused("api.github.com", "/repositories/123456");
  refused("api.github.com", "/Repositories/1/");
  // The list of all public repositories names none.
  EXPECT_EQ(repo("api.github.com", "/repositories?since=5"), "");
}

TEST(RepoOf, RawAndCodeloadUseTheFirstTwoSegments) {
  EXPECT_EQ(repo("raw.githubusercontent.com", "/o/r/refs/heads/main/README.md"), "o/r");
  EXPECT_EQ(repo("raw.githubusercontent.com", "/o/r/main/a%20b.txt"), "o/r");
  EXPECT_EQ(repo("codeload.github.com", "/o/r/tar.gz/refs/heads/main"), "o/r");
  EXPECT_EQ(repo("codeload.githubusercontent.com", "/o/r/zip/main"), "o/r");
  EXPECT_EQ(repo("raw.githubusercontent.com", "/o"), "");
}

TEST(RepoOf, DecodesEscapesBeforeSplitting) {
  EXPECT_EQ(repo("github.com", "/%6f/%72.git/info/refs"), "o/r");
  EXPECT_EQ(repo("github.com", "/o%2Fr/info/refs"), "o/r");
  EXPECT_EQ(repo("github.com", "/o%2fr"), "o/r");
  EXPECT_EQ(repo("api.github.com", "/repos%2Fo%2Fr/pulls"), "o/r");
  // Only the path is decoded: an escaped '?' is part of it (and not a repository byte).
  refused("github.com", "/o/r%3F/x");
  EXPECT_EQ(repo("github.com", "/o/r/x%3Fy"), "o/r");
  // A twice-escaped slash decodes to "%2F" once: not a name byte.
  refused("github.com", "/o%252Fr/x");
}

TEST(RepoOf, RefusesTraversalAndEmptySegments) {
  for (auto t : {"/o/r/../../x/y", "/o/../x/y", "/../x/y", "/o/%2e%2e/x", "/o/%2E%2E/x", "/o/r/%2e%2e/%2e%2e/x/y",
                 "/o/./r", "/./o/r", "/o/r/.", "/o/r/..", "//o/r", "/o//r", "/o/r//info/refs", "/o%2F%2Fr",
                 "/o/r/%2F/x"}) {
    refused("github.com", t);
  }
  for (auto t : {"/repos/o/r/../../x/y/pulls", "/repos//o/r", "/repos/o/%2e%2e/x", "/repos/o/r/./pulls",
                 "/repos/o/r%2F..%2F..%2Fx%2Fy"}) {
    refused("api.github.com", t);
  }
  // ".." inside an owner or repository name is refused too.
  refused("github.com", "/o/r..x/info/refs");
  refused("github.com", "/o..p/r");
}

TEST(RepoOf, RefusesBackslashesControlBytesAndBadEscapes) {
  EXPECT_NE(refused("github.com", "/o\\r/x").find("backslash"), std::string::npos);
  EXPECT_NE(refused("github.com", "/o/r%5c..%5cx").find("backslash"), std::string::npos);
  EXPECT_NE(refused("github.com", "/o/r%00/x").find("control"), std::string::npos);
  refused("github.com", std::string_view("/o/r\0/x", 7));
  refused("github.com", "/o/r%0a/x");
  refused("github.com", "/o/r%7f");
  refused("github.com", "/o/r/x%0d%0aHost:%20evil");
  EXPECT_NE(refused("github.com", "/o/r%2").find("%-escape"), std::string::npos);
  refused("github.com", "/o/r%zz");
  refused("github.com", "/o/r/%");
  refused("github.com", "/o/r/%g0");
}

TEST(RepoOf, RefusesNamesGithubWouldNotAllow) {
  for (auto t : {"/o/r@main", "/o/r;x", "/o/r+x", "/~o/r", "/o/r%20x", "/o%C3%A9/r", "/o/r:x", "/o/r*"}) {
    refused("github.com", t);
  }
  refused("api.github.com", "/repos/o/r%40x/pulls");
  // Past the repository, any byte but those refused above is GitHub's business.
  EXPECT_EQ(repo("raw.githubusercontent.com", "/o/r/main/%C3%A9t%C3%A9@x;y+z"), "o/r");
}

TEST(RepoOf, RefusesTargetsNotStartingWithASlash) {
  refused("github.com", "");
  refused("github.com", "*");
  refused("github.com", "https://github.com/o/r");
  refused("api.github.com", "repos/o/r");
  refused("github.com", "?x=/o/r");
}

TEST(RepoOf, IgnoresTheQuery) {
  EXPECT_EQ(repo("github.com", "/o/r?x=/../../y"), "o/r");
  EXPECT_EQ(repo("github.com", "/o?r=/p/q"), "");
  EXPECT_EQ(repo("api.github.com", "/repos/o/r?"), "o/r");
}

RepoAllowlist allowlist(std::vector<std::string> entries) {
  auto r = RepoAllowlist::parse(entries);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : RepoAllowlist{};
}

TEST(RepoAllowlist, ExactEntriesAllowOnlyThatRepository) {
  auto list = allowlist({"octo/hello", "acme/tools"});
  EXPECT_TRUE(list.allows("octo/hello"));
  EXPECT_TRUE(list.allows("acme/tools"));
  EXPECT_TRUE(list.allows("OCTO/Hello"));
  EXPECT_FALSE(list.allows("octo/hello2"));
  EXPECT_FALSE(list.allows("octo/hell"));
  EXPECT_FALSE(list.allows("octo"));
  EXPECT_FALSE(list.allows("evil/hello"));
  EXPECT_FALSE(list.allows(""));
  EXPECT_FALSE(list.allowsAll());
}

TEST(RepoAllowlist, OwnerWildcardAllowsEveryRepositoryOfThatOwnerOnly) {
  auto list = allowlist({"acme/*"});
  EXPECT_TRUE(list.allows("acme/x"));
  EXPECT_TRUE(list.allows("ACME/Y.z"));
  EXPECT_FALSE(list.allows("acmex/y"));
  EXPECT_FALSE(list.allows("acm/y"));
  EXPECT_FALSE(list.allows("other/acme"));
  EXPECT_FALSE(list.allows("acme/"));
  // Not a well-formed repository: never allowed, whatever the list says.
  EXPECT_FALSE(list.allows("acme/../other/x"));
  EXPECT_FALSE(list.allows("acme/x/y"));
}

TEST(RepoAllowlist, StarAllowsEveryWellFormedRepository) {
  auto list = allowlist({"*"});
  EXPECT_TRUE(list.allowsAll());
  EXPECT_TRUE(list.allows("anyone/anything"));
  EXPECT_FALSE(list.allows("no-slash"));
  EXPECT_FALSE(list.allows("a/b/c"));
  EXPECT_FALSE(list.allows("a/b c"));
  EXPECT_TRUE(allowlist({"github.com/*"}).allowsAll());
}

TEST(RepoAllowlist, EmptyListAllowsNothing) {
  auto list = allowlist({});
  EXPECT_FALSE(list.allows("o/r"));
  EXPECT_FALSE(list.allowsAll());
}

TEST(RepoAllowlist, EntriesAreNormalised) {
  auto list = allowlist({"github.com/Octo/Hello", "GitHub.com/ACME/*", " spaced/repo ", "o/with.git"});
  EXPECT_TRUE(list.allows("octo/hello"));
  EXPECT_TRUE(list.allows("acme/anything"));
  EXPECT_TRUE(list.allows("spaced/repo"));
  EXPECT_TRUE(list.allows("o/with"));
  // The same request, read through repoOf, is allowed.
  EXPECT_TRUE(list.allows(*repoOf("github.com", "/OCTO/HELLO.git/info/refs?service=git-upload-pack")));
}

TEST(RepoAllowlist, BadEntriesSayWhichAndWhatIsExpected) {
  for (std::string bad : {"", "octo", "octo/", "/repo", "octo/hello/x", "*/repo", "o*/r", "octo/he llo", "a/b*",
                          "https://github.com/o/r", "o/..", "../r", "o/r..x", "gitlab.com/o/r", "o/**"}) {
    auto r = RepoAllowlist::parse({"fine/repo", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("allowedRepos[1]"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("\"owner/repo\""), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace km::github
