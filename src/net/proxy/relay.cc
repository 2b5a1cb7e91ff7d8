// Relaying: refusals, the pinned connect, and one HTTP exchange (request and response bodies
// streamed through a fixed buffer, never held whole).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <type_traits>

#include <poll.h>

#include "core/strings.h"
#include "net/proxy/asio_address.h"
#include "net/proxy/session.h"

namespace km::net::proxy {
namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using SteadyClock = std::chrono::steady_clock;
using ResponseParser = http::response_parser<http::buffer_body>;

// A header value the reason can be put in: printable ASCII only.
std::string headerSafe(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

// Streams the message whose head `p` has read from `in` to `out`: the head as it stands in
// p.get() (already rewritten), then the body piece by piece as it arrives, re-framed by the
// serializer (chunked stays chunked, one chunk per piece: server-sent events pass event
// by event). Counts body bytes into `bytes`.
// `prefix`: body bytes read from `in` beforehand, sent first.
template <bool isRequest, class Parser, class In, class Out>
asio::awaitable<boost::system::error_code> relayMessage(Session& s, In& in_stream, beast::flat_buffer& in_buf,
                                                        Parser& p, Out& out_stream, uint64_t& bytes,
                                                        ExchangeTap* tap = nullptr, std::string_view prefix = {}) {
  beast::tcp_stream& in = beast::get_lowest_layer(in_stream);
  beast::tcp_stream& out = beast::get_lowest_layer(out_stream);
  http::serializer<isRequest, http::buffer_body> sr{p.get()};
  auto idle = s.shared.options.idle_timeout;
  if (!prefix.empty()) {
    // The head with the bytes read already, in one write.
    p.get().body().data = const_cast<char*>(prefix.data());
    p.get().body().size = prefix.size();
    p.get().body().more = !p.is_done();
    bytes += prefix.size();
    out.expires_after(idle);
    auto [pec, pn] = co_await http::async_write(out_stream, sr, kNoThrow);
    if (pec == http::error::need_buffer) pec = {};
    if (pec) co_return pec;
    if (sr.is_done()) {
      out.expires_never();
      co_return boost::system::error_code{};
    }
  } else if (!p.is_done() && in_buf.size() == 0) {
    // The head goes out alone only when the body is not here yet (a stream: the client should
    // see the head at once); otherwise with the first piece of the body, in one write.
    out.expires_after(idle);
    auto [hec, hn] = co_await http::async_write_header(out_stream, sr, kNoThrow);
    if (hec) co_return hec;
  }
  char* buf = s.relay.get();
  // Beast reads at most what the buffer has room for: a buffer left small by the head would
  // make every read a few hundred bytes.
  if (!p.is_done() && in_buf.capacity() < kRelayBuffer) in_buf.reserve(kRelayBuffer);
  do {
    if (!p.is_done()) {
      p.get().body().data = buf;
      p.get().body().size = kRelayBuffer;
      in.expires_after(idle);
      auto [ec, n] = co_await http::async_read_some(in_stream, in_buf, p, kNoThrow);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return ec;
      p.get().body().size = kRelayBuffer - p.get().body().size;
      // Nothing parsed yet (a chunk header alone): no buffer at all, or the serializer would
      // write an empty chunk — the end of a chunked body.
      p.get().body().data = p.get().body().size ? buf : nullptr;
      p.get().body().more = !p.is_done();
    } else {
      p.get().body().data = nullptr;
      p.get().body().size = 0;
      p.get().body().more = false;
    }
    bytes += p.get().body().size;
    if (tap && p.get().body().size) tap->responseBody(std::string_view(buf, p.get().body().size));
    out.expires_after(idle);
    auto [wec, wn] = co_await http::async_write(out_stream, sr, kNoThrow);
    if (wec == http::error::need_buffer) wec = {};
    if (wec) co_return wec;
  } while (!p.is_done() && !sr.is_done());
  in.expires_never();
  out.expires_never();
  co_return boost::system::error_code{};
}

}  // namespace

template <class Stream>
asio::awaitable<void> refuseHttpOn(Session& s, Stream& client, unsigned status, const std::string& reason,
                                   std::string_view content_type, std::string_view body,
                                   std::string_view extra_headers) {
  std::string line = body.empty() ? "km: " + headerSafe(reason) + "\n" : std::string(body);
  if (content_type.empty()) content_type = "text/plain; charset=utf-8";
  std::string text = status == 200   ? "OK"
                     : status == 403 ? "Forbidden"
                     : status == 400 ? "Bad Request"
                     : status == 413 ? "Content Too Large"
                     : status == 429 ? "Too Many Requests"
                     : status == 502 ? "Bad Gateway"
                     : status == 503 ? "Service Unavailable"
                                     : "Error";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + text + "\r\nContent-Type: " +
                    std::string(content_type) + "\r\nX-Km-Deny-Reason: " + headerSafe(reason) + "\r\n" +
                    std::string(extra_headers) + "Content-Length: " + std::to_string(line.size()) +
                    "\r\nConnection: close\r\n\r\n" + line;
  s.client.expires_after(std::chrono::seconds(5));
  co_await asio::async_write(client, asio::buffer(out), kNoThrow);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    // TLS: a close_notify first, so the client knows the answer is whole.
    co_await client.async_shutdown(kNoThrow);
  }
  boost::system::error_code ignore;
  s.client.socket().shutdown(tcp::socket::shutdown_send, ignore);
}
template asio::awaitable<void> refuseHttpOn(Session&, beast::tcp_stream&, unsigned, const std::string&,
                                           std::string_view, std::string_view, std::string_view);
