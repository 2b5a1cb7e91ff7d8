// libFuzzer target for the proxy's request path: Beast's request parser reads the head as
// the proxy's listeners do (64 KiB limit), then checkRequestHead judges it for the explicit
// and the transparent port. Properties besides "no crash, no UB, no leak": an accepted head
// goes to a host name (never an IP literal) and a port ≥ 1; a non-CONNECT head has an
// origin-form path; the transparent port never accepts a CONNECT.
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdlib>

#include "net/proxy/client_hello.h"
#include "net/proxy/head_of.h"
#include "net/proxy/request_head.h"

namespace http = boost::beast::http;
using namespace km::net::proxy;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
void check(const RequestHead& head, bool explicit_proxy) {
  auto r = checkRequestHead(head, explicit_proxy, explicit_proxy ? 80 : 443);
  if (!r) return;
  require(isHostName(r->authority.host));
  require(!isIpLiteral(r->authority.host));
  require(r->authority.port >= 1);
  if (r->connect) {
    require(explicit_proxy);
    require(r->path.empty());
  } else {
    require(!r->path.empty() && r->path[0] == '/');
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::empty_body> p;
  p.header_limit(64 << 10);
  p.eager(false);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(data, size), ec);
  if (ec || !p.is_header_done()) return 0;
  RequestHead head = headOf(p.get());
  check(head, true);
  check(head, false);
  return 0;
}
