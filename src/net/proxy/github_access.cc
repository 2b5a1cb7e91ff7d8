#include "net/proxy/github_access.h"

#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <ctime>

#include "core/strings.h"
#include "github/app.h"
#include "net/proxy/server_request.h"
#include "net/proxy/session.h"
#include "net/secret_file.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace km::net::proxy {
namespace {

// A token is renewed this long before GitHub's expiry (an hour after it was minted).
constexpr int64_t kRenewAheadSeconds = 300;

int64_t nowUnix() { return static_cast<int64_t>(std::time(nullptr)); }

struct ApiUrl {
  Authority authority;
  std::string prefix;  // path before /app/..., "" or "/api/v3"
};

Result<ApiUrl> parseApiUrl(std::string_view url) {
  if (!url.starts_with("https://")) return invalidArgument("github.apiUrl " + std::string(url) + " is not an https URL");
  url.remove_prefix(8);
  size_t slash = url.find('/');
  std::string_view hostport = url.substr(0, slash);
  auto a = parseAuthority(hostport, 443);
  if (!a) return std::move(a).error().context("github.apiUrl");
  ApiUrl out{*a, slash == std::string_view::npos ? "" : std::string(url.substr(slash))};
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  return out;
}

// One line of GitHub's error answer ({"message": "..."}), for the log; never a token.
std::string answerLine(const std::string& body) {
  std::string line = body.substr(0, 200);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return line;
}

}  // namespace

GithubAccess::GithubAccess(SourceAccess options) : options_(std::move(options)) {
  for (auto& [owner, id] : options_.installations) owner = toLower(owner);
  auto repos = github::RepoAllowlist::parse(options_.allowed_repos);
  auto refs = github::RefAllowlist::parse(options_.allowed_refs);
  if (!repos) broken_ = "spec.sourceAccess.github.allowedRepos: " + repos.error().message();
  else if (!refs) broken_ = "spec.sourceAccess.github.allowedRefs: " + refs.error().message();
  if (repos) repos_ = std::move(*repos);
  if (refs) refs_ = std::move(*refs);
}

GithubAccess::Judged GithubAccess::judge(std::string_view host, std::string_view target) const {
  Judged j;
  if (!broken_.empty()) {
    j.refused = true;
    j.reason = "GitHub is refused: this sandbox's " + broken_;
    return j;
  }
  auto repo = github::repoOf(host, target);
  if (!repo) {
    j.refused = true;
    j.status = 400;
    j.reason = "a GitHub path km cannot read unambiguously: " + repo.error().message();
    return j;
  }
  j.repo = *repo;
  if (!j.repo.empty() && !repos_->allows(j.repo)) {
    j.refused = true;
    j.reason = "repository " + j.repo + " is not in this sandbox's spec.sourceAccess.github.allowedRepos";
  }
  return j;
}

std::string GithubAccess::refuseUpdate(const github::RefUpdate& u) const {
  if (!refs_ || !refs_->allows(u.refname)) {
    return u.refname + " is not in spec.sourceAccess.github.allowedRefs";
  }
  if (u.deletes() && !options_.allow_ref_deletion) {
    return "deleting " + u.refname + " needs spec.sourceAccess.github.allowRefDeletion";
  }
  return "";
}

std::vector<std::string> GithubAccess::scopeFor(const std::string& owner) const {
  // The repositories of `owner` the profile names one by one; none (every repository of the
  // installation) when it allows the owner's whole account.
  std::vector<std::string> names;
  for (const auto& entry : options_.allowed_repos) {
    std::string e = toLower(entry);
    if (e.starts_with("github.com/")) e = e.substr(11);
    if (e.ends_with(".git")) e.resize(e.size() - 4);
    if (e == "*" || e == owner + "/*") return {};
    if (e.starts_with(owner + "/")) names.push_back(e.substr(owner.size() + 1));
  }
  return names;
}

