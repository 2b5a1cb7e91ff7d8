// IP addresses and CIDR ranges for the network policy: parsing, containment, and the ranges
// a sandbox may never reach by name (DNS rebinding guard) unless a CIDR allows them:
// loopback, private, link-local (with the cloud metadata addresses), CGNAT, multicast,
// reserved, and their IPv6 counterparts — including IPv4 addresses carried inside IPv6
// (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16).
// Values; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace km::net {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // v4: first 4 bytes

  static std::optional<IpAddress> parse(std::string_view text);  // "1.2.3.4", "::1", no brackets
  static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  std::string toString() const;
  // The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any.
  std::optional<IpAddress> embeddedV4() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress base;  // host bits cleared
  int prefix = 0;

  // "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Errors say what is wrong.
  static Result<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
  std::string toString() const;
};

// Why an address is guarded ("loopback", "private", "link-local", "cloud metadata",
// "CGNAT", "multicast", "reserved", "unspecified", "unique local"), or nullopt when it is an
// ordinary public address. Embedded IPv4 addresses are judged as IPv4.
std::optional<std::string> guardedRange(const IpAddress& a);

// An address a sandbox may connect to once a name resolved to it: not guarded, or inside
// one of `allowed`.
bool reachableByName(const IpAddress& a, const std::vector<Cidr>& allowed);

// "ip:port" or "[v6]:port" (port default `default_port` when absent).
struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;
  static Result<Endpoint> parse(std::string_view text, uint16_t default_port);
  std::string toString() const;
};

}  // namespace km::net
