// What the proxy's sessions share, and the session entry points (private to the proxy).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <mutex>

#include "audit/audit.h"
#include "net/proxy/filters.h"
#include "net/proxy/github_access.h"
#include "net/proxy/interceptor.h"
#include "net/proxy/local_addresses.h"
#include "net/proxy/name_resolver.h"
#include "net/proxy/proxy.h"
#include "net/proxy/sentinels.h"

namespace km::net::proxy {

// Built once at start; read by every session.
struct Shared {
  Shared(Options o, audit::Writer& a);
  Options options;
  FilterChain chain;
  NameResolver names;
  LocalAddresses local;  // never connected to
  Sentinels sentinels;   // options.secrets
  std::unique_ptr<GithubAccess> github;  // options.source; null when GitHub is not filtered
  // Whether `host`'s TLS is terminated (options.intercept's hosts).
  bool intercepts(std::string_view host) const {
    return options.intercept && options.intercept->hosts.allows(host);
  }
  // The interceptor, made on first use (an idle sandbox's proxy never loads its CA or the
  // system's store); null when it could not be made, with the reason in *why.
  Interceptor* interceptor(std::string* why);
  audit::Writer& audit;
  // Asks for the audit records added so far to be written soon (once per 100 ms at most; no
  // timer runs while nothing is pending, so an idle proxy never wakes). Set by the Proxy.
  std::function<void()> request_flush;
  std::atomic<uint64_t> connections{0}, active{0}, requests{0}, denied{0}, over_limit{0};
  // Bytes of metered request bodies held right now (options.metering's max_bodies_in_flight).
  std::atomic<size_t> metered_body_bytes{0};

 private:
  std::once_flag interceptor_once_;
  std::unique_ptr<Interceptor> interceptor_;
  std::string interceptor_error_;
};

// One client connection on each listener, from accept to close. They never throw (every
// I/O uses error codes) and log what they decide through shared.audit.
boost::asio::awaitable<void> serveExplicit(Shared& shared, boost::asio::ip::tcp::socket client);
boost::asio::awaitable<void> serveTransparent(Shared& shared, boost::asio::ip::tcp::socket client);

}  // namespace km::net::proxy
