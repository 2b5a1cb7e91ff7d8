#include "doc/pattern.h"

#include <gtest/gtest.h>

#include <string>

#include "doc/describe.h"
#include "profile/patterns.h"

namespace km::doc {
namespace {

namespace pt = profile::patterns;

TEST(Pattern, SearchesUnlessAnchored) {
  EXPECT_TRUE(patternSearch("^/", "/data"));
  EXPECT_FALSE(patternSearch("^/", "data/"));
  EXPECT_TRUE(patternSearch("b+", "abbbc"));
  EXPECT_FALSE(patternSearch("x", ""));
  EXPECT_TRUE(patternSearch("^$", ""));
}

TEST(Pattern, DollarMatchesOnlyAtTheEnd) {
  // PCRE2's default `$` also matches before a final newline; ECMAScript's (JSON Schema's)
  // does not, and a trailing newline must not slip a value past its pattern.
  EXPECT_TRUE(patternSearch(pt::kTtl, "4h"));
  EXPECT_FALSE(patternSearch(pt::kTtl, "4h\n"));
  EXPECT_FALSE(patternSearch(pt::kPrefix, "abc\n"));
  EXPECT_FALSE(patternSearch(pt::kAmiId, "ami-0123abcd\n"));
}

TEST(Pattern, DotMatchesNeitherCrNorLf) {
  EXPECT_TRUE(patternSearch(pt::kApiVersion, "klankermaker.ai/v1alpha2"));
  EXPECT_FALSE(patternSearch(pt::kApiVersion, "klankermaker.ai\r/v1alpha2"));
  EXPECT_FALSE(patternSearch(pt::kApiVersion, "klankermaker.ai\n/v1alpha2"));
}

TEST(Pattern, ProfilePatternsAcceptAndRefuseAsWritten) {
  EXPECT_TRUE(patternSearch(pt::kPrefix, "sb"));
  EXPECT_TRUE(patternSearch(pt::kPrefix, "a12345678901"));
  EXPECT_FALSE(patternSearch(pt::kPrefix, "a123456789012"));
  EXPECT_FALSE(patternSearch(pt::kPrefix, "1a"));
  EXPECT_TRUE(patternSearch(pt::kTtl, "0"));
  EXPECT_FALSE(patternSearch(pt::kTtl, "4"));
  EXPECT_FALSE(patternSearch(pt::kTtl, "4hm"));
  EXPECT_TRUE(patternSearch(pt::kRegion, "us-gov-west-1"));
  EXPECT_TRUE(patternSearch(pt::kRegion, "eu-central-2"));
  EXPECT_FALSE(patternSearch(pt::kRegion, "useast1"));
  EXPECT_TRUE(patternSearch(pt::kInstanceType, "m7i-flex.large"));
  EXPECT_FALSE(patternSearch(pt::kInstanceType, "T3.medium"));
  EXPECT_TRUE(patternSearch(pt::kHost, "api.anthropic.com"));
  EXPECT_TRUE(patternSearch(pt::kHost, "[2001:db8::1]"));
  EXPECT_TRUE(patternSearch(pt::kHost, "*"));
  EXPECT_FALSE(patternSearch(pt::kHost, "*.example.com"));
  EXPECT_FALSE(patternSearch(pt::kHost, "a..b"));
  EXPECT_FALSE(patternSearch(pt::kHost, "-a.example.com"));
  EXPECT_FALSE(patternSearch(pt::kHost, std::string(64, 'a') + ".com"));
  EXPECT_TRUE(patternSearch(pt::kHost, std::string(63, 'a') + ".com"));
  EXPECT_TRUE(patternSearch(pt::kDnsSuffix, ".example.com"));
  EXPECT_FALSE(patternSearch(pt::kDnsSuffix, "..example.com"));
  EXPECT_TRUE(patternSearch(pt::kRepo, "github.com/owner/*"));
  EXPECT_TRUE(patternSearch(pt::kRepo, "owner/repo.js"));
  EXPECT_FALSE(patternSearch(pt::kRepo, "owner"));
  EXPECT_FALSE(patternSearch(pt::kRepo, "owner/repo/extra"));
  // The ref pattern's lookaheads: no "..", no leading "/", none of space ~ ^ : backslash.
  EXPECT_TRUE(patternSearch(pt::kRef, "feature/*"));
  EXPECT_FALSE(patternSearch(pt::kRef, "a..b"));
  EXPECT_FALSE(patternSearch(pt::kRef, "/main"));
  EXPECT_FALSE(patternSearch(pt::kRef, "ma in"));
  EXPECT_FALSE(patternSearch(pt::kRef, "main\t"));
  EXPECT_FALSE(patternSearch(pt::kRef, "a^b"));
  EXPECT_FALSE(patternSearch(pt::kRef, "a\\b"));
  EXPECT_TRUE(patternSearch(pt::kEmail, "name@example.com"));
  EXPECT_FALSE(patternSearch(pt::kEmail, "name@@example.com"));
  EXPECT_FALSE(patternSearch(pt::kEmail, "na me@example.com"));
  EXPECT_TRUE(patternSearch(kSizePattern, "64Gi"));
  EXPECT_TRUE(patternSearch(kSizePattern, "999999999999999999"));
  EXPECT_FALSE(patternSearch(kSizePattern, "9999999999999999999"));
  EXPECT_FALSE(patternSearch(kSizePattern, "0"));
}

TEST(Pattern, BytesNotCharacters) {
  // A non-ASCII byte is one character to the pattern, never an error.
  EXPECT_FALSE(patternSearch(pt::kPrefix, "caf\xc3\xa9"));
  EXPECT_TRUE(patternSearch(pt::kEmail, "\xc3\xa9@example.com"));
  EXPECT_FALSE(patternSearch(pt::kPrefix, std::string("ab\0c", 4)));
}

TEST(Pattern, RunawayBacktrackingIsNoMatchNotAHang) {
  // Nested quantifiers over a long non-matching input: exponential for a backtracker. The
  // work limit ends it, and the value counts as not matching.
  std::string text(kMaxPatternInput - 1, 'a');
  text += 'b';
  EXPECT_FALSE(patternSearch("^(a+)+$", text));
  EXPECT_TRUE(patternSearch("^(a+)+b$", text));
}

TEST(PatternDeathTest, APatternThatDoesNotCompileIsABug) {
  EXPECT_DEATH(patternSearch("([", "x"), "does not compile");
}

}  // namespace
}  // namespace km::doc
