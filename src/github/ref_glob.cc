// RefGlob: bash-style globs compiled to tokens once, matched without recursion. A '*' matches
// '/' too, so only the last '*' seen ever needs retrying: when a later token fails, the run
// that '*' covers grows by one byte and matching resumes after it. That bounds the work by
// pattern length × name length, whatever the input.
#include <cctype>

#include "core/strings.h"
#include "github/github.h"

namespace km::github {
namespace {

// The bytes of a POSIX class ("alpha" in "[[:alpha:]]"); false for an unknown name.
bool addClass(std::string_view name, std::bitset<256>& set) {
  int (*test)(int) = nullptr;
  if (name == "alpha") test = isalpha;
  else if (name == "digit") test = isdigit;
  else if (name == "alnum") test = isalnum;
  else if (name == "upper") test = isupper;
  else if (name == "lower") test = islower;
  else if (name == "space") test = isspace;
  else if (name == "xdigit") test = isxdigit;
  else if (name == "punct") test = ispunct;
  else if (name == "blank") test = isblank;
  else if (name == "cntrl") test = iscntrl;
  else if (name == "print") test = isprint;
  else if (name == "graph") test = isgraph;
  else return false;
  for (int c = 0; c < 128; ++c) {  // ASCII only: the C locale's answer, whatever the process's
    if (test(c)) set.set(static_cast<size_t>(c));
  }
  return true;
}

}  // namespace

Result<RefGlob> RefGlob::compile(std::string_view pattern) {
  RefGlob glob;
  auto fail = [&](std::string_view why) {
    return invalidArgument("glob " + quoted(pattern) + ": " + std::string(why));
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    Token token{};
    token.kind = Token::Kind::kByte;
    if (c == '*') {
      if (!glob.tokens_.empty() && glob.tokens_.back().kind == Token::Kind::kStar) continue;
      token.kind = Token::Kind::kStar;
    } else if (c == '?') {
      token.kind = Token::Kind::kAnyByte;
    } else if (c == '\\') {
      if (++i == pattern.size()) return fail("ends with a lone '\\'");
      token.byte = static_cast<unsigned char>(pattern[i]);
    } else if (c != '[') {
      token.byte = static_cast<unsigned char>(c);
    } else {
      token.kind = Token::Kind::kSet;
      size_t j = i + 1;
      bool negate = j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^');
      if (negate) ++j;
      bool first = true;
      for (;; first = false) {
        if (j >= pattern.size()) return fail("has a '[' without its ']'");
        unsigned char lo = static_cast<unsigned char>(pattern[j]);
        if (lo == ']' && !first) break;
        if (lo == '[' && j + 1 < pattern.size() && pattern[j + 1] == ':') {
          size_t end = pattern.find(":]", j + 2);
          if (end == std::string_view::npos) return fail("has a '[:' without its ':]'");
          if (!addClass(pattern.substr(j + 2, end - j - 2), token.set)) return fail("names an unknown [:class:]");
          j = end + 2;
          continue;
        }
        if (lo == '\\') {
          if (++j >= pattern.size()) return fail("has a '[' without its ']'");
          lo = static_cast<unsigned char>(pattern[j]);
        }
        ++j;
        unsigned char hi = lo;
        if (j + 1 < pattern.size() && pattern[j] == '-' && pattern[j + 1] != ']') {
          size_t k = j + 1;
          if (pattern[k] == '\\' && k + 1 < pattern.size()) ++k;
          hi = static_cast<unsigned char>(pattern[k]);
          j = k + 1;
        }
        for (unsigned v = lo; v <= hi; ++v) token.set.set(v);  // hi < lo: an empty range, as bash
      }
      if (negate) token.set.flip();
      i = j;
    }
    glob.tokens_.push_back(token);
  }
  return glob;
}

bool RefGlob::matches(std::string_view name) const {
  const size_t npos = static_cast<size_t>(-1);
  size_t t = 0, n = 0;
  size_t star = npos, star_n = 0;  // the last '*' and where its run would end
  while (n < name.size()) {
    if (t < tokens_.size()) {
      const Token& tok = tokens_[t];
      unsigned char c = static_cast<unsigned char>(name[n]);
      if (tok.kind == Token::Kind::kStar) {
        star = t++;
        star_n = n;
        continue;
      }
      bool one = tok.kind == Token::Kind::kAnyByte || (tok.kind == Token::Kind::kByte && tok.byte == c) ||
                 (tok.kind == Token::Kind::kSet && tok.set.test(c));
      if (one) {
        ++t;
        ++n;
        continue;
      }
    }
    if (star == npos) return false;
    t = star + 1;
    n = ++star_n;
  }
  while (t < tokens_.size() && tokens_[t].kind == Token::Kind::kStar) ++t;
  return t == tokens_.size();
}

}  // namespace km::github
