// A request of the proxy's own to a server over its TLS connection, with a small answer read
// whole (private to the proxy): the provider's token count, a GitHub App's token.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/proxy/session.h"

namespace km::net::proxy {

// Sends `req` over `server` (TLS over up.stream) and reads the answer into `answer`, at most
// 16 KiB of head and 64 KiB of body, the whole exchange bounded by the connect timeout. The
// I/O error, or none.
asio::awaitable<boost::system::error_code> askServer(Session& s, Upstream& up, TlsStream& server,
                                                     http::request<http::string_body>& req,
                                                     http::response_parser<http::string_body>& answer);

}  // namespace km::net::proxy
