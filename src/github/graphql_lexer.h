// Private to km::github: a GraphQL lexer (the October 2021 spec's lexical grammar), streaming so
// that a 1 MiB query never becomes a million-element token vector.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace km::github::detail {

struct GqlToken {
  enum class Kind : uint8_t { kEnd, kName, kPunct, kSpread, kString, kNumber };
  Kind kind = Kind::kEnd;
  std::string_view text;  // as written; for kPunct the one character
  std::string value;      // kString: the decoded value

  bool is(char punct) const { return kind == Kind::kPunct && text.size() == 1 && text[0] == punct; }
  bool isName(std::string_view name) const { return kind == Kind::kName && text == name; }
};

class GqlLexer {
 public:
  explicit GqlLexer(std::string_view source) : src_(source) { advance(); }

  const GqlToken& peek() const { return next_; }
  GqlToken take() {
    GqlToken t = std::move(next_);
    advance();
    return t;
  }
  // Set (and the token stream ends with kEnd) at the first byte that is not GraphQL.
  const std::string& error() const { return error_; }

 private:
  void advance();
  void fail(std::string why);
  bool lexString();
  bool lexBlockString();

  std::string_view src_;
  size_t pos_ = 0;
  GqlToken next_;
  std::string error_;
};

}  // namespace km::github::detail
