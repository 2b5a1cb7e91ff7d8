// One client connection of the proxy and the steps its coroutines share (private to the
// proxy): answering a refusal, connecting to the checked address, relaying HTTP messages
// and tunnels. Every step uses error codes, never exceptions. Arguments of a co_await call
// are named variables, never temporaries: GCC 12 destroys a temporary in a co_await
// expression twice (seen under ASan).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "audit/audit.h"
#include "net/proxy/filters.h"
#include "net/proxy/head_of.h"
#include "net/proxy/request_head.h"
#include "net/proxy/server.h"

namespace boost::beast {
template <class NextLayer>
class ssl_stream;
}  // namespace boost::beast

namespace km::net::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using RequestParser = http::request_parser<http::buffer_body>;
// TLS over one of a session's TCP streams (the client's, or the server's when intercepting).
using TlsStream = beast::ssl_stream<beast::tcp_stream&>;

inline constexpr size_t kRelayBuffer = 32 << 10;
inline constexpr size_t kHeaderLimit = 64 << 10;
// What a connection's read buffer may hold: a head (or a chunked body's trailer section,
// which the parsers' header limit does not cover) and one read ahead. More is an error
// (buffer_overflow), not memory.
inline constexpr size_t kReadBufferLimit = 4 * kHeaderLimit;

// A server connection, kept across keep-alive requests to the same host and port.
struct Upstream {
  explicit Upstream(const asio::any_io_executor& ex) : stream(ex), buf(kReadBufferLimit) {}
  beast::tcp_stream stream;
  beast::flat_buffer buf;
  std::string key;   // "host:port" it was opened for; "" = not connected
  std::string dest;  // "ip:port" it went to
};

struct Session {
  Session(Shared& s, tcp::socket socket, Listener l);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Shared& shared;
  Listener listener;
  beast::tcp_stream client;
  beast::flat_buffer buf;   // bytes from the client not consumed yet
  std::string peer;         // "10.213.0.2:41234"
  Endpoint peer_endpoint;
  std::optional<Endpoint> original;  // transparent: where the client was going
  std::unique_ptr<char[]> relay;     // kRelayBuffer bytes for bodies

  // A record for one request or tunnel starting now.
  audit::HttpRecord record(std::string method, const std::string& host, uint16_t port) const;
  // Judges `info` with the filter chain; a refusal is counted and, like every decision,
  // ends up in the record passed to finish().
  Verdict judge(const RequestInfo& info);
  // A refusal decided before the chain (malformed, or not the host the connection is for),
  // counted as judge() counts one.
  Verdict refuse(std::string reason);
  // Writes `r` (its duration measured from its time) to the audit log.
  void finish(audit::HttpRecord& r, std::chrono::steady_clock::time_point started);
};

// The head as the checks read it (views into the parser's message, valid while it is).
RequestHead headOf(const RequestParser& p);
// A request target without its query (what the access log keeps: queries often carry tokens).
std::string pathOnly(const std::string& target);
// A fresh parser for the next request head (kHeaderLimit; bodies of any length, streamed).
void newParser(std::optional<RequestParser>& p);

// Sends an HTTP refusal: `status` with a one-line body and X-Km-Deny-Reason (then the
// session closes). refuseHttpOn: the same on `client` (the client's TCP stream or, when
// intercepting, its TLS stream).
asio::awaitable<void> refuseHttp(Session& s, unsigned status, const std::string& reason);
// The body is the one-line reason as text unless `body` is given (with its `content_type`);
// `extra_headers` are header lines, each ending in CRLF.
template <class Stream>
asio::awaitable<void> refuseHttpOn(Session& s, Stream& client, unsigned status, const std::string& reason,
                                   std::string_view content_type = {}, std::string_view body = {},
                                   std::string_view extra_headers = {});
// Sends a TLS access_denied alert (a TLS client cannot read an HTTP answer).
asio::awaitable<void> refuseTls(Session& s);

// Resolves `a.host` through the sandbox's resolver and connects to one of its addresses
// (pinned: the proxy never dials a name). `up` is reused when already open to `a`. The
// reason on failure, and the HTTP status to answer with (403 for a refused name, 502 else).
struct ConnectFailure {
  unsigned status = 502;
  std::string reason;
  // Writes it into `rec`: a refused name (403) is a deny, an unreachable server an allow that
  // failed; `http`: the client is answered with `status` (TLS clients get an alert instead).
  void note(audit::HttpRecord& rec, bool http) const;
};
// The proxy's own TLS connection to `target` over up.stream (the server verified against the
// system's CAs and tls.extraCAFile), made (TCP too) unless one is open. `key` ("host:port")
// must outlive the connection (its TLS session is filed under it).
asio::awaitable<std::optional<ConnectFailure>> connectTls(Session& s, Upstream& up, std::optional<TlsStream>& server,
                                                          const Authority& target, const std::string& key);
