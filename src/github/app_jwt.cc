// A GitHub App's JWT (RS256 with OpenSSL) and GitHub's installation-token answer.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "core/strings.h"
#include "doc/json_io.h"
#include "github/app.h"

namespace km::github {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Free>;
using Bio = std::unique_ptr<BIO, Free>;

Pkey readKey(std::string_view pem, bool is_private) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  EVP_PKEY* key = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                             : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  return Pkey(key);
}

// "2026-12-07T17:00:00Z" → seconds since the epoch; nullopt for any other shape.
std::optional<int64_t> parseUtc(std::string_view s) {
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  char z = 0;
  if (s.size() != 20 || std::sscanf(std::string(s).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) != 7 ||
      z != 'Z') {
    return std::nullopt;
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t);
}

}  // namespace

Result<std::string> appJwt(int64_t app_id, std::string_view private_key_pem, int64_t now_unix) {
  Pkey key = readKey(private_key_pem, /*is_private=*/true);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return invalidArgument("the GitHub App's private key is not an RSA private key in PEM (download a new one "
                           "from the App's settings page: Private keys → Generate)");
  }
  std::string header = base64Encode(R"({"alg":"RS256","typ":"JWT"})", true);
  std::string claims = base64Encode("{\"iat\":" + std::to_string(now_unix - 60) + ",\"exp\":" +
                                        std::to_string(now_unix + 540) + ",\"iss\":\"" + std::to_string(app_id) + "\"}",
                                    true);
  std::string input = header + "." + claims;
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return internalError("signing the GitHub App's JWT failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return internalError("signing the GitHub App's JWT failed");
  }
  sig.resize(len);
  return input + "." + base64Encode(sig, true);
}

Result<std::string> verifyAppJwt(std::string_view jwt, std::string_view public_key_pem) {
  size_t a = jwt.find('.'), b = jwt.rfind('.');
  if (a == std::string_view::npos || a == b) return invalidArgument("not a JWT (three dot-separated parts)");
  auto header = base64Decode(jwt.substr(0, a));
  auto claims = base64Decode(jwt.substr(a + 1, b - a - 1));
  auto sig = base64Decode(jwt.substr(b + 1));
  if (!header || !claims || !sig) return invalidArgument("a JWT part is not base64url");
  doc::Node h;
  if (!doc::parseJson(*header, h, nullptr) || !h.isMap() || !h.find("alg") || h.find("alg")->text() != "RS256") {
    return invalidArgument("the JWT's header does not say alg RS256");
  }
  Pkey key = readKey(public_key_pem, /*is_private=*/false);
  if (!key) return invalidArgument("not a public key in PEM");
  MdCtx ctx(EVP_MD_CTX_new());
  std::string_view input = jwt.substr(0, b);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return invalidArgument("the JWT's signature does not verify with this key");
  }
  return *claims;
}

Result<InstallationToken> parseInstallationToken(std::string_view json) {
  doc::Node n;
  std::string why;
  if (!doc::parseJson(json, n, &why) || !n.isMap()) {
    return invalidArgument("GitHub's installation token answer is not a JSON object");
  }
  const doc::Node* token = n.find("token");
  const doc::Node* expires = n.find("expires_at");
  if (!token || token->kind() != doc::Node::Kind::kString || token->text().empty()) {
    return invalidArgument("GitHub's installation token answer has no \"token\"");
  }
  for (char c : token->text()) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return invalidArgument("GitHub's installation token has a character a header cannot carry");
    }
  }
  if (!expires || expires->kind() != doc::Node::Kind::kString) {
    return invalidArgument("GitHub's installation token answer has no \"expires_at\"");
  }
  auto at = parseUtc(expires->text());
  if (!at) return invalidArgument("GitHub's installation token answer has expires_at \"" + expires->text() +
                                  "\", not a time like 2026-12-07T17:00:00Z");
  return InstallationToken{token->text(), *at};
}

std::string accessTokenRequestBody(const std::vector<std::string>& repos) {
  if (repos.empty()) return "{}";
  doc::Node list = doc::Node::seq();
  for (const auto& r : repos) list.push(doc::Node::string(r));
  doc::Node body = doc::Node::map();
  body.set("repositories", std::move(list));
  return doc::toJson(body, -1);
}

}  // namespace km::github
