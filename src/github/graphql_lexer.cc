// The GraphQL lexer: ignored tokens (whitespace, commas, comments, BOM) skipped, strings decoded.
#include "github/graphql_lexer.h"

#include "core/strings.h"

namespace km::github::detail {
namespace {

bool nameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool nameChar(char c) { return nameStart(c) || (c >= '0' && c <= '9'); }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

void GqlLexer::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why) + " at offset " + std::to_string(pos_) + " of the query";
  next_ = GqlToken{};
  pos_ = src_.size();
}

void GqlLexer::advance() {
  next_ = GqlToken{};
  while (pos_ < src_.size()) {
    char c = src_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < src_.size() && src_[pos_] != '\n' && src_[pos_] != '\r') ++pos_;
    } else if (src_.substr(pos_, 3) == "\xEF\xBB\xBF") {
      pos_ += 3;
    } else {
      break;
    }
  }
  if (pos_ >= src_.size()) return;
  size_t start = pos_;
  char c = src_[pos_];
  if (nameStart(c)) {
    while (pos_ < src_.size() && nameChar(src_[pos_])) ++pos_;
    next_.kind = GqlToken::Kind::kName;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    ++pos_;
    while (pos_ < src_.size() && (nameChar(src_[pos_]) || src_[pos_] == '.' || src_[pos_] == '+' || src_[pos_] == '-')) {
      ++pos_;
    }
    next_.kind = GqlToken::Kind::kNumber;
  } else if (src_.substr(pos_, 3) == "...") {
    pos_ += 3;
    next_.kind = GqlToken::Kind::kSpread;
  } else if (std::string_view("!$&()=:@[]{|}").find(c) != std::string_view::npos) {
    ++pos_;
    next_.kind = GqlToken::Kind::kPunct;
  } else if (c == '"') {
    if (!(src_.substr(pos_, 3) == "\"\"\"" ? lexBlockString() : lexString())) return;
    next_.kind = GqlToken::Kind::kString;
  } else {
    fail("unexpected character " + quoted(src_.substr(pos_, 1)));
    return;
  }
  next_.text = src_.substr(start, pos_ - start);
}

bool GqlLexer::lexString() {
  ++pos_;  // opening quote
  std::string& out = next_.value;
  while (pos_ < src_.size()) {
    char c = src_[pos_++];
    if (c == '"') return true;
    if (c == '\n' || c == '\r') break;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (pos_ >= src_.size()) break;
    char e = src_[pos_++];
    switch (e) {
      case '"': case '\\': case '/': out.push_back(e); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        uint32_t cp = 0;
        for (int i = 0; i < 4; ++i) {
          int d = pos_ < src_.size() ? hexValue(src_[pos_]) : -1;
          if (d < 0) {
            fail("malformed \\u escape in a string");
            return false;
          }
          cp = cp * 16 + static_cast<uint32_t>(d);
          ++pos_;
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        fail("unknown escape in a string");
        return false;
    }
  }
  fail("unterminated string");
  return false;
}

bool GqlLexer::lexBlockString() {
  pos_ += 3;
  std::string& out = next_.value;
  while (pos_ < src_.size()) {
    if (src_.substr(pos_, 4) == "\\\"\"\"") {
      out += "\"\"\"";
      pos_ += 4;
    } else if (src_.substr(pos_, 3) == "\"\"\"") {
      pos_ += 3;
      return true;  // kept raw: indentation is not removed (no repository name spans lines)
    } else {
      out.push_back(src_[pos_++]);
    }
  }
  fail("unterminated block string");
  return false;
}

}  // namespace km::github::detail
