// The checks a request head must pass before the proxy acts on it, on the head as parsed
// (by Beast's parser in the proxy, by the same in the fuzz target): where it goes (CONNECT
// authority, absolute URI, Host header, which must all agree) and how its body is framed.
// Anything ambiguous is refused with a reason, never normalised: two lengths, a length with
// chunking, a transfer coding other than chunked, two Host headers, a host that is an IP
// literal in any spelling. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace km::net::proxy {

struct Authority {
  std::string host;  // canonical: lowercase, no trailing dot
  uint16_t port = 0;
  std::string toString() const;  // "host:port"
};

// "host" or "host:port" (the port, when absent, is `default_port`). InvalidArgument, saying
// why, for an empty host, userinfo, a bracketed or bare IP address in any spelling (dotted,
// decimal, hex, octal, IPv6), characters outside a DNS host name, or a bad port.
[[nodiscard]] Result<Authority> parseAuthority(std::string_view text, uint16_t default_port);

// True when `host` would be read as an IP address by some resolver or URL parser: all digits
// and dots, a final label that is a number (decimal, 0x hex or 0-led octal), or brackets.
bool isIpLiteral(std::string_view host);

// Longer methods are refused (400).
inline constexpr size_t kMaxMethodBytes = 32;

struct RequestHead {
  std::string_view method;
  std::string_view target;
  unsigned version = 11;  // 10 or 11
  std::vector<std::pair<std::string_view, std::string_view>> fields;  // name, value; in order
};

// What the head asks for.
struct CheckedRequest {
  enum class Form { kOrigin, kAbsolute, kAuthority };
  Form form = Form::kOrigin;
  bool connect = false;
  bool upgrade_websocket = false;
  Authority authority;   // where it goes (CONNECT target, absolute URI, else Host)
  std::string path;      // origin-form target ("/x?y"); "" for CONNECT
  bool has_host = false; // a Host header was present
};

// Checks `head` as received on a listener: `explicit_proxy` heads may use absolute form and
// CONNECT; transparent ones must use origin form with a Host. `default_port` applies to a
// Host or URI without one. InvalidArgument with the reason the client is told.
[[nodiscard]] Result<CheckedRequest> checkRequestHead(const RequestHead& head, bool explicit_proxy,
                                                      uint16_t default_port);

// Hop-by-hop header names a proxy must not forward (RFC 9110 §7.6.1), lowercase.
bool isHopByHop(std::string_view lowercase_name);

}  // namespace km::net::proxy
