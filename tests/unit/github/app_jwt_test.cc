// A GitHub App's JWT: RS256 over the App's key, claims as GitHub asks, verifiable with the
// public key; GitHub's installation token answer read strictly.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <gtest/gtest.h>

#include <memory>

#include "core/strings.h"
#include "doc/json_io.h"
#include "github/app.h"

namespace km::github {
namespace {

struct KeyPair {
  std::string private_pem, public_pem;
};

KeyPair makeKey(int bits = 2048) {
  EVP_PKEY* key = EVP_RSA_gen(bits);
  KeyPair out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long n = BIO_get_mem_data(b, &data);
  out.private_pem.assign(data, static_cast<size_t>(n));
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(b, key);
  n = BIO_get_mem_data(b, &data);
  out.public_pem.assign(data, static_cast<size_t>(n));
  BIO_free(b);
  EVP_PKEY_free(key);
  return out;
}

TEST(AppJwtTest, SignsClaimsGitHubAcceptsAndVerifiesWithThePublicKey) {
  KeyPair k = makeKey();
  auto jwt = appJwt(4242, k.private_pem, 1'800'000'000);
  ASSERT_TRUE(jwt) << jwt.error().message();
  EXPECT_EQ(std::count(jwt->begin(), jwt->end(), '.'), 2);
  auto header = base64Decode(jwt->substr(0, jwt->find('.')));
  ASSERT_TRUE(header);
  EXPECT_EQ(*header, R"({"alg":"RS256","typ":"JWT"})");
  auto claims = verifyAppJwt(*jwt, k.public_pem);
  ASSERT_TRUE(claims) << claims.error().message();
  doc::Node c;
  ASSERT_TRUE(doc::parseJson(*claims, c, nullptr));
  EXPECT_EQ(c.find("iat")->text(), "1799999940");  // 60 s back, against clock drift
  EXPECT_EQ(c.find("exp")->text(), "1800000540");  // under GitHub's 10-minute cap
  EXPECT_EQ(c.find("iss")->text(), "4242");
}

TEST(AppJwtTest, AnotherKeyOrATamperedTokenDoesNotVerify) {
  KeyPair k = makeKey(), other = makeKey();
  auto jwt = appJwt(7, k.private_pem, 1'800'000'000);
  ASSERT_TRUE(jwt);
  EXPECT_FALSE(verifyAppJwt(*jwt, other.public_pem));
  std::string tampered = *jwt;
  size_t dot = tampered.find('.');
  tampered[dot + 2] = tampered[dot + 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verifyAppJwt(tampered, k.public_pem));
  EXPECT_FALSE(verifyAppJwt("not-a-jwt", k.public_pem));
}

TEST(AppJwtTest, AKeyThatIsNotRsaIsRefusedWithoutQuotingIt) {
  auto r = appJwt(7, "-----BEGIN PRIVATE KEY-----\nsecretbits\n-----END PRIVATE KEY-----\n", 0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not an RSA private key"), std::string::npos);
  EXPECT_EQ(r.error().message().find("secretbits"), std::string::npos);
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long n = BIO_get_mem_data(b, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(b);
  EVP_PKEY_free(ec);
  EXPECT_FALSE(appJwt(7, pem, 0));
}

TEST(InstallationTokenTest, ReadsTokenAndExpiry) {
  auto t = parseInstallationToken(R"({"token":"ghs_abc","expires_at":"2026-12-07T17:00:00Z","permissions":{}})");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->token, "ghs_abc");
  EXPECT_EQ(t->expires_at_unix, 1796662800);
}

TEST(InstallationTokenTest, RefusesWhatIsNotAToken) {
  for (const char* bad : {"", "[]", "{}", R"({"token":"x"})", R"({"token":"","expires_at":"2026-12-07T17:00:00Z"})",
                          R"({"token":"a b","expires_at":"2026-12-07T17:00:00Z"})",
                          R"({"token":"a\r\nX: y","expires_at":"2026-12-07T17:00:00Z"})",
                          R"({"token":"x","expires_at":"tomorrow"})", R"({"token":7,"expires_at":"2026-12-07T17:00:00Z"})"}) {
    auto t = parseInstallationToken(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_EQ(t.error().message().find("a b"), std::string::npos);
    }
  }
}

TEST(InstallationTokenTest, TheRequestScopesToTheNamedRepositories) {
  EXPECT_EQ(accessTokenRequestBody({}), "{}");
  EXPECT_EQ(accessTokenRequestBody({"api", "docs"}), R"({"repositories":["api","docs"]})");
}

}  // namespace
}  // namespace km::github