template asio::awaitable<void> refuseHttpOn(Session&, TlsStream&, unsigned, const std::string&, std::string_view,
                                           std::string_view, std::string_view);

asio::awaitable<void> refuseHttp(Session& s, unsigned status, const std::string& reason) {
  co_await refuseHttpOn(s, s.client, status, reason);
}

asio::awaitable<void> refuseTls(Session& s) {
  static constexpr unsigned char kAccessDenied[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31};
  s.client.expires_after(std::chrono::seconds(5));
  co_await asio::async_write(s.client, asio::buffer(kAccessDenied), kNoThrow);
  boost::system::error_code ignore;
  s.client.socket().shutdown(tcp::socket::shutdown_send, ignore);
}

void ConnectFailure::note(audit::HttpRecord& rec, bool http) const {
  if (http) rec.status = static_cast<uint16_t>(status);
  rec.decision = status == 403 ? audit::Decision::kDeny : audit::Decision::kAllow;
  rec.reason = reason;
}

bool serverClosedOrSpoke(tcp::socket& socket) {
  pollfd p{socket.native_handle(), POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) != 0;
}

asio::awaitable<std::optional<ConnectFailure>> connectUpstream(Session& s, Upstream& up, const Authority& a) {
  std::string key = a.toString();
  if (!up.key.empty() && up.key == key && up.stream.socket().is_open() && !serverClosedOrSpoke(up.stream.socket())) {
    co_return std::nullopt;
  }
  if (!up.key.empty()) {
    boost::system::error_code ignore;
    up.stream.socket().close(ignore);
    up.buf.consume(up.buf.size());
    up.key.clear();
  }
  auto addresses = co_await s.shared.names.resolve(a.host);
  if (!addresses) {
    unsigned status = addresses.error().code() == ErrorCode::kNotFound ? 403 : 502;
    co_return ConnectFailure{status, addresses.error().message()};
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& ip : *addresses) {
    // The proxy runs on the host: an address of the host itself would reach its services.
    if (!s.shared.local.contains(ip)) endpoints.emplace_back(toAsio(ip), a.port);
  }
  if (endpoints.empty()) {
    co_return ConnectFailure{403, a.host + " resolves to an address of the host itself (" + (*addresses)[0].toString() +
                                      "): not reachable through the proxy"};
  }
  up.stream.expires_after(s.shared.options.connect_timeout);
  auto [ec, at] = co_await up.stream.async_connect(endpoints, kNoThrow);
  up.stream.expires_never();
  if (ec) co_return ConnectFailure{502, "connecting to " + key + ": " + ec.message()};
  boost::system::error_code ignore;
  up.stream.socket().set_option(tcp::no_delay(true), ignore);
  up.key = key;
  up.dest = at.address().to_string() + ":" + std::to_string(at.port());
  co_return std::nullopt;
}

void stripHopByHop(http::fields& m, bool keep_upgrade) {
  std::vector<std::string> listed;
  for (auto it = m.find(http::field::connection); it != m.end() && it->name() == http::field::connection; ++it) {
    std::string_view v(it->value().data(), it->value().size());
    size_t at = 0;
    while (at <= v.size()) {
      size_t comma = v.find(',', at);
      std::string_view token = v.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (!token.empty()) listed.push_back(toLower(token));
      if (comma == std::string_view::npos) break;
      at = comma + 1;
    }
  }
  for (const auto& name : listed) {
    // Framing and routing stay what the parser read them as (a server listing them would
    // otherwise make the client frame the response differently from the proxy).
    if (name == "transfer-encoding" || name == "content-length" || name == "host" ||
        (keep_upgrade && name == "upgrade")) {
      continue;
    }
    m.erase(name);
  }
  for (std::string_view name : {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                                "proxy-authenticate", "te", "trailer", "upgrade"}) {
    if (keep_upgrade && (name == "upgrade" || name == "connection")) continue;
    m.erase(beast::string_view(name.data(), name.size()));
  }
}

template <class Stream>
asio::awaitable<bool> answerExpect(Session&, Stream& client, RequestParser& parser) {
  auto& msg = parser.get();
  auto it = msg.find(http::field::expect);
  if (it == msg.end()) co_return true;
  bool cont = toLower(std::string_view(it->value().data(), it->value().size())) == "100-continue";
  msg.erase(http::field::expect);
  if (!cont) co_return true;
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(client, asio::buffer(kContinue), kNoThrow);
  co_return !ec;
}
template asio::awaitable<bool> answerExpect(Session&, beast::tcp_stream&, RequestParser&);
template asio::awaitable<bool> answerExpect(Session&, TlsStream&, RequestParser&);

