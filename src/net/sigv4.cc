// AWS Signature Version 4 (HMAC-SHA256 with OpenSSL) and the shared credentials file.
#include "net/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "core/fs.h"
#include "core/strings.h"
#include "net/secret_file.h"

namespace km::net {
namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return hex(md, n);
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &n);
  return std::string(reinterpret_cast<const char*>(md), n);
}

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

// "a=1&b=2" with its pairs sorted by name, then value (each already encoded as sent).
std::string canonicalQuery(std::string_view query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& part : split(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    pairs.emplace_back(part.substr(0, eq), eq == std::string::npos ? "" : part.substr(eq + 1));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) out += (out.empty() ? "" : "&") + k + "=" + v;
  return out;
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

std::string awsUriEncode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      unsigned char u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Result<AwsCredentials> parseAwsCredentials(std::string_view text, std::string_view profile, std::string_view origin) {
  AwsCredentials c;
  bool in_profile = false, seen_profile = false;
  size_t line_no = 0;
  for (const std::string& raw : split(text, '\n')) {
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return invalidArgument(std::string(origin) + ":" + std::to_string(line_no) + ": a section header must end in ']'");
      }
      in_profile = trim(line.substr(1, line.size() - 2)) == profile;
      seen_profile = seen_profile || in_profile;
      continue;
    }
    if (!in_profile) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key = toLower(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    std::string* into = key == "aws_access_key_id"       ? &c.access_key_id
                        : key == "aws_secret_access_key" ? &c.secret_access_key
                        : key == "aws_session_token"     ? &c.session_token
                                                         : nullptr;
    if (!into) continue;
    if (!printable(value)) {
      // The value itself is a secret: never in the message.
      return invalidArgument(std::string(origin) + ":" + std::to_string(line_no) + ": " + key +
                             " is not one word of printable ASCII");
    }
    *into = std::string(value);
  }
  if (!seen_profile) {
    return invalidArgument(std::string(origin) + " has no [" + std::string(profile) +
                           "] section (write one with aws_access_key_id and aws_secret_access_key)");
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return invalidArgument(std::string(origin) + ": [" + std::string(profile) +
                           "] needs both aws_access_key_id and aws_secret_access_key");
  }
  return c;
}

Result<AwsCredentials> readAwsCredentialsFile(const std::string& path, std::string_view profile,
                                              const std::string& km_home) {
  auto text = readSecretFile(path, km_home);
  if (!text) return std::move(text).error();
  return parseAwsCredentials(*text, profile, path);
}

std::vector<std::pair<std::string, std::string>> sigV4Headers(const SigV4Request& r, const AwsCredentials& c,
                                                               std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[17];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const std::string amz_date = stamp;
  const std::string day = amz_date.substr(0, 8);
  const std::string payload = sha256Hex(r.body);

  // Lower-case names, sorted; values trimmed with inner runs of spaces made one; a name given
  // twice is one field, its values joined by commas in the order given.
  std::vector<std::pair<std::string, std::string>> given;
  for (const auto& [name, value] : r.headers) {
    std::string lower = toLower(name);
    if (lower == "host" || lower == "x-amz-date" || lower == "x-amz-content-sha256" || lower == "x-amz-security-token" ||
        lower == "authorization") {
      continue;  // the signature's own
    }
    std::string v;
    for (char ch : trim(value)) {
      if (ch == '\t') ch = ' ';
      if (ch == ' ' && !v.empty() && v.back() == ' ') continue;
      v += ch;
    }
    given.emplace_back(std::move(lower), std::move(v));
  }
  given.emplace_back("host", std::string(trim(r.host)));
  given.emplace_back("x-amz-content-sha256", payload);
  given.emplace_back("x-amz-date", amz_date);
  if (!c.session_token.empty()) given.emplace_back("x-amz-security-token", c.session_token);
  std::stable_sort(given.begin(), given.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers, signed_names;
  for (size_t i = 0; i < given.size(); ++i) {
    if (i > 0 && given[i].first == given[i - 1].first) {
      canonical_headers.insert(canonical_headers.size() - 1, "," + given[i].second);
      continue;
    }
    canonical_headers += given[i].first + ":" + given[i].second + "\n";
    signed_names += (signed_names.empty() ? "" : ";") + given[i].first;
  }
  std::string canonical = std::string(r.method) + "\n" + awsUriEncode(r.path, /*keep_slash=*/true) + "\n" +
                          canonicalQuery(r.query) + "\n" + canonical_headers + "\n" + signed_names + "\n" + payload;
  const std::string scope = day + "/" + std::string(r.region) + "/" + std::string(r.service) + "/aws4_request";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256Hex(canonical);
  std::string key = hmac("AWS4" + c.secret_access_key, day);
  key = hmac(key, r.region);
  key = hmac(key, r.service);
  key = hmac(key, "aws4_request");
  std::string sig = hmac(key, to_sign);
  std::string signature = hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());

  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("X-Amz-Date", amz_date);
  out.emplace_back("X-Amz-Content-Sha256", payload);
  if (!c.session_token.empty()) out.emplace_back("X-Amz-Security-Token", c.session_token);
  out.emplace_back("Authorization", "AWS4-HMAC-SHA256 Credential=" + c.access_key_id + "/" + scope +
                                        ", SignedHeaders=" + signed_names + ", Signature=" + signature);
  return out;
}

std::string bedrockRegion(std::string_view host) {
  constexpr std::string_view kSuffix = ".amazonaws.com";
  for (std::string_view prefix : {"bedrock-runtime.", "bedrock-runtime-fips."}) {
    if (!host.starts_with(prefix) || !host.ends_with(kSuffix)) continue;
    std::string_view region = host.substr(prefix.size(), host.size() - prefix.size() - kSuffix.size());
    bool ok = !region.empty() && std::all_of(region.begin(), region.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    return ok ? std::string(region) : std::string();
  }
  return "";
}

}  // namespace km::net
