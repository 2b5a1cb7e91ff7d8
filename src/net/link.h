// km::net::Netlink — the few rtnetlink operations a sandbox's network needs (libmnl): a veth
// pair whose peer is born in the sandbox's network namespace, IPv4 addresses, link up, a
// default route, and a dump of the IPv4 addresses in use (for subnet allocation). A
// Netlink opened for a pid works in that process's network namespace. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "net/address.h"

namespace km::net {

class Netlink {
 public:
  // A route-netlink socket in the network namespace of `pid` (0 = the caller's). Joining
  // another namespace briefly needs a single-threaded caller with CAP_SYS_ADMIN.
  [[nodiscard]] static Result<Netlink> open(pid_t netns_of = 0);
  Netlink(Netlink&&) noexcept;
  Netlink& operator=(Netlink&&) noexcept;
  ~Netlink();

  // A veth pair: `host_name` here, in interface group `host_group` (0: the default group)
  // from birth, and `peer_name` created directly in `peer_pid`'s namespace.
  [[nodiscard]] Status createVeth(const std::string& host_name, const std::string& peer_name, pid_t peer_pid,
                                  uint32_t host_group = 0);
  [[nodiscard]] Result<int> linkIndex(const std::string& name);
  [[nodiscard]] Status addAddress(int index, const IpAddress& address, int prefix);
  [[nodiscard]] Status setUp(int index);
  // Puts the interface in interface group `group` (`ip link set … group`).
  [[nodiscard]] Status setGroup(int index, uint32_t group);
  [[nodiscard]] Status addDefaultRoute(int index, const IpAddress& gateway);
  [[nodiscard]] Status deleteLink(const std::string& name);
  // Every IPv4 address configured in this namespace, with its prefix length.
  [[nodiscard]] Result<std::vector<Cidr>> addresses4();

 private:
  struct Impl;
  explicit Netlink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The first /30 of `pool` that overlaps none of `used`: host end .1, sandbox end .2.
struct Subnet {
  Cidr block;
  IpAddress host, sandbox;
};
[[nodiscard]] Result<Subnet> pickSubnet(const Cidr& pool, const std::vector<Cidr>& used);

}  // namespace km::net
