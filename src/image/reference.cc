#include "image/reference.h"

#include <algorithm>
#include <cctype>

namespace km::image {
namespace {

constexpr std::string_view kForm =
    "an image reference like debian:bookworm, registry.example:5000/team/tools:v2 or ubuntu@sha256:<64 hex>";

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One repository path component: lowercase alphanumerics separated by '.', '_', "__" or runs
// of '-'.
bool validComponent(std::string_view c) {
  if (c.empty() || !lowerAlnum(c.front()) || !lowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (lowerAlnum(ch)) continue;
    if (ch == '-') continue;  // runs of '-' are fine
    if (ch == '.' || ch == '_') {
      // a separator must sit between alphanumerics; "__" is one separator
      bool double_underscore = ch == '_' && i + 1 < c.size() && c[i + 1] == '_';
      size_t next = i + (double_underscore ? 2 : 1);
      if (!lowerAlnum(c[i - 1]) || next >= c.size() || !lowerAlnum(c[next])) return false;
      i = next - 1;
      continue;
    }
    return false;
  }
  return true;
}

// host[:port]: DNS labels or an IPv4 address, or [IPv6]; port 1–65535.
bool validRegistry(std::string_view r) {
  if (r.empty() || r.size() > 255) return false;
  std::string_view host = r, port;
  if (r.front() == '[') {
    size_t close = r.find(']');
    if (close == std::string_view::npos) return false;
    host = r.substr(1, close - 1);
    std::string_view rest = r.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      return false;
    }
  } else {
    size_t colon = r.find(':');
    if (colon != std::string_view::npos) {
      host = r.substr(0, colon);
      port = r.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty() || host.front() == '.' || host.back() == '.' || host.front() == '-') return false;
    for (char c : host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) return false;
    }
    if (host.find("..") != std::string_view::npos) return false;
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return false;
  }
  return true;
}

bool validTag(std::string_view t) {
  if (t.empty() || t.size() > 128 || t.front() == '.' || t.front() == '-') return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

Error bad(std::string_view text, const std::string& why) {
  return invalidArgument("\"" + std::string(text) + "\" is not " + std::string(kForm) + ": " + why);
}

}  // namespace

bool isDigest(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.size() != kPrefix.size() + 64 || text.substr(0, kPrefix.size()) != kPrefix) return false;
  return std::all_of(text.begin() + kPrefix.size(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string_view digestHex(std::string_view digest) {
  size_t colon = digest.find(':');
  return colon == std::string_view::npos ? digest : digest.substr(colon + 1);
}

std::string Reference::repository() const { return registry + "/" + path; }

std::string Reference::str() const {
  std::string s = repository();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<Reference> parseReference(std::string_view text) {
  const std::string_view original = text;
  if (text.rfind("docker://", 0) == 0) text.remove_prefix(9);
  if (text.empty()) return bad(original, "it is empty");
  for (std::string_view transport : {"oci:", "oci-archive:", "dir:", "docker-archive:", "docker-daemon:",
                                     "containers-storage:", "ostree:", "sif:"}) {
    if (text.rfind(transport, 0) == 0) {
      return bad(original, "km pulls from registries only (docker://…); push the image to a registry first");
    }
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad(original, "it holds a space or control character");
  }
  Reference ref;
  std::string_view rest = text;
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!isDigest(ref.digest)) return bad(original, "the digest must be sha256: and 64 lowercase hex digits");
  }
  // A tag follows the last ':' after the last '/' (a ':' before it is a registry's port).
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!validTag(ref.tag)) {
      return bad(original, "the tag \"" + ref.tag + "\" must be 1 to 128 of A-Z a-z 0-9 _ . - and not start with . or -");
    }
  }
  if (rest.empty()) return bad(original, "the repository name is missing");
  size_t first = rest.find('/');
  std::string_view head = rest.substr(0, first);
  bool has_registry = first != std::string_view::npos &&
                      (head.find('.') != std::string_view::npos || head.find(':') != std::string_view::npos ||
                       head == "localhost" || head.front() == '[');
  std::string_view path = rest;
  if (has_registry) {
    ref.registry = std::string(head);
    path = rest.substr(first + 1);
    if (!validRegistry(ref.registry)) return bad(original, "\"" + ref.registry + "\" is not a registry host[:port]");
  } else {
    ref.registry = std::string(kDefaultRegistry);
  }
  if (path.empty()) return bad(original, "the repository name is missing");
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    std::string_view comp = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (comp.empty()) return bad(original, "a repository path component is empty");
    if (!validComponent(comp)) {
      bool upper = std::any_of(comp.begin(), comp.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      return bad(original, upper ? "repository names are lower case (\"" + std::string(comp) + "\")"
                                 : "\"" + std::string(comp) +
                                       "\" must be lowercase letters and digits, separated by . _ __ or -");
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  ref.path = std::string(path);
  if (ref.registry == kDefaultRegistry && ref.path.find('/') == std::string::npos) ref.path = "library/" + ref.path;
  if (ref.repository().size() > 255) return bad(original, "the repository name is longer than 255 characters");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace km::image
