// A GitHub App's credentials: the JWT an App signs to ask GitHub for installation tokens
// (RS256 over its private key), and reading GitHub's answer. Pure (no I/O); thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km::github {

// The App's JWT: header {"alg":"RS256","typ":"JWT"}, claims iat = now - 60 (GitHub's advice
// against clock drift), exp = now + 540 (under GitHub's 10-minute cap), iss = the App id.
// InvalidArgument when `private_key_pem` is not an RSA private key in PEM (never quoting it).
[[nodiscard]] Result<std::string> appJwt(int64_t app_id, std::string_view private_key_pem, int64_t now_unix);

// Checks an App JWT's signature against an RSA public key (PEM; SubjectPublicKeyInfo) and
// returns its claims' JSON. For tests and km doctor; InvalidArgument on any mismatch.
[[nodiscard]] Result<std::string> verifyAppJwt(std::string_view jwt, std::string_view public_key_pem);

// An installation token as GitHub answers POST /app/installations/{id}/access_tokens:
// {"token": "...", "expires_at": "2026-12-07T17:00:00Z", ...}.
struct InstallationToken {
  std::string token;
  int64_t expires_at_unix = 0;
};
// InvalidArgument naming what is missing or malformed (never the token).
[[nodiscard]] Result<InstallationToken> parseInstallationToken(std::string_view json);

// The body that asks for a token scoped to `repos` (names without the owner); an empty list
// asks for every repository of the installation ("{}").
std::string accessTokenRequestBody(const std::vector<std::string>& repos);

}  // namespace km::github
