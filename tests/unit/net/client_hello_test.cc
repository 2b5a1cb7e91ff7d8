// The ClientHello reader: the server name and ALPN of real hellos (OpenSSL's own, with and
// without SNI, split over records and reads), and refusals of hellos that are malformed or
// ambiguous (two names, a name that is not a host name), never a guess.
#include "net/proxy/client_hello.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace km::net::proxy {
namespace {

using Bytes = std::vector<uint8_t>;

// What an OpenSSL client sends first, with `sni` ("" = none) and `alpn` (wire format).
Bytes opensslHello(const std::string& sni, const std::string& alpn = "") {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  if (!alpn.empty()) SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()), alpn.size());
  SSL_set_connect_state(ssl);
  (void)SSL_do_handshake(ssl);  // wants to read: the hello is in `out`
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  Bytes b(data, data + n);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return b;
}

// A hand-made hello: the handshake body `body` in one record (or split after `split` bytes
// of the handshake message into two records).
Bytes record(const Bytes& handshake, size_t split = 0) {
  auto one = [](Bytes::const_iterator a, Bytes::const_iterator b) {
    Bytes r = {0x16, 0x03, 0x01, static_cast<uint8_t>((b - a) >> 8), static_cast<uint8_t>((b - a) & 0xff)};
    r.insert(r.end(), a, b);
    return r;
  };
  if (!split) return one(handshake.begin(), handshake.end());
  Bytes r = one(handshake.begin(), handshake.begin() + static_cast<ptrdiff_t>(split));
  Bytes s = one(handshake.begin() + static_cast<ptrdiff_t>(split), handshake.end());
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

void put16(Bytes& b, size_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

// A ClientHello handshake message with the given extensions block (raw).
Bytes handshake(const Bytes& extensions, bool with_extensions = true) {
  Bytes body = {0x03, 0x03};
  body.insert(body.end(), 32, 0xAB);  // random
  body.push_back(0);                  // session id
  put16(body, 2);
  body.push_back(0x13);
  body.push_back(0x01);               // one suite
  body.push_back(1);
  body.push_back(0);                  // null compression
  if (with_extensions) {
    put16(body, extensions.size());
    body.insert(body.end(), extensions.begin(), extensions.end());
  }
  Bytes h = {0x01, 0, static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  h.insert(h.end(), body.begin(), body.end());
  return h;
}

Bytes sniExtension(const std::vector<std::string>& names) {
  Bytes list;
  for (const auto& n : names) {
    list.push_back(0);
    put16(list, n.size());
    list.insert(list.end(), n.begin(), n.end());
  }
  Bytes ext;
  put16(ext, 0);
  put16(ext, list.size() + 2);
  put16(ext, list.size());
  ext.insert(ext.end(), list.begin(), list.end());
  return ext;
}

TEST(ClientHelloTest, ReadsTheServerNameAndAlpnOfARealHello) {
  Bytes b = opensslHello("api.example.com", std::string("\x02h2\x08http/1.1", 12));
  ClientHello h = parseClientHello(b);
  ASSERT_EQ(h.status, ClientHello::Status::kOk) << h.error;
  EXPECT_EQ(h.server_name, "api.example.com");
  EXPECT_EQ(h.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST(ClientHelloTest, AHelloWithoutSniHasNoName) {
  ClientHello h = parseClientHello(opensslHello(""));
  ASSERT_EQ(h.status, ClientHello::Status::kOk) << h.error;
  EXPECT_EQ(h.server_name, "");
}

TEST(ClientHelloTest, EveryPrefixNeedsMoreAndTheWholeParses) {
  Bytes b = opensslHello("x.example.org");
  for (size_t n = 1; n < b.size(); ++n) {
    ClientHello h = parseClientHello(std::span<const uint8_t>(b.data(), n));
    ASSERT_EQ(h.status, ClientHello::Status::kNeedMore) << "prefix of " << n << " bytes: " << h.error;
  }
  EXPECT_EQ(parseClientHello(b).server_name, "x.example.org");
}

TEST(ClientHelloTest, AHelloSplitOverTwoRecordsParses) {
  Bytes hs = handshake(sniExtension({"split.example.com"}));
  for (size_t split : {1u, 4u, 20u, 50u}) {
    ClientHello h = parseClientHello(record(hs, split));
    ASSERT_EQ(h.status, ClientHello::Status::kOk) << "split at " << split << ": " << h.error;
    EXPECT_EQ(h.server_name, "split.example.com");
  }
}

TEST(ClientHelloTest, NotTlsIsSaidAtTheFirstByte) {
  Bytes get = {'G', 'E', 'T', ' '};
  EXPECT_EQ(parseClientHello(get).status, ClientHello::Status::kNotTls);
  EXPECT_EQ(parseClientHello(Bytes{}).status, ClientHello::Status::kNeedMore);
}

TEST(ClientHelloTest, HellosWithoutExtensionsHaveNoName) {
  ClientHello h = parseClientHello(record(handshake({}, false)));
  ASSERT_EQ(h.status, ClientHello::Status::kOk) << h.error;
  EXPECT_EQ(h.server_name, "");
}

TEST(ClientHelloTest, AmbiguousOrMalformedHellosAreRefusedWithAReason) {
  struct Case {
    const char* what;
    Bytes bytes;
  };
  Bytes two_ext = sniExtension({"a.example.com"});
  Bytes second = sniExtension({"b.example.com"});
  two_ext.insert(two_ext.end(), second.begin(), second.end());
  Bytes wrong_type = handshake(sniExtension({"a.example.com"}));
  wrong_type[0] = 2;  // ServerHello
  Bytes truncated_ext = sniExtension({"a.example.com"});
  truncated_ext[3] = static_cast<uint8_t>(truncated_ext[3] + 5);  // extension longer than it is
  std::vector<Case> cases = {
      {"two names in one extension", record(handshake(sniExtension({"a.example.com", "b.example.com"})))},
      {"two server_name extensions", record(handshake(two_ext))},
      {"a name with a NUL", record(handshake(sniExtension({std::string("a.example.com\0.evil", 18)})))},
      {"a name with a slash", record(handshake(sniExtension({"a.example.com/x"})))},
      {"an empty label", record(handshake(sniExtension({"a..example.com"})))},
      {"not a ClientHello", record(wrong_type)},
      {"an extension running past the hello", record(handshake(truncated_ext))},
      {"a record that is not handshake", Bytes{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x40, 0x17, 0x03, 0x03, 0x00, 0x01, 0x00}},
      {"a record of version 2", Bytes{0x16, 0x02, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00}},
      {"an empty record", Bytes{0x16, 0x03, 0x01, 0x00, 0x00}},
  };
  for (const auto& c : cases) {
    ClientHello h = parseClientHello(c.bytes);
    EXPECT_EQ(h.status, ClientHello::Status::kMalformed) << c.what;
    if (h.status == ClientHello::Status::kMalformed) {
      EXPECT_FALSE(h.error.empty()) << c.what;
    }
  }
}

TEST(ClientHelloTest, AHugeHelloIsRefusedNotWaitedFor) {
  // A handshake header announcing 16 MiB.
  Bytes b = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff};
  EXPECT_EQ(parseClientHello(b).status, ClientHello::Status::kMalformed);
}

TEST(ClientHelloTest, HostNamesAreLettersDigitsHyphensUnderscoresInLabels) {
  EXPECT_TRUE(isHostName("a.example.com"));
  EXPECT_TRUE(isHostName("a.example.com."));
  EXPECT_TRUE(isHostName("_dmarc.x-y.com"));
  EXPECT_FALSE(isHostName(""));
  EXPECT_FALSE(isHostName("."));
  EXPECT_FALSE(isHostName("a..b"));
  EXPECT_FALSE(isHostName("a b.com"));
  EXPECT_FALSE(isHostName(std::string(64, 'a') + ".com"));
  EXPECT_FALSE(isHostName("caf\xc3\xa9.com"));
}

}  // namespace
}  // namespace km::net::proxy
