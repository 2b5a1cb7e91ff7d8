// km::net::HostPolicy — the one name-matching rule every network layer uses (DNS resolver,
// eBPF allow map, HTTP proxy):
//   * an `allowedDNSSuffixes` entry, with or without a leading dot, allows its apex and every
//     name below it: `.x.com` and `x.com` both allow `x.com` and `a.x.com`, never `evilx.com`;
//   * an `allowedHosts` entry allows exactly that name;
//   * `*` in either list allows every name;
//   * comparison ignores ASCII case and one trailing dot; nothing else is normalised.
// Upstream's HTTP proxy treats a dotless suffix entry as an exact host; km does not.
// Immutable after construction; safe to share between threads.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace km::net {

// Lowercases ASCII and drops one trailing dot ("API.Example.COM." → "api.example.com").
std::string canonicalName(std::string_view name);

class HostPolicy {
 public:
  struct Decision {
    bool allowed = false;
    std::string rule;  // the entry that allowed it, as written ("" when denied)
  };

  HostPolicy() = default;  // denies everything
  HostPolicy(const std::vector<std::string>& dns_suffixes, const std::vector<std::string>& hosts);

  // Also allows the AI providers' API hosts (isAiProviderHost) and `endpoints` (the operator
  // config's ai.endpoints), with the rule `why`: upstream lets a profile with an AI budget
  // reach them whatever its allowlist says.
  HostPolicy withAiProviders(const std::vector<std::string>& endpoints, std::string why) const;

  [[nodiscard]] Decision check(std::string_view name) const;
  [[nodiscard]] bool allows(std::string_view name) const { return check(name).allowed; }
  bool allowsAll() const { return all_; }

 private:
  bool all_ = false;
  std::string all_rule_;
  std::string ai_rule_;  // non-empty: AI provider hosts are allowed with this rule
  // canonical form → the entry as written
  std::unordered_map<std::string, std::string> hosts_, suffixes_;
};

// The AI providers' API hosts km meters: api.anthropic.com, api.openai.com,
// bedrock-runtime[-fips].<region>.amazonaws.com.
bool isAiProviderHost(std::string_view name);

// Hosts whose traffic the HTTP proxy must see (AI providers it meters, GitHub whose repos it
// filters): api.anthropic.com, api.openai.com, bedrock-runtime.<region>.amazonaws.com,
// github.com, api.github.com, raw.githubusercontent.com, codeload.github.com,
// codeload.githubusercontent.com.
bool needsProxy(std::string_view name);

// GitHub's hosts whose paths name a repository: github.com, api.github.com,
// raw.githubusercontent.com, codeload.github.com, codeload.githubusercontent.com.
const std::vector<std::string>& githubHosts();

}  // namespace km::net
