// A sandbox's certificate authority (private to the proxy; ensureSandboxCa in proxy.h is the
// way in from outside): an EC P-256 key and a self-signed CA certificate, made once per
// sandbox, and the leaf certificates the proxy shows a client whose TLS it terminates.
// Immutable after construction; issue() is safe from several threads.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"
#include "net/proxy/openssl_ptr.h"

namespace km::net::proxy {

// A new EC P-256 key.
[[nodiscard]] Result<PkeyPtr> newEcKey();

// Whether `host` may be put in a certificate: letters, digits, '-', '_' and dots, 1 to 253
// bytes, no empty label (anything else never reaches a certificate).
bool certifiableName(std::string_view host);

class CertificateAuthority {
 public:
  // A new CA named `name`: CN "km sandbox CA <name>", basicConstraints CA:TRUE
  // (pathlen 0), keyCertSign; valid from an hour ago for `lifetime`.
  [[nodiscard]] static Result<CertificateAuthority> generate(std::string_view name,
                                                             std::chrono::seconds lifetime);
  // A CA from its PEM certificate and private key; InvalidArgument when either does not
  // parse or the key is not the certificate's.
  [[nodiscard]] static Result<CertificateAuthority> fromPem(std::string_view cert_pem, std::string_view key_pem);

  std::string certPem() const;
  std::string keyPem() const;  // unencrypted PKCS#8
  X509* cert() const { return cert_.get(); }

  // A leaf for `host` (subjectAltName dNSName `host` only; serverAuth; CA:FALSE) carrying
  // `key`'s public key, valid from an hour ago for `lifetime` but never past the CA's own
  // end. InvalidArgument for a name certifiableName refuses.
  [[nodiscard]] Result<X509Ptr> issue(std::string_view host, EVP_PKEY* key, std::chrono::seconds lifetime) const;

 private:
  CertificateAuthority(X509Ptr cert, PkeyPtr key) : cert_(std::move(cert)), key_(std::move(key)) {}
  X509Ptr cert_;
  PkeyPtr key_;
};

}  // namespace km::net::proxy
