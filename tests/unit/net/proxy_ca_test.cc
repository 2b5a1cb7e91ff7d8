// The sandbox CA and its leaves: what a TLS client checks (chain, name, usage, validity) is
// verified with OpenSSL's own verifier, and the CA files are made once, private, and reread.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
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

// A scratch directory removed at the end of the test, failed or not.
struct ScratchDir {
  explicit ScratchDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("km-ca-test-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string path;
};

std::string subjectOf(const std::string& pem) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!cert) return "";
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), buf, sizeof buf);
  return buf;
}

size_t spares(const std::string& pool) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(pool)) n += e.path().filename().string().rfind("spare-", 0) == 0;
  return n;
}

TEST(SandboxCa, MadeOncePrivateAndReread) {
  ScratchDir dir("once");
  auto first = ensureSandboxCa(dir.path);
  ASSERT_TRUE(first) << first.error().message();
  struct stat st {};
  ASSERT_EQ(::stat((dir.path + "/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = ensureSandboxCa(dir.path);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->cert_pem, second->cert_pem);
  EXPECT_EQ(first->key_pem, second->key_pem);
  EXPECT_NE(first->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_TRUE(CertificateAuthority::fromPem(first->cert_pem, first->key_pem)) << "the key is the certificate's";
  // provideSandboxCa leaves a CA that is there alone.
  ASSERT_TRUE(provideSandboxCa(dir.path, ""));
  EXPECT_EQ(ensureSandboxCa(dir.path)->cert_pem, first->cert_pem);
  // A damaged key is an error naming the file, never a silent new CA.
  ASSERT_TRUE(fs::writeFileAtomic(dir.path + "/ca.key", "garbage"));
  auto broken = ensureSandboxCa(dir.path);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find("ca.key"), std::string::npos) << broken.error().message();
}

TEST(SandboxCa, EverySandboxCaHasASubjectOfItsOwn) {
  ScratchDir a("subject-a"), b("subject-b");
  ASSERT_TRUE(provideSandboxCa(a.path, ""));
  ASSERT_TRUE(provideSandboxCa(b.path, ""));
  std::string sa = subjectOf(ensureSandboxCa(a.path)->cert_pem), sb = subjectOf(ensureSandboxCa(b.path)->cert_pem);
  EXPECT_NE(sa.find("CN=km sandbox CA "), std::string::npos) << sa;
  EXPECT_NE(sa, sb) << "two CAs with one subject confuse chain building in a store that holds both";
}

TEST(SandboxCaPool, FillMakesPrivateSparesAndProvideTakesOne) {
  ScratchDir home("pool");
  const std::string pool = caPoolDir(home.path);
  EXPECT_EQ(caPoolSize(pool), 0u) << "a missing pool holds nothing";
  ASSERT_TRUE(fillCaPool(pool, 2));
  EXPECT_EQ(caPoolSize(pool), 2u);
  EXPECT_EQ(spares(pool), 2u);
  struct stat st {};
  ASSERT_EQ(::stat(pool.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const auto& e : std::filesystem::directory_iterator(pool)) {
    if (e.path().filename().string().rfind("spare-", 0) != 0) continue;
    ASSERT_EQ(::stat((e.path().string() + "/ca.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  ASSERT_TRUE(fillCaPool(pool, 2));  // full: nothing made
  EXPECT_EQ(caPoolSize(pool), 2u);

  // A sandbox's CA directory does not exist before: the spare becomes it, with one rename.
  ScratchDir sandbox_dir("pool-sb");
  const std::string sandbox = sandboxCaDir(sandbox_dir.path);
  ASSERT_TRUE(provideSandboxCa(sandbox, pool));
  EXPECT_EQ(caPoolSize(pool), 1u) << "the spare moved into the sandbox";
  auto ca = ensureSandboxCa(sandbox);
  ASSERT_TRUE(ca) << ca.error().message();
  EXPECT_TRUE(CertificateAuthority::fromPem(ca->cert_pem, ca->key_pem));
  ASSERT_EQ(::stat((sandbox + "/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(sandbox.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the CA's directory is private";
  // Two sandboxes never share a spare: the second takes the other one, a third makes its own.
  ScratchDir second_dir("pool-sb2"), third_dir("pool-sb3");
  const std::string second = sandboxCaDir(second_dir.path), third = sandboxCaDir(third_dir.path);
  ASSERT_TRUE(provideSandboxCa(second, pool));
  ASSERT_TRUE(provideSandboxCa(third, pool));
  EXPECT_EQ(caPoolSize(pool), 0u);
  ASSERT_EQ(::stat(third.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "a CA made without a spare is private too";
  std::string c1 = ensureSandboxCa(sandbox)->cert_pem, c2 = ensureSandboxCa(second)->cert_pem,
              c3 = ensureSandboxCa(third)->cert_pem;
  EXPECT_NE(c1, c2);
  EXPECT_NE(c2, c3);
  EXPECT_NE(c1, c3);
  // A CA directory that is in the way (not empty, no CA) gets a CA made in place, never a
  // spare renamed over what is there.
  ASSERT_TRUE(fillCaPool(pool, 1));
  ScratchDir busy_dir("pool-busy");
  const std::string busy = sandboxCaDir(busy_dir.path);
  ASSERT_EQ(::mkdir(busy.c_str(), 0700), 0);
  ASSERT_TRUE(fs::writeFileAtomic(busy + "/note", "kept"));
  ASSERT_TRUE(provideSandboxCa(busy, pool));
  EXPECT_EQ(caPoolSize(pool), 1u) << "the spare stayed in the pool";
  EXPECT_TRUE(ensureSandboxCa(busy));
  EXPECT_TRUE(std::filesystem::exists(busy + "/note"));
}

TEST(SandboxCaPool, FillRefusesAPoolOthersCanReadAndClearsDeadFills) {
  ScratchDir home("pool-perm");
  const std::string pool = caPoolDir(home.path);
  ASSERT_EQ(::mkdir(pool.c_str(), 0755), 0);
  auto refused = fillCaPool(pool, 1);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("0700"), std::string::npos) << refused.error().message();
  EXPECT_EQ(caPoolSize(pool), 0u);
  ASSERT_EQ(::chmod(pool.c_str(), 0700), 0);
  // A fill that died midway left a building directory: cleared once it is old.
  const std::string dead = pool + "/.building-deadbeef";
  ASSERT_EQ(::mkdir(dead.c_str(), 0700), 0);
  ASSERT_TRUE(fs::writeFileAtomic(dead + "/ca.key", "half"));
  struct timespec old_times[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, dead.c_str(), old_times, 0), 0);
  ASSERT_TRUE(fillCaPool(pool, 1));
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_EQ(caPoolSize(pool), 1u);
}

TEST(SandboxCaPool, OneFillerAtATime) {
  ScratchDir home("pool-lock");
  const std::string pool = caPoolDir(home.path);
  ASSERT_TRUE(fillCaPool(pool, 0));  // makes the directory and its lock file
  EXPECT_FALSE(caPoolFilling(pool));
  int fd = ::open((pool + "/.fill.lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // as a running filler holds it
  EXPECT_TRUE(caPoolFilling(pool));
  ASSERT_TRUE(fillCaPool(pool, 2));  // another filler is at work: nothing to do here
  EXPECT_EQ(caPoolSize(pool), 0u);
  ::close(fd);
  EXPECT_FALSE(caPoolFilling(pool));
}

}  // namespace
}  // namespace km::net::proxy
