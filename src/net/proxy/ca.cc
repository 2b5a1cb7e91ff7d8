// The sandbox's CA and its leaves, built with OpenSSL 3's X509 API. A leaf's name goes in as
// a GENERAL_NAME value, never through OpenSSL's text config (where a comma would add names).
#include "net/proxy/ca.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <vector>

#include "core/fs.h"
#include "core/sys.h"
#include "net/proxy/proxy.h"

namespace km::net::proxy {
namespace {

Error sslFailure(const std::string& what) { return internalError(what + ": " + opensslError("unknown OpenSSL error")); }

// A random positive 127-bit serial number.
bool setRandomSerial(X509* x) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;  // never a leading zero byte (DER keeps it minimal)
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(bytes, sizeof bytes, nullptr), BN_free);
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) != nullptr;
}

bool addExtension(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, OpensslFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

bool setValidity(X509* x, std::chrono::seconds lifetime) {
  return X509_gmtime_adj(X509_getm_notBefore(x), -3600) != nullptr &&
         X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(lifetime.count())) != nullptr;
}

std::string pemOf(const std::function<int(BIO*)>& write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

Result<PkeyPtr> newEcKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return sslFailure("making an EC P-256 key");
  return key;
}

bool certifiableName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.') return false;
  char prev = '.';
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

Result<CertificateAuthority> CertificateAuthority::generate(std::string_view name, std::chrono::seconds lifetime) {
  auto key = newEcKey();
  if (!key) return std::move(key).error();
  X509Ptr cert(X509_new());
  if (!cert) return sslFailure("making the CA certificate");
  X509* x = cert.get();
  std::string cn = "km sandbox CA " + std::string(name.substr(0, 40));
  X509_NAME* subject = X509_get_subject_name(x);
  bool ok = X509_set_version(x, 2) == 1 && setRandomSerial(x) && setValidity(x, lifetime) &&
            X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("km"), -1, -1, 0) == 1 &&
            X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) == 1 &&
            X509_set_issuer_name(x, subject) == 1 && X509_set_pubkey(x, key->get()) == 1 &&
            addExtension(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
            addExtension(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
            addExtension(x, x, NID_subject_key_identifier, "hash") &&
            X509_sign(x, key->get(), EVP_sha256()) > 0;
  if (!ok) return sslFailure("making the CA certificate");
  return CertificateAuthority(std::move(cert), std::move(*key));
}

Result<CertificateAuthority> CertificateAuthority::fromPem(std::string_view cert_pem, std::string_view key_pem) {
  BioPtr cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(cb ? PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return invalidArgument("the CA certificate is not PEM: " + opensslError("no certificate"));
  BioPtr kb(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PkeyPtr key(kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return invalidArgument("the CA key is not a PEM private key: " + opensslError("no key"));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return invalidArgument("the CA key does not belong to the CA certificate");
  }
  return CertificateAuthority(std::move(cert), std::move(key));
}

std::string CertificateAuthority::certPem() const {
  return pemOf([&](BIO* b) { return PEM_write_bio_X509(b, cert_.get()); });
}

std::string CertificateAuthority::keyPem() const {
  return pemOf([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key_.get(), nullptr, nullptr, 0, nullptr, nullptr); });
}

Result<X509Ptr> CertificateAuthority::issue(std::string_view host, EVP_PKEY* key, std::chrono::seconds lifetime) const {
  if (!certifiableName(host)) return invalidArgument("no certificate for the name '" + std::string(host.substr(0, 64)) + "'");
  X509Ptr cert(X509_new());
  if (!cert) return sslFailure("making a certificate for " + std::string(host));
  X509* x = cert.get();
  bool ok = X509_set_version(x, 2) == 1 && setRandomSerial(x) && setValidity(x, lifetime) &&
            X509_set_issuer_name(x, X509_get_subject_name(cert_.get())) == 1 && X509_set_pubkey(x, key) == 1;
  if (ok && X509_cmp_time(X509_get0_notAfter(cert_.get()), nullptr) > 0 &&
      ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(cert_.get())) > 0) {
    ok = X509_set1_notAfter(x, X509_get0_notAfter(cert_.get())) == 1;
  }
  if (ok && host.size() <= 64) {
    ok = X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(host.data()), static_cast<int>(host.size()), -1, 0) == 1;
  }
  if (ok) {
    GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    ok = names && name && text && ASN1_STRING_set(text, host.data(), static_cast<int>(host.size())) == 1;
    if (ok) {
      GENERAL_NAME_set0_value(name, GEN_DNS, text);
      text = nullptr;
      ok = sk_GENERAL_NAME_push(names, name) > 0;
      if (ok) name = nullptr;
    }
    // Without a subject (a name too long for CN) the names must be critical (RFC 5280).
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, names, host.size() > 64 ? 1 : 0, X509V3_ADD_DEFAULT) == 1;
    ASN1_IA5STRING_free(text);
    GENERAL_NAME_free(name);
    GENERAL_NAMES_free(names);
  }
  ok = ok && addExtension(x, cert_.get(), NID_basic_constraints, "critical,CA:FALSE") &&
       addExtension(x, cert_.get(), NID_key_usage, "critical,digitalSignature") &&
       addExtension(x, cert_.get(), NID_ext_key_usage, "serverAuth") &&
       addExtension(x, cert_.get(), NID_authority_key_identifier, "keyid:always") &&
       X509_sign(x, key_.get(), EVP_sha256()) > 0;
  if (!ok) return sslFailure("making a certificate for " + std::string(host));
  return cert;
}

