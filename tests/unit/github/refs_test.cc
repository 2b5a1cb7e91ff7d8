// Ref globs, git's ref-name rules, and spec.sourceAccess.github.allowedRefs.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "github/github.h"

namespace km::github {
namespace {

bool glob(std::string_view pattern, std::string_view name) {
  auto g = RefGlob::compile(pattern);
  EXPECT_TRUE(g) << pattern << ": " << g.error().message();
  return g && g->matches(name);
}

TEST(RefGlob, LiteralsMatchExactly) {
  EXPECT_TRUE(glob("main", "main"));
  EXPECT_FALSE(glob("main", "main2"));
  EXPECT_FALSE(glob("main", "mai"));
  EXPECT_FALSE(glob("main", "Main"));
  EXPECT_TRUE(glob("", ""));
  EXPECT_FALSE(glob("", "x"));
}

TEST(RefGlob, StarMatchesAnyRunIncludingSlashes) {
  EXPECT_TRUE(glob("feature/*", "feature/x"));
  EXPECT_TRUE(glob("feature/*", "feature/a/b/c"));
  EXPECT_TRUE(glob("feature/*", "feature/"));
  EXPECT_FALSE(glob("feature/*", "feature"));
  EXPECT_FALSE(glob("feature/*", "features/x"));
  EXPECT_TRUE(glob("*", ""));
  EXPECT_TRUE(glob("*", "a/b"));
  EXPECT_TRUE(glob("*-fix", "a/b-fix"));
  EXPECT_FALSE(glob("*-fix", "a/b-fix2"));
  EXPECT_TRUE(glob("a*b*c", "aXbYbZc"));
  EXPECT_TRUE(glob("a*b*c", "abc"));
  EXPECT_FALSE(glob("a*b*c", "acb"));
  EXPECT_TRUE(glob("a**b", "ab"));
  EXPECT_TRUE(glob("*a*a*a", "aaa"));
  EXPECT_FALSE(glob("*a*a*a", "aab"));
}

TEST(RefGlob, QuestionMarkMatchesOneByte) {
  EXPECT_TRUE(glob("v?", "v1"));
  EXPECT_TRUE(glob("v?", "v/"));
  EXPECT_FALSE(glob("v?", "v"));
  EXPECT_FALSE(glob("v?", "v12"));
  EXPECT_TRUE(glob("??*", "ab"));
  EXPECT_FALSE(glob("??*", "a"));
}

TEST(RefGlob, BracketSets) {
  EXPECT_TRUE(glob("v[0-9]", "v7"));
  EXPECT_FALSE(glob("v[0-9]", "va"));
  EXPECT_TRUE(glob("[abc]x", "bx"));
  EXPECT_FALSE(glob("[abc]x", "dx"));
  EXPECT_TRUE(glob("[!abc]x", "dx"));
  EXPECT_FALSE(glob("[!abc]x", "ax"));
  EXPECT_TRUE(glob("[^abc]x", "dx"));
  EXPECT_TRUE(glob("[]]", "]"));
  EXPECT_TRUE(glob("[!]]", "a"));
  EXPECT_FALSE(glob("[!]]", "]"));
  EXPECT_TRUE(glob("[a-]", "-"));
  EXPECT_TRUE(glob("[[:digit:]]*", "1abc"));
  EXPECT_FALSE(glob("[[:digit:]]*", "abc"));
  EXPECT_TRUE(glob("[[:alpha:]_]", "_"));
  EXPECT_TRUE(glob("[[:upper:]]", "Q"));
  EXPECT_FALSE(glob("[[:upper:]]", "q"));
  EXPECT_FALSE(glob("[z-a]", "m"));  // an empty range, as bash has it
  EXPECT_TRUE(glob("[\\]]", "]"));
  EXPECT_TRUE(glob("release-[0-9]*.[0-9]*", "release-1.20"));
  // A set never matches the empty name, nor '/' unless it names it.
  EXPECT_FALSE(glob("[a-z]", ""));
  EXPECT_FALSE(glob("[!a]", ""));
}

TEST(RefGlob, BackslashMakesTheNextByteLiteral) {
  EXPECT_TRUE(glob("a\\*", "a*"));
  EXPECT_FALSE(glob("a\\*", "ab"));
  EXPECT_TRUE(glob("\\?", "?"));
  EXPECT_FALSE(glob("\\?", "x"));
}

TEST(RefGlob, RefusesPatternsItCannotReadOneWay) {
  for (auto bad : {"feature/[", "[abc", "[!", "a\\", "[[:bogus:]]", "[[:alpha:", "[\\"}) {
    auto g = RefGlob::compile(bad);
    EXPECT_FALSE(g) << bad;
  }
}

TEST(RefGlob, PathologicalPatternsStayFast) {
  // A backtracking matcher takes exponential time here; this one takes pattern×name steps.
  std::string pattern;
  for (int i = 0; i < 200; ++i) pattern += "*a";
  pattern += "b";
  std::string name(20000, 'a');
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(glob(pattern, name));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(IsValidRefName, AcceptsWhatGitPushSends) {
  for (auto ok : {"refs/heads/main", "refs/heads/feature/x-1", "refs/tags/v1.2.3", "refs/notes/commits",
                  "refs/heads/a.b", "refs/heads/@", "refs/heads/x@y", "refs/pull/1/head", "refs/heads/ünïcode"}) {
    EXPECT_TRUE(isValidRefName(ok)) << ok;
  }
}

TEST(IsValidRefName, RefusesWhatGitRefuses) {
  for (std::string_view bad :
       {"", "main", "refs", "refs/", "HEAD", "heads/main", "refs/heads/", "refs/heads/a..b", "refs/heads//x",
        "refs//heads/x", "refs/heads/x.lock", "refs/heads/x.lock/y", "refs/heads/.hidden", "refs/heads/a/.b",
        "refs/heads/x.", "refs/heads/a@{1}", "refs/heads/a b", "refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b",
        "refs/heads/a?", "refs/heads/a*", "refs/heads/a[b", "refs/heads/a\\b", "refs/heads/a\tb", "refs/heads/a\x7f",
        "refs/heads/a\nb", "Refs/heads/x"}) {
    EXPECT_FALSE(isValidRefName(bad)) << bad;
  }
  EXPECT_FALSE(isValidRefName(std::string_view("refs/heads/a\0b", 14)));
}

RefAllowlist refs(std::vector<std::string> entries) {
  auto r = RefAllowlist::parse(entries);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : *RefAllowlist::parse({});
}

TEST(RefAllowlist, BranchEntriesMatchBranchesOnly) {
  auto list = refs({"main", "develop", "feature/*", "fix/*"});
  EXPECT_TRUE(list.allows("refs/heads/main"));
  EXPECT_TRUE(list.allows("refs/heads/develop"));
  EXPECT_TRUE(list.allows("refs/heads/feature/login"));
  EXPECT_TRUE(list.allows("refs/heads/feature/a/b"));
  EXPECT_TRUE(list.allows("refs/heads/fix/x"));
  EXPECT_FALSE(list.allows("refs/heads/master"));
  EXPECT_FALSE(list.allows("refs/heads/mainline"));
  EXPECT_FALSE(list.allows("refs/heads/feature"));
  EXPECT_FALSE(list.allows("refs/heads/hotfix/x"));
  // The same names in another namespace are not branches.
  EXPECT_FALSE(list.allows("refs/tags/main"));
  EXPECT_FALSE(list.allows("refs/tags/feature/x"));
  EXPECT_FALSE(list.allows("refs/notes/main"));
  EXPECT_FALSE(list.allows("main"));
  // Case matters, as it does to git.
  EXPECT_FALSE(list.allows("refs/heads/Main"));
}

TEST(RefAllowlist, EmptyListAndStarAllowEveryBranchButNoTag) {
  for (auto list : {refs({}), refs({"*"})}) {
    EXPECT_TRUE(list.allows("refs/heads/main"));
    EXPECT_TRUE(list.allows("refs/heads/a/b/c"));
    EXPECT_FALSE(list.allows("refs/tags/v1"));
    EXPECT_FALSE(list.allows("refs/notes/commits"));
    EXPECT_FALSE(list.allows("refs/pull/1/head"));
    EXPECT_FALSE(list.allows("refs/remotes/origin/main"));
  }
}

TEST(RefAllowlist, FullRefEntriesOpenOtherNamespaces) {
  auto list = refs({"main", "refs/tags/v*"});
  EXPECT_TRUE(list.allows("refs/tags/v1.0"));
  EXPECT_TRUE(list.allows("refs/tags/v"));
  EXPECT_FALSE(list.allows("refs/tags/release-1"));
  EXPECT_TRUE(list.allows("refs/heads/main"));
  EXPECT_FALSE(list.allows("refs/heads/other"));
  auto everything = refs({"refs/*"});
  EXPECT_TRUE(everything.allows("refs/tags/x"));
  EXPECT_TRUE(everything.allows("refs/notes/commits"));
  // "refs/heads/main" written in full is the same as "main".
  EXPECT_TRUE(refs({"refs/heads/main"}).allows("refs/heads/main"));
}

TEST(RefAllowlist, GlobFeaturesWorkInEntries) {
  auto list = refs({"release-[0-9]*", "user/?/*"});
  EXPECT_TRUE(list.allows("refs/heads/release-2"));
  EXPECT_FALSE(list.allows("refs/heads/release-x"));
  EXPECT_TRUE(list.allows("refs/heads/user/a/topic"));
  EXPECT_FALSE(list.allows("refs/heads/user/ab/topic"));
}

TEST(RefAllowlist, BadEntriesSayWhich) {
  for (std::string bad : {"", " main", "main ", "a b", "feature/[", "x\\", "tab\there"}) {
    auto r = RefAllowlist::parse({"main", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("allowedRefs[1]"), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace km::github
