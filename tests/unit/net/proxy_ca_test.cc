// The sandbox CA and its leaves: what a TLS client checks (chain, name, usage, validity) is
// verified with OpenSSL's own verifier, and the CA files are made once, private, and reread.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "core/fs.h"
#include "net/proxy/ca.h"
#include "net/proxy/proxy.h"

namespace km::net::proxy {
namespace {

// X509_V_OK, or the verifier's error, for `leaf` against `ca` alone, as a TLS client of
// `host` would check it.
int verify(X509* ca, X509* leaf, const char* host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set1_host(param, host, 0);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  int rc = X509_verify_cert(ctx);
  int err = rc == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

std::vector<std::string> dnsNames(X509* x) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)), ASN1_STRING_length(n->d.dNSName));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

TEST(SandboxCa, LeafVerifiesForItsNameOnly) {
  auto ca = CertificateAuthority::generate("sb-1234", std::chrono::hours(24));
  ASSERT_TRUE(ca) << ca.error().message();
  auto key = newEcKey();
  ASSERT_TRUE(key);
  auto leaf = ca->issue("api.anthropic.com", key->get(), std::chrono::hours(24 * 30));
  ASSERT_TRUE(leaf) << leaf.error().message();
  EXPECT_EQ(verify(ca->cert(), leaf->get(), "api.anthropic.com"), X509_V_OK);
  EXPECT_EQ(verify(ca->cert(), leaf->get(), "evil.example"), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(dnsNames(leaf->get()), std::vector<std::string>{"api.anthropic.com"});
  // Not a CA itself: a certificate it signed does not verify.
  auto other = CertificateAuthority::generate("other", std::chrono::hours(24));
  ASSERT_TRUE(other);
  EXPECT_NE(verify(other->cert(), leaf->get(), "api.anthropic.com"), X509_V_OK);
  EXPECT_EQ(X509_check_ca(leaf->get()), 0);
  EXPECT_EQ(X509_check_ca(ca->cert()), 1);
  // The leaf never outlives its CA.
  EXPECT_LE(ASN1_TIME_compare(X509_get0_notAfter(leaf->get()), X509_get0_notAfter(ca->cert())), 0);
}

TEST(SandboxCa, NamesThatCouldSmuggleMoreAreRefused) {
  auto ca = CertificateAuthority::generate("sb", std::chrono::hours(24));
  ASSERT_TRUE(ca);
  auto key = newEcKey();
  ASSERT_TRUE(key);
  for (const char* bad : {"a.com,DNS:evil.example", "", ".", "a..b", "a.com.", "a b", "a/b", "*.a.com", "a\nb"}) {
    auto leaf = ca->issue(bad, key->get(), std::chrono::hours(1));
    EXPECT_FALSE(leaf) << bad;
  }
  std::string long_label(63, 'a');
  std::string long_name = long_label + "." + long_label + "." + long_label + ".com";  // > 64: no CN, SAN only
  auto leaf = ca->issue(long_name, key->get(), std::chrono::hours(1));
  ASSERT_TRUE(leaf) << leaf.error().message();
  EXPECT_EQ(verify(ca->cert(), leaf->get(), long_name.c_str()), X509_V_OK);
  EXPECT_TRUE(certifiableName("bedrock-runtime.us-east-1.amazonaws.com"));
  EXPECT_FALSE(certifiableName(std::string(254, 'a')));
}

TEST(SandboxCa, PemRoundTripAndKeyMismatch) {
  auto ca = CertificateAuthority::generate("sb", std::chrono::hours(24));
  ASSERT_TRUE(ca);
  auto again = CertificateAuthority::fromPem(ca->certPem(), ca->keyPem());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(X509_cmp(again->cert(), ca->cert()), 0);
  auto other = CertificateAuthority::generate("other", std::chrono::hours(24));
  ASSERT_TRUE(other);
  auto mixed = CertificateAuthority::fromPem(ca->certPem(), other->keyPem());
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().message().find("does not belong"), std::string::npos);
  EXPECT_FALSE(CertificateAuthority::fromPem("not pem", ca->keyPem()));
  EXPECT_FALSE(CertificateAuthority::fromPem(ca->certPem(), "not pem"));
}

TEST(SandboxCa, MadeOncePrivateAndReread) {
  std::string dir = std::filesystem::temp_directory_path() / ("km-ca-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto first = ensureSandboxCa(dir, "sb-1");
  ASSERT_TRUE(first) << first.error().message();
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = ensureSandboxCa(dir, "sb-1");
  ASSERT_TRUE(second);
  EXPECT_EQ(first->cert_pem, second->cert_pem);
  EXPECT_EQ(first->key_pem, second->key_pem);
  EXPECT_NE(first->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  // A damaged key is an error naming the file, never a silent new CA.
  ASSERT_TRUE(fs::writeFileAtomic(dir + "/ca.key", "garbage"));
  auto broken = ensureSandboxCa(dir, "sb-1");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find("ca.key"), std::string::npos) << broken.error().message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace km::net::proxy
