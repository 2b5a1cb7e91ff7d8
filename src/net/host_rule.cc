#include "net/host_rule.h"

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
                                               "codeload.github.com"};
  return kHosts;
}

bool needsProxy(std::string_view name) {
  static const HostPolicy kGitHub({}, githubHosts());
  return kGitHub.allows(name) || isAiProviderHost(name);
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
    return mid.size() > 1 && mid[0] == '.' && mid.find('.', 1) == std::string_view::npos;
  }
  return false;
}

}  // namespace km::net
