// The proxy's request-head checks: where a request goes (CONNECT authority, absolute URI,
// Host — all agreeing) and how its body is framed; everything ambiguous refused with the
// reason the client is told.
#include "net/proxy/request_head.h"

#include <gtest/gtest.h>

namespace km::net::proxy {
namespace {

RequestHead head(std::string_view method, std::string_view target,
                 std::vector<std::pair<std::string_view, std::string_view>> fields, unsigned version = 11) {
  RequestHead h;
  h.method = method;
  h.target = target;
  h.version = version;
  h.fields = std::move(fields);
  return h;
}

std::string refusal(const RequestHead& h, bool explicit_proxy = true) {
  auto r = checkRequestHead(h, explicit_proxy, 80);
  return r ? "" : r.error().message();
}

TEST(RequestHeadTest, AbsoluteUriGoesToItsAuthorityInOriginForm) {
  auto r = checkRequestHead(head("GET", "http://Example.ORG./a/b?q=1", {{"Host", "example.org"}}), true, 80);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->form, CheckedRequest::Form::kAbsolute);
  EXPECT_EQ(r->authority.host, "example.org");
  EXPECT_EQ(r->authority.port, 80);
  EXPECT_EQ(r->path, "/a/b?q=1");
  auto bare = checkRequestHead(head("GET", "http://example.org:8080", {}), true, 80);
  ASSERT_TRUE(bare) << bare.error().message();
  EXPECT_EQ(bare->path, "/");
  EXPECT_EQ(bare->authority.port, 8080);
}

TEST(RequestHeadTest, ConnectGoesToItsAuthority) {
  auto r = checkRequestHead(head("CONNECT", "api.example.com:443", {{"Host", "api.example.com:443"}}), true, 80);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->connect);
  EXPECT_EQ(r->authority.toString(), "api.example.com:443");
  EXPECT_NE(refusal(head("CONNECT", "api.example.com", {})), "");  // no port
  EXPECT_NE(refusal(head("CONNECT", "api.example.com:443", {{"Host", "evil.example:443"}})), "");
  EXPECT_NE(refusal(head("CONNECT", "api.example.com:443", {{"Content-Length", "5"}})), "");
}

TEST(RequestHeadTest, TransparentRequestsUseOriginFormAndTheirHost) {
  auto r = checkRequestHead(head("GET", "/x", {{"host", "Example.org"}}), false, 443);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->authority.toString(), "example.org:443");
  EXPECT_NE(refusal(head("GET", "/x", {}), false), "");                   // no Host
  EXPECT_NE(refusal(head("CONNECT", "a.example:443", {}), false), "");    // a CONNECT inside
  EXPECT_NE(refusal(head("GET", "/x", {{"Host", "a.example"}}), true), "");  // origin form to the explicit port
}

TEST(RequestHeadTest, UriAndHostMustAgree) {
  EXPECT_EQ(refusal(head("GET", "http://example.org/", {{"Host", "evil.example"}})),
            "Host header does not match the request URI");
  EXPECT_NE(refusal(head("GET", "http://example.org/", {{"Host", "example.org:81"}})), "");
  EXPECT_EQ(refusal(head("GET", "http://example.org/", {{"Host", "example.org:80"}})), "");
  EXPECT_NE(refusal(head("GET", "/", {{"Host", "a.example"}, {"Host", "b.example"}}), false), "");
}

TEST(RequestHeadTest, IpLiteralsInAnySpellingAreRefused) {
  for (const char* host : {"203.0.113.5", "2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "127.1", "[::1]",
                           "[::ffff:127.0.0.1]", "1.2.3.4.", "example.0x10"}) {
    std::string target = std::string("http://") + host + "/";
    EXPECT_NE(refusal(head("GET", target, {})), "") << host;
    EXPECT_NE(refusal(head("GET", "/", {{"Host", host}}), false), "") << host;
  }
  EXPECT_NE(refusal(head("CONNECT", "203.0.113.5:443", {})), "");
  // Names that merely contain digits are names.
  for (const char* host : {"1password.com", "a1.example", "cafe.example", "x.0a"}) {
    EXPECT_EQ(refusal(head("GET", std::string("http://") + host + "/", {})), "") << host;
  }
}

