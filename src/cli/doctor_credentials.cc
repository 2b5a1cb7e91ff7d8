// km doctor's checks of the operator's credentials: the secrets every sandbox gets as
// sentinels (files readable by km, out of every sandbox's sight) and GitHub (the App's key signs
// a JWT and each installation answers GitHub's token request; or the token file reads).
// GitHub is asked the way sandboxes reach it: the API's name resolved through dns.upstream.
#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "cli/doctor_credentials.h"
#include "core/strings.h"
#include "core/subprocess.h"
#include "github/app.h"
#include "net/secret_file.h"

namespace km::cli {
namespace {

// The API's address through the operator's DNS upstream ("" when there is none or no answer:
// curl then uses the host's own resolver).
std::string resolveThroughUpstream(const config::Config& c, const std::string& host) {
  if (!c.dns || c.dns->upstream.empty()) return "";
  std::string up = c.dns->upstream.front();
  std::string server = up, port = "53";
  if (size_t colon = up.rfind(':'); colon != std::string::npos && up.find(':') == colon) {
    server = up.substr(0, colon);
    port = up.substr(colon + 1);
  }
  auto r = runCaptured({"/usr/bin/dig", "+short", "+time=2", "+tries=1", "@" + server, "-p", port, host, "A"}, "",
                       4096, std::chrono::seconds(5));
  if (!r || r->exit_code != 0) return "";
  for (const auto& line : split(r->out, '\n')) {
    std::string_view l = trim(line);
    if (!l.empty() && l.find_first_not_of("0123456789.") == std::string_view::npos) return std::string(l);
  }
  return "";
}

// GitHub's answer to a token request for `installation` (POST …/access_tokens with the App's
// JWT): "" when it issued one, else what went wrong.
std::string askInstallation(const config::Config& c, const std::string& api_url, const std::string& jwt,
                            int64_t installation) {
  std::string url = api_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/app/installations/" + std::to_string(installation) + "/access_tokens";
  std::string rest = api_url.substr(api_url.find("://") + 3);
  std::string hostport = rest.substr(0, rest.find('/'));
  std::string host = hostport.substr(0, hostport.find(':'));
  std::string port = hostport.find(':') == std::string::npos ? "443" : hostport.substr(hostport.find(':') + 1);
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--max-time", "10", "-X", "POST", "-H", "@-",
                                   "-o", "-", "-w", "\n%{http_code}"};
  if (std::string ip = resolveThroughUpstream(c, host); !ip.empty()) {
    argv.push_back("--resolve");
    argv.push_back(host + ":" + port + ":" + ip);
  }
  if (c.tls && c.tls->extra_ca_file) {
    // Servers km's proxy trusts besides the system's.
    argv.push_back("--cacert");
    argv.push_back(*c.tls->extra_ca_file);
  }
  argv.push_back(url);
  // The JWT goes in on stdin, never on a command line.
  std::string headers = "Authorization: Bearer " + jwt + "\nAccept: application/vnd.github+json\nUser-Agent: km\n";
  auto r = runCaptured(argv, headers, 64 << 10, std::chrono::seconds(15));
  if (!r) return r.error().message();
  if (r->exit_code != 0) return "curl: " + std::string(trim(r->err));
  size_t nl = r->out.rfind('\n');
  std::string code = nl == std::string::npos ? r->out : r->out.substr(nl + 1);
  if (code == "201" || code == "200") {
    auto token = github::parseInstallationToken(r->out.substr(0, nl));
    return token ? "" : token.error().message();
  }
  std::string body = r->out.substr(0, std::min<size_t>(nl, 200));
  for (char& ch : body) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  return "GitHub answered HTTP " + code + ": " + body;
}

}  // namespace

std::vector<CredentialCheck> checkCredentials(const config::Config& c, const std::string& km_home) {
  std::vector<CredentialCheck> out;
  for (const auto& s : c.secrets) {
    auto v = net::readSecretValue(fs::absolutePath(fs::expandHome(s.file)), km_home);
    out.push_back({"secret " + s.name, v ? "readable, for " + join(s.hosts, ", ") : "", v ? "" : v.error().message()});
  }
  if (!c.github) return out;
  const auto& g = *c.github;
  std::string api = g.api_url.value_or(config::kDefaultGithubApiUrl);
  if (g.token_file) {
    auto v = net::readSecretValue(fs::absolutePath(fs::expandHome(*g.token_file)), km_home);
    out.push_back({"github token file", v ? "readable" : "", v ? "" : v.error().message()});
  }
  if (!g.app_id) return out;
  std::string subject = "github App " + std::to_string(*g.app_id);
  auto pem = g.private_key_file ? net::readSecretFile(fs::absolutePath(fs::expandHome(*g.private_key_file)), km_home, 64 << 10)
                                : Result<std::string>(invalidArgument("no privateKeyFile"));
  if (!pem) {
    out.push_back({subject, "", pem.error().message()});
    return out;
  }
  auto jwt = github::appJwt(*g.app_id, *pem, static_cast<int64_t>(std::time(nullptr)));
  if (!jwt) {
    out.push_back({subject, "", jwt.error().message()});
    return out;
  }
  out.push_back({subject, "its key signs a JWT", ""});
  for (const auto& i : g.installations) {
    std::string problem = askInstallation(c, api, *jwt, i.id);
    out.push_back({subject + " installation " + std::to_string(i.id) + " (" + i.owner + ")",
                   problem.empty() ? "issued a token at " + api : "", problem});
  }
  return out;
}

}  // namespace km::cli
