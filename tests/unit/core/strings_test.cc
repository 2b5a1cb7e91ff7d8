#include "core/strings.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace km {
namespace {

TEST(StringsTest, TrimRemovesSpacesTabsAndLineEndsOnBothSides) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim("\t\n"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
}

TEST(StringsTest, ToLowerAndPrefixSuffixChecks) {
  EXPECT_EQ(toLower("MiXeD-42"), "mixed-42");
  EXPECT_TRUE(startsWith("nameserver 1.1.1.1", "nameserver"));
  EXPECT_TRUE(startsWith("abc", ""));
  EXPECT_FALSE(startsWith("ab", "abc"));
  EXPECT_TRUE(endsWith("x.enc.yaml", ".enc.yaml"));
  EXPECT_FALSE(endsWith("yaml", ".enc.yaml"));
  EXPECT_TRUE(endsWith("abc", ""));
}

TEST(StringsTest, SplitKeepsEmptyFieldsIncludingTrailingOnes) {
  EXPECT_EQ(split("a,b,c", ','), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split("a,,b,", ','), (std::vector<std::string>{"a", "", "b", ""}));
  EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(split("no-sep", ','), (std::vector<std::string>{"no-sep"}));
}

TEST(StringsTest, JoinIsTheInverseOfSplit) {
  std::vector<std::string> parts{"a", "", "b"};
  EXPECT_EQ(join(parts, ","), "a,,b");
  EXPECT_EQ(split(join(parts, ","), ','), parts);
  EXPECT_EQ(join(std::vector<std::string>{}, ", "), "");
  EXPECT_EQ(join(std::vector<std::string>{"only"}, ", "), "only");
}

TEST(StringsTest, EditDistanceCountsInsertDeleteSubstituteIgnoringCase) {
  EXPECT_EQ(editDistance("", ""), 0u);
  EXPECT_EQ(editDistance("abc", ""), 3u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(editDistance("allowedHost", "allowedHosts"), 1u);  // insertion
  EXPECT_EQ(editDistance("enforcment", "enforcement"), 1u);
  EXPECT_EQ(editDistance("ttl", "tll"), 1u);  // substitution
  EXPECT_EQ(editDistance("SPOT", "spot"), 0u);  // case does not count
  EXPECT_EQ(editDistance("abc", "cba"), editDistance("cba", "abc"));
}

TEST(StringsTest, ClosestMatchSuggestsLikelyTyposOnly) {
  constexpr std::array<std::string_view, 3> kFields{"allowedDNSSuffixes", "allowedHosts",
                                                    "enforcement"};
  EXPECT_EQ(closestMatch("allowedHost", kFields), "allowedHosts");
  EXPECT_EQ(closestMatch("allowedhosts", kFields), "allowedHosts");  // case-only difference
  EXPECT_EQ(closestMatch("enforcment", kFields), "enforcement");
  EXPECT_EQ(closestMatch("banana", kFields), std::nullopt);
  EXPECT_EQ(closestMatch("x", std::span<const std::string_view>{}), std::nullopt);
}

TEST(StringsTest, ClosestMatchPrefersTheNearestCandidate) {
  constexpr std::array<std::string_view, 3> kWords{"stop", "spot", "shop"};
  EXPECT_EQ(closestMatch("spott", kWords), "spot");
  // Short words still allow one edit.
  constexpr std::array<std::string_view, 2> kShort{"ai", "dns"};
  EXPECT_EQ(closestMatch("dn", kShort), "dns");
  EXPECT_EQ(closestMatch("xyz", kShort), std::nullopt);
}

TEST(StringsTest, QuotedEscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(quoted("name"), "\"name\"");
  EXPECT_EQ(quoted(""), "\"\"");
  EXPECT_EQ(quoted("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(quoted("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(quoted("l1\nl2\t\r"), "\"l1\\nl2\\t\\r\"");
  EXPECT_EQ(quoted(std::string_view("\x01\x1f", 2)), "\"\\x01\\x1f\"");
  EXPECT_EQ(quoted("\x7f"), "\"\\x7f\"");
  EXPECT_EQ(quoted("h\xC3\xA9"), "\"h\xC3\xA9\"");  // UTF-8 passes through
}

TEST(StringsTest, EscapeForTerminalDefusesControlSequences) {
  // The attack from a sandbox: a process name that clears the screen, colours it and rings.
  EXPECT_EQ(escapeForTerminal("\x1b[2J\x1b[31mPWN\a"), "\\x1b[2J\\x1b[31mPWN\\x07");
  EXPECT_EQ(escapeForTerminal("plain text, h\xC3\xA9, \xE2\x9C\x93"), "plain text, h\xC3\xA9, \xE2\x9C\x93");
  EXPECT_EQ(escapeForTerminal("a\rb\x7f"), "a\\x0db\\x7f");
  // Newlines and tabs stay in messages, and are escaped in one-line fields.
  EXPECT_EQ(escapeForTerminal("l1\n\tl2"), "l1\n\tl2");
  EXPECT_EQ(escapeForTerminal("l1\n\tl2", false), "l1\\n\\tl2");  // one line: a tab would hide where a field ends
  // Invisible characters that change how text reads: zero-width space, right-to-left mark,
  // byte-order mark, a tag character.
  EXPECT_EQ(escapeForTerminal("a\xE2\x80\x8B" "b\xE2\x80\x8F" "c\xEF\xBB\xBF\xF3\xA0\x80\x81"),
            "a\\u{200b}b\\u{200f}c\\u{feff}\\u{e0001}");
  // C1 controls (U+009B is a one-byte CSI on some terminals), bidi overrides and isolates.
  EXPECT_EQ(escapeForTerminal("\xC2\x9B" "2J"), "\\u{009b}2J");
  EXPECT_EQ(escapeForTerminal("abc\xE2\x80\xAE" "evil"), "abc\\u{202e}evil");
  EXPECT_EQ(escapeForTerminal("\xE2\x81\xA6x"), "\\u{2066}x");
  // Bytes that are not UTF-8: stray continuation bytes, overlong forms, surrogates, truncation.
  EXPECT_EQ(escapeForTerminal("\x80"), "\\x80");
  EXPECT_EQ(escapeForTerminal("\xC0\x9B"), "\\xc0\\x9b");
  EXPECT_EQ(escapeForTerminal("\xED\xA0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(escapeForTerminal("\xE2\x9C"), "\\xe2\\x9c");
  EXPECT_EQ(escapeForTerminal(std::string_view("a\0b", 3)), "a\\x00b");
}

}  // namespace
}  // namespace km

namespace km {
namespace {

TEST(Base64Test, EncodesAndDecodesBothAlphabets) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64Encode("\xfb\xff", false), "+/8=");
  EXPECT_EQ(base64Encode("\xfb\xff", true), "-_8");
  for (std::string s : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                        std::string("\0\xff\x10 x", 5)}) {
    EXPECT_EQ(base64Decode(base64Encode(s)).value_or("?"), s);
    EXPECT_EQ(base64Decode(base64Encode(s, true)).value_or("?"), s);
  }
  EXPECT_FALSE(base64Decode("a"));      // a length no encoding has
  EXPECT_FALSE(base64Decode("ab!d"));   // a character of neither alphabet
  EXPECT_FALSE(base64Decode("ab\ncd"));
}

}  // namespace
}  // namespace km