TEST(RequestHeadTest, AmbiguousFramingIsRefused) {
  EXPECT_EQ(refusal(head("POST", "http://a.example/", {{"Content-Length", "4"}, {"Transfer-Encoding", "chunked"}})),
            "both Content-Length and Transfer-Encoding");
  EXPECT_EQ(refusal(head("POST", "http://a.example/", {{"Content-Length", "4"}, {"content-length", "4"}})),
            "more than one Content-Length");
  EXPECT_NE(refusal(head("POST", "http://a.example/", {{"Transfer-Encoding", "gzip, chunked"}})), "");
  EXPECT_NE(refusal(head("POST", "http://a.example/", {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}})), "");
  EXPECT_NE(refusal(head("POST", "http://a.example/", {{"Transfer-Encoding", "chunked"}}, 10)), "");
  EXPECT_NE(refusal(head("POST", "http://a.example/", {{"Content-Length", "+4"}})), "");
  EXPECT_EQ(refusal(head("POST", "http://a.example/", {{"Transfer-Encoding", " chunked "}})), "");
  EXPECT_EQ(refusal(head("POST", "http://a.example/", {{"Content-Length", "4"}})), "");
}

TEST(RequestHeadTest, ConnectionMayNotListFramingOrRoutingHeaders) {
  // A proxy drops what Connection lists: the server would frame the body as a second request.
  for (const char* listed : {"Content-Length", "keep-alive, content-length", "Transfer-Encoding", "Host"}) {
    EXPECT_EQ(refusal(head("POST", "http://a.example/", {{"Content-Length", "4"}, {"Connection", listed}})).substr(0, 16),
              "Connection lists")
        << listed;
  }
  EXPECT_EQ(refusal(head("GET", "http://a.example/", {{"Connection", "keep-alive, x-trace"}})), "");
}

TEST(RequestHeadTest, OtherTargetsAndAuthoritiesAreRefused) {
  EXPECT_NE(refusal(head("GET", "https://a.example/", {})), "");  // https goes through CONNECT
  EXPECT_NE(refusal(head("OPTIONS", "*", {})), "");
  EXPECT_NE(refusal(head("GET", "http://user@a.example/", {})), "");
  EXPECT_NE(refusal(head("GET", "http://a.example:0/", {})), "");
  EXPECT_NE(refusal(head("GET", "http://a.example:65536/", {})), "");
  EXPECT_NE(refusal(head("GET", "http://a.example:/", {})), "");
  EXPECT_NE(refusal(head("GET", "http://a_b%2e.example/", {})), "");
  EXPECT_NE(refusal(head("GET", "http://a.example/#frag", {})), "");
  EXPECT_NE(refusal(head("GET", "http:///x", {})), "");
}

TEST(RequestHeadTest, APortHasOneSpellingAndAMethodIsShort) {
  EXPECT_EQ(refusal(head("CONNECT", "a.example:443", {})), "");
  EXPECT_EQ(refusal(head("CONNECT", "a.example:0443", {})), "bad port '0443'");
  EXPECT_EQ(refusal(head("GET", "http://a.example:080/", {})), "bad port '080'");
  EXPECT_EQ(refusal(head("GET", "http://a.example:8080/", {})), "");
  std::string long_method(kMaxMethodBytes + 1, 'X');
  EXPECT_EQ(refusal(head(long_method, "http://a.example/", {})), "method longer than 32 bytes");
  std::string longest(kMaxMethodBytes, 'X');
  EXPECT_EQ(refusal(head(longest, "http://a.example/", {})), "");
}

TEST(RequestHeadTest, WebSocketUpgradesAreRecognised) {
  auto r = checkRequestHead(head("GET", "/ws", {{"Host", "a.example"}, {"Upgrade", "websocket"},
                                                {"Connection", "keep-alive, Upgrade"}}), false, 80);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->upgrade_websocket);
  auto plain = checkRequestHead(head("GET", "/ws", {{"Host", "a.example"}, {"Upgrade", "websocket"}}), false, 80);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->upgrade_websocket);
}

TEST(RequestHeadTest, HopByHopNames) {
  for (const char* n : {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade"}) {
    EXPECT_TRUE(isHopByHop(n)) << n;
  }
  EXPECT_FALSE(isHopByHop("host"));
  EXPECT_FALSE(isHopByHop("authorization"));
}

}  // namespace
}  // namespace km::net::proxy
