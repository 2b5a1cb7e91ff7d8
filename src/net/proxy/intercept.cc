// Intercepted TLS: the client's handshake answered with a leaf from the sandbox's CA, each
// request inside read, checked (its Host must be the name the TLS was for) and relayed over
// the proxy's own TLS connection to the server, verified against the system's CAs and
// tls.extraCAFile and kept alive across the client's requests.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <tuple>

#include "github/github.h"
#include "net/proxy/credentials.h"
#include "net/proxy/interceptor.h"
#include "net/proxy/metered.h"
#include "net/proxy/server_request.h"
#include "net/proxy/session.h"

// GCC 12 reports the coroutine frame's own operator delete as mismatched here (a false
// positive of -Wmismatched-new-delete on awaitable frames).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace km::net::proxy {
namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using SteadyClock = std::chrono::steady_clock;

// A client that just went away (or stopped talking) between requests.
bool quietEnd(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated;
}

// The provider's free token count of a request about to go out, asked over the connection it
// will go out on (left open for it when the server keeps it alive). The answer's body, or
// nullopt when there is none (the request is then held to the bound from its size).
asio::awaitable<std::optional<std::string>> countInput(Session& s, Upstream& up, std::optional<TlsStream>& server,
                                                       const Authority& target, const std::string& key,
                                                       CountRequest& count) {
  if (auto failed = co_await connectTls(s, up, server, target, key)) co_return std::nullopt;
  http::request<http::string_body> req{http::verb::post, count.path, 11};
  req.set(http::field::host, count.host);
  req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : count.fields) req.insert(name, value);  // repeated ones as the call has them
  req.set(http::field::accept_encoding, "identity");
  req.body() = std::move(count.body);
  req.prepare_payload();
  http::response_parser<http::string_body> answer;
  auto rec = co_await askServer(s, up, *server, req, answer);
  bool got = !rec && answer.get().result() == http::status::ok;
  if (!got || !answer.get().keep_alive()) {
    server.reset();
    boost::system::error_code ignore;
    up.stream.socket().close(ignore);
    up.key.clear();
  }
  if (!got) co_return std::nullopt;
  co_return std::move(answer.get().body());
}

}  // namespace

asio::awaitable<std::optional<ConnectFailure>> connectTls(Session& s, Upstream& up, std::optional<TlsStream>& server,
                                                          const Authority& target, const std::string& key) {
  if (server && !up.key.empty() && up.stream.socket().is_open() && !serverClosedOrSpoke(up.stream.socket())) {
    co_return std::nullopt;
  }
  server.reset();  // it refers to up.stream, which connectUpstream may reopen
  if (auto failed = co_await connectUpstream(s, up, target)) co_return failed;
  up.buf.consume(up.buf.size());
  Interceptor& ic = *s.shared.interceptor(nullptr);  // made before the client's handshake
  server.emplace(up.stream, ic.clientContext());
  SSL* ssl = server->native_handle();
  if (auto st = ic.prepareClient(ssl, target.host, &key); !st) {
    server.reset();
    up.key.clear();
    co_return ConnectFailure{502, st.error().message()};
  }
  up.stream.expires_after(s.shared.options.connect_timeout);
  auto [ec] = co_await server->async_handshake(asio::ssl::stream_base::client, kNoThrow);
  up.stream.expires_never();
  if (ec) {
    std::string why = ec.message();
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      why = std::string("its certificate failed verification: ") + X509_verify_cert_error_string(verify) +
            " (a private server's CA goes in the operator config's tls.extraCAFile)";
    }
    server.reset();
    boost::system::error_code ignore;
    up.stream.socket().close(ignore);
    up.key.clear();
    co_return ConnectFailure{502, "TLS to " + target.toString() + ": " + why};
  }
  co_return std::nullopt;
}

asio::awaitable<boost::system::error_code> askServer(Session& s, Upstream& up, TlsStream& server,
                                                     http::request<http::string_body>& req,
                                                     http::response_parser<http::string_body>& answer) {
  answer.header_limit(16 << 10);
  answer.body_limit(64 << 10);
  up.stream.expires_after(s.shared.options.connect_timeout);
  auto [wec, wn] = co_await http::async_write(server, req, kNoThrow);
  boost::system::error_code rec = wec;
  if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(server, up.buf, answer, kNoThrow);
  up.stream.expires_never();
  co_return rec;
}

