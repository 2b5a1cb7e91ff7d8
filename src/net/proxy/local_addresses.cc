#include "net/proxy/local_addresses.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace km::net::proxy {

bool LocalAddresses::contains(const IpAddress& a) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (read_ == std::chrono::steady_clock::time_point{} || now - read_ >= std::chrono::seconds(1)) {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
      addresses_.clear();
      for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr) continue;
        IpAddress ip;
        if (i->ifa_addr->sa_family == AF_INET) {
          std::memcpy(ip.bytes.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
          ip.v6 = true;
          std::memcpy(ip.bytes.data(), &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
        } else {
          continue;
        }
        addresses_.push_back(ip);
      }
      ::freeifaddrs(list);
      read_ = now;
    }
  }
  return std::find(addresses_.begin(), addresses_.end(), a) != addresses_.end();
}

}  // namespace km::net::proxy
