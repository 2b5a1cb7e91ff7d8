// The credential steps of a request the proxy reads (private to the proxy): masked secrets'
// sentinels swapped or refused (sentinels.h), and GitHub's repository, ref and token rules
// (github_access.h) on GitHub's hosts.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "audit/audit.h"
#include "net/proxy/session.h"

namespace km::net::proxy {

// Sentinels in `msg`'s header fields and in `req.path` (the target sent on), for `host`:
// swapped for real values where the secret is for that host (over TLS), else the request must
// be refused: the reason is returned ("" when it may go on). The names of the secrets put in
// are added to rec.reason's note.
std::string swapSentinels(const Shared& shared, http::request_header<>& msg, CheckedRequest& req, std::string_view host,
                          bool tls, audit::HttpRecord& rec);

// The credential rules of a plain-HTTP request: a sentinel is refused (real values go over TLS
// only), and so is GitHub while its repositories are filtered (GitHub is HTTPS-only anyway).
// The reason, or "" when it may go on. Counts a refusal.
std::string plainHttpCredentials(Session& s, http::request_header<>& msg, CheckedRequest& req, audit::HttpRecord& rec);

// What the GitHub step decided for a request that may go on: the token put on it (to ask for
// a fresh one when GitHub refuses it) and whether it can be sent again.
class GithubTap : public ExchangeTap {
 public:
  void responseHead(unsigned, http::fields&) override {}
  void responseBody(std::string_view) override {}
  bool retryInstead(unsigned status) override { return status == 401 && can_retry && !token.empty() && !retried; }
  std::string owner;
  std::string token;
  bool basic = false;      // git over github.com: Basic x-access-token; else "token …"
  bool can_retry = false;  // no body streamed yet
  bool retried = false;
  std::string whole;  // a GraphQL body, read whole (ExchangeTap::body points here)
};

// The GitHub step of an intercepted request to one of GitHub's hosts (`req` checked, the
// sentinel step done): the repository it names must be allowed; a push's ref updates are read
// from its body (kept in the tap's body_prefix) and each must be allowed; a request for an
// allowed repository gets the operator's token (any Authorization of the sandbox's removed).
// Null when refused: the client was answered (as git shows it) and `rec` says why.
asio::awaitable<std::unique_ptr<GithubTap>> githubStep(Session& s, TlsStream& client, RequestParser& parser,
                                                       const CheckedRequest& req, audit::HttpRecord& rec);
// Puts tap.token on the request as GitHub's hosts take it.
void setGithubAuthorization(http::request_header<>& msg, const GithubTap& tap);

}  // namespace km::net::proxy