asio::awaitable<void> intercept(Session& s, Authority target, audit::HttpRecord rec, SteadyClock::time_point started,
                                std::unique_ptr<Upstream> up) {
  rec.mode = "intercept";
  std::string why;
  Interceptor* made = s.shared.interceptor(&why);
  if (!made) {
    rec.reason = why;
    s.finish(rec, started);
    co_await refuseTls(s);
    co_return;
  }
  Interceptor& ic = *made;
  TlsStream client(s.client, ic.serverContext());
  if (auto st = ic.presentLeaf(client.native_handle(), target.host); !st) {
    rec.reason = st.error().message();
    s.finish(rec, started);
    co_await refuseTls(s);
    co_return;
  }
  // The ClientHello was read already (its SNI judged): the handshake starts from it.
  s.client.expires_after(s.shared.options.header_timeout);
  auto [hec, used] = co_await client.async_handshake(asio::ssl::stream_base::server, s.buf.data(), kNoThrow);
  s.buf.consume(s.buf.size());
  s.client.expires_never();
  if (hec) {
    // Most often the client does not trust the sandbox's CA (it pins, or brings its own
    // store without SSL_CERT_FILE and the like).
    rec.reason = "TLS with the client failed (does it trust the sandbox's CA?): " + hec.message();
    s.finish(rec, started);
    co_return;
  }
  s.finish(rec, started);  // the connection; each request inside gets its own record

  const std::string key = target.toString();
  std::optional<TlsStream> server;
  std::optional<RequestParser> parser;
  for (;;) {
    newParser(parser);
    s.client.expires_after(s.shared.options.header_timeout);
    auto [ec, n] = co_await http::async_read_header(client, s.buf, *parser, kNoThrow);
    auto at = SteadyClock::now();
    if (ec) {
      if (!quietEnd(ec) && s.buf.size() > 0) {
        auto bad = s.record("", target.host, target.port);
        bad.status = 400;
        bad.reason = "unreadable request inside TLS to " + key + ": " + ec.message();
        ++s.shared.denied;
        s.finish(bad, at);
        co_await refuseHttpOn(s, client, 400, bad.reason);
      }
      break;
    }
    s.client.expires_never();
    std::string method(parser->get().method_string());
    auto checked = checkRequestHead(headOf(*parser), /*explicit_proxy=*/false, target.port);
    auto r = s.record(method, checked ? checked->authority.host : target.host,
                      checked ? checked->authority.port : target.port);
    if (checked) r.path = pathOnly(checked->path);
    Verdict v;
    if (!checked) {
      v = s.refuse(checked.error().message());
    } else if (checked->authority.host != target.host || checked->authority.port != target.port) {
      v = s.refuse("Host " + checked->authority.toString() + " does not match the TLS server name " + key);
    } else {
      RequestInfo info;
      info.listener = s.listener;
      info.tls = true;
      info.intercepted = true;
      info.host = target.host;
      info.port = target.port;
      info.original = s.listener == Listener::kTransparent ? s.original : std::nullopt;
      info.method = method;
      info.path = checked->path;
      v = s.judge(info);
    }
    if (!v.allowed) {
      r.status = checked ? 403 : 400;
      r.reason = v.reason;
      s.finish(r, at);
      co_await refuseHttpOn(s, client, r.status, v.reason);
      co_return;
    }
    r.reason = v.rule;
    CheckedRequest req = *checked;  // its target may change below
    // Masked secrets: sentinels swapped for real values on their hosts, refused elsewhere.
    if (std::string why = swapSentinels(s.shared, parser->get(), req, target.host, /*tls=*/true, r); !why.empty()) {
      ++s.shared.denied;
      r.status = 403;
      r.reason = why;
      r.decision = audit::Decision::kDeny;
      s.finish(r, at);
      co_await refuseHttpOn(s, client, 403, why);
      co_return;
    }
    // GitHub under spec.sourceAccess: repositories and refs checked, the operator's token put in.
    std::unique_ptr<GithubTap> github;
    if (s.shared.github && github::isGithubHost(target.host)) {
      github = co_await githubStep(s, client, *parser, req, r);
      if (!github) {
        s.finish(r, at);
        co_return;
      }
    }
    // An AI provider's request is metered: read, held to the budget, perhaps refused here.
    std::unique_ptr<MeteredCall> metered;
    if (s.shared.options.metering) {
      if (auto provider = aiProvider(*s.shared.options.metering, target.host)) {
        bool plain = false;
        InputCounter counter = [&](CountRequest& count) { return countInput(s, *up, server, target, key, count); };
        metered = co_await admitAiRequest(s, client, *parser, req, *provider, r, &plain, counter);
        if (!metered && !plain) {
          s.finish(r, at);
          co_return;
        }
      }
    }
    if (auto failed = co_await connectTls(s, *up, server, target, key)) {
      failed->note(r, /*http=*/true);
      if (metered) co_await metered->end(r);
      s.finish(r, at);
      co_await refuseHttpOn(s, client, failed->status, failed->reason);
      co_return;
    }
    r.dest = up->dest;
    r.decision = audit::Decision::kAllow;
    r.mode = "intercept";
    ExchangeTap* tap = metered ? static_cast<ExchangeTap*>(metered.get()) : github.get();
    bool keep = co_await exchange(s, client, *parser, req, *server, *up, r, tap);
    if (github && github->retry) {
      // GitHub refused the token (revoked, or expired early): once more with a fresh one.
      github->retry = false;
      github->retried = true;
      auto fresh = co_await s.shared.github->token(s, github->owner, github->token);
      github->token = fresh ? *fresh : "";
      r.reason += fresh ? "; GitHub refused the token: a fresh one put in" : "; GitHub refused the token: " + fresh.error().message();
      setGithubAuthorization(parser->get(), *github);
      if (auto failed = co_await connectTls(s, *up, server, target, key)) {
        failed->note(r, /*http=*/true);
        s.finish(r, at);
        co_await refuseHttpOn(s, client, failed->status, failed->reason);
        co_return;
      }
      keep = co_await exchange(s, client, *parser, req, *server, *up, r, github.get());
    }
    if (metered) co_await metered->end(r);
    s.finish(r, at);
    if (!keep) break;
  }
  // A close_notify, so the client knows nothing was cut (briefly: it may be gone).
  s.client.expires_after(std::chrono::seconds(2));
  co_await client.async_shutdown(kNoThrow);
}

}  // namespace km::net::proxy
