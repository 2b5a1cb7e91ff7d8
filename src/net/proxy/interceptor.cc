// The interceptor's contexts and caches. Towards the sandbox: TLS 1.2+, ALPN http/1.1 only
// (the proxy reads HTTP/1.1), session tickets and a session cache so a client's reconnect
// skips the full handshake. Towards servers: TLS 1.2+, peer and host name verified, ALPN
// http/1.1, the last session per "host:port" offered again.
#include "net/proxy/interceptor.h"

#include "core/fs.h"

namespace km::net::proxy {
namespace {

constexpr auto kLeafLifetime = std::chrono::hours(24 * 30);
constexpr auto kLeafRenewAfter = std::chrono::hours(24 * 7);
constexpr size_t kMaxLeaves = 4096;
constexpr size_t kMaxSessions = 1024;
constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// The Interceptor and the session key of a client connection, found from its SSL.
int interceptorIndex() {
  static int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int keyIndex() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int selectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned int in_len,
               void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, kHttp11, sizeof kHttp11, in, in_len) == OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no http/1.1 offered: no ALPN (an h2-only client then fails)
}

SSL_CTX* serverCtx() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  static constexpr unsigned char kContext[] = "km-proxy";
  SSL_CTX_set_session_id_context(ctx, kContext, sizeof kContext - 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, 4096);
  SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
  return ctx;
}

SSL_CTX* clientCtx() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_alpn_protos(ctx, kHttp11, sizeof kHttp11);
  return ctx;
}

}  // namespace

Interceptor::Interceptor(CertificateAuthority ca, PkeyPtr leaf_key)
    : ca_(std::move(ca)), leaf_key_(std::move(leaf_key)), server_(serverCtx()),
      client_(clientCtx()) {}

Interceptor::~Interceptor() = default;

Result<std::unique_ptr<Interceptor>> Interceptor::make(const Interception& options) {
  std::string cert_path = options.ca_dir + "/" + std::string(kCaCertFile);
  std::string key_path = options.ca_dir + "/" + std::string(kCaKeyFile);
  auto cert = fs::readFile(cert_path, 1 << 20);
  if (!cert) return std::move(cert).error().context("the sandbox's CA");
  auto key = fs::readFile(key_path, 1 << 20);
  if (!key) return std::move(key).error().context("the sandbox's CA");
  auto ca = CertificateAuthority::fromPem(*cert, *key);
  if (!ca) return std::move(ca).error().context(cert_path);
  auto leaf_key = newEcKey();
  if (!leaf_key) return std::move(leaf_key).error();
  std::unique_ptr<Interceptor> ic(new Interceptor(std::move(*ca), std::move(*leaf_key)));
  SSL_CTX* client = ic->client_.native_handle();
  SSL_CTX* server = ic->server_.native_handle();
  if (!client || !server) return internalError("making the proxy's TLS contexts: " + opensslError("out of memory"));
  if (SSL_CTX_set_default_verify_paths(client) != 1) {
    return internalError("loading the system's CA store: " + opensslError("unknown error"));
  }
  if (!options.extra_ca_file.empty()) {
    if (!fs::exists(options.extra_ca_file)) {
      return invalidArgument("operator config tls.extraCAFile: " + options.extra_ca_file + " does not exist");
    }
    if (SSL_CTX_load_verify_locations(client, options.extra_ca_file.c_str(), nullptr) != 1) {
      return invalidArgument("operator config tls.extraCAFile: " + options.extra_ca_file +
                             " holds no PEM certificate: " + opensslError("unreadable"));
    }
  }
  SSL_CTX_set_ex_data(client, interceptorIndex(), ic.get());
  SSL_CTX_set_session_cache_mode(client, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(client, &Interceptor::onNewSession);
  return ic;
}

int Interceptor::onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<Interceptor*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), interceptorIndex()));
  auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, keyIndex()));
  if (!self || !key) return 0;
  // A copy: OpenSSL marks the connection's own session not resumable when the connection ends
  // without a close_notify (the proxy often just closes), which would spoil the one kept here.
  SessionPtr copy(SSL_SESSION_dup(session));
  if (!copy) return 0;
  std::lock_guard lock(self->mu_);
  if (self->sessions_.size() >= kMaxSessions && !self->sessions_.count(*key)) self->sessions_.clear();
  self->sessions_[*key] = std::move(copy);
  return 0;  // the connection keeps its reference
}

Status Interceptor::presentLeaf(SSL* ssl, const std::string& host) {
  X509Ptr cert;
  {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    auto it = leaves_.find(host);
    if (it == leaves_.end() || now - it->second.made > kLeafRenewAfter) {
      auto minted = ca_.issue(host, leaf_key_.get(), kLeafLifetime);
      if (!minted) return std::move(minted).error();
      if (leaves_.size() >= kMaxLeaves) leaves_.clear();
      ++minted_;
      it = leaves_.insert_or_assign(host, Leaf{std::move(*minted), now}).first;
    }
    X509_up_ref(it->second.cert.get());
    cert.reset(it->second.cert.get());
  }
  if (SSL_use_certificate(ssl, cert.get()) != 1 || SSL_use_PrivateKey(ssl, leaf_key_.get()) != 1) {
    return internalError("presenting the certificate for " + host + ": " + opensslError("unknown error"));
  }
  return ok();
}

Status Interceptor::prepareClient(SSL* ssl, const std::string& host, const std::string* key) {
  // The name must be in subjectAltName: a certificate naming the host only in its CN is
  // refused, as browsers do.
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) {
    return internalError("preparing TLS to " + host + ": " + opensslError("unknown error"));
  }
  SSL_set_ex_data(ssl, keyIndex(), const_cast<std::string*>(key));
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(*key); it != sessions_.end()) SSL_set_session(ssl, it->second.get());
  return ok();
}

uint64_t Interceptor::minted() const {
  std::lock_guard lock(mu_);
  return minted_;
}

}  // namespace km::net::proxy
