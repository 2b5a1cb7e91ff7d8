// TLS termination for the hosts the proxy must read (private to the proxy): the two TLS
// contexts (towards the sandbox with leaves from its CA; towards servers verifying them
// against the system's store plus tls.extraCAFile), the leaf cache and the servers' session
// cache. Shared by every session; thread-safe.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.h"
#include "net/host_rule.h"
#include "net/proxy/ca.h"
#include "net/proxy/proxy.h"

namespace km::net::proxy {

class Interceptor {
 public:
  // Reads the CA in options.ca_dir, makes the leaves' key and both contexts. An error naming
  // the file when the CA or tls.extraCAFile cannot be read.
  [[nodiscard]] static Result<std::unique_ptr<Interceptor>> make(const Interception& options);
  ~Interceptor();

  boost::asio::ssl::context& serverContext() { return server_; }
  boost::asio::ssl::context& clientContext() { return client_; }

  // Puts `host`'s leaf (minted on first use, cached, re-minted when a week old) and its key
  // on `ssl`, a server-side connection not yet shaken hands.
  [[nodiscard]] Status presentLeaf(SSL* ssl, const std::string& host);

  // Client side, before the handshake: the server name (SNI), the name its certificate must
  // carry, and the session kept from the last connection to `key` ("host:port") if any.
  // `key` must outlive the connection (new sessions are filed under it).
  [[nodiscard]] Status prepareClient(SSL* ssl, const std::string& host, const std::string* key);

  // Leaves minted so far (for tests and stats).
  uint64_t minted() const;

 private:
  Interceptor(CertificateAuthority ca, PkeyPtr leaf_key);
  static int onNewSession(SSL* ssl, SSL_SESSION* session);

  struct Leaf {
    X509Ptr cert;
    std::chrono::steady_clock::time_point made;
  };

  CertificateAuthority ca_;
  PkeyPtr leaf_key_;
  boost::asio::ssl::context server_;
  boost::asio::ssl::context client_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Leaf> leaves_;
  std::unordered_map<std::string, SessionPtr> sessions_;
  uint64_t minted_ = 0;
};

}  // namespace km::net::proxy
