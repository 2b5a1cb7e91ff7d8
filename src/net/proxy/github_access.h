// GitHub under spec.sourceAccess (private to the proxy): which repository a request to one of
// GitHub's hosts names and whether the profile allows it, the refs a push updates, and the
// operator's token the proxy puts on requests for allowed repositories — a GitHub App's
// installation token (minted from its JWT, cached per owner, renewed five minutes before it
// expires or at once when GitHub refuses it) or a static token file. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "github/app.h"
#include "github/github.h"
#include "net/proxy/proxy.h"

namespace km::net::proxy {

struct Session;

class GithubAccess {
 public:
  // The allowlists parsed; one that does not parse makes every GitHub request refused with
  // the reason (the profile was checked at create, so this is a damaged plan).
  explicit GithubAccess(SourceAccess options);

  struct Judged {
    bool refused = false;
    unsigned status = 403;
    std::string reason;
    std::string repo;  // "owner/repo" (lowercase) when the request names one
  };
  Judged judge(std::string_view host, std::string_view target) const;

  // Whether a push may update `u` (its ref allowed; a deletion only with allowRefDeletion);
  // "" when it may, else the reason git shows.
  std::string refuseUpdate(const github::RefUpdate& u) const;

  bool hasCredentials() const { return options_.app_id > 0 || !options_.token_file.empty(); }
  // Whether tokens are scoped to the profile's repositories (a GitHub App's are; a static
  // token's reach is whatever it was made with).
  bool scopedTokens() const { return options_.app_id > 0; }
  // The owner every allowed repository belongs to (lowercase); "" when they have several, or
  // any owner's are allowed ("*").
  std::string soleOwner() const;
  // The token for `owner`'s repositories: cached, else fetched (App) or read (file). `stale`,
  // when not empty, is a token GitHub just refused: it is not handed out again. NotFound when
  // the App has no installation for `owner` (the request then goes without a token).
  boost::asio::awaitable<Result<std::string>> token(Session& s, std::string owner, std::string stale);

  // Tokens fetched from GitHub so far (for tests and stats).
  uint64_t fetched() const;

 private:
  boost::asio::awaitable<Result<github::InstallationToken>> fetch(Session& s, int64_t installation,
                                                                  const std::string& owner);
  std::vector<std::string> scopeFor(const std::string& owner) const;

  SourceAccess options_;
  std::optional<github::RepoAllowlist> repos_;
  std::optional<github::RefAllowlist> refs_;
  std::string broken_;  // why the allowlists did not parse
  mutable std::mutex mu_;
  struct Cached {
    std::string token;
    int64_t expires_at = 0;  // unix seconds; 0 = never (a static token)
  };
  std::map<std::string, Cached> cache_;  // owner → token (App); "" → the static token
  uint64_t fetched_ = 0;
};

}  // namespace km::net::proxy
