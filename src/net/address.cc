#include "net/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace km::net {
namespace {

struct Range {
  const char* cidr;
  const char* why;
};

// Checked in order; the first match names the reason.
constexpr Range kGuardedV4[] = {
    {"169.254.169.254/32", "cloud metadata"}, {"169.254.170.2/32", "cloud metadata"},
    {"100.100.100.200/32", "cloud metadata"}, {"0.0.0.0/8", "unspecified"},
    {"127.0.0.0/8", "loopback"},              {"10.0.0.0/8", "private"},
    {"172.16.0.0/12", "private"},             {"192.168.0.0/16", "private"},
    {"169.254.0.0/16", "link-local"},         {"100.64.0.0/10", "CGNAT"},
    {"192.0.0.0/24", "reserved"},             {"198.18.0.0/15", "reserved"},
    {"224.0.0.0/4", "multicast"},             {"240.0.0.0/4", "reserved"},
    {"192.88.99.0/24", "reserved"},  // the retired 6to4 relay anycast
};
constexpr Range kGuardedV6[] = {
    {"fd00:ec2::254/128", "cloud metadata"}, {"::/128", "unspecified"},
    {"::1/128", "loopback"},                 {"fe80::/10", "link-local"},
    {"fc00::/7", "unique local"},            {"ff00::/8", "multicast"},
    {"100::/64", "reserved"},
    // Prefixes that carry another address inside in a form embeddedV4 does not read: the
    // local-use NAT64 prefix (RFC 8215: its IPv4 position depends on the operator's prefix
    // length) and Teredo (the client's address obfuscated). No public name needs either.
    {"64:ff9b:1::/48", "local-use NAT64"},   {"2001::/32", "Teredo"},
};

const std::vector<std::pair<Cidr, std::string>>& guarded() {
  static const auto* table = [] {
    auto* t = new std::vector<std::pair<Cidr, std::string>>;
    for (const auto& r : kGuardedV4) t->emplace_back(*Cidr::parse(r.cidr), r.why);
    for (const auto& r : kGuardedV6) t->emplace_back(*Cidr::parse(r.cidr), r.why);
    return t;
  }();
  return *table;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  IpAddress a;
  if (::inet_pton(AF_INET, buf, a.bytes.data()) == 1) return a;
  if (::inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress out;
  out.bytes[0] = a;
  out.bytes[1] = b;
  out.bytes[2] = c;
  out.bytes[3] = d;
  return out;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddress> IpAddress::embeddedV4() const {
  if (!v6) return std::nullopt;
  const auto& b = bytes;
  auto zero = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      if (b[i] != 0) return false;
    }
    return true;
  };
  auto tail = [&](int at) { return v4(b[at], b[at + 1], b[at + 2], b[at + 3]); };
  if (zero(0, 10) && b[10] == 0xFF && b[11] == 0xFF) return tail(12);  // ::ffff:a.b.c.d
  // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1 themselves.
  if (zero(0, 12) && !(zero(12, 15) && b[15] <= 1)) return tail(12);
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && zero(4, 12)) return tail(12);  // NAT64
  if (b[0] == 0x20 && b[1] == 0x02) return tail(2);  // 6to4
  return std::nullopt;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  std::string_view addr = text;
  std::optional<int> prefix;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view p = text.substr(slash + 1);
    int v = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || p.empty()) {
      return invalidArgument("'" + std::string(text) + "': the prefix length after '/' must be a number");
    }
    prefix = v;
  }
  auto ip = IpAddress::parse(addr);
  if (!ip) {
    return invalidArgument("'" + std::string(text) + "' is not an IPv4 or IPv6 address or CIDR (like 10.0.0.0/8 or fd00::/8)");
  }
  int max = ip->v6 ? 128 : 32;
  int p = prefix.value_or(max);
  if (p < 0 || p > max) {
    return invalidArgument("'" + std::string(text) + "': prefix length must be 0.." + std::to_string(max));
  }
  Cidr c;
  c.base = *ip;
  c.prefix = p;
  for (int bit = p; bit < max; ++bit) c.base.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  return c;
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.v6 != base.v6) return false;
  int full = prefix / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

std::string Cidr::toString() const { return base.toString() + "/" + std::to_string(prefix); }

std::optional<std::string> guardedRange(const IpAddress& a) {
  if (auto v4 = a.embeddedV4()) {
    if (auto why = guardedRange(*v4)) return *why + " (IPv4 inside IPv6)";
    return std::nullopt;
  }
  for (const auto& [cidr, why] : guarded()) {
    if (cidr.contains(a)) return why;
  }
  return std::nullopt;
}

bool reachableByName(const IpAddress& a, const std::vector<Cidr>& allowed) {
  if (!guardedRange(a)) return true;
  for (const auto& c : allowed) {
    if (c.contains(a)) return true;
    if (auto v4 = a.embeddedV4(); v4 && c.contains(*v4)) return true;
  }
  return false;
}

Result<Endpoint> Endpoint::parse(std::string_view text, uint16_t default_port) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return invalidArgument("'" + std::string(text) + "': missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return invalidArgument("'" + std::string(text) + "': expected ':port' after ']'");
      port = rest.substr(1);
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos &&
                                              text.find(':') == colon) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto ip = IpAddress::parse(host);
  if (!ip) {
    return invalidArgument("'" + std::string(text) + "' is not ip:port (like 192.0.2.53:53 or [2001:db8::53]:53)");
  }
  Endpoint e;
  e.ip = *ip;
  e.port = default_port;
  if (!port.empty()) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535) {
      return invalidArgument("'" + std::string(text) + "': port must be 1..65535");
    }
    e.port = static_cast<uint16_t>(v);
  }
  return e;
}

std::string Endpoint::toString() const {
  return ip.v6 ? "[" + ip.toString() + "]:" + std::to_string(port)
               : ip.toString() + ":" + std::to_string(port);
}

}  // namespace km::net
