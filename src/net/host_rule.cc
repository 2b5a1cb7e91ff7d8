#include "net/host_rule.h"

#include <algorithm>
#include <vector>

namespace km::net {

std::string canonicalName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

HostPolicy::HostPolicy(const std::vector<std::string>& dns_suffixes,
                       const std::vector<std::string>& hosts) {
  auto allowAll = [&](const std::string& entry) {
    if (all_) return;
    all_ = true;
    all_rule_ = entry;
  };
  for (const auto& entry : hosts) {
    if (entry == "*") {
      allowAll(entry);
      continue;
    }
    std::string c = canonicalName(entry);
    if (!c.empty()) hosts_.emplace(std::move(c), entry);
  }
  for (const auto& entry : dns_suffixes) {
    if (entry == "*" || entry == ".*") {
      allowAll(entry);
      continue;
    }
    std::string_view e = entry;
    if (!e.empty() && e.front() == '.') e.remove_prefix(1);
    std::string c = canonicalName(e);
    if (!c.empty()) suffixes_.emplace(std::move(c), entry);
  }
}

HostPolicy HostPolicy::withAiProviders(const std::vector<std::string>& endpoints, std::string why) const {
  HostPolicy p = *this;
  p.ai_rule_ = std::move(why);
  for (const auto& e : endpoints) {
    std::string c = canonicalName(e);
    if (!c.empty()) p.hosts_.emplace(std::move(c), p.ai_rule_);
  }
  return p;
}

HostPolicy::Decision HostPolicy::check(std::string_view name) const {
  std::string c = canonicalName(name);
  if (c.empty()) return {};
  if (all_) return {true, all_rule_};
  if (auto it = hosts_.find(c); it != hosts_.end()) return {true, it->second};
  // The name itself, then each parent: a.b.x.com, b.x.com, x.com, com.
  std::string_view rest = c;
  for (;;) {
    if (auto it = suffixes_.find(std::string(rest)); it != suffixes_.end()) return {true, it->second};
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (!ai_rule_.empty() && isAiProviderHost(c)) return {true, ai_rule_};
  return {};
}

const std::vector<std::string>& githubHosts() {
  static const std::vector<std::string> kHosts{"github.com", "api.github.com", "raw.githubusercontent.com",
                                               "codeload.github.com", "codeload.githubusercontent.com"};
  return kHosts;
}

bool needsProxy(std::string_view name) {
  static const HostPolicy kGitHub({}, githubHosts());
  return kGitHub.allows(name) || isAiProviderHost(name);
}

// An AWS region's shape: two letters, optional partition words (gov, iso, isob…), a
// direction word and a number: us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1.
static bool isAwsRegion(std::string_view r) {
  size_t start = 0;
  std::vector<std::string_view> parts;
  for (size_t i = 0; i <= r.size(); ++i) {
    if (i == r.size() || r[i] == '-') {
      parts.push_back(r.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() < 3 || parts.size() > 4) return false;
  auto letters = [](std::string_view p) {
    return !p.empty() && p.size() <= 12 && std::all_of(p.begin(), p.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; });
  };
  auto digits = [](std::string_view p) {
    return !p.empty() && p.size() <= 2 && std::all_of(p.begin(), p.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  };
  if (parts.front().size() != 2 || !letters(parts.front()) || !digits(parts.back())) return false;
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    if (!letters(parts[i])) return false;
  }
  return true;
}

bool isAiProviderHost(std::string_view name) {
  std::string c = canonicalName(name);
  if (c == "api.anthropic.com" || c == "api.openai.com") return true;
  // bedrock-runtime.<region>.amazonaws.com (and -fips): one label between.
  constexpr std::string_view kPrefix = "bedrock-runtime", kSuffix = ".amazonaws.com";
  if (c.size() > kPrefix.size() + kSuffix.size() && c.compare(0, kPrefix.size(), kPrefix) == 0 &&
      c.compare(c.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    std::string_view mid(c);
    mid = mid.substr(kPrefix.size(), mid.size() - kPrefix.size() - kSuffix.size());
    if (mid.rfind("-fips", 0) == 0) mid.remove_prefix(5);
    if (mid.size() < 2 || mid[0] != '.') return false;
    return isAwsRegion(mid.substr(1));
  }
  return false;
}

}  // namespace km::net