namespace {

constexpr std::string_view kSparePrefix = "spare-";
constexpr std::string_view kBuildingPrefix = ".building-";
constexpr std::string_view kFillLock = ".fill.lock";

// Eight random hex digits: a CA's name (its subject must differ from every other CA a trust
// store may hold, a clone's inherited one included) and a spare's directory.
std::string randomTag() {
  unsigned char bytes[4];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    uint32_t v = static_cast<uint32_t>(::getpid()) ^ static_cast<uint32_t>(::time(nullptr));
    std::memcpy(bytes, &v, sizeof bytes);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// Writes a new CA's two files into `dir`: the key first, created 0600 (never readable by
// anyone else, even for a moment) and synced, since a sandbox's trust in its certificate
// outlives a crash.
Result<SandboxCa> writeNewCa(const std::string& dir) {
  // Ten years: the CA lives as long as the sandbox (its leaves are short-lived).
  auto ca = CertificateAuthority::generate(randomTag(), std::chrono::hours(24 * 3650));
  if (!ca) return std::move(ca).error();
  SandboxCa out{ca->certPem(), ca->keyPem()};
  std::string key_path = dir + "/" + std::string(kCaKeyFile), cert_path = dir + "/" + std::string(kCaCertFile);
  std::string tmp = key_path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sys::errnoError("creating", tmp, errno);
  sys::UniqueFd closer(fd);
  KM_TRY(sys::writeAll(fd, out.key_pem, tmp));
  if (::fsync(fd) != 0 || ::rename(tmp.c_str(), key_path.c_str()) != 0) return sys::errnoError("writing", key_path, errno);
  KM_TRY(fs::writeFileAtomic(cert_path, out.cert_pem));
  return out;
}

// Reads the CA in `dir` (its files checked for PEM blocks only; the proxy parses them when it
// first intercepts, and a supervisor that never intercepts never loads OpenSSL's code).
Result<SandboxCa> readCa(const std::string& dir) {
  std::string cert_path = dir + "/" + std::string(kCaCertFile), key_path = dir + "/" + std::string(kCaKeyFile);
  auto cert = fs::readFile(cert_path, 1 << 20);
  if (!cert) return std::move(cert).error().context("the sandbox's CA");
  auto key = fs::readFile(key_path, 1 << 20);
  if (!key) return std::move(key).error().context("the sandbox's CA");
  if (cert->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return invalidArgument(cert_path + " holds no PEM certificate (the sandbox's CA)");
  }
  if (key->find("PRIVATE KEY-----") == std::string::npos) {
    return invalidArgument(key_path + " holds no PEM private key (the sandbox's CA)");
  }
  return SandboxCa{std::move(*cert), std::move(*key)};
}

void removeTree(const std::string& dir) {
  for (std::string_view name : {kCaKeyFile, kCaCertFile}) ::unlink((dir + "/" + std::string(name)).c_str());
  ::unlink((dir + "/" + std::string(kCaKeyFile) + ".tmp").c_str());
  ::rmdir(dir.c_str());
}

// The names in `pool_dir` that start with `prefix`, in no particular order.
std::vector<std::string> entries(const std::string& pool_dir, std::string_view prefix) {
  std::vector<std::string> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(pool_dir.c_str()), ::closedir);
  if (!d) return out;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name.substr(0, prefix.size()) == prefix) out.emplace_back(name);
  }
  return out;
}

