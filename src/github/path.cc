// Decoding a request path once, strictly, so every classifier reads the same segments as
// GitHub would: the proxy refuses what could be read two ways instead of guessing.
#include "github/path.h"

#include "core/strings.h"

namespace km::github::detail {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Path> decodePath(std::string_view target) {
  std::string_view raw = target.substr(0, target.find('?'));
  if (raw.empty() || raw.front() != '/') {
    return invalidArgument("request path " + quoted(raw) + " does not start with '/'");
  }
  std::string decoded;
  decoded.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      decoded.push_back(raw[i]);
      continue;
    }
    int hi = i + 2 < raw.size() ? hexValue(raw[i + 1]) : -1;
    int lo = i + 2 < raw.size() ? hexValue(raw[i + 2]) : -1;
    if (hi < 0 || lo < 0) return invalidArgument("request path " + quoted(raw) + " has a malformed %-escape");
    decoded.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  for (unsigned char c : decoded) {
    if (c < 0x20 || c == 0x7f) return invalidArgument("request path " + quoted(raw) + " holds a control byte");
    if (c == '\\') return invalidArgument("request path " + quoted(raw) + " holds a backslash");
  }
  if (decoded.find("//") != std::string::npos) {
    return invalidArgument("request path " + quoted(raw) + " has an empty segment");
  }
  Path path;
  std::string_view rest = std::string_view(decoded).substr(1);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg == "." || seg == "..") {
      return invalidArgument("request path " + quoted(raw) + " has a '" + std::string(seg) + "' segment");
    }
    path.segments.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return path;
}

bool isRepoNamePart(std::string_view s) {
  if (s.empty() || s.find("..") != std::string_view::npos) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace km::github::detail
