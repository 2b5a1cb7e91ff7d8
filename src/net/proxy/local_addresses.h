// The host's own addresses, which the proxy never connects to: it runs on the host, outside
// the host rules that refuse a sandbox every address of the host, so a name that resolves to
// one of them (the host's LAN or public address, another sandbox's veth end) would otherwise
// reach the host's own services. Read with getifaddrs, refreshed at most once a second.
// Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include "net/address.h"

namespace km::net::proxy {

class LocalAddresses {
 public:
  bool contains(const IpAddress& a);

 private:
  std::mutex mu_;
  std::vector<IpAddress> addresses_;  // guarded by mu_
  std::chrono::steady_clock::time_point read_{};
};

}  // namespace km::net::proxy
