#include "net/proxy/sentinels.h"

#include <algorithm>

#include "core/strings.h"

namespace km::net::proxy {

Sentinels::Sentinels(std::vector<MaskedSecret> secrets) : secrets_(std::move(secrets)) {
  // Longest first, so a sentinel that another one starts with is never matched short.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const MaskedSecret& a, const MaskedSecret& b) { return a.sentinel.size() > b.sentinel.size(); });
  secrets_.erase(std::remove_if(secrets_.begin(), secrets_.end(), [](const MaskedSecret& s) { return s.sentinel.empty(); }),
                 secrets_.end());
}

Sentinels::Outcome Sentinels::swapIn(std::string_view host, bool tls, std::string& text) const {
  Outcome out;
  for (const auto& s : secrets_) {
    size_t at = text.find(s.sentinel);
    if (at == std::string::npos) continue;
    bool bound = std::find(s.hosts.begin(), s.hosts.end(), host) != s.hosts.end();
    if (!bound || !tls || s.value.empty()) {
      std::string where = join(s.hosts, ", ");
      out.refused = !bound ? "exfiltration attempt: the sentinel of " + s.name + " was sent to " + std::string(host) +
                                 "; it is only for " + where
                    : !tls ? "the sentinel of " + s.name + " was sent to " + std::string(host) +
                                 " in clear text; its real value goes over TLS only"
                           : "the real value of " + s.name + " is not available to the proxy (see the supervisor log)";
      return out;
    }
    while (at != std::string::npos) {
      text.replace(at, s.sentinel.size(), s.value);
      at = text.find(s.sentinel, at + s.value.size());
    }
    out.changed = true;
    out.swapped.push_back(s.name);
  }
  return out;
}

Sentinels::Outcome Sentinels::rewrite(std::string_view host, bool tls, std::string& value, bool is_authorization) const {
  if (secrets_.empty()) return {};
  Outcome out = swapIn(host, tls, value);
  if (!out.refused.empty() || !is_authorization) return out;
  // "Basic base64(user:password)": the sentinel may be either part.
  std::string_view v = trim(value);
  if (v.size() < 6 || !equalsIgnoringAsciiCase(v.substr(0, 6), "basic ")) return out;
  auto decoded = base64Decode(trim(v.substr(6)));
  if (!decoded) return out;
  Outcome inner = swapIn(host, tls, *decoded);
  if (!inner.refused.empty()) return inner;
  if (inner.changed) {
    value = "Basic " + base64Encode(*decoded);
    out.changed = true;
    out.swapped.insert(out.swapped.end(), inner.swapped.begin(), inner.swapped.end());
  }
  return out;
}

}  // namespace km::net::proxy