std::string GithubAccess::soleOwner() const {
  std::string owner;
  for (const auto& entry : options_.allowed_repos) {
    std::string e = toLower(entry);
    if (e.starts_with("github.com/")) e = e.substr(11);
    size_t slash = e.find('/');
    if (slash == std::string::npos) return "";  // "*"
    std::string o = e.substr(0, slash);
    if (!owner.empty() && o != owner) return "";
    owner = o;
  }
  return owner;
}

uint64_t GithubAccess::fetched() const {
  std::lock_guard lock(mu_);
  return fetched_;
}

asio::awaitable<Result<std::string>> GithubAccess::token(Session& s, std::string owner, std::string stale) {
  owner = toLower(owner);
  if (options_.app_id <= 0) {
    {
      std::lock_guard lock(mu_);
      auto it = cache_.find("");
      if (it != cache_.end() && it->second.token != stale) co_return it->second.token;
    }
    // Read at first use and after GitHub refused the last one (the operator may have rotated it).
    auto value = readSecretValue(options_.token_file, options_.km_home);
    if (!value) co_return std::move(value).error().context("operator config github.tokenFile");
    std::lock_guard lock(mu_);
    cache_[""] = Cached{*value, 0};
    co_return *value;
  }
  int64_t installation = 0;
  for (const auto& [o, id] : options_.installations) {
    if (o == owner) installation = id;
  }
  if (installation == 0) {
    co_return notFound("the GitHub App has no installation for " + owner + " in the operator config (github.installations)");
  }
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(owner);
    if (it != cache_.end() && it->second.token != stale && it->second.expires_at - kRenewAheadSeconds > nowUnix()) {
      co_return it->second.token;
    }
  }
  auto fresh = co_await fetch(s, installation, owner);
  if (!fresh) co_return std::move(fresh).error();
  std::lock_guard lock(mu_);
  cache_[owner] = Cached{fresh->token, fresh->expires_at_unix};
  ++fetched_;
  co_return fresh->token;
}

asio::awaitable<Result<github::InstallationToken>> GithubAccess::fetch(Session& s, int64_t installation,
                                                                       const std::string& owner) {
  auto api = parseApiUrl(options_.api_url);
  if (!api) co_return std::move(api).error();
  auto jwt = github::appJwt(options_.app_id, options_.private_key_pem, nowUnix());
  if (!jwt) co_return std::move(jwt).error().context("operator config github.privateKeyFile");
  Upstream up(s.client.get_executor());
  std::optional<TlsStream> server;
  const std::string key = api->authority.toString();
  if (auto failed = co_await connectTls(s, up, server, api->authority, key)) {
    co_return unavailable("reaching GitHub's API at " + options_.api_url + " for a token: " + failed->reason);
  }
  http::request<http::string_body> req{http::verb::post,
                                       api->prefix + "/app/installations/" + std::to_string(installation) + "/access_tokens", 11};
  req.set(http::field::host, api->authority.port == 443 ? api->authority.host : key);
  req.set(http::field::authorization, "Bearer " + *jwt);
  req.set(http::field::accept, "application/vnd.github+json");
  req.set(http::field::user_agent, "km");
  req.set("X-GitHub-Api-Version", "2022-11-28");
  req.set(http::field::content_type, "application/json");
  req.body() = github::accessTokenRequestBody(scopeFor(owner));
  req.prepare_payload();
  http::response_parser<http::string_body> answer;
  auto rec = co_await askServer(s, up, *server, req, answer);
  boost::system::error_code ignore;
  up.stream.socket().close(ignore);
  if (rec) co_return unavailable("asking GitHub's API at " + options_.api_url + " for a token: " + rec.message());
  unsigned status = answer.get().result_int();
  if (status != 201 && status != 200) {
    co_return unavailable("GitHub's API answered HTTP " + std::to_string(status) + " to the token request for " + owner +
                          " (installation " + std::to_string(installation) + "): " + answerLine(answer.get().body()));
  }
  co_return github::parseInstallationToken(answer.get().body());
}

}  // namespace km::net::proxy
