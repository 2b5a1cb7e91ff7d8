// Masked secrets in requests (private to the proxy): a sandbox holds a sentinel in place of
// each masked secret; in a request the proxy reads (intercepted TLS, plain HTTP) each sentinel
// is swapped for the real value when the request goes to one of the secret's hosts, and the
// request is refused when it goes anywhere else. A sentinel inside HTTP Basic credentials
// (`https://user:SENTINEL@host`, as git and curl send them) counts too. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "net/proxy/proxy.h"

namespace km::net::proxy {

class Sentinels {
 public:
  Sentinels() = default;
  explicit Sentinels(std::vector<MaskedSecret> secrets);
  bool empty() const { return secrets_.empty(); }

  struct Outcome {
    bool changed = false;
    // Set when a sentinel goes where its secret may not: the request must be refused.
    std::string refused;
    std::vector<std::string> swapped;  // names of the secrets put in
  };
  // Rewrites one header value (or the request target) bound for `host` (canonical). Swaps
  // only over TLS (`tls`): in clear text a sentinel is refused everywhere. `is_authorization`:
  // also looks inside "Basic <base64>" credentials.
  Outcome rewrite(std::string_view host, bool tls, std::string& value, bool is_authorization) const;

 private:
  Outcome swapIn(std::string_view host, bool tls, std::string& text) const;
  std::vector<MaskedSecret> secrets_;
};

}  // namespace km::net::proxy