// Renames a spare from `pool_dir` to `dir` (same filesystem: both are under $KM_HOME; `dir`
// missing or an empty directory). False when there is none.
bool takeSpare(const std::string& dir, const std::string& pool_dir) {
  for (const std::string& name : entries(pool_dir, kSparePrefix)) {
    // The rename is the claim: of several creates reaching for one spare, one wins.
    if (::rename((pool_dir + "/" + name).c_str(), dir.c_str()) == 0) return true;
  }
  return false;
}

// Makes `dir` (0700) when it is missing.
Status makeCaDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return sys::errnoError("mkdir", dir, errno);
  return ok();
}

// Whether `dir` has a CA already (either file: a half-written one is an error to report, not
// a reason to make another).
bool hasCa(const std::string& dir) {
  return fs::exists(dir + "/" + std::string(kCaCertFile)) || fs::exists(dir + "/" + std::string(kCaKeyFile));
}

}  // namespace

Status provideSandboxCa(const std::string& dir, const std::string& pool_dir) {
  if (hasCa(dir)) return ok();
  if (!pool_dir.empty() && takeSpare(dir, pool_dir)) return ok();
  KM_TRY(makeCaDir(dir));
  auto made = writeNewCa(dir);
  if (!made) return std::move(made).error();
  return ok();
}

Result<SandboxCa> ensureSandboxCa(const std::string& dir) {
  if (hasCa(dir)) return readCa(dir);
  KM_TRY(makeCaDir(dir));
  return writeNewCa(dir);
}

size_t caPoolSize(const std::string& pool_dir) { return entries(pool_dir, kSparePrefix).size(); }

bool caPoolFilling(const std::string& pool_dir) {
  sys::UniqueFd lock(::open((pool_dir + "/" + std::string(kFillLock)).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!lock.valid()) return false;
  if (::flock(lock.get(), LOCK_SH | LOCK_NB) == 0) return false;  // released as `lock` closes
  return errno == EWOULDBLOCK;
}

Status fillCaPool(const std::string& pool_dir, size_t target) {
  if (::mkdir(pool_dir.c_str(), 0700) != 0 && errno != EEXIST) return sys::errnoError("mkdir", pool_dir, errno);
  struct stat st {};
  if (::lstat(pool_dir.c_str(), &st) != 0) return sys::errnoError("lstat", pool_dir, errno);
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    return invalidArgument(pool_dir + " is not a private directory of this user (mode 0700); remove it");
  }
  // One filler at a time: a second one has nothing to add.
  const std::string lock_path = pool_dir + "/" + std::string(kFillLock);
  sys::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock.valid()) return sys::errnoError("open", lock_path, errno);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return ok();
    return sys::errnoError("flock", lock_path, errno);
  }
  // What a fill that died midway left: gone after ten minutes (a live one takes milliseconds).
  for (const std::string& name : entries(pool_dir, kBuildingPrefix)) {
    std::string path = pool_dir + "/" + name;
    if (::lstat(path.c_str(), &st) == 0 && st.st_mtime < ::time(nullptr) - 600) removeTree(path);
  }
  while (caPoolSize(pool_dir) < target) {
    std::string tag = randomTag();
    std::string building = pool_dir + "/" + std::string(kBuildingPrefix) + tag;
    if (::mkdir(building.c_str(), 0700) != 0) return sys::errnoError("mkdir", building, errno);
    auto made = writeNewCa(building);
    if (made && ::rename(building.c_str(), (pool_dir + "/" + std::string(kSparePrefix) + tag).c_str()) == 0) continue;
    Error e = made ? sys::errnoError("rename", building, errno) : std::move(made).error();
    removeTree(building);
    return e;
  }
  return ok();
}

}  // namespace km::net::proxy
