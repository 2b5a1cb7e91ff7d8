#include "net/proxy/request_head.h"

#include <charconv>

#include "core/strings.h"
#include "net/address.h"
#include "net/proxy/client_hello.h"

namespace km::net::proxy {
namespace {

bool iequals(std::string_view a, std::string_view b) { return equalsIgnoringAsciiCase(a, b); }

bool isNumberLabel(std::string_view label) {
  if (label.empty()) return false;
  if (label.size() > 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
    label.remove_prefix(2);  // 0x7f, and "0x" alone below
  }
  for (char c : label) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  // Hex digits alone ("cafe") are a name unless all decimal digits; the 0x form is a number.
  return true;
}

}  // namespace

std::string Authority::toString() const { return host + ":" + std::to_string(port); }

bool isIpLiteral(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[' || host.find(':') != std::string_view::npos) return true;
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (IpAddress::parse(host)) return true;
  size_t dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  // A final label of decimal digits, or 0x hex: inet_aton and URL parsers read the whole
  // host as an address (2130706433, 0x7f.1, 0177.0.0.1, 127.1).
  bool decimal = true;
  for (char c : last) decimal = decimal && c >= '0' && c <= '9';
  if (decimal) return true;
  return last.size() > 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') && isNumberLabel(last);
}

Result<Authority> parseAuthority(std::string_view text, uint16_t default_port) {
  if (text.empty()) return invalidArgument("empty host");
  if (text.find('@') != std::string_view::npos) return invalidArgument("userinfo in the authority");
  if (text.front() == '[') return invalidArgument("IP literal '" + std::string(text) + "': name the host");
  std::string_view host = text, port_text;
  if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (port_text.empty()) return invalidArgument("empty port in '" + std::string(text) + "'");
  }
  if (host.empty()) return invalidArgument("empty host");
  if (isIpLiteral(host)) return invalidArgument("IP literal '" + std::string(host) + "': name the host");
  if (!isHostName(host)) return invalidArgument("'" + std::string(host) + "' is not a host name");
  Authority a;
  a.host = toLower(host);
  if (!a.host.empty() && a.host.back() == '.') a.host.pop_back();
  a.port = default_port;
  if (!port_text.empty()) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    // One spelling per port: "0443" would be read as 443 by some and refused by others.
    if (ec != std::errc() || end != port_text.data() + port_text.size() || v == 0 || v > 65535 ||
        port_text.size() > 5 || port_text[0] == '0') {
      return invalidArgument("bad port '" + std::string(port_text) + "'");
    }
    a.port = static_cast<uint16_t>(v);
  }
  return a;
}

bool isHopByHop(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" || n == "proxy-authorization" ||
         n == "proxy-authenticate" || n == "te" || n == "trailer" || n == "transfer-encoding" || n == "upgrade";
}

Result<CheckedRequest> checkRequestHead(const RequestHead& head, bool explicit_proxy, uint16_t default_port) {
  CheckedRequest r;
  if (head.version != 10 && head.version != 11) return invalidArgument("HTTP version other than 1.0/1.1");
  // Methods are short tokens (the longest registered, UPDATEREDIRECTREF, has 17 letters).
  if (head.method.size() > kMaxMethodBytes) return invalidArgument("method longer than " + std::to_string(kMaxMethodBytes) + " bytes");
  int lengths = 0, codings = 0, hosts = 0;
  std::string_view host_value, length_value, coding_value;
  bool upgrade_ws = false, connection_upgrade = false;
  for (const auto& [name, value] : head.fields) {
    if (iequals(name, "content-length")) {
      ++lengths;
      length_value = value;
    } else if (iequals(name, "transfer-encoding")) {
      ++codings;
      coding_value = value;
    } else if (iequals(name, "host")) {
      ++hosts;
      host_value = value;
    } else if (iequals(name, "upgrade")) {
      upgrade_ws = iequals(trim(value), "websocket");
    } else if (iequals(name, "connection")) {
      for (auto token : split(value, ',')) {
        std::string_view t = trim(token);
        connection_upgrade = connection_upgrade || iequals(t, "upgrade");
        // A proxy drops what Connection lists: listing these would make the server frame or
        // route the request differently from what was checked here.
        for (std::string_view kept : {"host", "content-length", "transfer-encoding"}) {
          if (iequals(t, kept)) return invalidArgument("Connection lists " + std::string(kept));
        }
      }
    }
  }
  if (lengths > 1) return invalidArgument("more than one Content-Length");
  if (lengths && codings) return invalidArgument("both Content-Length and Transfer-Encoding");
  if (codings > 1) return invalidArgument("more than one Transfer-Encoding");
  if (codings && !iequals(trim(coding_value), "chunked")) {
    return invalidArgument("Transfer-Encoding other than chunked");
  }
  if (codings && head.version == 10) return invalidArgument("Transfer-Encoding in an HTTP/1.0 request");
  if (lengths) {
    for (char c : length_value) {
      if (c < '0' || c > '9') return invalidArgument("Content-Length is not a number");
    }
    if (length_value.empty()) return invalidArgument("empty Content-Length");
  }
  if (hosts > 1) return invalidArgument("more than one Host");
  r.has_host = hosts == 1;
  r.upgrade_websocket = upgrade_ws && connection_upgrade;

  std::string_view target = head.target;
  if (iequals(head.method, "CONNECT")) {
    if (!explicit_proxy) return invalidArgument("CONNECT inside a connection that is already going somewhere");
    if (lengths || codings) return invalidArgument("CONNECT with a body");
    auto a = parseAuthority(target, 0);
    if (!a) return std::move(a).error();
    if (a->port == 0) return invalidArgument("CONNECT target without a port");
    r.form = CheckedRequest::Form::kAuthority;
    r.connect = true;
    r.authority = std::move(*a);
    if (hosts) {
      auto h = parseAuthority(host_value, a->port);
      if (!h || h->host != r.authority.host || h->port != r.authority.port) {
        return invalidArgument("Host header does not match the CONNECT target");
      }
    }
    return r;
  }
  if (target.starts_with("/")) {
    if (explicit_proxy) return invalidArgument("not a proxy request: use an absolute URI (http://host/path) or CONNECT");
    if (!hosts) return invalidArgument("no Host header");
    auto h = parseAuthority(host_value, default_port);
    if (!h) return std::move(h).error().context("Host header");
    r.authority = std::move(*h);
    r.path = std::string(target);
    return r;
  }
  // Absolute form: http://authority[/path]. Only plain http is proxied this way; https goes
  // through CONNECT.
  constexpr std::string_view kScheme = "http://";
  if (target.size() < kScheme.size() || !iequals(target.substr(0, kScheme.size()), kScheme)) {
    if (target == "*") return invalidArgument("asterisk-form request");
    return invalidArgument("request target is neither a path nor an http:// URI");
  }
  std::string_view rest = target.substr(kScheme.size());
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string path = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (!path.empty() && path[0] != '/') path = "/" + path;
  if (path.find('#') != std::string::npos) return invalidArgument("fragment in the request target");
  auto a = parseAuthority(authority, 80);
  if (!a) return std::move(a).error();
  r.form = CheckedRequest::Form::kAbsolute;
  r.authority = std::move(*a);
  r.path = std::move(path);
  if (hosts) {
    auto h = parseAuthority(host_value, 80);
    if (!h || h->host != r.authority.host || h->port != r.authority.port) {
      return invalidArgument("Host header does not match the request URI");
    }
  }
  (void)default_port;
  return r;
}

}  // namespace km::net::proxy