template <class Client, class Server>
asio::awaitable<bool> exchange(Session& s, Client& client, RequestParser& parser, const CheckedRequest& req,
                               Server& server, Upstream& up, audit::HttpRecord& rec, ExchangeTap* tap) {
  auto& msg = parser.get();
  bool client_keep = parser.keep_alive();
  bool head = msg.method() == http::verb::head;
  msg.target(req.path);
  stripHopByHop(msg, req.upgrade_websocket);
  // The server sees the host that was checked, whatever the client wrote (or left out).
  constexpr uint16_t kDefaultPort = std::is_same_v<Server, beast::tcp_stream> ? 80 : 443;
  std::string host_field = req.authority.port == kDefaultPort ? req.authority.host : req.authority.toString();
  msg.set(http::field::host, host_field);
  if (req.upgrade_websocket) {
    msg.set(http::field::connection, "Upgrade");
  }
  if (!co_await answerExpect(s, client, parser)) co_return false;
  boost::system::error_code ec;
  if (tap && tap->body) {
    // Read whole already (metered): sent as it now is, framed by its length.
    http::request<http::string_body> whole(std::move(msg.base()));
    whole.body() = std::move(*tap->body);
    whole.prepare_payload();
    rec.bytes_up += whole.body().size();
    beast::get_lowest_layer(server).expires_after(s.shared.options.idle_timeout);
    auto [wec, wn] = co_await http::async_write(server, whole, kNoThrow);
    beast::get_lowest_layer(server).expires_never();
    ec = wec;
    if (!ec) tap->request_sent = true;
  } else {
    std::string_view prefix = tap ? std::string_view(tap->body_prefix) : std::string_view();
    ec = co_await relayMessage<true>(s, client, s.buf, parser, server, rec.bytes_up, nullptr, prefix);
    if (tap && !ec) tap->request_sent = true;
  }
  if (ec) {
    up.key.clear();
    rec.status = 502;
    rec.reason = "sending the request: " + ec.message();
    co_return false;
  }
  for (;;) {
    ResponseParser res;
    res.header_limit(kHeaderLimit);
    res.body_limit(boost::none);
    if (head) res.skip(true);
    up.stream.expires_after(s.shared.options.idle_timeout);
    auto [rec_ec, n] = co_await http::async_read_header(server, up.buf, res, kNoThrow);
    up.stream.expires_never();
    if (rec_ec) {
      rec.status = 502;
      rec.reason = "reading the response from " + up.key + ": " + rec_ec.message();
      up.key.clear();
      std::string why = "no response from the server: " + rec_ec.message();
      co_await refuseHttpOn(s, client, 502, why);
      co_return false;
    }
    unsigned status = res.get().result_int();
    if (status == 100) continue;  // answered to the client already (or never asked for)
    bool server_keep = res.keep_alive();
    bool upgrade = status == 101 && req.upgrade_websocket;
    stripHopByHop(res.get(), upgrade);
    // Only the proxy says why it refused: a server's own header of that name is dropped.
    res.get().erase("X-Km-Deny-Reason");
    if (upgrade) res.get().set(http::field::connection, "Upgrade");
    if (!upgrade && status == 101) {
      rec.status = 502;
      rec.reason = "the server switched protocols without being asked";
      co_await refuseHttpOn(s, client, 502, rec.reason);
      co_return false;
    }
    if (status >= 200 && tap && tap->retryInstead(status)) {
      boost::system::error_code ignore;
      up.stream.socket().close(ignore);
      up.key.clear();
      tap->retry = true;
      co_return true;
    }
    rec.status = static_cast<uint16_t>(status);
    ExchangeTap* body_tap = status >= 200 && !upgrade ? tap : nullptr;
    if (body_tap) body_tap->responseHead(status, res.get().base());
    auto wec = co_await relayMessage<false>(s, server, up.buf, res, client, rec.bytes_down, body_tap);
    if (wec) {
      rec.reason = "relaying the response: " + wec.message();
      up.key.clear();
      co_return false;
    }
    if (status > 101 && status < 200) continue;  // 103 Early Hints and the like: the final one follows
    if (body_tap) body_tap->response_complete = true;
    if (upgrade) {
      rec.mode = "tunnel";
      if constexpr (std::is_same_v<Client, beast::tcp_stream> && std::is_same_v<Server, beast::tcp_stream>) {
        co_await tunnel(s, up, rec);
      } else {
        co_await relayTls(s, client, server, up, rec);
      }
      co_return false;
    }
    if (!server_keep || res.need_eof()) {
      boost::system::error_code ignore;
      up.stream.socket().close(ignore);
      up.key.clear();
    }
    co_return client_keep && !res.need_eof();
  }
}

template asio::awaitable<bool> exchange(Session&, beast::tcp_stream&, RequestParser&, const CheckedRequest&,
                                       beast::tcp_stream&, Upstream&, audit::HttpRecord&, ExchangeTap*);
template asio::awaitable<bool> exchange(Session&, TlsStream&, RequestParser&, const CheckedRequest&, TlsStream&,
                                       Upstream&, audit::HttpRecord&, ExchangeTap*);

}  // namespace km::net::proxy
