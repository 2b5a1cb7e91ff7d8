// What a CONNECT tunnel or a transparent connection carries, judged by its first bytes: a
// TLS ClientHello (its SNI must be the CONNECT host, or names the host on the transparent
// port) is tunnelled, or intercepted for the hosts the proxy must read; HTTP requests are
// checked one by one and relayed.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>

#include "net/host_rule.h"
#include "net/proxy/credentials.h"
#include "net/proxy/client_hello.h"
#include "net/proxy/session.h"

namespace km::net::proxy {
namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using SteadyClock = std::chrono::steady_clock;

}  // namespace

asio::awaitable<void> inspectTunnel(Session& s, std::optional<Authority> expected, audit::HttpRecord rec,
                                    SteadyClock::time_point started, std::unique_ptr<Upstream> up) {
  // The first bytes: enough of a ClientHello for its SNI, or one byte that is not TLS.
  s.client.expires_after(s.shared.options.header_timeout);
  ClientHello hello;
  for (;;) {
    auto data = s.buf.cdata();
    hello = parseClientHello(std::span<const uint8_t>(static_cast<const uint8_t*>(data.data()), data.size()));
    if (hello.status != ClientHello::Status::kNeedMore) break;
    if (s.buf.size() > kMaxClientHello + 1024) {
      hello.status = ClientHello::Status::kMalformed;
      hello.error = "ClientHello too large";
      break;
    }
    auto [ec, n] = co_await s.client.async_read_some(s.buf.prepare(16 << 10), kNoThrow);
    if (ec) {
      if (expected) {  // a CONNECT that sent nothing: its record still says where it went
        rec.mode = "tunnel";
        s.finish(rec, started);
      }
      co_return;
    }
    s.buf.commit(n);
  }
  s.client.expires_never();
  if (hello.status == ClientHello::Status::kMalformed) {
    ++s.shared.denied;
    rec.decision = audit::Decision::kDeny;
    rec.reason = "malformed TLS ClientHello: " + hello.error;
    if (!expected) {
      rec.method = "TLS";
      if (!rec.port) rec.port = 443;
    }
    s.finish(rec, started);
    co_await refuseTls(s);
    co_return;
  }
  if (hello.status == ClientHello::Status::kOk) {
    std::string sni = canonicalName(hello.server_name);
    if (expected) {
      // CONNECT: the name was judged and the server is connected; the SNI must agree.
      if (sni != expected->host) {
        ++s.shared.denied;
        rec.decision = audit::Decision::kDeny;
        rec.reason = sni.empty() ? "TLS without a server name (SNI) inside CONNECT " + expected->host
                                 : "TLS server name " + sni + " does not match CONNECT " + expected->host;
        s.finish(rec, started);
        co_await refuseTls(s);
        co_return;
      }
    } else {
      uint16_t port = s.original ? s.original->port : 443;
      rec.method = "TLS";
      rec.host = sni;
      rec.port = port;
      RequestInfo info;
      info.listener = Listener::kTransparent;
      info.tls = true;
      info.host = sni;
      info.port = port;
      info.original = s.original;
      Verdict v;
      if (sni.empty()) {
        v = s.refuse("TLS without a server name (SNI): the proxy cannot tell where it goes");
      } else {
        v = s.judge(info);
      }
      if (!v.allowed) {
        rec.decision = audit::Decision::kDeny;
        rec.reason = v.reason;
        s.finish(rec, started);
        co_await refuseTls(s);
        co_return;
      }
      rec.reason = v.rule;
      Authority target{sni, port};
      if (auto failed = co_await connectUpstream(s, *up, target)) {
        failed->note(rec, /*http=*/false);
        s.finish(rec, started);
        co_await refuseTls(s);
        co_return;
      }
      rec.dest = up->dest;
      rec.decision = audit::Decision::kAllow;
    }
    // The hosts the proxy must read: their TLS is terminated, each request inside checked.
    Authority target = expected ? *expected : Authority{sni, rec.port};
    if (s.shared.intercepts(target.host)) {
      co_await intercept(s, std::move(target), std::move(rec), started, std::move(up));
      co_return;
    }
    rec.mode = "tunnel";
    co_await tunnel(s, *up, rec);
    s.finish(rec, started);
    co_return;
  }
  // Not TLS: HTTP requests, each checked; a CONNECT inside is refused by the head check.
  if (expected) {
    rec.mode = "tunnel";
    s.finish(rec, started);  // the CONNECT itself; each request inside gets its own record
  }
  std::optional<Authority> pinned = expected;
  uint16_t default_port = expected ? expected->port : s.original ? s.original->port : 80;
  std::optional<RequestParser> parser;
  for (;;) {
    newParser(parser);
    s.client.expires_after(s.shared.options.header_timeout);
    auto [ec, n] = co_await http::async_read_header(s.client, s.buf, *parser, kNoThrow);
    started = SteadyClock::now();
    if (ec) {
      if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::eof &&
          ec != asio::error::connection_reset && s.buf.size() > 0) {
        auto bad = s.record("", pinned ? pinned->host : "", default_port);
        bad.status = 400;
        bad.reason = "neither TLS nor HTTP: " + ec.message();
        ++s.shared.denied;
        s.finish(bad, started);
        co_await refuseHttp(s, 400, bad.reason);
      }
      co_return;
    }
    s.client.expires_never();
    std::string method(parser->get().method_string());
    auto checked = checkRequestHead(headOf(*parser), /*explicit_proxy=*/false, default_port);
    auto r = s.record(method, checked ? checked->authority.host : "", checked ? checked->authority.port : default_port);
    if (checked) r.path = pathOnly(checked->path);
    Verdict v;
    if (!checked) {
      v = s.refuse(checked.error().message());
    } else if (pinned && (checked->authority.host != pinned->host || checked->authority.port != pinned->port)) {
      v = s.refuse("Host " + checked->authority.toString() + " does not match " +
                      (expected ? "the CONNECT target " : "the connection's first request to ") + pinned->toString());
    } else {
      RequestInfo info;
      info.listener = expected ? Listener::kExplicit : Listener::kTransparent;
      info.plain_http = true;
      info.host = checked->authority.host;
      info.port = checked->authority.port;
      info.original = expected ? std::nullopt : s.original;
      v = s.judge(info);
    }
    if (!v.allowed) {
      r.status = checked ? 403 : 400;
      r.reason = v.reason;
      s.finish(r, started);
      co_await refuseHttp(s, r.status, v.reason);
      co_return;
    }
    r.reason = v.rule;
    if (std::string why = plainHttpCredentials(s, parser->get(), *checked, r); !why.empty()) {
      r.status = 403;
      r.reason = why;
      r.decision = audit::Decision::kDeny;
      s.finish(r, started);
      co_await refuseHttp(s, 403, why);
      co_return;
    }
    if (!pinned) pinned = checked->authority;
    if (auto failed = co_await connectUpstream(s, *up, *pinned)) {
      failed->note(r, /*http=*/true);
      s.finish(r, started);
      co_await refuseHttp(s, failed->status, failed->reason);
      co_return;
    }
    r.dest = up->dest;
    r.decision = audit::Decision::kAllow;
    r.mode = "forward";
    bool keep = co_await exchange(s, s.client, *parser, *checked, up->stream, *up, r);
    s.finish(r, started);
    if (!keep) co_return;
  }
}

}  // namespace km::net::proxy
