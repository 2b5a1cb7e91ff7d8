// The two listeners' sessions: the explicit port (absolute-URI requests and CONNECT) and the
// transparent port (redirected connections: TLS judged by its SNI, HTTP by its Host).
#include "net/proxy/session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>

#include "net/proxy/asio_address.h"
#include "net/proxy/credentials.h"
#include "net/proxy/client_hello.h"

namespace km::net::proxy {
namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using SteadyClock = std::chrono::steady_clock;

}  // namespace

std::string pathOnly(const std::string& target) { return target.substr(0, target.find('?')); }

RequestHead headOf(const RequestParser& p) { return headOf(p.get()); }

void newParser(std::optional<RequestParser>& p) {
  p.emplace();
  p->header_limit(kHeaderLimit);
  p->body_limit(boost::none);
}

Session::Session(Shared& s, tcp::socket socket, Listener l)
    : shared(s), listener(l), client(std::move(socket)), buf(kReadBufferLimit), relay(new char[kRelayBuffer]) {
  ++shared.active;
  boost::system::error_code ec;
  tcp::endpoint remote = client.socket().remote_endpoint(ec);
  if (!ec) {
    peer_endpoint = Endpoint{fromAsio(remote.address()), remote.port()};
    peer = peer_endpoint.toString();
  }
  client.socket().set_option(tcp::no_delay(true), ec);
}

Session::~Session() { --shared.active; }

audit::HttpRecord Session::record(std::string method, const std::string& host, uint16_t port) const {
  audit::HttpRecord r;
  r.time = std::chrono::system_clock::now();
  r.client = peer;
  r.listener = listener == Listener::kExplicit ? "explicit" : "transparent";
  r.method = std::move(method);
  r.host = host;
  r.port = port;
  return r;
}

Verdict Session::judge(const RequestInfo& info) {
  ++shared.requests;
  Verdict v = shared.chain.run(info);
  if (!v.allowed) ++shared.denied;
  return v;
}

Verdict Session::refuse(std::string reason) {
  ++shared.requests;
  ++shared.denied;
  return {false, std::move(reason), ""};
}

void Session::finish(audit::HttpRecord& r, SteadyClock::time_point started) {
  r.duration_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started).count());
  shared.audit.add(r);
  if (shared.request_flush) shared.request_flush();
}

asio::awaitable<void> serveExplicit(Shared& shared, tcp::socket socket) {
  Session s(shared, std::move(socket), Listener::kExplicit);
  auto upstream = std::make_unique<Upstream>(s.client.get_executor());
  std::optional<RequestParser> parser;
  for (bool first = true;; first = false) {
    newParser(parser);
    s.client.expires_after(shared.options.header_timeout);
    auto [ec, n] = co_await http::async_read_header(s.client, s.buf, *parser, kNoThrow);
    auto started = SteadyClock::now();
    if (ec) {
      // A closed or idle keep-alive connection ends quietly; garbage gets a 400.
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
          ec == asio::error::connection_reset || (!first && s.buf.size() == 0)) {
        co_return;
      }
      auto rec = s.record("", "", 0);
      rec.status = 400;
      rec.reason = "unreadable request: " + ec.message();
      s.finish(rec, started);
      co_await refuseHttp(s, 400, rec.reason);
      co_return;
    }
    s.client.expires_never();
    auto checked = checkRequestHead(headOf(*parser), /*explicit_proxy=*/true, 80);
    std::string method(parser->get().method_string());
    if (!checked) {
      auto rec = s.record(method, "", 0);
      rec.status = 400;
      rec.reason = checked.error().message();
      s.finish(rec, started);
      co_await refuseHttp(s, 400, rec.reason);
      co_return;
    }
    RequestInfo info;
    info.listener = Listener::kExplicit;
    info.connect = checked->connect;
    info.plain_http = !checked->connect;
    info.host = checked->authority.host;
    info.port = checked->authority.port;
    auto rec = s.record(method, info.host, info.port);
    rec.path = pathOnly(checked->path);
    Verdict v = s.judge(info);
    if (!v.allowed) {
      rec.status = 403;
      rec.reason = v.reason;
      s.finish(rec, started);
      co_await refuseHttp(s, 403, v.reason);
      co_return;
    }
    rec.reason = v.rule;
    if (!checked->connect) {
      if (std::string why = plainHttpCredentials(s, parser->get(), *checked, rec); !why.empty()) {
        rec.status = 403;
        rec.reason = why;
        rec.decision = audit::Decision::kDeny;
        s.finish(rec, started);
        co_await refuseHttp(s, 403, why);
        co_return;
      }
    }
    if (auto failed = co_await connectUpstream(s, *upstream, checked->authority)) {
      failed->note(rec, /*http=*/true);
      s.finish(rec, started);
      co_await refuseHttp(s, failed->status, failed->reason);
      co_return;
    }
    rec.dest = upstream->dest;
    rec.decision = audit::Decision::kAllow;
    if (checked->connect) {
      static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
      auto [wec, wn] = co_await asio::async_write(s.client, asio::buffer(kEstablished), kNoThrow);
      if (wec) co_return;
      std::optional<Authority> expected = checked->authority;
      co_await inspectTunnel(s, std::move(expected), std::move(rec), started, std::move(upstream));
      co_return;
    }
    rec.mode = "forward";
    bool keep = co_await exchange(s, s.client, *parser, *checked, upstream->stream, *upstream, rec);
    s.finish(rec, started);
    if (!keep) co_return;
  }
}

asio::awaitable<void> serveTransparent(Shared& shared, tcp::socket socket) {
  Session s(shared, std::move(socket), Listener::kTransparent);
  if (shared.options.original_destination) s.original = shared.options.original_destination(s.peer_endpoint);
  auto started = SteadyClock::now();
  // Nothing is known yet but where the client was going: the first bytes tell TLS or HTTP.
  std::optional<Authority> none;
  audit::HttpRecord rec = s.record("", "", s.original ? s.original->port : 0);
  auto upstream = std::make_unique<Upstream>(s.client.get_executor());
  co_await inspectTunnel(s, std::move(none), std::move(rec), started, std::move(upstream));
}

}  // namespace km::net::proxy