// A kept server connection is reused only while the server has neither closed it nor sent
// anything since its last response (servers close idle keep-alive connections; a request
// sent into one would fail).
asio::awaitable<std::optional<ConnectFailure>> connectUpstream(Session& s, Upstream& up, const Authority& a);
// Whether the server closed `socket` or sent bytes nobody asked for (poll, no wait).
bool serverClosedOrSpoke(tcp::socket& socket);

// Removes the hop-by-hop fields (and those the Connection field lists) from `m`, keeping
// Transfer-Encoding (the serializer frames the body by it) and, for an upgrade, Upgrade.
// Idempotent: exchange() strips every message it relays; a step that adds fields of its own
// before that strips first, so a Connection field cannot list them away.
void stripHopByHop(http::fields& m, bool keep_upgrade);

// A request's "Expect: 100-continue" answered by the proxy itself (a client that waits for it
// would otherwise wait for a server that never sees the question), the field removed. false
// when the answer could not be written.
template <class Stream>
asio::awaitable<bool> answerExpect(Session& s, Stream& client, RequestParser& parser);

// What a metered exchange (metered.h) changes in a plain one.
class ExchangeTap {
 public:
  virtual ~ExchangeTap() = default;
  // The request's body, read whole beforehand (and perhaps edited): sent with a
  // Content-Length instead of streamed from the client. Null: streamed.
  std::string* body = nullptr;  // moved out when sent
  // Set by exchange() once the request went out whole (the provider may bill from then on).
  bool request_sent = false;
  // The final response's head was read: the tap may add fields to it before it is relayed.
  virtual void responseHead(unsigned status, http::fields& head) = 0;
  // A piece of the final response's body, on its way to the client (a copy to read).
  virtual void responseBody(std::string_view piece) = 0;
  // Set by exchange() when the response's last byte reached the client.
  bool response_complete = false;
  // Bytes of the request's body already read from the client (a push's commands, checked):
  // sent first, then the rest is streamed.
  std::string body_prefix;
  // Asked when the final response's head arrives: true to drop the response (the server
  // connection is closed) and have the caller send the request again; exchange() then sets
  // `retry` and returns. Only for a request whose body was not streamed.
  virtual bool retryInstead(unsigned /*status*/) { return false; }
  bool retry = false;
};

// Relays one request whose head `parser` has read from `client` (already checked: `req`) to
// `server` (up.stream, or TLS over it), and the response back. false when the client
// connection must close afterwards. Client and Server are both beast::tcp_stream or both
// TlsStream (relay.cc instantiates those two). `tap`, when set, sees the response.
template <class Client, class Server>
asio::awaitable<bool> exchange(Session& s, Client& client, RequestParser& parser, const CheckedRequest& req,
                               Server& server, Upstream& up, audit::HttpRecord& rec, ExchangeTap* tap = nullptr);

// After a CONNECT (or on the transparent port): reads the client's first bytes and goes on
// by what they are — a TLS ClientHello whose SNI must be `expected` (or, when `expected` is
// empty, names the host: transparent), or HTTP requests whose Host must be `expected`.
asio::awaitable<void> inspectTunnel(Session& s, std::optional<Authority> expected,
                                    audit::HttpRecord rec, std::chrono::steady_clock::time_point started,
                                    std::unique_ptr<Upstream> up);

// The client's TLS to `target` terminated with a leaf from the sandbox's CA (the ClientHello
// is in s.buf, its SNI already checked); then each request inside is checked (its Host must
// be `target`) and relayed over the proxy's own verified TLS connection to the server (`up`,
// connected or not). `rec` is the connection's record (CONNECT or TLS), written once the
// handshake is done; each request gets one of its own.
asio::awaitable<void> intercept(Session& s, Authority target, audit::HttpRecord rec,
                                std::chrono::steady_clock::time_point started, std::unique_ptr<Upstream> up);

// Copies both directions between the client and `up` in the kernel (splice) after writing
// what each side's buffer holds, until both ends close or nothing moves for the idle
// timeout. Adds the bytes to `rec`.
asio::awaitable<void> tunnel(Session& s, Upstream& up, audit::HttpRecord& rec);
// The same between two TLS streams (an upgrade inside intercepted TLS): copied through user
// space after what s.buf and up.buf hold; either side's end ends both. Clears up.key.
asio::awaitable<void> relayTls(Session& s, TlsStream& client, TlsStream& server, Upstream& up, audit::HttpRecord& rec);

}  // namespace km::net::proxy
