// How the proxy learns a name's addresses: it asks the sandbox's own resolver (the host end
// of the sandbox's veth), so the same policy, rebinding guard, cache and audit apply to the
// proxy's lookups as to the sandbox's, and the addresses it connects to are ones that
// resolver handed out. IPv4 only (sandboxes have no IPv6 path). Answers are kept for their
// TTL (at most kMaxCacheSeconds). Thread-safe cache; each lookup runs on its caller's
// executor (a session's strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "net/address.h"

namespace km::net::proxy {

class NameResolver {
 public:
  static constexpr uint32_t kMaxCacheSeconds = 300;
  static constexpr size_t kMaxCacheEntries = 4096;

  explicit NameResolver(Endpoint resolver) : resolver_(resolver) {}

  // The addresses of `name` (canonical). NotFound when the resolver refuses the name or it
  // has no address (its NXDOMAIN: not allowed, or rebinding); Unavailable when the resolver
  // does not answer or answers SERVFAIL.
  boost::asio::awaitable<Result<std::vector<IpAddress>>> resolve(std::string name);

  size_t cacheSize() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::vector<IpAddress> addresses;
    Clock::time_point expires;
  };
  Endpoint resolver_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;  // guarded by mu_
};

}  // namespace km::net::proxy
